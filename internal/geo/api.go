package geo

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/tenant"
	"opencode.de/rathaus/rathaus/internal/web"
)

// zoneRef is a zone as the API names it.
type zoneRef struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	District string `json:"district"`
}

func refs(zs []*Zone) []zoneRef {
	out := make([]zoneRef, 0, len(zs))
	for _, z := range zs {
		out = append(out, zoneRef{ID: z.ID, Name: z.Name, District: z.District})
	}
	return out
}

type zoneSummary struct {
	zoneRef
	ValidFrom string     `json:"valid_from"`
	ValidTo   *string    `json:"valid_to"`
	Source    string     `json:"source"`
	BBox      [4]float64 `json:"bbox"`
}

func (h *Handler) listZones(w http.ResponseWriter, r *http.Request) error {
	ars := r.PathValue("ars")
	m, err := h.svc.Municipality(r.Context(), ars)
	if err != nil {
		return err
	}
	zones, err := h.svc.Zones(r.Context(), ars)
	if err != nil {
		return err
	}
	out := struct {
		Municipality tenant.Municipality `json:"municipality"`
		Zones        []zoneSummary       `json:"zones"`
	}{Municipality: m, Zones: make([]zoneSummary, 0, len(zones))}
	for i := range zones {
		z := &zones[i]
		b := z.Geometry.Bound()
		s := zoneSummary{
			zoneRef:   zoneRef{ID: z.ID, Name: z.Name, District: z.District},
			ValidFrom: z.ValidFrom.Format(dateLayout),
			Source:    z.Source,
			BBox:      [4]float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]},
		}
		if z.ValidTo != nil {
			v := z.ValidTo.Format(dateLayout)
			s.ValidTo = &v
		}
		out.Zones = append(out.Zones, s)
	}
	return web.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) getZone(w http.ResponseWriter, r *http.Request) error {
	z, err := h.svc.Zone(r.Context(), r.PathValue("ars"), r.PathValue("zone"))
	if err != nil {
		return err
	}
	props := make(map[string]any, len(z.Properties)+6)
	for k, v := range z.Properties {
		props[k] = v
	}
	props["zone_id"] = z.ID
	props["name"] = z.Name
	props["district"] = z.District
	props["valid_from"] = z.ValidFrom.Format(dateLayout)
	props["valid_to"] = nil
	if z.ValidTo != nil {
		props["valid_to"] = z.ValidTo.Format(dateLayout)
	}
	props["source"] = z.Source
	b, err := json.Marshal(struct {
		Type       string           `json:"type"`
		ID         string           `json:"id"`
		Geometry   multiPolygonJSON `json:"geometry"`
		Properties map[string]any   `json:"properties"`
	}{"Feature", z.ID, multiPolygonJSON{"MultiPolygon", z.Geometry}, props})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err = w.Write(b)
	return err
}

// addressJSON is an address as the API shows it.
type addressJSON struct {
	Street      string  `json:"street"`
	HouseNumber string  `json:"house_number"`
	Postcode    string  `json:"postcode"`
	District    string  `json:"district,omitempty"`
	Lat         float64 `json:"lat"`
	Lon         float64 `json:"lon"`
	Label       string  `json:"label"`
}

func toJSON(a Address, city string) addressJSON {
	return addressJSON{Street: a.Street, HouseNumber: a.HouseNumber, Postcode: a.Postcode, District: a.District,
		Lat: a.Point.Lat, Lon: a.Point.Lon, Label: Label(a, city)}
}

func toJSONs(as []Address, city string) []addressJSON {
	if len(as) == 0 {
		return nil
	}
	out := make([]addressJSON, len(as))
	for i, a := range as {
		out[i] = toJSON(a, city)
	}
	return out
}

// Label formats an address the way a letter would: "Lehrter Straße 53, 10557 Berlin".
func Label(a Address, city string) string {
	s := a.Street + " " + a.HouseNumber
	switch {
	case a.Postcode != "" && city != "":
		s += ", " + a.Postcode + " " + city
	case a.Postcode != "":
		s += ", " + a.Postcode
	case city != "":
		s += ", " + city
	}
	return s
}

type lookupJSON struct {
	Status      string        `json:"status"`
	Query       string        `json:"query,omitempty"`
	Address     *addressJSON  `json:"address,omitempty"`
	Point       *Point        `json:"point,omitempty"`
	Zones       []zoneRef     `json:"zones"`
	Candidates  []addressJSON `json:"candidates,omitempty"`
	Suggestions []addressJSON `json:"suggestions,omitempty"`
}

func (h *Handler) zoneLookup(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ars := r.PathValue("ars")
	m, err := h.svc.Municipality(ctx, ars)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	_, hasAddr := q["address"]
	_, hasLat := q["lat"]
	_, hasLon := q["lon"]
	switch {
	case hasAddr && (hasLat || hasLon):
		return errs.Field("address", "Entweder address oder lat und lon angeben, nicht beides.")
	case hasAddr:
		if len(q["address"]) > 1 {
			return errs.Field("address", "Parameter address ist mehrfach angegeben.")
		}
		res, err := h.svc.LookupAddress(ctx, ars, q.Get("address"))
		if err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, lookupResultJSON(res, m.Name))
	case hasLat || hasLon:
		lat, err := coordinate(q, "lat", 90)
		if err != nil {
			return err
		}
		lon, err := coordinate(q, "lon", 180)
		if err != nil {
			return err
		}
		p := Point{Lon: lon, Lat: lat}
		zones, err := h.svc.ZonesAt(ctx, ars, p)
		if err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, lookupJSON{Status: "point", Point: &p, Zones: refs(zones)})
	}
	return errs.Field("address", "Parameter address (Adresse als Text) oder lat und lon (WGS84) fehlt.")
}

// lookupResultJSON: "found" for one address or one building (a house
// number range under one postcode: the address is labelled with the range,
// placed at its first address, and the zones are those of all its
// addresses); "ambiguous" only for candidates under several postcodes.
func lookupResultJSON(res AddressResult, city string) lookupJSON {
	out := lookupJSON{Query: res.Input, Zones: refs(res.Zones)}
	if res.Found != nil {
		out.Status = "found"
		j := toJSON(*res.Found, city)
		out.Address = &j
		return out
	}
	if len(res.Match.Addresses) > 1 {
		out.Status = "ambiguous"
		out.Candidates = toJSONs(res.Match.Addresses, city)
		return out
	}
	out.Status = "not_found"
	out.Suggestions = toJSONs(res.Match.Suggestions, city)
	return out
}

// coordinate parses a WGS84 coordinate parameter; limit is 90 or 180.
func coordinate(q map[string][]string, name string, limit float64) (float64, error) {
	vs := q[name]
	if len(vs) == 0 || strings.TrimSpace(vs[0]) == "" {
		return 0, errs.Field(name, "Parameter %s fehlt.", name)
	}
	if len(vs) > 1 {
		return 0, errs.Field(name, "Parameter %s ist mehrfach angegeben.", name)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(vs[0]), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errs.Field(name, "%s muss eine Dezimalzahl sein (z. B. 52.5244), nicht %q.", name, vs[0])
	}
	if v < -limit || v > limit {
		return 0, errs.Field(name, "%s muss zwischen %g und %g liegen.", name, -limit, limit)
	}
	return v, nil
}
