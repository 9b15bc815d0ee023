package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestAPIGolden pins the exact JSON of the public API for a few requests,
// so that a change of the payload is a conscious one (go test -update).
func TestAPIGolden(t *testing.T) {
	s := demoServer(t)
	cases := map[string]string{
		"lookup-found":     "/api/v1/municipalities/110000000000/zone-lookup?address=Oranienburger+Str.+13",
		"lookup-ambiguous": "/api/v1/municipalities/110000000000/zone-lookup?address=Auguststra%C3%9Fe+63",
		"lookup-range":     "/api/v1/municipalities/110000000000/zone-lookup?address=Lehrter+Str.+52-54",
		"lookup-unknown":   "/api/v1/municipalities/110000000000/zone-lookup?address=Oranienburger+Str.+999",
		"lookup-point":     "/api/v1/municipalities/110000000000/zone-lookup?lat=52.5237445&lon=13.3986266",
		"lookup-bad-lat":   "/api/v1/municipalities/110000000000/zone-lookup?lat=north&lon=13.4",
		"municipalities":   "/api/v1/municipalities",
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			r := s.get(t, path)
			var v any
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("%s: %v", r.body, err)
			}
			if m, ok := v.(map[string]any); ok {
				delete(m, "request_id") // differs per request
			}
			got, _ := json.MarshalIndent(v, "", "  ")
			got = append(got, '\n')
			file := filepath.Join("testdata", "golden", name+".json")
			if *update {
				os.MkdirAll(filepath.Dir(file), 0o755)
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s changed (go test -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}
