package geo

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func TestStreetKeySameStreet(t *testing.T) {
	groups := [][]string{
		{"Perleberger Straße", "Perleberger Str.", "perleberger strasse", "PERLEBERGER STRASSE", "Perlebergerstr.", "Perleberger Str", "perleberger-straße"},
		{"Lehrter Straße", "Lehrter Str.", "Lehrterstr.", "lehrterstr", "Lehrter Strasse"},
		{"Karl-Marx-Allee", "Karl Marx Allee", "karl-marx-allee", "KarlMarxAllee", "Karl - Marx - Allee"},
		{"Müllerstraße", "Muellerstrasse", "Müllerstr.", "MÜLLERSTRASSE", "Mu\u0308llerstraße"}, // last: ü decomposed
		{"Straße des 17. Juni", "Str. des 17. Juni", "strasse des 17 juni"},
		{"Alexanderplatz", "Alexanderpl.", "Alexander Platz", "alexanderplatz"},
		{"Fromet-und-Moses-Mendelssohn-Platz", "Fromet-und-Moses-Mendelssohnplatz"},
		{"Görlitzer Straße", "Goerlitzer Strasse", "Görlitzer Str."},
		{"Große Hamburger Straße", "Grosse Hamburger Strasse", "GROSSE HAMBURGER STR."},
		{"Boulevard Émile Zola", "Boulevard Emile Zola"},
		{"Peter-Straßer-Weg", "Peter-Strasser-Weg"},
	}
	for _, g := range groups {
		want := StreetKey(g[0])
		for _, v := range g[1:] {
			if got := StreetKey(v); got != want {
				t.Errorf("StreetKey(%q) = %q, want %q (as for %q)", v, got, want, g[0])
			}
		}
	}
}

func TestStreetKeyDifferentStreets(t *testing.T) {
	pairs := [][2]string{
		{"Lehrter Straße", "Lehrter Weg"},
		{"Hauptstraße", "Hauptplatz"},
		{"Müllerstraße", "Mullerstraße"}, // a missing umlaut is a typo, for the suggestions
		{"Straße des 17. Juni", "Straße des 18. Juni"},
		{"Am Zirkus", "Zirkus"},
	}
	for _, p := range pairs {
		if a, b := StreetKey(p[0]), StreetKey(p[1]); a == b {
			t.Errorf("StreetKey(%q) = StreetKey(%q) = %q, want them different", p[0], p[1], a)
		}
	}
	for _, s := range []string{"", "  ", "-.,", "\u0308"} {
		if got := StreetKey(s); got != "" {
			t.Errorf("StreetKey(%q) = %q, want empty", s, got)
		}
	}
}

// spellingVariants returns how people write name: abbreviated, glued,
// transliterated, in other case, with other separators.
func spellingVariants(name string) []string {
	translit := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue", "ß", "ss")
	decomposed := strings.NewReplacer("ä", "a\u0308", "ö", "o\u0308", "ü", "u\u0308")
	v := []string{
		strings.ToLower(name),
		strings.ToUpper(name),
		translit.Replace(name),
		strings.ToLower(translit.Replace(name)),
		decomposed.Replace(name),
		strings.ReplaceAll(name, "-", " "),
		strings.ReplaceAll(name, " ", "-"),
	}
	for _, r := range [][2]string{
		{" Straße", " Str."}, {"straße", "str."}, {" Straße", "str."}, {"Straße", "Strasse"}, {"straße", "strasse"},
		{" Straße", " str"}, {" Platz", " Pl."}, {"platz", "pl."},
	} {
		if strings.Contains(name, r[0]) {
			v = append(v, strings.ReplaceAll(name, r[0], r[1]))
		}
	}
	return v
}

func TestStreetKeyRealStreets(t *testing.T) {
	streets := map[string]bool{}
	for _, r := range loadBerlinRows(t) {
		if r.Street != "" {
			streets[r.Street] = true
		}
	}
	variants := 0
	for name := range streets {
		want := StreetKey(name)
		if want == "" {
			t.Errorf("StreetKey(%q) is empty", name)
		}
		for _, v := range spellingVariants(name) {
			variants++
			if got := StreetKey(v); got != want {
				t.Errorf("StreetKey(%q) = %q, want %q (as for %q)", v, got, want, name)
			}
		}
	}
	t.Logf("%d real street names, %d spelling variants", len(streets), variants)
	if len(streets) < 1000 {
		t.Errorf("got %d distinct streets from the Berlin file, want over 1000", len(streets))
	}
}

func TestHouseNumberKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"61", "61"},
		{"61a", "61A"},
		{"61 A", "61A"},
		{" 061a ", "61A"},
		{"0", "0"},
		{"12-14", "12-14"},
		{"12–14", "12-14"},
		{"12 - 14 a", "12-14A"},
		{"12 bis 14", "12-14"},
		{"27A-31", "27A-31"},
		{"5-6a", "5-6A"},
		{"29a-c", "29A-29C"},
		{"5A/B", "5A-5B"},
		{"65-64", "64-65"},
		{"14/15", "14-15"},
		{"12/1", "12/1"},
		{"12A / 1", "12A/1"},
		{"3/3", "3/3"},
		{"40;41", "40;41"},
		{"40, 41, 43", "40;41;43"},
	}
	for _, tt := range tests {
		got, err := HouseNumberKey(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("HouseNumberKey(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if again, err := HouseNumberKey(got); err != nil || again != got {
			t.Errorf("HouseNumberKey(%q) = %q, %v; want it unchanged", got, again, err)
		}
	}
	for _, in := range []string{"", "a", "12ab", "12 14", "6 II", "54 Hof 1", "1;61/62", "12-14-16", "12-", "-12", "123456", "5a-5a", "5b-5a", "1-500", "12/1a", "10439", "S-Bahnbögen 481 und 482"} {
		if got, err := HouseNumberKey(in); err == nil {
			t.Errorf("HouseNumberKey(%q) = %q, want an error", in, got)
		} else if errs.KindOf(err) != errs.Invalid {
			t.Errorf("HouseNumberKey(%q): kind %v, want invalid", in, errs.KindOf(err))
		}
	}
}

func TestParseAddressQuery(t *testing.T) {
	lehrter := func(street, number string, from, to int, postcode, city string) AddressQuery {
		return AddressQuery{Street: street, StreetKey: "lehrterstr", HouseNumber: number, From: from, To: to, Postcode: postcode, City: city}
	}
	tests := []struct {
		in   string
		want AddressQuery
	}{
		{"Lehrter Str. 53", lehrter("Lehrter Str.", "53", 53, 53, "", "")},
		{"  lehrterstr.53 ", lehrter("lehrterstr.", "53", 53, 53, "", "")},
		{"Lehrter Straße 53a", lehrter("Lehrter Straße", "53A", 53, 53, "", "")},
		{"Lehrter Straße 53 A", lehrter("Lehrter Straße", "53A", 53, 53, "", "")},
		{"Lehrter Str. 53, 10557 Berlin", lehrter("Lehrter Str.", "53", 53, 53, "10557", "Berlin")},
		{"10557 Berlin, Lehrter Straße 53", lehrter("Lehrter Straße", "53", 53, 53, "10557", "Berlin")},
		{"Lehrter Straße 53, 10557", lehrter("Lehrter Straße", "53", 53, 53, "10557", "")},
		{"Lehrter Straße 53, Berlin", lehrter("Lehrter Straße", "53", 53, 53, "", "Berlin")},
		{"Lehrter Straße 53 10557 Berlin", lehrter("Lehrter Straße", "53", 53, 53, "10557", "Berlin")},
		{"10557 Lehrter Straße 53", lehrter("Lehrter Straße", "53", 53, 53, "10557", "")},
		{"Lehrter Straße, 53", lehrter("Lehrter Straße", "53", 53, 53, "", "")},
		{"Lehrter Straße Nr. 53", lehrter("Lehrter Straße", "53", 53, 53, "", "")},
		{"Lehrter Straße 12-14", lehrter("Lehrter Straße", "12-14", 12, 14, "", "")},
		{"Lehrter Straße 12–14", lehrter("Lehrter Straße", "12-14", 12, 14, "", "")},
		{"Lehrter Straße 12 - 14 a", lehrter("Lehrter Straße", "12-14A", 12, 14, "", "")},
		{"Lehrter\u00a0Straße   53", lehrter("Lehrter Straße", "53", 53, 53, "", "")},
		{"Straße des 17. Juni 100", AddressQuery{Street: "Straße des 17. Juni", StreetKey: "strdes17juni", HouseNumber: "100", From: 100, To: 100}},
		{"Hauptstr. 1234", AddressQuery{Street: "Hauptstr.", StreetKey: "hauptstr", HouseNumber: "1234", From: 1234, To: 1234}},
		{"Perleberger Str. 61a", AddressQuery{Street: "Perleberger Str.", StreetKey: "perlebergerstr", HouseNumber: "61A", From: 61, To: 61}},
		{"perleberger strasse 61 A", AddressQuery{Street: "perleberger strasse", StreetKey: "perlebergerstr", HouseNumber: "61A", From: 61, To: 61}},
		{"Perleberger Straße 61A", AddressQuery{Street: "Perleberger Straße", StreetKey: "perlebergerstr", HouseNumber: "61A", From: 61, To: 61}},
		{"Karl-Marx-Allee 1, 10178", AddressQuery{Street: "Karl-Marx-Allee", StreetKey: "karlmarxallee", HouseNumber: "1", From: 1, To: 1, Postcode: "10178"}},
		{"Am Zirkus 1, 01067 Dresden", AddressQuery{Street: "Am Zirkus", StreetKey: "amzirkus", HouseNumber: "1", From: 1, To: 1, Postcode: "01067", City: "Dresden"}},
	}
	for _, tt := range tests {
		got, err := ParseAddressQuery(tt.in)
		if err != nil {
			t.Errorf("ParseAddressQuery(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseAddressQuery(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseAddressQueryErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "Bitte geben Sie eine Adresse ein."},
		{" \t ", "Bitte geben Sie eine Adresse ein."},
		{strings.Repeat("Lang", 50) + " 1", "Die Adresse ist zu lang (höchstens 200 Zeichen)."},
		{"Lehrter Straße", "Bitte geben Sie eine Hausnummer an."},
		{"Lehrter Straße, 10557 Berlin", "Bitte geben Sie eine Hausnummer an."},
		{"Straße des 17. Juni", "Bitte geben Sie eine Hausnummer an."},
		{"53", "Bitte geben Sie eine Straße an."},
		{"10557 Berlin", "Bitte geben Sie eine Straße an."},
		{"--- 53", "Bitte geben Sie eine Straße an."},
		{"Lehrter Straße 53, 1055 Berlin", "Die Postleitzahl „1055“ ist ungültig; eine Postleitzahl hat fünf Ziffern."},
		{"Lehrter Straße 53, 105570", "Die Postleitzahl „105570“ ist ungültig; eine Postleitzahl hat fünf Ziffern."},
		{"Lehrter Straße 53, 00123", "Die Postleitzahl „00123“ ist ungültig; eine Postleitzahl hat fünf Ziffern."},
		{"Lehrter Straße 53 1055 Berlin", "Die Postleitzahl „1055“ ist ungültig; eine Postleitzahl hat fünf Ziffern."},
		{"10557, Lehrter Straße 53, 10115", "Bitte geben Sie nur eine Postleitzahl an."},
		{"Lehrter Straße 14-12a", "Die Hausnummer „14-12a“ ist ungültig."},
	}
	for _, tt := range tests {
		got, err := ParseAddressQuery(tt.in)
		if err == nil {
			t.Errorf("ParseAddressQuery(%q) = %+v, want error %q", tt.in, got, tt.msg)
			continue
		}
		if msg := errs.MessageOf(err); msg != tt.msg {
			t.Errorf("ParseAddressQuery(%q): message %q, want %q", tt.in, msg, tt.msg)
		}
		if k, f := errs.KindOf(err), errs.FieldOf(err); k != errs.Invalid || f != "address" {
			t.Errorf("ParseAddressQuery(%q): kind %v field %q, want invalid, address", tt.in, k, f)
		}
	}
	// 200 characters are fine, counted as characters, not bytes.
	if _, err := ParseAddressQuery(strings.Repeat("ä", 196) + " 1a"); err != nil {
		t.Errorf("200 characters: %v, want no error", err)
	}
}

// TestParseAddressQueryRealAddresses parses every address of the Berlin
// file as a user might type it and expects the register's own keys back.
func TestParseAddressQueryRealAddresses(t *testing.T) {
	n := 0
	for _, r := range loadBerlinRows(t) {
		number, err := HouseNumberKey(r.Number)
		if err != nil || StreetKey(r.Street) == "" || strings.Contains(r.Street, ",") {
			continue // not an address (one street is "Wattstraße, 12459 Berlin")
		}
		pc, _ := cleanPostcode(r.Postcode)
		inputs := []string{r.Street + " " + r.Number}
		if pc != "" {
			inputs = append(inputs, r.Street+" "+r.Number+", "+pc+" Berlin", pc+" Berlin, "+r.Street+" "+r.Number)
		}
		for _, in := range inputs {
			n++
			q, err := ParseAddressQuery(in)
			if err != nil {
				t.Errorf("ParseAddressQuery(%q): %v", in, err)
				continue
			}
			if q.StreetKey != StreetKey(r.Street) || q.HouseNumber != number || q.Postcode != "" && q.Postcode != pc {
				t.Errorf("ParseAddressQuery(%q) = %q %q %q, want %q %q %q", in, q.StreetKey, q.HouseNumber, q.Postcode, StreetKey(r.Street), number, pc)
			}
		}
	}
	t.Logf("%d real address texts parsed", n)
}

func FuzzParseAddressQuery(f *testing.F) {
	for _, s := range []string{"Perleberger Str. 61a", "10557 Berlin, Lehrter Straße 53", "Lehrter Straße 12 - 14 a, 10557", "Straße des 17. Juni 100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseAddressQuery(s)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid || errs.MessageOf(err) == "" {
				t.Fatalf("ParseAddressQuery(%q): %v (kind %v), want invalid with a message", s, err, errs.KindOf(err))
			}
			return
		}
		// Invalid UTF-8 is dropped before counting.
		if n := utf8.RuneCountInString(strings.TrimSpace(strings.ToValidUTF8(s, ""))); n > MaxAddressLength {
			t.Fatalf("accepted %d characters", n)
		}
		if q.StreetKey == "" || q.StreetKey != StreetKey(q.Street) || StreetKey(q.StreetKey) != q.StreetKey {
			t.Fatalf("ParseAddressQuery(%q): street %q key %q inconsistent", s, q.Street, q.StreetKey)
		}
		if k, err := HouseNumberKey(q.HouseNumber); err != nil || k != q.HouseNumber {
			t.Fatalf("ParseAddressQuery(%q): house number %q is not canonical (%q, %v)", s, q.HouseNumber, k, err)
		}
		if q.From > q.To || q.Postcode != "" && !validPostcode(q.Postcode) {
			t.Fatalf("ParseAddressQuery(%q) = %+v", s, q)
		}
		// The canonical form reads back to the same keys (if it is not
		// over the limit: it may add a space or two).
		if utf8.RuneCountInString(q.String()) > MaxAddressLength {
			return
		}
		again, err := ParseAddressQuery(q.String())
		if err != nil {
			t.Fatalf("ParseAddressQuery(%q) = %q, which does not parse: %v", s, q.String(), err)
		}
		if again.StreetKey != q.StreetKey || again.HouseNumber != q.HouseNumber || again.Postcode != q.Postcode {
			t.Fatalf("round trip of %q via %q: got %q %q %q, want %q %q %q", s, q.String(),
				again.StreetKey, again.HouseNumber, again.Postcode, q.StreetKey, q.HouseNumber, q.Postcode)
		}
	})
}
