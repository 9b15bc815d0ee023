package rules

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// FuzzLoad: Load never panics; what it rejects is Invalid with a German
// message; what it accepts marshals to the file format and loads back equal,
// with the same warnings.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"municipalities", filepath.Join("testdata", "load")} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, ws, err := Load(bytes.NewReader(data))
		if err != nil {
			if errs.KindOf(err) != errs.Invalid || errs.MessageOf(err) == "" || cfg != nil {
				t.Fatalf("got %v (kind %v) and config %v, want invalid with a message and no config", err, errs.KindOf(err), cfg)
			}
			return
		}
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal accepted config: %v", err)
		}
		back, ws2, err := Load(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("reload of the marshalled config: %v\n%s", err, out)
		}
		if d := cmp.Diff(cfg, back); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
		if d := cmp.Diff(ws, ws2); d != "" {
			t.Fatalf("warnings differ after the round trip (-first +second):\n%s", d)
		}
		// What loads can be used: every version answers for its own day.
		for i := range cfg.Fees {
			if fs, err := cfg.FeesAt(cfg.Fees[i].ValidFrom); err != nil || fs != &cfg.Fees[i] {
				t.Fatalf("FeesAt(fees[%d].valid_from) = %p, %v", i, fs, err)
			}
		}
		for i := range cfg.Rules {
			rs, err := cfg.RulesAt(cfg.Rules[i].ValidFrom)
			if err != nil || rs != &cfg.Rules[i] {
				t.Fatalf("RulesAt(rules[%d].valid_from) = %p, %v", i, rs, err)
			}
			rs.Evaluate(Facts{Day: rs.ValidFrom, DurationMonths: 12})
		}
	})
}
