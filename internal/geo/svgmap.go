package geo

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
)

// MapOptions shapes the map RenderZoneMap draws.
type MapOptions struct {
	// Width of the image in CSS pixels (default 640); the height follows
	// from the zone's shape. Pages may scale the image with CSS.
	Width int
	// Padding around the zone as a fraction of its larger side (default 0.08).
	Padding float64
	// Context zones are drawn faintly behind the zone, so the reader sees
	// where the neighbouring zone begins. Those outside the view are left
	// out, and so is the zone itself.
	Context []*Zone
	// NorthArrow adds an arrow; north is always up either way.
	NorthArrow bool
	// IDPrefix makes the ids of <title> and <desc> unique when a page
	// holds several maps (default "zonemap").
	IDPrefix string
}

// Colours: KERN-like blue for the zone, red for the marker, greys for the
// rest. They are presentation attributes, not style attributes: the pages'
// Content-Security-Policy forbids inline styles, and a stylesheet can still
// override them through the classes.
const (
	mapBackground   = "#f7f7f4"
	mapZone         = "#1f5fa8"
	mapContextFill  = "#e2e2e2"
	mapContextLine  = "#9a9a9a"
	mapMarker       = "#c8102e"
	mapInk          = "#222222"
	metresPerDegree = 6371008.8 * math.Pi / 180 // mean Earth radius
)

// RenderZoneMap writes an SVG map of zone to w: the zone's polygons, an
// optional marker (the address asked about), a scale bar in metres and
// <title>/<desc> for screen readers. It needs no tiles or scripts, so it
// works without JavaScript and leaks no address to a tile server.
//
// The projection is equirectangular around the view's mid-latitude
// (longitudes shrunk by cos(lat)), in metres: over a few kilometres —
// Berlin's zones reach 2 km, more than the 1 km of VwV-StVO zu § 45 — its
// distortion stays far below a pixel.
// The view fits the zone and the marker, if any. The output depends only on
// the arguments, byte for byte.
func RenderZoneMap(w io.Writer, zone *Zone, marker *Point, opts MapOptions) error {
	if zone == nil || len(zone.Geometry) == 0 {
		return errors.New("render zone map: zone without geometry")
	}
	if opts.Width <= 0 {
		opts.Width = 640
	}
	if opts.Padding <= 0 {
		opts.Padding = 0.08
	}
	if opts.IDPrefix == "" {
		opts.IDPrefix = "zonemap"
	}

	bound := zone.Bound()
	if marker != nil {
		bound = bound.Extend(orb.Point{marker.Lon, marker.Lat})
	}
	if !finitePoint(bound.Min) || !finitePoint(bound.Max) {
		return errors.New("render zone map: coordinates are not finite")
	}
	pr := projection{lon0: bound.Min[0], lat0: bound.Max[1], k: math.Cos((bound.Min[1]+bound.Max[1])/2*math.Pi/180) * metresPerDegree}
	x1, y1 := pr.xy(orb.Point{bound.Max[0], bound.Min[1]})
	ext := max(x1, y1, 50) // metres; a 50 m minimum keeps a tiny zone legible
	pad := ext * opts.Padding
	vx, vy, vw, vh := -pad, -pad, x1+2*pad, y1+2*pad
	if vw < ext { // a thin zone still gets a square-ish view
		vx, vw = vx-(ext-vw)/2, ext
	}
	if vh < ext/3 {
		vy, vh = vy-(ext/3-vh)/2, ext/3
	}
	height := int(math.Round(float64(opts.Width) * vh / vw))
	font := num(vw / 32)

	var b bytes.Buffer
	title := "Karte der Zone " + zone.ID
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="zone-map" viewBox="%s %s %s %s" width="%d" height="%d" role="img" aria-labelledby="%s-title %s-desc">`+"\n",
		num(vx), num(vy), num(vw), num(vh), opts.Width, height, esc(opts.IDPrefix), esc(opts.IDPrefix))
	fmt.Fprintf(&b, "<title id=\"%s-title\">%s</title>\n", esc(opts.IDPrefix), esc(title))
	fmt.Fprintf(&b, "<desc id=\"%s-desc\">%s</desc>\n", esc(opts.IDPrefix), esc(describeMap(zone, marker, x1, y1)))
	fmt.Fprintf(&b, `<rect class="zone-map-background" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n", num(vx), num(vy), num(vw), num(vh), mapBackground)

	viewLL := orb.Bound{Min: pr.lonlat(vx, vy+vh), Max: pr.lonlat(vx+vw, vy)}
	var context []*Zone
	for _, z := range opts.Context {
		if z != nil && z.ID != zone.ID && len(z.Geometry) > 0 && z.Bound().Intersects(viewLL) {
			context = append(context, z)
		}
	}
	slices.SortStableFunc(context, func(a, b *Zone) int { return CompareZoneIDs(a.ID, b.ID) })
	if len(context) > 0 {
		fmt.Fprintf(&b, `<g class="zone-map-context" fill="%s" stroke="%s" stroke-width="1" vector-effect="non-scaling-stroke" fill-rule="evenodd">`+"\n", mapContextFill, mapContextLine)
		for _, z := range context {
			// Clipped to the view: what lies outside is invisible anyway, and
			// paths reaching far beyond the image make the page's layout (and
			// accessibility checkers) see the map cover the text around it.
			g := clip.MultiPolygon(viewLL.Pad(vw/pr.k*0.01), z.Geometry.Clone())
			if len(g) == 0 {
				continue
			}
			fmt.Fprintf(&b, `<path d="%s" vector-effect="non-scaling-stroke"><title>Zone %s</title></path>`+"\n", pr.path(g), esc(z.ID))
		}
		b.WriteString("</g>\n")
	}
	fmt.Fprintf(&b, `<path class="zone-map-zone" d="%s" fill="%s" fill-opacity="0.22" fill-rule="evenodd" stroke="%s" stroke-width="2.5" stroke-linejoin="round" vector-effect="non-scaling-stroke"/>`+"\n",
		pr.path(zone.Geometry), mapZone, mapZone)

	if marker != nil {
		mx, my := pr.xy(orb.Point{marker.Lon, marker.Lat})
		r := vw / 70
		fmt.Fprintf(&b, `<g class="zone-map-marker"><title>Gesuchte Adresse</title>`+
			`<circle cx="%s" cy="%s" r="%s" fill="%s" stroke="#ffffff" stroke-width="2" vector-effect="non-scaling-stroke"/>`+
			`<circle cx="%s" cy="%s" r="%s" fill="#ffffff"/></g>`+"\n",
			num(mx), num(my), num(r), mapMarker, num(mx), num(my), num(r/3))
	}

	// Scale bar, bottom left: a round length of about a quarter of the view.
	bar := niceLength(vw / 4)
	sx, sy := vx+vw*0.04, vy+vh-vh*0.06
	tick := vw / 120
	fmt.Fprintf(&b, `<g class="zone-map-scale" fill="%s" stroke="%s">`+
		`<path d="M%s %sV%sH%sV%s" fill="none" stroke-width="2" vector-effect="non-scaling-stroke"/>`+
		`<text x="%s" y="%s" font-family="sans-serif" font-size="%s" stroke="none">%s</text></g>`+"\n",
		mapInk, mapInk,
		num(sx), num(sy-tick), num(sy), num(sx+bar), num(sy-tick),
		num(sx), num(sy-tick-vw/100), font, esc(lengthLabel(bar)))

	if opts.NorthArrow {
		ax, ay, s := vx+vw*0.95, vy+vh*0.06, vw/40
		fmt.Fprintf(&b, `<g class="zone-map-north" fill="%s"><title>Norden</title>`+
			`<path d="M%s %sL%s %sL%s %sZ"/>`+
			`<text x="%s" y="%s" font-family="sans-serif" font-size="%s" text-anchor="middle">N</text></g>`+"\n",
			mapInk,
			num(ax), num(ay), num(ax-s/2), num(ay+s*1.4), num(ax+s/2), num(ay+s*1.4),
			num(ax), num(ay+s*1.4+vw/28), font)
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// projection maps lon/lat to SVG user units: metres east and south of the
// view's north-west corner.
type projection struct{ lon0, lat0, k float64 }

func (p projection) xy(q orb.Point) (x, y float64) {
	return (q[0] - p.lon0) * p.k, (p.lat0 - q[1]) * metresPerDegree
}

func (p projection) lonlat(x, y float64) orb.Point {
	return orb.Point{p.lon0 + x/p.k, p.lat0 - y/metresPerDegree}
}

func (p projection) path(mp orb.MultiPolygon) string {
	var b strings.Builder
	for _, poly := range mp {
		for _, r := range poly {
			n := len(r)
			if n > 1 && r[0] == r[n-1] {
				n-- // Z closes the ring
			}
			for i, q := range r[:n] {
				x, y := p.xy(q)
				if i == 0 {
					b.WriteByte('M')
				} else {
					b.WriteByte('L')
				}
				b.WriteString(num(x))
				b.WriteByte(' ')
				b.WriteString(num(y))
			}
			if n > 0 {
				b.WriteByte('Z')
			}
		}
	}
	return b.String()
}

// describeMap is the <desc>: what a sighted reader takes from the map.
func describeMap(zone *Zone, marker *Point, w, h float64) string {
	var b strings.Builder
	b.WriteString(zone.Name)
	if zone.Name == "" {
		b.WriteString("Zone " + zone.ID)
	}
	if zone.District != "" {
		b.WriteString(" (" + zone.District + ")")
	}
	fmt.Fprintf(&b, ", etwa %s von West nach Ost und %s von Nord nach Süd.", lengthLabel(w), lengthLabel(h))
	if marker != nil {
		in := false
		for _, poly := range zone.Geometry {
			in = in || polygonContains(poly, marker.Lon, marker.Lat)
		}
		if in {
			b.WriteString(" Die Markierung zeigt die gesuchte Adresse; sie liegt in der Zone.")
		} else {
			b.WriteString(" Die Markierung zeigt die gesuchte Adresse; sie liegt außerhalb der Zone.")
		}
	}
	return b.String()
}

// niceLength returns the largest 1, 2 or 5 × 10^k metres not above m.
func niceLength(m float64) float64 {
	if m <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{5, 2, 1} {
		if f*p <= m {
			return f * p
		}
	}
	return p
}

// lengthLabel formats metres the German way: "500 m", "1,2 km".
func lengthLabel(m float64) string {
	if m < 1000 {
		return strconv.Itoa(int(math.Round(m/10)*10)) + " m"
	}
	km := strconv.FormatFloat(math.Round(m/100)/10, 'f', -1, 64)
	return strings.Replace(km, ".", ",", 1) + " km"
}

// num formats a coordinate in metres to a decimetre, without "-0.0".
func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if s == "-0.0" {
		return "0.0"
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }
