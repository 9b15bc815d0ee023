package parking_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
	"opencode.de/rathaus/rathaus/internal/audit"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// clerk is a browser of a clerk: Basic auth with a casework key (or
// none), no redirects followed.
type clerk struct {
	t          *testing.T
	base       string
	user, pass string
}

func newClerk(t *testing.T, base, key string) *clerk {
	id, secret, _ := strings.Cut(key, ".")
	return &clerk{t: t, base: base, user: id, pass: secret}
}

type answer struct {
	code int
	page string
	hdr  http.Header
}

func (c *clerk) do(method, path string, form url.Values, header map[string]string) answer {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, string(page), res.Header}
}

func (c *clerk) get(path string) answer { c.t.Helper(); return c.do("GET", path, nil, nil) }

var tokenRE = regexp.MustCompile(`name="token" value="([0-9a-f]{64})"`)

// token opens the case page and returns the decision form's token.
func (c *clerk) token(ref string) string {
	c.t.Helper()
	a := c.get("/sachbearbeitung/bewohnerparken/" + ref)
	m := tokenRE.FindStringSubmatch(a.page)
	if a.code != 200 || m == nil {
		c.t.Fatalf("case page %s: %d without a decision token\n%s", ref, a.code, a.page)
	}
	return m[1]
}

// accessLog returns casework_access as lines "action key application".
func accessLog(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.Read().Query(`SELECT action, api_key_id, application_id FROM casework_access ORDER BY at, action`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var action, key string
		var app sql.NullString
		if err := rows.Scan(&action, &key, &app); err != nil {
			t.Fatal(err)
		}
		out = append(out, action+" "+key+" "+app.String)
	}
	return out
}

func countOf(lines []string, line string) int {
	n := 0
	for _, l := range lines {
		if l == line {
			n++
		}
	}
	return n
}

func keyID(key string) string { id, _, _ := strings.Cut(key, "."); return id }

// The clerks' pages: sign-in with a casework key, the queue with its
// reasons, the case with its data and history, the decision through the
// forms with its protections, and the access log.
func TestClerkPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		srv := f.pageServer(t)

		duesseldorf := tenant.Municipality{ARS: "051110000000", Name: "Düsseldorf"}
		if err := db.Transact(f.ctx, func(tx *sql.Tx) error { return tenant.Ensure(f.ctx, tx, duesseldorf) }); err != nil {
			t.Fatal(err)
		}
		newKey := func(ars, role, name string) string {
			k, err := f.svc.CreateAPIKey(f.ctx, ars, role, name)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		key := newKey(demo.Berlin.ARS, parking.RoleCasework, "Test-Sachbearbeitung")
		key2 := newKey(demo.Berlin.ARS, parking.RoleCasework, "Zweite Sachbearbeitung")
		enforcement := newKey(demo.Berlin.ARS, parking.RoleEnforcement, "Scanfahrzeug")
		foreign := newKey(duesseldorf.ARS, parking.RoleCasework, "Düsseldorf")

		// Cases in review: one for the Auskunftssperre, the others fail a rule
		// of Berlin (only a main residence, a vehicle in service, 18 years).
		blocked := f.byExp[registers.ExpectBlocked]
		var failingOnes []registers.DemoResident
		for _, exp := range []string{registers.ExpectSecondary, registers.ExpectDecommissioned, registers.ExpectMinor} {
			if r, ok := f.byExp[exp]; ok {
				failingOnes = append(failingOnes, r)
			}
		}
		if blocked.Person.FamilyName == "" || len(failingOnes) < 2 {
			t.Fatal("the fixture has no blocked or fewer than two failing residents among the first 60")
		}
		failing := failingOnes[0]
		recA, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(blocked), "")
		if err != nil {
			t.Fatal(err)
		}
		a := f.wait(t, recA.Reference, recA.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		recB, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(failing), "")
		if err != nil {
			t.Fatal(err)
		}
		b := f.wait(t, recB.Reference, recB.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		var failedB []string // rule ids of B's failed results
		for _, r := range b.Outcome.Results {
			if r.Verdict == "fail" {
				failedB = append(failedB, r.Rule)
			}
		}
		if len(failedB) == 0 {
			t.Fatalf("case B (%s) in review without a failed rule: %+v", failing.Expect, b.Outcome.Results)
		}

		queue := "/sachbearbeitung/bewohnerparken"
		caseA, caseB := queue+"/"+recA.Reference, queue+"/"+recB.Reference
		decideA, decideB := caseA+"/entscheidung", caseB+"/entscheidung"
		c := newClerk(t, srv.URL, key)
		// A second clerk opens case A while it is in review.
		other := newClerk(t, srv.URL, key2)
		otherTokA := other.token(recA.Reference)

		t.Run("sign-in", func(t *testing.T) {
			anon := &clerk{t: t, base: srv.URL}
			wrong := newClerk(t, srv.URL, keyID(key)+".falsch")
			unknown := newClerk(t, srv.URL, "key_000000000000.geheim")
			for name, cl := range map[string]*clerk{"no credentials": anon, "wrong password": wrong, "unknown key": unknown} {
				for _, p := range []string{queue, caseA} {
					res := cl.get(p)
					if res.code != http.StatusUnauthorized || res.hdr.Get("WWW-Authenticate") != `Basic realm="Rathaus Sachbearbeitung", charset="UTF-8"` ||
						!strings.Contains(res.page, "Anmeldung erforderlich") || res.hdr.Get("Cache-Control") != "no-store" ||
						!strings.Contains(res.hdr.Get("Content-Type"), "text/html") {
						t.Errorf("%s, GET %s: %d, WWW-Authenticate %q, Cache-Control %q; want 401 with the challenge and a German page\n%s",
							name, p, res.code, res.hdr.Get("WWW-Authenticate"), res.hdr.Get("Cache-Control"), res.page)
					}
					if strings.Contains(res.page, blocked.Person.FamilyName) {
						t.Errorf("%s, GET %s shows personal data", name, p)
					}
				}
			}
			if res := newClerk(t, srv.URL, enforcement).get(queue); res.code != http.StatusForbidden ||
				!strings.Contains(res.page, "nicht für die Sachbearbeitung bestimmt") {
				t.Errorf("enforcement key: %d, want 403 naming the reason\n%s", res.code, res.page)
			}
		})

		t.Run("queue", func(t *testing.T) {
			before := len(accessLog(t, db))
			res := c.get(queue)
			if res.code != 200 || res.hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("queue: %d, Cache-Control %q\n%s", res.code, res.hdr.Get("Cache-Control"), res.page)
			}
			iA, iB := strings.Index(res.page, `href="`+caseA+`"`), strings.Index(res.page, `href="`+caseB+`"`)
			if iA < 0 || iB < 0 || iA > iB {
				t.Errorf("queue does not link both cases, oldest first (A at %d, B at %d)", iA, iB)
			}
			for _, want := range []string{"Auskunftssperre", "§ 51 BMG", "Auskunftssperre</a>: 1 Antrag", germanDay(a.AppliedOn), "0 Tage", "24 Monate"} {
				if !strings.Contains(res.page, want) {
					t.Errorf("queue does not show %q", want)
				}
			}
			for _, r := range b.Outcome.Results {
				if r.Verdict == "fail" && !strings.Contains(res.page, r.Source) {
					t.Errorf("queue does not give the source of B's failed rule %s: %q", r.Rule, r.Source)
				}
			}
			// The queue is about cases, not people.
			if strings.Contains(res.page, blocked.Person.FamilyName) {
				t.Error("the queue shows the applicant's name")
			}
			log := accessLog(t, db)
			if len(log) != before+1 || log[len(log)-1] != "view_queue "+keyID(key)+" " {
				t.Errorf("access log after the queue: %q, want one view_queue line", log[before:])
			}
			empty := newClerk(t, srv.URL, foreign).get(queue)
			if empty.code != 200 || !strings.Contains(empty.page, "Zurzeit wartet kein Antrag auf Sie") || strings.Contains(empty.page, recA.Reference) {
				t.Errorf("queue of another municipality: %d, want the friendly empty message and no Berlin case\n%s", empty.code, empty.page)
			}
		})

		t.Run("case", func(t *testing.T) {
			before := len(accessLog(t, db))
			res := c.get(caseA)
			if res.code != 200 || res.hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("case page: %d, Cache-Control %q\n%s", res.code, res.hdr.Get("Cache-Control"), res.page)
			}
			for _, want := range []string{blocked.Vehicles[0].Plate.String(), "Auskunftssperre", "§ 51 BMG", "Registerabfragen", "Eingegangen",
				"Antrag bewilligen", "Antrag ablehnen", `name="gruende" value="residence.blocked"`, "Personendaten anzeigen", "Niemand bearbeitet diesen Antrag"} {
				if !strings.Contains(res.page, want) {
					t.Errorf("case page does not show %q", want)
				}
			}
			// Personal data are masked until the clerk asks for them.
			for _, secret := range []string{blocked.Person.FamilyName, blocked.Person.BirthDate.Format("02.01.2006"), "test@example.org"} {
				if strings.Contains(res.page, secret) {
					t.Errorf("case page shows %q before it is asked to", secret)
				}
			}
			log := accessLog(t, db)
			if len(log) != before+1 || log[len(log)-1] != "view_case "+keyID(key)+" "+a.ID {
				t.Errorf("access log after opening the case: %q, want one view_case line", log[before:])
			}
			shown := c.get(caseA + "?personendaten=anzeigen")
			for _, want := range []string{blocked.Person.GivenNames, blocked.Person.FamilyName, blocked.Person.BirthDate.Format("02.01.2006"), "test@example.org",
				"Die Anzeige ist protokolliert"} {
				if !strings.Contains(shown.page, want) {
					t.Errorf("case page with personal data does not show %q", want)
				}
			}
			if n := countAudit(t, db, "clerk:"+keyID(key), "parking.reveal_data", a.ID); n != 1 {
				t.Errorf("%d audit entries of the reveal, want 1", n)
			}
			if res := newClerk(t, srv.URL, foreign).get(caseA); res.code != http.StatusNotFound || strings.Contains(res.page, blocked.Person.FamilyName) {
				t.Errorf("case of another municipality: %d, want 404 without its data", res.code)
			}
			if n := countAudit(t, db, "clerk:"+keyID(foreign), "parking.denied", a.ID); n != 1 {
				t.Errorf("%d audit entries of the denied access, want 1", n)
			}
			if res := c.get(queue + "/BP-2026-00000000"); res.code != http.StatusNotFound {
				t.Errorf("unknown case: %d, want 404", res.code)
			}
		})

		t.Run("forgery refused", func(t *testing.T) {
			tokA, tokB := c.token(recA.Reference), c.token(recB.Reference)
			approve := func(tok string) url.Values { return url.Values{"token": {tok}, "entscheidung": {"bewilligen"}} }
			for _, tc := range []struct {
				name   string
				path   string
				form   url.Values
				header map[string]string
			}{
				{"no token", decideA, url.Values{"entscheidung": {"bewilligen"}}, nil},
				{"wrong token", decideA, approve(strings.Repeat("ab", 32)), nil},
				{"token of another case", decideA, approve(tokB), nil},
				{"cross-site", decideA, approve(tokA), map[string]string{"Sec-Fetch-Site": "cross-site"}},
				{"same-site", decideA, approve(tokA), map[string]string{"Sec-Fetch-Site": "same-site"}},
				{"foreign origin", decideA, approve(tokA), map[string]string{"Origin": "http://boese.example"}},
				{"null origin", decideA, approve(tokA), map[string]string{"Origin": "null"}},
				{"same-site fetch, this origin", decideA, approve(tokA), map[string]string{"Sec-Fetch-Site": "same-site", "Origin": srv.URL}},
			} {
				res := c.do("POST", tc.path, tc.form, tc.header)
				if res.code != http.StatusForbidden {
					t.Errorf("%s: %d, want 403\n%s", tc.name, res.code, res.page)
				}
			}
			// A foreign site's post does not even make the browser ask for a sign-in.
			anon := &clerk{t: t, base: srv.URL}
			if res := anon.do("POST", decideA, approve(tokA), map[string]string{"Sec-Fetch-Site": "cross-site"}); res.code != http.StatusForbidden ||
				res.hdr.Get("WWW-Authenticate") != "" {
				t.Errorf("cross-site post without credentials: %d, WWW-Authenticate %q; want 403 without a challenge", res.code, res.hdr.Get("WWW-Authenticate"))
			}
			// Another clerk's form is not this clerk's.
			if res := newClerk(t, srv.URL, key2).do("POST", decideA, approve(tokA), nil); res.code != http.StatusForbidden {
				t.Errorf("token of another key: %d, want 403", res.code)
			}
			if res := newClerk(t, srv.URL, foreign).do("POST", decideA, approve(tokA), nil); res.code != http.StatusForbidden && res.code != http.StatusNotFound {
				t.Errorf("decision by another municipality: %d, want 403 or 404", res.code)
			}
			if got, _ := f.svc.Get(f.ctx, recA.Reference, recA.AccessCode); got.Status != parking.Review {
				t.Fatalf("after refused decisions the case is %s, want still in review", got.Status)
			}
		})

		t.Run("reject needs reasons", func(t *testing.T) {
			tok := c.token(recB.Reference)
			res := c.do("POST", decideB, url.Values{"token": {tok}, "entscheidung": {"ablehnen"}, "begruendung": {"  "}, "gruende": {failedB[0]}}, nil)
			if res.code != http.StatusUnprocessableEntity || !strings.Contains(res.page, `id="begruendung-fehler"`) ||
				!strings.Contains(res.page, "Bitte begründen Sie die Ablehnung") || !strings.Contains(res.page, `value="`+failedB[0]+`" checked`) {
				t.Errorf("reject without reasons: %d, want 422 with the field's German message and the tick kept\n%s", res.code, res.page)
			}
			long := "Zu <lang> " + strings.Repeat("x", 4000)
			res = c.do("POST", decideB, url.Values{"token": {tok}, "entscheidung": {"ablehnen"}, "begruendung": {long}}, nil)
			if res.code != http.StatusUnprocessableEntity || !strings.Contains(res.page, "höchstens 4000 Zeichen") ||
				!strings.Contains(res.page, "Zu &lt;lang&gt; xxxx") {
				t.Errorf("reject with a too long text: %d, want 422 with the text kept\n%.2000s", res.code, res.page)
			}
			if got, _ := f.svc.Get(f.ctx, recB.Reference, recB.AccessCode); got.Status != parking.Review {
				t.Errorf("after invalid rejections the case is %s, want still in review", got.Status)
			}
		})

		var tokA string
		t.Run("assignment", func(t *testing.T) {
			assign := func(cl *clerk, what string) answer {
				return cl.do("POST", caseB+"/bearbeitung", url.Values{"token": {cl.token(recB.Reference)}, "bearbeitung": {what}}, nil)
			}
			if res := assign(other, "uebernehmen"); res.code != http.StatusSeeOther {
				t.Fatalf("take: %d\n%s", res.code, res.page)
			}
			if res := other.get(caseB); !strings.Contains(res.page, "Sie bearbeiten diesen Antrag") || !strings.Contains(res.page, "Zurücklegen") {
				t.Errorf("case page of the clerk who took it does not say so\n%s", res.page)
			}
			page := c.get(caseB).page
			if !strings.Contains(page, "Diesen Antrag bearbeitet <strong>Schlüssel „") || !strings.Contains(page, keyID(key2)) || !strings.Contains(page, "übernehmen</span>") {
				t.Errorf("case page of another clerk does not name who works on it\n%s", page)
			}
			if q := c.get(queue).page; !strings.Contains(q, keyID(key2)) {
				t.Errorf("queue does not show who works on B")
			}
			if q := other.get(queue + "?zuweisung=mir").page; !strings.Contains(q, recB.Reference) || strings.Contains(q, recA.Reference) {
				t.Errorf("queue of the cases the clerk works on: want B only")
			}
			if q := other.get(queue + "?zuweisung=frei").page; strings.Contains(q, recB.Reference) || !strings.Contains(q, recA.Reference) {
				t.Errorf("queue of the cases nobody works on: want A only\n%s", q)
			}
			// Deciding someone else's case is refused; it says whose it is.
			res := c.do("POST", decideB, url.Values{"token": {c.token(recB.Reference)}, "entscheidung": {"ablehnen"}, "begruendung": {"Nein"}}, nil)
			if res.code != http.StatusConflict || !strings.Contains(res.page, "Den Antrag bearbeitet Schlüssel") {
				t.Errorf("decision on a case another clerk works on: %d, want 409 naming them\n%s", res.code, res.page)
			}
			// Only who works on a case gives it back.
			if res := assign(c, "zuruecklegen"); res.code != http.StatusConflict || !strings.Contains(res.page, "zurücklegen kann ihn nur, wer ihn bearbeitet") {
				t.Errorf("give back by another clerk: %d\n%s", res.code, res.page)
			}
			if res := assign(other, "zuruecklegen"); res.code != http.StatusSeeOther {
				t.Errorf("give back: %d", res.code)
			}
			if res := assign(c, "uebernehmen"); res.code != http.StatusSeeOther {
				t.Errorf("take after give back: %d", res.code)
			}
			if res := assign(other, "irgendwas"); res.code != http.StatusBadRequest {
				t.Errorf("unknown action: %d", res.code)
			}
			if res := other.do("POST", caseB+"/bearbeitung", url.Values{"token": {c.token(recB.Reference)}, "bearbeitung": {"uebernehmen"}}, nil); res.code != http.StatusForbidden {
				t.Errorf("take with another clerk's token: %d, want 403", res.code)
			}
			for _, e := range []struct{ actor, action string }{{"clerk:" + keyID(key2), "parking.take"}, {"clerk:" + keyID(key2), "parking.give_back"}, {"clerk:" + keyID(key), "parking.take"}} {
				if n := countAudit(t, db, e.actor, e.action, b.ID); n != 1 {
					t.Errorf("%d audit entries %s %s, want 1", n, e.actor, e.action)
				}
			}
		})

		t.Run("approve", func(t *testing.T) {
			tokA = c.token(recA.Reference)
			res := c.do("POST", decideA, url.Values{"token": {tokA}, "entscheidung": {"bewilligen"}},
				// As a browser sends it under Referrer-Policy: no-referrer.
				map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"})
			wantLoc := queue + "?entschieden=" + recA.Reference
			if res.code != http.StatusSeeOther || res.hdr.Get("Location") != wantLoc || res.hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("approve: %d → %q, want 303 → %s\n%s", res.code, res.hdr.Get("Location"), wantLoc, res.page)
			}
			got, _ := f.svc.Get(f.ctx, recA.Reference, recA.AccessCode)
			if got.Status != parking.Approved && got.Status != parking.AwaitingPayment {
				t.Errorf("after approval the case is %s, want approved", got.Status)
			}
			if n := countOf(accessLog(t, db), "decide "+keyID(key)+" "+a.ID); n != 1 {
				t.Errorf("%d decide lines for the approval, want 1", n)
			}
			page := c.get(wantLoc).page
			if !strings.Contains(page, "Entscheidung gespeichert: Antrag "+recA.Reference+" ist jetzt „"+parking.Approved.Label()+"“") ||
				strings.Contains(page, `href="`+caseA+`"`) {
				t.Errorf("queue after the approval does not confirm it, or still lists the case\n%s", page)
			}
			if page := newClerk(t, srv.URL, foreign).get(wantLoc).page; strings.Contains(page, "Entscheidung gespeichert") {
				t.Error("another municipality's queue confirms a Berlin decision")
			}
			// A double click: the second request finds its own decision.
			res = c.do("POST", decideA, url.Values{"token": {tokA}, "entscheidung": {"bewilligen"}}, nil)
			if res.code != http.StatusSeeOther {
				t.Errorf("second click on approve: %d, want 303 like the first", res.code)
			}
			if n := countOf(accessLog(t, db), "decide "+keyID(key)+" "+a.ID); n != 1 {
				t.Errorf("%d decide lines after a double click, want 1", n)
			}
		})

		t.Run("reject", func(t *testing.T) {
			tok := c.token(recB.Reference)
			res := c.do("POST", decideB, url.Values{"token": {tok}, "entscheidung": {"ablehnen"},
				"begruendung": {"Das Fahrzeug erfüllt die Voraussetzungen nicht."}, "gruende": {failedB[0], "erfunden.regel"}}, nil)
			if res.code != http.StatusSeeOther || res.hdr.Get("Location") != queue+"?entschieden="+recB.Reference {
				t.Fatalf("reject: %d → %q\n%s", res.code, res.hdr.Get("Location"), res.page)
			}
			got, _ := f.svc.Get(f.ctx, recB.Reference, recB.AccessCode)
			if got.Status != parking.Rejected || got.Outcome == nil || got.Outcome.Reasons != "Das Fahrzeug erfüllt die Voraussetzungen nicht." ||
				!slices.Equal(got.Outcome.Grounds, failedB[:1]) {
				t.Fatalf("after rejection: %s, reasons %q, grounds %q (want %q)", got.Status, got.Outcome.Reasons, got.Outcome.Grounds, failedB[:1])
			}
			if by := got.Events[len(got.Events)-1].By; by != "clerk:"+keyID(key) {
				t.Errorf("rejection recorded as by %q, want the clerk's key", by)
			}
			ms := f.mails(t, recB.Reference)
			if len(ms) != 2 || !strings.Contains(ms[1].Subject, "abgelehnt") || !strings.Contains(ms[1].Body, "Das Fahrzeug erfüllt die Voraussetzungen nicht.") {
				t.Errorf("mails after the rejection: %v, want the receipt and the rejection with the clerk's reasons", ms)
			}
			// The Bescheid gives the ticked result with its source, not the others.
			for _, r := range got.Outcome.Results {
				if r.Verdict == rules.Pass {
					continue
				}
				if want := r.Rule == failedB[0]; len(ms) == 2 && strings.Contains(ms[1].Body, r.Reason+" ("+r.Source+")") != want {
					t.Errorf("rejection mail gives %s: %v, want %v\n%s", r.Rule, !want, want, ms[1].Body)
				}
			}
			if n := countOf(accessLog(t, db), "decide "+keyID(key)+" "+b.ID); n != 1 {
				t.Errorf("%d decide lines for the rejection, want 1", n)
			}
		})

		t.Run("someone was faster", func(t *testing.T) {
			// The second clerk opened A before the decision and now rejects it.
			if !strings.Contains(other.get(caseA).page, "nicht in Prüfung") {
				t.Error("the case page of a decided case does not say it is no longer in review")
			}
			res := other.do("POST", decideA, url.Values{"token": {otherTokA}, "entscheidung": {"ablehnen"}, "begruendung": {"Zu spät"}}, nil)
			if res.code != http.StatusConflict || !strings.Contains(res.page, "Ihre Entscheidung wurde nicht gespeichert") ||
				!strings.Contains(res.page, "nicht mehr in Prüfung, sondern „"+parking.Approved.Label()+"“") {
				t.Errorf("decision on a decided case: %d, want 409 saying what happened\n%s", res.code, res.page)
			}
			// The same clerk, changing their mind, is told the same.
			res = c.do("POST", decideA, url.Values{"token": {tokA}, "entscheidung": {"ablehnen"}, "begruendung": {"Doch nicht"}}, nil)
			if res.code != http.StatusConflict {
				t.Errorf("other decision by the same clerk on a decided case: %d, want 409", res.code)
			}
			if got, _ := f.svc.Get(f.ctx, recA.Reference, recA.AccessCode); got.Status == parking.Rejected {
				t.Error("a late rejection overturned the approval")
			}
		})

		t.Run("API reads and decisions are logged", func(t *testing.T) {
			recC, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(failingOnes[1]), "")
			if err != nil {
				t.Fatal(err)
			}
			f.wait(t, recC.Reference, recC.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
			api := func(method, path, body string) int {
				t.Helper()
				req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key2)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			queueReads := countOf(accessLog(t, db), "view_queue "+keyID(key2)+" ")
			if code := api("GET", "/api/v1/municipalities/"+demo.Berlin.ARS+"/parking/queue", ""); code != 200 {
				t.Fatalf("API queue: %d", code)
			}
			if code := api("POST", "/api/v1/parking/applications/"+recC.Reference+"/decision", `{"approve": false, "reasons": "Nicht erfüllt."}`); code != 200 {
				t.Fatalf("API decision: %d", code)
			}
			c, _ := f.svc.Get(f.ctx, recC.Reference, recC.AccessCode)
			log := accessLog(t, db)
			if countOf(log, "view_queue "+keyID(key2)+" ") != queueReads+1 || countOf(log, "decide "+keyID(key2)+" "+c.ID) != 1 {
				t.Errorf("access log after an API read and decision: %q, want one view_queue and one decide line of the key", log)
			}
		})

		// The audit log holds every access too, as an intact chain.
		rep, err := audit.Verify(f.ctx, db.Read(), nil)
		// (The reveal of personal data, the denied access of the other
		// municipality and the three assignments are in the audit log only.)
		if err != nil || rep.Broken != nil || rep.Entries != int64(len(accessLog(t, db))+5) {
			t.Errorf("audit log: %s (%v); want an intact chain with one entry per access row (%d) and five more", rep, err, len(accessLog(t, db)))
		}
		entries, err := audit.Entries(f.ctx, db.Read(), 1, 1000)
		if err != nil {
			t.Fatal(err)
		}
		decisions := 0
		for _, e := range entries {
			if e.Action == "parking.decide" && e.Actor == "clerk:"+keyID(key) && e.Object == "parking_application:"+b.ID && e.Municipality == demo.Berlin.ARS && e.Origin == "127.0.0.1" {
				decisions++
			}
		}
		if decisions != 1 {
			t.Errorf("%d audit entries of the rejection of B by the key, want 1: %+v", decisions, entries)
		}

		// The logs name keys and cases, never people.
		var text strings.Builder
		for _, l := range accessLog(t, db) {
			text.WriteString(l + "\n")
		}
		text.WriteString(storetest.TableText(t, db, "audit_log"))
		for _, s := range []string{blocked.Person.FamilyName, failing.Person.FamilyName, blocked.Vehicles[0].Plate.String(), recA.Reference} {
			if strings.Contains(text.String(), s) {
				t.Errorf("the access log contains %q", s)
			}
		}
	}, sets...)
}

// countAudit counts the audit entries of actor with action on the
// application id.
func countAudit(t *testing.T, db *store.DB, actor, action, appID string) int {
	t.Helper()
	es, err := audit.Entries(context.Background(), db.Read(), 1, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Actor == actor && e.Action == action && e.Object == "parking_application:"+appID {
			n++
		}
	}
	return n
}

// Pre-checked cases (no failed check, fee known) can be approved
// together; each is decided, mailed and audited on its own, and a case
// that is not pre-checked or unknown is left with the reason.
func TestBulkApproval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		srv := f.pageServer(t)
		key, err := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleCasework, "Sammel")
		if err != nil {
			t.Fatal(err)
		}
		key2, _ := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleCasework, "Andere")
		blocked, failing := f.byExp[registers.ExpectBlocked], f.byExp[registers.ExpectSecondary]
		if blocked.Person.FamilyName == "" || failing.Person.FamilyName == "" {
			t.Fatal("the fixture lacks a blocked or a secondary-residence resident")
		}
		submit := func(r registers.DemoResident) (parking.Receipt, parking.Application) {
			rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(r), "")
			if err != nil {
				t.Fatal(err)
			}
			return rec, f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		}
		recA, a := submit(blocked)
		recB, _ := submit(failing)
		queue := "/sachbearbeitung/bewohnerparken"
		c := newClerk(t, srv.URL, key)
		page := c.get(queue).page
		if !strings.Contains(page, `name="antrag" value="`+recA.Reference+`"`) || strings.Contains(page, `name="antrag" value="`+recB.Reference+`"`) {
			t.Fatalf("queue offers bulk approval for the wrong cases (want %s only)\n%s", recA.Reference, page)
		}
		tok := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page)
		if tok == nil {
			t.Fatal("queue without bulk token")
		}
		other := newClerk(t, srv.URL, key2)
		if res := other.do("POST", queue+"/sammelbewilligung", url.Values{"token": {tok[1]}, "antrag": {recA.Reference}}, nil); res.code != http.StatusForbidden {
			t.Errorf("bulk approval with another clerk's token: %d, want 403", res.code)
		}
		if res := c.do("POST", queue+"/sammelbewilligung", url.Values{"token": {tok[1]}}, nil); res.code != http.StatusBadRequest {
			t.Errorf("bulk approval of nothing: %d, want 400", res.code)
		}
		res := c.do("POST", queue+"/sammelbewilligung", url.Values{"token": {tok[1]}, "antrag": {recA.Reference, recB.Reference, "BP-2026-00000000", recA.Reference}}, nil)
		if res.code != http.StatusOK || !strings.Contains(res.page, "1 Antrag bewilligt, 2 nicht") ||
			!strings.Contains(res.page, recB.Reference+": nicht vorgeprüft") || !strings.Contains(res.page, "BP-2026-00000000: Einen Antrag") {
			t.Fatalf("bulk approval: %d\n%s", res.code, res.page)
		}
		if got, _ := f.svc.Get(f.ctx, recA.Reference, recA.AccessCode); got.Status != parking.Approved || got.Events[len(got.Events)-1].By != "clerk:"+keyID(key) {
			t.Errorf("A after bulk approval: %s", got.Status)
		}
		if got, _ := f.svc.Get(f.ctx, recB.Reference, recB.AccessCode); got.Status != parking.Review {
			t.Errorf("B after bulk approval: %s, want still in review", got.Status)
		}
		if n := countAudit(t, db, "clerk:"+keyID(key), "parking.decide", a.ID); n != 1 {
			t.Errorf("%d audit entries of A's decision, want 1", n)
		}
		if ms := f.mails(t, recA.Reference); len(ms) != 2 || !strings.Contains(ms[1].Subject, "bewilligt") {
			t.Errorf("mails of A: %v, want the receipt and the approval", ms)
		}
	}, sets...)
}

// A clerk's reasons come back escaped, on the case page and on the
// citizen's status page.
func TestClerkReasonsAreEscaped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		srv := f.pageServer(t)
		key, err := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleCasework, "Sachbearbeitung")
		if err != nil {
			t.Fatal(err)
		}
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectSecondary]), "")
		if err != nil {
			t.Fatal(err)
		}
		f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		payload := `</p><script>alert("xss")</script><img src=x onerror=alert(1)>`
		c := newClerk(t, srv.URL, key)
		casePath := "/sachbearbeitung/bewohnerparken/" + rec.Reference
		res := c.do("POST", casePath+"/entscheidung", url.Values{"token": {c.token(rec.Reference)}, "entscheidung": {"ablehnen"}, "begruendung": {payload}}, nil)
		if res.code != http.StatusSeeOther {
			t.Fatalf("rejection: %d\n%s", res.code, res.page)
		}
		page := c.get(casePath).page
		_, body := citizenStatus(t, srv.URL, rec)
		for name, p := range map[string]string{"case page": page, "status page": body} {
			if !strings.Contains(p, "alert(") {
				t.Errorf("%s does not show the reasons at all", name)
			}
			if strings.Contains(p, "<script>alert") || strings.Contains(p, "<img src=x") {
				t.Errorf("%s shows the clerk's reasons unescaped", name)
			}
		}
	}, sets...)
}

// The report counts every application once, by status, zone and month,
// and the first decisions with their share of automatic ones; its CSV has
// the same counts. Without staff sign-in (a casework key) it is refused.
func TestReport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		f.issue(t, f.byExp[registers.ExpectEligible], prov)
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectSecondary]), "")
		if err != nil {
			t.Fatal(err)
		}
		f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Reasons: "Nebenwohnung", Clerk: "clerk:t"}); err != nil {
			t.Fatal(err)
		}
		r, err := f.svc.Report(f.ctx, demo.Berlin.ARS)
		if err != nil {
			t.Fatal(err)
		}
		sum := func(cs []parking.ReportCount) (n int) {
			for _, c := range cs {
				n += c.Count
			}
			return n
		}
		if r.Total != 2 || sum(r.ByStatus) != 2 || sum(r.ByZone) != 2 || sum(r.ByMonth) != 2 {
			t.Errorf("report counts: total %d, status %v, zone %v, month %v; want 2 each", r.Total, r.ByStatus, r.ByZone, r.ByMonth)
		}
		if r.Decided != 2 || r.Automatic != 1 {
			t.Errorf("decided %d, automatic %d; want 2 and 1 (one automatic approval, one clerk's rejection)", r.Decided, r.Automatic)
		}
		if r.MedianDays < 0 || r.P90Days < r.MedianDays {
			t.Errorf("processing times: median %v, p90 %v", r.MedianDays, r.P90Days)
		}
		rowSum := 0
		for _, row := range r.Rows {
			rowSum += row.Count
		}
		if rowSum != 2 {
			t.Errorf("CSV rows sum to %d, want 2: %+v", rowSum, r.Rows)
		}
		if other, _ := f.svc.Report(f.ctx, "051110000000"); other.Total != 0 {
			t.Errorf("another municipality's report counts %d applications", other.Total)
		}
		srv := f.pageServer(t)
		key, _ := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleCasework, "Sachbearbeitung")
		if res := newClerk(t, srv.URL, key).get("/sachbearbeitung/bewohnerparken/berichte"); res.code != http.StatusForbidden {
			t.Errorf("report with a casework key: %d, want 403", res.code)
		}
	}, sets...)
}

// Internal notes stay internal; a fee correction needs a justification,
// is shown in the case and charged on approval; after the decision the
// fee is fixed.
func TestNotesAndFeeCorrection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		srv := f.pageServer(t)
		key, _ := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleCasework, "Sachbearbeitung")
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectBlocked]), "")
		if err != nil {
			t.Fatal(err)
		}
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		c := newClerk(t, srv.URL, key)
		casePath := "/sachbearbeitung/bewohnerparken/" + rec.Reference
		tok := c.token(rec.Reference) // bound to clerk and case: it stays the same
		post := func(what string, form url.Values) answer {
			form.Set("token", tok)
			return c.do("POST", casePath+"/"+what, form, nil)
		}
		if res := post("notiz", url.Values{"notiz": {"  "}}); res.code != http.StatusUnprocessableEntity || !strings.Contains(res.page, "Bitte schreiben Sie eine Notiz") {
			t.Errorf("empty note: %d\n%s", res.code, res.page)
		}
		if res := post("notiz", url.Values{"notiz": {strings.Repeat("ä", 2001)}}); res.code != http.StatusUnprocessableEntity || !strings.Contains(res.page, strings.Repeat("ä", 2001)) {
			t.Errorf("too long note: %d, want 422 keeping the text", res.code)
		}
		if res := post("notiz", url.Values{"notiz": {"Rückruf bei der Meldebehörde vereinbart"}}); res.code != http.StatusSeeOther {
			t.Fatalf("note: %d\n%s", res.code, res.page)
		}
		if page := c.get(casePath).page; !strings.Contains(page, "Rückruf bei der Meldebehörde vereinbart") {
			t.Error("case page does not show the note")
		}
		if n := countAudit(t, db, "clerk:"+keyID(key), "parking.note", a.ID); n != 1 {
			t.Errorf("%d audit entries of the note, want 1", n)
		}

		for _, tc := range []struct{ fee, reason, want string }{
			{"zehn", "Härtefall", "Bitte geben Sie den Betrag in Euro an"},
			{"10,205", "Härtefall", "Bitte geben Sie den Betrag in Euro an"},
			{"12,5", "", "Bitte begründen Sie die Korrektur"},
		} {
			if res := post("gebuehr", url.Values{"gebuehr": {tc.fee}, "gebuehr_begruendung": {tc.reason}}); res.code != http.StatusUnprocessableEntity || !strings.Contains(res.page, tc.want) {
				t.Errorf("fee %q reason %q: %d, want 422 saying %q", tc.fee, tc.reason, res.code, tc.want)
			}
		}
		if res := post("gebuehr", url.Values{"gebuehr": {"12,5 €"}, "gebuehr_begruendung": {"Zweitfahrzeug entfällt"}}); res.code != http.StatusSeeOther {
			t.Fatalf("fee correction: %d\n%s", res.code, res.page)
		}
		if page := c.get(casePath).page; !strings.Contains(page, "auf 12,50 €") || !strings.Contains(page, "Zweitfahrzeug entfällt") {
			t.Error("case page does not show the correction")
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Approve: true, Clerk: "clerk:" + keyID(key)}); err != nil {
			t.Fatal(err)
		}
		got := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Kassenzeichen != "" })
		if got.FeeCents == nil || *got.FeeCents != 1250 {
			t.Errorf("fee after approval: %v, want 1250", got.FeeCents)
		}
		if res := post("gebuehr", url.Values{"gebuehr": {"1"}, "gebuehr_begruendung": {"zu spät"}}); res.code != http.StatusConflict {
			t.Errorf("fee correction after the decision: %d, want 409", res.code)
		}
		// The citizen sees neither the note nor the clerk's name.
		if _, body := citizenStatus(t, srv.URL, rec); !strings.Contains(body, rec.Reference) || strings.Contains(body, "Rückruf bei der Meldebehörde") {
			t.Errorf("status page: want the case without the internal note")
		}
	}, sets...)
}

// A rejected application has its Bescheid as a PDF on the status page:
// reasons, the clerk's words and the municipality's Rechtsbehelfsbelehrung;
// other applications have none, and without the access code there is none.
func TestDecisionLetter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		srv := f.pageServer(t)
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectSecondary]), "")
		if err != nil {
			t.Fatal(err)
		}
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		var ground string
		for _, r := range a.Outcome.Results {
			if r.Verdict == rules.Fail {
				ground = r.Rule
			}
		}
		if err := f.svc.RenderDecisionLetter(io.Discard, a); !errs.Is(err, errs.NotFound) {
			t.Errorf("letter of a case in review = %v, want NotFound", err)
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Reasons: "Die Nebenwohnung genügt in Berlin nicht.",
			Grounds: []string{ground}, Clerk: "clerk:t"}); err != nil {
			t.Fatal(err)
		}
		if r, err := http.Get(srv.URL + "/bewohnerparken/status/" + rec.Reference + "/bescheid.pdf"); err != nil || r.StatusCode != http.StatusUnauthorized {
			t.Errorf("letter without the access code: %v %v, want 401", r.StatusCode, err)
		}
		citizen, page := citizenStatus(t, srv.URL, rec)
		if !strings.Contains(page, "/bescheid.pdf") {
			t.Error("status page of a rejected application does not offer the Bescheid")
		}
		r, err := citizen.Get(srv.URL + "/bewohnerparken/status/" + rec.Reference + "/bescheid.pdf")
		if err != nil {
			t.Fatal(err)
		}
		pdf, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatalf("Bescheid: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
		}
		text := pdfStrings(t, pdf)
		for _, want := range []string{rec.Reference, "wird abgelehnt", "Die Nebenwohnung genügt in Berlin nicht.", "Rechtsbehelfsbelehrung", "Widerspruch",
			f.byExp[registers.ExpectSecondary].Person.FamilyName} {
			if !strings.Contains(text, want) {
				t.Errorf("Bescheid lacks %q", want)
			}
		}
	}, sets...)
}

// pdfStrings is the text of a PDF's (Flate) content streams, decoded from
// Windows-1252, good enough to find words in.
func pdfStrings(t *testing.T, pdf []byte) string {
	t.Helper()
	var out strings.Builder
	for _, part := range bytes.Split(pdf, []byte(">>\nstream\n"))[1:] {
		end := bytes.Index(part, []byte("endstream"))
		if end < 0 {
			continue
		}
		zr, err := zlib.NewReader(bytes.NewReader(part[:end]))
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(zr)
		for _, m := range regexp.MustCompile(`\(((?:[^()\\]|\\.)*)\)\s*Tj`).FindAllSubmatch(b, -1) {
			s := strings.NewReplacer(`\(`, "(", `\)`, ")", `\\`, `\`).Replace(string(m[1]))
			dec, _ := charmap.Windows1252.NewDecoder().String(s)
			out.WriteString(dec + " ")
		}
	}
	return strings.Join(strings.Fields(out.String()), " ")
}

// citizenStatus opens the citizen's status page of rec with reference and
// access code, as a browser would; it returns that browser (with the
// page's cookie) and the page.
func citizenStatus(t *testing.T, base string, rec parking.Receipt) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	citizen := &http.Client{Jar: jar}
	r, err := citizen.PostForm(base+"/bewohnerparken/status", url.Values{"reference": {rec.Reference}, "access_code": {rec.AccessCode}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return citizen, string(body)
}

// Each configuration in force is recorded once in the audit log, and again
// only when it changes.
func TestRecordRulesInForce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		n, err := f.svc.RecordRulesInForce(f.ctx, "system:start", "test")
		if err != nil || n == 0 {
			t.Fatalf("first record = %d, %v; want one entry per municipality", n, err)
		}
		if again, err := f.svc.RecordRulesInForce(f.ctx, "system:start", "test"); err != nil || again != 0 {
			t.Errorf("unchanged rules recorded again: %d, %v", again, err)
		}
		es, _ := audit.Entries(f.ctx, db.Read(), 1, 100)
		if len(es) != n || es[0].Action != "parking.rules_in_force" || !strings.HasPrefix(es[0].Reason, "sha256:") {
			t.Errorf("entries: %+v", es)
		}
		// A Rathaus started with a changed Berlin fee records Berlin anew.
		cfgs, err := rules.Embedded()
		if err != nil {
			t.Fatal(err)
		}
		fees := &cfgs[demo.Berlin.ARS].Fees[len(cfgs[demo.Berlin.ARS].Fees)-1]
		fees.Tiers[0].AmountCents += 100
		outbox, err := mail.New(db, mail.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		other, err := parking.NewService(f.ctx, parking.Options{DB: db, Mail: outbox, Configs: cfgs, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if _, err := other.RecordRulesInForce(f.ctx, "system:start", "test"); err != nil {
			t.Fatal(err)
		}
		var berlin []string
		es, _ = audit.Entries(f.ctx, db.Read(), 1, 100)
		for _, e := range es {
			if e.Municipality == demo.Berlin.ARS {
				berlin = append(berlin, e.Reason)
			}
		}
		if len(berlin) != 2 || berlin[0] == berlin[1] {
			t.Errorf("Berlin's entries after the fee change: %q, want two with different digests", berlin)
		}
	}, sets...)
}

// Checking new zones: the demo's own zones change nothing; a file in which
// the permit's zone has another id shows that permit with old and new
// zone; a broken file is refused with its errors.
func TestCheckZones(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		rec := f.issue(t, f.byExp[registers.ExpectEligible], prov)
		a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		day := f.clock.today()
		same, err := f.svc.CheckZones(f.ctx, demo.Berlin.ARS, bytes.NewReader(demo.Zones()), day)
		if err != nil || same.Permits != 1 || same.Unchanged != 1 || len(same.Changes) != 0 || same.Zones < 100 {
			t.Fatalf("same zones: %+v, %v", same, err)
		}
		renamed := strings.Replace(string(demo.Zones()), `"zone_id":"`+a.Permit.ZoneID+`"`, `"zone_id":"999"`, 1)
		got, err := f.svc.CheckZones(f.ctx, demo.Berlin.ARS, strings.NewReader(renamed), day)
		if err != nil || len(got.Changes) != 1 || got.Changes[0].Permit != a.Permit.Number || got.Changes[0].Old != a.Permit.ZoneID || got.Changes[0].New != "999" {
			t.Errorf("renamed zone: %+v, %v", got, err)
		}
		if _, err := f.svc.CheckZones(f.ctx, demo.Berlin.ARS, strings.NewReader(`{"type":"FeatureCollection","features":[{"type":"Feature"}]}`), day); !errs.Is(err, errs.Invalid) {
			t.Errorf("broken file = %v, want Invalid", err)
		}
	}, sets...)
}

// A checked zones file is imported for its day, once; a day that has
// passed is refused; the import is audited and the lookup of that day
// finds the new zone.
func TestImportZones(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		rec := f.issue(t, f.byExp[registers.ExpectEligible], prov)
		a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		admin := parking.Clerk{Actor: "staff:admin", Name: "Admin", Municipality: demo.Berlin.ARS}
		renamed := []byte(strings.Replace(string(demo.Zones()), `"zone_id":"`+a.Permit.ZoneID+`"`, `"zone_id":"999"`, 1))
		day := f.clock.today().AddDate(0, 0, 3)
		past, err := f.svc.SaveZonesDraft(f.ctx, admin, renamed, f.clock.today().AddDate(0, 0, -1))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.ImportZones(f.ctx, admin, past, ""); !errs.Is(err, errs.Conflict) {
			t.Errorf("import for a past day: %v, want Conflict", err)
		}
		id, err := f.svc.SaveZonesDraft(f.ctx, admin, renamed, day)
		if err != nil {
			t.Fatal(err)
		}
		got, n, err := f.svc.ImportZones(f.ctx, admin, id, "127.0.0.1")
		if err != nil || !got.Equal(day) || n < 100 {
			t.Fatalf("import: %v %d %v", got, n, err)
		}
		if _, _, err := f.svc.ImportZones(f.ctx, admin, id, ""); !errs.Is(err, errs.Conflict) {
			t.Errorf("second import: %v, want Conflict", err)
		}
		var audited int
		db.Read().QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'parking.zones_imported' AND actor = 'staff:admin'`).Scan(&audited)
		if audited != 1 {
			t.Errorf("%d audit entries of the import, want 1", audited)
		}
		// From the day on, the permit's address lies in zone 999.
		check, err := f.svc.CheckZones(f.ctx, demo.Berlin.ARS, bytes.NewReader(renamed), day)
		if err != nil || len(check.Changes) != 1 {
			t.Fatalf("check: %+v %v", check, err)
		}
		var zone string
		if err := db.Read().QueryRow(`SELECT zone_id FROM zones WHERE municipality = $1 AND valid_from = $2 AND zone_id = '999'`,
			demo.Berlin.ARS, day.Format("2006-01-02")).Scan(&zone); err != nil {
			t.Errorf("zone 999 from %s not stored: %v", day.Format("2006-01-02"), err)
		}
	}, sets...)
}

// A case is handed over by its assignee, by anyone while nobody has it,
// and by a team lead always; not by another clerk. Each hand-over is
// audited.
func TestHandOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectBlocked]), "")
		if err != nil {
			t.Fatal(err)
		}
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		anna := parking.Clerk{Actor: "staff:anna", Name: "Anna", Municipality: demo.Berlin.ARS}
		ben := parking.Clerk{Actor: "staff:ben", Name: "Ben", Municipality: demo.Berlin.ARS}
		lead := parking.Clerk{Actor: "staff:lea", Name: "Lea", Municipality: demo.Berlin.ARS, Lead: true}
		assignee := func() string {
			t.Helper()
			got, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
			return got.Assignee
		}
		if err := f.svc.HandOver(f.ctx, anna, rec.Reference, ben.Actor, ben.Name, ""); err != nil || assignee() != ben.Actor {
			t.Fatalf("hand over an unassigned case: %v, assignee %q", err, assignee())
		}
		if err := f.svc.HandOver(f.ctx, anna, rec.Reference, anna.Actor, anna.Name, ""); !errs.Is(err, errs.Conflict) || assignee() != ben.Actor {
			t.Errorf("another clerk takes Ben's case by handing it over: %v", err)
		}
		if err := f.svc.HandOver(f.ctx, ben, rec.Reference, anna.Actor, anna.Name, ""); err != nil || assignee() != anna.Actor {
			t.Errorf("Ben hands over: %v, assignee %q", err, assignee())
		}
		if err := f.svc.HandOver(f.ctx, lead, rec.Reference, ben.Actor, ben.Name, ""); err != nil || assignee() != ben.Actor {
			t.Errorf("the lead hands over: %v, assignee %q", err, assignee())
		}
		other := lead
		other.Municipality = "083110000000"
		if err := f.svc.HandOver(f.ctx, other, rec.Reference, anna.Actor, anna.Name, ""); !errs.Is(err, errs.NotFound) {
			t.Errorf("a lead of another municipality: %v, want NotFound", err)
		}
		n := countAudit(t, db, "staff:anna", "parking.hand_over", a.ID) + countAudit(t, db, "staff:ben", "parking.hand_over", a.ID) +
			countAudit(t, db, "staff:lea", "parking.hand_over", a.ID)
		if n != 3 {
			t.Errorf("%d audit entries of hand-overs, want 3", n)
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Approve: true, Clerk: anna.Actor}); !errs.Is(err, errs.Conflict) {
			t.Errorf("Anna decides Ben's case: %v, want Conflict", err)
		}
	}, sets...)
}

// The queue filters by reason, by zone and sorts newest first; a zone
// that is no zone id is named as such and not used.
func TestQueueFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		srv := f.pageServer(t)
		key, _ := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleCasework, "Sachbearbeitung")
		var apps []parking.Application
		for _, exp := range []string{registers.ExpectBlocked, registers.ExpectSecondary} {
			rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[exp]), "")
			if err != nil {
				t.Fatal(err)
			}
			apps = append(apps, f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review }))
			f.clock.advance(time.Minute)
		}
		blocked, secondary := apps[0], apps[1]
		c := newClerk(t, srv.URL, key)
		queue := "/sachbearbeitung/bewohnerparken"
		has := func(page string, a parking.Application) bool {
			return strings.Contains(page, `href="`+queue+"/"+a.Reference+`"`)
		}
		if p := c.get(queue + "?grund=" + rules.RuleResidenceBlocked).page; !has(p, blocked) || has(p, secondary) {
			t.Error("reason Auskunftssperre: want the blocked case only")
		}
		if p := c.get(queue + "?grund=" + rules.RuleResidenceKind).page; has(p, blocked) || !has(p, secondary) {
			t.Error("reason residence kind: want the secondary residence only")
		}
		zone, _, _ := strings.Cut(blocked.ZoneID, ",")
		if p := c.get(queue + "?zone=" + zone).page; !has(p, blocked) {
			t.Errorf("zone %s: the blocked case is missing", zone)
		}
		if p := c.get(queue + "?zone=999").page; has(p, blocked) || has(p, secondary) || !strings.Contains(p, "Kein Antrag in Prüfung passt") {
			t.Error("zone 999: want no case and the message")
		}
		if res := c.get(queue + "?zone=%3Cscript%3E"); res.code != 200 || !strings.Contains(res.page, "Bitte geben Sie eine Zone so an") ||
			!has(res.page, blocked) || strings.Contains(res.page, "<script>") {
			t.Errorf("bad zone: %d", res.code)
		}
		p := c.get(queue + "?reihenfolge=neueste").page
		if i, j := strings.Index(p, `href="`+queue+"/"+secondary.Reference+`"`), strings.Index(p, `href="`+queue+"/"+blocked.Reference+`"`); i < 0 || j < 0 || i > j {
			t.Error("newest first: the later case is not first")
		}
	}, sets...)
}
