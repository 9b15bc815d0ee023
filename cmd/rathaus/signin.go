package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"opencode.de/rathaus/rathaus/internal/config"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/identity"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/web"
)

// signIn is the staff sign-in of the workbench (internal/identity): in
// the demo against the embedded development provider with demo staff
// whose passwords are made anew at every start; in serve against the
// operator's provider (RATHAUS_OIDC_*), or none.
type signIn struct {
	opts  identity.Options
	dev   []identity.DevUser // demo only
	devID identity.DevClient
}

// demoClientID is the demo's client at its development provider.
const demoClientID = "rathaus-demo"

func newSignIn(m mode, cfg *config.Config, db *store.DB, logger *slog.Logger, base string) *signIn {
	switch {
	case m == modeDemo:
		secret := demoPassword()
		s := &signIn{
			opts:  identity.Options{DB: db, Issuer: base + identity.DevPath, ClientID: demoClientID, ClientSecret: secret, BaseURL: base, Logger: logger},
			devID: identity.DevClient{ID: demoClientID, Secret: secret, RedirectURIs: []string{base + identity.CallbackPath}},
		}
		ars := demo.Berlin.ARS
		s.dev = []identity.DevUser{
			{Username: "sachbearbeitung", Password: demoPassword(), Subject: "demo-sb-1", Name: "Sabine Sachbearbeiterin (Demo)", Roles: []string{identity.RoleClerk}, Municipality: ars},
			{Username: "teamleitung", Password: demoPassword(), Subject: "demo-tl-1", Name: "Tarek Teamleiter (Demo)", Roles: []string{identity.RoleClerk, identity.RoleLead}, Municipality: ars},
			{Username: "fachadministration", Password: demoPassword(), Subject: "demo-fa-1", Name: "Frauke Fachadministratorin (Demo)", Roles: []string{identity.RoleAdmin}, Municipality: ars},
		}
		return s
	case cfg.OIDCIssuer != "":
		roleMap, _ := cfg.RoleMap() // checked by cfg.Validate
		return &signIn{opts: identity.Options{DB: db, Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			BaseURL: base, Logger: logger, RoleClaim: cfg.OIDCRoleClaim, MunicipalityClaim: cfg.OIDCARSClaim, RoleMap: roleMap}}
	}
	return nil
}

// handlers builds the relying party and, in the demo, the provider.
func (s *signIn) handlers(assets *web.Assets, siteName func(*http.Request) string) (*identity.RP, *identity.DevProvider, error) {
	if s == nil {
		return nil, nil, nil
	}
	rp, err := identity.NewRP(s.opts, assets)
	if err != nil {
		return nil, nil, err
	}
	if siteName != nil {
		rp.Pages().SiteName = siteName
	}
	if s.dev == nil {
		return rp, nil, nil
	}
	idp, err := identity.NewDevProvider(s.opts.Issuer, []identity.DevClient{s.devID}, s.dev, rp.Pages())
	if err != nil {
		return nil, nil, err
	}
	return rp, idp, nil
}

// text is the demo's paragraph on the staff accounts.
func (s *signIn) text(base string) string {
	if s == nil || s.dev == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Sachbearbeitung mit Anmeldung (Entwicklungs-Anmeldedienst %s%s):\n  %s%s\n", base, identity.DevPath, base, identity.HomePath)
	for _, u := range s.dev {
		labels := make([]string, len(u.Roles))
		for i, r := range u.Roles {
			labels[i] = identity.RoleLabel(r)
		}
		fmt.Fprintf(&b, "    Benutzer %-19s Passwort %s  (%s)\n", u.Username, u.Password, strings.Join(labels, ", "))
	}
	return b.String()
}

// demoPassword is a fresh random password of the demo.
func demoPassword() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
