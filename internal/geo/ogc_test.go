package geo

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// OGC API – Features on both engines: counts, bbox, paging with next links
// and single address points (the demo test covers the full Berlin data
// on SQLite).
func TestOGCItems(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := testServer(t, db)
		get := func(path string, v any) int {
			t.Helper()
			res, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if v != nil && res.StatusCode == 200 {
				if err := json.NewDecoder(res.Body).Decode(v); err != nil {
					t.Fatal(err)
				}
			}
			return res.StatusCode
		}
		type page struct {
			NumberMatched, NumberReturned int
			Features                      []struct {
				ID         string
				Properties map[string]any
			}
			Links []struct{ Href, Rel string }
		}
		var p page
		if code := get("/ogc/collections/adressen/items?limit=3", &p); code != 200 || p.NumberMatched != 8 || p.NumberReturned != 3 {
			t.Fatalf("addresses: %d %+v", code, p)
		}
		next := ""
		for _, l := range p.Links {
			if l.Rel == "next" {
				next = l.Href
			}
		}
		var p2 page
		if next == "" || get(next, &p2) != 200 || p2.NumberReturned != 3 || p2.Features[0].ID == p.Features[0].ID {
			t.Errorf("next page %q: %+v", next, p2)
		}
		// Lehrter Straße only: a box around 13.3581–13.3587, 52.5341–52.5344.
		var box page
		get("/ogc/collections/adressen/items?bbox="+url.QueryEscape("13.358,52.534,13.359,52.535"), &box)
		if box.NumberMatched != 5 {
			t.Errorf("bbox: %d addresses, want the 5 of Lehrter Straße", box.NumberMatched)
		}
		var one struct{ Properties map[string]any }
		if code := get("/ogc/collections/adressen/items/"+box.Features[0].ID, &one); code != 200 || one.Properties["strasse"] != "Lehrter Straße" {
			t.Errorf("one address: %d %+v", code, one)
		}
		var zones page
		get("/ogc/collections/parkzonen/items?bbox=13.357,52.533,13.359,52.535", &zones)
		if zones.NumberMatched != 2 {
			t.Errorf("zones in the Lehrter Straße box: %d, want 75 and 76", zones.NumberMatched)
		}
		var cols struct{ Collections []struct{ ID string } }
		if get("/ogc/collections", &cols) != 200 || len(cols.Collections) != 2 {
			t.Errorf("collections: %+v", cols)
		}
	}, tenant.Migrations, Migrations)
}
