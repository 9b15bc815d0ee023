package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/web"
)

// DevPath is where rathaus demo serves its development OpenID provider;
// the issuer is the base URL plus DevPath.
const DevPath = "/dev-idp"

// DevProvider is the development OpenID provider of rathaus demo: the
// authorization code flow with PKCE (S256, required), ES256 ID tokens, a
// sign-in page for a fixed list of demo staff, and back-off after failed
// passwords. It stands in for the municipality's identity provider
// (Keycloak, ADFS, …) so that the demo needs none; rathaus serve never
// starts it. Codes and lock-outs live in memory.
type DevProvider struct {
	issuer  string
	key     *ecdsa.PrivateKey
	keyID   string
	signer  jose.Signer
	clients map[string]DevClient
	users   map[string]DevUser // by username
	pages   *web.Templates
	now     func() time.Time

	mu       sync.Mutex
	codes    map[string]*authCode // by code
	failures map[string]*failures // by username
}

// DevClient is a relying party the provider knows.
type DevClient struct {
	ID, Secret   string
	RedirectURIs []string // exact matches only
}

// DevUser is a demo staff member.
type DevUser struct {
	Username, Password string
	Subject, Name      string
	Roles              []string // clerk, lead, admin
	Municipality       string   // ARS
}

type authCode struct {
	client, redirectURI, challenge, nonce string
	user                                  DevUser
	issued                                time.Time
}

type failures struct {
	n           int
	lockedUntil time.Time
}

// Limits of the provider.
const (
	codeTTL       = time.Minute
	idTokenTTL    = 5 * time.Minute
	freeFailures  = 5                // failed passwords before the lock-out
	firstLockout  = 30 * time.Second // doubled with every further failure
	maxLockout    = 15 * time.Minute
	maxParamBytes = 512
)

// NewDevProvider returns a provider with issuer (base URL + DevPath).
func NewDevProvider(issuer string, clients []DevClient, users []DevUser, pages *web.Templates) (*DevProvider, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := (&jose.JSONWebKey{Key: &key.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(der)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return nil, err
	}
	p := &DevProvider{issuer: strings.TrimRight(issuer, "/"), key: key, keyID: kid, signer: signer, clients: map[string]DevClient{},
		users: map[string]DevUser{}, pages: pages, now: time.Now, codes: map[string]*authCode{}, failures: map[string]*failures{}}
	for _, c := range clients {
		p.clients[c.ID] = c
	}
	for _, u := range users {
		p.users[u.Username] = u
	}
	return p, nil
}

// Issuer is the provider's issuer URL.
func (p *DevProvider) Issuer() string { return p.issuer }

// Routes mounts the provider under DevPath.
func (p *DevProvider) Routes(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle("GET "+DevPath+"/.well-known/openid-configuration", http.HandlerFunc(p.discovery))
	mux.Handle("GET "+DevPath+"/jwks", http.HandlerFunc(p.jwks))
	mux.Handle("GET "+DevPath+"/authorize", p.pages.Page(p.authorizePage))
	mux.Handle("POST "+DevPath+"/authorize", p.pages.Page(p.authorizePost))
	mux.Handle("POST "+DevPath+"/token", http.HandlerFunc(p.token))
}

func (p *DevProvider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.issuer + "/authorize",
		"token_endpoint":                        p.issuer + "/token",
		"jwks_uri":                              p.issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []string{"openid", "profile"},
		"claims_supported":                      []string{"sub", "name", "preferred_username", ClaimRoles, ClaimMunicipality},
	})
}

func (p *DevProvider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: p.keyID, Algorithm: "ES256", Use: "sig"}}})
}

// authRequest is a validated authorization request.
type authRequest struct {
	ClientID, RedirectURI, State, Nonce, Challenge, Scope string
}

// loginData is the sign-in page's data.
type loginData struct {
	Request  authRequest
	Username string
	Error    string
}

// parseAuthRequest validates an authorization request. An unknown client
// or redirect URI is shown on the provider's page (redirecting there
// would make the provider an open redirector); any other problem goes
// back to the client as an OAuth error.
func (p *DevProvider) parseAuthRequest(q url.Values) (authRequest, *url.URL, error) {
	for k, v := range q {
		if len(v) != 1 || len(v[0]) > maxParamBytes {
			return authRequest{}, nil, errs.E(errs.Invalid, "Der Parameter %q ist mehrfach angegeben oder zu lang.", k)
		}
	}
	ar := authRequest{ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), State: q.Get("state"), Nonce: q.Get("nonce"),
		Challenge: q.Get("code_challenge"), Scope: q.Get("scope")}
	c, ok := p.clients[ar.ClientID]
	if !ok {
		return ar, nil, errs.E(errs.Invalid, "Unbekannte Anwendung (client_id).")
	}
	if !slices.Contains(c.RedirectURIs, ar.RedirectURI) {
		return ar, nil, errs.E(errs.Invalid, "Die Rücksprungadresse (redirect_uri) ist für diese Anwendung nicht eingetragen.")
	}
	back, _ := url.Parse(ar.RedirectURI)
	oauthErr := func(code, desc string) (authRequest, *url.URL, error) {
		v := url.Values{"error": {code}, "error_description": {desc}}
		if ar.State != "" {
			v.Set("state", ar.State)
		}
		back.RawQuery = v.Encode()
		return ar, back, nil
	}
	switch {
	case q.Get("response_type") != "code":
		return oauthErr("unsupported_response_type", "only response_type=code")
	case !slices.Contains(strings.Fields(ar.Scope), "openid"):
		return oauthErr("invalid_scope", "scope must include openid")
	case ar.Challenge == "" || q.Get("code_challenge_method") != "S256":
		return oauthErr("invalid_request", "PKCE with code_challenge_method=S256 is required")
	case ar.Nonce == "":
		return oauthErr("invalid_request", "nonce is required")
	case ar.State == "":
		return oauthErr("invalid_request", "state is required")
	}
	return ar, nil, nil
}

func (p *DevProvider) authorizePage(w http.ResponseWriter, r *http.Request) error {
	ar, back, err := p.parseAuthRequest(r.URL.Query())
	if err != nil {
		return err
	}
	if back != nil {
		http.Redirect(w, r, back.String(), http.StatusFound)
		return nil
	}
	return p.pages.Render(w, r, http.StatusOK, "anmelden.html", loginData{Request: ar})
}

func (p *DevProvider) authorizePost(w http.ResponseWriter, r *http.Request) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	q := url.Values{}
	for _, k := range []string{"client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope"} {
		q.Set(k, r.PostFormValue(k))
	}
	q.Set("response_type", "code")
	q.Set("code_challenge_method", "S256")
	ar, back, err := p.parseAuthRequest(q)
	if err != nil {
		return err
	}
	if back != nil {
		http.Redirect(w, r, back.String(), http.StatusFound)
		return nil
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	d := loginData{Request: ar, Username: username}
	user, wait := p.checkPassword(username, password)
	switch {
	case wait > 0:
		d.Error = fmt.Sprintf("Zu viele Fehlversuche. Bitte warten Sie %s und versuchen Sie es dann erneut.", waitText(wait))
		return p.pages.Render(w, r, http.StatusTooManyRequests, "anmelden.html", d)
	case user == nil:
		d.Error = "Benutzername oder Passwort stimmt nicht."
		return p.pages.Render(w, r, http.StatusUnauthorized, "anmelden.html", d)
	}
	code := randomToken()
	p.mu.Lock()
	p.codes[code] = &authCode{client: ar.ClientID, redirectURI: ar.RedirectURI, challenge: ar.Challenge, nonce: ar.Nonce, user: *user, issued: p.now()}
	p.mu.Unlock()
	back, _ = url.Parse(ar.RedirectURI)
	back.RawQuery = url.Values{"code": {code}, "state": {ar.State}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
	return nil
}

// checkPassword returns the user, or nil; wait > 0 while the username is
// locked out (also for a correct password: the lock is the point).
func (p *DevProvider) checkPassword(username, password string) (*DevUser, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	f := p.failures[username]
	if f != nil && now.Before(f.lockedUntil) {
		return nil, f.lockedUntil.Sub(now)
	}
	u, ok := p.users[username]
	if ok && subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1 {
		delete(p.failures, username)
		return &u, 0
	}
	if f == nil {
		if len(p.failures) > 10_000 { // bounded: forget the oldest state rather than grow
			clear(p.failures)
		}
		f = &failures{}
		p.failures[username] = f
	}
	f.n++
	if f.n >= freeFailures {
		lock := firstLockout << min(f.n-freeFailures, 10)
		f.lockedUntil = now.Add(min(lock, maxLockout))
	}
	return nil, 0
}

func waitText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d Sekunden", int(d.Seconds())+1)
	}
	return fmt.Sprintf("%d Minuten", int(d.Minutes())+1)
}

// token exchanges a code for an ID token.
func (p *DevProvider) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	c, known := p.clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="dev-idp"`)
		fail(http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if r.PostFormValue("grant_type") != "authorization_code" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "only authorization_code")
		return
	}
	p.mu.Lock()
	ac := p.codes[r.PostFormValue("code")]
	delete(p.codes, r.PostFormValue("code")) // single use, also when the rest fails
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case ac == nil || p.now().Sub(ac.issued) > codeTTL:
		fail(http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case ac.client != id || ac.redirectURI != r.PostFormValue("redirect_uri"):
		fail(http.StatusBadRequest, "invalid_grant", "code issued to another client or redirect_uri")
		return
	case subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.challenge)) != 1:
		fail(http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	now := p.now()
	claims := map[string]any{
		"iss": p.issuer, "sub": ac.user.Subject, "aud": id, "iat": now.Unix(), "exp": now.Add(idTokenTTL).Unix(),
		"auth_time": now.Unix(), "nonce": ac.nonce, "name": ac.user.Name, "preferred_username": ac.user.Username,
		ClaimRoles: ac.user.Roles, ClaimMunicipality: ac.user.Municipality,
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", "")
		return
	}
	jws, err := p.signer.Sign(payload)
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", "")
		return
	}
	idToken, err := jws.CompactSerialize()
	if err != nil {
		fail(http.StatusInternalServerError, "server_error", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": randomToken(), "token_type": "Bearer", "expires_in": int(idTokenTTL.Seconds()), "id_token": idToken})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// randomToken is 32 random bytes, URL-safe.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken is the stored form of a token.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}
