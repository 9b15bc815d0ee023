package parking

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/web"
)

// Zones for the Fachadministration: check a new GeoJSON version of the
// municipality's zones and see which active permits would lie in another
// zone from its first day; then import it for that day (today or later:
// the zones of past days stay what they were). A checked file is kept
// until it is imported, so what is imported is what was checked. Checks
// and imports are entries of the audit log. (rathaus zones import does
// the same from the command line, also for past days.)

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

// SaveZonesDraft keeps a zones file that passed its check, for import on
// day; it returns its ID.
func (s *Service) SaveZonesDraft(ctx context.Context, c Clerk, content []byte, day time.Time) (string, error) {
	var b [10]byte
	rand.Read(b[:])
	id := "zon_" + hex.EncodeToString(b[:])
	sum := sha256.Sum256(content)
	_, err := s.db.Write().ExecContext(ctx, `INSERT INTO parking_zone_uploads (id, municipality, content, sha256, valid_from, checked_by, checked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, c.Municipality, content, hex.EncodeToString(sum[:]), day.Format(dateLayout), c.Actor, s.now().UTC())
	return id, err
}

// ImportZones imports the checked zones file id of c's municipality for
// its day, which must not have passed; it returns the day and the number
// of zones.
func (s *Service) ImportZones(ctx context.Context, c Clerk, id, origin string) (time.Time, int, error) {
	var content []byte
	var sum string
	var day time.Time
	var imported sql.NullTime
	err := s.db.Read().QueryRowContext(ctx, `SELECT content, sha256, valid_from, imported_at FROM parking_zone_uploads WHERE id = $1 AND municipality = $2`,
		id, c.Municipality).Scan(&content, &sum, &day, &imported)
	if errors.Is(err, sql.ErrNoRows) {
		return day, 0, errs.E(errs.NotFound, "Diese geprüfte Zonendatei gibt es nicht (mehr). Bitte prüfen Sie die Datei erneut.")
	}
	if err != nil {
		return day, 0, err
	}
	day = day.UTC()
	switch {
	case imported.Valid:
		return day, 0, errs.E(errs.Conflict, "Diese Zonen sind bereits übernommen.")
	case day.Before(s.today()):
		return day, 0, errs.E(errs.Conflict, "Die Zonen sollten ab dem %s gelten; dieser Tag ist vorbei. Bitte prüfen Sie die Datei mit einem neuen Datum.", germanDay(day))
	}
	n, err := s.geo.ImportZones(ctx, c.Municipality, bytes.NewReader(content), "Fachadministration ("+c.Name+"), "+germanDay(s.today()), day)
	if err != nil {
		return day, 0, err
	}
	now := s.now().UTC()
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE parking_zone_uploads SET imported_by = $2, imported_at = $3 WHERE id = $1`, id, c.Actor, now); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: now, Actor: c.Actor, Action: "parking.zones_imported",
			Object: "zones:" + c.Municipality, Municipality: c.Municipality, Origin: origin,
			Reason: fmt.Sprintf("sha256:%s ab %s, %d Zonen", sum, day.Format(dateLayout), n)})
		return err
	})
	return day, n, err
}

type zonesData struct {
	Clerk, Municipality, CSRF, Token string
	Day                              string
	DraftID                          string // the checked file, kept for import
	Imported                         string // "n Zonen ab Tag", just imported
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
		d.Error = fmt.Sprintf("Die Datei konnte nicht gelesen werden (Formular-Upload, höchstens %d MB).", maxZonesFile>>20)
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
	if status == http.StatusOK && !day.Before(h.svc.today()) {
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		content, err := io.ReadAll(io.LimitReader(file, maxZonesFile))
		if err != nil {
			return err
		}
		if d.DraftID, err = h.svc.SaveZonesDraft(r.Context(), c, content, day); err != nil {
			return err
		}
	}
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

// adminZonesImport imports a checked zones file.
func (h *Handler) adminZonesImport(w http.ResponseWriter, r *http.Request, c Clerk) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	d := h.zonesData(c)
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(d.Token)) {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder gehört zu einer anderen Anmeldung. Bitte laden Sie die Seite neu.")
	}
	day, n, err := h.svc.ImportZones(r.Context(), c, r.PostFormValue("datei_id"), clientAddr(r))
	if err != nil {
		if !errs.Is(err, errs.Conflict) && !errs.Is(err, errs.NotFound) && !errs.Is(err, errs.Invalid) {
			return err
		}
		d.Error = errs.MessageOf(err)
		return h.pages.Render(w, r, http.StatusConflict, "zonen.html", d)
	}
	d.Imported = fmt.Sprintf("%d Zonen gelten ab dem %s.", n, germanDay(day))
	return h.pages.Render(w, r, http.StatusOK, "zonen.html", d)
}
