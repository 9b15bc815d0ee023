package registers

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Match says how well two names agree. The levels are ordered: a higher
// level is a closer match.
//
// What the parking service (Bewohnerparkausweis) makes of them:
//
//   - Exact and Equivalent are a match: the register check passes
//     automatically. Equivalent covers the ways one name is written
//     differently without being another name, which city systems fail on
//     and then send people to an appointment: case, umlauts and their
//     transliteration (Müller = Mueller), ß = ss, accents (José = Jose),
//     hyphens and spaces (Müller-Lüdenscheidt = Müller Lüdenscheidt),
//     the position of name particles ("von Bülow" = "Bülow, von", and a
//     "von" typed at the end of the given names).
//   - Partial is not a match for automation: a clerk reviews it. It is
//     what may well be the same person but may also be someone else: a
//     given name left out ("Anna" for "Anna Maria", "A." for "Anna"), one
//     part of a double family name, a particle left out ("Bülow" for "von
//     Bülow"), parts in another order, umlaut dots dropped ("Muller" for
//     "Müller"), given and family name swapped.
//   - NoMatch is everything else — in particular a typo: "Meier" and
//     "Meyer" are different names, and no distance measure decides that
//     silently.
type Match uint8

const (
	NoMatch    Match = iota // different names, or a typo
	Partial                 // perhaps the same person; a clerk decides
	Equivalent              // the same name, written differently
	Exact                   // the same text (apart from surrounding and repeated spaces)
)

func (m Match) String() string {
	switch m {
	case NoMatch:
		return "no_match"
	case Partial:
		return "partial"
	case Equivalent:
		return "equivalent"
	case Exact:
		return "exact"
	}
	return "match(" + strconv.Itoa(int(m)) + ")"
}

// Automatic reports whether m counts as a match without a clerk (Exact or
// Equivalent).
func (m Match) Automatic() bool { return m >= Equivalent }

// NamesMatch compares the names of two people (BirthDate is not looked
// at; a register compares it separately). It is symmetric, and every name
// matches itself Exact. See Match for what each level covers.
func NamesMatch(a, b Person) Match {
	if collapse(a.GivenNames) == collapse(b.GivenNames) && collapse(a.FamilyName) == collapse(b.FamilyName) {
		return Exact
	}
	pa, pb := parsePerson(a.GivenNames, a.FamilyName), parsePerson(b.GivenNames, b.FamilyName)
	m := min(givenMatch(pa.given, pb.given), familyMatch(pa.family, pb.family), Equivalent)
	if m < Partial {
		// Given and family name swapped, as happens with names whose
		// order differs by culture ("Nguyen Thi Lan"): a clerk looks.
		sa := parsePerson(a.FamilyName, a.GivenNames)
		sb := parsePerson(b.FamilyName, b.GivenNames)
		if equivalentPersons(sa, pb) || equivalentPersons(pa, sb) {
			m = Partial
		}
	}
	return m
}

func equivalentPersons(a, b parsedPerson) bool {
	return givenMatch(a.given, b.given) >= Equivalent && familyMatch(a.family, b.family) >= Equivalent
}

// NormalizeName returns the form of a name under which spellings that
// NamesMatch treats as Equivalent mostly compare equal: lower case,
// umlauts transliterated (ä → ae, ö → oe, ü → ue, ß → ss), other accents
// dropped (é → e, ł → l, ı → i), hyphens, apostrophes and other
// punctuation as single spaces, and particles written after a comma moved
// to the front ("Bülow, von" → "von buelow"). Transliteration follows ICAO
// Doc 9303 (the machine-readable zone of passports): å → aa, æ → ae,
// ø → oe, þ → th, đ → d.
//
// The result is for comparison and for pseudonymous keys, never for
// display. It does not reorder anything else, so NamesMatch knows more
// (particles in the given names, "Bülow von", glued and spaced words).
func NormalizeName(s string) string {
	toks := nameTokens(s)
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = t.t
	}
	return strings.Join(parts, " ")
}

// PersonKey is the comparison key of a person's names, for pseudonymous
// keys such as the parking service's person hash: NormalizeName of the
// given names and of the family name after the particles that end the
// given names moved to the family name, so "Ursula von der" / "Leyen"
// and "Ursula" / "von der Leyen" (and "Leyen, von der") have one key.
func PersonKey(given, family string) string {
	p := parsePerson(given, family)
	join := func(ts []nameToken) string {
		parts := make([]string, len(ts))
		for i, t := range ts {
			parts[i] = t.t
		}
		return strings.Join(parts, " ")
	}
	return join(p.given) + "\x00" + join(p.family)
}

// collapse trims and collapses white space: the only difference Exact
// forgives.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// nameToken is one word of a name.
type nameToken struct {
	t        string // transliterated: ä → ae
	s        string // stripped: ä → a (and dj → d); for Partial only
	particle bool   // a name particle or title ("von", "de", "Freiherr")
}

type parsedPerson struct {
	given, family []nameToken
}

// parsePerson tokenises both names and moves particles that stand at the
// end of the given names to the front of the family name: a form with
// "Ursula von der" / "Leyen" means "von der Leyen".
func parsePerson(given, family string) parsedPerson {
	g, f := nameTokens(given), nameTokens(family)
	cut := len(g)
	for cut > 0 && g[cut-1].particle {
		cut--
	}
	if cut > 0 && cut < len(g) {
		moved := append([]nameToken{}, g[cut:]...)
		f = append(moved, f...)
		g = g[:cut]
	}
	return parsedPerson{given: g, family: f}
}

// particles are the lower-case, transliterated name particles and titles
// that German registers keep as part of the family name (since 1919 titles
// of nobility are part of the name, Art. 109 WRV) and that people leave
// out, move or write after a comma.
var particles = map[string]bool{
	"von": true, "vom": true, "zu": true, "zum": true, "zur": true, "und": true,
	"van": true, "der": true, "den": true, "ten": true, "ter": true, "te": true,
	"de": true, "des": true, "du": true, "la": true, "le": true, "del": true, "della": true, "di": true,
	"da": true, "das": true, "do": true, "dos": true, "af": true, "av": true,
	"al": true, "el": true, "bin": true, "ibn": true,
	"freiherr": true, "freifrau": true, "freiin": true, "graf": true, "graefin": true,
	"prinz": true, "prinzessin": true, "fuerst": true, "fuerstin": true, "herzog": true, "herzogin": true,
	"baron": true, "baronin": true, "edler": true, "edle": true, "ritter": true,
}

// nameTokens splits a name into words. A word that stands alone between
// spaces and is a particle is marked as one — unless every word is, since
// then they are the name itself ("Le", "Graf"). Particles after a comma
// move to the front ("Bülow, von").
func nameTokens(s string) []nameToken {
	if i := strings.IndexByte(s, ','); i >= 0 {
		head, tail := s[:i], s[i+1:]
		if tt := tokenize(tail); len(tt) > 0 && allParticles(tt) {
			ht := tokenize(head)
			if len(ht) > 0 && !allParticles(ht) {
				return markParticles(append(tt, ht...))
			}
		}
	}
	return markParticles(tokenize(s))
}

func allParticles(toks []nameToken) bool {
	for _, t := range toks {
		if !t.particle {
			return false
		}
	}
	return true
}

// markParticles keeps the particle marks only if something else is left.
func markParticles(toks []nameToken) []nameToken {
	if allParticles(toks) {
		for i := range toks {
			toks[i].particle = false
		}
	}
	return toks
}

// tokenize folds s and splits it into words. A particle candidate is a
// word delimited by white space (or a comma): the "al" of "al-Hassan" is
// part of a compound name, not a particle.
func tokenize(s string) []nameToken {
	// All words go into one buffer per form, cut into tokens at the end:
	// two allocations instead of two per word.
	tb := make([]byte, 0, len(s)+8) // transliterated
	sb := make([]byte, 0, len(s)+8) // stripped
	type span struct {
		t0, t1, s0, s1 int
		alone          bool // the only word of its white-space chunk
	}
	var spans []span
	ts, ss, chunkStart := 0, 0, 0
	flush := func() {
		if len(tb) > ts {
			spans = append(spans, span{t0: ts, t1: len(tb), s0: ss, s1: len(sb)})
			ts, ss = len(tb), len(sb)
		}
	}
	endChunk := func() {
		flush()
		if len(spans)-chunkStart == 1 {
			spans[chunkStart].alone = true
		}
		chunkStart = len(spans)
	}
	var last byte // last ASCII letter of the current word, for a combining diaeresis
	for _, r := range s {
		f := unicode.ToLower(unicode.ToUpper(r))
		switch {
		case f >= 'a' && f <= 'z' || f >= '0' && f <= '9':
			tb, sb = append(tb, byte(f)), append(sb, byte(f))
			last = byte(f)
			continue
		case f == '\u0308': // combining diaeresis: "u\u0308" is ü written apart
			if len(tb) > ts && (last == 'a' || last == 'o' || last == 'u') {
				tb = append(tb, 'e')
			}
		case unicode.Is(unicode.Mn, f) || unicode.Is(unicode.Mc, f) || unicode.Is(unicode.Me, f):
			// other combining marks: accents, dropped like é → e
		case unicode.IsSpace(f) || f == ',' || f == utf8.RuneError:
			endChunk()
		default:
			if tr, ok := foldSpecial[f]; ok {
				tb, sb = append(tb, tr[0]...), append(sb, tr[1]...)
			} else if b, ok := foldAccent[f]; ok {
				tb, sb = append(tb, b), append(sb, b)
			} else if unicode.IsLetter(f) || unicode.IsDigit(f) {
				tb, sb = utf8.AppendRune(tb, f), utf8.AppendRune(sb, f)
			} else {
				flush() // hyphen, apostrophe, dot: a word boundary inside the chunk
			}
		}
		last = 0
	}
	endChunk()
	if len(spans) == 0 {
		return nil
	}
	T, S := string(tb), string(sb)
	toks := make([]nameToken, len(spans))
	for i, sp := range spans {
		t, st := T[sp.t0:sp.t1], S[sp.s0:sp.s1]
		if strings.Contains(st, "dj") {
			st = strings.ReplaceAll(st, "dj", "d") // Djordjević = Đorđević, loosely
		}
		toks[i] = nameToken{t: t, s: st, particle: sp.alone && particles[t]}
	}
	return toks
}

// foldSpecial transliterates letters that become more than their base
// letter (ICAO Doc 9303): [transliterated, stripped].
var foldSpecial = map[rune][2]string{
	'ä': {"ae", "a"}, 'ö': {"oe", "o"}, 'ü': {"ue", "u"}, 'å': {"aa", "a"},
	'ß': {"ss", "ss"}, 'æ': {"ae", "ae"}, 'œ': {"oe", "oe"}, 'ø': {"oe", "o"},
	'þ': {"th", "th"}, 'ð': {"d", "d"}, 'đ': {"d", "d"}, 'ł': {"l", "l"}, 'ħ': {"h", "h"},
	'ĳ': {"ij", "ij"}, 'ǆ': {"dz", "dz"}, 'ǉ': {"lj", "lj"}, 'ǌ': {"nj", "nj"}, 'ŀ': {"l", "l"},
}

// foldAccent maps lower-case Latin letters with diacritics (Latin-1,
// Extended-A/B, Extended Additional — Vietnamese among them) to their
// base letter. Built from the Unicode decompositions.
var foldAccent = func() map[rune]byte {
	groups := map[byte]string{
		'a': "àáâãāăąǎǟǡǻȁȃȧḁạảấầẩẫậắằẳẵặ",
		'b': "ḃḅḇ",
		'c': "çćĉċčḉ",
		'd': "ďḋḍḏḑḓ",
		'e': "èéêëēĕėęěȅȇȩḕḗḙḛḝẹẻẽếềểễệ",
		'f': "ḟ",
		'g': "ĝğġģǧǵḡ",
		'h': "ĥȟḣḥḧḩḫẖ",
		'i': "ìíîïĩīĭįǐȉȋḭḯỉị",
		'j': "ĵǰ",
		'k': "ķǩḱḳḵ",
		'l': "ĺļľḷḹḻḽ",
		'm': "ḿṁṃ",
		'n': "ñńņňǹṅṇṉṋ",
		'o': "òóôõōŏőơǒǫǭȍȏȫȭȯȱṍṏṑṓọỏốồổỗộớờởỡợ",
		'p': "ṕṗ",
		'r': "ŕŗřȑȓṙṛṝṟ",
		's': "śŝşšșṡṣṥṧṩ",
		't': "ţťțṫṭṯṱẗ",
		'u': "ùúûũūŭůűųưǔǖǘǚǜȕȗṳṵṷṹṻụủứừửữự",
		'v': "ṽṿ",
		'w': "ŵẁẃẅẇẉẘ",
		'x': "ẋẍ",
		'y': "ýÿŷȳẏẙỳỵỷỹ",
		'z': "źżžẑẓẕ",
	}
	m := make(map[rune]byte, 260)
	for base, letters := range groups {
		for _, r := range letters {
			m[r] = base
		}
	}
	return m
}()

// givenMatch compares given names.
func givenMatch(a, b []nameToken) Match {
	if len(a) == 0 || len(b) == 0 {
		return NoMatch
	}
	if sameText(a, b, false) {
		return Equivalent
	}
	if subsequence(a, b, givenEq) || subsequence(b, a, givenEq) ||
		sameMultiset(a, b) || sameText(a, b, true) {
		return Partial
	}
	return NoMatch
}

// familyMatch compares family names.
func familyMatch(a, b []nameToken) Match {
	if len(a) == 0 || len(b) == 0 {
		return NoMatch
	}
	ca, pa := split(a)
	cb, pb := split(b)
	if sameText(a, b, false) ||
		sameText(ca, cb, false) && sameText(pa, pb, false) && len(pa) == len(pb) {
		return Equivalent
	}
	if !particlesCompatible(pa, pb) {
		return NoMatch // "van Bülow" is not "von Bülow"
	}
	if subsequence(ca, cb, looseEq) || subsequence(cb, ca, looseEq) ||
		sameMultiset(ca, cb) || sameText(ca, cb, true) {
		return Partial
	}
	return NoMatch
}

// split separates the core words of a name from its particles, each in
// order.
func split(toks []nameToken) (core, parts []nameToken) {
	for _, t := range toks {
		if t.particle {
			parts = append(parts, t)
		} else {
			core = append(core, t)
		}
	}
	return core, parts
}

// particlesCompatible: one side's particles are all among the other's in
// order (including none at all: a particle left out).
func particlesCompatible(a, b []nameToken) bool {
	return len(a) == 0 || len(b) == 0 || subsequence(a, b, exactEq) || subsequence(b, a, exactEq)
}

// sameText reports whether the words of a and b, each run together,
// are the same text ("Müller-Lüdenscheidt" = "MüllerLüdenscheidt"),
// transliterated or stripped.
func sameText(a, b []nameToken, stripped bool) bool {
	word := func(t nameToken) string {
		if stripped {
			return t.s
		}
		return t.t
	}
	i, j := 0, 0 // word index
	var x, y string
	for {
		for x == "" && i < len(a) {
			x = word(a[i])
			i++
		}
		for y == "" && j < len(b) {
			y = word(b[j])
			j++
		}
		if x == "" || y == "" {
			return x == y
		}
		n := min(len(x), len(y))
		if x[:n] != y[:n] {
			return false
		}
		x, y = x[n:], y[n:]
	}
}

func exactEq(a, b nameToken) bool { return a.t == b.t }

// looseEq also takes words equal whose umlaut dots were dropped.
func looseEq(a, b nameToken) bool { return a.t == b.t || a.s == b.s }

// givenEq also takes an initial for a given name: "A." for "Anna".
func givenEq(a, b nameToken) bool {
	return looseEq(a, b) ||
		utf8.RuneCountInString(a.s) == 1 && strings.HasPrefix(b.s, a.s) ||
		utf8.RuneCountInString(b.s) == 1 && strings.HasPrefix(a.s, b.s)
}

// subsequence reports whether every word of a occurs in b in the same
// order (a non-empty a). Taking the earliest fitting word of b is optimal
// for any relation eq.
func subsequence(a, b []nameToken, eq func(x, y nameToken) bool) bool {
	if len(a) == 0 {
		return false
	}
	j := 0
	for _, x := range a {
		for j < len(b) && !eq(x, b[j]) {
			j++
		}
		if j == len(b) {
			return false
		}
		j++
	}
	return true
}

// sameMultiset reports whether a and b have the same words in another
// order ("Lüdenscheidt-Müller"), comparing transliterated or stripped
// forms — equality relations, so the comparison is symmetric.
func sameMultiset(a, b []nameToken) bool {
	if len(a) != len(b) || len(a) < 2 {
		return false
	}
	return sortedKey(a, false) == sortedKey(b, false) || sortedKey(a, true) == sortedKey(b, true)
}

func sortedKey(toks []nameToken, stripped bool) string {
	keys := make([]string, len(toks))
	for i, t := range toks {
		keys[i] = t.t
		if stripped {
			keys[i] = t.s
		}
	}
	slices.Sort(keys)
	return strings.Join(keys, "\x00")
}
