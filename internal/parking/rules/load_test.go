package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func loadFile(t *testing.T, name string) (*Config, []Warning, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "load", name))
	if err != nil {
		t.Fatal(err)
	}
	return Load(bytes.NewReader(data))
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func warningPaths(ws []Warning) []string {
	var ps []string
	for _, w := range ws {
		ps = append(ps, w.Path)
	}
	return ps
}

func TestLoadMinimal(t *testing.T) {
	cfg, ws, err := loadFile(t, "ok-minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	// The one warning: no Rechtsbehelfsbelehrung.
	if len(ws) != 1 || ws[0].Path != "remedy" || !strings.Contains(ws[0].Message, "§ 58 Abs. 2 VwGO") {
		t.Errorf("warnings %v, want the missing remedy only", ws)
	}
	want := &Config{
		ARS: "110000000000", Municipality: "Testhausen", Note: "Kleinste gültige Datei.",
		Rules: []RuleSet{{
			ValidFrom: day("2024-01-01"), LegalSource: "Anordnung der Straßenverkehrsbehörde",
			ResidenceKinds: []string{"haupt"}, DurationsMonths: []int{12},
			// defaults
			VehiclesPerPermit: 1, PermitsPerPerson: 1, RetentionMonths: 24,
		}},
		Fees: []FeeSchedule{{
			ValidFrom: day("2024-01-01"), LegalSource: "Rechtsverordnung über Bewohnerparkgebühren",
			Tiers:      []FeeTier{{Name: "12 Monate", DurationMonths: 12, AmountCents: 1000}},
			RefundRule: RefundNone,
		}},
	}
	if d := cmp.Diff(want, cfg); d != "" {
		t.Errorf("Load(ok-minimal) (-want +got):\n%s", d)
	}
}

// Every bad file names the path of the field at fault and says in German what
// is wrong with it.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file, path, message string
	}{
		{"bad-syntax", "", "endet mitten im JSON"},
		{"bad-trailing", "", "weitere Zeichen"},
		{"bad-not-object", "", "Objekt"},
		{"bad-unknown-field", "ags", "Unbekanntes Feld „ags“"},
		{"bad-unknown-field-tier", "fees[0].tiers[0].amount", "Unbekanntes Feld"},
		{"bad-duplicate-key", "fees[0].tiers[0].amount_cents", "doppelt"},
		{"bad-amount-euros", "fees[0].tiers[0].amount_cents", "ganzen Cent"},
		{"bad-amount-zero", "fees[0].tiers[0].amount_cents", "größer als 0"},
		{"bad-amount-negative", "fees[0].tiers[0].amount_cents", "größer als 0"},
		{"bad-amount-text", "fees[0].tiers[0].amount_cents", "ganze Zahl"},
		{"bad-amount-too-large", "fees[0].tiers[0].amount_cents", "zu groß"},
		{"bad-amount-second-version", "fees[1].tiers[0].amount_cents", "ganzen Cent"},
		{"bad-date-format", "rules[0].valid_from", "JJJJ-MM-TT"},
		{"bad-date-impossible", "rules[0].valid_from", "kein gültiges Datum"},
		{"bad-date-missing", "fees[0].valid_from", "Datum fehlt"},
		{"bad-rules-same-day", "rules[1].valid_from", "selben Tag"},
		{"bad-fees-same-day", "fees[1].valid_from", "selben Tag"},
		{"bad-fees-unordered", "fees[1].valid_from", "aufsteigend"},
		{"bad-tiers-overlap-length", "fees[0].tiers[1]", "überschneidet sich mit fees[0].tiers[0]"},
		{"bad-tiers-overlap-flat", "fees[0].tiers[1]", "überschneidet"},
		{"bad-tier-name-twice", "fees[0].tiers[1].name", "schon an fees[0].tiers[0] vergeben"},
		{"bad-tier-duration-zero", "fees[0].tiers[0].duration_months", "größer als 0"},
		{"bad-tier-duration-missing", "fees[0].tiers[0].duration_months", "fehlt"},
		{"bad-tiers-empty", "fees[0].tiers", "nicht leer"},
		{"bad-durations-empty", "rules[0].durations_months", "nicht leer"},
		{"bad-durations-negative", "rules[0].durations_months[0]", "größer als 0"},
		{"bad-durations-twice", "rules[0].durations_months[1]", "doppelt"},
		{"bad-automation-no-basis", "rules[0].automation.legal_basis", "§ 35a VwVfG"},
		{"bad-automation-blank-basis", "rules[0].automation.legal_basis", "§ 35a VwVfG"},
		{"bad-ars", "ars", "12 Ziffern"},
		{"bad-ars-letters", "ars", "12 Ziffern"},
		{"bad-municipality-missing", "municipality", "fehlt"},
		{"bad-residence-kind", "rules[0].residence_kinds[0]", "„erst“ ist nicht vorgesehen; möglich: haupt, neben"},
		{"bad-residence-kinds-empty", "rules[0].residence_kinds", "nicht leer"},
		{"bad-vehicle-class", "rules[0].vehicle_classes[0]", "„PKW“ ist nicht vorgesehen"},
		{"bad-fuel", "fees[0].tiers[0].fuels[0]", "„benzin“ ist nicht vorgesehen"},
		{"bad-length-min-over-max", "fees[0].tiers[0].length_min_mm", "größer als die Höchstlänge"},
		{"bad-mass-negative", "rules[0].max_mass_kg", "mindestens 0"},
		{"bad-source-unknown-rule", `rules[0].sources["vehicle.colour"]`, "gibt es nicht"},
		{"bad-source-empty", `rules[0].sources["vehicle.length"]`, "nicht leer"},
		{"bad-null", "rules[0].legal_source", "null"},
		{"bad-legal-source-blank", "fees[0].legal_source", "nicht leer"},
		{"bad-refund-rule", "fees[0].refund_rule", "none, pro_rata_months"},
		{"bad-reduction-percent", "fees[0].reductions[0].percent", "höchstens 100"},
		{"bad-reduction-kind-missing", "fees[0].reductions[0].kind", "fehlt"},
		{"bad-replacement-zero", "fees[0].replacement_cents", "größer als 0"},
		{"bad-retention-zero", "rules[0].retention_months", "größer als 0"},
		{"bad-bool-as-text", "rules[0].allow_borrowed", "true oder false"},
		{"bad-rules-missing", "rules", "fehlt"},
		{"bad-note-number", "_note", "Text"},
		{"bad-automation-note", "rules[0].automation._note", "Unbekanntes Feld"},
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "load", "bad-*.json"))
	tested := map[string]bool{"bad-many": true}
	for _, tt := range tests {
		tested[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			cfg, ws, err := loadFile(t, tt.file+".json")
			if err == nil {
				t.Fatalf("Load accepted the file: %+v", cfg)
			}
			if cfg != nil || ws != nil {
				t.Errorf("got config %v and warnings %v with the error, want neither", cfg, ws)
			}
			if k := errs.KindOf(err); k != errs.Invalid {
				t.Errorf("kind %v, want invalid (%v)", k, err)
			}
			if got := errs.FieldOf(err); got != tt.path {
				t.Errorf("field %q, want %q (%v)", got, tt.path, err)
			}
			if msg := errs.MessageOf(err); !strings.Contains(msg, tt.message) {
				t.Errorf("message %q, want it to contain %q", msg, tt.message)
			}
		})
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		if !tested[name] {
			t.Errorf("testdata/load/%s.json has no case in TestLoadErrors", name)
		}
	}
}

// One run reports all problems of a file, each with its path.
func TestLoadReportsAllProblems(t *testing.T) {
	_, _, err := loadFile(t, "bad-many.json")
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("got %v, want joined errors", err)
	}
	var paths []string
	for _, e := range joined.Unwrap() {
		paths = append(paths, errs.FieldOf(e))
	}
	want := []string{"ars", "rules[0].valid_from", "fees[0].tiers[0].amount_cents"}
	if d := cmp.Diff(want, paths); d != "" {
		t.Errorf("problem paths (-want +got):\n%s", d)
	}
}

func TestLoadCapsProblems(t *testing.T) {
	var tiers []string
	for range 50 {
		tiers = append(tiers, `{"name":"x","duration_months":12,"amount_cents":1.5}`)
	}
	in := `{"ars":"110000000000","municipality":"T","rules":[],"fees":[{"valid_from":"2024-01-01","legal_source":"V","tiers":[` + strings.Join(tiers, ",") + `]}]}`
	_, _, err := Load(strings.NewReader(in))
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("got %v, want joined errors", err)
	}
	es := joined.Unwrap()
	if len(es) != maxProblems+1 || !strings.Contains(es[maxProblems].Error(), "weitere Fehler") {
		t.Errorf("got %d problems, last %v; want %d and a count of the rest", len(es), es[len(es)-1], maxProblems+1)
	}
}

func TestLoadTooLarge(t *testing.T) {
	in := `{"_note":"` + strings.Repeat("x", maxFileBytes) + `"}`
	_, _, err := Load(strings.NewReader(in))
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "größer als") {
		t.Errorf("got %v, want invalid: too large", err)
	}
}

func TestLoadTooDeep(t *testing.T) {
	in := `{"_note":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	_, _, err := Load(strings.NewReader(in))
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(errs.MessageOf(err), "verschachtelt") {
		t.Errorf("got %v, want invalid: nested too deep", err)
	}
}

func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		file    string
		paths   []string
		message string
	}{
		{"warn-satzung", []string{"fees[0].legal_source"}, "Rechtsverordnung"},
		{"warn-reduction", []string{"fees[0].reductions[0]"}, "9 CN 2.22"},
		{"warn-doubling-mass", []string{"fees[0].tiers[1].amount_cents"}, "Masse: 1.800 kg → 1.801 kg"},
		{"warn-duration-unpriced", []string{"rules[0].durations_months[0]"}, "Laufzeit von 6 Monaten"},
		{"warn-fees-start-late", []string{"fees[0].valid_from"}, "01.01.2024"},
		{"warn-distance-without-secondary", []string{"rules[0].min_distance_from_main_m"}, "Nebenwohnungen"},
		{"ok-far-apart-doubling", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, ws, err := loadFile(t, tt.file+".json")
			if err != nil || cfg == nil {
				t.Fatalf("Load: %v, want a config with warnings", err)
			}
			if d := cmp.Diff(tt.paths, warningPaths(ws)); d != "" {
				t.Errorf("warning paths (-want +got):\n%s", d)
			}
			if len(ws) > 0 && !strings.Contains(ws[0].Message, tt.message) {
				t.Errorf("warning %q, want it to contain %q", ws[0].Message, tt.message)
			}
		})
	}
}

// The shipped files load; Berlin without warnings, Freiburg's void Satzung
// with exactly the warnings BVerwG 9 CN 2.22 calls for.
func TestEmbedded(t *testing.T) {
	cfgs, warnings, err := loadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	wantNames := map[string]string{
		"110000000000": "Berlin",
		"083110000000": "Freiburg im Breisgau",
		"053150000000": "Köln",
		"084160041041": "Tübingen",
		"020000000000": "Hamburg",
	}
	got := map[string]string{}
	for ars, c := range cfgs {
		got[ars] = c.Municipality
		if c.ARS != ars {
			t.Errorf("config under %s has ARS %s", ars, c.ARS)
		}
	}
	if d := cmp.Diff(wantNames, got); d != "" {
		t.Errorf("embedded municipalities (-want +got):\n%s", d)
	}
	wantWarnings := map[string][]string{
		"083110000000": {"fees[0].legal_source", "fees[0].reductions[0]", "fees[0].reductions[1]", "fees[0].tiers[2].amount_cents"},
	}
	for ars := range wantNames {
		if d := cmp.Diff(wantWarnings[ars], warningPaths(warnings[ars])); d != "" {
			t.Errorf("%s warnings (-want +got):\n%s\n%v", ars, d, warnings[ars])
		}
	}

	public, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(cfgs, public); d != "" {
		t.Errorf("Embedded differs from loadEmbedded:\n%s", d)
	}
	public["110000000000"].Rules[0].MinAgeYears = 99
	again, _ := Embedded()
	if again["110000000000"].Rules[0].MinAgeYears == 99 {
		t.Error("a change to one Embedded result shows in the next")
	}
}

func TestEmbeddedBerlinDemo(t *testing.T) {
	cfgs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cfgs["110000000000"].RulesAt(day("2026-05-01"))
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Automation.Enabled || !strings.Contains(rs.Automation.LegalBasis, "fiktive") {
		t.Errorf("Berlin automation %+v, want enabled with a basis labelled as fictitious", rs.Automation)
	}
	if !slices.Equal(rs.DurationsMonths, []int{24}) || !slices.Equal(rs.ResidenceKinds, []string{"haupt"}) || rs.RetentionMonths != 24 {
		t.Errorf("Berlin rules %+v", rs)
	}
	fs, err := cfgs["110000000000"].FeesAt(day("2026-05-01"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := fs.Price(24, 4500, 1800, "petrol")
	if err != nil || p.AmountCents != 2040 {
		t.Errorf("Berlin 24 months: %+v, %v; want 2040 cents", p, err)
	}
}

// Every shipped file marshals to the file format and loads back unchanged.
func TestEmbeddedRoundTrip(t *testing.T) {
	cfgs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for ars, c := range cfgs {
		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := Load(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: reload: %v\n%s", ars, err, data)
		}
		if d := cmp.Diff(c, back); d != "" {
			t.Errorf("%s: round trip (-before +after):\n%s", ars, d)
		}
	}
}

func TestVersionsAt(t *testing.T) {
	cfgs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	freiburg := cfgs["083110000000"]
	berlinTZ := time.FixedZone("MEZ", 3600)
	tests := []struct {
		day       time.Time
		validFrom string // "" = none in force
	}{
		{day("2022-03-31"), ""},
		{day("2022-04-01"), "2022-04-01"},
		{day("2023-06-12"), "2022-04-01"},
		{day("2023-06-13"), "2023-06-13"},
		{day("2023-11-30"), "2023-06-13"},
		{day("2023-12-01"), "2023-12-01"},
		{day("2030-01-01"), "2023-12-01"},
		// The calendar date counts in the time's own location: 00:30 MEZ on
		// 1 December is already the new version, although it is 30 November in UTC.
		{time.Date(2023, 12, 1, 0, 30, 0, 0, berlinTZ), "2023-12-01"},
		{time.Date(2023, 11, 30, 23, 59, 0, 0, berlinTZ), "2023-06-13"},
	}
	for _, tt := range tests {
		fs, err := freiburg.FeesAt(tt.day)
		if tt.validFrom == "" {
			if !errs.Is(err, errs.NotFound) || fs != nil {
				t.Errorf("FeesAt(%v) = %v, %v; want not found", tt.day, fs, err)
			}
			continue
		}
		if err != nil || !fs.ValidFrom.Equal(day(tt.validFrom)) {
			t.Errorf("FeesAt(%v) = %v, %v; want the version from %s", tt.day, fs, err, tt.validFrom)
		}
	}
	if _, err := freiburg.RulesAt(day("2022-03-31")); !errs.Is(err, errs.NotFound) || !strings.Contains(errs.MessageOf(err), "31.03.2022") {
		t.Errorf("RulesAt before the first version: %v, want not found naming the day", err)
	}
	rs, err := freiburg.RulesAt(day("2025-01-01"))
	if err != nil || rs != &freiburg.Rules[0] {
		t.Errorf("RulesAt(2025-01-01) = %p, %v; want the only version", rs, err)
	}
}

// LoadDir checks an operator's directory as strictly as the shipped files:
// file name and ARS agree, no ARS twice, a broken file is named.
func TestLoadDir(t *testing.T) {
	berlin, err := municipalityFiles.ReadFile("municipalities/110000000000-berlin.json")
	if err != nil {
		t.Fatal(err)
	}
	freiburg, err := municipalityFiles.ReadFile("municipalities/083110000000-freiburg-im-breisgau.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   map[string][]byte
		wantErr string // substring; "" = loads
	}{
		{"two municipalities", map[string][]byte{"110000000000-berlin.json": berlin, "083110000000.json": freiburg, "README.txt": []byte("x")}, ""},
		{"empty", map[string][]byte{"README.txt": []byte("x")}, "keine *.json-Dateien"},
		{"name and ARS differ", map[string][]byte{"020000000000-hamburg.json": berlin}, "beginnt nicht mit dem Regionalschlüssel 110000000000"},
		{"ARS twice", map[string][]byte{"110000000000-a.json": berlin, "110000000000-b.json": berlin}, "110000000000-b.json: Regionalschlüssel 110000000000 ist doppelt"},
		{"broken file", map[string][]byte{"110000000000-berlin.json": berlin[:len(berlin)/2]}, "110000000000-berlin.json: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfgs, warnings, err := LoadDir(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfgs) != 2 || cfgs["110000000000"].Municipality != "Berlin" || cfgs["083110000000"].Municipality != "Freiburg im Breisgau" {
				t.Fatalf("configs = %v", cfgs)
			}
			if len(warnings["083110000000"]) == 0 || len(warnings["110000000000"]) != 0 {
				t.Errorf("warnings = %v", warnings)
			}
		})
	}
}
