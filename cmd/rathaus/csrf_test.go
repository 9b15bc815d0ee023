package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Every state-changing form of the workbench refuses a POST without the
// session's CSRF token, and one from another site even with it.
func TestWorkbenchRefusesCrossSitePosts(t *testing.T) {
	s := demoServer(t)
	m := regexp.MustCompile(`Benutzer fachadministration +Passwort (\S+)`).FindStringSubmatch(s.stdout.String())
	tl := regexp.MustCompile(`Benutzer teamleitung +Passwort (\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil || tl == nil {
		t.Fatal("the demo prints no staff accounts")
	}
	signIn := func(user, password string) (*http.Client, string) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		r, err := c.Get(s.base + "/sachbearbeitung")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(r.Body)
		r.Body.Close()
		form := url.Values{"username": {user}, "password": {password}}
		for _, f := range regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`).FindAllStringSubmatch(string(page), -1) {
			form.Set(f[1], strings.ReplaceAll(f[2], "&amp;", "&"))
		}
		r, err = c.PostForm(s.base+"/dev-idp/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(r.Body)
		r.Body.Close()
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(page))
		if r.StatusCode != 200 || csrf == nil {
			t.Fatalf("sign-in of %s: %d at %s", user, r.StatusCode, r.Request.URL)
		}
		return c, csrf[1]
	}
	lead, leadCSRF := signIn("teamleitung", tl[1])
	admin, adminCSRF := signIn("fachadministration", m[1])
	post := func(c *http.Client, path string, form url.Values, crossSite bool) int {
		req, _ := http.NewRequest("POST", s.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if crossSite {
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	ref := "BP-2026-00000000"
	for _, tc := range []struct {
		c     *http.Client
		csrf  string
		path  string
		extra url.Values
	}{
		{lead, leadCSRF, "/sachbearbeitung/bewohnerparken/" + ref + "/entscheidung", url.Values{"entscheidung": {"bewilligen"}}},
		{lead, leadCSRF, "/sachbearbeitung/bewohnerparken/" + ref + "/bearbeitung", url.Values{"bearbeitung": {"uebernehmen"}}},
		{lead, leadCSRF, "/sachbearbeitung/bewohnerparken/" + ref + "/notiz", url.Values{"notiz": {"x"}}},
		{lead, leadCSRF, "/sachbearbeitung/bewohnerparken/" + ref + "/gebuehr", url.Values{"gebuehr": {"1"}, "gebuehr_begruendung": {"x"}}},
		{lead, leadCSRF, "/sachbearbeitung/bewohnerparken/sammelbewilligung", url.Values{"antrag": {ref}}},
		{admin, adminCSRF, "/sachbearbeitung/bewohnerparken/regeln", url.Values{}},
		{admin, adminCSRF, "/sachbearbeitung/bewohnerparken/zonen", url.Values{}},
		{lead, leadCSRF, "/sachbearbeitung/bewohnerparken/" + ref + "/nachforderung", url.Values{"nachforderung_art": {"sonstiges"}, "nachforderung_text": {"x"}, "nachforderung_frist": {"14"}}},
		{lead, leadCSRF, "/sachbearbeitung/bewohnerparken/" + ref + "/uebergabe", url.Values{"uebergabe_an": {"x"}}},
		{admin, adminCSRF, "/sachbearbeitung/bewohnerparken/regeln/inkraftsetzen", url.Values{"datei_id": {"rul_x"}}},
		{admin, adminCSRF, "/sachbearbeitung/bewohnerparken/zonen/uebernehmen", url.Values{"datei_id": {"zon_x"}}},
		{lead, leadCSRF, "/sachbearbeitung/abmelden", url.Values{}},
	} {
		if code := post(tc.c, tc.path, tc.extra, false); code != http.StatusForbidden {
			t.Errorf("POST %s without the CSRF token: %d, want 403", tc.path, code)
		}
		with := url.Values{"csrf": {tc.csrf}}
		for k, v := range tc.extra {
			with[k] = v
		}
		if code := post(tc.c, tc.path, with, true); code != http.StatusForbidden {
			t.Errorf("POST %s from another site: %d, want 403", tc.path, code)
		}
	}
	// The session survived all that: the token was never accepted.
	r, err := lead.Get(s.base + "/sachbearbeitung")
	if err != nil || r.StatusCode != 200 || r.Request.URL.Path != "/sachbearbeitung" {
		t.Errorf("lead's session after the refused posts: %v %v", r.StatusCode, err)
	}
	r.Body.Close()
}
