package parking

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/web"
)

// applicationJSON is an application as the API shows it to its applicant.
type applicationJSON struct {
	Reference      string      `json:"reference"`
	Municipality   string      `json:"municipality"`
	Status         Status      `json:"status"`
	StatusLabel    string      `json:"status_label"`
	AppliedOn      string      `json:"applied_on"`
	Plate          string      `json:"plate"`
	Zones          []string    `json:"zones"`
	DurationMonths int         `json:"duration_months"`
	FeeCents       *int64      `json:"fee_cents"`
	Kassenzeichen  string      `json:"kassenzeichen,omitempty"`
	Reasons        []string    `json:"reasons,omitempty"` // why it is in review or was rejected
	Events         []eventJSON `json:"events"`
	Permit         *permitJSON `json:"permit,omitempty"`
	RenewsPermit   string      `json:"renews_permit,omitempty"`   // a renewal: the permit it renews
	Kind           Kind        `json:"kind"`                      // new, renewal, change, reissue
	ReplacesPermit string      `json:"replaces_permit,omitempty"` // a change or reissue: the permit it replaces
}

type eventJSON struct {
	At     time.Time `json:"at"`
	Status Status    `json:"status"`
	Label  string    `json:"label"`
	Note   string    `json:"note,omitempty"`
}

type permitJSON struct {
	Number     string   `json:"number"`
	Plate      string   `json:"plate"`
	Zones      []string `json:"zones"`
	ValidFrom  string   `json:"valid_from"`
	ValidUntil string   `json:"valid_until"`
	Status     string   `json:"status"`
	EndedOn    string   `json:"ended_on,omitempty"`    // ended before valid_until
	EndReason  string   `json:"end_reason,omitempty"`  // replaced, cancelled
	ReplacedBy string   `json:"replaced_by,omitempty"` // the permit that replaced it
	Token      string   `json:"token"`
	VerifyURL  string   `json:"verify_url"`
}

func (s *Service) toJSON(a Application) applicationJSON {
	out := applicationJSON{Reference: a.Reference, Municipality: a.Municipality, Status: a.Status, StatusLabel: a.Status.Label(),
		AppliedOn: a.AppliedOn.Format(dateLayout), Plate: a.Plate, Zones: splitZones(a.ZoneID), DurationMonths: a.DurationMonths,
		FeeCents: a.FeeCents, Kassenzeichen: a.Kassenzeichen, Reasons: reasons(a), Events: []eventJSON{}, RenewsPermit: a.RenewsPermit,
		Kind: a.Kind, ReplacesPermit: a.ReplacesPermit}
	for _, e := range a.Events {
		out.Events = append(out.Events, eventJSON{At: e.At.UTC(), Status: e.To, Label: e.To.Label(), Note: e.Note})
	}
	if p := a.Permit; p != nil {
		out.Permit = &permitJSON{Number: p.Number, Plate: p.Plate, Zones: splitZones(p.ZoneID), ValidFrom: p.ValidFrom.Format(dateLayout),
			ValidUntil: p.ValidUntil.Format(dateLayout), Status: p.Status, Token: p.Token, VerifyURL: s.BaseURL + "/pruefen/" + p.Token,
			EndReason: p.EndReason, ReplacedBy: p.ReplacedBy}
		if !p.EndedOn.IsZero() {
			out.Permit.EndedOn = p.EndedOn.Format(dateLayout)
		}
	}
	return out
}

func splitZones(z string) []string {
	if z == "" {
		return []string{}
	}
	return strings.Split(z, ",")
}

// reasons lists the rule results that did not pass, in German.
func reasons(a Application) []string { return reasonsOf(a.Outcome) }

func reasonsOf(d *Decision) []string {
	if d == nil {
		return nil
	}
	// A clerk's decision rests on the results the clerk named (Grounds)
	// and the clerk's words; an automatic one on every result that failed.
	clerk := !d.Automatic && d.By != ""
	var out []string
	for _, r := range d.Results {
		if r.Verdict != rules.Pass && (!clerk || slices.Contains(d.Grounds, r.Rule)) {
			out = append(out, r.Reason+" ("+r.Source+")")
		}
	}
	if d.Reasons != "" {
		out = append(out, d.Reasons)
	}
	return out
}

func (h *Handler) apiSubmit(w http.ResponseWriter, r *http.Request) error {
	var f Form
	if err := web.DecodeJSON(r, &f); err != nil {
		return err
	}
	rec, err := h.svc.Submit(r.Context(), r.PathValue("ars"), f, r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	return h.writeReceipt(w, rec)
}

// apiRenew applies for the renewal of the permit of the application named
// in the path; the access code of that application proves the holder.
// Fields left out of the body are taken from that application, except the
// declarations (truthful, no_own_space, declaration_provided), which are
// made anew.
func (h *Handler) apiRenew(w http.ResponseWriter, r *http.Request) error {
	var f Form
	if err := web.DecodeJSON(r, &f); err != nil {
		return err
	}
	ref, code := r.PathValue("reference"), r.Header.Get(AccessCodeHeader)
	prev, err := h.svc.Get(r.Context(), ref, code)
	if err != nil {
		return err
	}
	rec, err := h.svc.Renew(r.Context(), ref, code, carryOver(f, prev.Form), r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	return h.writeReceipt(w, rec)
}

func (h *Handler) writeReceipt(w http.ResponseWriter, rec Receipt) error {
	status := http.StatusCreated
	if !rec.Created {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/api/v1/parking/applications/"+rec.Reference)
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, status, map[string]any{
		"reference":   rec.Reference,
		"access_code": rec.AccessCode,
		"status":      rec.Status,
		"status_url":  h.svc.BaseURL + "/bewohnerparken/status/" + rec.Reference,
	})
}

// AccessCodeHeader carries the access code: never in the URL.
const AccessCodeHeader = "X-Access-Code"

func (h *Handler) apiGet(w http.ResponseWriter, r *http.Request) error {
	a, err := h.svc.Get(r.Context(), r.PathValue("reference"), r.Header.Get(AccessCodeHeader))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, h.svc.toJSON(a))
}

func (h *Handler) apiStartPayment(w http.ResponseWriter, r *http.Request) error {
	url, err := h.svc.StartPayment(r.Context(), r.PathValue("reference"), r.Header.Get(AccessCodeHeader))
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"redirect_url": url})
}

// maxCallbackBytes bounds a provider's callback.
const maxCallbackBytes = 64 << 10

func (h *Handler) apiPaymentCallback(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBytes))
	if err != nil {
		return err
	}
	if err := h.svc.HandleCallback(r.Context(), r.PathValue("provider"), r.Header, body); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *Handler) apiEnforcement(w http.ResponseWriter, r *http.Request) error {
	key, err := h.svc.Authenticate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var at time.Time
	if v := q.Get("at"); v != "" {
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			return errs.Field("at", "Zeitpunkt im Format RFC 3339 erwartet, z. B. 2026-11-26T10:00:00+01:00.")
		}
	}
	if q.Get("plate") == "" {
		return errs.Field("plate", "Parameter plate (Kennzeichen) fehlt.")
	}
	ans, err := h.svc.Enforce(r.Context(), key, q.Get("plate"), q.Get("zone"), at, q.Get("purpose"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, ans)
}

func (h *Handler) casework(r *http.Request) (APIKey, error) {
	key, err := h.svc.Authenticate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		return key, err
	}
	if key.Role != RoleCasework {
		return key, errs.E(errs.Forbidden, "Dieser Schlüssel ist nicht für die Sachbearbeitung bestimmt.")
	}
	return key, nil
}

func (h *Handler) apiQueue(w http.ResponseWriter, r *http.Request) error {
	key, err := h.casework(r)
	if err != nil {
		return err
	}
	ars := r.PathValue("ars")
	if ars != key.Municipality {
		return errs.E(errs.NotFound, "Keine Kommune %s für diesen Schlüssel.", ars)
	}
	apps, err := h.svc.Queue(r.Context(), ars, 200)
	if err != nil {
		return err
	}
	type item struct {
		applicationJSON
		Applicant string `json:"applicant"`
		Address   string `json:"address"`
	}
	out := []item{}
	for _, a := range apps {
		out = append(out, item{applicationJSON: h.svc.toJSON(a), Applicant: a.Form.GivenNames + " " + a.Form.FamilyName, Address: a.Form.Address})
	}
	if err := h.svc.recordAccess(r.Context(), keyClerk(key), "", accessViewQueue, clientAddr(r)); err != nil {
		return err // no personal data leaves without its record
	}
	h.svc.logger.Info("audit: casework queue read", "key_id", key.ID, "ars", ars, "applications", len(out))
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, map[string]any{"applications": out})
}

func (h *Handler) apiDecide(w http.ResponseWriter, r *http.Request) error {
	key, err := h.casework(r)
	if err != nil {
		return err
	}
	var body struct {
		Approve *bool    `json:"approve"`
		Reasons string   `json:"reasons"`
		Grounds []string `json:"grounds"`
	}
	if err := web.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.Approve == nil {
		return errs.Field("approve", "Feld approve (true oder false) fehlt.")
	}
	if len(body.Grounds) > 20 {
		return errs.Field("grounds", "Zu viele Gründe (höchstens 20).")
	}
	c := keyClerk(key)
	a, err := h.svc.Decide(r.Context(), key.Municipality, r.PathValue("reference"), ClerkDecision{
		Approve: *body.Approve, Reasons: body.Reasons, Grounds: body.Grounds, Clerk: c.Actor, Access: &c, Origin: clientAddr(r)})
	if err != nil {
		return err
	}
	h.svc.logger.Info("audit: casework decision", "key_id", key.ID, "reference", a.Reference, "status", string(a.Status))
	w.Header().Set("Cache-Control", "no-store")
	return web.WriteJSON(w, http.StatusOK, h.svc.toJSON(a))
}
