package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/web"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is a server with the development provider and the workbench's
// sign-in, and a browser that follows no redirects by itself.
type env struct {
	t    *testing.T
	srv  *httptest.Server
	idp  *DevProvider
	rp   *RP
	db   *store.DB
	clk  *clock
	jar  http.CookieJar
	http *http.Client
}

var staff = []DevUser{
	{Username: "sabine", Password: "geheim-1", Subject: "u-1", Name: "Sabine Sachbearbeiterin", Roles: []string{RoleClerk}, Municipality: "110000000000"},
	{Username: "theo", Password: "geheim-2", Subject: "u-2", Name: "Theo Teamleitung", Roles: []string{RoleClerk, RoleLead}, Municipality: "110000000000"},
	{Username: "gast", Password: "geheim-3", Subject: "u-3", Name: "Gast ohne Rolle", Roles: []string{"visitor"}, Municipality: "110000000000"},
}

func newEnv(t *testing.T, db *store.DB, mods ...func(*Options)) *env {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	assets, err := web.NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	o := Options{DB: db, Issuer: srv.URL + DevPath, ClientID: "rathaus", ClientSecret: "client-secret-0123456789",
		BaseURL: srv.URL, Logger: slog.New(slog.DiscardHandler), Now: clk.Now}
	for _, m := range mods {
		m(&o)
	}
	rp, err := NewRP(o, assets)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := NewDevProvider(srv.URL+DevPath, []DevClient{{ID: "rathaus", Secret: "client-secret-0123456789", RedirectURIs: []string{srv.URL + CallbackPath}}},
		staff, rp.Pages())
	if err != nil {
		t.Fatal(err)
	}
	idp.now = clk.Now
	idp.Routes(mux)
	rp.Routes(mux)
	e := &env{t: t, srv: srv, idp: idp, rp: rp, db: db, clk: clk}
	e.jar = newJar()
	e.http = &http.Client{Jar: e.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

type response struct {
	code int
	loc  string
	body string
	hdr  http.Header
}

func (e *env) do(method, target string, form url.Values, hdr ...string) response {
	e.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = e.srv.URL + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{code: res.StatusCode, loc: res.Header.Get("Location"), body: string(b), hdr: res.Header}
}

var hidden = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// loginForm opens the workbench and follows to the provider's sign-in
// page; it returns the form's hidden fields.
func (e *env) loginForm() url.Values {
	e.t.Helper()
	r := e.do("GET", HomePath, nil)
	if r.code != http.StatusFound || r.loc != SignInPath+"?weiter=/sachbearbeitung" {
		e.t.Fatalf("workbench without session: %d → %q", r.code, r.loc)
	}
	r = e.do("GET", r.loc, nil)
	if r.code != http.StatusFound || !strings.HasPrefix(r.loc, e.srv.URL+DevPath+"/authorize?") {
		e.t.Fatalf("sign-in: %d → %q", r.code, r.loc)
	}
	u, _ := url.Parse(r.loc)
	if q := u.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
		e.t.Fatalf("authorization request without PKCE, nonce or state: %s", r.loc)
	}
	r = e.do("GET", r.loc, nil)
	if r.code != http.StatusOK || !strings.Contains(r.body, "Anmeldung für Beschäftigte") {
		e.t.Fatalf("provider's page: %d\n%s", r.code, r.body)
	}
	form := url.Values{}
	for _, m := range hidden.FindAllStringSubmatch(r.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return form
}

// signIn signs user in and returns the start page.
func (e *env) signIn(user, password string) response {
	e.t.Helper()
	form := e.loginForm()
	form.Set("username", user)
	form.Set("password", password)
	r := e.do("POST", DevPath+"/authorize", form)
	if r.code != http.StatusFound || !strings.HasPrefix(r.loc, e.srv.URL+CallbackPath+"?") {
		e.t.Fatalf("password accepted? %d → %q\n%s", r.code, r.loc, r.body)
	}
	r = e.do("GET", r.loc, nil)
	if r.code == http.StatusSeeOther {
		return e.do("GET", r.loc, nil)
	}
	return r
}

func TestSignInSessionAndSignOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.signIn("sabine", "geheim-1")
		if r.code != http.StatusOK || !strings.Contains(r.body, "Angemeldet als <strong>Sabine Sachbearbeiterin</strong> (Sachbearbeitung;") {
			t.Fatalf("start page after sign-in: %d\n%s", r.code, r.body)
		}
		if cc := r.hdr.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("workbench page Cache-Control = %q", cc)
		}
		// The session is in the database only as a hash, the cookie is HttpOnly and Lax.
		var n int
		db.Read().QueryRow(`SELECT count(*) FROM identity_sessions WHERE subject = 'u-1'`).Scan(&n)
		if n != 1 {
			t.Errorf("%d sessions of u-1, want 1", n)
		}
		cookie := e.cookie()
		if cookie == "" || strings.Contains(storetest.TableText(t, db, "identity_sessions"), cookie) {
			t.Errorf("cookie %q missing or stored in clear", cookie)
		}
		// Sign-in is in the audit log.
		es, _ := audit.Entries(context.Background(), db.Read(), 1, 10)
		if len(es) != 1 || es[0].Actor != "staff:u-1" || es[0].Action != "identity.sign_in" || es[0].Municipality != "110000000000" {
			t.Errorf("audit after sign-in: %+v", es)
		}

		// Sign-out needs the session's CSRF token and the own site.
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(r.body)
		if csrf == nil {
			t.Fatal("start page without CSRF token")
		}
		if r := e.do("POST", SignOutPath, url.Values{"csrf": {"falsch"}}); r.code != http.StatusForbidden {
			t.Errorf("sign-out with a wrong token: %d, want 403", r.code)
		}
		if r := e.do("POST", SignOutPath, url.Values{"csrf": {csrf[1]}}, "Sec-Fetch-Site", "cross-site"); r.code != http.StatusForbidden {
			t.Errorf("sign-out from another site: %d, want 403", r.code)
		}
		if r := e.do("POST", SignOutPath, url.Values{"csrf": {csrf[1]}}); r.code != http.StatusOK || !strings.Contains(r.body, "Sie sind abgemeldet") {
			t.Errorf("sign-out: %d\n%s", r.code, r.body)
		}
		db.Read().QueryRow(`SELECT count(*) FROM identity_sessions`).Scan(&n)
		if n != 0 {
			t.Errorf("%d sessions after sign-out", n)
		}
		// The old cookie opens nothing.
		e.setCookie(cookie)
		if r := e.do("GET", HomePath, nil); r.code != http.StatusFound {
			t.Errorf("workbench with the signed-out cookie: %d, want a redirect to the sign-in", r.code)
		}
		if rep, _ := audit.Verify(context.Background(), db.Read(), nil); rep.Broken != nil || rep.Entries != 2 {
			t.Errorf("audit after sign-out: %s", rep)
		}
	}, audit.Migrations, Migrations)
}

func TestSessionTimeouts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		if r := e.signIn("theo", "geheim-2"); r.code != http.StatusOK {
			t.Fatalf("sign-in: %d", r.code)
		}
		// Activity keeps the session up to the absolute lifetime …
		for range 4 {
			e.clk.advance(IdleTimeout - time.Minute)
			if r := e.do("GET", HomePath, nil); r.code != http.StatusOK {
				t.Fatalf("after %s of activity: %d, want the page", IdleTimeout-time.Minute, r.code)
			}
		}
		// … idleness ends it.
		e.clk.advance(IdleTimeout + time.Second)
		if r := e.do("GET", HomePath, nil); r.code != http.StatusFound {
			t.Errorf("after %s idle: %d, want a redirect to the sign-in", IdleTimeout, r.code)
		}
		// The absolute lifetime ends an active session too.
		if r := e.signIn("theo", "geheim-2"); r.code != http.StatusOK {
			t.Fatalf("sign-in: %d", r.code)
		}
		for elapsed := time.Duration(0); elapsed <= MaxLifetime; elapsed += 20 * time.Minute {
			e.clk.advance(20 * time.Minute)
			r := e.do("GET", HomePath, nil)
			if elapsed+20*time.Minute < MaxLifetime && r.code != http.StatusOK {
				t.Fatalf("active session ended after %s: %d", elapsed+20*time.Minute, r.code)
			}
			if elapsed+20*time.Minute > MaxLifetime && r.code != http.StatusFound {
				t.Errorf("session alive after %s: %d", elapsed+20*time.Minute, r.code)
			}
		}
		// A POST without session is refused, not redirected.
		if r := e.do("POST", SignOutPath, url.Values{}); r.code != http.StatusOK {
			t.Errorf("sign-out without session: %d", r.code)
		}
	}, audit.Migrations, Migrations)
}

func TestSignInRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		// An account without a role of Rathaus gets no session.
		if r := e.signIn("gast", "geheim-3"); r.code != http.StatusForbidden || !strings.Contains(r.body, "keine Rolle in Rathaus") {
			t.Errorf("account without role: %d\n%s", r.code, r.body)
		}
		// A callback is used once.
		form := e.loginForm()
		form.Set("username", "sabine")
		form.Set("password", "geheim-1")
		back := e.do("POST", DevPath+"/authorize", form).loc
		if r := e.do("GET", back, nil); r.code != http.StatusSeeOther {
			t.Fatalf("callback: %d", r.code)
		}
		if r := e.do("GET", back, nil); r.code != http.StatusUnauthorized || !strings.Contains(r.body, "schon verwendet") {
			t.Errorf("replayed callback: %d\n%s", r.code, r.body)
		}
		// A forged state is not accepted.
		u, _ := url.Parse(back)
		q := u.Query()
		q.Set("state", "erfunden")
		if r := e.do("GET", CallbackPath+"?"+q.Encode(), nil); r.code != http.StatusUnauthorized {
			t.Errorf("callback with a forged state: %d", r.code)
		}
		// After sign-in only workbench paths are followed.
		r := e.do("GET", SignInPath+"?weiter=//evil.example/x", nil)
		au, _ := url.Parse(r.loc)
		var next string
		db.Read().QueryRow(`SELECT next FROM identity_login_states WHERE state_hash = $1`, hashToken(au.Query().Get("state"))).Scan(&next)
		if next != HomePath {
			t.Errorf("next after sign-in = %q, want %s", next, HomePath)
		}
		// A login state older than ten minutes is refused.
		e.jar = newJar() // a browser without the session of above
		e.http.Jar = e.jar
		form = e.loginForm()
		form.Set("username", "sabine")
		form.Set("password", "geheim-1")
		back = e.do("POST", DevPath+"/authorize", form).loc
		e.clk.advance(loginStateTTL + time.Second)
		if r := e.do("GET", back, nil); r.code != http.StatusUnauthorized {
			t.Errorf("callback after %s: %d", loginStateTTL, r.code)
		}
	}, audit.Migrations, Migrations)
}

func TestDevProviderChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		valid := url.Values{"client_id": {"rathaus"}, "redirect_uri": {e.srv.URL + CallbackPath}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"s1"}, "nonce": {"n1"}, "code_challenge": {pkce("verifier-0123456789-0123456789-0123456789")}, "code_challenge_method": {"S256"}}
		with := func(k, v string) string {
			q := url.Values{}
			for kk, vv := range valid {
				q[kk] = vv
			}
			if v == "" {
				q.Del(k)
			} else {
				q.Set(k, v)
			}
			return DevPath + "/authorize?" + q.Encode()
		}
		// A redirect URI that is not registered is never redirected to.
		if r := e.do("GET", with("redirect_uri", "https://evil.example/cb"), nil); r.code != http.StatusUnprocessableEntity && r.code != http.StatusBadRequest || r.loc != "" {
			t.Errorf("unregistered redirect_uri: %d → %q", r.code, r.loc)
		}
		if r := e.do("GET", with("client_id", "unbekannt"), nil); r.loc != "" || r.code < 400 {
			t.Errorf("unknown client: %d → %q", r.code, r.loc)
		}
		// Missing PKCE or nonce goes back to the client as an OAuth error.
		for _, k := range []string{"code_challenge", "nonce", "state"} {
			r := e.do("GET", with(k, ""), nil)
			if r.code != http.StatusFound || !strings.Contains(r.loc, "error=invalid_request") {
				t.Errorf("without %s: %d → %q", k, r.code, r.loc)
			}
		}
		if r := e.do("GET", with("code_challenge_method", "plain"), nil); !strings.Contains(r.loc, "error=invalid_request") {
			t.Errorf("plain PKCE: %q", r.loc)
		}
		// Discovery and keys.
		var disc map[string]any
		json.Unmarshal([]byte(e.do("GET", DevPath+"/.well-known/openid-configuration", nil).body), &disc)
		if disc["issuer"] != e.srv.URL+DevPath || disc["token_endpoint"] != e.srv.URL+DevPath+"/token" {
			t.Errorf("discovery = %v", disc)
		}

		// The token endpoint: a code for the right verifier only, once.
		code := func() string {
			form := url.Values{}
			for _, k := range []string{"client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope"} {
				form.Set(k, valid.Get(k))
			}
			form.Set("username", "sabine")
			form.Set("password", "geheim-1")
			r := e.do("POST", DevPath+"/authorize", form)
			u, _ := url.Parse(r.loc)
			return u.Query().Get("code")
		}
		exchange := func(code, verifier, secret string) (int, map[string]any) {
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.srv.URL + CallbackPath},
				"code_verifier": {verifier}, "client_id": {"rathaus"}, "client_secret": {secret}}
			r := e.do("POST", DevPath+"/token", form)
			var out map[string]any
			json.Unmarshal([]byte(r.body), &out)
			return r.code, out
		}
		if st, out := exchange(code(), "falscher-verifier-0123456789-0123456789", "client-secret-0123456789"); st != 400 || out["error"] != "invalid_grant" {
			t.Errorf("wrong verifier: %d %v", st, out)
		}
		if st, out := exchange(code(), "verifier-0123456789-0123456789-0123456789", "falsch"); st != 401 || out["error"] != "invalid_client" {
			t.Errorf("wrong client secret: %d %v", st, out)
		}
		c := code()
		if st, out := exchange(c, "verifier-0123456789-0123456789-0123456789", "client-secret-0123456789"); st != 200 || out["id_token"] == nil {
			t.Errorf("right verifier: %d %v", st, out)
		}
		if st, out := exchange(c, "verifier-0123456789-0123456789-0123456789", "client-secret-0123456789"); st != 400 || out["error"] != "invalid_grant" {
			t.Errorf("code used twice: %d %v", st, out)
		}
		c = code()
		e.clk.advance(codeTTL + time.Second)
		if st, _ := exchange(c, "verifier-0123456789-0123456789-0123456789", "client-secret-0123456789"); st != 400 {
			t.Errorf("expired code: %d", st)
		}
	}, audit.Migrations, Migrations)
}

// Repeated wrong passwords lock the account for a growing time, also
// against the right password.
func TestDevProviderLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		form := e.loginForm()
		try := func(pw string) response {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set("username", "sabine")
			f.Set("password", pw)
			return e.do("POST", DevPath+"/authorize", f)
		}
		for i := range freeFailures {
			if r := try("falsch"); r.code != http.StatusUnauthorized || !strings.Contains(r.body, "stimmt nicht") {
				t.Fatalf("failure %d: %d", i+1, r.code)
			}
		}
		if r := try("geheim-1"); r.code != http.StatusTooManyRequests || !strings.Contains(r.body, "Zu viele Fehlversuche") {
			t.Errorf("right password while locked: %d\n%s", r.code, r.body)
		}
		e.clk.advance(firstLockout + time.Second)
		if r := try("falsch"); r.code != http.StatusUnauthorized {
			t.Errorf("after the lock: %d", r.code)
		}
		// The next lock is longer.
		e.clk.advance(firstLockout + time.Second)
		if r := try("geheim-1"); r.code != http.StatusTooManyRequests {
			t.Errorf("second lock shorter than %s: %d", 2*firstLockout, r.code)
		}
		e.clk.advance(2 * firstLockout)
		if r := try("geheim-1"); r.code != http.StatusFound {
			t.Errorf("after the second lock: %d", r.code)
		}
		// The lock is per account.
		if r := e.signIn("theo", "geheim-2"); r.code != http.StatusOK {
			t.Errorf("other account: %d", r.code)
		}
	}, audit.Migrations, Migrations)
}

func pkce(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil)
	return j
}

func (e *env) cookie() string {
	u, _ := url.Parse(e.srv.URL + HomePath)
	for _, c := range e.jar.Cookies(u) {
		if c.Name == cookieName {
			return c.Value
		}
	}
	return ""
}

func (e *env) setCookie(v string) {
	u, _ := url.Parse(e.srv.URL + HomePath)
	e.jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: v, Path: HomePath}})
}

// A provider's own group names map to Rathaus's roles; unmapped values
// grant nothing, and a map to an unknown role is refused at start.
func TestRoleMap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(o *Options) { o.RoleMap = map[string]string{"visitor": RoleLead} })
		if r := e.signIn("gast", "geheim-3"); r.code != http.StatusOK || !strings.Contains(r.body, "(Teamleitung;") {
			t.Errorf("mapped group: %d\n%s", r.code, r.body)
		}
		e.jar = newJar()
		e.http.Jar = e.jar
		if r := e.signIn("sabine", "geheim-1"); r.code != http.StatusForbidden {
			t.Errorf("value the map does not name: %d, want 403", r.code)
		}
	}, audit.Migrations, Migrations)
	assets, _ := web.NewAssets()
	if _, err := NewRP(Options{Issuer: "https://idp.example", ClientID: "c", ClientSecret: "s", RoleMap: map[string]string{"x": "boss"}}, assets); err == nil {
		t.Error("a role map to an unknown role was accepted")
	}
}
