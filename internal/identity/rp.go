package identity

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Paths of the workbench's sign-in.
const (
	HomePath     = "/sachbearbeitung"
	SignInPath   = "/sachbearbeitung/anmelden"
	CallbackPath = "/sachbearbeitung/anmeldung"
	SignOutPath  = "/sachbearbeitung/abmelden"
	cookieName   = "rathaus_sitzung"
)

// Options configure an RP.
type Options struct {
	DB                             *store.DB
	Issuer, ClientID, ClientSecret string
	// BaseURL is how staff reach Rathaus; the redirect URI is BaseURL +
	// CallbackPath, and cookies are Secure when it is https.
	BaseURL string
	// HTTPClient talks to the identity provider (default: 10 s timeout).
	HTTPClient *http.Client
	// RoleClaim and MunicipalityClaim name the ID token's claims that
	// carry the roles (a string or an array of strings) and the ARS
	// (default ClaimRoles, ClaimMunicipality).
	RoleClaim, MunicipalityClaim string
	// RoleMap maps the provider's values of the role claim (its group
	// names) to Rathaus's roles; without it the claim must carry "clerk",
	// "lead", "admin" themselves. Values it does not name are ignored.
	RoleMap map[string]string
	Logger  *slog.Logger
	Now     func() time.Time
}

// RP is the workbench's side of OpenID Connect: sign-in, sessions,
// sign-out.
type RP struct {
	o      Options
	pages  *web.Templates
	oauth  oauth2.Config
	secure bool

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first sign-in
}

// NewRP returns an RP; the provider is asked for its configuration on
// the first sign-in, so Rathaus starts while the provider is down.
func NewRP(o Options, assets *web.Assets) (*RP, error) {
	if o.Issuer == "" || o.ClientID == "" || o.ClientSecret == "" {
		return nil, errors.New("identity: issuer, client id and client secret are required")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RoleClaim == "" {
		o.RoleClaim = ClaimRoles
	}
	if o.MunicipalityClaim == "" {
		o.MunicipalityClaim = ClaimMunicipality
	}
	for from, to := range o.RoleMap {
		if to != RoleClerk && to != RoleLead && to != RoleAdmin {
			return nil, fmt.Errorf("identity: role map %q → %q: roles are %s, %s and %s", from, to, RoleClerk, RoleLead, RoleAdmin)
		}
	}
	pages, err := web.NewTemplates(assets, templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(o.BaseURL, "/")
	return &RP{o: o, pages: pages, secure: strings.HasPrefix(base, "https://"), oauth: oauth2.Config{
		ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: base + CallbackPath, Scopes: []string{oidc.ScopeOpenID, "profile"},
	}}, nil
}

// Pages are the templates of the sign-in pages (and the dev provider's).
func (rp *RP) Pages() *web.Templates { return rp.pages }

// Routes mounts sign-in, callback, sign-out and the workbench's start page.
func (rp *RP) Routes(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle("GET "+SignInPath, rp.pages.Page(rp.signIn))
	mux.Handle("GET "+CallbackPath, rp.pages.Page(rp.callback))
	mux.Handle("POST "+SignOutPath, rp.pages.Page(rp.signOut))
	mux.Handle("GET "+HomePath, rp.pages.Page(rp.Require(rp.home)))
}

func (rp *RP) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, rp.o.HTTPClient)
}

func (rp *RP) discover(ctx context.Context) (*oidc.Provider, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.provider != nil {
		return rp.provider, nil
	}
	p, err := oidc.NewProvider(rp.ctx(ctx), rp.o.Issuer)
	if err != nil {
		rp.o.Logger.Warn("identity provider unreachable", "issuer", rp.o.Issuer, "err", err)
		return nil, errs.Wrap(errs.Unavailable, err, "Der Anmeldedienst ist nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut.")
	}
	rp.provider = p
	return p, nil
}

// localNext accepts only paths of the workbench as where to go after
// sign-in: never another host.
var localNext = regexp.MustCompile(`^/sachbearbeitung(/[A-Za-z0-9/_.-]*)?$`)

func (rp *RP) signIn(w http.ResponseWriter, r *http.Request) error {
	next := r.URL.Query().Get("weiter")
	if !localNext.MatchString(next) || strings.Contains(next, "..") {
		next = HomePath
	}
	p, err := rp.discover(r.Context())
	if err != nil {
		return err
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	now := rp.o.Now().UTC()
	err = rp.o.DB.Transact(r.Context(), func(tx *sql.Tx) error {
		// Sign-ins never finished are dropped here, not by a job.
		if _, err := tx.ExecContext(r.Context(), `DELETE FROM identity_login_states WHERE created_at < $1`, now.Add(-loginStateTTL)); err != nil {
			return err
		}
		_, err := tx.ExecContext(r.Context(), `INSERT INTO identity_login_states (state_hash, verifier, nonce, next, created_at) VALUES ($1, $2, $3, $4, $5)`,
			hashToken(state), verifier, nonce, next, now)
		return err
	})
	if err != nil {
		return err
	}
	cfg := rp.oauth
	cfg.Endpoint = p.Endpoint()
	http.Redirect(w, r, cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	return nil
}

// idClaims are the claims Rathaus reads from the ID token.
type idClaims struct {
	Name              string
	PreferredUsername string
	Roles             []string // the role claim's values, as the provider sends them
	Municipality      string
}

// claims reads the ID token's claims: name, user name, the role claim (a
// string or an array of strings) and the municipality claim.
func (rp *RP) claims(idt *oidc.IDToken) (idClaims, error) {
	var raw map[string]any
	if err := idt.Claims(&raw); err != nil {
		return idClaims{}, err
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	c := idClaims{Name: str("name"), PreferredUsername: str("preferred_username"), Municipality: str(rp.o.MunicipalityClaim)}
	switch v := raw[rp.o.RoleClaim].(type) {
	case string:
		c.Roles = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				c.Roles = append(c.Roles, s)
			}
		}
	}
	return c, nil
}

// role maps a value of the role claim to a role of Rathaus ("" none).
func (rp *RP) role(v string) string {
	if rp.o.RoleMap != nil {
		return rp.o.RoleMap[v]
	}
	if v == RoleClerk || v == RoleLead || v == RoleAdmin {
		return v
	}
	return ""
}

var arsPattern = regexp.MustCompile(`^[0-9]{12}$`)

// message is the sign-in pages' data.
type message struct {
	Title, Text string
	Retry       bool
}

func (rp *RP) callback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		rp.o.Logger.Warn("sign-in refused by the identity provider", "error", e)
		return rp.pages.Render(w, r, http.StatusUnauthorized, "meldung.html", message{Title: "Anmeldung nicht abgeschlossen",
			Text: "Der Anmeldedienst hat die Anmeldung nicht bestätigt.", Retry: true})
	}
	var verifier, nonce, next string
	var created time.Time
	err := rp.o.DB.Transact(ctx, func(tx *sql.Tx) error {
		h := hashToken(q.Get("state"))
		err := tx.QueryRowContext(ctx, `SELECT verifier, nonce, next, created_at FROM identity_login_states WHERE state_hash = $1`, h).
			Scan(&verifier, &nonce, &next, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.Unauthenticated, "Diese Anmeldung ist unbekannt, schon verwendet oder abgelaufen. Bitte melden Sie sich erneut an.")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM identity_login_states WHERE state_hash = $1`, h) // single use
		return err
	})
	if err == nil && rp.o.Now().Sub(created) > loginStateTTL {
		err = errs.E(errs.Unauthenticated, "Die Anmeldung hat zu lange gedauert. Bitte melden Sie sich erneut an.")
	}
	if err != nil {
		if errs.Is(err, errs.Unauthenticated) {
			return rp.pages.Render(w, r, http.StatusUnauthorized, "meldung.html", message{Title: "Anmeldung nicht abgeschlossen", Text: errs.MessageOf(err), Retry: true})
		}
		return err
	}
	p, err := rp.discover(ctx)
	if err != nil {
		return err
	}
	cfg := rp.oauth
	cfg.Endpoint = p.Endpoint()
	tok, err := cfg.Exchange(rp.ctx(ctx), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		rp.o.Logger.Warn("code exchange failed", "err", err)
		return rp.pages.Render(w, r, http.StatusUnauthorized, "meldung.html", message{Title: "Anmeldung nicht abgeschlossen",
			Text: "Der Anmeldedienst hat die Anmeldung nicht bestätigt.", Retry: true})
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: rp.o.ClientID, Now: rp.o.Now}).Verify(rp.ctx(ctx), raw)
	if err == nil && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		err = errors.New("nonce does not match")
	}
	var c idClaims
	if err == nil {
		c, err = rp.claims(idt)
	}
	if err != nil {
		rp.o.Logger.Warn("security: ID token rejected", "err", err)
		return rp.pages.Render(w, r, http.StatusUnauthorized, "meldung.html", message{Title: "Anmeldung nicht abgeschlossen",
			Text: "Die Bestätigung des Anmeldedienstes ist ungültig.", Retry: true})
	}
	var roles []string
	for _, v := range c.Roles {
		if role := rp.role(v); role != "" && !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	if len(roles) == 0 || !arsPattern.MatchString(c.Municipality) {
		rp.o.Logger.Warn("sign-in without a role or municipality", "subject_set", idt.Subject != "")
		return rp.pages.Render(w, r, http.StatusForbidden, "meldung.html", message{Title: "Kein Zugang zur Sachbearbeitung",
			Text: "Ihr Konto ist angemeldet, hat aber keine Rolle in Rathaus oder keine Kommune. Bitte wenden Sie sich an die Fachadministration."})
	}
	name := c.Name
	if name == "" {
		name = c.PreferredUsername
	}
	token, csrf := randomToken(), randomToken()
	now := rp.o.Now().UTC()
	st := Staff{Subject: idt.Subject, Name: name, Roles: roles, Municipality: c.Municipality, CSRF: csrf, tokenHash: hashToken(token)}
	err = rp.o.DB.Transact(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_sessions (token_hash, subject, name, roles, municipality, csrf, created_at, last_seen)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, st.tokenHash, st.Subject, st.Name, strings.Join(roles, ","), st.Municipality, csrf, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO identity_staff (subject, name, roles, municipality, last_sign_in) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (subject) DO UPDATE SET name = excluded.name, roles = excluded.roles, municipality = excluded.municipality,
			last_sign_in = excluded.last_sign_in`, st.Subject, st.Name, strings.Join(roles, ","), st.Municipality, now); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, rp.o.DB.Engine, audit.Entry{At: now, Actor: st.Actor(), Action: "identity.sign_in",
			Municipality: st.Municipality, Origin: clientAddr(r), Reason: "Anmeldung " + strings.Join(roles, ",")})
		return err
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, rp.cookie(token, int(MaxLifetime.Seconds())))
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (rp *RP) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: value, Path: HomePath, MaxAge: maxAge, HttpOnly: true, Secure: rp.secure, SameSite: http.SameSiteLaxMode}
}

// Staff returns the signed-in staff member of r, or nil. An expired
// session is deleted.
func (rp *RP) Staff(r *http.Request) (*Staff, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil || len(ck.Value) > 100 {
		return nil, nil
	}
	ctx := r.Context()
	st := &Staff{tokenHash: hashToken(ck.Value)}
	var roles string
	var created, seen time.Time
	err = rp.o.DB.Read().QueryRowContext(ctx, `SELECT subject, name, roles, municipality, csrf, created_at, last_seen FROM identity_sessions WHERE token_hash = $1`,
		st.tokenHash).Scan(&st.Subject, &st.Name, &roles, &st.Municipality, &st.CSRF, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := rp.o.Now()
	if now.Sub(seen) > IdleTimeout || now.Sub(created) > MaxLifetime {
		err := rp.o.DB.Transact(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM identity_sessions WHERE token_hash = $1`, st.tokenHash)
			return err
		})
		return nil, err
	}
	if now.Sub(seen) > touchEvery {
		err := rp.o.DB.Transact(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE identity_sessions SET last_seen = $1 WHERE token_hash = $2`, now.UTC(), st.tokenHash)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	st.Roles = strings.Split(roles, ",")
	return st, nil
}

// StaffHandler is a handler of the workbench for a signed-in staff member.
type StaffHandler func(w http.ResponseWriter, r *http.Request, s *Staff) error

// Require wraps fn: without a session a GET goes to the sign-in (and comes
// back), anything else is refused; with roles, the staff member needs one
// of them. A POST must carry the session's CSRF token and come from this
// site.
func (rp *RP) Require(fn StaffHandler, roles ...string) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := rp.Staff(r)
		if err != nil {
			return err
		}
		if st == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, SignInPath+"?weiter="+r.URL.Path, http.StatusFound)
				return nil
			}
			return errs.E(errs.Unauthenticated, "Ihre Anmeldung ist abgelaufen. Bitte melden Sie sich erneut an.")
		}
		if len(roles) > 0 && !slices.ContainsFunc(roles, st.Has) {
			return errs.E(errs.Forbidden, "Dafür fehlt Ihnen die Rolle.")
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := CheckCSRF(r, st); err != nil {
				return err
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		return fn(w, r, st)
	}
}

// CheckCSRF refuses a state-changing request from another site or without
// the session's token in the form field "csrf".
func CheckCSRF(r *http.Request, st *Staff) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return errs.E(errs.Forbidden, "Anfragen von anderen Websites werden nicht angenommen.")
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		// An upload: the token is a field of the multipart body (the body
		// limit of the server bounds it).
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return errs.E(errs.Invalid, "Das Formular konnte nicht gelesen werden.")
		}
	} else if err := web.ParseForm(r); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(st.CSRF)) != 1 {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder veraltet. Bitte laden Sie die Seite neu.")
	}
	return nil
}

func (rp *RP) signOut(w http.ResponseWriter, r *http.Request) error {
	st, err := rp.Staff(r)
	if err != nil {
		return err
	}
	if st != nil {
		if err := CheckCSRF(r, st); err != nil {
			return err
		}
		ctx := r.Context()
		err := rp.o.DB.Transact(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM identity_sessions WHERE token_hash = $1`, st.tokenHash); err != nil {
				return err
			}
			_, err := audit.Append(ctx, tx, rp.o.DB.Engine, audit.Entry{Actor: st.Actor(), Action: "identity.sign_out",
				Municipality: st.Municipality, Origin: clientAddr(r)})
			return err
		})
		if err != nil {
			return err
		}
	}
	http.SetCookie(w, rp.cookie("", -1))
	return rp.pages.Render(w, r, http.StatusOK, "meldung.html", message{Title: "Sie sind abgemeldet", Text: "Ihre Sitzung ist beendet.", Retry: true})
}

// homeData is the workbench start page's data.
type homeData struct {
	Staff      *Staff
	RoleLabels []string
	Links      []Link
}

// Link is an entry of the workbench's start page.
type Link struct{ Href, Label, Hint string }

// Links are the workbench's services, shown on its start page; a
// Fachverfahren adds its own.
var Links = []Link{
	{Href: "/sachbearbeitung/bewohnerparken", Label: "Bewohnerparken: Anträge in Prüfung"},
	{Href: "/sachbearbeitung/bewohnerparken/berichte", Label: "Bewohnerparken: Berichte", Hint: "für die Teamleitung"},
	{Href: "/sachbearbeitung/bewohnerparken/regeln", Label: "Bewohnerparken: Regeln und Gebühren", Hint: "für die Fachadministration"},
	{Href: "/sachbearbeitung/bewohnerparken/zonen", Label: "Bewohnerparken: neue Zonen prüfen", Hint: "für die Fachadministration"},
}

func (rp *RP) home(w http.ResponseWriter, r *http.Request, st *Staff) error {
	d := homeData{Staff: st, Links: Links}
	for _, role := range st.Roles {
		d.RoleLabels = append(d.RoleLabels, RoleLabel(role))
	}
	return rp.pages.Render(w, r, http.StatusOK, "start.html", d)
}

// clientAddr is where a staff request came from, for the audit log.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// Actor names a staff member in events and the audit log: "staff:" and
// the provider's subject, never the name.
func (s *Staff) Actor() string { return "staff:" + s.Subject }
