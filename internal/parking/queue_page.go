package parking

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/identity"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/web"
)

// The clerks' pages (Sachbearbeitung): the queue of applications in review
// and one case with its decision. Staff sign in at the workbench with
// OpenID Connect (internal/identity, Handler.Staff; role clerk or lead)
// and see the cases of their own municipality only. Where serve has no
// staff sign-in, a clerk signs in with a casework API key over HTTP Basic
// auth instead (user: the key id, password: its secret).
//
// The decision form carries a token bound to clerk and case, and with a
// session also the session's CSRF token; a POST whose Sec-Fetch-Site or
// Origin names another site is refused before it is read (Basic auth
// credentials go with every request the browser makes to this host, also
// one a foreign site triggers).
//
// Every read of the queue, every opened case and every decision is an
// entry of the audit log, without personal data; for a key also a row of
// casework_access.

const clerkQueuePath = "/sachbearbeitung/bewohnerparken"

// clerkRealm is the Basic auth challenge of the clerks' pages.
const clerkRealm = `Basic realm="Rathaus Sachbearbeitung", charset="UTF-8"`

// clerkQueueLimit is how many cases the queue page shows: the oldest.
const clerkQueueLimit = 200

// Actions recorded in casework_access.
const (
	accessViewQueue  = "view_queue"
	accessViewCase   = "view_case"
	accessDecide     = "decide"
	accessDenied     = "denied"      // a case of another municipality was asked for
	accessReveal     = "reveal_data" // the applicant's personal data were shown unmasked
	accessViewReport = "view_report" // the Teamleitung's report (counts only)
	accessRulesCheck = "rules_check" // a rule file checked by the Fachadministration
	accessZonesCheck = "zones_check" // a zones file checked by the Fachadministration
)

// recordAccess records that a clerk read the queue (applicationID "") or
// read or decided a case: in the audit log, and for a casework key also in
// casework_access.
func (s *Service) recordAccess(ctx context.Context, c Clerk, applicationID, action, origin string) error {
	return s.db.Transact(ctx, func(tx *sql.Tx) error {
		return s.insertAccess(ctx, tx, s.now().UTC(), c, applicationID, action, origin)
	})
}

// insertAccess writes the audit entry of an access in tx, and for a
// casework key its casework_access row (the municipality's working list of
// key use, deleted after its retention period). The audit entry is the
// tamper-evident record (internal/audit), a reference without personal
// data.
func (s *Service) insertAccess(ctx context.Context, tx *sql.Tx, at time.Time, c Clerk, applicationID, action, origin string) error {
	if c.key != nil && (action == accessViewQueue || action == accessViewCase || action == accessDecide) {
		app := sql.NullString{String: applicationID, Valid: applicationID != ""}
		_, err := tx.ExecContext(ctx, `INSERT INTO casework_access (at, api_key_id, application_id, action) VALUES ($1, $2, $3, $4)`,
			at, c.key.ID, app, action)
		if err != nil {
			return fmt.Errorf("record casework access %s: %w", action, err)
		}
	}
	object := "parking_queue:" + c.Municipality
	if applicationID != "" {
		object = "parking_application:" + applicationID
	}
	_, err := audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: at, Actor: c.Actor, Action: "parking." + action,
		Object: object, Municipality: c.Municipality, Origin: origin, Reason: "Sachbearbeitung Bewohnerparken"})
	return err
}

// caseForUpdate loads the case reference of c's municipality in tx, locked
// for the change the caller makes; another municipality's case is
// NotFound, exactly like an unknown one.
func (s *Service) caseForUpdate(ctx context.Context, tx *sql.Tx, c Clerk, reference string) (appRow, error) {
	row, err := getApp(ctx, tx, s.db.Engine, "reference", reference, true)
	if err == nil && row.Municipality != c.Municipality {
		err = errs.E(errs.NotFound, "Antrag einer anderen Kommune.")
	}
	if errs.Is(err, errs.NotFound) {
		return appRow{}, errs.E(errs.NotFound, "Einen Antrag mit dem Aktenzeichen %s gibt es in Ihrer Kommune nicht.", reference)
	}
	return row, err
}

// recordDenied records that c asked to change the case reference of
// another municipality (caseForUpdate answered NotFound in a transaction
// that was rolled back): read again outside it, and audited if the case
// exists elsewhere.
func (s *Service) recordDenied(ctx context.Context, c Clerk, reference, origin string) error {
	row, err := getApp(ctx, s.db.Read(), s.db.Engine, "reference", strings.ToUpper(strings.TrimSpace(reference)), false)
	if err != nil || row.Municipality == c.Municipality {
		return nil // unknown, or the case is the clerk's own
	}
	return s.recordAccess(ctx, c, row.ID, accessDenied, origin)
}

// caseOf returns an application of the key's municipality. A case of
// another municipality is NotFound, exactly like an unknown reference.
func (s *Service) caseOf(ctx context.Context, c Clerk, reference string) (Application, error) {
	reference = strings.ToUpper(strings.TrimSpace(reference))
	row, err := getApp(ctx, s.db.Read(), s.db.Engine, "reference", reference, false)
	if err == nil && row.Municipality != c.Municipality {
		// Another municipality's case answers like an unknown one; the
		// attempt is recorded.
		if aerr := s.recordAccess(ctx, c, row.ID, accessDenied, ""); aerr != nil {
			return Application{}, aerr
		}
		err = errs.E(errs.NotFound, "Antrag einer anderen Kommune.")
	}
	if errs.Is(err, errs.NotFound) {
		return Application{}, errs.E(errs.NotFound, "Einen Antrag mit dem Aktenzeichen %s gibt es in Ihrer Kommune nicht.", reference)
	}
	if err != nil {
		return Application{}, err
	}
	return s.load(ctx, row)
}

// Clerk is who works the queue: a staff member signed in at the workbench
// (internal/identity), or — where serve has no staff sign-in — a casework
// API key over HTTP Basic auth.
type Clerk struct {
	// Actor is recorded on transitions and in the audit log:
	// "staff:<subject>" or "clerk:<key id>".
	Actor        string
	Municipality string
	Name         string  // shown on the pages
	Lead         bool    // Teamleitung: may hand over anyone's case
	key          *APIKey // the casework key, when signed in with one
	csrf         string  // the staff session's token for forms
}

// staffClerk is the clerk of a staff session.
func staffClerk(st *identity.Staff) Clerk {
	return Clerk{Actor: st.Actor(), Municipality: st.Municipality, Name: st.Name, Lead: st.Has(identity.RoleLead), csrf: st.CSRF}
}

// keyClerk is the clerk of a casework key.
func keyClerk(k APIKey) Clerk {
	return Clerk{Actor: "clerk:" + k.ID, Municipality: k.Municipality, Name: "Schlüssel „" + k.Name + "“ (" + k.ID + ")", key: &k}
}

// clerkHandler is a clerks' page.
type clerkHandler func(w http.ResponseWriter, r *http.Request, c Clerk) error

// clerk signs the clerk in and marks the answer, whatever it is, as not to
// be stored: with a staff session when the workbench has sign-in
// (Handler.Staff; role clerk or lead), otherwise with Basic auth and a
// casework key. A state-changing request from another site is refused
// first, so it cannot even make the browser ask for a sign-in.
func (h *Handler) clerk(fn clerkHandler) web.HandlerFunc {
	if h.Staff != nil {
		return h.Staff.Require(func(w http.ResponseWriter, r *http.Request, st *identity.Staff) error {
			return fn(w, r, staffClerk(st))
		}, identity.RoleClerk, identity.RoleLead)
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := sameOrigin(r); err != nil {
				return err
			}
		}
		key, err := h.clerkKey(w, r)
		if err != nil {
			return err
		}
		return fn(w, r, keyClerk(key))
	}
}

// clerkKey checks the Basic auth credentials: a casework key that is
// neither unknown nor revoked. Without them, the answer asks the browser
// for them (WWW-Authenticate).
func (h *Handler) clerkKey(w http.ResponseWriter, r *http.Request) (APIKey, error) {
	challenge := func(msg string) (APIKey, error) {
		w.Header().Set("WWW-Authenticate", clerkRealm)
		return APIKey{}, errs.E(errs.Unauthenticated, "%s", msg)
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		return challenge("Bitte melden Sie sich mit Ihrem Schlüssel für die Sachbearbeitung an: " +
			"Benutzername ist die Schlüssel-ID (key_…), Passwort der geheime Teil des Schlüssels.")
	}
	key, err := h.svc.Authenticate(r.Context(), "Bearer "+id+"."+secret)
	if errs.Is(err, errs.Unauthenticated) {
		return challenge("Benutzername oder Passwort ist falsch, oder der Schlüssel wurde widerrufen.")
	}
	if err != nil {
		return APIKey{}, err
	}
	if key.Role != RoleCasework {
		return APIKey{}, errs.E(errs.Forbidden, "Dieser Schlüssel ist nicht für die Sachbearbeitung bestimmt.")
	}
	return key, nil
}

// sameOrigin refuses a request a browser sent on behalf of another site.
// Sec-Fetch-Site decides where the browser sends it: anything but
// same-origin is refused. Only without it is Origin compared with the
// host: the pages' Referrer-Policy no-referrer makes browsers send
// "Origin: null" even on same-origin posts, so Origin cannot overrule a
// same-origin Sec-Fetch-Site (net/http's CrossOriginProtection works the
// same way). Requests with neither header (programs, old browsers) pass;
// the form token protects them.
func sameOrigin(r *http.Request) error {
	refuse := errs.E(errs.Forbidden, "Die Anfrage kam von einer anderen Website und wurde deshalb abgelehnt.")
	if v := r.Header.Get("Sec-Fetch-Site"); v != "" {
		if v != "same-origin" {
			return refuse
		}
		return nil
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return refuse
		}
	}
	return nil
}

// decisionToken is the decision form's token: an HMAC of clerk and case
// under the installation secret, so a form works only for the clerk who
// opened it and only for that case.
func (h *Handler) decisionToken(actor, reference string) string {
	m := hmac.New(sha256.New, h.svc.hmacKey)
	m.Write([]byte("casework-decision\x00" + actor + "\x00" + reference))
	return hex.EncodeToString(m.Sum(nil))
}

// ruleLabels name the rules for the clerk, short (the results' reasons
// are addressed to the citizen).
var ruleLabels = map[string]string{
	rules.RuleResidenceRegistered:   "Meldung an der Antragsanschrift",
	rules.RuleResidenceKind:         "Art des Wohnsitzes",
	rules.RuleResidenceDistance:     "Entfernung zur Hauptwohnung",
	rules.RuleResidenceBlocked:      "Auskunftssperre",
	rules.RuleZoneContainsAddress:   "Anschrift in der Zone",
	rules.RuleAgeMinimum:            "Mindestalter",
	rules.RuleVehicleFound:          "Fahrzeug im Register",
	rules.RuleVehicleHolder:         "Halter oder Nutzungsberechtigung",
	rules.RuleVehicleDecommissioned: "Außerbetriebsetzung",
	rules.RuleVehicleClass:          "Fahrzeugklasse",
	rules.RuleVehicleLength:         "Fahrzeuglänge",
	rules.RuleVehicleMass:           "Zulässige Gesamtmasse",
	rules.RulePlateGerman:           "Deutsches Kennzeichen",
	rules.RuleNoOwnSpace:            "Erklärung: kein eigener Stellplatz",
	rules.RuleDurationOffered:       "Laufzeit",
	rules.RulePermitsPerPerson:      "Ausweise je Person",
	"fee.tier":                      "Gebühr bestimmbar",
}

func ruleLabel(rule string) string {
	if l, ok := ruleLabels[rule]; ok {
		return l
	}
	return rule
}

var verdictLabels = map[rules.Verdict]string{rules.Pass: "erfüllt", rules.Fail: "nicht erfüllt", rules.Review: "zu prüfen"}

// resultView is one rule result as the clerk sees it.
type resultView struct {
	Rule, Label, Verdict, Reason, Source string
	Open                                 bool // did not pass: failed or to review
}

func resultsOf(d *Decision) []resultView {
	if d == nil {
		return nil
	}
	out := make([]resultView, 0, len(d.Results))
	for _, r := range d.Results {
		v := verdictLabels[r.Verdict]
		if v == "" {
			v = string(r.Verdict)
		}
		out = append(out, resultView{Rule: r.Rule, Label: ruleLabel(r.Rule), Verdict: v, Reason: r.Reason, Source: r.Source,
			Open: r.Verdict != rules.Pass})
	}
	return out
}

// openResults are the results that did not pass: why a case is in review.
func openResults(d *Decision) []resultView {
	var out []resultView
	for _, r := range resultsOf(d) {
		if r.Open {
			out = append(out, r)
		}
	}
	return out
}

// ageDays is how many days lie between the day of application and today.
func (s *Service) ageDays(a Application) int {
	return int(s.today().Sub(a.AppliedOn.UTC()).Hours() / 24)
}

func days(n int) string {
	if n == 1 {
		return "1 Tag"
	}
	return strconv.Itoa(n) + " Tage"
}

func zonesLabel(z string) string {
	if z == "" {
		return "–"
	}
	return strings.ReplaceAll(z, ",", ", ")
}

// The queue page.

type queueData struct {
	Clerk        string    // who is signed in
	CSRF         string    // the staff session's form token ("" with a key)
	BulkToken    string    // the bulk approval form's token
	Bulk         *bulkView // the outcome of a bulk approval
	AnyBulk      bool      // some case on the page can be approved with others
	Filter       string    // "", "mir", "frei"
	Zone         string    // zone filter as typed
	ZoneError    string
	Reasons      []option // the reason filter's choices
	Newest       bool     // newest first
	Filtered     bool     // some filter is set
	TargetDays   int
	Municipality string
	Flash        *flashView
	Items        []queueItem
	Counts       []reasonCount
	Truncated    bool
	Limit        int
	Waiting      []waitingView // cases waiting for the citizen's answer
}

type waitingView struct{ Reference, Kind, Due, Assignee string }

// flashView confirms a decision after the redirect: the case's status now.
type flashView struct{ Reference, Status string }

type queueItem struct {
	Reference, Received, Kind, Zones string
	AgeDays                          int
	Age, Duration                    string
	Overdue                          bool   // older than the processing target
	Assignee                         string // "" nobody, "Sie", or a name
	Prechecked                       bool   // no check failed and the fee is known: may be approved with others
	Reasons                          []resultView
}

// DefaultTargetWorkingDays is the processing target the queue measures
// cases against unless configured (Service.TargetWorkingDays): a case
// waiting longer is marked overdue.
const DefaultTargetWorkingDays = 5

// workingDaysBetween counts the working days (Monday to Friday) after
// from up to and including to. Public holidays are not counted out.
func workingDaysBetween(from, to time.Time) int {
	n := 0
	for d := from.AddDate(0, 0, 1); !d.After(to); d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n++
		}
	}
	return n
}

type reasonCount struct {
	Label, Rule string
	Count       int
}

// zoneFilterPattern is what a zone id looks like (geo: zone_id of the
// municipality's GeoJSON).
var zoneFilterPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,19}$`)

var referenceFormat = regexp.MustCompile(`^BP-\d{4}-[0-9A-Z]{8}$`)

func (h *Handler) clerkQueue(w http.ResponseWriter, r *http.Request, c Clerk) error {
	return h.renderQueue(w, r, c, nil)
}

// renderQueue shows the queue; bulk is the outcome of a bulk approval
// just made, or nil.
func (h *Handler) renderQueue(w http.ResponseWriter, r *http.Request, c Clerk, bulk *bulkView) error {
	ctx := r.Context()
	q := r.URL.Query()
	filter, qf := q.Get("zuweisung"), QueueFilter{Assignee: AnyAssignee}
	switch filter {
	case "mir":
		qf.Assignee = c.Actor
	case "frei":
		qf.Assignee = Unassigned
	default:
		filter = ""
	}
	d := queueData{Clerk: c.Name, CSRF: c.csrf, BulkToken: h.decisionToken(c.Actor, bulkApproval), Municipality: c.Municipality,
		Limit: clerkQueueLimit, Filter: filter, TargetDays: h.svc.TargetWorkingDays}
	if z := strings.TrimSpace(q.Get("zone")); z != "" {
		d.Zone = z
		if zoneFilterPattern.MatchString(z) {
			qf.Zone = z
		} else {
			d.ZoneError = "Bitte geben Sie eine Zone so an, wie sie in der Liste steht (zum Beispiel 29)."
		}
	}
	if g := q.Get("grund"); slices.Contains(rules.RuleIDs(), g) || g == "fee.tier" {
		qf.Reason = g
	}
	d.Reasons = []option{{Value: "", Label: "alle Gründe", Selected: qf.Reason == ""}}
	for _, id := range append(rules.RuleIDs(), "fee.tier") {
		d.Reasons = append(d.Reasons, option{Value: id, Label: ruleLabel(id), Selected: id == qf.Reason})
	}
	qf.Newest = q.Get("reihenfolge") == "neueste"
	d.Newest = qf.Newest
	d.Filtered = filter != "" || qf.Zone != "" || qf.Reason != "" || qf.Newest
	apps, err := h.svc.QueueSummary(ctx, c.Municipality, qf, clerkQueueLimit+1)
	if err != nil {
		return err
	}
	if cfg, err := h.svc.config(c.Municipality); err == nil && cfg.Municipality != "" {
		d.Municipality = c.Municipality
	}
	if len(apps) > clerkQueueLimit {
		apps, d.Truncated = apps[:clerkQueueLimit], true
	}
	counts := map[string]int{}
	for _, a := range apps {
		it := queueItem{Reference: a.Reference, Received: germanDay(a.AppliedOn), Kind: a.Kind.Label(), Zones: zonesLabel(a.ZoneID),
			AgeDays: h.svc.ageDays(a), Duration: strconv.Itoa(a.DurationMonths) + " Monate", Reasons: openResults(a.Outcome)}
		it.Age = days(it.AgeDays)
		it.Overdue = workingDaysBetween(a.AppliedOn, h.svc.today()) > h.svc.TargetWorkingDays
		it.Prechecked = prechecked(a) && (a.Assignee == "" || a.Assignee == c.Actor)
		d.AnyBulk = d.AnyBulk || it.Prechecked
		switch {
		case a.Assignee == c.Actor:
			it.Assignee = "Sie"
		case a.Assignee != "":
			it.Assignee = a.AssigneeName
		}
		seen := map[string]bool{}
		for _, res := range it.Reasons {
			if !seen[res.Rule] {
				seen[res.Rule] = true
				counts[res.Rule]++
			}
		}
		d.Items = append(d.Items, it)
	}
	for rule, n := range counts {
		d.Counts = append(d.Counts, reasonCount{Label: ruleLabel(rule), Rule: rule, Count: n})
	}
	slices.SortFunc(d.Counts, func(a, b reasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Label, b.Label))
	})
	// The confirmation after a decision names the case only; its status is
	// read here, so a crafted link cannot claim a decision.
	if ref := r.URL.Query().Get("entschieden"); referenceFormat.MatchString(ref) {
		if row, err := getApp(ctx, h.svc.db.Read(), h.svc.db.Engine, "reference", ref, false); err == nil && row.Municipality == c.Municipality {
			d.Flash = &flashView{Reference: row.Reference, Status: row.Status.Label()}
		}
	}
	waiting, err := h.svc.WaitingForInformation(ctx, c.Municipality, clerkQueueLimit)
	if err != nil {
		return err
	}
	for _, w := range waiting {
		l, _ := kindLabel(w.Kind)
		d.Waiting = append(d.Waiting, waitingView{Reference: w.Reference, Kind: l, Due: germanDay(w.DueOn), Assignee: w.AssigneeName})
	}
	if err := h.svc.recordAccess(ctx, c, "", accessViewQueue, clientAddr(r)); err != nil {
		return err
	}
	d.Bulk = bulk
	return h.pages.Render(w, r, http.StatusOK, "queue.html", d)
}

// bulkApproval names the bulk approval form in its token.
const bulkApproval = "bulk-approval"

// maxBulk bounds the cases of one bulk approval.
const maxBulk = clerkQueueLimit

// prechecked: in review with no failed check and a known fee — the
// registers confirmed everything and only a person's look is missing
// (automation off, a declaration to review).
func prechecked(a Application) bool {
	if a.Status != Review || a.Outcome == nil || a.Outcome.FeeCents == nil {
		return false
	}
	for _, r := range a.Outcome.Results {
		if r.Verdict == rules.Fail {
			return false
		}
	}
	return true
}

// bulkView is the outcome of a bulk approval.
type bulkView struct {
	Approved []string // references
	Refused  []pair   // reference → why not
}

// clerkBulkApprove approves the ticked pre-checked cases one by one, each
// with its own decision, e-mail and audit entry, exactly as if approved on
// its page; a case that is not (any more) pre-checked or that someone
// else works on is left with the reason.
func (h *Handler) clerkBulkApprove(w http.ResponseWriter, r *http.Request, c Clerk) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(h.decisionToken(c.Actor, bulkApproval))) {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder gehört zu einer anderen Anmeldung. Bitte laden Sie die Liste neu.")
	}
	refs := r.PostForm["antrag"]
	if len(refs) == 0 {
		return errs.Field("antrag", "Bitte wählen Sie mindestens einen Antrag aus.")
	}
	if len(refs) > maxBulk {
		return errs.Field("antrag", "Höchstens %d Anträge auf einmal.", maxBulk)
	}
	bulk := &bulkView{}
	seen := map[string]bool{}
	for _, ref := range refs {
		ref = strings.ToUpper(strings.TrimSpace(ref))
		if seen[ref] {
			continue
		}
		seen[ref] = true
		a, err := h.svc.caseOf(r.Context(), c, ref)
		if err == nil && !prechecked(a) {
			err = errs.E(errs.Conflict, "nicht vorgeprüft oder nicht mehr in Prüfung – bitte einzeln ansehen")
		}
		if err == nil {
			_, err = h.svc.Decide(r.Context(), c.Municipality, ref, ClerkDecision{Approve: true, Clerk: c.Actor, Access: &c, Origin: clientAddr(r)})
		}
		switch {
		case err == nil:
			bulk.Approved = append(bulk.Approved, ref)
		case errs.Is(err, errs.Conflict) || errs.Is(err, errs.NotFound):
			bulk.Refused = append(bulk.Refused, pair{ref, errs.MessageOf(err)})
		default:
			return err
		}
	}
	h.svc.logger.Info("audit: casework bulk approval", "actor", c.Actor, "approved", len(bulk.Approved), "refused", len(bulk.Refused))
	return h.renderQueue(w, r, c, bulk)
}

// The case page.

type caseData struct {
	Clerk         string // who is signed in
	CSRF          string // the staff session's form token ("" with a key)
	Assignee      string // who works on the case: "" nobody
	AssignedSince string
	Mine          bool   // the signed-in clerk works on it
	Revealed      bool   // personal data shown unmasked
	RevealHref    string // where to show them
	App           Application
	Status, Kind  string
	Received, Age string
	Applicant     []pair
	Vehicle       []pair
	Results       []resultView
	Checks        []checkView
	Fee           []pair
	Notes         []noteView
	FeeInput      string // the corrected fee as typed
	FeeReason     string // its justification as typed
	Note          string // the note as typed

	FeeField, FeeReasonField, NoteField caseFieldView
	// Documents and requests for missing information (documents.go).
	Documents                             []docView
	Requests                              []requestView
	RequestKinds                          []option
	RequestKind, RequestText, RequestDays string // the request form as typed
	RequestTextField, RequestDaysField    caseFieldView
	// The case's messages over the Amtsnetz (Handler.Messages).
	MessageTable messageTable
	// Hand over to a colleague (staff sign-in only).
	Colleagues   []option
	CanHandOver  bool
	HandOverTo   string // the colleague chosen (subject)
	ClerkReasons string // the decision's reasons, once decided by a clerk
	DecidedBy    string
	Events       []eventView
	Action       string // where the decision forms post
	Decidable    bool   // in review
	CanApprove   bool   // a fee could be determined
	Token        string
	Choices      []choiceView // the results that did not pass, to tick as reasons
	Text         string       // the reasons as typed
	Errors       map[string]string
	Conflict     string // why the decision was not stored
}

type pair struct{ Key, Value string }

type checkView struct{ Register, Question, Answer, At, Reason string }

type eventView struct{ At, From, To, By, Note string }

type choiceView struct {
	resultView
	ID      string
	Checked bool
}

// HasErrors reports whether a field has an error (used by the template).
func (d caseData) HasErrors() bool { return len(d.Errors) > 0 }

var clerkRelations = map[Relation]string{Holder: "Halterin oder Halter", CompanyCar: "Firmenwagen", Borrowed: "Überlassenes Fahrzeug",
	CarSharing: "Carsharing"}

func yesNo(b bool) string {
	if b {
		return "ja"
	}
	return "nein"
}

// actorLabel names who made a step of the history.
func actorLabel(by string) string {
	switch {
	case by == "citizen":
		return "Antragstellende Person"
	case by == "system":
		return "System"
	case strings.HasPrefix(by, "clerk:"):
		return "Sachbearbeitung (" + strings.TrimPrefix(by, "clerk:") + ")"
	case strings.HasPrefix(by, "staff:"):
		return "Sachbearbeitung (" + strings.TrimPrefix(by, "staff:") + ")"
	case strings.HasPrefix(by, "payment:"):
		return "Zahlungsdienst (" + strings.TrimPrefix(by, "payment:") + ")"
	}
	return by
}

// berlinTime is a moment as local time in Berlin.
func berlinTime(t time.Time) string { return t.In(berlin).Format("02.01.2006 15:04") }

func (h *Handler) caseData(c Clerk, a Application) caseData {
	f := a.Form
	d := caseData{Clerk: c.Name, CSRF: c.csrf, App: a, Status: a.Status.Label(), Kind: a.Kind.Label(),
		Received: germanDay(a.AppliedOn), Age: days(h.svc.ageDays(a)), Results: resultsOf(a.Outcome), Errors: map[string]string{},
		Action: clerkQueuePath + "/" + a.Reference + "/entscheidung", Decidable: a.Status == Review}
	d.Applicant = []pair{{"Vorname(n)", mask(f.GivenNames)}, {"Familienname", mask(f.FamilyName)}, {"Geburtsdatum", "**.**.****"},
		{"Anschrift", mask(f.Address)}, {"E-Mail", mask(f.Email)}}
	d.RevealHref = clerkQueuePath + "/" + a.Reference + "?personendaten=anzeigen#antragsteller"
	if a.Assignee != "" {
		d.Assignee, d.AssignedSince, d.Mine = a.AssigneeName, berlinTime(a.AssignedAt), a.Assignee == c.Actor
	}
	d.Vehicle = []pair{{"Kennzeichen", a.Plate}, {"Verhältnis zum Fahrzeug", cmp.Or(clerkRelations[f.Relation], string(f.Relation))}}
	if f.Relation != "" && f.Relation != Holder {
		d.Vehicle = append(d.Vehicle, pair{"Erklärung liegt vor", yesNo(f.DeclarationProvided)})
	}
	d.Vehicle = append(d.Vehicle, pair{"Kein eigener Stellplatz erklärt", yesNo(f.NoOwnSpace)},
		pair{"Zone(n)", zonesLabel(a.ZoneID)}, pair{"Laufzeit", strconv.Itoa(a.DurationMonths) + " Monate"})
	if a.RenewsPermit != "" {
		d.Vehicle = append(d.Vehicle, pair{"Verlängert den Ausweis", a.RenewsPermit})
	}
	if a.ReplacesPermit != "" {
		d.Vehicle = append(d.Vehicle, pair{"Ersetzt den Ausweis", a.ReplacesPermit})
	}
	if o := a.Outcome; o != nil {
		for _, c := range o.Checks {
			d.Checks = append(d.Checks, checkView{Register: c.Register, Question: c.Question, Answer: c.Answer,
				At: berlinTime(c.At), Reason: c.Reason})
		}
		if o.FeeCents != nil {
			d.CanApprove = true
			d.Fee = []pair{{"Betrag", FormatCents(*o.FeeCents)}, {"Gebührenstufe", o.FeeTier}, {"Rechtsgrundlage", o.FeeSource}}
		}
		for _, fc := range o.FeeCorrections {
			from := "keiner"
			if fc.FromCents >= 0 {
				from = FormatCents(fc.FromCents)
			}
			d.Fee = append(d.Fee, pair{"Korrektur " + berlinTime(fc.At), fmt.Sprintf("von %s auf %s durch %s: %s", from, FormatCents(fc.ToCents), actorLabel(fc.By), fc.Reason)})
		}
		if !o.Automatic && (strings.HasPrefix(o.By, "clerk:") || strings.HasPrefix(o.By, "staff:")) {
			d.ClerkReasons, d.DecidedBy = o.Reasons, actorLabel(o.By)
		}
	}
	for _, e := range a.Events {
		from := "–"
		if e.From != "" {
			from = e.From.Label()
		}
		d.Events = append(d.Events, eventView{At: berlinTime(e.At), From: from, To: e.To.Label(), By: actorLabel(e.By), Note: e.Note})
	}
	d.Token = h.decisionToken(c.Actor, a.Reference) // also for notes on decided cases
	if d.Decidable {
		for i, r := range openResults(a.Outcome) {
			d.Choices = append(d.Choices, choiceView{resultView: r, ID: "grund-" + strconv.Itoa(i+1)})
		}
	}
	return d
}

func (h *Handler) clerkCase(w http.ResponseWriter, r *http.Request, c Clerk) error {
	a, err := h.svc.caseOf(r.Context(), c, r.PathValue("reference"))
	if err != nil {
		return err
	}
	d := h.caseData(c, a)
	if r.URL.Query().Get("personendaten") == "anzeigen" {
		// Recorded before anything is shown.
		if err := h.svc.recordAccess(r.Context(), c, a.ID, accessReveal, clientAddr(r)); err != nil {
			return err
		}
		f := a.Form
		d.Applicant = []pair{{"Vorname(n)", f.GivenNames}, {"Familienname", f.FamilyName}, {"Geburtsdatum", germanDate(f.BirthDate)},
			{"Anschrift", f.Address}, {"E-Mail", f.Email}}
		d.Revealed = true
	}
	return h.renderCase(w, r, c, http.StatusOK, d)
}

// clerkAssign takes the case or gives it back, then shows it again.
func (h *Handler) clerkAssign(w http.ResponseWriter, r *http.Request, c Clerk) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ref := strings.ToUpper(strings.TrimSpace(r.PathValue("reference")))
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(h.decisionToken(c.Actor, ref))) {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder gehört zu einer anderen Anmeldung. Bitte öffnen Sie den Antrag erneut.")
	}
	var take bool
	switch r.PostFormValue("bearbeitung") {
	case "uebernehmen":
		take = true
	case "zuruecklegen":
	default:
		return errs.Field("bearbeitung", "Bitte wählen Sie „Übernehmen“ oder „Zurücklegen“.")
	}
	if _, err := h.svc.Assign(r.Context(), c, ref, take, clientAddr(r)); err != nil {
		if errs.Is(err, errs.NotFound) {
			if aerr := h.svc.recordDenied(r.Context(), c, ref, clientAddr(r)); aerr != nil {
				return aerr
			}
		}
		if !errs.Is(err, errs.Conflict) {
			return err
		}
		a, lerr := h.svc.caseOf(r.Context(), c, ref)
		if lerr != nil {
			return lerr
		}
		d := h.caseData(c, a)
		d.Conflict = errs.MessageOf(err)
		return h.renderCase(w, r, c, http.StatusConflict, d)
	}
	http.Redirect(w, r, clerkQueuePath+"/"+ref, http.StatusSeeOther)
	return nil
}

// mask shows the first letter of each word of personal data and stars for
// the rest; digits become stars.
func mask(s string) string {
	var b strings.Builder
	first := true
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) && first:
			b.WriteRune(r)
			first = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune('*')
			first = false
		default:
			b.WriteRune(r)
			first = true
		}
	}
	return b.String()
}

type noteView struct{ At, By, Text string }

type messageView struct{ At, Direction, Service, Purpose, ID string }

// messageTable is the table of a case's Amtsnetz messages (_parts.html).
type messageTable struct {
	Caption string
	Rows    []messageView
}

func messageViews(ms []MessageRecord) []messageView {
	out := make([]messageView, 0, len(ms))
	for _, m := range ms {
		v := messageView{At: berlinTime(m.At), Service: m.Service, Purpose: m.Purpose, ID: m.MessageID, Direction: "Anfrage gesendet"}
		if !m.Sent {
			v.Direction = fmt.Sprintf("Antwort erhalten (HTTP %d)", m.Status)
		}
		out = append(out, v)
	}
	return out
}

// caseFieldView is a text field of the case page's smaller forms.
type caseFieldView struct {
	Name, Label, Hint, Value, Error string
	Area                            bool
}

func (h *Handler) renderCase(w http.ResponseWriter, r *http.Request, c Clerk, status int, d caseData) error {
	notes, err := h.svc.Notes(r.Context(), d.App.ID)
	if err != nil {
		return err
	}
	for _, n := range notes {
		d.Notes = append(d.Notes, noteView{At: berlinTime(n.At), By: n.ActorName, Text: n.Text})
	}
	d.FeeField = caseFieldView{Name: "gebuehr", Label: "Neuer Betrag in Euro", Hint: "zum Beispiel 10,20", Value: d.FeeInput, Error: d.Errors["gebuehr"]}
	d.FeeReasonField = caseFieldView{Name: "gebuehr_begruendung", Label: "Begründung der Korrektur", Hint: "Pflichtangabe; sie steht in der Akte.",
		Value: d.FeeReason, Error: d.Errors["gebuehr_begruendung"], Area: true}
	d.NoteField = caseFieldView{Name: "notiz", Label: "Neue Notiz", Hint: "höchstens 2000 Zeichen", Value: d.Note, Error: d.Errors["notiz"], Area: true}
	if err := h.caseDocuments(r.Context(), &d); err != nil {
		return err
	}
	if err := h.caseColleagues(r.Context(), c, &d); err != nil {
		return err
	}
	if h.Messages != nil {
		ms, err := h.Messages(r.Context(), d.App.Reference)
		if err != nil {
			return err
		}
		d.MessageTable = messageTable{Caption: "Signiert und an beiden Enden protokolliert", Rows: messageViews(ms)}
	}
	if err := h.svc.recordAccess(r.Context(), c, d.App.ID, accessViewCase, clientAddr(r)); err != nil {
		return err
	}
	return h.pages.Render(w, r, status, "case.html", d)
}

// The decision: "bewilligen" or "ablehnen" with a reason text (required,
// § 39 VwVfG) and, optionally, the results it rests on.

const (
	decideApprove = "bewilligen"
	decideReject  = "ablehnen"
)

// maxReasonText bounds the clerk's text (runes; the service's own limit
// of 5000 bytes answers what passes this one).
const maxReasonText = 4000

// clerkDecide decides a case; clerk has refused requests from other sites.
func (h *Handler) clerkDecide(w http.ResponseWriter, r *http.Request, c Clerk) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ctx := r.Context()
	ref := strings.ToUpper(strings.TrimSpace(r.PathValue("reference")))
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(h.decisionToken(c.Actor, ref))) {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder gehört zu einer anderen Anmeldung. Bitte öffnen Sie den Antrag erneut.")
	}
	a, err := h.svc.caseOf(ctx, c, ref)
	if err != nil {
		return err
	}
	choice := r.PostFormValue("entscheidung")
	if choice != decideApprove && choice != decideReject {
		return errs.Field("entscheidung", "Bitte wählen Sie „Antrag bewilligen“ oder „Antrag ablehnen“.")
	}
	approve := choice == decideApprove
	d := h.caseData(c, a)
	reasons := ""
	var grounds []string
	if !approve {
		d.Text = r.PostFormValue("begruendung")
		picked := r.PostForm["gruende"]
		for i := range d.Choices {
			c := &d.Choices[i]
			if c.Checked = slices.Contains(picked, c.Rule); c.Checked {
				grounds = append(grounds, c.Rule)
			}
		}
		text := strings.TrimSpace(d.Text)
		switch {
		case text == "":
			d.Errors["begruendung"] = "Bitte begründen Sie die Ablehnung. Die Begründung steht im Bescheid an die antragstellende Person (§ 39 VwVfG)."
		case len([]rune(text)) > maxReasonText:
			d.Errors["begruendung"] = fmt.Sprintf("Die Begründung ist zu lang (höchstens %d Zeichen).", maxReasonText)
		}
		if len(d.Errors) > 0 {
			return h.renderCase(w, r, c, http.StatusUnprocessableEntity, d)
		}
		reasons = text
	}
	decided, err := h.svc.Decide(ctx, c.Municipality, ref, ClerkDecision{
		Approve: approve, Reasons: reasons, Grounds: grounds, Clerk: c.Actor, Access: &c, Origin: clientAddr(r)})
	switch {
	case err == nil:
		h.svc.logger.Info("audit: casework decision", "actor", c.Actor, "reference", ref, "status", string(decided.Status))
	case errs.Is(err, errs.Conflict):
		fresh, lerr := h.svc.caseOf(ctx, c, ref)
		if lerr != nil {
			return lerr
		}
		if sameDecision(fresh, c, approve) {
			break // a double click: the first request decided as this one would
		}
		d = h.caseData(c, fresh)
		d.Conflict = errs.MessageOf(err)
		if fresh.Status != Review {
			d.Conflict = fmt.Sprintf("Der Antrag ist nicht mehr in Prüfung, sondern „%s“: Inzwischen hat jemand anderes entschieden, "+
				"oder der Antrag wurde zurückgezogen. Was geschehen ist, steht im Verlauf.", fresh.Status.Label())
		}
		return h.renderCase(w, r, c, http.StatusConflict, d)
	case errs.Is(err, errs.Invalid):
		for _, fe := range web.FieldErrors(err) {
			d.Errors["begruendung"] = fe.Detail
		}
		if len(d.Errors) == 0 {
			d.Errors["begruendung"] = errs.MessageOf(err)
		}
		return h.renderCase(w, r, c, http.StatusUnprocessableEntity, d)
	default:
		return err
	}
	http.Redirect(w, r, clerkQueuePath+"?entschieden="+url.QueryEscape(ref), http.StatusSeeOther)
	return nil
}

// sameDecision reports whether the case left review by this key's
// decision with the same outcome.
func sameDecision(a Application, c Clerk, approve bool) bool {
	want := Rejected
	if approve {
		want = Approved
	}
	for _, e := range a.Events {
		if e.From == Review {
			return e.By == c.Actor && e.To == want
		}
	}
	return false
}

// clientAddr is where a staff request came from, for the audit log: the
// host of the connection's remote address (the staff member's workstation
// or the proxy in front of Rathaus). Staff accountability needs it; for
// citizens nothing of the kind is recorded.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// clerkNote adds an internal note and shows the case again.
func (h *Handler) clerkNote(w http.ResponseWriter, r *http.Request, c Clerk) error {
	return h.caseAction(w, r, c, func(ref string, d *caseData) error {
		d.Note = r.PostFormValue("notiz")
		return h.svc.AddNote(r.Context(), c, ref, d.Note, clientAddr(r))
	})
}

// clerkFee corrects the fee and shows the case again.
func (h *Handler) clerkFee(w http.ResponseWriter, r *http.Request, c Clerk) error {
	return h.caseAction(w, r, c, func(ref string, d *caseData) error {
		d.FeeInput, d.FeeReason = r.PostFormValue("gebuehr"), r.PostFormValue("gebuehr_begruendung")
		cents, ok := parseEuro(d.FeeInput)
		if !ok {
			return errs.Field("gebuehr", "Bitte geben Sie den Betrag in Euro an, zum Beispiel 10,20.")
		}
		return h.svc.CorrectFee(r.Context(), c, ref, cents, d.FeeReason, clientAddr(r))
	})
}

// caseAction runs a form of the case page: checks the clerk-and-case token,
// runs act, and shows the case again — after a redirect on success, with
// the field's message (422) or the conflict (409) otherwise.
func (h *Handler) caseAction(w http.ResponseWriter, r *http.Request, c Clerk, act func(ref string, d *caseData) error) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ref := strings.ToUpper(strings.TrimSpace(r.PathValue("reference")))
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(h.decisionToken(c.Actor, ref))) {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder gehört zu einer anderen Anmeldung. Bitte öffnen Sie den Antrag erneut.")
	}
	var d caseData
	err := act(ref, &d)
	if err == nil {
		http.Redirect(w, r, clerkQueuePath+"/"+ref, http.StatusSeeOther)
		return nil
	}
	if errs.Is(err, errs.NotFound) {
		if aerr := h.svc.recordDenied(r.Context(), c, ref, clientAddr(r)); aerr != nil {
			return aerr
		}
		return err
	}
	if !errs.Is(err, errs.Invalid) && !errs.Is(err, errs.Conflict) {
		return err
	}
	a, lerr := h.svc.caseOf(r.Context(), c, ref)
	if lerr != nil {
		return lerr
	}
	typed := d
	d = h.caseData(c, a)
	d.Note, d.FeeInput, d.FeeReason = typed.Note, typed.FeeInput, typed.FeeReason
	d.RequestKind, d.RequestText, d.RequestDays = typed.RequestKind, typed.RequestText, typed.RequestDays
	d.HandOverTo = typed.HandOverTo
	status := http.StatusConflict
	if errs.Is(err, errs.Invalid) {
		status = http.StatusUnprocessableEntity
		for _, fe := range web.FieldErrors(err) {
			d.Errors[fe.Parameter] = fe.Detail
		}
	} else {
		d.Conflict = errs.MessageOf(err)
	}
	return h.renderCase(w, r, c, status, d)
}

// euroPattern: whole euros with an optional decimal comma (or point) and
// one or two cents digits.
var euroPattern = regexp.MustCompile(`^(\d{1,7})(?:[,.](\d{1,2}))?$`)

// parseEuro reads "10", "10,2", "10,20" or "10.20" (and an optional €).
func parseEuro(s string) (int64, bool) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "€"))
	m := euroPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	euros, _ := strconv.ParseInt(m[1], 10, 64)
	cents := int64(0)
	if m[2] != "" {
		c, _ := strconv.ParseInt(m[2], 10, 64)
		if len(m[2]) == 1 {
			c *= 10
		}
		cents = c
	}
	return euros*100 + cents, true
}

// caseColleagues offers the colleagues a case can be handed over to: the
// municipality's clerks and leads from the staff directory, without the
// one who works on it now.
func (h *Handler) caseColleagues(ctx context.Context, c Clerk, d *caseData) error {
	d.CanHandOver = h.Staff != nil && d.Decidable && (d.App.Assignee == "" || d.App.Assignee == c.Actor || c.Lead)
	if !d.CanHandOver {
		return nil
	}
	cs, err := identity.Colleagues(ctx, h.svc.db, c.Municipality, h.svc.now(), identity.RoleClerk, identity.RoleLead)
	if err != nil {
		return err
	}
	for _, col := range cs {
		if col.Actor() != d.App.Assignee {
			d.Colleagues = append(d.Colleagues, option{Value: col.Subject, Label: col.Name, Selected: col.Subject == d.HandOverTo})
		}
	}
	return nil
}

// clerkHandOver hands the case over to a colleague from the directory.
func (h *Handler) clerkHandOver(w http.ResponseWriter, r *http.Request, c Clerk) error {
	return h.caseAction(w, r, c, func(ref string, d *caseData) error {
		d.HandOverTo = r.PostFormValue("uebergabe_an")
		if h.Staff == nil {
			return errs.E(errs.Conflict, "Übergeben lässt sich ein Antrag nur mit der Anmeldung für Beschäftigte.")
		}
		cs, err := identity.Colleagues(r.Context(), h.svc.db, c.Municipality, h.svc.now(), identity.RoleClerk, identity.RoleLead)
		if err != nil {
			return err
		}
		for _, col := range cs {
			if col.Subject == d.HandOverTo {
				return h.svc.HandOver(r.Context(), c, ref, col.Actor(), col.Name, clientAddr(r))
			}
		}
		return errs.Field("uebergabe_an", "Bitte wählen Sie eine Kollegin oder einen Kollegen aus der Liste.")
	})
}
