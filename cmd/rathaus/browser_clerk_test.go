package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserClerkAccessibility runs axe-core's WCAG 2.1 A/AA rules on the
// clerks' pages: the queue, a case, the case with a missing reason, the
// queue with the confirmation of a decision, a decided case, and the
// answer to a decision that came too late. The browser signs in with the
// demo's casework key as HTTP Basic auth, sent as a header with every
// request (credentials in the URL are not sent to subresources).
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
	key := demoKey(t, "casework")
	id, secret, _ := strings.Cut(key, ".")
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	browserRun(t, ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return cdp.Empty{}, err
		}
		return cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": basic}})
	})

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
		{name: "case", load: open(queue + "/" + recs[0].Reference), status: 200, says: "Antrag bewilligen"},
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
}
