package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// The configuration is read into a small tree first, rather than with
// json.Unmarshal into structs, because the standard decoder can neither name
// the path of an unknown field nor notice a key given twice (it silently
// keeps the last one — in a fee schedule that is a wrong price nobody sees).

type nodeKind uint8

const (
	nodeNull nodeKind = iota
	nodeObject
	nodeArray
	nodeString
	nodeNumber
	nodeBool
)

func (k nodeKind) german() string {
	switch k {
	case nodeObject:
		return "ein Objekt"
	case nodeArray:
		return "eine Liste"
	case nodeString:
		return "ein Text"
	case nodeNumber:
		return "eine Zahl"
	case nodeBool:
		return "ein Wahrheitswert"
	}
	return "null"
}

type member struct {
	key   string
	value *node
}

type node struct {
	kind    nodeKind
	members []member // nodeObject, in file order
	items   []*node  // nodeArray
	str     string   // nodeString
	num     json.Number
	b       bool
}

const (
	maxFileBytes = 1 << 20 // a configuration is a few kilobytes
	maxDepth     = 16      // the format nests five levels deep
)

// parseTree reads exactly one JSON value from r.
func parseTree(r io.Reader) (*node, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "Die Konfiguration konnte nicht gelesen werden.")
	}
	if len(data) > maxFileBytes {
		return nil, errs.E(errs.Invalid, "Die Konfiguration ist größer als %d Bytes.", maxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &treeParser{dec: dec}
	n, err := p.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errs.E(errs.Invalid, "Nach dem JSON-Objekt folgen weitere Zeichen (ab Byte %d).", dec.InputOffset())
	}
	return n, nil
}

type treeParser struct {
	dec *json.Decoder
}

func (p *treeParser) syntax(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errs.E(errs.Invalid, "Die Datei endet mitten im JSON.")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errs.E(errs.Invalid, "Kein gültiges JSON an Byte %d: %s.", se.Offset, se.Error())
	}
	return errs.E(errs.Invalid, "Kein gültiges JSON an Byte %d: %s.", p.dec.InputOffset(), err.Error())
}

func (p *treeParser) value(path string, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errs.Field(path, "Die Datei ist zu tief verschachtelt.")
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.syntax(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: nodeObject}
			seen := map[string]bool{}
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.syntax(err)
				}
				key, ok := kt.(string)
				if !ok { // the decoder does not let this happen; be safe anyway
					return nil, errs.Field(path, "Ein Schlüssel muss ein Text sein.")
				}
				kpath := joinKey(path, key)
				if seen[key] {
					return nil, errs.Field(kpath, "Das Feld ist doppelt angegeben.")
				}
				seen[key] = true
				v, err := p.value(kpath, depth+1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key, v})
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntax(err)
			}
			return n, nil
		case '[':
			n := &node{kind: nodeArray}
			for i := 0; p.dec.More(); i++ {
				v, err := p.value(joinIndex(path, i), depth+1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.syntax(err)
			}
			return n, nil
		}
		return nil, errs.Field(path, "Unerwartetes Zeichen %q.", string(t))
	case string:
		return &node{kind: nodeString, str: t}, nil
	case json.Number:
		return &node{kind: nodeNumber, num: t}, nil
	case bool:
		return &node{kind: nodeBool, b: t}, nil
	case nil:
		return &node{kind: nodeNull}, nil
	}
	return nil, errs.Field(path, "Unerwarteter Wert %v.", tok)
}

// joinKey extends a path by an object key: "fees[1]" + "tiers". A key that
// would make the path ambiguous (a rule id such as "vehicle.length") is
// quoted: sources["vehicle.length"].
func joinKey(path, key string) string {
	if key == "" || strings.ContainsAny(key, `.[]"`) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func joinIndex(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
