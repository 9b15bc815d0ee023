package geo

import (
	"math"
	"slices"
	"strings"

	"github.com/paulmach/orb"
)

// Boundary rule
//
// A point is inside a polygon when a ray from it towards east (+lon) crosses
// the polygon's rings an odd number of times (even-odd rule over all rings,
// so holes work). An edge counts when it spans the ray half-open in latitude
// (lower end <= lat < upper end) and the point lies strictly west of it.
// Horizontal edges never count.
//
// The consequence for points exactly on a boundary: they belong to a zone on
// its west and south sides, not on its east and north sides. Where two zones
// share an edge with the same vertices, a point on that edge is in exactly
// one of them: the crossing test orders every edge by latitude before it
// computes, so both zones get bit-identical answers whichever way their rings
// run. That matters because zone boundaries often run down the middle of a
// street and house coordinates can sit right on them; an address must not
// fall between two zones or into both by rounding. (orb/planar counts
// boundary points as inside, so on such points it answers "both".)

// edge is one ring segment, stored lower end first (see the boundary rule).
type edge struct{ ax, ay, bx, by float64 }

// makeEdge returns the edge from p to q and false for horizontal (and
// zero-length) segments, which never cross an eastward ray.
func makeEdge(p, q orb.Point) (edge, bool) {
	if p[1] == q[1] || p[1] != p[1] || q[1] != q[1] {
		return edge{}, false
	}
	if p[1] > q[1] {
		p, q = q, p
	}
	return edge{p[0], p[1], q[0], q[1]}, true
}

// crosses reports whether the eastward ray from (x, y) crosses e. Index and
// BruteForce both call exactly this, so they agree bit for bit.
func (e *edge) crosses(x, y float64) bool {
	if y < e.ay || y >= e.by {
		return false
	}
	return (e.bx-e.ax)*(y-e.ay)-(e.by-e.ay)*(x-e.ax) > 0
}

// ringSegments calls fn for every segment of r, closing it if the source
// left it open, so that an unvalidated ring is still read as a ring.
func ringSegments(r orb.Ring, fn func(p, q orb.Point)) {
	n := len(r)
	if n < 2 {
		return
	}
	for i := 0; i+1 < n; i++ {
		fn(r[i], r[i+1])
	}
	if r[0] != r[n-1] {
		fn(r[n-1], r[0])
	}
}

// polygonContains is the reference test: every edge of every ring.
func polygonContains(poly orb.Polygon, x, y float64) bool {
	in := false
	for _, r := range poly {
		n := len(r)
		if n < 2 {
			continue
		}
		for i := range n {
			j := i + 1
			if j == n {
				if r[0] == r[n-1] {
					break // closed as it should be
				}
				j = 0 // close an open ring, as ringSegments does
			}
			if e, ok := makeEdge(r[i], r[j]); ok && e.crosses(x, y) {
				in = !in
			}
		}
	}
	return in
}

// BruteForce returns the zones that contain p by testing every edge of every
// zone. It is the reference Index is tested against and the baseline of its
// benchmark; it is far too slow for serving. The order is the one Lookup
// uses (by zone ID, see CompareZoneIDs).
func BruteForce(zones []Zone, p Point) []*Zone {
	var out []*Zone
	for i := range zones {
		for _, poly := range zones[i].Geometry {
			if polygonContains(poly, p.Lon, p.Lat) {
				out = append(out, &zones[i])
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *Zone) int { return CompareZoneIDs(a.ID, b.ID) })
	return out
}

// CompareZoneIDs orders zone identifiers the way a person reads them:
// numeric IDs by value ("2" before "10"), everything else, and numbers
// against non-numbers, byte-wise. Berlin's IDs are numbers in strings.
func CompareZoneIDs(a, b string) int {
	if isDigits(a) && isDigits(b) {
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(ta) != len(tb) {
			if len(ta) < len(tb) {
				return -1
			}
			return 1
		}
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Bound returns the bounding box of the zone's geometry.
func (z *Zone) Bound() orb.Bound { return z.Geometry.Bound() }

// Index answers "which zones contain this point" for one snapshot of zones.
//
// It lays a uniform grid over the zones' bounding box. Each cell lists the
// polygons that touch it, marking those that cover the whole cell, which
// need no test at all. For the others, the crossing test runs only over the
// polygon's edges in the cell's grid row, because only edges that span the
// point's latitude can cross an eastward ray. The answer is therefore
// exactly BruteForce's, only faster; the tests hold it to that.
//
// An Index is immutable and safe for concurrent use. It shares the zones'
// geometry with the caller, which must not modify it afterwards.
type Index struct {
	zones []Zone    // sorted by CompareZoneIDs; result indices point here
	polys []polyRef // sorted by zone
	edges []edge    // grouped by polygon and grid row
	strip []uint32  // per polygon: rows+1 offsets into edges

	minX, minY, maxX, maxY float64
	invW, invH             float64 // cells per degree
	nx, ny                 int
	cellStart              []uint32 // nx*ny+1 offsets into cellEntry
	cellEntry              []uint32 // polygon<<1 | 1 if it covers the cell
}

type polyRef struct {
	zone  int32  // index into Index.zones
	row0  int32  // first grid row of the polygon's bounding box
	strip uint32 // offset of the polygon's row offsets in Index.strip
}

// Grid sizing: about this many cells per edge of all zones. Measured on the
// Berlin zones (9,938 vertices): fewer cells leave more points in cells that
// need a ring test, more cells cost memory and cache misses without speed.
const (
	cellsPerEdge = 4
	maxCells     = 1 << 20
	maxGridSide  = 4096
)

// NewIndex builds the index. Zones are copied (shallowly) and ordered by ID;
// Lookup and AppendLookup answer in that order. Geometry is expected to be
// valid (ParseZones checks it); anything else is read as faithfully as the
// even-odd rule allows and never panics: open rings are closed and
// non-finite coordinates are ignored.
func NewIndex(zones []Zone) *Index {
	ix := &Index{zones: slices.Clone(zones)}
	slices.SortStableFunc(ix.zones, func(a, b Zone) int { return CompareZoneIDs(a.ID, b.ID) })

	// Collect the finite segments of every polygon and the overall box.
	type rawPoly struct {
		zone int32
		segs [][2]orb.Point // all segments, horizontal ones too: they bound cells
		box  orb.Bound
	}
	var raws []rawPoly
	all := emptyBound()
	nEdges := 0
	for zi := range ix.zones {
		for _, poly := range ix.zones[zi].Geometry {
			rp := rawPoly{zone: int32(zi), box: emptyBound()}
			for _, r := range poly {
				ringSegments(r, func(p, q orb.Point) {
					if !finitePoint(p) || !finitePoint(q) {
						return
					}
					rp.segs = append(rp.segs, [2]orb.Point{p, q})
					rp.box = rp.box.Extend(p).Extend(q)
				})
			}
			if len(rp.segs) < 3 {
				continue // cannot enclose anything
			}
			nEdges += len(rp.segs)
			all = all.Union(rp.box)
			raws = append(raws, rp)
		}
	}
	if len(raws) == 0 {
		return ix
	}
	ix.minX, ix.minY, ix.maxX, ix.maxY = all.Min[0], all.Min[1], all.Max[0], all.Max[1]
	ix.sizeGrid(nEdges)

	// Per-cell lists are built as (cell, entry) pairs, then packed.
	type cellItem struct {
		cell  int
		entry uint32
	}
	var items []cellItem
	cw, ch := ix.cellSize()
	for pi, rp := range raws {
		ref := polyRef{zone: rp.zone, row0: int32(ix.row(rp.box.Min[1])), strip: uint32(len(ix.strip))}
		row1 := ix.row(rp.box.Max[1])
		rows := row1 - int(ref.row0) + 1

		// Edges by row: an edge goes into every row its latitude span meets.
		// row() is monotone, so a point whose latitude the edge spans has a
		// row in [row(ay), row(by)].
		buckets := make([][]edge, rows)
		for _, s := range rp.segs {
			e, ok := makeEdge(s[0], s[1])
			if !ok {
				continue
			}
			for r := ix.row(e.ay); r <= ix.row(e.by); r++ {
				buckets[r-int(ref.row0)] = append(buckets[r-int(ref.row0)], e)
			}
		}
		for _, b := range buckets {
			ix.strip = append(ix.strip, uint32(len(ix.edges)))
			ix.edges = append(ix.edges, b...)
		}
		ix.strip = append(ix.strip, uint32(len(ix.edges)))
		ix.polys = append(ix.polys, ref)

		// Cells that a segment passes near need the ring test; the others
		// have one status throughout, taken at the cell centre.
		col0, col1 := ix.col(rp.box.Min[0]), ix.col(rp.box.Max[0])
		cols := col1 - col0 + 1
		touched := make([]bool, cols*rows)
		mx, my := cw*1e-3, ch*1e-3 // margin for rounding in col()/row()
		for _, s := range rp.segs {
			sb := orb.Bound{Min: s[0], Max: s[0]}.Extend(s[1])
			for r := ix.row(sb.Min[1] - my); r <= ix.row(sb.Max[1]+my); r++ {
				for c := ix.col(sb.Min[0] - mx); c <= ix.col(sb.Max[0]+mx); c++ {
					if r < int(ref.row0) || r > row1 || c < col0 || c > col1 {
						continue
					}
					x0 := ix.minX + float64(c)*cw - mx
					y0 := ix.minY + float64(r)*ch - my
					if segmentMeetsRect(s[0], s[1], x0, y0, x0+cw+2*mx, y0+ch+2*my) {
						touched[(r-int(ref.row0))*cols+c-col0] = true
					}
				}
			}
		}
		for r := int(ref.row0); r <= row1; r++ {
			for c := col0; c <= col1; c++ {
				cell := r*ix.nx + c
				if touched[(r-int(ref.row0))*cols+c-col0] {
					items = append(items, cellItem{cell, uint32(pi) << 1})
					continue
				}
				cx := ix.minX + (float64(c)+0.5)*cw
				cy := ix.minY + (float64(r)+0.5)*ch
				if ix.polyContains(&ref, r, cx, cy) {
					items = append(items, cellItem{cell, uint32(pi)<<1 | 1})
				}
			}
		}
	}

	// Pack: items are already in polygon order within each cell because
	// polygons were visited in order; a stable counting sort keeps that.
	ix.cellStart = make([]uint32, ix.nx*ix.ny+1)
	for _, it := range items {
		ix.cellStart[it.cell+1]++
	}
	for i := 1; i < len(ix.cellStart); i++ {
		ix.cellStart[i] += ix.cellStart[i-1]
	}
	ix.cellEntry = make([]uint32, len(items))
	next := slices.Clone(ix.cellStart[:len(ix.cellStart)-1])
	for _, it := range items {
		ix.cellEntry[next[it.cell]] = it.entry
		next[it.cell]++
	}
	return ix
}

// emptyBound is the bound that any Extend or Union replaces; orb's zero
// Bound is not empty (it is the point 0,0).
func emptyBound() orb.Bound {
	return orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
}

func finitePoint(p orb.Point) bool {
	return !math.IsNaN(p[0]) && !math.IsNaN(p[1]) && !math.IsInf(p[0], 0) && !math.IsInf(p[1], 0)
}

// sizeGrid picks nx × ny so that cells are roughly square on the ground.
func (ix *Index) sizeGrid(nEdges int) {
	w, h := ix.maxX-ix.minX, ix.maxY-ix.minY
	target := min(max(cellsPerEdge*nEdges, 1), maxCells)
	// Degrees of longitude shrink with cos(lat); clamp so that data near the
	// poles or in a projected system still gets a sane grid.
	k := max(math.Cos((ix.minY+ix.maxY)/2*math.Pi/180), 0.1)
	if math.IsNaN(k) {
		k = 1
	}
	gw, gh := w*k, h
	var nx, ny int
	switch {
	case gw <= 0 && gh <= 0:
		nx, ny = 1, 1
	case gh <= 0:
		nx, ny = target, 1
	case gw <= 0:
		nx, ny = 1, target
	default:
		nx = int(math.Round(math.Sqrt(float64(target) * gw / gh)))
		nx = min(max(nx, 1), maxGridSide)
		ny = min(max(target/nx, 1), maxGridSide)
	}
	ix.nx, ix.ny = min(nx, maxGridSide), min(ny, maxGridSide)
	if w > 0 {
		ix.invW = float64(ix.nx) / w
	}
	if h > 0 {
		ix.invH = float64(ix.ny) / h
	}
}

func (ix *Index) cellSize() (cw, ch float64) {
	cw, ch = ix.maxX-ix.minX, ix.maxY-ix.minY
	if ix.invW > 0 {
		cw = 1 / ix.invW
	}
	if ix.invH > 0 {
		ch = 1 / ix.invH
	}
	return cw, ch
}

// col and row map a coordinate to its grid column and row. Both are
// monotone in their argument, which the row bucketing relies on.
func (ix *Index) col(x float64) int {
	c := int((x - ix.minX) * ix.invW)
	return min(max(c, 0), ix.nx-1)
}

func (ix *Index) row(y float64) int {
	r := int((y - ix.minY) * ix.invH)
	return min(max(r, 0), ix.ny-1)
}

// polyContains runs the crossing test over the polygon's edges of grid row r.
func (ix *Index) polyContains(pr *polyRef, r int, x, y float64) bool {
	k := pr.strip + uint32(r-int(pr.row0))
	in := false
	for _, e := range ix.edges[ix.strip[k]:ix.strip[k+1]] {
		if e.crosses(x, y) {
			in = !in
		}
	}
	return in
}

// segmentMeetsRect reports whether segment pq may meet the rectangle. It
// errs towards true, which only costs a ring test later.
func segmentMeetsRect(p, q orb.Point, x0, y0, x1, y1 float64) bool {
	if max(p[0], q[0]) < x0 || min(p[0], q[0]) > x1 || max(p[1], q[1]) < y0 || min(p[1], q[1]) > y1 {
		return false
	}
	// The segment's line misses the rectangle when all corners lie strictly
	// on one side of it.
	dx, dy := q[0]-p[0], q[1]-p[1]
	side := func(x, y float64) float64 { return dx*(y-p[1]) - dy*(x-p[0]) }
	s1, s2, s3, s4 := side(x0, y0), side(x1, y0), side(x0, y1), side(x1, y1)
	if s1 > 0 && s2 > 0 && s3 > 0 && s4 > 0 || s1 < 0 && s2 < 0 && s3 < 0 && s4 < 0 {
		return false
	}
	return true
}

// Len returns the number of zones in the index.
func (ix *Index) Len() int { return len(ix.zones) }

// Zone returns zone i, in the index's order (by ID); i comes from
// AppendLookup.
func (ix *Index) Zone(i int) *Zone { return &ix.zones[i] }

// Lookup returns the zones that contain p, ordered by zone ID: none, one, or
// several where zones overlap. See "Boundary rule" for points on an edge.
func (ix *Index) Lookup(p Point) []*Zone {
	var buf [8]int
	found := ix.AppendLookup(buf[:0], p)
	if len(found) == 0 {
		return nil
	}
	out := make([]*Zone, len(found))
	for i, z := range found {
		out[i] = &ix.zones[z]
	}
	return out
}

// AppendLookup appends to dst the indices (for Zone) of the zones that
// contain p, in ascending order, and returns the extended slice. It does
// not allocate when dst has room, which is what the hot path wants.
func (ix *Index) AppendLookup(dst []int, p Point) []int {
	x, y := p.Lon, p.Lat
	// Written so that NaN fails every comparison and lands outside.
	if !(x >= ix.minX && x <= ix.maxX && y >= ix.minY && y <= ix.maxY) || ix.nx == 0 {
		return dst
	}
	r := ix.row(y)
	c := r*ix.nx + ix.col(x)
	last := -1
	for _, ent := range ix.cellEntry[ix.cellStart[c]:ix.cellStart[c+1]] {
		pr := &ix.polys[ent>>1]
		z := int(pr.zone)
		if z == last {
			continue // another polygon of a zone already found
		}
		if ent&1 == 0 && !ix.polyContains(pr, r, x, y) {
			continue
		}
		dst = append(dst, z)
		last = z
	}
	return dst
}
