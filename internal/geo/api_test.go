package geo

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
	"opencode.de/rathaus/rathaus/internal/web"
)

// testServer serves the geo routes over a small register: Lehrter Straße
// 52–54 (one postcode) across the border of zones 75 and 76, a building
// whose numbers lie under two postcodes, and an address without postcode.
func testServer(t *testing.T, db *store.DB) *httptest.Server {
	t.Helper()
	svc, ctx := setup(t, db)
	zones := []Zone{
		{ID: "75", Name: "Zone 75", District: "Mitte", Geometry: sqMP(13.358, 52.534, 0.0005), Source: "t"},
		{ID: "76", Name: "Zone 76", District: "Mitte", Geometry: sqMP(13.3585, 52.534, 0.0005), Source: "t"},
		{ID: "29", Name: "Zone 29", District: "Mitte", Geometry: sqMP(13.40, 52.52, 0.02), Source: "t"},
	}
	addrs := []Address{
		addr("Lehrter Straße", "52", "10557", 13.3584, 52.5343),
		addr("Lehrter Straße", "53", "10557", 13.3584, 52.5342),
		addr("Lehrter Straße", "54", "10557", 13.3587, 52.5341),
		addr("Lehrter Straße", "60", "10557", 13.3581, 52.5344),
		addr("Lehrter Straße", "62", "10557", 13.3582, 52.5344),
		addr("Grenzweg", "1", "10115", 13.38, 52.53),
		addr("Grenzweg", "3", "10119", 13.39, 52.53),
		addr("Alte Schönhauser Straße", "8", "", 13.4081, 52.5273),
	}
	if err := db.Transact(ctx, func(tx *sql.Tx) error {
		if err := replaceZones(ctx, tx, testARS, zones, day("2024-01-01")); err != nil {
			return err
		}
		return replaceAddresses(ctx, tx, testARS, addrs)
	}); err != nil {
		t.Fatal(err)
	}
	assets, err := web.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(svc, assets)
	if err != nil {
		t.Fatal(err)
	}
	h.DefaultMunicipality = testARS
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestZoneLookupAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := testServer(t, db)
		lookup := func(t *testing.T, rawQuery string) (*http.Response, lookupJSON) {
			t.Helper()
			res, err := http.Get(srv.URL + "/api/v1/municipalities/" + testARS + "/zone-lookup?" + rawQuery)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var l lookupJSON
			if err := json.NewDecoder(res.Body).Decode(&l); err != nil {
				t.Fatal(err)
			}
			return res, l
		}
		zoneIDs := func(zs []zoneRef) string {
			var s []string
			for _, z := range zs {
				s = append(s, z.ID)
			}
			return strings.Join(s, ",")
		}
		tests := []struct {
			address     string
			status      string
			label       string // of the address found
			zones       string
			suggestions string // first suggestion's label
		}{
			// A range under one postcode is a building: found, with the
			// zones of all its addresses.
			{"Lehrter Str. 52-54", "found", "Lehrter Straße 52-54, 10557 Berlin", "75,76", ""},
			{"Lehrter Str. 52-54, 10557", "found", "Lehrter Straße 52-54, 10557 Berlin", "75,76", ""},
			{"Lehrter Str. 60-62", "found", "Lehrter Straße 60-62, 10557 Berlin", "75", ""},
			{"Lehrter Str. 53", "found", "Lehrter Straße 53, 10557 Berlin", "75", ""},
			// Several postcodes: never guessed.
			{"Grenzweg 1-3", "ambiguous", "", "", ""},
			// A postcode the address does not have: not the one without postcode.
			{"Alte Schönhauser Straße 8, 14199", "not_found", "", "", "Alte Schönhauser Straße 8, Berlin"},
			{"Alte Schönhauser Straße 8", "found", "Alte Schönhauser Straße 8, Berlin", "29", ""},
		}
		for _, tt := range tests {
			t.Run(tt.address, func(t *testing.T) {
				res, l := lookup(t, url.Values{"address": {tt.address}}.Encode())
				if res.StatusCode != 200 {
					t.Fatalf("status %d", res.StatusCode)
				}
				if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store (the answer holds the address)", cc)
				}
				label := ""
				if l.Address != nil {
					label = l.Address.Label
				}
				first := ""
				if len(l.Suggestions) > 0 {
					first = l.Suggestions[0].Label
				}
				if l.Status != tt.status || label != tt.label || zoneIDs(l.Zones) != tt.zones || first != tt.suggestions {
					t.Errorf("got %s %q zones [%s] first suggestion %q, want %s %q zones [%s] first suggestion %q",
						l.Status, label, zoneIDs(l.Zones), first, tt.status, tt.label, tt.zones, tt.suggestions)
				}
				if tt.status == "ambiguous" && len(l.Candidates) != 2 {
					t.Errorf("candidates = %+v, want 2", l.Candidates)
				}
				if tt.label == "Lehrter Straße 52-54, 10557 Berlin" && l.Address != nil && (l.Address.Lat != 52.5343 || l.Address.Lon != 13.3584) {
					t.Errorf("building placed at %v,%v, want its first address 52.5343,13.3584", l.Address.Lat, l.Address.Lon)
				}
			})
		}

		// Coordinates answer without the address, and are not cached either.
		if res, l := lookup(t, "lat=52.5343&lon=13.3584"); res.Header.Get("Cache-Control") != "no-store" || zoneIDs(l.Zones) != "75" {
			t.Errorf("point lookup: Cache-Control %q, zones [%s]; want no-store, [75]", res.Header.Get("Cache-Control"), zoneIDs(l.Zones))
		}

		// A repeated parameter is an error naming it, as for lat and lon.
		for _, q := range []string{"address=Lehrter+Str.+53&address=Grenzweg+1", "lat=52.5&lat=52.6&lon=13.4"} {
			res, err := http.Get(srv.URL + "/api/v1/municipalities/" + testARS + "/zone-lookup?" + q)
			if err != nil {
				t.Fatal(err)
			}
			var p struct {
				Status int
				Errors []struct{ Parameter, Detail string }
			}
			json.NewDecoder(res.Body).Decode(&p)
			res.Body.Close()
			param, _, _ := strings.Cut(q, "=")
			if res.StatusCode != 400 || len(p.Errors) != 1 || p.Errors[0].Parameter != param || !strings.Contains(p.Errors[0].Detail, "mehrfach") {
				t.Errorf("%s: status %d, errors %+v; want 400 naming %s as repeated", q, res.StatusCode, p.Errors, param)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control = %q, want no-store", q, cc)
			}
		}
	}, tenant.Migrations, Migrations)
}

func TestZonePageBuilding(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		srv := testServer(t, db)
		post := func(address string) string {
			t.Helper()
			res, err := http.PostForm(srv.URL+"/zonen", url.Values{"adresse": {address}})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != 200 {
				t.Fatalf("POST /zonen %q: status %d", address, res.StatusCode)
			}
			return string(b)
		}
		body := post("Lehrter Str. 52-54")
		for _, want := range []string{
			"Lehrter Straße 52-54, 10557 Berlin liegt in der Bewohnerparkzone 75 und in der Bewohnerparkzone 76.",
			`id="zonemap-0-title"`, `id="zonemap-1-title"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page for a building across two zones lacks %q", want)
			}
		}
		if strings.Contains(body, "Postleitzahl") {
			t.Error("a building under one postcode is offered postcodes to choose from")
		}
		if body := post("Grenzweg 1-3"); !strings.Contains(body, "mehreren Postleitzahlen") || !strings.Contains(body, "Grenzweg 3, 10119") {
			t.Error("a range under two postcodes does not offer both")
		}
		if body := post("Alte Schönhauser Straße 8, 14199"); !strings.Contains(body, "nicht bekannt") || !strings.Contains(body, `value="Alte Schönhauser Straße 8"`) {
			t.Error("an address under a postcode it does not have is not answered as unknown with the address as suggestion")
		}
	}, tenant.Migrations, Migrations)
}
