package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// ParseOptions says how ParseZones reads a file and what it records.
type ParseOptions struct {
	Tenant    string    // ARS of the municipality, copied into every zone
	ValidFrom time.Time // legal date from which the zones apply; stored as UTC midnight of its calendar day
	Source    string    // where the file came from, copied into every zone

	// Names of the feature properties that hold the zone's identifier,
	// name and district. Defaults: "zone_id", "name", "bezirk". The
	// identifier is required; there is deliberately no fallback to the
	// feature's "id" member, which is often just a running number that
	// changes between exports and would silently re-key every zone.
	IDProperty       string
	NameProperty     string
	DistrictProperty string

	// MaxProblems bounds how many problems are reported (default 50); the
	// rest are only counted.
	MaxProblems int
}

// Problem is one reason why a zone file was rejected.
type Problem struct {
	Feature int    // index into "features" (as jq counts), -1 for the file as a whole
	ZoneID  string // the feature's zone identifier, "" if unknown
	Reason  string // German, for the person who uploaded the file
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Feature >= 0 {
		fmt.Fprintf(&b, "features[%d]", p.Feature)
		if p.ZoneID != "" {
			fmt.Fprintf(&b, " (Zone „%s“)", p.ZoneID)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// ImportError lists the problems found in a zone file. It has kind
// errs.Invalid (through Unwrap), so the web layer answers 400 and shows
// Error() to the user; callers that want the list use errors.As.
type ImportError struct {
	Problems []Problem
	Omitted  int // problems found beyond ParseOptions.MaxProblems
}

func (e *ImportError) Error() string {
	var b strings.Builder
	n := len(e.Problems) + e.Omitted
	if n == 1 {
		b.WriteString("Die Zonendatei ist fehlerhaft: ")
	} else {
		fmt.Fprintf(&b, "Die Zonendatei enthält %d Fehler: ", n)
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "; und %d weitere", e.Omitted)
	}
	return b.String()
}

// Unwrap gives the error its kind.
func (e *ImportError) Unwrap() error {
	return &errs.Error{Kind: errs.Invalid, Message: e.Error()}
}

const (
	// maxJSONDepth: a zone file needs 7 levels (collection, features,
	// feature, geometry, three levels of coordinates for a MultiPolygon,
	// plus one for a position); properties may add a few. Deeper input is
	// an attack or an accident, and rejecting it early keeps the decoder
	// from recursing thousands of levels.
	maxJSONDepth = 32
	// maxRingVertices bounds the self-intersection check, which is a sweep
	// over x that degrades to quadratic on adversarial rings. Real zones
	// have a few hundred vertices (Berlin: at most 389).
	maxRingVertices = 20000
)

// ParseZones reads a GeoJSON FeatureCollection of zones (RFC 7946, WGS84
// lon/lat) and validates it completely: a file with any bad feature yields
// an *ImportError and no zones, because a half-imported set of zones would
// answer addresses wrongly without anyone noticing.
//
// Features must be Polygons or MultiPolygons with closed rings of at least
// four positions that do not cross or touch themselves, and a non-empty,
// unique zone identifier. Repeated consecutive positions are tolerated: they
// are common in exports and harmless to the point-in-polygon test. Overlaps
// between rings, polygons or zones are not checked: zones may overlap by
// law, and holes are read with the even-odd rule.
//
// Limiting the size of r is the caller's job.
func ParseZones(r io.Reader, opts ParseOptions) ([]Zone, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read zone file: %w", err)
	}
	if opts.IDProperty == "" {
		opts.IDProperty = "zone_id"
	}
	if opts.NameProperty == "" {
		opts.NameProperty = "name"
	}
	if opts.DistrictProperty == "" {
		opts.DistrictProperty = "bezirk"
	}
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 50
	}
	validFrom := opts.ValidFrom
	if !validFrom.IsZero() {
		y, m, d := validFrom.Date()
		validFrom = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}

	ie := &ImportError{}
	add := func(feature int, id, format string, args ...any) {
		if len(ie.Problems) >= opts.MaxProblems {
			ie.Omitted++
			return
		}
		ie.Problems = append(ie.Problems, Problem{Feature: feature, ZoneID: id, Reason: fmt.Sprintf(format, args...)})
	}
	fail := func(format string, args ...any) ([]Zone, error) {
		add(-1, "", format, args...)
		return nil, ie
	}

	if len(bytes.TrimSpace(data)) == 0 {
		return fail("Die Datei ist leer.")
	}
	if d := jsonDepth(data); d > maxJSONDepth {
		return fail("Die Datei ist zu tief verschachtelt (%d Ebenen, höchstens %d).", d, maxJSONDepth)
	}
	var doc struct {
		Type     string            `json:"type"`
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, se.Offset)
			return fail("Die Datei ist kein gültiges JSON (Zeile %d, Spalte %d).", line, col)
		}
		return fail("Die Datei ist keine GeoJSON-FeatureCollection.")
	}
	if doc.Type != "FeatureCollection" {
		if doc.Type == "" {
			return fail("Die Datei ist keine GeoJSON-FeatureCollection (es fehlt \"type\").")
		}
		return fail("Die Datei ist keine GeoJSON-FeatureCollection, sondern vom Typ „%s“.", doc.Type)
	}
	if len(doc.Features) == 0 {
		return fail("Die Datei enthält keine Zonen (\"features\" ist leer).")
	}

	zones := make([]Zone, 0, len(doc.Features))
	firstByID := make(map[string]int, len(doc.Features))
	for i, raw := range doc.Features {
		var f struct {
			Type       string          `json:"type"`
			Geometry   json.RawMessage `json:"geometry"`
			Properties json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			add(i, "", "Das Feature ist kein JSON-Objekt.")
			continue
		}
		if f.Type != "Feature" {
			add(i, "", "Das Element hat den Typ „%s“, erwartet ist „Feature“.", f.Type)
			continue
		}
		var props map[string]any
		if len(f.Properties) > 0 && !isJSONNull(f.Properties) {
			if err := json.Unmarshal(f.Properties, &props); err != nil {
				add(i, "", "\"properties\" ist kein JSON-Objekt.")
				continue
			}
		}
		id, reason := zoneID(props, opts.IDProperty)
		if reason != "" {
			add(i, "", "%s", reason)
		} else if first, dup := firstByID[id]; dup {
			add(i, id, "Die Zonenkennung „%s“ kommt mehrfach vor (zuerst in features[%d]).", id, first)
		} else {
			firstByID[id] = i
		}
		geom, reason := decodeGeometry(f.Geometry)
		if reason != "" {
			add(i, id, "%s", reason)
			continue
		}
		geom, reasons := validateMultiPolygon(geom)
		for _, reason := range reasons {
			add(i, id, "%s", reason)
		}
		if len(ie.Problems)+ie.Omitted > 0 {
			continue // keep checking the rest, but build nothing
		}
		z := Zone{
			Tenant:    opts.Tenant,
			ID:        id,
			Name:      id,
			Geometry:  geom,
			ValidFrom: validFrom,
			Source:    opts.Source,
		}
		if s, ok := props[opts.NameProperty].(string); ok && strings.TrimSpace(s) != "" {
			z.Name = strings.TrimSpace(s)
		}
		if s, ok := props[opts.DistrictProperty].(string); ok {
			z.District = strings.TrimSpace(s)
		}
		delete(props, opts.IDProperty)
		delete(props, opts.NameProperty)
		delete(props, opts.DistrictProperty)
		if len(props) > 0 {
			z.Properties = props
		}
		zones = append(zones, z)
	}
	if len(ie.Problems)+ie.Omitted > 0 {
		return nil, ie
	}
	return zones, nil
}

// zoneID reads the identifier, which sources write as text or as a number.
func zoneID(props map[string]any, key string) (id, reason string) {
	v, ok := props[key]
	if !ok || v == nil {
		return "", fmt.Sprintf("Die Eigenschaft „%s“ (Zonenkennung) fehlt.", key)
	}
	switch v := v.(type) {
	case string:
		id = strings.TrimSpace(v)
	case float64:
		id = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return "", fmt.Sprintf("Die Eigenschaft „%s“ (Zonenkennung) muss Text oder eine Zahl sein.", key)
	}
	if id == "" {
		return "", fmt.Sprintf("Die Eigenschaft „%s“ (Zonenkennung) ist leer.", key)
	}
	if len(id) > 64 {
		return "", "Die Zonenkennung ist länger als 64 Zeichen."
	}
	return id, ""
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// decodeGeometry turns a Polygon or MultiPolygon into an orb.MultiPolygon.
func decodeGeometry(raw json.RawMessage) (orb.MultiPolygon, string) {
	if len(raw) == 0 || isJSONNull(raw) {
		return nil, "Das Feature hat keine Geometrie."
	}
	var g struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, "\"geometry\" ist kein JSON-Objekt."
	}
	if len(g.Coordinates) == 0 || isJSONNull(g.Coordinates) {
		if g.Type != "Polygon" && g.Type != "MultiPolygon" {
			return nil, fmt.Sprintf("Der Geometrietyp „%s“ wird nicht unterstützt; erwartet ist Polygon oder MultiPolygon.", g.Type)
		}
		return nil, "Die Geometrie hat keine Koordinaten."
	}
	var polys [][][][]float64
	switch g.Type {
	case "Polygon":
		var p [][][]float64
		if err := json.Unmarshal(g.Coordinates, &p); err != nil {
			return nil, "Die Koordinaten sind kein Polygon (Liste von Ringen aus [Länge, Breite])."
		}
		polys = [][][][]float64{p}
	case "MultiPolygon":
		if err := json.Unmarshal(g.Coordinates, &polys); err != nil {
			return nil, "Die Koordinaten sind kein MultiPolygon (Liste von Polygonen aus Ringen aus [Länge, Breite])."
		}
	default:
		return nil, fmt.Sprintf("Der Geometrietyp „%s“ wird nicht unterstützt; erwartet ist Polygon oder MultiPolygon.", g.Type)
	}
	if len(polys) == 0 {
		return nil, "Die Geometrie enthält kein Polygon."
	}
	mp := make(orb.MultiPolygon, len(polys))
	for pi, p := range polys {
		if len(p) == 0 {
			return nil, fmt.Sprintf("Polygon %d hat keinen Ring.", pi+1)
		}
		mp[pi] = make(orb.Polygon, len(p))
		for ri, r := range p {
			ring := make(orb.Ring, len(r))
			for k, pos := range r {
				if len(pos) < 2 {
					return nil, fmt.Sprintf("Polygon %d, Ring %d: Position %d hat weniger als zwei Koordinaten.", pi+1, ri+1, k+1)
				}
				ring[k] = orb.Point{pos[0], pos[1]}
			}
			mp[pi][ri] = ring
		}
	}
	return mp, ""
}

// validateMultiPolygon checks mp and returns it cleaned, or the German
// reasons why it is not a valid zone geometry (at most one per ring).
//
// Cleaning is limited to what cannot change which points a zone contains:
// repeated consecutive positions are dropped, spikes narrower than
// spikeTolerance are cut off, and rings that then enclose no area are
// dropped (a polygon with its holes, if it is the outer ring). The Berlin
// file needs all three: zone 19 carries a two-point sliver polygon, and zone
// 66 a 90 m spike that runs out and back along one line and grazes its own
// edge by less than a millimetre.
func validateMultiPolygon(mp orb.MultiPolygon) (orb.MultiPolygon, []string) {
	var out orb.MultiPolygon
	var reasons []string
	for pi, p := range mp {
		var poly orb.Polygon
		for ri, r := range p {
			ring, reason := cleanRing(r)
			if reason != "" {
				reasons = append(reasons, fmt.Sprintf("Polygon %d, Ring %d: %s", pi+1, ri+1, reason))
				continue
			}
			if ring == nil { // no area
				if ri == 0 {
					break
				}
				continue
			}
			poly = append(poly, ring)
		}
		if len(poly) > 0 {
			out = append(out, poly)
		}
	}
	if len(reasons) == 0 && len(out) == 0 {
		reasons = append(reasons, "Die Geometrie hat keine Fläche: jeder Ring hat weniger als drei verschiedene Eckpunkte.")
	}
	return out, reasons
}

// spikeTolerance is the width (in degrees, about 1 cm) below which a vertex
// where the ring turns back on itself is taken as a digitising slip.
const spikeTolerance = 1e-7

// cleanRing validates r and returns it cleaned (see validateMultiPolygon),
// nil if it encloses no area, or a German reason why it is invalid.
func cleanRing(r orb.Ring) (orb.Ring, string) {
	for k, p := range r {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
			return nil, fmt.Sprintf("Position %d ist keine endliche Zahl.", k+1)
		}
		if p[0] < -180 || p[0] > 180 || p[1] < -90 || p[1] > 90 {
			return nil, fmt.Sprintf("Position %d (%g, %g) liegt außerhalb von WGS84 (Länge ±180, Breite ±90); sind die Koordinaten projiziert oder vertauscht?", k+1, p[0], p[1])
		}
	}
	if len(r) < 4 {
		return nil, fmt.Sprintf("Der Ring hat %d Positionen, mindestens 4 sind nötig.", len(r))
	}
	if r[0] != r[len(r)-1] {
		return nil, "Der Ring ist nicht geschlossen (erste und letzte Position unterscheiden sich)."
	}
	if len(r) > maxRingVertices+1 {
		return nil, fmt.Sprintf("Der Ring hat %d Positionen, höchstens %d werden angenommen.", len(r), maxRingVertices+1)
	}
	v := removeSpikes(distinctVertices(r))
	if len(v) < 3 {
		return nil, ""
	}
	if i, j, ok := ringSelfIntersection(v); ok {
		return nil, fmt.Sprintf("Der Ring schneidet oder berührt sich selbst (Kanten %d und %d, nahe %.6f, %.6f).", i+1, j+1, v[j][0], v[j][1])
	}
	return append(orb.Ring(v), v[0]), ""
}

// distinctVertices returns the ring's vertices without the closing position
// and without repeated consecutive positions.
func distinctVertices(r orb.Ring) []orb.Point {
	v := make([]orb.Point, 0, len(r))
	for _, p := range r[:len(r)-1] {
		if len(v) == 0 || v[len(v)-1] != p {
			v = append(v, p)
		}
	}
	for len(v) > 1 && v[len(v)-1] == v[0] {
		v = v[:len(v)-1]
	}
	return v
}

// removeSpikes drops vertices where the closed ring v turns back on itself
// (the next edge runs against the previous one) and the two edges are less
// than spikeTolerance apart, so the spike has no width worth keeping.
// Dropping one may expose another, hence the loop; a ring that collapses
// comes back with fewer than three vertices.
func removeSpikes(v []orb.Point) []orb.Point {
	for changed := true; changed && len(v) >= 3; {
		changed = false
		for k := 0; k < len(v) && len(v) >= 3; k++ {
			a, b, c := v[(k+len(v)-1)%len(v)], v[k], v[(k+1)%len(v)]
			if !isSpike(a, b, c) {
				continue
			}
			v = slices.Delete(v, k, k+1)
			changed = true
			// Removing b can leave a == c next to each other.
			if n := len(v); n >= 2 {
				i := (k + n - 1) % n
				if v[i] == v[k%n] {
					v = slices.Delete(v, k%n, k%n+1)
				}
			}
			k = max(k-2, -1)
		}
	}
	return v
}

func isSpike(a, b, c orb.Point) bool {
	ux, uy := b[0]-a[0], b[1]-a[1]
	wx, wy := c[0]-b[0], c[1]-b[1]
	if ux*wx+uy*wy >= 0 {
		return false // not turning back
	}
	cross := math.Abs(ux*wy - uy*wx)
	// The spike's width is the distance of the shorter edge's far end
	// from the longer edge's line.
	long := max(math.Hypot(ux, uy), math.Hypot(wx, wy))
	return cross/long < spikeTolerance
}

// ringSelfIntersection looks for two edges of the closed ring v (edge i runs
// from v[i] to v[i+1 mod n]) that meet other than at the vertex adjacent
// edges share. Adjacent edges are only at fault when they run back over each
// other (a spike). It sweeps over x: edges sorted by their west end, each
// compared with the following ones until they start east of its east end.
func ringSelfIntersection(v []orb.Point) (i, j int, found bool) {
	n := len(v)
	type seg struct {
		i              int
		x0, x1, y0, y1 float64
	}
	segs := make([]seg, n)
	for k := range n {
		a, b := v[k], v[(k+1)%n]
		segs[k] = seg{k, min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1])}
	}
	slices.SortFunc(segs, func(a, b seg) int {
		if a.x0 != b.x0 {
			if a.x0 < b.x0 {
				return -1
			}
			return 1
		}
		return a.i - b.i
	})
	type pair struct{ i, j int }
	var best *pair // report the lowest pair so the message is deterministic
	for s := range segs {
		a := &segs[s]
		for t := s + 1; t < n && segs[t].x0 <= a.x1; t++ {
			b := &segs[t]
			if b.y0 > a.y1 || b.y1 < a.y0 {
				continue
			}
			i, j := min(a.i, b.i), max(a.i, b.i)
			if best != nil && (i > best.i || i == best.i && j > best.j) {
				continue
			}
			p1, p2 := v[i], v[(i+1)%n]
			q1, q2 := v[j], v[(j+1)%n]
			var hit bool
			switch {
			case j == i+1: // q1 == p2
				hit = orient(p1, p2, q2) == 0 && (onSegment(p1, p2, q2) || onSegment(q1, q2, p1))
			case i == 0 && j == n-1: // q2 == p1
				hit = orient(q1, q2, p2) == 0 && (onSegment(q1, q2, p2) || onSegment(p1, p2, q1))
			default:
				hit = segmentsIntersect(p1, p2, q1, q2)
			}
			if hit {
				best = &pair{i, j}
			}
		}
	}
	if best == nil {
		return 0, 0, false
	}
	return best.i, best.j, true
}

// segmentsIntersect reports whether the closed segments pq and rs share a
// point. It uses exact orientation, so nearly collinear edges — common where
// digitisers follow a kerb — are neither missed nor invented.
func segmentsIntersect(p, q, r, s orb.Point) bool {
	o1, o2 := orient(p, q, r), orient(p, q, s)
	o3, o4 := orient(r, s, p), orient(r, s, q)
	if o1*o2 < 0 && o3*o4 < 0 {
		return true
	}
	return o1 == 0 && onSegment(p, q, r) ||
		o2 == 0 && onSegment(p, q, s) ||
		o3 == 0 && onSegment(r, s, p) ||
		o4 == 0 && onSegment(r, s, q)
}

// onSegment reports whether c, known to be collinear with ab, lies on it.
func onSegment(a, b, c orb.Point) bool {
	return min(a[0], b[0]) <= c[0] && c[0] <= max(a[0], b[0]) &&
		min(a[1], b[1]) <= c[1] && c[1] <= max(a[1], b[1])
}

// orient returns the sign of the turn a→b→c: 1 left, -1 right, 0
// collinear. The float result is trusted when it is clear of Shewchuk's
// error bound for this formula; otherwise the sign is computed exactly.
func orient(a, b, c orb.Point) int {
	l := (b[0] - a[0]) * (c[1] - a[1])
	r := (b[1] - a[1]) * (c[0] - a[0])
	det := l - r
	const eps = 1.0 / (1 << 53)
	bound := (3 + 16*eps) * eps * (math.Abs(l) + math.Abs(r))
	switch {
	case det > bound:
		return 1
	case -det > bound:
		return -1
	}
	return orientExact(a, b, c)
}

func orientExact(a, b, c orb.Point) int {
	rat := func(f float64) *big.Rat { return new(big.Rat).SetFloat64(f) }
	ax, ay, bx, by, cx, cy := rat(a[0]), rat(a[1]), rat(b[0]), rat(b[1]), rat(c[0]), rat(c[1])
	l := new(big.Rat).Mul(new(big.Rat).Sub(bx, ax), new(big.Rat).Sub(cy, ay))
	r := new(big.Rat).Mul(new(big.Rat).Sub(by, ay), new(big.Rat).Sub(cx, ax))
	return l.Cmp(r)
}

// jsonDepth returns the deepest nesting of arrays and objects in data,
// ignoring brackets inside strings. It stops counting once past the limit.
func jsonDepth(data []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > maxJSONDepth {
					return deepest
				}
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// lineCol turns a byte offset into a 1-based line and column for messages.
func lineCol(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}
