package registers

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func TestParsePlateSpellings(t *testing.T) {
	tests := []struct {
		in   string
		want string // canonical
	}{
		{"B-AB 1234", "B-AB 1234"},
		{"b ab 1234", "B-AB 1234"},
		{"B-AB-1234", "B-AB 1234"},
		{"B AB1234 E", "B-AB 1234E"},
		{"B-AB 1234E", "B-AB 1234E"},
		{"M-XY 12H", "M-XY 12H"},
		{"m-xy 12 h", "M-XY 12H"},
		{"  HH   -  AB   12  ", "HH-AB 12"},
		{"B–AB 1234", "B-AB 1234"},                            // en dash
		{"B—AB\u00a01234", "B-AB 1234"},                       // em dash, no-break space
		{"B\u2212AB 1", "B-AB 1"},                             // minus sign
		{"tü-ab 99", "TÜ-AB 99"},                              // umlaut district, lower case
		{"TU\u0308-AB 99", "TÜ-AB 99"},                        // Ü written as U + combining diaeresis
		{"HRO-A 123", "HRO-A 123"},                            // 3 + 1 + 3 = 7
		{"HRO-AB 123", "HRO-AB 123"},                          // 3 + 2 + 3 = 8
		{"HRO-A 1234", "HRO-A 1234"},                          // 3 + 1 + 4 = 8
		{"HHAB 12", "HH-AB 12"},                               // glued: only HH-AB is a district split (HHA is none)
		{"KA-B 1", "KA-B 1"},                                  // Karlsruhe
		{"DD-Q 4711", "DD-Q 4711"},                            //
		{"ÖHR-X 1", "ÖHR-X 1"},                                // umlaut at the start
		{"BÜS-A 1", "BÜS-A 1"},                                // Büsingen
		{"S-PQ 9999 E", "S-PQ 9999E"},                         //
		{"HB-AA 1H", "HB-AA 1H"},                              //
		{"b\tab\t1234", "B-AB 1234"},                          // tabs
		{"B-NS 88", "B-NS 88"},                                // banned only by some districts: left to the register
		{"F-x 5e", "F-X 5E"},                                  //
		{"K-AB1", "K-AB 1"},                                   //
		{"ab-cd 12", "AB-CD 12"},                              // Aschaffenburg
		{"LDS-ZZ 100", "LDS-ZZ 100"},                          // Dahme-Spreewald
		{"ſ-AB 1", "S-AB 1"},                                  // long s upper-cases to S
		{"B-AB 1234 " + strings.Repeat(" ", 20), "B-AB 1234"}, //
	}
	for _, tt := range tests {
		p, err := ParsePlate(tt.in)
		if err != nil {
			t.Errorf("ParsePlate(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("ParsePlate(%q) = %q, want %q", tt.in, got, tt.want)
		}
		again, err := ParsePlate(p.String())
		if err != nil || again != p {
			t.Errorf("ParsePlate(%q) = %+v, %v; want %+v", p.String(), again, err, p)
		}
	}
}

func TestParsePlateParts(t *testing.T) {
	p, err := ParsePlate("tü ab 1234 e")
	if err != nil {
		t.Fatal(err)
	}
	want := Plate{District: "TÜ", Letters: "AB", Number: 1234, Suffix: "E"}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if (Plate{}).String() != "" {
		t.Errorf("zero Plate String = %q, want empty", Plate{}.String())
	}
}

func TestParsePlateRejects(t *testing.T) {
	tests := []struct {
		in       string
		contains string // part of the German message
	}{
		{"", "Bitte geben Sie ein Kennzeichen ein"},
		{"   ", "Bitte geben Sie ein Kennzeichen ein"},
		{"B-AB", "fehlt die Zahl"},
		{"1234", "beginnt mit dem Unterscheidungszeichen"},
		{"QQ-AB 12", "„QQ“ gibt es nicht"},
		{"TUE-AB 12", "Meinten Sie „TÜ“"},
		{"B-ABC 12", "1 oder 2 Buchstaben"},
		{"B-ÄB 12", "Umlaut"},
		{"B-AB 12345", "höchstens 4 Ziffern"},
		{"B-AB 0123", "nicht mit 0"},
		{"B-AB 0", "nicht mit 0"},
		{"B-AB 12X", "nur noch E"},
		{"B-AB 12 EH", "nur noch E"},
		{"B-AB 12 34", "nur noch E"},
		{"HRO-AB 1234", "höchstens 8"}, // 3 + 2 + 4 = 9
		{"ABG-XY 1234", "höchstens 8"},
		{"B-SS 123", "nicht als Kennzeichen vergeben"},
		{"B-KZ 1", "nicht als Kennzeichen vergeben"},
		{"BAB 1234", "mehrdeutig"}, // B-AB or BA-B (Bamberg)
		{"B 1234", "fehlen die Erkennungsbuchstaben"},
		{"B-AB_1234", "kommt in Kennzeichen nicht vor"},
		{"B.AB 1234", "kommt in Kennzeichen nicht vor"},
		{"BD-AB 12", "Behördenfahrzeugen vorbehalten"},
		{"THW-A 12", "Behördenfahrzeugen vorbehalten"},
		{"Y-AB 123", "Behördenfahrzeugen vorbehalten"},
		{"B A B 12", "kein gültiges Kennzeichen"},
		{strings.Repeat("B", 65), "zu lang"},
		{"B-AB 12\x00", "kommt in Kennzeichen nicht vor"},
	}
	for _, tt := range tests {
		p, err := ParsePlate(tt.in)
		if err == nil {
			t.Errorf("ParsePlate(%q) = %q, want an error", tt.in, p)
			continue
		}
		if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "plate" {
			t.Errorf("ParsePlate(%q): error %v has kind %v field %q, want invalid, plate", tt.in, err, errs.KindOf(err), errs.FieldOf(err))
		}
		if msg := errs.MessageOf(err); !strings.Contains(msg, tt.contains) {
			t.Errorf("ParsePlate(%q) message %q, want it to contain %q", tt.in, msg, tt.contains)
		}
	}
}

func TestDistricts(t *testing.T) {
	if n := len(districts); n < 700 {
		t.Errorf("%d Unterscheidungszeichen, want the full list (over 700)", n)
	}
	for _, c := range strings.Fields("B M HH K F S D HB H L DD N FR TÜ KA HD MA BN MS AC BI HRO LDS P PM TF BAR OHV UM MOL LOS SPN EE OSL CB FF BRB KW ÖHR BÜS SÖM LÖ WÜ FÜ GÖ DÜW ERZ NOH") {
		if _, ok := DistrictName(c); !ok {
			t.Errorf("DistrictName(%q): unknown, want a district", c)
		}
	}
	for _, c := range strings.Fields("BD BP THW X Y NRW BWL") {
		if _, ok := DistrictName(c); ok {
			t.Errorf("DistrictName(%q): a district, want it marked as an authority's code", c)
		}
	}
	if name, _ := DistrictName("B"); !strings.Contains(name, "Berlin") {
		t.Errorf("DistrictName(B) = %q", name)
	}
	for c := range districts {
		n := utf8.RuneCountInString(c)
		if n < 1 || n > 3 {
			t.Errorf("district %q: %d letters", c, n)
		}
		for _, r := range c {
			if !(r >= 'A' && r <= 'Z' || r == 'Ä' || r == 'Ö' || r == 'Ü') {
				t.Errorf("district %q: letter %q", c, r)
			}
		}
	}
}

func FuzzParsePlate(f *testing.F) {
	for _, s := range []string{"B-AB 1234", "b ab 1234", "B-AB-1234", "B AB1234 E", "M-XY 12H", "TÜ–AB 1", "BAB1234", "HRO-AB 1234", "B-SS 1", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlate(s)
		if err != nil {
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "plate" || errs.MessageOf(err) == "" {
				t.Fatalf("ParsePlate(%q): error %v is not a plate field error with a message", s, err)
			}
			return
		}
		// The invariants of a Plate.
		if !isKnownDistrict(p.District) {
			t.Fatalf("ParsePlate(%q): district %q unknown", s, p.District)
		}
		if len(p.Letters) < 1 || len(p.Letters) > 2 || strings.IndexFunc(p.Letters, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
			t.Fatalf("ParsePlate(%q): letters %q", s, p.Letters)
		}
		if p.Number < 1 || p.Number > 9999 {
			t.Fatalf("ParsePlate(%q): number %d", s, p.Number)
		}
		if p.Suffix != "" && p.Suffix != "E" && p.Suffix != "H" {
			t.Fatalf("ParsePlate(%q): suffix %q", s, p.Suffix)
		}
		if n := utf8.RuneCountInString(p.District) + len(p.Letters) + len(strings.TrimRightFunc(p.String()[strings.LastIndexByte(p.String(), ' ')+1:], unicode.IsLetter)); n > MaxPlateChars {
			t.Fatalf("ParsePlate(%q) = %q: %d characters", s, p, n)
		}
		// The canonical form reads back to the same plate and is a fixed point.
		again, err := ParsePlate(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePlate(%q) = %+v, but ParsePlate(%q) = %+v, %v", s, p, p.String(), again, err)
		}
		if again.String() != p.String() {
			t.Fatalf("String not a fixed point: %q → %q", p.String(), again.String())
		}
	})
}
