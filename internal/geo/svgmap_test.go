package geo

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func berlinZone(tb testing.TB, zones []Zone, id string) *Zone {
	tb.Helper()
	for i := range zones {
		if zones[i].ID == id {
			return &zones[i]
		}
	}
	tb.Fatalf("no zone %q", id)
	return nil
}

func TestRenderZoneMapGolden(t *testing.T) {
	zones := loadBerlinZones(t)
	z29 := berlinZone(t, zones, "29")
	var context []*Zone
	for i := range zones {
		context = append(context, &zones[i])
	}
	marker := &Point{13.3986266, 52.5237445} // Oranienburger Straße 13
	var buf bytes.Buffer
	if err := RenderZoneMap(&buf, z29, marker, MapOptions{Context: context, NorthArrow: true}); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "zone29.golden.svg")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestRenderZoneMapGolden -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("output differs from %s; if the change is intended, run go test -run TestRenderZoneMapGolden -update and review the diff", golden)
	}
	// Rendering is deterministic, also with the context in another order.
	var again bytes.Buffer
	for i, j := 0, len(context)-1; i < j; i, j = i+1, j-1 {
		context[i], context[j] = context[j], context[i]
	}
	if err := RenderZoneMap(&again, z29, marker, MapOptions{Context: context, NorthArrow: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("a second rendering differs from the first")
	}
}

// svgInfo is what the accessibility and CSP checks read from a map.
type svgInfo struct {
	elements    map[string]int
	title, desc string
	ids         map[string]bool
	labelledBy  string
	styleAttrs  int
	viewBox     string
}

func inspectSVG(t *testing.T, data []byte) svgInfo {
	t.Helper()
	info := svgInfo{elements: map[string]int{}, ids: map[string]bool{}}
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			info.elements[tok.Name.Local]++
			stack = append(stack, tok.Name.Local)
			for _, a := range tok.Attr {
				switch {
				case a.Name.Local == "style" || strings.HasPrefix(strings.ToLower(a.Name.Local), "on"):
					info.styleAttrs++
				case a.Name.Local == "id":
					info.ids[a.Value] = true
				case a.Name.Local == "aria-labelledby":
					info.labelledBy = a.Value
				case a.Name.Local == "viewBox":
					info.viewBox = a.Value
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 2 && stack[1] == "title" {
				info.title += string(tok)
			}
			if len(stack) == 2 && stack[1] == "desc" {
				info.desc += string(tok)
			}
		}
	}
	return info
}

func TestRenderZoneMapAccessibleAndCSPSafe(t *testing.T) {
	zones := loadBerlinZones(t)
	z29 := berlinZone(t, zones, "29")
	tests := []struct {
		name     string
		marker   *Point
		opts     MapOptions
		wantDesc string
		circles  int
	}{
		{"marker inside", &Point{13.3986266, 52.5237445}, MapOptions{}, "sie liegt in der Zone", 2},
		{"marker outside", &Point{13.3536389, 52.5336632}, MapOptions{IDPrefix: "karte2"}, "sie liegt außerhalb der Zone", 2},
		{"no marker", nil, MapOptions{Width: 300}, "Zone 29 (Mitte), etwa", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := RenderZoneMap(&buf, z29, tt.marker, tt.opts); err != nil {
				t.Fatal(err)
			}
			info := inspectSVG(t, buf.Bytes())
			if info.title != "Karte der Zone 29" {
				t.Errorf("title %q, want %q", info.title, "Karte der Zone 29")
			}
			if !strings.Contains(info.desc, tt.wantDesc) {
				t.Errorf("desc %q, want it to contain %q", info.desc, tt.wantDesc)
			}
			for _, id := range strings.Fields(info.labelledBy) {
				if !info.ids[id] {
					t.Errorf("aria-labelledby names %q, which no element has", id)
				}
			}
			if info.labelledBy == "" {
				t.Error("no aria-labelledby on <svg>")
			}
			if info.styleAttrs != 0 || info.elements["style"] != 0 || info.elements["script"] != 0 {
				t.Errorf("%d style/on* attributes, %d <style>, %d <script>; the CSP forbids them", info.styleAttrs, info.elements["style"], info.elements["script"])
			}
			if got := info.elements["circle"]; got != tt.circles {
				t.Errorf("%d circles, want %d", got, tt.circles)
			}
		})
	}
}

func TestRenderZoneMapViewFitsZoneAndMarker(t *testing.T) {
	z := square("7", 13.0, 52.0, 13.01, 52.01) // about 686 m × 1112 m
	far := &Point{13.05, 52.005}
	for _, tt := range []struct {
		marker *Point
		minW   float64 // metres the view must at least span from west to east
	}{{nil, 686}, {far, 3400}} {
		var buf bytes.Buffer
		if err := RenderZoneMap(&buf, &z, tt.marker, MapOptions{}); err != nil {
			t.Fatal(err)
		}
		var x, y, w, h float64
		vb := inspectSVG(t, buf.Bytes()).viewBox
		if _, err := fmt.Sscan(vb, &x, &y, &w, &h); err != nil {
			t.Fatalf("viewBox %q: %v", vb, err)
		}
		if w < tt.minW || h < 1112 || x > 0 || y > 0 {
			t.Errorf("marker %v: viewBox %q, want it to cover x 0..%.0f, y 0..1112", tt.marker, vb, tt.minW)
		}
	}
}

func TestRenderZoneMapErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderZoneMap(&buf, nil, nil, MapOptions{}); err == nil {
		t.Error("nil zone: no error")
	}
	if err := RenderZoneMap(&buf, &Zone{ID: "1"}, nil, MapOptions{}); err == nil {
		t.Error("zone without geometry: no error")
	}
	z := square("1", 13, 52, 13.01, 52.01)
	if err := RenderZoneMap(&buf, &z, &Point{Lon: 1 / zero(), Lat: 52}, MapOptions{}); err == nil {
		t.Error("infinite marker: no error")
	}
	if err := RenderZoneMap(failingWriter{}, &z, nil, MapOptions{}); err == nil {
		t.Error("failing writer: no error")
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %d bytes before failing, want none", buf.Len())
	}
}

func zero() float64 { return 0 }

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestScaleBar(t *testing.T) {
	nice := []struct{ m, want float64 }{
		{0.5, 1}, {12.5, 10}, {260, 200}, {499, 200}, {500, 500}, {1234, 1000}, {2600, 2000},
	}
	for _, tt := range nice {
		if got := niceLength(tt.m); got != tt.want {
			t.Errorf("niceLength(%v) = %v, want %v", tt.m, got, tt.want)
		}
	}
	labels := []struct {
		m    float64
		want string
	}{
		{10, "10 m"}, {200, "200 m"}, {994, "990 m"}, {1000, "1 km"}, {1250, "1,3 km"}, {2000, "2 km"},
	}
	for _, tt := range labels {
		if got := lengthLabel(tt.m); got != tt.want {
			t.Errorf("lengthLabel(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}
