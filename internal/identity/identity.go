// Package identity signs staff in: OpenID Connect (authorization code with
// PKCE) against any standard identity provider, sessions in the database,
// and the roles and municipality the provider's ID token grants.
//
// The flow: /sachbearbeitung/anmelden stores a login state (state, nonce,
// PKCE verifier, where to go next; only the state's hash is the key) and
// redirects to the provider; /sachbearbeitung/anmeldung takes the code
// back, checks the state (single use, 10 minutes), exchanges the code with
// the verifier, verifies the ID token (signature from the provider's
// JWKS, issuer, audience, expiry, nonce) and opens a session: a random
// token in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS), stored
// only as its SHA-256. A session ends after IdleTimeout without a request,
// after MaxLifetime in any case, and at sign-out (a POST carrying the
// session's CSRF token). Every state-changing form of the workbench
// carries that token (Staff.CSRF, CheckCSRF).
//
// Roles and municipality come from two claims of the ID token, ClaimRoles
// (an array of "clerk", "lead", "admin") and ClaimMunicipality (an ARS);
// an identity provider maps its groups to them. An account without a
// known role or municipality is refused at sign-in. Sign-in and sign-out
// are entries of the audit log.
//
// DevProvider is the development provider rathaus demo embeds.
package identity

import (
	"context"
	"slices"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
)

// Claims the ID token carries besides the standard ones.
const (
	ClaimRoles        = "rathaus_roles"
	ClaimMunicipality = "rathaus_ars"
)

// Roles of staff.
const (
	RoleClerk = "clerk" // Sachbearbeitung: decides cases
	RoleLead  = "lead"  // Teamleitung: also assigns cases and sees reports
	RoleAdmin = "admin" // Fachadministration: rules, fee schedules, zones
)

// Session limits.
const (
	IdleTimeout   = 30 * time.Minute
	MaxLifetime   = 10 * time.Hour
	loginStateTTL = 10 * time.Minute
	touchEvery    = time.Minute // last_seen is written at most this often
)

// Staff is a signed-in staff member.
type Staff struct {
	Subject      string
	Name         string
	Roles        []string
	Municipality string
	CSRF         string // the session's token for state-changing forms
	tokenHash    string
}

// Has reports whether the staff member has role.
func (s *Staff) Has(role string) bool {
	for _, r := range s.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// RoleLabel is a role's German name.
func RoleLabel(role string) string {
	switch role {
	case RoleClerk:
		return "Sachbearbeitung"
	case RoleLead:
		return "Teamleitung"
	case RoleAdmin:
		return "Fachadministration"
	}
	return role
}

// Colleague is an entry of the staff directory.
type Colleague struct {
	Subject, Name string
	Roles         []string
	LastSignIn    time.Time
}

// Actor is how the colleague is named in events and the audit log (as
// Staff.Actor).
func (c Colleague) Actor() string { return "staff:" + c.Subject }

// DirectoryMaxAge: colleagues who have not signed in for longer are not
// offered (they may have left; the provider does not tell).
const DirectoryMaxAge = 180 * 24 * time.Hour

// Colleagues lists the staff of a municipality who signed in since
// DirectoryMaxAge before now and have one of roles, by name.
func Colleagues(ctx context.Context, db *store.DB, ars string, now time.Time, roles ...string) ([]Colleague, error) {
	rows, err := db.Read().QueryContext(ctx, `SELECT subject, name, roles, last_sign_in FROM identity_staff
		WHERE municipality = $1 AND last_sign_in >= $2 ORDER BY name, subject`, ars, now.Add(-DirectoryMaxAge).UTC())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Colleague
	for rows.Next() {
		var c Colleague
		var rs string
		if err := rows.Scan(&c.Subject, &c.Name, &rs, &c.LastSignIn); err != nil {
			return nil, err
		}
		c.Roles = strings.Split(rs, ",")
		if slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(c.Roles, r) }) {
			out = append(out, c)
		}
	}
	return out, rows.Err()
}
