package registers

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Plate is a German licence plate (amtliches Kennzeichen) under the
// Fahrzeug-Zulassungsverordnung (FZV): the Unterscheidungszeichen of the
// registration district, then the Erkennungsnummer of one or two letters
// and a number, optionally followed by E (Elektrofahrzeug, § 9a EmoG/FZV)
// or H (Oldtimer, § 2 Nr. 22 FZV).
//
// Plates of federal and state authorities (BD, THW, NRW …) and of the
// armed forces (X, Y), whose Erkennungsnummer is digits only, are not
// Plates in this sense: ParsePlate rejects them.
type Plate struct {
	District string // Unterscheidungszeichen: 1–3 letters, may contain Ä, Ö, Ü, e.g. "B", "TÜ"
	Letters  string // Erkennungsbuchstaben: 1–2 letters A–Z
	Number   int    // 1–9999, written without leading zeros
	Suffix   string // "", "E" (electric) or "H" (historic)
}

// String returns the canonical spelling "B-AB 1234E": a hyphen between the
// Unterscheidungszeichen and the letters, a space before the number, the
// suffix glued to the number — as printed on the plate, with the hyphen
// standing for the seals. This is the form to store, compare and show;
// ParsePlate reads it back to the same Plate. The zero Plate is "".
func (p Plate) String() string {
	if p.District == "" {
		return ""
	}
	return p.District + "-" + p.Letters + " " + strconv.Itoa(p.Number) + p.Suffix
}

// MaxPlateChars is the most characters a plate may have, separators and
// the E/H suffix not counted (FZV Anlage 4).
const MaxPlateChars = 8

// maxPlateInput bounds what ParsePlate reads: even generous spacing does
// not make a plate longer than this.
const maxPlateInput = 64

// forbiddenLetters are Erkennungsbuchstaben that no registration office
// assigns because they recall Nazi organisations (FZV § 8 Abs. 1: no
// combinations against public morals). Combinations banned only by some
// districts (e.g. "NS", "IS") are left to the vehicle register.
var forbiddenLetters = map[string]bool{"HJ": true, "KZ": true, "SA": true, "SS": true}

// unterscheidungszeichen is the list of district codes, see the header of
// the file for its source and how to keep it current.
//
//go:embed unterscheidungszeichen.tsv
var unterscheidungszeichenTSV string

type district struct {
	name     string
	official bool // an authority's code with its own plate format
}

var districts = parseDistricts(unterscheidungszeichenTSV)

func parseDistricts(tsv string) map[string]district {
	m := make(map[string]district, 800)
	for line := range strings.SplitSeq(tsv, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 || utf8.RuneCountInString(f[0]) > 3 {
			panic("registers: bad line in unterscheidungszeichen.tsv: " + line) // embedded: caught by every test run
		}
		m[f[0]] = district{name: f[1], official: len(f) > 2 && f[2] == "behörde"}
	}
	return m
}

// DistrictName returns the registration district of an Unterscheidungszeichen
// ("TÜ" → "Landkreis Tübingen") and whether the code is one of a district.
func DistrictName(code string) (string, bool) {
	d, ok := districts[code]
	if !ok || d.official {
		return "", false
	}
	return d.name, true
}

func plateErr(format string, args ...any) error { return errs.Field("plate", format, args...) }

// plateGroup is a run of letters or of digits in what a user typed.
type plateGroup struct {
	text   string
	digits bool
}

// ParsePlate reads a licence plate as people type it: "B-AB 1234",
// "b ab 1234", "B-AB-1234", "B AB1234 E", "m–xy 12h" (any case, extra
// spaces, hyphens or dashes as separators). Without a separator between
// Unterscheidungszeichen and letters ("BAB1234") it accepts the plate only
// when exactly one reading names a real district; "BAB1234" could be B-AB
// or BA-B (Bamberg) and is rejected with a request for the hyphen.
//
// It checks the form (FZV): a known Unterscheidungszeichen, one or two
// letters, a number of one to four digits without leading zero, at most
// MaxPlateChars characters, E or H as the only suffix. Whether the plate
// is assigned to a vehicle is the vehicle register's question. Errors are
// errs.Invalid for the field "plate", with a German message.
func ParsePlate(s string) (Plate, error) {
	if len(s) > maxPlateInput {
		return Plate{}, plateErr("Das Kennzeichen ist zu lang.")
	}
	s = strings.TrimSpace(strings.ToValidUTF8(s, ""))
	if s == "" {
		return Plate{}, plateErr("Bitte geben Sie ein Kennzeichen ein.")
	}
	groups, err := plateGroups(s)
	if err != nil {
		return Plate{}, err
	}
	pattern := make([]byte, len(groups))
	for i, g := range groups {
		pattern[i] = 'L'
		if g.digits {
			pattern[i] = 'D'
		}
	}
	var suffix string
	switch p := string(pattern); p {
	case "LLDL", "LDL":
		suffix = groups[len(groups)-1].text
		groups = groups[:len(groups)-1]
	case "LLD", "LD":
	default:
		switch {
		case !strings.Contains(p, "D"):
			return Plate{}, plateErr("Am Ende des Kennzeichens fehlt die Zahl (1 bis 4 Ziffern), z. B. „B-AB 1234“.")
		case p[0] == 'D':
			return Plate{}, plateErr("Ein Kennzeichen beginnt mit dem Unterscheidungszeichen (z. B. „B“ für Berlin), nicht mit einer Zahl.")
		case strings.HasSuffix(p, "DLL") || strings.HasSuffix(p, "DD") || strings.Count(p, "D") > 1:
			return Plate{}, plateErr("Nach der Zahl darf nur noch E (Elektrofahrzeug) oder H (Oldtimer) stehen.")
		}
		return Plate{}, plateErr("„%s“ ist kein gültiges Kennzeichen; es hat die Form „B-AB 1234“.", s)
	}
	number := groups[len(groups)-1].text
	if len(groups) == 3 {
		return buildPlate(groups[0].text, groups[1].text, number, suffix)
	}

	// District and letters written together: try every split.
	run := []rune(groups[0].text)
	var found []Plate
	var firstErr error
	for k := 1; k <= 3 && k < len(run); k++ {
		if n := len(run) - k; n > 2 {
			continue
		}
		p, err := buildPlate(string(run[:k]), string(run[k:]), number, suffix)
		if err == nil {
			found = append(found, p)
		} else if firstErr == nil || isKnownDistrict(string(run[:k])) {
			firstErr = err
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		var alts []string
		for _, p := range found {
			alts = append(alts, p.District+"-"+p.Letters)
		}
		return Plate{}, plateErr("„%s“ ist mehrdeutig (%s). Bitte schreiben Sie einen Bindestrich nach dem Unterscheidungszeichen, z. B. „%s“.",
			s, strings.Join(alts, " oder "), found[0].String())
	case len(run) <= 3 && isKnownDistrict(string(run)):
		return Plate{}, plateErr("Nach dem Unterscheidungszeichen „%s“ fehlen die Erkennungsbuchstaben (1 oder 2 Buchstaben).", string(run))
	case firstErr != nil:
		return Plate{}, firstErr
	}
	return Plate{}, plateErr("„%s“ ist kein gültiges Kennzeichen; es hat die Form „B-AB 1234“.", s)
}

// plateGroups splits s into runs of letters and digits, upper-cased.
// Spaces, hyphens and dashes separate; anything else is an error.
func plateGroups(s string) ([]plateGroup, error) {
	var groups []plateGroup
	var cur []rune
	curDigits := false
	flush := func() {
		if len(cur) > 0 {
			groups = append(groups, plateGroup{text: string(cur), digits: curDigits})
			cur = cur[:0]
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || r == '-' || unicode.Is(unicode.Pd, r) || r == '\u2212':
			flush()
		case r >= '0' && r <= '9':
			if !curDigits {
				flush()
			}
			cur, curDigits = append(cur, r), true
		case r == '\u0308' && !curDigits && len(cur) > 0 && strings.ContainsRune("AOU", cur[len(cur)-1]):
			// A combining diaeresis: "U\u0308" is Ü written apart.
			cur[len(cur)-1] = withDiaeresis(cur[len(cur)-1])
		default:
			u := unicode.ToUpper(r)
			if !(u >= 'A' && u <= 'Z' || u == 'Ä' || u == 'Ö' || u == 'Ü') {
				return nil, plateErr("Das Zeichen „%s“ kommt in Kennzeichen nicht vor; erlaubt sind Buchstaben, Ziffern, Bindestrich und Leerzeichen.", printable(r))
			}
			if curDigits {
				flush()
			}
			cur, curDigits = append(cur, u), false
		}
	}
	flush()
	return groups, nil
}

func withDiaeresis(r rune) rune {
	switch r {
	case 'A':
		return 'Ä'
	case 'O':
		return 'Ö'
	}
	return 'Ü'
}

func printable(r rune) string {
	if unicode.IsPrint(r) && r != utf8.RuneError {
		return string(r)
	}
	return fmt.Sprintf("U+%04X", r)
}

func isKnownDistrict(code string) bool {
	d, ok := districts[code]
	return ok && !d.official
}

// buildPlate checks the parts of a plate (all upper case) and assembles it.
func buildPlate(dist, letters, digits, suffix string) (Plate, error) {
	d, ok := districts[dist]
	switch {
	case !ok:
		return Plate{}, unknownDistrict(dist)
	case d.official:
		return Plate{}, plateErr("Das Unterscheidungszeichen „%s“ (%s) ist Behördenfahrzeugen vorbehalten; deren Kennzeichen werden hier nicht angenommen.", dist, d.name)
	}
	if len(letters) < 1 || len(letters) > 2 || strings.ContainsAny(letters, "ÄÖÜ") {
		if strings.ContainsAny(letters, "ÄÖÜ") {
			return Plate{}, plateErr("Die Erkennungsbuchstaben „%s“ enthalten einen Umlaut; Umlaute gibt es nur im Unterscheidungszeichen.", letters)
		}
		return Plate{}, plateErr("Nach dem Unterscheidungszeichen „%s“ stehen 1 oder 2 Buchstaben, nicht „%s“.", dist, letters)
	}
	if forbiddenLetters[letters] {
		return Plate{}, plateErr("Die Buchstabenfolge „%s“ wird nicht als Kennzeichen vergeben.", letters)
	}
	if len(digits) > 4 {
		return Plate{}, plateErr("Die Zahl eines Kennzeichens hat höchstens 4 Ziffern, nicht %d.", len(digits))
	}
	if digits[0] == '0' {
		return Plate{}, plateErr("Die Zahl eines Kennzeichens beginnt nicht mit 0.")
	}
	n, _ := strconv.Atoi(digits) // 1–4 ASCII digits: cannot fail
	if suffix != "" && suffix != "E" && suffix != "H" {
		return Plate{}, plateErr("Nach der Zahl darf nur noch E (Elektrofahrzeug) oder H (Oldtimer) stehen, nicht „%s“.", suffix)
	}
	if c := utf8.RuneCountInString(dist) + len(letters) + len(digits); c > MaxPlateChars {
		return Plate{}, plateErr("„%s-%s %s“ hat %d Zeichen; ein Kennzeichen hat höchstens %d (ohne Bindestrich, Leerzeichen und E/H).", dist, letters, digits, c, MaxPlateChars)
	}
	return Plate{District: dist, Letters: letters, Number: n, Suffix: suffix}, nil
}

// unknownDistrict explains an unknown code and suggests the umlaut
// spelling when that is one ("TUE" → "TÜ").
func unknownDistrict(code string) error {
	if alt := strings.NewReplacer("AE", "Ä", "OE", "Ö", "UE", "Ü").Replace(code); alt != code && isKnownDistrict(alt) {
		return plateErr("Das Unterscheidungszeichen „%s“ gibt es nicht. Meinten Sie „%s“?", code, alt)
	}
	return plateErr("Das Unterscheidungszeichen „%s“ gibt es nicht.", code)
}
