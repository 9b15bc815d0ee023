package geo

import (
	"os"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func addr(street, number, postcode string, lon, lat float64) Address {
	return Address{Street: street, HouseNumber: number, Postcode: postcode, Point: Point{lon, lat}}
}

// A small register with the cases Match must tell apart.
var testRegister = []Address{
	addr("Lehrter Straße", "53", "10557", 13.3585, 52.5345),
	addr("Lehrter Straße", "55", "10557", 13.3590, 52.5340),
	addr("Lehrter Straße", "57", "10557", 13.3597, 52.5331),
	addr("Lehrter Str.", "53", "10557", 13.3585, 52.5345), // the same address spelt differently
	addr("Perleberger Straße", "61A", "10559", 13.3536, 52.5337),
	addr("Perleberger Straße", "61", "10559", 13.3535, 52.5338),
	// Berlin has many streets of the same name.
	addr("Hauptstraße", "1", "10827", 13.3540, 52.4880),
	addr("Hauptstraße", "1", "13158", 13.3890, 52.6070),
	// A postcode-less copy next to the postcoded one is the same address…
	addr("Torstraße", "56", "10119", 13.40895, 52.52866),
	addr("Torstraße", "56", "", 13.40900, 52.52870),
	// …one far away is not.
	addr("Auguststraße", "63", "10117", 13.3970, 52.5272),
	addr("Auguststraße", "63", "", 13.4500, 52.5500),
	addr("Rosenthaler Straße", "40-41", "10178", 13.4019, 52.5241),
	addr("Jägerstraße", "42,44", "10117", 13.3900, 52.5140),
	addr("Oranienburger Straße", "12", "10178", 13.3986, 52.5240),
	addr("Oranienburger Straße", "14", "10178", 13.3990, 52.5238),
	addr("Oranienburger Straße", "20/1", "10178", 13.3995, 52.5236),
	// Without postcode, and nowhere near 14199 Schmargendorf.
	addr("Alte Schönhauser Straße", "8", "", 13.4081125, 52.5273449),
	// A building of three numbers across a zone border, and one whose
	// numbers lie under two postcodes.
	addr("Lehrter Straße", "52", "10557", 13.3584, 52.5346),
	addr("Lehrter Straße", "54", "10557", 13.3587, 52.5343),
	addr("Grenzweg", "1", "10115", 13.38, 52.53),
	addr("Grenzweg", "3", "10119", 13.39, 52.53),
	addr("Bad Street", "6 II", "10178", 13.3995, 52.5236), // not a house number: left out
}

func TestGazetteerMatch(t *testing.T) {
	g := NewGazetteer(testRegister)
	tests := []struct {
		query       string
		kind        MatchKind
		addresses   string // "street number postcode; …"
		suggestions string
	}{
		{"Lehrter Straße 53", ExactMatch, "Lehrter Straße 53 10557", ""},
		{"lehrterstr 53, 10557 Berlin", ExactMatch, "Lehrter Straße 53 10557", ""},
		{"Perleberger Str. 61a", ExactMatch, "Perleberger Straße 61A 10559", ""},
		{"perleberger strasse 61 A", ExactMatch, "Perleberger Straße 61A 10559", ""},
		{"Perleberger Straße 61", ExactMatch, "Perleberger Straße 61 10559", ""},
		{"Hauptstraße 1", Ambiguous, "Hauptstraße 1 10827; Hauptstraße 1 13158", ""},
		{"Hauptstraße 1, 13158", ExactMatch, "Hauptstraße 1 13158", ""},
		{"Torstraße 56", ExactMatch, "Torstraße 56 10119", ""},
		{"Auguststraße 63", Ambiguous, "Auguststraße 63 ; Auguststraße 63 10117", ""},
		{"Auguststraße 63, 10117", ExactMatch, "Auguststraße 63 10117", ""},
		// A postcode the register does not know for it: the postcode-less
		// entry may be anywhere, so it is no answer, only a suggestion.
		{"Auguststraße 63, 10999", NoMatch, "", "Auguststraße 63 ; Auguststraße 63 10117"},
		{"Alte Schönhauser Straße 8, 14199", NoMatch, "", "Alte Schönhauser Straße 8 "},
		{"Alte Schönhauser Straße 8", ExactMatch, "Alte Schönhauser Straße 8 ", ""},
		{"Rosenthaler Straße 40, 10999", NoMatch, "", "Rosenthaler Straße 40-41 10178"},
		{"Rosenthaler Straße 40-41", ExactMatch, "Rosenthaler Straße 40-41 10178", ""},
		{"Rosenthaler Straße 40", RangeMatch, "Rosenthaler Straße 40-41 10178", ""},
		{"Rosenthaler Straße 41", RangeMatch, "Rosenthaler Straße 40-41 10178", ""},
		{"Jägerstraße 44", RangeMatch, "Jägerstraße 42,44 10117", ""},
		{"Oranienburger Straße 12-14", RangeMatch, "Oranienburger Straße 12 10178; Oranienburger Straße 14 10178", ""},
		{"Oranienburger Straße 13-16", RangeMatch, "Oranienburger Straße 14 10178", ""},
		{"Lehrter Str. 52-54", RangeMatch, "Lehrter Straße 52 10557; Lehrter Straße 53 10557; Lehrter Straße 54 10557", ""},
		{"Lehrter Str. 52-54, 10557", RangeMatch, "Lehrter Straße 52 10557; Lehrter Straße 53 10557; Lehrter Straße 54 10557", ""},
		{"Grenzweg 1-3", Ambiguous, "Grenzweg 1 10115; Grenzweg 3 10119", ""},
		{"Grenzweg 1-3, 10119", RangeMatch, "Grenzweg 3 10119", ""},
		{"Oranienburger Straße 20/1", ExactMatch, "Oranienburger Straße 20/1 10178", ""},
		// Not found: the nearest numbers on the street.
		{"Rosenthaler Straße 40A", NoMatch, "", "Rosenthaler Straße 40-41 10178"},
		{"Oranienburger Straße 20", NoMatch, "", "Oranienburger Straße 20/1 10178; Oranienburger Straße 14 10178; Oranienburger Straße 12 10178"},
		{"Lehrter Straße 56", NoMatch, "", "Lehrter Straße 55 10557; Lehrter Straße 57 10557; Lehrter Straße 54 10557; Lehrter Straße 53 10557; Lehrter Straße 52 10557"},
		{"Perleberger Straße 61B", NoMatch, "", "Perleberger Straße 61 10559; Perleberger Straße 61A 10559"},
		// Right street and number, wrong postcode: that address first.
		{"Lehrter Straße 55, 10115", NoMatch, "", "Lehrter Straße 55 10557; Lehrter Straße 54 10557; Lehrter Straße 53 10557; Lehrter Straße 57 10557; Lehrter Straße 52 10557"},
		// Misspelt streets.
		{"Lehrter Strase 53", NoMatch, "", "Lehrter Straße 53 10557"},
		{"Lerhter Straße 57", NoMatch, "", "Lehrter Straße 57 10557"},
		{"Lehrter 55", NoMatch, "", "Lehrter Straße 55 10557"},
		{"Perlebrger Str 61", NoMatch, "", "Perleberger Straße 61 10559"},
		{"Oranienburgerstr 13", NoMatch, "", "Oranienburger Straße 12 10178; Oranienburger Straße 14 10178; Oranienburger Straße 20/1 10178"},
		{"Xyzzy 1", NoMatch, "", ""},
	}
	for _, tt := range tests {
		q, err := ParseAddressQuery(tt.query)
		if err != nil {
			t.Fatalf("ParseAddressQuery(%q): %v", tt.query, err)
		}
		m, err := g.Match(q)
		if err != nil {
			t.Errorf("Match(%q): %v", tt.query, err)
			continue
		}
		if got, got2 := list(m.Addresses), list(m.Suggestions); m.Kind != tt.kind || got != tt.addresses || got2 != tt.suggestions {
			t.Errorf("Match(%q) = %v [%s] suggestions [%s], want %v [%s] suggestions [%s]",
				tt.query, m.Kind, got, got2, tt.kind, tt.addresses, tt.suggestions)
		}
		if a, ok := m.Unique(); ok != (m.Kind != NoMatch && m.Kind != Ambiguous && len(m.Addresses) == 1) || ok && a != m.Addresses[0] {
			t.Errorf("Match(%q).Unique() = %v, %v for %v with %d addresses", tt.query, a, ok, m.Kind, len(m.Addresses))
		}
	}
	if got, want := g.Len(), len(testRegister)-3; got != want {
		t.Errorf("Len() = %d, want %d (a duplicate, a postcode-less copy and a bad number left out)", got, want)
	}
}

// TestMatchFound checks what a match names: one address, or the building
// a range query meets under one postcode.
func TestMatchFound(t *testing.T) {
	g := NewGazetteer(testRegister)
	tests := []struct {
		query string
		want  string // "street number postcode", "" for none
	}{
		{"Lehrter Straße 53", "Lehrter Straße 53 10557"},
		{"Rosenthaler Straße 40", "Rosenthaler Straße 40-41 10178"},
		{"Lehrter Str. 52-54", "Lehrter Straße 52-54 10557"},
		{"Lehrter Str. 51-53", "Lehrter Straße 52-53 10557"},
		{"Oranienburger Straße 12-14", "Oranienburger Straße 12-14 10178"},
		{"Hauptstraße 1", ""},
		{"Grenzweg 1-3", ""},
		{"Alte Schönhauser Straße 8, 14199", ""},
	}
	for _, tt := range tests {
		q, err := ParseAddressQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := g.Match(q)
		got := ""
		if a, ok := m.Found(); ok {
			got = a.Street + " " + a.HouseNumber + " " + a.Postcode
			if a.Point != m.Addresses[0].Point {
				t.Errorf("Found(%q) at %v, want the first address's point %v", tt.query, a.Point, m.Addresses[0].Point)
			}
		}
		if got != tt.want {
			t.Errorf("Match(%q).Found() = %q, want %q", tt.query, got, tt.want)
		}
	}
}

func list(as []Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.Street + " " + a.HouseNumber + " " + a.Postcode
	}
	return strings.Join(s, "; ")
}

func TestGazetteerMatchInvalid(t *testing.T) {
	g := NewGazetteer(testRegister)
	for _, q := range []AddressQuery{{}, {StreetKey: "lehrterstr"}, {HouseNumber: "53"}} {
		if _, err := g.Match(q); errs.KindOf(err) != errs.Invalid {
			t.Errorf("Match(%+v) error %v, want invalid", q, err)
		}
	}
	empty := NewGazetteer(nil)
	q, _ := ParseAddressQuery("Lehrter Straße 53")
	if m, err := empty.Match(q); err != nil || m.Kind != NoMatch || len(m.Suggestions) != 0 {
		t.Errorf("empty gazetteer: Match = %+v, %v; want NoMatch without suggestions", m, err)
	}
}

var berlinAddresses = sync.OnceValues(func() ([]Address, error) {
	f, err := os.Open(berlinAddressesFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	addrs, _, err := ParseAddressesCSV(f, CSVOptions{Tenant: "110000000000", Source: "osm"})
	return addrs, err
})

func loadBerlinAddresses(tb testing.TB) []Address {
	tb.Helper()
	addrs, err := berlinAddresses()
	if err != nil {
		tb.Fatal(err)
	}
	return addrs
}

// TestGazetteerFindsEveryBerlinAddress asks for every imported address as a
// user would type it: in its own spelling and in another, with its postcode
// and without.
func TestGazetteerFindsEveryBerlinAddress(t *testing.T) {
	addrs := loadBerlinAddresses(t)
	g := NewGazetteer(addrs)
	respell := strings.NewReplacer("Straße", "Str.", "straße", "strasse", "ä", "ae", "ö", "oe", "ü", "ue", "-", " ")
	count := map[string]int{}
	queries := 0
	for _, a := range addrs {
		if strings.Contains(a.Street, ",") {
			continue // "Wattstraße, 12459 Berlin" is not a street name
		}
		pc := ""
		if a.Postcode != "" {
			pc = ", " + a.Postcode + " Berlin"
		}
		for _, text := range []string{
			a.Street + " " + a.HouseNumber + pc,
			strings.ToLower(respell.Replace(a.Street)) + " " + a.HouseNumber + pc,
			a.Street + " " + a.HouseNumber,
		} {
			queries++
			q, err := ParseAddressQuery(text)
			if err != nil {
				t.Fatalf("ParseAddressQuery(%q): %v", text, err)
			}
			m, err := g.Match(q)
			if err != nil {
				t.Fatalf("Match(%q): %v", text, err)
			}
			found, twin := false, false
			for _, b := range m.Addresses {
				found = found || b == a
				// A postcode-less address close to a postcoded one is
				// answered by that one (see sameAddressMetres).
				twin = twin || a.Postcode == "" && b.Postcode != "" && metres(a.Point, b.Point) <= sameAddressMetres
			}
			switch {
			case m.Kind == ExactMatch && found:
				count["exact"]++
			case m.Kind == Ambiguous && found:
				count["ambiguous"]++
			case (m.Kind == ExactMatch || m.Kind == Ambiguous) && twin:
				count["by its postcoded twin"]++
			default:
				t.Errorf("Match(%q) = %v %s, want %s %s %s among the answers", text, m.Kind, list(m.Addresses), a.Street, a.HouseNumber, a.Postcode)
			}
		}
	}
	t.Logf("%d addresses, %d queries: %v", len(addrs), queries, count)
	if count["ambiguous"] == 0 {
		t.Errorf("no ambiguous answer; want some (Berlin has streets of the same name under several postcodes)")
	}
}

func BenchmarkGazetteerMatch(b *testing.B) {
	addrs := loadBerlinAddresses(b)
	g := NewGazetteer(addrs)
	var exact, typos []AddressQuery
	for i, a := range addrs {
		q, err := ParseAddressQuery(a.Street + " " + a.HouseNumber)
		if err != nil {
			continue
		}
		exact = append(exact, q)
		if i%50 == 0 && len(q.StreetKey) > 4 {
			// swap two letters in the middle: a typical typo
			k := []byte(q.StreetKey)
			j := len(k) / 2
			k[j], k[j+1] = k[j+1], k[j]
			q.StreetKey = string(k)
			typos = append(typos, q)
		}
	}
	for _, bc := range []struct {
		name    string
		queries []AddressQuery
	}{{"exact", exact}, {"typo", typos}} {
		b.Run(bc.name, func(b *testing.B) {
			hits := 0
			for i := 0; b.Loop(); i++ {
				m, _ := g.Match(bc.queries[i%len(bc.queries)])
				hits += len(m.Addresses) + len(m.Suggestions)
			}
			if hits == 0 {
				b.Fatal("nothing found")
			}
		})
	}
}

func BenchmarkNewGazetteer(b *testing.B) {
	addrs := loadBerlinAddresses(b)
	for b.Loop() {
		NewGazetteer(addrs)
	}
}

func TestEditDistanceLimitProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.StringMatching(`[a-e]{0,12}`).Draw(t, "a")
		b := rapid.StringMatching(`[a-e]{0,12}`).Draw(t, "b")
		limit := rapid.IntRange(0, 6).Draw(t, "limit")
		full := editDistance(a, b)
		var ed editBuf
		if got := ed.distance(a, b, limit); got != min(full, limit+1) {
			t.Fatalf("distance(%q, %q, %d) = %d, want %d (full distance %d)", a, b, limit, got, min(full, limit+1), full)
		}
		if rev := editDistance(b, a); rev != full {
			t.Fatalf("editDistance(%q, %q) = %d but reversed %d", a, b, full, rev)
		}
	})
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"lehrterstr", "lehrterstr", 0},
		{"lehrterstr", "lerhterstr", 1}, // transposition
		{"lehrterstr", "lehrtrstr", 1},
		{"lehrterstr", "lehrterstrase", 3},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		var ed editBuf
		for limit := range 5 {
			if got, want := ed.distance(tt.a, tt.b, limit), min(tt.want, limit+1); got != want {
				t.Errorf("distance(%q, %q, limit %d) = %d, want %d", tt.a, tt.b, limit, got, want)
			}
		}
	}
}
