package geo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/web"
)

// OGC API – Features (Part 1: Core, GeoJSON) for GIS tools: QGIS or any
// OGC client reads the municipality's parking zones in force today and its
// address points under /ogc. Collections are "parkzonen" and "adressen"
// of the default municipality; items take bbox (CRS84: lon,lat,lon,lat),
// limit (1–1000, default 100) and offset, and link to the next page.
// Both are public data (the zones are published by the city, the address
// points come from OpenStreetMap).

const (
	ogcBase         = "/ogc"
	ogcDefaultLimit = 100
	ogcMaxLimit     = 1000
	geoJSONType     = "application/geo+json"
)

var ogcConformance = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
}

type ogcLink struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// ogcRoutes registers the OGC API routes.
func (h *Handler) ogcRoutes(mux Mux) {
	mux.Handle("GET "+ogcBase, web.API(h.ogcLanding))
	mux.Handle("GET "+ogcBase+"/conformance", web.API(h.ogcConformance))
	mux.Handle("GET "+ogcBase+"/collections", web.API(h.ogcCollections))
	mux.Handle("GET "+ogcBase+"/collections/{cid}", web.API(h.ogcCollection))
	mux.Handle("GET "+ogcBase+"/collections/{cid}/items", web.API(h.ogcItems))
	mux.Handle("GET "+ogcBase+"/collections/{cid}/items/{fid}", web.API(h.ogcItem))
}

func writeOGC(w http.ResponseWriter, contentType string, v any) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "public, max-age=300")
	return json.NewEncoder(w).Encode(v)
}

func (h *Handler) ogcLanding(w http.ResponseWriter, r *http.Request) error {
	return writeOGC(w, "application/json", map[string]any{
		"title":       "Rathaus – Bewohnerparkzonen und Adressen",
		"description": "OGC API – Features: Parkzonen (heute gültig) und Adresspunkte der Kommune",
		"links": []ogcLink{
			{Href: ogcBase, Rel: "self", Type: "application/json", Title: "diese Seite"},
			{Href: ogcBase + "/conformance", Rel: "conformance", Type: "application/json", Title: "Konformitätsklassen"},
			{Href: ogcBase + "/collections", Rel: "data", Type: "application/json", Title: "Sammlungen"},
		},
	})
}

func (h *Handler) ogcConformance(w http.ResponseWriter, r *http.Request) error {
	return writeOGC(w, "application/json", map[string]any{"conformsTo": ogcConformance})
}

// ogcCollectionIDs are the collections; the municipality is the default.
var ogcCollectionIDs = []string{"parkzonen", "adressen"}

func (h *Handler) ogcMunicipality(ctx context.Context) (string, error) {
	if h.DefaultMunicipality != "" {
		return h.DefaultMunicipality, nil
	}
	return "", errs.E(errs.NotFound, "Diese Installation hat keine Kommune für OGC API – Features.")
}

func (h *Handler) collection(ctx context.Context, cid string) (map[string]any, error) {
	ars, err := h.ogcMunicipality(ctx)
	if err != nil {
		return nil, err
	}
	m, err := h.svc.Municipality(ctx, ars)
	if err != nil {
		return nil, err
	}
	var title string
	var bound orb.Bound
	switch cid {
	case "parkzonen":
		title = "Bewohnerparkzonen " + m.Name + " (heute gültig)"
		zones, err := h.svc.Zones(ctx, ars)
		if err != nil {
			return nil, err
		}
		for i, z := range zones {
			if i == 0 {
				bound = z.Geometry.Bound()
			} else {
				bound = bound.Union(z.Geometry.Bound())
			}
		}
	case "adressen":
		title = "Adresspunkte " + m.Name
		var minLon, minLat, maxLon, maxLat *float64
		if err := h.svc.db.Read().QueryRowContext(ctx, `SELECT MIN(lon), MIN(lat), MAX(lon), MAX(lat) FROM addresses WHERE municipality = $1`, ars).
			Scan(&minLon, &minLat, &maxLon, &maxLat); err != nil {
			return nil, err
		}
		if minLon != nil {
			bound = orb.Bound{Min: orb.Point{*minLon, *minLat}, Max: orb.Point{*maxLon, *maxLat}}
		}
	default:
		return nil, errs.E(errs.NotFound, "Die Sammlung %q gibt es nicht (vorhanden: %s).", cid, strings.Join(ogcCollectionIDs, ", "))
	}
	return map[string]any{
		"id": cid, "title": title, "itemType": "feature",
		"crs":    []string{"http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
		"extent": map[string]any{"spatial": map[string]any{"bbox": [][]float64{{bound.Min[0], bound.Min[1], bound.Max[0], bound.Max[1]}}}},
		"links": []ogcLink{
			{Href: ogcBase + "/collections/" + cid, Rel: "self", Type: "application/json"},
			{Href: ogcBase + "/collections/" + cid + "/items", Rel: "items", Type: geoJSONType, Title: "Objekte"},
		},
	}, nil
}

func (h *Handler) ogcCollections(w http.ResponseWriter, r *http.Request) error {
	var cs []map[string]any
	for _, id := range ogcCollectionIDs {
		c, err := h.collection(r.Context(), id)
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
	return writeOGC(w, "application/json", map[string]any{"collections": cs,
		"links": []ogcLink{{Href: ogcBase + "/collections", Rel: "self", Type: "application/json"}}})
}

func (h *Handler) ogcCollection(w http.ResponseWriter, r *http.Request) error {
	c, err := h.collection(r.Context(), r.PathValue("cid"))
	if err != nil {
		return err
	}
	return writeOGC(w, "application/json", c)
}

// ogcQuery is the parsed items query.
type ogcQuery struct {
	bbox          *orb.Bound
	limit, offset int
}

func parseOGCQuery(q url.Values) (ogcQuery, error) {
	out := ogcQuery{limit: ogcDefaultLimit}
	for k := range q {
		switch k {
		case "bbox", "limit", "offset", "f":
		default:
			return out, errs.Field(k, "Unbekannter Parameter %q (erlaubt: bbox, limit, offset).", k)
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > ogcMaxLimit {
			return out, errs.Field("limit", "limit muss eine Zahl von 1 bis %d sein.", ogcMaxLimit)
		}
		out.limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 10_000_000 {
			return out, errs.Field("offset", "offset muss eine Zahl ab 0 sein.")
		}
		out.offset = n
	}
	if s := q.Get("bbox"); s != "" {
		parts := strings.Split(s, ",")
		if len(parts) != 4 {
			return out, errs.Field("bbox", "bbox erwartet vier Zahlen: minLon,minLat,maxLon,maxLat (CRS84).")
		}
		var v [4]float64
		for i, p := range parts {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return out, errs.Field("bbox", "bbox erwartet vier Zahlen: minLon,minLat,maxLon,maxLat (CRS84).")
			}
			v[i] = f
		}
		if v[0] > v[2] || v[1] > v[3] || v[0] < -180 || v[2] > 180 || v[1] < -90 || v[3] > 90 {
			return out, errs.Field("bbox", "bbox: Minimum vor Maximum, Längen von −180 bis 180, Breiten von −90 bis 90.")
		}
		out.bbox = &orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}
	}
	return out, nil
}

// ogcFeature is a GeoJSON feature.
type ogcFeature struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Geometry   any            `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

type pointJSON struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

// itemsPage writes a page of features with the OGC links and counts.
func itemsPage(w http.ResponseWriter, r *http.Request, cid string, q ogcQuery, matched int, features []*ogcFeature) error {
	if features == nil {
		features = []*ogcFeature{}
	}
	self := ogcBase + "/collections/" + cid + "/items"
	params := url.Values{}
	if q.bbox != nil {
		params.Set("bbox", r.URL.Query().Get("bbox"))
	}
	params.Set("limit", strconv.Itoa(q.limit))
	params.Set("offset", strconv.Itoa(q.offset))
	links := []ogcLink{{Href: self + "?" + params.Encode(), Rel: "self", Type: geoJSONType},
		{Href: ogcBase + "/collections/" + cid, Rel: "collection", Type: "application/json"}}
	if q.offset+len(features) < matched {
		params.Set("offset", strconv.Itoa(q.offset+q.limit))
		links = append(links, ogcLink{Href: self + "?" + params.Encode(), Rel: "next", Type: geoJSONType, Title: "nächste Seite"})
	}
	return writeOGC(w, geoJSONType, map[string]any{"type": "FeatureCollection", "features": features,
		"numberMatched": matched, "numberReturned": len(features), "links": links, "timeStamp": time.Now().UTC().Format(time.RFC3339)})
}

func zoneFeature(z Zone) *ogcFeature {
	return &ogcFeature{Type: "Feature", ID: z.ID, Geometry: multiPolygonJSON{"MultiPolygon", z.Geometry},
		Properties: map[string]any{"zone_id": z.ID, "name": z.Name, "bezirk": z.District,
			"gueltig_ab": z.ValidFrom.Format(dateLayout), "quelle": z.Source}}
}

type addressRow struct {
	id                                 string
	street, number, postcode, district string
	lon, lat                           float64
}

func (a addressRow) feature() *ogcFeature {
	return &ogcFeature{Type: "Feature", ID: a.id, Geometry: pointJSON{"Point", [2]float64{a.lon, a.lat}},
		Properties: map[string]any{"strasse": a.street, "hausnummer": a.number, "postleitzahl": a.postcode, "bezirk": a.district}}
}

// addressID names an address point in URLs.
func addressID(streetKey, numberKey, postcode string) string {
	return url.PathEscape(streetKey + "|" + numberKey + "|" + postcode)
}

func (h *Handler) ogcItems(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	cid := r.PathValue("cid")
	if _, err := h.collection(ctx, cid); err != nil {
		return err
	}
	q, err := parseOGCQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ars, _ := h.ogcMunicipality(ctx)
	if cid == "parkzonen" {
		zones, err := h.svc.Zones(ctx, ars)
		if err != nil {
			return err
		}
		var hit []*ogcFeature
		for _, z := range zones {
			if q.bbox == nil || q.bbox.Intersects(z.Geometry.Bound()) {
				hit = append(hit, zoneFeature(z))
			}
		}
		matched := len(hit)
		hit = hit[min(q.offset, len(hit)):min(q.offset+q.limit, len(hit))]
		return itemsPage(w, r, cid, q, matched, hit)
	}
	where, args := "municipality = $1", []any{ars}
	if b := q.bbox; b != nil {
		where += " AND lon >= $2 AND lat >= $3 AND lon <= $4 AND lat <= $5"
		args = append(args, b.Min[0], b.Min[1], b.Max[0], b.Max[1])
	}
	var matched int
	if err := h.svc.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM addresses WHERE `+where, args...).Scan(&matched); err != nil {
		return err
	}
	n := len(args)
	rows, err := h.svc.db.Read().QueryContext(ctx, fmt.Sprintf(`SELECT street_key, number_key, postcode, street, house_number, district, lon, lat
		FROM addresses WHERE %s ORDER BY street_key, number_key, postcode LIMIT $%d OFFSET $%d`, where, n+1, n+2), append(args, q.limit, q.offset)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var features []*ogcFeature
	for rows.Next() {
		var a addressRow
		var sk, nk string
		if err := rows.Scan(&sk, &nk, &a.postcode, &a.street, &a.number, &a.district, &a.lon, &a.lat); err != nil {
			return err
		}
		a.id = addressID(sk, nk, a.postcode)
		features = append(features, a.feature())
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return itemsPage(w, r, cid, q, matched, features)
}

func (h *Handler) ogcItem(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	cid, fid := r.PathValue("cid"), r.PathValue("fid")
	if _, err := h.collection(ctx, cid); err != nil {
		return err
	}
	ars, _ := h.ogcMunicipality(ctx)
	if cid == "parkzonen" {
		z, err := h.svc.Zone(ctx, ars, fid)
		if err != nil {
			return err
		}
		return writeOGC(w, geoJSONType, zoneFeature(*z))
	}
	key, err := url.PathUnescape(fid)
	parts := strings.Split(key, "|")
	if err != nil || len(parts) != 3 {
		return errs.E(errs.NotFound, "Einen Adresspunkt %q gibt es nicht.", fid)
	}
	var a addressRow
	err = h.svc.db.Read().QueryRowContext(ctx, `SELECT street, house_number, postcode, district, lon, lat FROM addresses
		WHERE municipality = $1 AND street_key = $2 AND number_key = $3 AND postcode = $4`, ars, parts[0], parts[1], parts[2]).
		Scan(&a.street, &a.number, &a.postcode, &a.district, &a.lon, &a.lat)
	if err != nil {
		return errs.E(errs.NotFound, "Einen Adresspunkt %q gibt es nicht.", fid)
	}
	a.id = fid
	return writeOGC(w, geoJSONType, a.feature())
}
