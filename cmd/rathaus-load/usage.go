package main

import (
	_ "embed"
	"go/parser"
	"go/token"
)

// docGo is the source of the package comment, which -h prints: one text
// for go doc and for the command line.
//
//go:embed doc.go
var docGo string

// usage is the package comment of doc.go as text.
func usage() string {
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", docGo, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil || f.Doc == nil {
		return "rathaus-load: see go doc opencode.de/rathaus/rathaus/cmd/rathaus-load\n"
	}
	return f.Doc.Text()
}
