package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/store"
)

// TestBrowserClerkAccessibility runs axe-core's WCAG 2.1 A/AA rules on the
// clerks' pages: the queue, a case, the case with a missing reason, the
// queue with the confirmation of a decision, a decided case, and the
// answer to a decision that came too late. The browser signs in as the
// demo's clerk through the development OpenID provider.
func TestBrowserClerkAccessibility(t *testing.T) {
	source, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	// Two cases of their own in review: Berlin grants permits for a main
	// residence only, so a resident with a secondary one goes to a clerk.
	var recs []receipt
	for _, r := range residents(t, s) {
		if r.Expect == "Nebenwohnsitz" && len(r.Plates) > 0 {
			_, rec := s.submit(t, applicationBody(r), "")
			s.waitStatus(t, rec, "review")
			recs = append(recs, rec)
			if len(recs) == 2 {
				break
			}
		}
	}
	if len(recs) < 2 {
		t.Fatal("the demo has fewer than two residents with a secondary residence")
	}
	// And one pre-checked case (a blocked register entry: every check
	// passed, a person must look), for the bulk approval.
	var prechecked receipt
	for _, r := range residents(t, s) {
		if strings.HasPrefix(r.Expect, "Auskunftssperre") && len(r.Plates) > 0 {
			_, prechecked = s.submit(t, applicationBody(r), "")
			s.waitStatus(t, prechecked, "review")
			break
		}
	}
	if prechecked.Reference == "" {
		t.Fatal("the demo has no resident with a blocked register entry")
	}
	key := demoKey(t, "casework") // for the other clerk, who decides over the API
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))
	staffSignIn(t, ctx, s, "sachbearbeitung", "/sachbearbeitung/bewohnerparken")

	queue := "/sachbearbeitung/bewohnerparken"
	open := func(path string) func(t *testing.T) int64 {
		return func(t *testing.T) int64 { return openPage(t, ctx, s, path) }
	}
	states := []struct {
		name   string
		load   func(t *testing.T) int64
		status int64
		says   string // the page must say this
	}{
		{name: "queue", load: open(queue), status: 200, says: recs[1].Reference},
		{name: "queue, bulk approval", load: func(t *testing.T) int64 {
			openPage(t, ctx, s, queue)
			id := controlByLabel(t, ctx, "Antrag "+prechecked.Reference+" auswählen", false)
			browserDo(t, ctx, chromedp.Click(chromedp.ID(id)))
			return follow(t, ctx, "Ausgewählte Anträge bewilligen")
		}, status: 200, says: "1 Antrag bewilligt."},
		{name: "case", load: open(queue + "/" + recs[0].Reference), status: 200, says: "Antrag bewilligen"},
		{name: "case, taken", load: func(t *testing.T) int64 { return follow(t, ctx, "Übernehmen") }, status: 200, says: "Sie bearbeiten diesen Antrag"},
		{name: "case, personal data shown", load: func(t *testing.T) int64 { return follow(t, ctx, "Personendaten anzeigen") }, status: 200,
			says: "Die Anzeige ist protokolliert"},
		{name: "case, document request without a message", load: func(t *testing.T) int64 {
			clickOn(t, ctx, `[...document.querySelectorAll('main summary')].find(e => e.textContent.trim() === 'Unterlagen nachfordern')`)
			return follow(t, ctx, "Unterlagen nachfordern")
		}, status: 422, says: "Bitte schreiben Sie, was fehlt"},
		{name: "case, reason missing", load: func(t *testing.T) int64 { return follow(t, ctx, "Antrag ablehnen") }, status: 422,
			says: "Bitte begründen Sie die Ablehnung"},
		{name: "queue, decision confirmed", load: func(t *testing.T) int64 { return follow(t, ctx, "Antrag bewilligen") }, status: 200,
			says: "Entscheidung gespeichert: Antrag " + recs[0].Reference},
		{name: "decided case", load: open(queue + "/" + recs[0].Reference), status: 200, says: "hier ist nichts zu entscheiden"},
		{name: "decision too late", load: func(t *testing.T) int64 {
			openPage(t, ctx, s, queue+"/"+recs[1].Reference)
			// Another clerk decides over the API while this page is open.
			r := s.do(t, "POST", "/api/v1/parking/applications/"+recs[1].Reference+"/decision", strings.NewReader(`{"approve":true}`),
				map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"})
			if r.status != 200 {
				t.Fatalf("API decision: %d %s", r.status, r.body)
			}
			// (typeInto's Clear fails on an empty textarea.)
			id := controlByLabel(t, ctx, "Begründung der Ablehnung", false)
			browserDo(t, ctx, chromedp.SendKeys(chromedp.ID(id), "Nebenwohnung"))
			return follow(t, ctx, "Antrag ablehnen")
		}, status: 409, says: "Ihre Entscheidung wurde nicht gespeichert"},
	}
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			if status := st.load(t); status != st.status {
				t.Fatalf("%s: status %d, want %d", location(t, ctx), status, st.status)
			}
			if text := evalJS[string](t, ctx, `document.querySelector('main').textContent.replace(/\s+/g, ' ')`); !strings.Contains(text, st.says) {
				t.Errorf("%s does not say %q:\n%s", location(t, ctx), st.says, text)
			}
			res := runAxe(t, ctx, string(source))
			if res.Passes < 10 {
				t.Errorf("axe passed only %d rules; did it run?", res.Passes)
			}
			for _, inc := range res.Incomplete {
				if strings.HasPrefix(inc, "color-contrast:") {
					t.Errorf("axe could not decide the contrast of %s", strings.TrimPrefix(inc, "color-contrast:"))
				} else {
					t.Logf("axe leaves for a person to review: %s", inc)
				}
			}
			if len(res.Violations) > 0 {
				t.Errorf("%s: %d WCAG 2.1 A/AA violations:%s", location(t, ctx), len(res.Violations), res.report())
			}
		})
	}
	// The signed-in clerk's reads and decision are in the audit log, under
	// the staff account, and the log verifies with the demo's key.
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(demoDir, "rathaus.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := audit.Entries(context.Background(), db.Read(), 1, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	if err := db.Read().QueryRow(`SELECT id FROM parking_applications WHERE reference = $1`, recs[0].Reference).Scan(&id); err != nil {
		t.Fatal(err)
	}
	var decided, viewed int
	for _, e := range entries {
		if e.Actor == "staff:demo-sb-1" && e.Object == "parking_application:"+id {
			switch e.Action {
			case "parking.decide":
				decided++
			case "parking.view_case":
				viewed++
			}
		}
	}
	if decided != 1 || viewed < 1 {
		t.Errorf("audit entries of the clerk on %s: %d decisions, %d views; want 1 and at least 1", recs[0].Reference, decided, viewed)
	}
	c := cli{t, func(string) string { return "" }}
	if out, _ := c.must("audit", "verify", "--data", demoDir); !strings.Contains(out, "Audit-Protokoll intakt") {
		t.Errorf("audit verify of the demo: %q", out)
	}
}
