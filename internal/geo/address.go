package geo

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// AddressQuery is an address as a citizen typed it, taken apart.
type AddressQuery struct {
	Street      string // as typed, spaces collapsed: "perleberger strasse"
	StreetKey   string // see StreetKey: "perlebergerstr"
	HouseNumber string // see HouseNumberKey: "61A", "12-14A"
	// From and To are the numeric part of the house number: equal for a
	// single number ("61A": 61, 61), the bounds of a range ("12-14": 12,
	// 14). For a sub-number ("12/1") both are 12.
	From, To int
	Postcode string // five digits, or "" when none was given
	City     string // as typed, or ""; not used for matching
}

// IsRange reports whether the house number names a range ("12-14").
func (q AddressQuery) IsRange() bool { return q.To > q.From }

// String formats the query canonically: "Perleberger Str. 61A, 10559 Berlin".
// ParseAddressQuery reads it back to the same keys.
func (q AddressQuery) String() string {
	s := q.Street + " " + q.HouseNumber
	if q.Postcode != "" || q.City != "" {
		s += "," + strings.TrimRight(" "+q.Postcode+" "+q.City, " ")
	}
	return s
}

// MaxAddressLength is the longest address text accepted, in characters. The
// longest German street names have about 40.
const MaxAddressLength = 200

var (
	// A part that is a postcode, optionally followed by a city: "10557
	// Berlin". Four or more digits are a postcode, mistyped if not five:
	// a house number does not stand after a comma of its own with that
	// many digits.
	rePostcodePart = regexp.MustCompile(`^(\d{4,})(?:\s+(\D*))?$`)
	// The same, glued to the end of a street part without a comma:
	// "Lehrter Straße 53 10557 Berlin". Four or six digits count only
	// when a city follows; alone they may be a house number.
	reTrailingPostcode = regexp.MustCompile(`^(.*\S)\s+(\d{4,6})(?:\s+(\pL[\pL\s.()/-]*))?$`)
	// And at the front: "10557 Lehrter Straße 53".
	reLeadingPostcode = regexp.MustCompile(`^(\d{4,6})\s+(\D.*)$`)
	// The house number at the end of a street part: a number with an
	// optional letter, and more numbers or letters after "-", "/" or ";"
	// for ranges, sub-numbers and lists: "61a", "12 - 14 a", "29a-c",
	// "12/1", "9;10;11". HouseNumberKey decides what is valid. The street
	// is the shortest prefix, so "Straße des 17. Juni 100" keeps its 17.
	reHouseTail = regexp.MustCompile(`^(.*?)\s*(\d{1,4}\s*[a-zA-Z]?(?:\s*[-/;]\s*(?:\d{1,4}\s*[a-zA-Z]?|[a-zA-Z]))*)$`)
	// Words for "number" that people type between street and number.
	reNumberWord = regexp.MustCompile(`(?i)(?:^|\s)(?:nr\.?|hausnr\.?|hausnummer)$`)
	// A part that is only a short house number: "Lehrter Straße, 53" or
	// the second half of a list, "Poststraße 4,5".
	reHouseOnly = regexp.MustCompile(`^\d{1,3}\s*[a-zA-Z]?$`)

	dashes = strings.NewReplacer("\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2212", "-", "\u00a0", " ")
)

func addressErr(format string, args ...any) error { return errs.Field("address", format, args...) }

// ParseAddressQuery reads free text such as "Lehrter Str. 53, 10557
// Berlin", "10557 Berlin, Lehrter Straße 53" or "lehrterstr 53" into its
// parts. Errors are errs.Invalid for the field "address", with a German
// message. It checks form only; whether the address exists is the
// Gazetteer's question.
func ParseAddressQuery(s string) (AddressQuery, error) {
	s = strings.TrimSpace(strings.ToValidUTF8(s, ""))
	if s == "" {
		return AddressQuery{}, addressErr("Bitte geben Sie eine Adresse ein.")
	}
	if utf8.RuneCountInString(s) > MaxAddressLength {
		return AddressQuery{}, addressErr("Die Adresse ist zu lang (höchstens %d Zeichen).", MaxAddressLength)
	}
	s = strings.Join(strings.Fields(dashes.Replace(s)), " ")

	var q AddressQuery
	// Split at commas, but a short number after a comma belongs to the
	// part before: it is the house number ("Lehrter Straße, 53") or the
	// rest of a list ("Poststraße 4,5", as OSM writes them).
	var parts []string
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
		case len(parts) > 0 && reHouseOnly.MatchString(p):
			if prev := parts[len(parts)-1]; hasHouseTail(prev) {
				parts[len(parts)-1] = prev + ";" + p
			} else {
				parts[len(parts)-1] = prev + " " + p
			}
		default:
			parts = append(parts, p)
		}
	}
	setPostcode := func(digits string) error {
		if q.Postcode != "" {
			return addressErr("Bitte geben Sie nur eine Postleitzahl an.")
		}
		if !validPostcode(digits) {
			return addressErr("Die Postleitzahl „%s“ ist ungültig; eine Postleitzahl hat fünf Ziffern.", digits)
		}
		q.Postcode = digits
		return nil
	}
	var rest []string // parts that are not a postcode
	for _, p := range parts {
		if m := rePostcodePart.FindStringSubmatch(p); m != nil {
			if err := setPostcode(m[1]); err != nil {
				return AddressQuery{}, err
			}
			if q.City == "" {
				q.City = strings.TrimSpace(m[2])
			}
			continue
		}
		rest = append(rest, p)
	}
	// Without a comma, a postcode may still be glued to either end of a
	// part: "Lehrter Straße 53 10557 Berlin", "10557 Lehrter Straße 53".
	for i := 0; i < len(rest) && q.Postcode == ""; i++ {
		if m := reTrailingPostcode.FindStringSubmatch(rest[i]); m != nil && (len(m[2]) == 5 || m[3] != "") {
			if err := setPostcode(m[2]); err != nil {
				return AddressQuery{}, err
			}
			rest[i], q.City = m[1], strings.TrimSpace(m[3])
		} else if m := reLeadingPostcode.FindStringSubmatch(rest[i]); m != nil {
			if err := setPostcode(m[1]); err != nil {
				return AddressQuery{}, err
			}
			rest[i] = m[2]
		}
	}

	// The street part is the first that ends in a house number with a
	// street before it.
	var street, number string
	streetAt, numberOnly := -1, false
	for i, p := range rest {
		if m := reHouseTail.FindStringSubmatch(p); m != nil {
			if StreetKey(m[1]) != "" {
				street, number, streetAt = m[1], m[2], i
				break
			}
			numberOnly = true
		}
	}
	if streetAt < 0 {
		if numberOnly || len(rest) == 0 {
			return AddressQuery{}, addressErr("Bitte geben Sie eine Straße an.")
		}
		return AddressQuery{}, addressErr("Bitte geben Sie eine Hausnummer an.")
	}
	for i, p := range rest {
		if i != streetAt && q.City == "" && !strings.ContainsAny(p, "0123456789") {
			q.City = p
		}
	}
	street = strings.TrimSpace(reNumberWord.ReplaceAllString(street, ""))
	q.Street = street
	q.StreetKey = StreetKey(street)
	// A "street" that is itself only a number word ("Nr Nr 5") would print
	// as "Nr 5", which reads back without a street: refuse it here.
	if q.StreetKey == "" || reNumberWord.MatchString(street) {
		return AddressQuery{}, addressErr("Bitte geben Sie eine Straße an.")
	}
	hn, ok := parseHouseNumber(number)
	if !ok {
		return AddressQuery{}, addressErr("Die Hausnummer „%s“ ist ungültig.", number)
	}
	q.HouseNumber, q.From, q.To = hn.key, hn.from, hn.to
	return q, nil
}

func hasHouseTail(p string) bool {
	m := reHouseTail.FindStringSubmatch(p)
	return m != nil && StreetKey(m[1]) != ""
}

// validPostcode: five digits; German postcodes start at 01.
func validPostcode(s string) bool {
	if len(s) != 5 || strings.HasPrefix(s, "00") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// StreetKey returns the canonical form of a street name, under which
// spellings a German user considers the same compare equal:
//
//   - case is folded, and umlauts to their transliteration (ä→ae, ö→oe,
//     ü→ue, ß→ss), so "Müllerstraße" = "Muellerstrasse"; other accents are
//     dropped (é→e), as in German addressing;
//   - everything but letters and digits is dropped, so "Karl-Marx-Allee" =
//     "Karl Marx Allee" and "Lehrter Str." = "Lehrterstr";
//   - "strasse" becomes "str" and "platz" becomes "pl", so the usual
//     abbreviations match, glued or not.
//
// The key is for comparison only, never for display. It maps spellings
// together, not typos; the Gazetteer's suggestions deal with those.
func StreetKey(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	var prev rune
	for _, r := range name {
		r = unicode.ToLower(r)
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == 'ä':
			b.WriteString("ae")
		case r == 'ö':
			b.WriteString("oe")
		case r == 'ü':
			b.WriteString("ue")
		case r == 'ß':
			b.WriteString("ss")
		case r == '\u0308': // combining diaeresis: "a\u0308" is ä written apart
			if prev == 'a' || prev == 'o' || prev == 'u' {
				b.WriteByte('e')
			}
		default:
			if f, ok := accentFold[r]; ok {
				b.WriteString(f)
			} else if r > unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				b.WriteRune(r)
			}
		}
		prev = r
	}
	key := b.String()
	// Loops, because a replacement can form the word anew
	// ("strasseasse"), and a key must be its own key.
	for strings.Contains(key, "strasse") {
		key = strings.ReplaceAll(key, "strasse", "str")
	}
	for strings.Contains(key, "platz") {
		key = strings.ReplaceAll(key, "platz", "pl")
	}
	return key
}

var accentFold = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'å': "a", 'ā': "a", 'ą': "a", 'æ': "ae",
	'ç': "c", 'ć': "c", 'č': "c", 'ď': "d", 'đ': "d", 'ð': "d",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ē': "e", 'ė': "e", 'ę': "e", 'ě': "e",
	'ì': "i", 'í': "i", 'î': "i", 'ï': "i", 'ī': "i", 'ł': "l", 'ľ': "l",
	'ñ': "n", 'ń': "n", 'ň': "n",
	'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ø': "o", 'ō': "o", 'ő': "o", 'œ': "oe",
	'ŕ': "r", 'ř': "r", 'ś': "s", 'š': "s", 'ş': "s", 'ť': "t", 'þ': "th",
	'ù': "u", 'ú': "u", 'û': "u", 'ū': "u", 'ů': "u", 'ű': "u",
	'ý': "y", 'ÿ': "y", 'ź': "z", 'ż': "z", 'ž': "z",
}

// HouseNumberKey returns the canonical form of a house number: the number
// without leading zeros and an upper-case letter ("61 a" → "61A"); a range
// with "-" ("12 – 14 a", "12 bis 14" → "12-14A", "29a-c" → "29A-29C", and
// OSM's downhill "65-64" → "64-65"); a list with ";" ("40, 41" → "40;41").
// A slash is a range when the second number is higher ("14/15", Berlin's
// way of writing 14-15) and otherwise a sub-number ("12/1", common in
// Baden-Württemberg), which is kept. Anything else — Roman staircase
// numbers ("6 II"), "Hof 1" — is rejected rather than guessed at. The
// error is errs.Invalid with a German message.
func HouseNumberKey(s string) (string, error) {
	hn, ok := parseHouseNumber(s)
	if !ok {
		return "", errs.Field("house_number", "Die Hausnummer „%s“ ist ungültig.", strings.TrimSpace(s))
	}
	return hn.key, nil
}

// houseNumber is a parsed house number. covers lists the numbers a
// building with this number stands on (for "12-14": 12, 13, 14); it is
// empty for a sub-number.
type houseNumber struct {
	key      string
	from, to int
	list     []int // for "40;41"
	sub      bool  // "12/1"
	suffixed bool  // a letter on any part
}

// maxRangeSpan bounds ranges: "1-99999" is a typo, not a building.
const maxRangeSpan = 100

type hnPart struct {
	n      int
	digits string
	letter byte // 0 or 'A'..'Z'
}

func parseHouseNumber(s string) (houseNumber, bool) {
	s = strings.TrimSpace(dashes.Replace(s))
	if len(s) > 64 {
		return houseNumber{}, false
	}
	s = strings.ReplaceAll(strings.ToLower(s), " bis ", "-")
	var parts []hnPart
	var sep byte
	i := 0
	skip := func() {
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	for {
		skip()
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		var p hnPart
		switch {
		case i-start > 4:
			// No German house number has five digits; five digits in
			// that column are a postcode in the wrong place.
			return houseNumber{}, false
		case i > start:
			p.digits = strings.TrimLeft(s[start:i], "0")
			if p.digits == "" {
				p.digits = "0"
			}
			p.n, _ = strconv.Atoi(p.digits)
		case len(parts) == 1 && parts[0].letter != 0 && sep != ';':
			// A letter range: "29a-c", "5A/B" is 29A to 29C, 5A to 5B.
			p.n, p.digits = parts[0].n, parts[0].digits
		default:
			return houseNumber{}, false
		}
		skip()
		if i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
			p.letter = s[i] - 'a' + 'A'
			i++
		} else if i == start {
			return houseNumber{}, false // neither digits nor a letter
		}
		parts = append(parts, p)
		skip()
		if i == len(s) {
			break
		}
		c := s[i]
		if c == ',' {
			c = ';'
		}
		if c != '-' && c != '/' && c != ';' || sep != 0 && c != sep {
			return houseNumber{}, false
		}
		sep = c
		i++
	}
	hn := houseNumber{from: parts[0].n, to: parts[0].n}
	for _, p := range parts {
		hn.suffixed = hn.suffixed || p.letter != 0
	}
	var b strings.Builder
	write := func(p hnPart) {
		b.WriteString(p.digits)
		if p.letter != 0 {
			b.WriteByte(p.letter)
		}
	}
	switch {
	case len(parts) == 1:
		write(parts[0])
	case sep == ';':
		for k, p := range parts {
			if k > 0 {
				b.WriteByte(';')
			}
			write(p)
			hn.list = append(hn.list, p.n)
		}
		if len(parts) > maxRangeSpan {
			return houseNumber{}, false
		}
		hn.from, hn.to = parts[0].n, parts[0].n
	case len(parts) != 2:
		return houseNumber{}, false
	case sep == '/' && parts[1].n <= parts[0].n && parts[1].letter == 0:
		write(parts[0])
		b.WriteByte('/')
		write(parts[1])
		hn.sub = true
	default: // a range
		a, z := parts[0], parts[1]
		if z.n < a.n && !hn.suffixed {
			// OSM has "65-64": a range written downhill.
			a, z = z, a
		}
		if z.n < a.n || z.n == a.n && z.letter <= a.letter || z.n-a.n > maxRangeSpan {
			return houseNumber{}, false
		}
		write(a)
		b.WriteByte('-')
		write(z)
		hn.from, hn.to = a.n, z.n
	}
	hn.key = b.String()
	return hn, true
}

// covers returns the numbers a building with this house number stands on:
// every number of a range — not only those of one parity, because Berlin
// numbers many streets up one side and back down the other
// (Hufeisennummerierung), so 12-14 can be 12, 13 and 14 — and every
// number of a list. A single or sub-number covers nothing beyond itself.
func (hn houseNumber) covers() []int {
	switch {
	case len(hn.list) > 0:
		return hn.list
	case hn.to > hn.from:
		out := make([]int, 0, hn.to-hn.from+1)
		for n := hn.from; n <= hn.to; n++ {
			out = append(out, n)
		}
		return out
	}
	return nil
}
