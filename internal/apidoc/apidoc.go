// Package apidoc holds the OpenAPI 3.1 description of Rathaus's public JSON
// API (openapi.json, the one source of truth for clients) and serves it.
// A test in cmd/rathaus checks that every API route of the server is
// described here and that nothing described is missing from the server.
package apidoc

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

//go:embed openapi.json
var Document []byte

// Handler serves the document.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(Document)
	})
}

// Operations returns "METHOD /path" for every operation in the document,
// with path parameters as in Go ServeMux patterns ("{ars}"), sorted.
func Operations() ([]string, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(Document, &doc); err != nil {
		return nil, err
	}
	var ops []string
	for p, item := range doc.Paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "patch", "head", "options":
				ops = append(ops, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(ops)
	return ops, nil
}
