package registers

import (
	"strings"
	"testing"
)

// n is a name as given on a form: "given|family".
func n(s string) Person {
	g, f, _ := strings.Cut(s, "|")
	return Person{GivenNames: g, FamilyName: f}
}

func TestNamesMatch(t *testing.T) {
	tests := []struct {
		a, b string
		want Match
	}{
		// Exact: the same text; only surrounding and repeated spaces differ.
		{"Anna|Müller", "Anna|Müller", Exact},
		{"  Anna   Maria |Müller ", "Anna Maria|Müller", Exact},
		{"|", "|", Exact},

		// Equivalent: the same name, written differently.
		{"Anna|Müller", "ANNA|MÜLLER", Equivalent},
		{"Anna|Müller", "anna|mueller", Equivalent},
		{"Anna|Müller", "Anna|Mu\u0308ller", Equivalent}, // ü decomposed
		{"Jürgen|Weiß", "Juergen|Weiss", Equivalent},
		{"Jürgen|Weiß", "JUERGEN|WEISS", Equivalent},
		{"Jürgen|Groß", "Jürgen|GROẞ", Equivalent}, // capital sharp s
		{"José|García", "Jose|Garcia", Equivalent},
		{"Ayşe|Yıldız", "Ayse|Yildiz", Equivalent},
		{"Ömer|Çelik", "Oemer|Celik", Equivalent},
		{"Łukasz|Wiśniewski", "Lukasz|Wisniewski", Equivalent},
		{"Søren|Jørgensen", "Soeren|Joergensen", Equivalent},
		{"Åsa|Ångström", "Aasa|Aangstroem", Equivalent},
		{"Milan|Đorđević", "Milan|Dordevic", Equivalent}, // ICAO: đ → d
		{"Thị Lan|Nguyễn", "Thi Lan|Nguyen", Equivalent},
		{"Anna|Müller-Lüdenscheidt", "Anna|Müller Lüdenscheidt", Equivalent},
		{"Anna|Müller-Lüdenscheidt", "Anna|Mueller-Luedenscheidt", Equivalent},
		{"Anna|Müller-Lüdenscheidt", "Anna|MüllerLüdenscheidt", Equivalent},
		{"Anna|Müller-Lüdenscheidt", "Anna|Müller – Lüdenscheidt", Equivalent},
		{"Karl-Heinz|Schmidt", "Karl Heinz|Schmidt", Equivalent},
		{"Karl-Heinz|Schmidt", "Karlheinz|Schmidt", Equivalent},
		{"Sophie|von Bülow", "Sophie|Bülow, von", Equivalent},
		{"Sophie|von Bülow", "Sophie|VON BÜLOW", Equivalent},
		{"Sophie|von Bülow", "Sophie|Bülow von", Equivalent},
		{"Sophie|von Bülow", "Sophie von|Bülow", Equivalent}, // particle typed into the given names
		{"Ursula|von der Leyen", "Ursula von der|Leyen", Equivalent},
		{"Ursula|von der Leyen", "Ursula|Leyen, von der", Equivalent},
		{"Daan|van der Meer", "Daan|Meer, van der", Equivalent},
		{"Daan|van der Meer", "Daan|Van Der Meer", Equivalent},
		{"Siobhán|O'Brien", "Siobhan|OBrien", Equivalent},
		{"Siobhán|O'Brien", "Siobhan|O Brien", Equivalent},
		{"Siobhán|O'Brien", "Siobhan|O’Brien", Equivalent}, // typographic apostrophe
		{"Omar|Al-Hassan", "Omar|Al Hassan", Equivalent},
		{"Omar|Al-Hassan", "Omar|Alhassan", Equivalent},
		{"Karl-Theodor|Freiherr von und zu Guttenberg", "Karl Theodor|Guttenberg, Freiherr von und zu", Equivalent},

		// Partial: perhaps the same person; a clerk decides.
		{"Anna Maria|Müller", "Anna|Müller", Partial},
		{"Anna Maria|Müller", "Maria|Müller", Partial},
		{"Anna Maria|Müller", "Maria Anna|Müller", Partial},
		{"Anna|Müller", "A.|Müller", Partial},
		{"Anna Maria|Müller", "A. Maria|Müller", Partial},
		{"Hans-Peter|Meyer", "Hans|Meyer", Partial},
		{"Anna|Müller-Lüdenscheidt", "Anna|Müller", Partial},
		{"Anna|Müller-Lüdenscheidt", "Anna|Lüdenscheidt", Partial},
		{"Anna|Müller-Lüdenscheidt", "Anna|Lüdenscheidt-Müller", Partial},
		{"Sophie|von Bülow", "Sophie|Bülow", Partial},
		{"Karl|Freiherr von und zu Egloffstein", "Karl|von und zu Egloffstein", Partial},
		{"Karl|Freiherr von und zu Egloffstein", "Karl|zu Egloffstein", Partial},
		{"Karl|Freiherr von und zu Egloffstein", "Karl|Egloffstein", Partial},
		{"Anna|Müller", "Anna|Muller", Partial}, // umlaut dots dropped
		{"Jürgen|Müller", "Jurgen|Muller", Partial},
		{"Milan|Đorđević", "Milan|Djordjevic", Partial},
		{"Thi Lan|Nguyen", "Nguyen|Thi Lan", Partial}, // given and family swapped
		{"Anna|Müller", "Anna Maria|Muller", Partial},

		// NoMatch: other names and typos.
		{"Anna|Meier", "Anna|Meyer", NoMatch},
		{"Anna|Müller", "Anna|Mülller", NoMatch},
		{"Anna|Schmidt", "Anna|Schmitt", NoMatch},
		{"Anna|Müller", "Anne|Müller", NoMatch},
		{"Anna Maria|Müller", "Anna Marie|Müller", NoMatch},
		{"Anna|Weiß", "Anna|Weis", NoMatch},
		{"Anna|Mueller", "Anna|Muller", NoMatch}, // a letter missing, not dots
		{"Sophie|von Bülow", "Sophie|van Bülow", NoMatch},
		{"Karlheinz|Schmidt", "Karl|Schmidt", NoMatch},
		{"Anna|Müller", "|Müller", NoMatch},
		{"Anna|Müller", "Anna|", NoMatch},
		{"Anna|Graf", "Anna|Graff", NoMatch},
		{"Minh|Le", "Minh|Lee", NoMatch},
		{"Anna|Müller-Lüdenscheidt", "Anna|Müller-Lüdenscheid", NoMatch},
		{"-|-", "|", NoMatch}, // no letters at all is no name
	}
	for _, tt := range tests {
		a, b := n(tt.a), n(tt.b)
		if got := NamesMatch(a, b); got != tt.want {
			t.Errorf("NamesMatch(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := NamesMatch(b, a); got != tt.want {
			t.Errorf("NamesMatch(%q, %q) = %v, want %v (reversed)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestMatchAutomatic(t *testing.T) {
	for m, want := range map[Match]bool{NoMatch: false, Partial: false, Equivalent: true, Exact: true} {
		if m.Automatic() != want {
			t.Errorf("%v.Automatic() = %v, want %v", m, !want, want)
		}
	}
	if NoMatch.String() != "no_match" || Match(9).String() != "match(9)" {
		t.Errorf("String: %q, %q", NoMatch.String(), Match(9).String())
	}
}

func TestNormalizeName(t *testing.T) {
	tests := map[string]string{
		"Müller-Lüdenscheidt": "mueller luedenscheidt",
		"Bülow, von":          "von buelow",
		"Leyen, von der":      "von der leyen",
		"  JÜRGEN  ":          "juergen",
		"Straße":              "strasse",
		"GROẞ":                "gross",
		"O'Brien":             "o brien",
		"Yıldız":              "yildiz",
		"Mu\u0308ller":        "mueller",
		"Đorđević":            "dordevic",
		"Ångström":            "aangstroem",
		"Nguyễn Thị":          "nguyen thi",
		"Müller, Hans":        "mueller hans", // not a particle after the comma: nothing moves
		"":                    "",
		"-.-":                 "",
	}
	for in, want := range tests {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzNamesMatch(f *testing.F) {
	f.Add("Anna Maria", "Müller-Lüdenscheidt", "Anna", "Mueller Luedenscheidt")
	f.Add("Sophie", "von Bülow", "Sophie von", "Bülow")
	f.Add("Thi Lan", "Nguyễn", "Nguyen", "Thi Lan")
	f.Add("Karl", "Freiherr von und zu Egloffstein", "Karl", "Egloffstein, von und zu")
	f.Add("A.", "Weiß", "Anna", "Weiss")
	f.Add("", "", "", "-")
	f.Fuzz(func(t *testing.T, ga, fa, gb, fb string) {
		a := Person{GivenNames: ga, FamilyName: fa}
		b := Person{GivenNames: gb, FamilyName: fb}
		m := NamesMatch(a, b)
		if m > Exact {
			t.Fatalf("NamesMatch = %d, out of range", m)
		}
		if r := NamesMatch(b, a); r != m {
			t.Fatalf("not symmetric: NamesMatch(a, b) = %v, NamesMatch(b, a) = %v for a=%q, b=%q", m, r, a, b)
		}
		if r := NamesMatch(a, a); r != Exact {
			t.Fatalf("NamesMatch(a, a) = %v for a=%q", r, a)
		}
		// Case never matters (when there is a name at all).
		if NormalizeName(ga) != "" && NormalizeName(fa) != "" {
			up := Person{GivenNames: strings.ToUpper(ga), FamilyName: strings.ToUpper(fa)}
			if r := NamesMatch(a, up); r < Equivalent {
				t.Fatalf("NamesMatch(a, upper(a)) = %v for a=%q", r, a)
			}
		}
		for _, s := range []string{ga, fa} {
			if k := NormalizeName(s); NormalizeName(k) != k {
				t.Fatalf("NormalizeName not idempotent: %q → %q → %q", s, k, NormalizeName(k))
			}
		}
	})
}

func BenchmarkNamesMatch(b *testing.B) {
	a := Person{GivenNames: "Anna Maria", FamilyName: "Müller-Lüdenscheidt"}
	c := Person{GivenNames: "Anna", FamilyName: "Mueller Luedenscheidt"}
	for b.Loop() {
		NamesMatch(a, c)
	}
}

func BenchmarkNamesMatchLong(b *testing.B) {
	long := strings.Repeat("Anna Maria-Luise von ", 3000) // 60 KB, as an attacker might post
	a := Person{GivenNames: long, FamilyName: long}
	c := Person{GivenNames: long + "x", FamilyName: "x" + long}
	for b.Loop() {
		NamesMatch(a, c)
	}
}

func TestPersonKey(t *testing.T) {
	same := [][2]string{
		{"Ursula von der", "Leyen"},
		{"Ursula", "von der Leyen"},
		{"Ursula", "Leyen, von der"},
		{"ursula", "VON DER LEYEN"},
		{"Ursula ", " von  der Leyen"},
	}
	want := PersonKey(same[0][0], same[0][1])
	for _, n := range same[1:] {
		if got := PersonKey(n[0], n[1]); got != want {
			t.Errorf("PersonKey(%q, %q) = %q, want %q", n[0], n[1], got, want)
		}
	}
	for _, n := range [][2]string{{"Ursula", "Leyen"}, {"Ursula von", "der Leyen X"}, {"Jürgen", "Müller"}} {
		if PersonKey(n[0], n[1]) == want {
			t.Errorf("PersonKey(%q, %q) equals von der Leyen's", n[0], n[1])
		}
	}
	if PersonKey("Jürgen", "Müller") != PersonKey("Juergen", "Mueller") {
		t.Error("ü and ue give different keys")
	}
	if PersonKey("Anna Maria", "Schmidt") == PersonKey("Anna", "Maria Schmidt") {
		t.Error("a given name moved to the family name gives the same key")
	}
}
