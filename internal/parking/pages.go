package parking

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/web"
)

// The citizen's pages. They work without JavaScript; every input error is
// shown next to its field with the input kept.

type startData struct {
	Offer  Offer
	Prices []priceLine
}

type priceLine struct{ Label, Amount string }

var fuelNames = map[string]string{"petrol": "Benzin", "diesel": "Diesel", "electric": "Elektro", "hybrid": "Hybrid",
	"lpg": "Autogas", "cng": "Erdgas", "hydrogen": "Wasserstoff", "other": "sonstiger Antrieb"}

// describeTier says in German what a fee tier covers: "12 Monate, Länge bis 4.109 mm".
func describeTier(t rules.FeeTier) string {
	parts := []string{strconv.Itoa(t.DurationMonths) + " Monate"}
	switch {
	case t.LengthMinMM > 0 && t.LengthMaxMM > 0:
		parts = append(parts, fmt.Sprintf("Länge %d bis %d mm", t.LengthMinMM, t.LengthMaxMM))
	case t.LengthMaxMM > 0:
		parts = append(parts, fmt.Sprintf("Länge bis %d mm", t.LengthMaxMM))
	case t.LengthMinMM > 0:
		parts = append(parts, fmt.Sprintf("Länge ab %d mm", t.LengthMinMM))
	}
	switch {
	case t.MassMinKg > 0 && t.MassMaxKg > 0:
		parts = append(parts, fmt.Sprintf("%d bis %d kg", t.MassMinKg, t.MassMaxKg))
	case t.MassMaxKg > 0:
		parts = append(parts, fmt.Sprintf("bis %d kg", t.MassMaxKg))
	case t.MassMinKg > 0:
		parts = append(parts, fmt.Sprintf("über %d kg", t.MassMinKg-1))
	}
	if len(t.Fuels) > 0 {
		var fs []string
		for _, f := range t.Fuels {
			fs = append(fs, fuelNames[f])
		}
		parts = append(parts, strings.Join(fs, "/"))
	}
	if t.Note != "" {
		parts = append(parts, t.Note)
	}
	return strings.Join(parts, ", ")
}

func (h *Handler) municipality(r *http.Request) string {
	if v := r.FormValue("kommune"); v != "" {
		return v
	}
	return h.DefaultMunicipality
}

func (h *Handler) startPage(w http.ResponseWriter, r *http.Request) error {
	offer, err := h.svc.Offer(h.municipality(r))
	if err != nil {
		return err
	}
	d := startData{Offer: offer}
	for _, t := range offer.Fees.Tiers {
		d.Prices = append(d.Prices, priceLine{Label: describeTier(t), Amount: FormatCents(t.AmountCents)})
	}
	return h.pages.Render(w, r, http.StatusOK, "start.html", d)
}

type formData struct {
	Offer          Offer
	Form           Form
	Errors         map[string]string
	IdempotencyKey string
	Summary        bool // show the summary with "Absenden"
	Relations      []option
	Durations      []option
	Action         string       // where the form posts to
	Renewal        *renewalView // set for the renewal of a permit
	Change         *changeView  // set for a change of plate or address
	Demo           bool         // the demo shows every e-mail on /demo/post
}

// renewalView is the permit a renewal form renews.
type renewalView struct {
	Number, Plate, ValidUntil string
}

type option struct {
	Value, Label string
	Selected     bool
}

func (h *Handler) newFormData(offer Offer, f Form) formData {
	d := formData{Offer: offer, Form: f, Errors: map[string]string{}, Action: "/bewohnerparken/antrag", Demo: h.svc.PublicOutbox}
	rels := []struct {
		r       Relation
		allowed bool
	}{{Holder, true}, {CompanyCar, offer.Rules.AllowCompanyCar}, {Borrowed, offer.Rules.AllowBorrowed}, {CarSharing, offer.Rules.AllowCarSharing}}
	for _, x := range rels {
		if x.allowed {
			d.Relations = append(d.Relations, option{Value: string(x.r), Label: relationChoice(x.r), Selected: f.Relation == x.r})
		}
	}
	for _, m := range offer.Rules.DurationsMonths {
		d.Durations = append(d.Durations, option{Value: strconv.Itoa(m), Label: strconv.Itoa(m) + " Monate", Selected: f.DurationMonths == m || len(offer.Rules.DurationsMonths) == 1})
	}
	return d
}

func relationChoice(r Relation) string {
	switch r {
	case Holder:
		return "Ich bin Halterin oder Halter des Fahrzeugs"
	case CompanyCar:
		return "Firmenwagen (Bestätigung des Arbeitgebers liegt vor)"
	case Borrowed:
		return "Überlassenes Fahrzeug (Überlassungserklärung der Halterin oder des Halters liegt vor)"
	case CarSharing:
		return "Carsharing (Vertrag liegt vor)"
	}
	return string(r)
}

func newIdempotencyKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *Handler) formPage(w http.ResponseWriter, r *http.Request) error {
	offer, err := h.svc.Offer(h.municipality(r))
	if err != nil {
		return err
	}
	f := Form{Address: strings.TrimSpace(r.URL.Query().Get("adresse"))}
	if len(f.Address) > 200 {
		f.Address = ""
	}
	d := h.newFormData(offer, f)
	d.IdempotencyKey = newIdempotencyKey()
	return h.pages.Render(w, r, http.StatusOK, "antrag.html", d)
}

// formFromRequest reads the form fields (named like the API's JSON).
func formFromRequest(r *http.Request) Form {
	months, _ := strconv.Atoi(r.PostFormValue("duration_months"))
	return Form{
		GivenNames:          r.PostFormValue("given_names"),
		FamilyName:          r.PostFormValue("family_name"),
		BirthDate:           r.PostFormValue("birth_date"),
		Address:             r.PostFormValue("address"),
		Plate:               r.PostFormValue("plate"),
		Relation:            Relation(r.PostFormValue("relation")),
		DeclarationProvided: r.PostFormValue("declaration_provided") == "ja",
		DurationMonths:      months,
		NoOwnSpace:          r.PostFormValue("no_own_space") == "ja",
		Email:               r.PostFormValue("email"),
		Truthful:            r.PostFormValue("truthful") == "ja",
	}
}

// formPost handles "Weiter zur Zusammenfassung" (check, show summary) and
// "Antrag absenden" (submit). The idempotency key travels in a hidden
// field, so a double click or a reload submits once.
func (h *Handler) formPost(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ars := h.municipality(r)
	offer, err := h.svc.Offer(ars)
	if err != nil {
		return err
	}
	d := h.newFormData(offer, formFromRequest(r))
	return h.handleForm(w, r, d,
		func(f Form, key string) (Receipt, error) { return h.svc.Submit(r.Context(), ars, f, key) },
		func(f *Form) error { return h.svc.Check(r.Context(), ars, f) })
}

// handleForm is the way of a posted form: change, check and show the
// summary, or submit; every invalid field is shown with its message.
func (h *Handler) handleForm(w http.ResponseWriter, r *http.Request, d formData,
	submit func(f Form, idempotencyKey string) (Receipt, error), check func(f *Form) error) error {
	d.IdempotencyKey = r.PostFormValue("idempotency_key")
	if len(d.IdempotencyKey) != 32 {
		d.IdempotencyKey = newIdempotencyKey()
	}
	if r.PostFormValue("action") == "aendern" {
		return h.pages.Render(w, r, http.StatusOK, "antrag.html", d)
	}
	if r.PostFormValue("action") == "absenden" {
		rec, err := submit(d.Form, d.IdempotencyKey)
		if err == nil {
			return h.pages.Render(w, r, http.StatusOK, "eingang.html", rec)
		}
		if !errs.Is(err, errs.Invalid) {
			return err
		}
		d.Errors = fieldMessages(err)
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "antrag.html", d)
	}
	// Check without storing: same validation as the submit.
	if err := check(&d.Form); err != nil {
		if !errs.Is(err, errs.Invalid) {
			return err
		}
		d.Errors = fieldMessages(err)
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "antrag.html", d)
	}
	d.Summary = true
	return h.pages.Render(w, r, http.StatusOK, "antrag.html", d)
}

// The renewal form: the application form, prefilled from the application
// that got the permit, posting to the status page's renewal address — the
// access code in the status page's cookie proves the holder.

func renewalPath(reference string) string {
	return "/bewohnerparken/status/" + reference + "/verlaengern"
}

func (h *Handler) renewalForm(a Application, f Form) (formData, error) {
	offer, err := h.svc.Offer(a.Municipality)
	if err != nil {
		return formData{}, err
	}
	d := h.newFormData(offer, f)
	d.Action = renewalPath(a.Reference)
	if p := a.Permit; p != nil {
		d.Renewal = &renewalView{Number: p.Number, Plate: p.Plate, ValidUntil: germanDay(p.ValidUntil)}
	}
	return d, nil
}

func (h *Handler) renewPage(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("reference")
	code := h.codeFromCookie(r, ref)
	if code == "" {
		http.Redirect(w, r, "/bewohnerparken/status/"+ref, http.StatusSeeOther)
		return nil
	}
	a, f, err := h.svc.Renewable(r.Context(), ref, code)
	if err != nil {
		return err
	}
	d, err := h.renewalForm(a, f)
	if err != nil {
		return err
	}
	d.IdempotencyKey = newIdempotencyKey()
	return h.pages.Render(w, r, http.StatusOK, "antrag.html", d)
}

func (h *Handler) renewPost(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ref := r.PathValue("reference")
	code := h.codeFromCookie(r, ref)
	if code == "" {
		http.Redirect(w, r, "/bewohnerparken/status/"+ref, http.StatusSeeOther)
		return nil
	}
	a, err := h.svc.Get(r.Context(), ref, code)
	if err != nil {
		return err
	}
	d, err := h.renewalForm(a, formFromRequest(r))
	if err != nil {
		return err
	}
	return h.handleForm(w, r, d,
		func(f Form, key string) (Receipt, error) { return h.svc.Renew(r.Context(), ref, code, f, key) },
		func(f *Form) error { return h.svc.CheckRenewal(r.Context(), ref, code, f) })
}

func fieldMessages(err error) map[string]string {
	m := map[string]string{}
	for _, fe := range web.FieldErrors(err) {
		if _, ok := m[fe.Parameter]; !ok {
			m[fe.Parameter] = fe.Detail
		}
	}
	if len(m) == 0 {
		m["_"] = errs.MessageOf(err)
	}
	return m
}

// The status page: the reference is in the URL, the access code is typed
// in (POST) and then kept in a short-lived, signed, HttpOnly cookie for
// this application only — never in a URL.

const statusCookie = "bp_zugang"
const statusSessionTTL = 30 * time.Minute

func (h *Handler) sessionValue(reference, code string, exp time.Time) string {
	m := hmac.New(sha256.New, h.svc.hmacKey)
	e := strconv.FormatInt(exp.Unix(), 10)
	m.Write([]byte("status\x00" + reference + "\x00" + normaliseCode(code) + "\x00" + e))
	return normaliseCode(code) + "." + e + "." + hex.EncodeToString(m.Sum(nil))
}

// codeFromCookie returns the access code kept for this reference, if any.
func (h *Handler) codeFromCookie(r *http.Request, reference string) string {
	c, err := r.Cookie(statusCookie)
	if err != nil {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return ""
	}
	sec, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || time.Unix(sec, 0).Before(h.svc.now()) {
		return ""
	}
	if !hmac.Equal([]byte(c.Value), []byte(h.sessionValue(reference, parts[0], time.Unix(sec, 0)))) {
		return ""
	}
	return parts[0]
}

func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, reference, code string) {
	exp := h.svc.now().Add(statusSessionTTL)
	http.SetCookie(w, &http.Cookie{Name: statusCookie, Value: h.sessionValue(reference, code, exp),
		Path: "/bewohnerparken/status/" + reference, Expires: exp, HttpOnly: true,
		Secure: r.TLS != nil || strings.HasPrefix(h.svc.BaseURL, "https://"), SameSite: http.SameSiteLaxMode})
}

type statusData struct {
	Reference  string
	NeedCode   bool
	CodeError  string
	App        *Application
	Steps      []step
	Reasons    []string
	FeeLabel   string
	PermitView *permitView
	Renewal    *renewalStatus
	Changes    *changesStatus
	Docs       *docsStatus // documents and the open request for information
}

// renewalStatus is what the status page says about renewing the permit.
type renewalStatus struct {
	Open        bool   // "Verlängern" is offered
	From, Until string // the window, as German dates
	Pending     string // reference of the renewal applied for
	Renewed     bool   // that renewal's permit is issued
}

type step struct {
	Label, Date string
	Done        bool
	Current     bool
}

type permitView struct {
	Number, Plate, Zones, ValidFrom, ValidUntil string
}

func (h *Handler) statusPage(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("reference")
	if code := h.codeFromCookie(r, ref); code != "" {
		return h.renderStatus(w, r, ref, code)
	}
	return h.pages.Render(w, r, http.StatusOK, "status.html", statusData{Reference: ref, NeedCode: true})
}

// lookupData is the page that opens a status page by reference and code,
// for citizens without the link.
type lookupData struct{ Reference, Error string }

func (h *Handler) lookupPage(w http.ResponseWriter, r *http.Request) error {
	return h.pages.Render(w, r, http.StatusOK, "stand.html", lookupData{})
}

// lookupPost checks reference and code together and opens the status page
// (the code goes into the page's cookie, never into the URL).
func (h *Handler) lookupPost(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ref := strings.ToUpper(strings.TrimSpace(r.PostFormValue("reference")))
	code := strings.TrimSpace(r.PostFormValue("access_code"))
	if len(ref) > 40 || !referencePattern.MatchString(ref) {
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "stand.html", lookupData{Reference: "",
			Error: "Bitte geben Sie das Aktenzeichen so ein, wie es in der Eingangsbestätigung steht (zum Beispiel BP-2026-7KQ4M2XD)."})
	}
	if _, err := h.svc.Get(r.Context(), ref, code); err != nil {
		if !errs.Is(err, errs.NotFound) {
			return err
		}
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "stand.html", lookupData{Reference: ref,
			Error: "Aktenzeichen und Zugangscode passen nicht zusammen. Bitte prüfen Sie beides in Ihrer Eingangsbestätigung."})
	}
	h.setSession(w, r, ref, code)
	http.Redirect(w, r, "/bewohnerparken/status/"+ref, http.StatusSeeOther)
	return nil
}

// referencePattern is the form of an Aktenzeichen (newReference).
var referencePattern = regexp.MustCompile(`^BP-\d{4}-[0-9A-Z]{8}$`)

func (h *Handler) statusPost(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ref := r.PathValue("reference")
	code := strings.TrimSpace(r.PostFormValue("access_code"))
	if _, err := h.svc.Get(r.Context(), ref, code); err != nil {
		if !errs.Is(err, errs.NotFound) {
			return err
		}
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "status.html", statusData{Reference: ref, NeedCode: true,
			CodeError: "Aktenzeichen und Zugangscode passen nicht zusammen. Bitte prüfen Sie den Code aus Ihrer Eingangsbestätigung."})
	}
	h.setSession(w, r, ref, code)
	http.Redirect(w, r, "/bewohnerparken/status/"+ref, http.StatusSeeOther)
	return nil
}

func (h *Handler) renderStatus(w http.ResponseWriter, r *http.Request, ref, code string) error {
	return h.renderStatusWith(w, r, ref, code, http.StatusOK, nil)
}

// renderStatusWith renders the status page with status; modify, if not
// nil, adds what a form sent (its errors and values) before rendering.
func (h *Handler) renderStatusWith(w http.ResponseWriter, r *http.Request, ref, code string, status int, modify func(*statusData)) error {
	a, err := h.svc.Get(r.Context(), ref, code)
	if err != nil {
		return err
	}
	d := statusData{Reference: a.Reference, App: &a, Reasons: reasons(a), Steps: steps(a)}
	if a.FeeCents != nil {
		d.FeeLabel = FormatCents(*a.FeeCents)
	}
	if p := a.Permit; p != nil {
		d.PermitView = &permitView{Number: p.Number, Plate: p.Plate, Zones: strings.ReplaceAll(p.ZoneID, ",", ", "),
			ValidFrom: p.ValidFrom.Format("02.01.2006"), ValidUntil: p.ValidUntil.Format("02.01.2006")}
	}
	if d.Changes, err = h.changesStatus(r.Context(), a); err != nil {
		return err
	}
	info, err := h.svc.Renewal(r.Context(), a)
	if err != nil {
		return err
	}
	if info.Offered && !h.svc.today().After(info.Until) {
		d.Renewal = &renewalStatus{Open: info.Open, From: germanDay(info.From), Until: germanDay(info.Until), Pending: info.Pending,
			Renewed: info.PendingStatus == Issued}
	}
	if d.Docs, err = h.docsStatusOf(r.Context(), a); err != nil {
		return err
	}
	if d.Docs != nil && r.Method == http.MethodGet && r.URL.Query().Get("unterlagen") == "eingegangen" {
		d.Docs.Sent = true
	}
	if modify != nil {
		modify(&d)
	}
	return h.pages.Render(w, r, status, "status.html", d)
}

// steps turns the history into the five steps the citizen sees.
func steps(a Application) []step {
	at := func(statuses ...Status) string {
		for _, e := range a.Events {
			for _, s := range statuses {
				if e.To == s {
					return e.At.In(berlin).Format("02.01.2006 15:04")
				}
			}
		}
		return ""
	}
	st := a.Status
	in := func(ss ...Status) bool {
		for _, x := range ss {
			if st == x {
				return true
			}
		}
		return false
	}
	out := []step{
		{Label: "Antrag eingegangen", Date: at(Received), Done: true},
		{Label: "Prüfung bei Meldebehörde und Zulassungsstelle", Date: at(Review, Approved), Done: !in(Received, Checking)},
		{Label: "Entscheidung", Date: at(Approved, Rejected), Done: in(Approved, AwaitingPayment, Issued, Rejected)},
		{Label: "Gebühr bezahlt", Date: at(Issued), Done: in(Issued)},
		{Label: "Ausweis ausgestellt", Date: at(Issued), Done: in(Issued)},
	}
	if !in(Rejected, Withdrawn) {
		for i := range out {
			if !out[i].Done {
				out[i].Current = true
				break
			}
		}
	}
	return out
}

func (h *Handler) payPost(w http.ResponseWriter, r *http.Request) error {
	ref := r.PathValue("reference")
	code := h.codeFromCookie(r, ref)
	if code == "" {
		http.Redirect(w, r, "/bewohnerparken/status/"+ref, http.StatusSeeOther)
		return nil
	}
	url, err := h.svc.StartPayment(r.Context(), ref, code)
	if err != nil {
		return err
	}
	http.Redirect(w, r, url, http.StatusSeeOther)
	return nil
}

func (h *Handler) permitPDF(w http.ResponseWriter, r *http.Request) error {
	return h.sendPDF(w, r, "Bewohnerparkausweis", h.svc.RenderPermit)
}

// decisionPDF sends the Bescheid of a rejected application.
func (h *Handler) decisionPDF(w http.ResponseWriter, r *http.Request) error {
	return h.sendPDF(w, r, "Bescheid", h.svc.RenderDecisionLetter)
}

// sendPDF sends a document of the application the status page's cookie
// opens, rendered by render, as an attachment named name-<reference>.pdf.
func (h *Handler) sendPDF(w http.ResponseWriter, r *http.Request, name string, render func(io.Writer, Application) error) error {
	ref := r.PathValue("reference")
	code := h.codeFromCookie(r, ref)
	if code == "" {
		return errs.E(errs.Unauthenticated, "Bitte öffnen Sie zuerst die Statusseite mit Ihrem Zugangscode.")
	}
	a, err := h.svc.Get(r.Context(), ref, code)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := render(&buf, a); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`-`+a.Reference+`.pdf"`)
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(buf.Bytes())
	return err
}

type verifyData struct {
	Valid      bool
	Status     string
	Problem    string
	Plate      string
	Zones      string
	ValidFrom  string
	ValidUntil string
	Number     string
	Demo       bool
}

func (h *Handler) verifyPage(w http.ResponseWriter, r *http.Request) error {
	res := h.svc.Verify(r.Context(), r.PathValue("token"))
	d := verifyData{Valid: res.Valid, Status: res.Status, Problem: res.Problem, Demo: h.svc.Demo}
	if res.Claims != nil {
		d.Plate, d.Zones, d.Number = res.Claims.Plate, strings.Join(res.Claims.Zones, ", "), res.Claims.Permit
		d.ValidFrom, d.ValidUntil = germanDate(res.Claims.ValidFrom), germanDate(res.Claims.ValidUntil)
	}
	status := http.StatusOK
	if res.Claims == nil {
		status = http.StatusBadRequest
	}
	return h.pages.Render(w, r, status, "pruefen.html", d)
}

func germanDate(iso string) string {
	t, err := time.Parse(dateLayout, iso)
	if err != nil {
		return iso
	}
	return t.Format("02.01.2006")
}

func (h *Handler) apiKeys(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.svc.config(r.PathValue("ars")); err != nil {
		return err
	}
	keys, err := h.svc.PublicKeys()
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	return web.WriteJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// fieldView is one text input with its label, hint, value and error.
type fieldView struct {
	Name, Label, Hint, Value, Error, Type, Autocomplete string
}

var fieldDefs = map[string]fieldView{
	"given_names": {Label: "Vorname(n)", Hint: "Wie im Personalausweis", Type: "text", Autocomplete: "given-name"},
	"family_name": {Label: "Familienname", Hint: "Mit Namenszusätzen wie „von“", Type: "text", Autocomplete: "family-name"},
	"birth_date":  {Label: "Geburtsdatum", Hint: "TT.MM.JJJJ, zum Beispiel 31.01.1980", Type: "text", Autocomplete: "bday"},
	"address":     {Label: "Straße und Hausnummer Ihrer Wohnung", Hint: "Mit Postleitzahl, zum Beispiel: Oranienburger Straße 13, 10178", Type: "text", Autocomplete: "street-address"},
	"plate":       {Label: "Kennzeichen", Hint: "Zum Beispiel B-AB 1234 oder B-XY 12E", Type: "text", Autocomplete: "off"},
	"email":       {Label: "E-Mail-Adresse", Hint: "Für die Nachricht über den Bescheid", Type: "email", Autocomplete: "email"},
}

// Field returns the view of a text field (used by the template).
func (d formData) Field(name string) fieldView {
	f := fieldDefs[name]
	f.Name, f.Error = name, d.Errors[name]
	if name == "email" && d.Demo {
		f.Hint += ". Demo: Alle E-Mails erscheinen öffentlich im Postausgang der Demo – bitte keine echte Adresse angeben"
	}
	switch name {
	case "given_names":
		f.Value = d.Form.GivenNames
	case "family_name":
		f.Value = d.Form.FamilyName
	case "birth_date":
		f.Value = d.Form.BirthDate
	case "address":
		f.Value = d.Form.Address
	case "plate":
		f.Value = d.Form.Plate
	case "email":
		f.Value = d.Form.Email
	}
	return f
}

// Error returns the message of a non-text field (used by the template).
func (d formData) Error(name string) string { return d.Errors[name] }

// HasErrors reports whether any field has an error.
func (d formData) HasErrors() bool { return len(d.Errors) > 0 }

// RelationLabel names the chosen relation (for the summary).
func (d formData) RelationLabel() string { return relationChoice(d.Form.Relation) }

// NeedsDeclaration reports whether the chosen relation needs a declaration.
func (d formData) NeedsDeclaration() bool { return d.Form.Relation != "" && d.Form.Relation != Holder }

type hiddenField struct{ Name, Value string }

// Hidden carries the checked form through the summary step.
func (d formData) Hidden() []hiddenField {
	f := d.Form
	yes := func(b bool) string {
		if b {
			return "ja"
		}
		return ""
	}
	return []hiddenField{
		{"given_names", f.GivenNames}, {"family_name", f.FamilyName}, {"birth_date", f.BirthDate},
		{"address", f.Address}, {"plate", f.Plate}, {"relation", string(f.Relation)},
		{"declaration_provided", yes(f.DeclarationProvided)}, {"duration_months", strconv.Itoa(f.DurationMonths)},
		{"no_own_space", yes(f.NoOwnSpace)}, {"email", f.Email}, {"truthful", yes(f.Truthful)},
	}
}
