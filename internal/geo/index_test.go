package geo

import (
	"encoding/csv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"pgregory.net/rapid"
)

const (
	berlinZonesFile     = "../demo/data/berlin-parkzonen/berlin.geojson"
	berlinAddressesFile = "../demo/data/berlin-osm-addresses/milieuschutz_urban_character_preservation_es_houselevel_cleaned.csv"
)

var berlinZones = sync.OnceValues(func() ([]Zone, error) {
	f, err := os.Open(berlinZonesFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseZones(f, ParseOptions{Tenant: "110000000000", Source: "berlin.geojson"})
})

func loadBerlinZones(tb testing.TB) []Zone {
	tb.Helper()
	zs, err := berlinZones()
	if err != nil {
		tb.Fatalf("ParseZones(%s): %v", berlinZonesFile, err)
	}
	return zs
}

// berlinRow is one raw row of the OSM address file, read without any of
// the cleaning ParseAddressesCSV does, so tests can check that cleaning.
type berlinRow struct {
	Street, Number, Postcode, District string
	Point                              Point
}

var berlinRows = sync.OnceValues(func() ([]berlinRow, error) {
	f, err := os.Open(berlinAddressesFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	var rows []berlinRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		lon, err1 := strconv.ParseFloat(rec[col["lon"]], 64)
		lat, err2 := strconv.ParseFloat(rec[col["lat"]], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rows = append(rows, berlinRow{
			Street: rec[col["addr:street"]], Number: rec[col["addr:housenumber"]],
			Postcode: rec[col["addr:postcode"]], District: rec[col["neighborhood"]],
			Point: Point{lon, lat},
		})
	}
})

func loadBerlinRows(tb testing.TB) []berlinRow {
	tb.Helper()
	rows, err := berlinRows()
	if err != nil {
		tb.Fatalf("read %s: %v", berlinAddressesFile, err)
	}
	return rows
}

func zoneIDs(zs []*Zone) []string {
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i] = z.ID
	}
	return ids
}

// onAnyEdge reports whether p lies exactly on an edge of mp, where the
// boundary rule of the index and orb's "boundary is inside" differ.
func onAnyEdge(mp orb.MultiPolygon, p Point) bool {
	q := orb.Point{p.Lon, p.Lat}
	for _, poly := range mp {
		for _, r := range poly {
			for i := 0; i+1 < len(r); i++ {
				if orient(r[i], r[i+1], q) == 0 && onSegment(r[i], r[i+1], q) {
					return true
				}
			}
		}
	}
	return false
}

func TestIndexAgreesWithBruteForceOnBerlin(t *testing.T) {
	zones := loadBerlinZones(t)
	rows := loadBerlinRows(t)
	ix := NewIndex(zones)

	bounds := make([]orb.Bound, len(zones))
	for i := range zones {
		bounds[i] = zones[i].Bound()
	}
	var none, one, several, orbDisagree int
	perZone := map[string]int{}
	for _, row := range rows {
		got := zoneIDs(ix.Lookup(row.Point))
		want := zoneIDs(BruteForce(zones, row.Point))
		if !slices.Equal(got, want) {
			t.Fatalf("Lookup(%v) (%s %s) = %v, BruteForce = %v", row.Point, row.Street, row.Number, got, want)
		}
		switch len(got) {
		case 0:
			none++
		case 1:
			one++
			perZone[got[0]]++
		default:
			several++
		}
		// An independent implementation as a third opinion.
		for i := range zones {
			in := slices.Contains(got, zones[i].ID)
			if !bounds[i].Contains(orb.Point{row.Point.Lon, row.Point.Lat}) {
				if in {
					t.Errorf("Lookup(%v) = %v, but zone %s's bounding box does not contain the point", row.Point, got, zones[i].ID)
				}
				continue
			}
			if planar.MultiPolygonContains(zones[i].Geometry, orb.Point{row.Point.Lon, row.Point.Lat}) != in &&
				!onAnyEdge(zones[i].Geometry, row.Point) {
				orbDisagree++
			}
		}
	}
	t.Logf("%d address points: %d in exactly one zone, %d in none, %d in several; %d zones hold at least one point (zone 29: %d)",
		len(rows), one, none, several, len(perZone), perZone["29"])
	if one+none+several != len(rows) {
		t.Errorf("counts %d+%d+%d do not add up to %d points", one, none, several, len(rows))
	}
	if one == 0 {
		t.Errorf("no address point lies in a zone; want many (the file covers inner Berlin)")
	}
	if len(rows) != 31310 {
		t.Errorf("read %d rows, want 31310 (SOURCE.md)", len(rows))
	}
	if orbDisagree != 0 {
		t.Errorf("orb/planar disagrees on %d point-zone pairs off the boundary, want 0", orbDisagree)
	}
}

func TestIndexKnownPoints(t *testing.T) {
	ix := NewIndex(loadBerlinZones(t))
	tests := []struct {
		name string
		p    Point
		want []string
	}{
		// Address points from the OSM file; the zone's Bezirk agrees with
		// the one the file gives (Mitte).
		{"Perleberger Straße 61A", Point{13.3536389, 52.5336632}, []string{"75"}},
		{"Lehrter Straße 53", Point{13.3585277, 52.5344684}, []string{"75"}},
		{"Oranienburger Straße 13", Point{13.3986266, 52.5237445}, []string{"29"}},
		{"Friedrichstraße 108-109", Point{13.3879409, 52.5245537}, []string{"29"}},
		{"Unter den Linden, centre of zone 1", Point{13.3936, 52.5170}, []string{"1"}},
		{"Tempelhofer Feld (no zone)", Point{13.4040, 52.4730}, nil},
		{"Hamburg", Point{9.99, 53.55}, nil},
		{"NaN", Point{math.NaN(), 52.5}, nil},
		{"Inf", Point{math.Inf(1), math.Inf(-1)}, nil},
	}
	for _, tt := range tests {
		got := zoneIDs(ix.Lookup(tt.p))
		if len(got) == 0 {
			got = nil
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Lookup(%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func square(id string, x0, y0, x1, y1 float64) Zone {
	return Zone{ID: id, Geometry: orb.MultiPolygon{{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}}}
}

func TestIndexBoundaryRule(t *testing.T) {
	// Two zones sharing the edge x = 1; the right one runs clockwise so
	// that the shared edge is traversed in the same direction by both.
	left := square("L", 0, 0, 1, 1)
	right := Zone{ID: "R", Geometry: orb.MultiPolygon{{{{1, 0}, {1, 1}, {2, 1}, {2, 0}, {1, 0}}}}}
	zones := []Zone{left, right}
	ix := NewIndex(zones)
	tests := []struct {
		name string
		p    Point
		want []string
	}{
		{"inside left", Point{0.5, 0.5}, []string{"L"}},
		{"on shared edge: east zone", Point{1, 0.5}, []string{"R"}},
		{"west edge of left is inside", Point{0, 0.5}, []string{"L"}},
		{"east edge of right is outside", Point{2, 0.5}, nil},
		{"south edge is inside", Point{0.5, 0}, []string{"L"}},
		{"north edge is outside", Point{0.5, 1}, nil},
		{"south-west corner is inside", Point{0, 0}, []string{"L"}},
		{"shared vertex on the south edge", Point{1, 0}, []string{"R"}},
		{"shared vertex on the north edge", Point{1, 1}, nil},
	}
	for _, tt := range tests {
		got := zoneIDs(ix.Lookup(tt.p))
		bf := zoneIDs(BruteForce(zones, tt.p))
		if len(got) == 0 {
			got = nil
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Lookup(%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
		if !slices.Equal(bf, got) {
			t.Errorf("%s: BruteForce(%v) = %v, Lookup = %v", tt.name, tt.p, bf, got)
		}
	}
}

func TestIndexOverlapOrderAndHoles(t *testing.T) {
	donut := Zone{ID: "10", Geometry: orb.MultiPolygon{{
		{{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}},
		{{4, 4}, {6, 4}, {6, 6}, {4, 6}, {4, 4}}, // hole
	}}}
	zones := []Zone{square("A", 3, 3, 7, 7), donut, square("2", 1, 1, 9, 9),
		// two polygons of one zone that overlap: the zone is reported once
		{ID: "3", Geometry: orb.MultiPolygon{
			{{{0, 0}, {5, 0}, {5, 5}, {0, 5}, {0, 0}}},
			{{{2, 2}, {8, 2}, {8, 8}, {2, 8}, {2, 2}}},
		}},
	}
	ix := NewIndex(zones)
	tests := []struct {
		p    Point
		want []string
	}{
		{Point{5, 5}, []string{"2", "3", "A"}},           // in the hole of 10
		{Point{3.5, 3.5}, []string{"2", "3", "10", "A"}}, // numeric IDs by value, then text
		{Point{0.5, 0.5}, []string{"3", "10"}},
		{Point{9.5, 0.5}, []string{"10"}},
	}
	for _, tt := range tests {
		got := zoneIDs(ix.Lookup(tt.p))
		if !slices.Equal(got, tt.want) {
			t.Errorf("Lookup(%v) = %v, want %v", tt.p, got, tt.want)
		}
		if bf := zoneIDs(BruteForce(zones, tt.p)); !slices.Equal(bf, tt.want) {
			t.Errorf("BruteForce(%v) = %v, want %v", tt.p, bf, tt.want)
		}
	}
}

func TestIndexOddInputDoesNotPanic(t *testing.T) {
	tests := []struct {
		name  string
		zones []Zone
		p     Point
		want  []string
	}{
		{"no zones", nil, Point{1, 1}, nil},
		{"empty geometry", []Zone{{ID: "1"}}, Point{1, 1}, nil},
		{"open ring is closed", []Zone{{ID: "1", Geometry: orb.MultiPolygon{{{{0, 0}, {2, 0}, {2, 2}, {0, 2}}}}}}, Point{1, 1}, []string{"1"}},
		// The edges at a NaN vertex are dropped, so the east side is gone.
		{"NaN vertex", []Zone{{ID: "1", Geometry: orb.MultiPolygon{{{{0, 0}, {2, 0}, {math.NaN(), 1}, {2, 2}, {0, 2}, {0, 0}}}}}}, Point{1, 1}, nil},
		{"flat zone", []Zone{{ID: "1", Geometry: orb.MultiPolygon{{{{0, 0}, {2, 0}, {1, 0}, {0, 0}}}}}}, Point{1, 0}, nil},
	}
	for _, tt := range tests {
		got := zoneIDs(NewIndex(tt.zones).Lookup(tt.p))
		if len(got) == 0 {
			got = nil
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Lookup(%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
		if bf := zoneIDs(BruteForce(tt.zones, tt.p)); !slices.Equal(bf, zoneIDs(NewIndex(tt.zones).Lookup(tt.p))) {
			t.Errorf("%s: BruteForce(%v) = %v, Lookup = %v", tt.name, tt.p, bf, got)
		}
	}
}

func TestAppendLookupDoesNotAllocate(t *testing.T) {
	ix := NewIndex(loadBerlinZones(t))
	dst := make([]int, 0, 8)
	p := Point{13.3986266, 52.5237445} // Oranienburger Straße 13
	allocs := testing.AllocsPerRun(1000, func() { dst = ix.AppendLookup(dst[:0], p) })
	if allocs != 0 {
		t.Errorf("AppendLookup allocates %v times per call, want 0", allocs)
	}
	if len(dst) != 1 || ix.Zone(dst[0]).ID != "29" {
		t.Errorf("AppendLookup(%v) = %v, want zone 29", p, dst)
	}
}

func TestCompareZoneIDs(t *testing.T) {
	ids := []string{"A", "10", "2", "02", "17-TS", "100", "17-CW", "1", ""}
	slices.SortStableFunc(ids, CompareZoneIDs)
	want := []string{"", "1", "02", "2", "10", "100", "17-CW", "17-TS", "A"}
	if !slices.Equal(ids, want) {
		t.Errorf("sorted = %q, want %q", ids, want)
	}
}

// TestIndexRandomPointsBerlin checks the index against brute force on
// random points in and around the Berlin zones, and on their vertices,
// which are the points where rounding would show first.
func TestIndexRandomPointsBerlin(t *testing.T) {
	zones := loadBerlinZones(t)
	ix := NewIndex(zones)
	var vertices []Point
	for _, z := range zones {
		for _, poly := range z.Geometry {
			for _, r := range poly {
				for _, p := range r {
					vertices = append(vertices, Point{p[0], p[1]})
				}
			}
		}
	}
	b := orb.Bound{Min: orb.Point{ix.minX, ix.minY}, Max: orb.Point{ix.maxX, ix.maxY}}.Pad(0.01)
	rapid.Check(t, func(t *rapid.T) {
		var p Point
		if rapid.Bool().Draw(t, "vertex") {
			v := vertices[rapid.IntRange(0, len(vertices)-1).Draw(t, "i")]
			// the vertex itself or one ulp away in some direction
			dx := rapid.IntRange(-1, 1).Draw(t, "dx")
			dy := rapid.IntRange(-1, 1).Draw(t, "dy")
			p = Point{nudge(v.Lon, dx), nudge(v.Lat, dy)}
		} else {
			p = Point{
				rapid.Float64Range(b.Min[0], b.Max[0]).Draw(t, "lon"),
				rapid.Float64Range(b.Min[1], b.Max[1]).Draw(t, "lat"),
			}
		}
		got, want := zoneIDs(ix.Lookup(p)), zoneIDs(BruteForce(zones, p))
		if !slices.Equal(got, want) {
			t.Fatalf("Lookup(%v) = %v, BruteForce = %v", p, got, want)
		}
	})
}

func nudge(f float64, dir int) float64 {
	switch dir {
	case -1:
		return math.Nextafter(f, math.Inf(-1))
	case 1:
		return math.Nextafter(f, math.Inf(1))
	}
	return f
}

// TestIndexRandomZones checks the index against brute force on random,
// overlapping star-shaped zones with holes, queried at random points and
// at their vertices.
func TestIndexRandomZones(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(t, "zones")
		var zones []Zone
		var probes []Point
		for z := range n {
			var mp orb.MultiPolygon
			for range rapid.IntRange(1, 2).Draw(t, "polys") {
				cx := rapid.Float64Range(-1, 1).Draw(t, "cx")
				cy := rapid.Float64Range(-1, 1).Draw(t, "cy")
				outer := starRing(t, cx, cy, 0.2, 1)
				poly := orb.Polygon{outer}
				if rapid.Bool().Draw(t, "hole") {
					poly = append(poly, starRing(t, cx, cy, 0.02, 0.15))
				}
				mp = append(mp, poly)
				for _, p := range outer {
					probes = append(probes, Point{p[0], p[1]})
				}
			}
			zones = append(zones, Zone{ID: strconv.Itoa(z), Geometry: mp})
		}
		ix := NewIndex(zones)
		for range 50 {
			probes = append(probes, Point{rapid.Float64Range(-2.5, 2.5).Draw(t, "x"), rapid.Float64Range(-2.5, 2.5).Draw(t, "y")})
		}
		for _, p := range probes {
			got, want := zoneIDs(ix.Lookup(p)), zoneIDs(BruteForce(zones, p))
			if !slices.Equal(got, want) {
				t.Fatalf("Lookup(%v) = %v, BruteForce = %v", p, got, want)
			}
		}
	})
}

// starRing draws a simple ring around (cx, cy): vertices at increasing
// angles and random radii cannot cross each other.
func starRing(t *rapid.T, cx, cy, rmin, rmax float64) orb.Ring {
	k := rapid.IntRange(3, 40).Draw(t, "vertices")
	r := make(orb.Ring, 0, k+1)
	for i := range k {
		a := 2 * math.Pi * float64(i) / float64(k)
		rad := rapid.Float64Range(rmin, rmax).Draw(t, "r")
		r = append(r, orb.Point{cx + rad*math.Cos(a), cy + rad*math.Sin(a)})
	}
	return append(r, r[0])
}

// TestIndexTilingHasNoGapsOrOverlaps is the point of the boundary rule:
// zones that tile an area with shared edges put every point of the area in
// exactly one zone, also on the edges and vertices. Coordinates are small
// dyadic fractions so that all arithmetic is exact and the property holds
// without exception.
func TestIndexTilingHasNoGapsOrOverlaps(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nx := rapid.IntRange(1, 5).Draw(t, "nx")
		ny := rapid.IntRange(1, 5).Draw(t, "ny")
		// Grid vertex (i, j) at (8i + jitter, 8j + jitter) / 64; the outer
		// border stays straight so the area is a rectangle.
		vx := make([][]orb.Point, nx+1)
		for i := range vx {
			vx[i] = make([]orb.Point, ny+1)
			for j := range vx[i] {
				x, y := float64(8*i), float64(8*j)
				if i > 0 && i < nx {
					x += float64(rapid.IntRange(-3, 3).Draw(t, "jx"))
				}
				if j > 0 && j < ny {
					y += float64(rapid.IntRange(-3, 3).Draw(t, "jy"))
				}
				vx[i][j] = orb.Point{x / 64, y / 64}
			}
		}
		var zones []Zone
		for i := range nx {
			for j := range ny {
				ring := orb.Ring{vx[i][j], vx[i+1][j], vx[i+1][j+1], vx[i][j+1], vx[i][j]}
				if rapid.Bool().Draw(t, "clockwise") {
					slices.Reverse(ring)
				}
				zones = append(zones, Zone{ID: strconv.Itoa(i*ny + j), Geometry: orb.MultiPolygon{{ring}}})
			}
		}
		ix := NewIndex(zones)
		for range 100 {
			// Points on a 1/64 lattice hit edges and vertices often.
			p := Point{
				float64(rapid.IntRange(0, 8*nx-1).Draw(t, "px")) / 64,
				float64(rapid.IntRange(0, 8*ny-1).Draw(t, "py")) / 64,
			}
			got := zoneIDs(ix.Lookup(p))
			if len(got) != 1 {
				t.Fatalf("Lookup(%v) = %v, want exactly one zone", p, got)
			}
			if want := zoneIDs(BruteForce(zones, p)); !slices.Equal(got, want) {
				t.Fatalf("Lookup(%v) = %v, BruteForce = %v", p, got, want)
			}
		}
	})
}

// benchPoints returns n query points: the Berlin address points and, when
// random is set, uniform points in the zones' bounding box instead.
func benchPoints(b *testing.B, ix *Index, random bool) []Point {
	if !random {
		rows := loadBerlinRows(b)
		pts := make([]Point, len(rows))
		for i, r := range rows {
			pts[i] = r.Point
		}
		return pts
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pts := make([]Point, 1<<15)
	for i := range pts {
		pts[i] = Point{ix.minX + rng.Float64()*(ix.maxX-ix.minX), ix.minY + rng.Float64()*(ix.maxY-ix.minY)}
	}
	return pts
}

func BenchmarkIndexLookup(b *testing.B) {
	zones := loadBerlinZones(b)
	ix := NewIndex(zones)
	for _, name := range []string{"addresses", "random"} {
		b.Run(name, func(b *testing.B) {
			pts := benchPoints(b, ix, name == "random")
			dst := make([]int, 0, 8)
			found := 0
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				dst = ix.AppendLookup(dst[:0], pts[i%len(pts)])
				found += len(dst)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
			if found == 0 {
				b.Fatal("no point found in any zone")
			}
		})
	}
}

func BenchmarkBruteForceLookup(b *testing.B) {
	zones := loadBerlinZones(b)
	ix := NewIndex(zones)
	for _, name := range []string{"addresses", "random"} {
		b.Run(name, func(b *testing.B) {
			pts := benchPoints(b, ix, name == "random")
			found := 0
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				found += len(BruteForce(zones, pts[i%len(pts)]))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
			if found == 0 {
				b.Fatal("no point found in any zone")
			}
		})
	}
}

func BenchmarkNewIndex(b *testing.B) {
	zones := loadBerlinZones(b)
	for b.Loop() {
		NewIndex(zones)
	}
}
