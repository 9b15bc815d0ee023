package parking_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/web"
)

// browser is a client with cookies that does not follow redirects.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(page), res.Header
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// formValues is a form as the page posts it.
func formValues(f parking.Form, action, key string) url.Values {
	v := url.Values{"given_names": {f.GivenNames}, "family_name": {f.FamilyName}, "birth_date": {f.BirthDate},
		"address": {f.Address}, "plate": {f.Plate}, "relation": {string(f.Relation)}, "duration_months": {"24"},
		"email": {f.Email}, "action": {action}, "idempotency_key": {key}}
	if f.NoOwnSpace {
		v.Set("no_own_space", "ja")
	}
	if f.Truthful {
		v.Set("truthful", "ja")
	}
	return v
}

// pageServer serves the feature's pages and API over the fixture's
// service, for tests that go the citizen's or the clerk's way by HTTP.
func (f *fixture) pageServer(t *testing.T) *httptest.Server {
	t.Helper()
	assets, err := web.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	h, err := parking.NewHandler(f.svc, assets)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

var referenceRE = regexp.MustCompile(`BP-\d{4}-[0-9A-Z]{8}`)

// The citizen's way to a renewal on the pages: the status page offers
// "Verlängern" in the window only, the prefilled form asks for the
// declarations again, the summary and the submit work like the first
// application, and a double click submits once.
func TestRenewalPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		srv := f.pageServer(t)

		r := f.byExp[registers.ExpectEligible]
		rec := f.issue(t, r, prov)
		a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		opens := a.Permit.ValidUntil.AddDate(0, 0, -berlinWindow)
		status := "/bewohnerparken/status/" + rec.Reference
		renew := status + "/verlaengern"

		b := newBrowser(t, srv.URL)
		if code, _, hdr := b.do("GET", renew, nil); code != http.StatusSeeOther || hdr.Get("Location") != status {
			t.Errorf("renewal page without the access code: %d → %q, want a redirect to the status page", code, hdr.Get("Location"))
		}
		login := func() {
			t.Helper()
			if code, page, _ := b.do("POST", status, url.Values{"access_code": {rec.AccessCode}}); code != http.StatusSeeOther {
				t.Fatalf("access code: %d\n%s", code, page)
			}
		}
		login()
		_, page, _ := b.do("GET", status, nil)
		if !strings.Contains(page, "Verlängern können Sie ihn ab dem "+germanDay(opens)) || strings.Contains(page, `href="`+renew+`"`) {
			t.Errorf("status page before the window does not name the day renewal opens, or offers it:\n%s", page)
		}
		if code, page, _ := b.do("GET", renew, nil); code != http.StatusConflict || !strings.Contains(page, "ab dem "+germanDay(opens)) {
			t.Errorf("renewal page before the window: %d, want 409 naming %s\n%s", code, germanDay(opens), page)
		}

		f.clock.setDay(opens)
		login() // the session lasts 30 minutes of the moved clock
		_, page, _ = b.do("GET", status, nil)
		if !strings.Contains(page, `href="`+renew+`"`) {
			t.Fatalf("status page in the window offers no „Verlängern“:\n%s", page)
		}
		code, page, _ := b.do("GET", renew, nil)
		if code != 200 || !strings.Contains(page, "Verlängerung Ihres Bewohnerparkausweises") || !strings.Contains(page, `action="`+renew+`"`) ||
			!strings.Contains(page, `value="`+a.Permit.Plate+`"`) || strings.Contains(page, `name="truthful" value="ja" checked`) {
			t.Fatalf("renewal form: %d, want prefilled, posting to %s, declarations unchecked\n%s", code, renew, page)
		}

		form := f.form(r)
		key := strings.Repeat("ab", 16)
		noDecl := form
		noDecl.Truthful = false
		if code, page, _ := b.do("POST", renew, formValues(noDecl, "pruefen", key)); code != http.StatusUnprocessableEntity || !strings.Contains(page, "truthful-fehler") {
			t.Errorf("renewal without the declaration: %d, want 422 with the field's message", code)
		}
		if code, page, _ := b.do("POST", renew, formValues(form, "pruefen", key)); code != 200 || !strings.Contains(page, "Bitte prüfen Sie Ihre Angaben") {
			t.Fatalf("renewal summary: %d\n%s", code, page)
		}
		var refs []string
		for range 2 { // a double click
			code, page, _ := b.do("POST", renew, formValues(form, "absenden", key))
			if code != 200 || !strings.Contains(page, "Eingangsbestätigung") {
				t.Fatalf("renewal submit: %d\n%s", code, page)
			}
			refs = append(refs, referenceRE.FindString(page))
		}
		if refs[0] == "" || refs[0] == rec.Reference || refs[0] != refs[1] {
			t.Errorf("references after a double click: %q, want one new application", refs)
		}
		_, page, _ = b.do("GET", status, nil)
		if !strings.Contains(page, "Die Verlängerung ist beantragt: Aktenzeichen <strong class=\"rathaus-code\">"+refs[0]) {
			t.Errorf("status page does not name the renewal %s:\n%s", refs[0], page)
		}
		if code, _, _ := b.do("GET", renew, nil); code != http.StatusConflict {
			t.Errorf("renewal page after applying: %d, want 409", code)
		}
	}, sets...)
}

// The API's renewal takes what the body leaves out from the earlier
// application, except the declarations.
func TestRenewalOverAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		assets, _ := web.NewAssets()
		h, err := parking.NewHandler(f.svc, assets)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		h.Routes(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		r := f.byExp[registers.ExpectEligible]
		rec := f.issue(t, r, prov)
		a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		f.clock.setDay(a.Permit.ValidUntil.AddDate(0, 0, -3))

		post := func(body string) (int, string) {
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/parking/applications/"+rec.Reference+"/renewal", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(parking.AccessCodeHeader, rec.AccessCode)
			req.Header.Set("Idempotency-Key", "api-renewal-1")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		if code, body := post(`{"no_own_space": true}`); code != 400 || !strings.Contains(body, `"parameter":"truthful"`) {
			t.Errorf("renewal without declaring truthfulness: %d %s, want 400 naming truthful", code, body)
		}
		code, body := post(`{"truthful": true, "no_own_space": true}`)
		ref := referenceRE.FindString(body)
		if code != 201 || ref == "" || ref == rec.Reference {
			t.Fatalf("renewal: %d %s, want 201 with a new reference", code, body)
		}
		if code, again := post(`{"truthful": true, "no_own_space": true}`); code != 200 || referenceRE.FindString(again) != ref {
			t.Errorf("retried renewal: %d %s, want 200 with %s", code, again, ref)
		}
		var renewsPermit string
		db.Read().QueryRowContext(f.ctx, "SELECT renews_permit FROM parking_applications WHERE reference = $1", ref).Scan(&renewsPermit)
		if renewsPermit != a.Permit.Number {
			t.Errorf("the renewal renews %q, want %s", renewsPermit, a.Permit.Number)
		}
	}, sets...)
}
