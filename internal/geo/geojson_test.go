package geo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/paulmach/orb"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Small builders for zone files in tests.

func fc(features ...string) string {
	return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
}

func feature(id, geometry string) string {
	return `{"type":"Feature","properties":{"zone_id":` + id + `,"name":"Zone X","bezirk":"Mitte","gebuehr":3},"geometry":` + geometry + `}`
}

func polygon(rings ...string) string {
	return `{"type":"Polygon","coordinates":[` + strings.Join(rings, ",") + `]}`
}

const (
	unitSquare = `[[13,52],[13.01,52],[13.01,52.01],[13,52.01],[13,52]]`
	hole       = `[[13.004,52.004],[13.004,52.006],[13.006,52.006],[13.006,52.004],[13.004,52.004]]`
)

func TestParseZonesBerlin(t *testing.T) {
	data, err := os.ReadFile(berlinZonesFile)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	zones, err := ParseZones(bytes.NewReader(data), ParseOptions{
		Tenant: "110000000000", Source: "berlin.geojson",
		ValidFrom: time.Date(2026, 1, 1, 15, 4, 0, 0, time.FixedZone("CET", 3600)),
	})
	if err != nil {
		t.Fatalf("ParseZones(berlin.geojson): %v", err)
	}
	t.Logf("parsed and validated %d zones in %v", len(zones), time.Since(start))
	if len(zones) != 102 {
		t.Errorf("got %d zones, want 102", len(zones))
	}
	byID := map[string]*Zone{}
	for i := range zones {
		byID[zones[i].ID] = &zones[i]
	}
	z29 := byID["29"]
	if z29 == nil {
		t.Fatal("zone 29 missing")
	}
	want := Zone{Tenant: "110000000000", ID: "29", Name: "Zone 29", District: "Mitte", Source: "berlin.geojson",
		ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	got := *z29
	got.Geometry, got.Properties = nil, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("zone 29 (-want +got):\n%s", diff)
	}
	for _, k := range []string{"gebuehr", "zeiten", "besonderheiten", "bezirk_slug", "city_slug"} {
		if _, ok := z29.Properties[k]; !ok {
			t.Errorf("zone 29 Properties lacks %q: %v", k, z29.Properties)
		}
	}
	for _, k := range []string{"zone_id", "name", "bezirk"} {
		if _, ok := z29.Properties[k]; ok {
			t.Errorf("zone 29 Properties keeps %q, which has its own field", k)
		}
	}
	// The repairs described at validateMultiPolygon.
	if n := len(byID["19"].Geometry); n != 1 {
		t.Errorf("zone 19 has %d polygons, want 1 (the two-point sliver dropped)", n)
	}
	if n := len(byID["66"].Geometry[0][0]); n != 56 {
		t.Errorf("zone 66 ring has %d positions, want 56 (57 less the spike vertex)", n)
	}
}

func TestParseZonesValid(t *testing.T) {
	tests := []struct {
		name  string
		input string
		opts  ParseOptions
		check func(t *testing.T, zs []Zone)
	}{
		{"polygon with hole", fc(feature(`"7"`, polygon(unitSquare, hole))), ParseOptions{}, func(t *testing.T, zs []Zone) {
			if got := len(zs[0].Geometry[0]); got != 2 {
				t.Errorf("got %d rings, want 2", got)
			}
		}},
		{"multipolygon", fc(feature(`"7"`, `{"type":"MultiPolygon","coordinates":[[`+unitSquare+`],[[[14,52],[14.01,52],[14,52.01],[14,52]]]]}`)), ParseOptions{}, func(t *testing.T, zs []Zone) {
			if got := len(zs[0].Geometry); got != 2 {
				t.Errorf("got %d polygons, want 2", got)
			}
		}},
		{"numeric zone id", fc(feature(`29`, polygon(unitSquare))), ParseOptions{}, func(t *testing.T, zs []Zone) {
			if zs[0].ID != "29" {
				t.Errorf("got ID %q, want %q", zs[0].ID, "29")
			}
		}},
		{"altitude is ignored", fc(feature(`"1"`, polygon(`[[13,52,30],[13.01,52,30],[13.01,52.01,31],[13,52,30]]`))), ParseOptions{}, func(t *testing.T, zs []Zone) {
			if got := zs[0].Geometry[0][0][1]; got != (orb.Point{13.01, 52}) {
				t.Errorf("got %v, want [13.01 52]", got)
			}
		}},
		{"repeated consecutive positions are dropped", fc(feature(`"1"`, polygon(`[[13,52],[13,52],[13.01,52],[13.01,52.01],[13.01,52.01],[13,52]]`))), ParseOptions{}, func(t *testing.T, zs []Zone) {
			if got := len(zs[0].Geometry[0][0]); got != 4 {
				t.Errorf("got %d positions, want 4", got)
			}
		}},
		{"zero-width spike is cut off", fc(feature(`"1"`, polygon(`[[13,52],[13.01,52],[13.02,52],[13.01,52],[13.01,52.01],[13,52]]`))), ParseOptions{}, func(t *testing.T, zs []Zone) {
			want := orb.Ring{{13, 52}, {13.01, 52}, {13.01, 52.01}, {13, 52}}
			if diff := cmp.Diff(want, zs[0].Geometry[0][0]); diff != "" {
				t.Errorf("ring (-want +got):\n%s", diff)
			}
		}},
		{"sliver polygon is dropped", fc(feature(`"1"`, `{"type":"MultiPolygon","coordinates":[[[[13,52],[13.001,52],[13,52],[13,52]]],[`+unitSquare+`]]}`)), ParseOptions{}, func(t *testing.T, zs []Zone) {
			if got := len(zs[0].Geometry); got != 1 {
				t.Errorf("got %d polygons, want 1", got)
			}
		}},
		{"own property names", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"parkzone":"A1","bez":"Altstadt","gebiet":"Altstadt Nord"},"geometry":` + polygon(unitSquare) + `}]}`,
			ParseOptions{IDProperty: "parkzone", NameProperty: "gebiet", DistrictProperty: "bez"}, func(t *testing.T, zs []Zone) {
				got := [3]string{zs[0].ID, zs[0].Name, zs[0].District}
				if want := [3]string{"A1", "Altstadt Nord", "Altstadt"}; got != want {
					t.Errorf("got %q, want %q", got, want)
				}
				if zs[0].Properties != nil {
					t.Errorf("got Properties %v, want none left", zs[0].Properties)
				}
			}},
		{"name defaults to the ID", `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"zone_id":"5"},"geometry":` + polygon(unitSquare) + `}]}`,
			ParseOptions{}, func(t *testing.T, zs []Zone) {
				if zs[0].Name != "5" {
					t.Errorf("got Name %q, want %q", zs[0].Name, "5")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zs, err := ParseZones(strings.NewReader(tt.input), tt.opts)
			if err != nil {
				t.Fatalf("ParseZones: %v", err)
			}
			if len(zs) != 1 {
				t.Fatalf("got %d zones, want 1", len(zs))
			}
			tt.check(t, zs)
		})
	}
}

func TestParseZonesRejects(t *testing.T) {
	sq := polygon(unitSquare)
	tests := []struct {
		name    string
		input   string
		feature int    // want Problem.Feature
		zoneID  string // want Problem.ZoneID
		reason  string // want a substring of Problem.Reason
	}{
		{"empty", "", -1, "", "leer"},
		{"blank", " \n\t", -1, "", "leer"},
		{"not JSON", "{\n  \"type\": oops", -1, "", "kein gültiges JSON (Zeile 2, Spalte"},
		{"array", `[]`, -1, "", "keine GeoJSON-FeatureCollection"},
		{"no type", `{"features":[]}`, -1, "", "es fehlt"},
		{"a Feature", feature(`"1"`, sq), -1, "", "vom Typ „Feature“"},
		{"features not an array", `{"type":"FeatureCollection","features":{}}`, -1, "", "keine GeoJSON-FeatureCollection"},
		{"no features", fc(), -1, "", "keine Zonen"},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), -1, "", "zu tief verschachtelt"},
		{"feature not an object", fc(`1`), 0, "", "kein JSON-Objekt"},
		{"element not a Feature", fc(`{"type":"Polygon"}`), 0, "", "erwartet ist „Feature“"},
		{"properties not an object", fc(`{"type":"Feature","properties":[1],"geometry":` + sq + `}`), 0, "", "\"properties\" ist kein JSON-Objekt"},
		{"no properties", fc(`{"type":"Feature","geometry":` + sq + `}`), 0, "", "„zone_id“ (Zonenkennung) fehlt"},
		{"zone id missing", fc(`{"type":"Feature","properties":{"name":"x"},"geometry":` + sq + `}`), 0, "", "fehlt"},
		{"zone id empty", fc(feature(`"  "`, sq)), 0, "", "ist leer"},
		{"zone id not text", fc(feature(`true`, sq)), 0, "", "Text oder eine Zahl"},
		{"zone id too long", fc(feature(`"`+strings.Repeat("x", 65)+`"`, sq)), 0, "", "länger als 64"},
		{"duplicate zone id", fc(feature(`"7"`, sq), feature(`"8"`, sq), feature(`"7"`, sq)), 2, "7", "kommt mehrfach vor (zuerst in features[0])"},
		{"no geometry", fc(`{"type":"Feature","properties":{"zone_id":"1"}}`), 0, "1", "keine Geometrie"},
		{"null geometry", fc(feature(`"1"`, `null`)), 0, "1", "keine Geometrie"},
		{"point", fc(feature(`"1"`, `{"type":"Point","coordinates":[13,52]}`)), 0, "1", "„Point“ wird nicht unterstützt"},
		{"line", fc(feature(`"1"`, `{"type":"LineString","coordinates":[[13,52],[14,52]]}`)), 0, "1", "„LineString“ wird nicht unterstützt"},
		{"collection", fc(feature(`"1"`, `{"type":"GeometryCollection","geometries":[]}`)), 0, "1", "„GeometryCollection“ wird nicht unterstützt"},
		{"no coordinates", fc(feature(`"1"`, `{"type":"Polygon"}`)), 0, "1", "keine Koordinaten"},
		{"coordinates are text", fc(feature(`"1"`, `{"type":"Polygon","coordinates":[[["13","52"]]]}`)), 0, "1", "kein Polygon"},
		{"multipolygon nested wrong", fc(feature(`"1"`, `{"type":"MultiPolygon","coordinates":[`+unitSquare+`]}`)), 0, "1", "kein MultiPolygon"},
		{"no polygon", fc(feature(`"1"`, `{"type":"MultiPolygon","coordinates":[]}`)), 0, "1", "kein Polygon"},
		{"no ring", fc(feature(`"1"`, `{"type":"Polygon","coordinates":[]}`)), 0, "1", "Polygon 1 hat keinen Ring"},
		{"polygon without ring in multipolygon", fc(feature(`"1"`, `{"type":"MultiPolygon","coordinates":[[]]}`)), 0, "1", "Polygon 1 hat keinen Ring"},
		{"short position", fc(feature(`"1"`, polygon(`[[13,52],[13.01],[13.01,52.01],[13,52]]`))), 0, "1", "Position 2 hat weniger als zwei Koordinaten"},
		{"huge number", fc(feature(`"1"`, polygon(`[[13,52],[1e400,52],[13.01,52.01],[13,52]]`))), 0, "1", "kein Polygon"},
		{"unclosed ring", fc(feature(`"1"`, polygon(`[[13,52],[13.01,52],[13.01,52.01],[13,52.01]]`))), 0, "1", "nicht geschlossen"},
		{"three positions", fc(feature(`"1"`, polygon(`[[13,52],[13.01,52],[13,52]]`))), 0, "1", "3 Positionen, mindestens 4"},
		{"empty ring", fc(feature(`"1"`, polygon(`[]`))), 0, "1", "0 Positionen"},
		{"all points equal", fc(feature(`"1"`, polygon(`[[13,52],[13,52],[13,52],[13,52]]`))), 0, "1", "keine Fläche"},
		{"collinear", fc(feature(`"1"`, polygon(`[[13,52],[13.01,52],[13.02,52],[13,52]]`))), 0, "1", "keine Fläche"},
		{"bow tie", fc(feature(`"1"`, polygon(`[[13,52],[13.01,52.01],[13.01,52],[13,52.01],[13,52]]`))), 0, "1", "schneidet oder berührt sich selbst (Kanten 1 und 3"},
		{"figure eight through a vertex", fc(feature(`"1"`, polygon(`[[13,52],[13.01,52],[13.005,52.005],[13.01,52.01],[13,52.01],[13.005,52.005],[13,52]]`))), 0, "1", "schneidet oder berührt sich selbst"},
		{"vertex touching an edge", fc(feature(`"1"`, polygon(`[[13,52],[13.02,52],[13.02,52.02],[13.01,52],[13,52.02],[13,52]]`))), 0, "1", "schneidet oder berührt sich selbst"},
		{"wide spike crossing", fc(feature(`"1"`, polygon(`[[13,52],[13.01,52],[13.01,52.01],[13.02,52.0101],[13.005,52.0099],[13,52.01],[13,52]]`))), 0, "1", "schneidet oder berührt sich selbst"},
		{"longitude out of range", fc(feature(`"1"`, polygon(`[[13,52],[181,52],[13.01,52.01],[13,52]]`))), 0, "1", "Position 2 (181, 52) liegt außerhalb von WGS84"},
		{"latitude out of range", fc(feature(`"1"`, polygon(`[[13,52],[13.01,-91],[13.01,52.01],[13,52]]`))), 0, "1", "außerhalb von WGS84"},
		{"projected coordinates", fc(feature(`"1"`, polygon(`[[390000,5820000],[391000,5820000],[391000,5821000],[390000,5820000]]`))), 0, "1", "projiziert oder vertauscht"},
		{"bad hole", fc(feature(`"1"`, polygon(unitSquare, `[[13.004,52.004],[13.006,52.004],[13.004,52.004]]`))), 0, "1", "Polygon 1, Ring 2: Der Ring hat 3 Positionen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zs, err := ParseZones(strings.NewReader(tt.input), ParseOptions{})
			if err == nil {
				t.Fatalf("ParseZones = %d zones, nil error; want a problem %q", len(zs), tt.reason)
			}
			if zs != nil {
				t.Errorf("got %d zones with the error, want none", len(zs))
			}
			if k := errs.KindOf(err); k != errs.Invalid {
				t.Errorf("got kind %v, want %v", k, errs.Invalid)
			}
			var ie *ImportError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("got %T %v, want *ImportError with problems", err, err)
			}
			p := ie.Problems[0]
			if p.Feature != tt.feature || p.ZoneID != tt.zoneID || !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("got problem %+v, want feature %d, zone %q, reason containing %q", p, tt.feature, tt.zoneID, tt.reason)
			}
			if msg := errs.MessageOf(err); !strings.Contains(msg, tt.reason) {
				t.Errorf("user message %q does not contain %q", msg, tt.reason)
			}
		})
	}
}

func TestParseZonesReportsAllProblems(t *testing.T) {
	sq := polygon(unitSquare)
	input := fc(
		feature(`"1"`, `null`),
		feature(`"2"`, sq),
		feature(`"3"`, polygon(`[[13,52],[13.01,52],[13,52]]`)),
		feature(`"2"`, `{"type":"Point","coordinates":[13,52]}`),
	)
	_, err := ParseZones(strings.NewReader(input), ParseOptions{})
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want *ImportError", err)
	}
	type pz struct {
		Feature int
		ZoneID  string
	}
	var got []pz
	for _, p := range ie.Problems {
		got = append(got, pz{p.Feature, p.ZoneID})
	}
	// Feature 3 has two problems: a duplicate ID and a wrong geometry type.
	want := []pz{{0, "1"}, {2, "3"}, {3, "2"}, {3, "2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s\n%v", diff, err)
	}
	if !strings.HasPrefix(err.Error(), "Die Zonendatei enthält 4 Fehler: features[0] (Zone „1“): Das Feature hat keine Geometrie.") {
		t.Errorf("got message %q", err.Error())
	}

	_, err = ParseZones(strings.NewReader(input), ParseOptions{MaxProblems: 2})
	if !errors.As(err, &ie) || len(ie.Problems) != 2 || ie.Omitted != 2 {
		t.Fatalf("with MaxProblems 2: got %v, want 2 problems and 2 omitted", err)
	}
	if !strings.HasSuffix(err.Error(), "; und 2 weitere") {
		t.Errorf("got message %q, want it to end in %q", err.Error(), "; und 2 weitere")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestParseZonesReadError(t *testing.T) {
	_, err := ParseZones(failingReader{}, ParseOptions{})
	if err == nil || errs.KindOf(err) != errs.Internal {
		t.Errorf("got %v (kind %v), want an internal error: a failed read is not the user's fault", err, errs.KindOf(err))
	}
}

func TestSegmentsIntersect(t *testing.T) {
	p := func(x, y float64) orb.Point { return orb.Point{x, y} }
	tests := []struct {
		a, b, c, d orb.Point
		want       bool
	}{
		{p(0, 0), p(2, 2), p(0, 2), p(2, 0), true},             // cross
		{p(0, 0), p(1, 1), p(2, 2), p(3, 3), false},            // collinear, apart
		{p(0, 0), p(2, 2), p(1, 1), p(3, 3), true},             // collinear, overlapping
		{p(0, 0), p(2, 0), p(1, 0), p(1, 5), true},             // T
		{p(0, 0), p(2, 0), p(1, 1e-300), p(1, 5), false},       // just above
		{p(0, 0), p(2, 0), p(1, -1e-300), p(1, 5), true},       // just through
		{p(0.1, 0.1), p(0.3, 0.3), p(0.2, 0.2), p(1, 0), true}, // on the line, needs exact arithmetic
		{p(0, 0), p(1, 0), p(0, 1), p(1, 1), false},            // parallel
	}
	for _, tt := range tests {
		if got := segmentsIntersect(tt.a, tt.b, tt.c, tt.d); got != tt.want {
			t.Errorf("segmentsIntersect(%v, %v, %v, %v) = %v, want %v", tt.a, tt.b, tt.c, tt.d, got, tt.want)
		}
	}
}

func TestOrientIsExact(t *testing.T) {
	// 0.1, 0.2, 0.3 are not exact in binary; whether (0.2, 0.2) lies left or
	// right of the line from (0.1, 0.1) to (0.3, 0.3) depends on the last
	// bit, and only exact arithmetic gets it right every time.
	a, b, c := orb.Point{0.1, 0.1}, orb.Point{0.3, 0.3}, orb.Point{0.2, 0.2}
	if got, want := orient(a, b, c), orientExact(a, b, c); got != want {
		t.Errorf("orient = %d, exact = %d", got, want)
	}
	for i := range 1000 {
		x := float64(i) * 0.001
		a, b, c := orb.Point{x, x}, orb.Point{x + 0.7, x + 0.7}, orb.Point{x + 0.3, x + 0.3}
		if got, want := orient(a, b, c), orientExact(a, b, c); got != want {
			t.Fatalf("orient(%v, %v, %v) = %d, exact = %d", a, b, c, got, want)
		}
	}
}

func BenchmarkParseZonesBerlin(b *testing.B) {
	data, err := os.ReadFile(berlinZonesFile)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseZones(bytes.NewReader(data), ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseZones: whatever the input, no panic; an error is always Invalid
// (the reader cannot fail); accepted zones satisfy what the index and the
// database rely on.
func FuzzParseZones(f *testing.F) {
	f.Add([]byte(fc(feature(`"1"`, polygon(unitSquare, hole)))))
	f.Fuzz(func(t *testing.T, data []byte) {
		zones, err := ParseZones(bytes.NewReader(data), ParseOptions{})
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				t.Fatalf("got kind %v for %v, want invalid", errs.KindOf(err), err)
			}
			if zones != nil {
				t.Fatalf("got zones and an error")
			}
			return
		}
		if len(zones) == 0 {
			t.Fatal("no zones and no error")
		}
		seen := map[string]bool{}
		for _, z := range zones {
			if z.ID == "" || seen[z.ID] {
				t.Fatalf("zone ID %q empty or repeated", z.ID)
			}
			seen[z.ID] = true
			if len(z.Geometry) == 0 {
				t.Fatalf("zone %q has no polygon", z.ID)
			}
			for _, poly := range z.Geometry {
				for _, r := range poly {
					if len(r) < 4 || r[0] != r[len(r)-1] {
						t.Fatalf("zone %q: ring %v not closed or too short", z.ID, r)
					}
					if v := distinctVertices(r); len(v) < 3 {
						t.Fatalf("zone %q: ring %v has no area", z.ID, r)
					} else if i, j, bad := ringSelfIntersection(v); bad {
						t.Fatalf("zone %q: ring crosses itself at edges %d, %d", z.ID, i, j)
					}
				}
			}
		}
		ix := NewIndex(zones)
		p := zones[0].Geometry[0][0][0]
		got := ix.Lookup(Point{p[0], p[1]})
		want := BruteForce(zones, Point{p[0], p[1]})
		if fmt.Sprint(zoneIDs(got)) != fmt.Sprint(zoneIDs(want)) {
			t.Fatalf("Lookup = %v, BruteForce = %v", zoneIDs(got), zoneIDs(want))
		}
	})
}
