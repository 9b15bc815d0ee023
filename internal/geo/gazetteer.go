package geo

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MatchKind says how an address query was answered.
type MatchKind uint8

const (
	// NoMatch: no address fits; Match.Suggestions has the closest ones.
	NoMatch MatchKind = iota
	// ExactMatch: exactly one address has this street, house number and,
	// if given, postcode.
	ExactMatch
	// RangeMatch: the query and the register spell the building
	// differently — the query's number lies in an address's range ("40" in
	// "40-41") or the query's range meets addresses ("12-14" finds 12 and
	// 14). All addresses found share one postcode (or have none); Found
	// names the building they make up.
	RangeMatch
	// Ambiguous: the candidates lie under several postcodes and the query
	// gave none (Berlin has many streets of the same name). The caller must
	// ask; the Gazetteer never guesses.
	Ambiguous
)

var matchKindNames = [...]string{NoMatch: "no_match", ExactMatch: "exact", RangeMatch: "range", Ambiguous: "ambiguous"}

func (k MatchKind) String() string {
	if int(k) < len(matchKindNames) {
		return matchKindNames[k]
	}
	return "unknown"
}

// Match is the Gazetteer's answer.
type Match struct {
	Kind MatchKind
	// Addresses found, ordered by house number and postcode: one for
	// ExactMatch, one or more for RangeMatch, every candidate for Ambiguous.
	Addresses []Address
	// Suggestions, for NoMatch only: up to MaxSuggestions addresses close to
	// what was asked, best first — the street and number asked for under
	// another postcode (or none) when the query's postcode fits none of
	// them, then on the same street with the nearest house numbers if the
	// street exists, else on similarly spelled streets.
	Suggestions []Address
}

// Unique returns the address when the match names exactly one.
func (m Match) Unique() (Address, bool) {
	if (m.Kind == ExactMatch || m.Kind == RangeMatch) && len(m.Addresses) == 1 {
		return m.Addresses[0], true
	}
	return Address{}, false
}

// Found returns what an ExactMatch or RangeMatch names: the one address
// found, or, when a range query meets several addresses under one postcode
// ("Lehrter Str. 52-54" finds 52, 53 and 54), the building they make up.
// That building has the street and postcode of the first address, the
// house numbers spanned ("52-54") and the first address's coordinates: a
// real address point of the register, where a centroid could fall between
// the buildings or across a zone border. Its district is the addresses'
// common one, or empty.
func (m Match) Found() (Address, bool) {
	if m.Kind != ExactMatch && m.Kind != RangeMatch || len(m.Addresses) == 0 {
		return Address{}, false
	}
	a := m.Addresses[0]
	if len(m.Addresses) == 1 {
		return a, true
	}
	lo, hi := math.MaxInt, math.MinInt
	numbers := make([]string, len(m.Addresses))
	for i, b := range m.Addresses {
		if hn, ok := parseHouseNumber(b.HouseNumber); ok {
			lo, hi = min(lo, hn.from), max(hi, hn.to)
		}
		numbers[i] = b.HouseNumber
		if b.District != a.District {
			a.District = ""
		}
	}
	if lo < hi {
		a.HouseNumber = strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
	} else {
		a.HouseNumber = strings.Join(numbers, ", ") // "12, 12A": no span to name
	}
	return a, true
}

// MaxSuggestions is how many suggestions a NoMatch carries at most.
const MaxSuggestions = 5

// sameAddressMetres: an address without postcode that lies this close to
// the same street and number with a postcode is the same address recorded
// twice (OSM often has the building and an entrance node). Same-named
// streets in different districts are kilometres apart.
const sameAddressMetres = 150

// Gazetteer finds addresses of one municipality's register. It is built
// once per snapshot and is safe for concurrent use.
//
// Exact lookups are a map access. Suggestions for a misspelt street use a
// trigram index over the distinct street keys, ranked by edit distance;
// they cost more but stay bounded by the number of streets sharing a
// trigram with the query.
type Gazetteer struct {
	addrs   []Address
	numbers []houseNumber
	exact   map[gazKey][]int32 // sorted by postcode
	streets map[string]int32
	street  []gazStreet
	tri     map[[3]byte][]int32 // trigram → street indices, ascending
}

type gazKey struct{ street, number string }

type gazStreet struct {
	key   string
	addrs []int32         // sorted by number, letter, postcode
	cover map[int][]int32 // number → addresses whose range or list includes it
}

// NewGazetteer indexes addrs. Addresses whose house number HouseNumberKey
// rejects are left out (ParseAddressesCSV does not produce them); repeated
// addresses (same street key, number key and postcode) are kept once; an
// address without postcode is dropped when the same street and number lie
// within sameAddressMetres under a postcode.
func NewGazetteer(addrs []Address) *Gazetteer {
	g := &Gazetteer{
		exact:   make(map[gazKey][]int32, len(addrs)),
		streets: map[string]int32{},
		tri:     map[[3]byte][]int32{},
	}
	type entry struct {
		a  Address
		hn houseNumber
		sk string
	}
	groups := map[gazKey][]entry{}
	var order []gazKey
	for _, a := range addrs {
		hn, ok := parseHouseNumber(a.HouseNumber)
		sk := StreetKey(a.Street)
		if !ok || sk == "" {
			continue
		}
		k := gazKey{sk, hn.key}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		dup := false
		for _, e := range groups[k] {
			dup = dup || e.a.Postcode == a.Postcode
		}
		if !dup {
			groups[k] = append(groups[k], entry{a, hn, sk})
		}
	}
	for _, k := range order {
		es := groups[k]
		for _, e := range es {
			if e.a.Postcode == "" && slices.ContainsFunc(es, func(o entry) bool {
				return o.a.Postcode != "" && metres(o.a.Point, e.a.Point) <= sameAddressMetres
			}) {
				continue
			}
			i := int32(len(g.addrs))
			g.addrs = append(g.addrs, e.a)
			g.numbers = append(g.numbers, e.hn)
			g.exact[k] = append(g.exact[k], i)
			si, ok := g.streets[e.sk]
			if !ok {
				si = int32(len(g.street))
				g.streets[e.sk] = si
				g.street = append(g.street, gazStreet{key: e.sk})
			}
			s := &g.street[si]
			s.addrs = append(s.addrs, i)
			for _, n := range e.hn.covers() {
				if s.cover == nil {
					s.cover = map[int][]int32{}
				}
				s.cover[n] = append(s.cover[n], i)
			}
		}
	}
	byPostcode := func(a, b int32) int { return cmp.Compare(g.addrs[a].Postcode, g.addrs[b].Postcode) }
	for _, idx := range g.exact {
		slices.SortFunc(idx, byPostcode)
	}
	for si := range g.street {
		s := &g.street[si]
		slices.SortFunc(s.addrs, g.byNumber)
		for _, idx := range s.cover {
			slices.SortFunc(idx, g.byNumber)
		}
		for _, t := range trigrams(s.key) {
			if l := g.tri[t]; len(l) == 0 || l[len(l)-1] != int32(si) {
				g.tri[t] = append(l, int32(si))
			}
		}
	}
	return g
}

// byNumber orders addresses along a street.
func (g *Gazetteer) byNumber(a, b int32) int {
	ha, hb := &g.numbers[a], &g.numbers[b]
	return cmp.Or(
		cmp.Compare(ha.from, hb.from),
		cmp.Compare(ha.to, hb.to),
		strings.Compare(ha.key, hb.key),
		strings.Compare(g.addrs[a].Postcode, g.addrs[b].Postcode),
	)
}

// Len returns the number of addresses indexed.
func (g *Gazetteer) Len() int { return len(g.addrs) }

// Match looks q up. Only a query without street key or house number is an
// error (errs.Invalid); not finding the address is a NoMatch with
// suggestions, because the caller shows those rather than an error page.
func (g *Gazetteer) Match(q AddressQuery) (Match, error) {
	if q.StreetKey == "" {
		return Match{}, addressErr("Bitte geben Sie eine Straße an.")
	}
	if q.HouseNumber == "" {
		return Match{}, addressErr("Bitte geben Sie eine Hausnummer an.")
	}
	if idx := g.withPostcode(g.exact[gazKey{q.StreetKey, q.HouseNumber}], q.Postcode); len(idx) > 0 {
		return g.answer(ExactMatch, idx), nil
	}
	if si, ok := g.streets[q.StreetKey]; ok {
		if idx := g.withPostcode(g.inRange(&g.street[si], q), q.Postcode); len(idx) > 0 {
			return g.answer(RangeMatch, idx), nil
		}
	}
	return Match{Kind: NoMatch, Suggestions: g.suggest(q)}, nil
}

// withPostcode keeps the candidates under the query's postcode; no
// postcode in the query keeps all. A candidate without postcode is not
// kept for a query with one: it may lie anywhere in the municipality
// ("Alte Schönhauser Straße 8" without postcode is in Mitte, not in
// 14199 Schmargendorf), and the Gazetteer never guesses. Match then offers
// it as a suggestion. (A postcode-less duplicate close to its postcoded
// twin was merged into that one by NewGazetteer, so it is found.)
func (g *Gazetteer) withPostcode(idx []int32, pc string) []int32 {
	if pc == "" || len(idx) == 0 {
		return idx
	}
	var same []int32
	for _, i := range idx {
		if g.addrs[i].Postcode == pc {
			same = append(same, i)
		}
	}
	return same
}

// inRange finds the addresses a query names without spelling them the
// same way: a plain number inside an address's range or list, or a range
// query meeting addresses (singles, ranges, lists — not sub-numbers).
func (g *Gazetteer) inRange(s *gazStreet, q AddressQuery) []int32 {
	if !q.IsRange() {
		if hn, ok := parseHouseNumber(q.HouseNumber); ok && !hn.suffixed && !hn.sub && len(hn.list) == 0 {
			return s.cover[q.From]
		}
		return nil
	}
	var out []int32
	for _, i := range s.addrs {
		hn := &g.numbers[i]
		switch {
		case hn.sub:
		case len(hn.list) > 0:
			if slices.ContainsFunc(hn.list, func(n int) bool { return n >= q.From && n <= q.To }) {
				out = append(out, i)
			}
		case hn.from <= q.To && hn.to >= q.From:
			out = append(out, i)
		}
	}
	return out
}

func (g *Gazetteer) answer(kind MatchKind, idx []int32) Match {
	m := Match{Kind: kind, Addresses: make([]Address, len(idx))}
	for k, i := range idx {
		m.Addresses[k] = g.addrs[i]
		if m.Addresses[k].Postcode != m.Addresses[0].Postcode {
			m.Kind = Ambiguous
		}
	}
	return m
}

// suggest returns up to MaxSuggestions addresses close to q.
func (g *Gazetteer) suggest(q AddressQuery) []Address {
	var out []Address
	seen := map[int32]bool{}
	add := func(i int32) {
		if len(out) < MaxSuggestions && !seen[i] {
			seen[i] = true
			out = append(out, g.addrs[i])
		}
	}
	// The right street and number under another postcode: the postcode
	// was probably mistyped.
	for _, i := range g.exact[gazKey{q.StreetKey, q.HouseNumber}] {
		add(i)
	}
	if si, ok := g.streets[q.StreetKey]; ok {
		for _, i := range g.nearestNumbers(&g.street[si], q, MaxSuggestions) {
			add(i)
		}
		return out
	}
	for _, si := range g.similarStreets(q.StreetKey, MaxSuggestions) {
		if near := g.nearestNumbers(&g.street[si], q, 1); len(near) > 0 {
			add(near[0])
		}
	}
	return out
}

// nearestNumbers returns up to n addresses of s by closeness of their
// number to the query's, preferring the query's postcode, and along the
// street on ties. n is small, so a top-n list beats sorting the street.
func (g *Gazetteer) nearestNumbers(s *gazStreet, q AddressQuery, n int) []int32 {
	rank := func(i int32) int {
		hn := &g.numbers[i]
		d := 0
		switch {
		case q.To < hn.from:
			d = hn.from - q.To
		case q.From > hn.to:
			d = q.From - hn.to
		}
		if q.Postcode != "" && g.addrs[i].Postcode != q.Postcode {
			d += 1 << 30 // after every address under the right postcode
		}
		return d
	}
	type ranked struct {
		i    int32
		rank int
	}
	best := make([]ranked, 0, n+1)
	for _, i := range s.addrs {
		r := ranked{i, rank(i)}
		k := len(best)
		for k > 0 && best[k-1].rank > r.rank {
			k--
		}
		if k < n {
			best = slices.Insert(best, k, r)
			best = best[:min(len(best), n)]
		}
	}
	out := make([]int32, len(best))
	for k, b := range best {
		out[k] = b.i
	}
	return out
}

// similarStreets returns up to n streets whose key is close to key: those
// sharing trigrams with it, ranked by edit distance (a key the query is
// the start of counts as close: "lehrter" for "lehrterstr").
func (g *Gazetteer) similarStreets(key string, n int) []int32 {
	qt := trigrams(key)
	if len(qt) == 0 {
		return nil
	}
	shared := make([]uint16, len(g.street))
	for _, t := range qt {
		for _, si := range g.tri[t] {
			shared[si]++
		}
	}
	type cand struct {
		si     int32
		dist   int
		shared int
	}
	var cands []cand
	maxDist := 1 + len(key)/4
	var ed editBuf
	for si, c16 := range shared {
		c := int(c16)
		if c == 0 {
			continue
		}
		sk := g.street[si].key
		prefix := len(key) >= 4 && strings.HasPrefix(sk, key)
		// Enough in common to be a plausible misspelling: a small edit
		// distance for the length, or a Dice coefficient of trigrams of at
		// least 1/2 (a key of n bytes has at most n padded trigrams). Every
		// "…str" key shares three trigrams with every other, so less than
		// that is noise. One edit changes at most four trigrams, which
		// bounds the distance from below and spares computing most of them.
		similar := 4*c >= len(qt)+len(sk)
		if !prefix && !similar && (len(qt)-c+3)/4 > maxDist {
			continue
		}
		if !prefix && !similar && abs(len(key)-len(sk)) > maxDist {
			continue // each edit changes the length by at most one
		}
		d := ed.distance(key, sk, maxDist)
		if prefix {
			d = min(d, 1)
		}
		if d > maxDist && !similar {
			continue
		}
		cands = append(cands, cand{int32(si), d, c})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(b.shared, a.shared), strings.Compare(g.street[a.si].key, g.street[b.si].key))
	})
	out := make([]int32, 0, n)
	for _, c := range cands[:min(n, len(cands))] {
		out = append(out, c.si)
	}
	return out
}

// trigrams returns the distinct byte trigrams of key padded with '$', so
// that short keys and word starts and ends count.
func trigrams(key string) [][3]byte {
	if key == "" {
		return nil
	}
	s := "$" + key + "$"
	out := make([][3]byte, 0, len(s))
	for i := 0; i+3 <= len(s); i++ {
		t := [3]byte{s[i], s[i+1], s[i+2]}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// editDistance is the optimal-string-alignment distance (Levenshtein plus
// transposition of neighbours, the commonest typo) between two keys.
func editDistance(a, b string) int {
	var ed editBuf
	return ed.distance(a, b, 64)
}

func abs(i int) int { return max(i, -i) }

// editBuf keeps the rows of editDistance between calls.
type editBuf struct{ prev2, prev, cur []int }

// distance returns the distance of a and b, or limit+1 if it is larger.
// Only the band of cells within limit of the diagonal is computed (a path
// outside it costs more than limit), and once two rows in a row exceed the
// limit no later row can come back under it.
func (ed *editBuf) distance(a, b string, limit int) int {
	// Keys that long are not street names; keep the cost bounded.
	a, b = a[:min(len(a), 64)], b[:min(len(b), 64)]
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	if cap(ed.cur) < len(b)+2 {
		ed.prev2, ed.prev, ed.cur = make([]int, 66), make([]int, 66), make([]int, 66)
	}
	over := limit + 1
	prev2, prev, cur := ed.prev2[:len(b)+2], ed.prev[:len(b)+2], ed.cur[:len(b)+2]
	for j := range prev {
		prev[j], prev2[j] = min(j, over), over
	}
	prev[len(b)+1] = over
	for i := 1; i <= len(a); i++ {
		lo, hi := max(1, i-limit), min(len(b), i+limit)
		rowMin := over
		cur[lo-1] = over
		if lo == 1 {
			cur[0] = min(i, over)
			rowMin = cur[0]
		}
		for j := lo; j <= hi; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			c := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost, over)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				c = min(c, prev2[j-2]+1)
			}
			cur[j] = c
			rowMin = min(rowMin, c)
		}
		cur[hi+1] = over
		if rowMin > limit && slices.Min(prev[max(0, lo-1):min(len(prev), hi+2)]) > limit {
			return over
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], over)
}

// metres is the distance between two nearby points (equirectangular).
func metres(a, b Point) float64 {
	const mPerDeg = 6371008.8 * math.Pi / 180
	dx := (a.Lon - b.Lon) * math.Cos((a.Lat+b.Lat)/2*math.Pi/180)
	dy := a.Lat - b.Lat
	return math.Hypot(dx, dy) * mPerDeg
}
