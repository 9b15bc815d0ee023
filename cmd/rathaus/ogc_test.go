package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

type ogcPage struct {
	Type           string `json:"type"`
	NumberMatched  int    `json:"numberMatched"`
	NumberReturned int    `json:"numberReturned"`
	Features       []struct {
		ID       string `json:"id"`
		Geometry struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
		Properties map[string]any `json:"properties"`
	} `json:"features"`
	Links []struct{ Href, Rel string } `json:"links"`
}

func (p ogcPage) next() string {
	for _, l := range p.Links {
		if l.Rel == "next" {
			return l.Href
		}
	}
	return ""
}

// OGC API – Features, as a GIS client reads it: landing page,
// conformance, collections, items with limit, bbox and next links, single
// items; bad parameters get 400, unknown things 404.
func TestOGCAPIFeatures(t *testing.T) {
	s := demoServer(t)
	var landing struct{ Links []struct{ Href, Rel string } }
	s.get(t, "/ogc").json(t, &landing)
	rels := map[string]string{}
	for _, l := range landing.Links {
		rels[l.Rel] = l.Href
	}
	if rels["conformance"] != "/ogc/conformance" || rels["data"] != "/ogc/collections" {
		t.Errorf("landing page links: %v", rels)
	}
	var conf struct{ ConformsTo []string }
	s.get(t, "/ogc/conformance").json(t, &conf)
	if !strings.Contains(strings.Join(conf.ConformsTo, " "), "ogcapi-features-1/1.0/conf/core") {
		t.Errorf("conformance: %v", conf.ConformsTo)
	}
	var cols struct {
		Collections []struct {
			ID     string
			Extent struct{ Spatial struct{ Bbox [][]float64 } }
		}
	}
	s.get(t, "/ogc/collections").json(t, &cols)
	if len(cols.Collections) != 2 || cols.Collections[0].ID != "parkzonen" || len(cols.Collections[0].Extent.Spatial.Bbox) != 1 ||
		cols.Collections[0].Extent.Spatial.Bbox[0][0] < 13 || cols.Collections[0].Extent.Spatial.Bbox[0][0] > 14 {
		t.Errorf("collections: %+v", cols)
	}

	// Zones: pages of 40 follow their next links to all of them.
	var page ogcPage
	r := s.get(t, "/ogc/collections/parkzonen/items?limit=40")
	if r.header.Get("Content-Type") != "application/geo+json" {
		t.Errorf("items Content-Type %q", r.header.Get("Content-Type"))
	}
	r.json(t, &page)
	total, seen := page.NumberMatched, map[string]bool{}
	for pages := 0; ; pages++ {
		if page.Type != "FeatureCollection" || page.NumberReturned != len(page.Features) || pages > 10 {
			t.Fatalf("page %d: %+v", pages, page.NumberReturned)
		}
		for _, f := range page.Features {
			if f.Geometry.Type != "MultiPolygon" || seen[f.ID] {
				t.Fatalf("feature %s: %s, seen %v", f.ID, f.Geometry.Type, seen[f.ID])
			}
			seen[f.ID] = true
		}
		next := page.next()
		if next == "" {
			break
		}
		page = ogcPage{}
		s.get(t, next).json(t, &page)
	}
	if total < 100 || len(seen) != total {
		t.Errorf("%d zones seen over the pages, %d matched", len(seen), total)
	}
	// A bbox around Zone 29 (Mitte) finds it and not all.
	var z29 struct {
		Geometry   struct{ Type string }
		Properties map[string]any
	}
	s.get(t, "/ogc/collections/parkzonen/items/29").json(t, &z29)
	if z29.Geometry.Type != "MultiPolygon" || z29.Properties["zone_id"] != "29" {
		t.Fatalf("zone 29: %+v", z29)
	}
	page = ogcPage{}
	s.get(t, "/ogc/collections/parkzonen/items?bbox="+url.QueryEscape("13.37,52.52,13.38,52.53")+"&limit=1000").json(t, &page)
	if page.NumberMatched == 0 || page.NumberMatched >= total {
		t.Errorf("bbox in Mitte: %d of %d zones", page.NumberMatched, total)
	}
	// Addresses in a small box, paged; one by its ID.
	page = ogcPage{}
	s.get(t, "/ogc/collections/adressen/items?bbox=13.37,52.52,13.39,52.53&limit=5").json(t, &page)
	if page.NumberMatched == 0 || page.NumberReturned != min(5, page.NumberMatched) || (page.NumberMatched > 5 && page.next() == "") {
		t.Fatalf("addresses in a box: matched %d, returned %d, next %q", page.NumberMatched, page.NumberReturned, page.next())
	}
	first := page.Features[0]
	var one struct {
		ID         string
		Geometry   struct{ Type string }
		Properties map[string]any
	}
	s.get(t, "/ogc/collections/adressen/items/"+first.ID).json(t, &one)
	if one.Geometry.Type != "Point" || one.Properties["strasse"] != first.Properties["strasse"] {
		t.Errorf("address %s: %+v", first.ID, one)
	}
	for path, want := range map[string]int{
		"/ogc/collections/parkzonen/items?bbox=1,2,3":              400,
		"/ogc/collections/parkzonen/items?bbox=14,52,13,53":        400,
		"/ogc/collections/parkzonen/items?limit=0":                 400,
		"/ogc/collections/parkzonen/items?limit=100000":            400,
		"/ogc/collections/parkzonen/items?offset=-1":               400,
		"/ogc/collections/parkzonen/items?filter=x":                400,
		"/ogc/collections/gibtsnicht/items":                        404,
		"/ogc/collections/parkzonen/items/9999":                    404,
		"/ogc/collections/adressen/items/" + url.PathEscape("x|y"): 404,
	} {
		if r := s.get(t, path); r.status != want {
			t.Errorf("%s: %d, want %d", path, r.status, want)
		}
	}
}
