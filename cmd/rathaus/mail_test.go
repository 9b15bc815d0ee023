package main

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// residentMail is the demo resident of TestMailAndRenewalOverHTTP: the
// n-th resident expected to get a permit (not counting the first, and
// clear of the ones browser_parking_test.go applies for), because the
// rules allow one permit per person.
const residentMail = 6

// TestMailAndRenewalOverHTTP: the demo's outbox page shows the e-mails of
// an application as it goes, and a renewal asked for too early is refused
// with the day it becomes possible.
func TestMailAndRenewalOverHTTP(t *testing.T) {
	s := demoServer(t)
	var r demoResident
	seen := 0
	for i, x := range residents(t, s) {
		if i > 0 && x.Expect == "berechtigt" && len(x.Plates) > 0 {
			if seen++; seen == residentMail {
				r = x
				break
			}
		}
	}
	if r.Plates == nil {
		t.Fatalf("the demo has no %d. resident who is expected to get a permit", residentMail)
	}
	_, rec := s.submit(t, applicationBody(r), "")
	if rec.Reference == "" {
		t.Fatal("no reference")
	}
	s.waitStatus(t, rec, "approved")
	res := s.do(t, "POST", "/api/v1/parking/applications/"+rec.Reference+"/payment", nil, map[string]string{"X-Access-Code": rec.AccessCode})
	var pay struct {
		RedirectURL string `json:"redirect_url"`
	}
	res.json(t, &pay)
	u, err := url.Parse(pay.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	s.do(t, "POST", u.Path, strings.NewReader("outcome=paid"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	a := s.waitStatus(t, rec, "issued")

	path := "/api/v1/parking/applications/" + rec.Reference + "/renewal"
	body := `{"truthful": true, "no_own_space": true}`
	res = s.do(t, "POST", path, strings.NewReader(body), map[string]string{"Content-Type": "application/json", "X-Access-Code": "FALSCH1234"})
	if res.status != 404 {
		t.Errorf("renewal with a wrong access code: %d %s", res.status, res.body)
	}
	res = s.do(t, "POST", path, strings.NewReader(body), map[string]string{"Content-Type": "application/json", "X-Access-Code": rec.AccessCode})
	if res.status != 409 || res.header.Get("Content-Type") != "application/problem+json" || !bytes.Contains(res.body, []byte("Eine Verlängerung ist ab dem ")) {
		t.Errorf("renewal right after issue: %d %s, want 409 naming the day renewal opens", res.status, res.body)
	}
	if res := s.do(t, "POST", path, strings.NewReader(`{"admin": true}`), map[string]string{"Content-Type": "application/json", "X-Access-Code": rec.AccessCode}); res.status != 400 {
		t.Errorf("renewal with an unknown field: %d", res.status)
	}

	// The outbox page: the e-mails of this case, the newest first.
	page := s.get(t, "/demo/post")
	if page.status != 200 || page.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("/demo/post = %d, Cache-Control %q", page.status, page.header.Get("Cache-Control"))
	}
	text := string(page.body)
	issued := strings.Index(text, "Ihr Bewohnerparkausweis ist ausgestellt ("+rec.Reference+")")
	received := strings.Index(text, "Ihr Antrag "+rec.Reference+" ist eingegangen")
	if issued < 0 || received < 0 || issued > received {
		t.Errorf("/demo/post lacks the e-mails of %s, or not newest first", rec.Reference)
	}
	if strings.Contains(text, rec.AccessCode) || !strings.Contains(text, "<details>") || !strings.Contains(text, "test@example.org") {
		t.Errorf("/demo/post shows the access code, or no address or text")
	}
	if !strings.Contains(text, "kein SMTP-Server") {
		t.Errorf("/demo/post does not say that the demo sends nothing")
	}
	if a.Permit != nil && strings.Contains(text, a.Permit.Token) {
		t.Errorf("/demo/post shows the permit's token")
	}
	if demo := s.get(t, "/demo"); !bytes.Contains(demo.body, []byte(`href="/demo/post"`)) {
		t.Errorf("/demo does not link to /demo/post")
	}
}

// serve has no outbox page, and its SMTP password is a secret like the
// database's.
func TestServeHasNoOutboxPage(t *testing.T) {
	const password = "smtp-p4ssw0rt"
	s := start(t, modeServe, nil, map[string]string{
		"RATHAUS_DATABASE_URL": storetest.URL(t, store.SQLite),
		"RATHAUS_SMTP_URL":     "smtp://rathaus:" + password + "@127.0.0.1:1",
		"RATHAUS_MAIL_FROM":    "Stadt Musterstadt <noreply@musterstadt.example>",
	})
	if r := s.get(t, "/demo/post"); r.status != 404 {
		t.Errorf("serve: /demo/post = %d, want 404", r.status)
	}
	if !strings.Contains(s.stdout.String(), "RATHAUS_SMTP_URL=smtp://rathaus:xxxxx@127.0.0.1:1") {
		t.Errorf("serve does not show the SMTP URL redacted:\n%s", s.stdout)
	}
	if strings.Contains(s.stdout.String(), password) || strings.Contains(s.stderr.String(), password) {
		t.Errorf("serve printed the SMTP password")
	}
}
