package main

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/identity"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/web"
)

// serve signs staff in against the operator's OpenID provider
// (RATHAUS_OIDC_*), here a development provider on a server of its own
// whose user carries a group that RATHAUS_OIDC_ROLE_MAP maps to clerk.
func TestServeStaffSignIn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr

	assets, err := web.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	pagesOf, err := identity.NewRP(identity.Options{Issuer: "https://unused.example", ClientID: "x", ClientSecret: "x"}, assets)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	idpSrv := httptest.NewServer(mux)
	defer idpSrv.Close()
	idp, err := identity.NewDevProvider(idpSrv.URL+identity.DevPath,
		[]identity.DevClient{{ID: "rathaus-serve", Secret: "serve-client-secret-0123456789", RedirectURIs: []string{base + identity.CallbackPath}}},
		[]identity.DevUser{{Username: "anna", Password: "anna-pw", Subject: "ext-42", Name: "Anna Amt", Roles: []string{"parken-sb"}, Municipality: "110000000000"}},
		pagesOf.Pages())
	if err != nil {
		t.Fatal(err)
	}
	idp.Routes(mux)

	env := map[string]string{
		"RATHAUS_DATABASE_URL":       storetest.URL(t, store.SQLite),
		"RATHAUS_PUBLIC_URL":         base,
		"RATHAUS_OIDC_ISSUER":        idpSrv.URL + identity.DevPath,
		"RATHAUS_OIDC_CLIENT_ID":     "rathaus-serve",
		"RATHAUS_OIDC_CLIENT_SECRET": "serve-client-secret-0123456789",
		"RATHAUS_OIDC_ROLE_MAP":      "parken-sb=clerk",
	}
	s := start(t, modeServe, []string{"--listen", addr}, env)
	if !strings.Contains(s.stdout.String(), "Ohne RATHAUS_AUDIT_SIGNING_KEY") {
		t.Errorf("serve without audit key says nothing about it:\n%s", s.stdout.String())
	}
	if strings.Contains(s.stdout.String(), "serve-client-secret") || strings.Contains(s.stderr.String(), "serve-client-secret") {
		t.Error("serve shows the OIDC client secret")
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	r, err := browser.Get(base + "/sachbearbeitung")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.HasPrefix(r.Request.URL.String(), idpSrv.URL+identity.DevPath+"/authorize") {
		t.Fatalf("workbench of serve: %d at %s, want the provider's sign-in page", r.StatusCode, r.Request.URL)
	}
	form := url.Values{"username": {"anna"}, "password": {"anna-pw"}}
	for _, m := range regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`).FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	r, err = browser.PostForm(idpSrv.URL+identity.DevPath+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || r.Request.URL.String() != base+"/sachbearbeitung" ||
		!strings.Contains(strings.Join(strings.Fields(string(page)), " "), "Angemeldet als <strong>Anna Amt</strong> (Sachbearbeitung; Kommune 110000000000)") {
		t.Fatalf("after sign-in: %d at %s\n%s", r.StatusCode, r.Request.URL, page)
	}
	// serve has no development provider of its own.
	if r, err := http.Get(base + "/dev-idp/.well-known/openid-configuration"); err != nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("serve's /dev-idp: %v %v, want 404", r.StatusCode, err)
	}
}
