package parking

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// Roles an API key can have.
const (
	RoleEnforcement = "enforcement" // scan cars and handhelds of the Ordnungsamt
	RoleCasework    = "casework"    // decisions by clerks until staff sign-in exists
)

// APIKey is an authenticated machine client.
type APIKey struct {
	ID, Municipality, Role, Name string
}

// CreateAPIKey creates a key and returns it in full ("<id>.<secret>"); only
// a hash of the secret is stored, so the full key is shown exactly once.
func (s *Service) CreateAPIKey(ctx context.Context, ars, role, name string) (string, error) {
	if err := tenant.ValidateARS(ars); err != nil {
		return "", err
	}
	if role != RoleEnforcement && role != RoleCasework {
		return "", errs.Field("role", "Unbekannte Rolle %q (erlaubt: %s, %s).", role, RoleEnforcement, RoleCasework)
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", errs.Field("name", "Bitte einen Namen (1 bis 100 Zeichen) für den Schlüssel angeben.")
	}
	var idb [6]byte
	var sec [32]byte
	rand.Read(idb[:])
	rand.Read(sec[:])
	id := "key_" + hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	err := s.db.Transact(ctx, func(tx *sql.Tx) error {
		if _, err := tenant.Get(ctx, tx, ars); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, municipality, role, name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, ars, role, name, hashSecret(secret), s.now().UTC())
		return err
	})
	if err != nil {
		return "", err
	}
	return id + "." + secret, nil
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Authenticate checks an "Authorization: Bearer <id>.<secret>" value.
func (s *Service) Authenticate(ctx context.Context, authorization string) (APIKey, error) {
	token, ok := strings.CutPrefix(authorization, "Bearer ")
	id, secret, ok2 := strings.Cut(strings.TrimSpace(token), ".")
	if !ok || !ok2 || !strings.HasPrefix(id, "key_") || len(id) > 40 || secret == "" || len(secret) > 100 {
		return APIKey{}, errs.E(errs.Unauthenticated, "Ein gültiger API-Schlüssel fehlt (Authorization: Bearer …).")
	}
	var k APIKey
	var hash string
	var revoked sql.NullTime
	err := s.db.Read().QueryRowContext(ctx, `SELECT id, municipality, role, name, secret_hash, revoked_at FROM api_keys WHERE id = $1`, id).
		Scan(&k.ID, &k.Municipality, &k.Role, &k.Name, &hash, &revoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (!hmac.Equal([]byte(hash), []byte(hashSecret(secret))) || revoked.Valid)) {
		s.logger.Warn("security: API key rejected", "key_id", id)
		return APIKey{}, errs.E(errs.Unauthenticated, "Der API-Schlüssel ist ungültig oder widerrufen.")
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("load api key: %w", err)
	}
	return k, nil
}

// EnforcementAnswer is all that enforcement learns: valid or not, where,
// until when. No name, no address.
type EnforcementAnswer struct {
	Plate      string   `json:"plate"`
	Valid      bool     `json:"valid"`
	Zones      []string `json:"zones"`
	ValidUntil string   `json:"valid_until,omitempty"`
	CheckedAt  string   `json:"checked_at"`
}

// Enforce answers whether a plate may park in a zone at a time as a
// resident, and records the lookup with its purpose. zone may be empty
// (any zone); at zero means now.
func (s *Service) Enforce(ctx context.Context, key APIKey, plateText, zone string, at time.Time, purpose string) (EnforcementAnswer, error) {
	if key.Role != RoleEnforcement {
		return EnforcementAnswer{}, errs.E(errs.Forbidden, "Dieser Schlüssel ist nicht für die Überwachung bestimmt.")
	}
	if !s.limiter.allow(key.ID, s.now()) {
		return EnforcementAnswer{}, errs.E(errs.TooMany, "Zu viele Abfragen mit diesem Schlüssel; bitte kurz warten.")
	}
	purpose = strings.TrimSpace(purpose)
	if purpose == "" || len(purpose) > 200 {
		return EnforcementAnswer{}, errs.Field("purpose", "Bitte den Zweck der Abfrage angeben (z. B. „Parkraumüberwachung Zone 29“).")
	}
	plate, err := registers.ParsePlate(plateText)
	if err != nil {
		return EnforcementAnswer{}, err
	}
	if len(zone) > 20 {
		return EnforcementAnswer{}, errs.Field("zone", "Unbekannte Zone.")
	}
	if at.IsZero() {
		at = s.now()
	}
	y, m, d := at.In(berlin).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	permits, err := permitsOnDay(ctx, s.db.Read(), key.Municipality, plate.String(), day)
	if err != nil {
		return EnforcementAnswer{}, err
	}
	ans := EnforcementAnswer{Plate: plate.String(), Zones: []string{}, CheckedAt: at.UTC().Format(time.RFC3339)}
	for _, p := range permits {
		zones := strings.Split(p.ZoneID, ",")
		if zone != "" && !contains(zones, zone) {
			continue
		}
		ans.Valid = true
		ans.Zones = append(ans.Zones, zones...)
		if u := p.ValidUntil.Format(dateLayout); u > ans.ValidUntil {
			ans.ValidUntil = u
		}
	}
	m2 := hmac.New(sha256.New, s.hmacKey)
	m2.Write([]byte("plate\x00" + plate.String()))
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO enforcement_lookups (at, api_key_id, plate_hash, zone_id, purpose, valid) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.now().UTC(), key.ID, hex.EncodeToString(m2.Sum(nil)), zone, purpose, ans.Valid)
		return err
	})
	if err != nil {
		return EnforcementAnswer{}, err
	}
	return ans, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// limiter is a token bucket per API key: Rate lookups per second, bursts
// up to Burst. In memory per replica: N replicas allow N times the rate,
// which bounds abuse without a shared store.
type limiter struct {
	Rate, Burst float64
	mu          sync.Mutex
	buckets     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.Burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.Burst, b.tokens+now.Sub(b.last).Seconds()*l.Rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
