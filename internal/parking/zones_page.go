package parking

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/web"
)

// Zones for the Fachadministration: check a new GeoJSON version of the
// municipality's zones before it is imported (rathaus zones import), and
// see which active permits would lie in another zone from its first day.
// Like the rule check, the page checks and does not import.

// maxZonesFile bounds an uploaded zones file (the server's body limit
// applies first).
const maxZonesFile = 8 << 20

// maxZonePermits bounds the permits one check looks at.
const maxZonePermits = 5000

// ZoneChange is an active permit whose address lies in other zones under
// new zones.
type ZoneChange struct {
	Permit   string
	Old, New string // zone ids, comma-separated; New "" = in no zone
}

// ZoneCheck is the outcome of checking new zones against the permits.
type ZoneCheck struct {
	Zones     int
	Permits   int // active permits looked at
	Unchanged int
	Changes   []ZoneChange
	Unknown   int  // permits whose address the register no longer finds
	Truncated bool // more permits than maxZonePermits
}

// CheckZones parses zones (GeoJSON) valid from day and compares the zones
// of each permit active on or after day with the zones its address would
// lie in.
func (s *Service) CheckZones(ctx context.Context, ars string, r io.Reader, day time.Time) (ZoneCheck, error) {
	zones, err := geo.ParseZones(r, geo.ParseOptions{Tenant: ars, ValidFrom: day, Source: "Prüfung"})
	if err != nil {
		return ZoneCheck{}, err
	}
	ix := geo.NewIndex(zones)
	out := ZoneCheck{Zones: len(zones)}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT p.number, p.zone_id, a.data FROM parking_permits p JOIN parking_applications a ON a.id = p.application_id
		WHERE p.municipality = $1 AND p.status = 'active' AND p.valid_until >= $2 ORDER BY p.number LIMIT $3`,
		ars, day.Format(dateLayout), maxZonePermits+1)
	if err != nil {
		return out, err
	}
	type permitRow struct{ number, zone, data string }
	var permits []permitRow
	for rows.Next() {
		var p permitRow
		if err := rows.Scan(&p.number, &p.zone, &p.data); err != nil {
			rows.Close()
			return out, err
		}
		permits = append(permits, p)
	}
	if err := rows.Close(); err != nil {
		return out, err
	}
	if len(permits) > maxZonePermits {
		permits, out.Truncated = permits[:maxZonePermits], true
	}
	for _, p := range permits {
		out.Permits++
		var sf storedForm
		if err := json.Unmarshal([]byte(p.data), &sf); err != nil || sf.Street == "" {
			out.Unknown++ // anonymised or unreadable
			continue
		}
		res, err := s.geo.LookupAddress(ctx, ars, sf.Street+" "+sf.HouseNumber+", "+sf.Postcode)
		if err != nil || res.Found == nil {
			out.Unknown++
			continue
		}
		var ids []string
		for _, z := range ix.Lookup(res.Found.Point) {
			ids = append(ids, z.ID)
		}
		slices.SortFunc(ids, geo.CompareZoneIDs)
		if now := strings.Join(ids, ","); now != p.zone {
			out.Changes = append(out.Changes, ZoneChange{Permit: p.number, Old: p.zone, New: now})
		} else {
			out.Unchanged++
		}
	}
	return out, nil
}

type zonesData struct {
	Clerk, Municipality, CSRF, Token string
	Day                              string
	Checked                          bool
	Problems                         []string
	Check                            ZoneCheck
	Changes                          []ZoneChange // at most 200 shown
	Error                            string
}

func (h *Handler) zonesData(c Clerk) zonesData {
	return zonesData{Clerk: c.Name, Municipality: c.Municipality, CSRF: c.csrf, Token: h.decisionToken(c.Actor, "zones")}
}

func (h *Handler) adminZones(w http.ResponseWriter, r *http.Request, c Clerk) error {
	return h.pages.Render(w, r, http.StatusOK, "zonen.html", h.zonesData(c))
}

func (h *Handler) adminZonesCheck(w http.ResponseWriter, r *http.Request, c Clerk) error {
	d := h.zonesData(c)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		d.Error = "Die Datei konnte nicht gelesen werden (Formular-Upload; Größe begrenzt durch RATHAUS_BODY_LIMIT)."
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "zonen.html", d)
	}
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(d.Token)) {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder gehört zu einer anderen Anmeldung. Bitte laden Sie die Seite neu.")
	}
	d.Day = strings.TrimSpace(r.PostFormValue("gueltig_ab"))
	day, err := time.Parse(dateLayout, d.Day)
	if err != nil {
		d.Error = "Bitte geben Sie an, ab welchem Tag die neuen Zonen gelten (JJJJ-MM-TT)."
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "zonen.html", d)
	}
	file, _, err := r.FormFile("datei")
	if err != nil {
		d.Error = "Bitte wählen Sie eine GeoJSON-Datei mit den Zonen aus."
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "zonen.html", d)
	}
	defer file.Close()
	d.Checked = true
	d.Check, err = h.svc.CheckZones(r.Context(), c.Municipality, io.LimitReader(file, maxZonesFile), day)
	status := http.StatusOK
	if err != nil {
		if !errs.Is(err, errs.Invalid) {
			return err
		}
		status = http.StatusUnprocessableEntity
		for _, fe := range web.FieldErrors(err) {
			d.Problems = append(d.Problems, fe.Parameter+": "+fe.Detail)
		}
		if len(d.Problems) == 0 {
			d.Problems = []string{errs.MessageOf(err)}
		}
	}
	d.Changes = d.Check.Changes[:min(len(d.Check.Changes), 200)]
	if err := h.svc.recordAccess(r.Context(), c, "", accessZonesCheck, clientAddr(r)); err != nil {
		return err
	}
	h.svc.logger.Info("audit: zones checked", "actor", c.Actor, "zones", d.Check.Zones, "changes", len(d.Check.Changes))
	return h.pages.Render(w, r, status, "zonen.html", d)
}

func (z ZoneChange) String() string {
	if z.New == "" {
		return fmt.Sprintf("%s: Zone %s → in keiner Zone mehr", z.Permit, z.Old)
	}
	return fmt.Sprintf("%s: Zone %s → Zone %s", z.Permit, z.Old, z.New)
}
