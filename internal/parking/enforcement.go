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
	"unicode"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
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

// KeyCacheTTL is how long a verified API key is kept in memory: a
// revocation (api_keys.revoked_at) takes effect within this time on each
// replica. Until then every request would read its key from the database.
const KeyCacheTTL = 15 * time.Second

// keyCacheMax bounds the verified keys kept in memory (one per scan car or
// clerk's client: thousands at most).
const keyCacheMax = 10_000

// Authenticate checks an "Authorization: Bearer <id>.<secret>" value. A key
// verified against the database is kept in memory for KeyCacheTTL, so a
// revoked key keeps working for at most that long; a failed verification is
// never kept.
func (s *Service) Authenticate(ctx context.Context, authorization string) (APIKey, error) {
	token, ok := strings.CutPrefix(authorization, "Bearer ")
	id, secret, ok2 := strings.Cut(strings.TrimSpace(token), ".")
	if !ok || !ok2 || !strings.HasPrefix(id, "key_") || len(id) > 40 || secret == "" || len(secret) > 100 {
		return APIKey{}, errs.E(errs.Unauthenticated, "Ein gültiger API-Schlüssel fehlt (Authorization: Bearer …).")
	}
	hash := hashSecret(secret)
	g := s.enforcement()
	now := s.now()
	if k, ok := g.keys.get(id, hash, now); ok {
		return k, nil
	}
	var k APIKey
	var stored string
	var revoked sql.NullTime
	err := s.db.Read().QueryRowContext(ctx, `SELECT id, municipality, role, name, secret_hash, revoked_at FROM api_keys WHERE id = $1`, id).
		Scan(&k.ID, &k.Municipality, &k.Role, &k.Name, &stored, &revoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (!hmac.Equal([]byte(stored), []byte(hash)) || revoked.Valid)) {
		s.logger.Warn("security: API key rejected", "key_id", id)
		return APIKey{}, errs.E(errs.Unauthenticated, "Der API-Schlüssel ist ungültig oder widerrufen.")
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("load api key: %w", err)
	}
	g.keys.put(k, stored, now)
	return k, nil
}

// keyCache holds API keys verified against the database, by key id, with
// the hash of their secret: a request with the same secret within
// KeyCacheTTL is answered from memory.
type keyCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
}

type cachedKey struct {
	key   APIKey
	hash  string    // hex SHA-256 of the secret, as stored
	since time.Time // when it was verified
}

// get returns key id if it was verified within KeyCacheTTL before now and
// hash is its secret's hash (compared in constant time). A miss, also for a
// wrong secret, sends the caller to the database.
func (c *keyCache) get(id, hash string, now time.Time) (APIKey, bool) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	// A clock that went back must not stretch the lifetime.
	if !ok || now.Before(e.since) || now.Sub(e.since) >= KeyCacheTTL {
		return APIKey{}, false
	}
	if !hmac.Equal([]byte(e.hash), []byte(hash)) {
		return APIKey{}, false
	}
	return e.key, true
}

// put keeps a key the database has just verified. When the cache is full it
// drops expired keys, and if that is not enough, arbitrary ones: they are
// verified again on their next request.
func (c *keyCache) put(k APIKey, hash string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedKey{}
	}
	if _, ok := c.m[k.ID]; !ok && len(c.m) >= keyCacheMax {
		for id, e := range c.m {
			if now.Before(e.since) || now.Sub(e.since) >= KeyCacheTTL {
				delete(c.m, id)
			}
		}
		for id := range c.m {
			if len(c.m) < keyCacheMax {
				break
			}
			delete(c.m, id)
		}
	}
	c.m[k.ID] = cachedKey{key: k, hash: hash, since: now}
}

// drop forgets key id (after its revocation).
func (c *keyCache) drop(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
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
	// Lookups share their audit insert with others (readLookups): text the
	// database refuses (NUL, invalid UTF-8 on PostgreSQL) would fail every
	// lookup of the batch, other municipalities' included.
	if !plainText(purpose) {
		return EnforcementAnswer{}, errs.Field("purpose", "Der Zweck enthält Steuerzeichen oder ungültige Zeichen.")
	}
	if !plainText(zone) {
		return EnforcementAnswer{}, errs.Field("zone", "Unbekannte Zone.")
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
	m2 := hmac.New(sha256.New, s.hmacKey)
	m2.Write([]byte("plate\x00" + plate.String()))
	// The permits are read and the answer goes out only once its audit row
	// is committed; concurrent lookups share the read (one query for the
	// plates of all) and the commit (store.NewReadInsertGroup).
	l := &lookup{municipality: key.Municipality, plate: plate.String(), day: time.Date(y, m, d, 0, 0, 0, 0, time.UTC),
		row: lookupRow{at: s.now().UTC(), keyID: key.ID, plateHash: hex.EncodeToString(m2.Sum(nil)), zone: zone, purpose: purpose}}
	if err := s.enforcement().audit.Add(ctx, l); err != nil {
		return EnforcementAnswer{}, fmt.Errorf("enforcement lookup: %w", err)
	}
	return EnforcementAnswer{Plate: plate.String(), Valid: l.row.valid, Zones: l.zones, ValidUntil: l.validUntil,
		CheckedAt: at.UTC().Format(time.RFC3339)}, nil
}

// lookup is one enforcement lookup on its way through the audit writer:
// the question, and what readLookups found: the answer and, in the audit
// row, whether it was valid.
type lookup struct {
	municipality, plate string
	day                 time.Time
	zones               []string  // of the permits that match the zone asked (all if none)
	validUntil          string    // the latest end among them
	row                 lookupRow // valid: some permit matched
}

// answer sets l's answer from the permits of its plate in force that day.
func (l *lookup) answer(permits []permitInForce) {
	l.zones, l.validUntil, l.row.valid = []string{}, "", false
	for _, p := range permits {
		zones := strings.Split(p.zoneID, ",")
		if l.row.zone != "" && !contains(zones, l.row.zone) {
			continue
		}
		l.row.valid = true
		l.zones = append(l.zones, zones...)
		if u := p.validUntil.UTC().Format(dateLayout); u > l.validUntil {
			l.validUntil = u
		}
	}
}

// readLookups reads the permits in force for a batch of lookups: one query
// per municipality and day (almost always one), the plates as an IN list
// padded to a power of two so that few statements are prepared.
func readLookups(db *store.DB) func(ctx context.Context, batch []*lookup) error {
	return func(ctx context.Context, batch []*lookup) error {
		type key struct {
			ars string
			day time.Time
		}
		groups := map[key][]*lookup{}
		for _, l := range batch {
			k := key{l.municipality, l.day}
			groups[k] = append(groups[k], l)
		}
		for k, ls := range groups {
			plates := make([]string, 0, len(ls))
			seen := map[string]bool{}
			for _, l := range ls {
				if !seen[l.plate] {
					seen[l.plate] = true
					plates = append(plates, l.plate)
				}
			}
			byPlate, err := permitsInForce(ctx, db.Read(), k.ars, plates, k.day)
			if err != nil {
				return err
			}
			for _, l := range ls {
				l.answer(byPlate[l.plate])
			}
		}
		return nil
	}
}

// lookupRow is an enforcement_lookups row.
type lookupRow struct {
	at                              time.Time
	keyID, plateHash, zone, purpose string
	valid                           bool
}

// auditBatch is the largest number of audit rows committed together
// (6 parameters each: far below both engines' limits).
const auditBatch = 256

const insertLookups = `INSERT INTO enforcement_lookups (at, api_key_id, plate_hash, zone_id, purpose, valid) VALUES`

func (l lookupRow) values() []any {
	return []any{l.at, l.keyID, l.plateHash, l.zone, l.purpose, l.valid}
}

// permitInForce is what an enforcement answer needs of a permit.
type permitInForce struct {
	zoneID     string // comma-separated
	validUntil time.Time
}

// permitsInForce returns the active permits in force on day of each of
// plates, latest end first: only the two columns the answer needs (a whole
// permit row, its signed token included, costs a lookup more than the query
// itself). The index parking_permits_plate (municipality, plate) finds the
// plates' few rows. The IN list is padded to a power of two with the last
// plate, so that batches of any size use one of a few statements.
func permitsInForce(ctx context.Context, q querier, ars string, plates []string, day time.Time) (map[string][]permitInForce, error) {
	n := 1
	for n < len(plates) {
		n *= 2
	}
	args := make([]any, 0, 2+n)
	args = append(args, ars, day.Format(dateLayout))
	var in strings.Builder
	for i := range n {
		if i > 0 {
			in.WriteString(", ")
		}
		fmt.Fprintf(&in, "$%d", i+3)
		args = append(args, plates[min(i, len(plates)-1)])
	}
	rows, err := q.QueryContext(ctx, `SELECT plate, zone_id, valid_until FROM parking_permits
		WHERE municipality = $1 AND plate IN (`+in.String()+`) AND status = 'active' AND valid_from <= $2 AND valid_until >= $2
		ORDER BY valid_until DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("permits of plates: %w", err)
	}
	defer rows.Close()
	out := map[string][]permitInForce{}
	for rows.Next() {
		var plate string
		var p permitInForce
		if err := rows.Scan(&plate, &p.zoneID, &p.validUntil); err != nil {
			return nil, fmt.Errorf("permits of plates: %w", err)
		}
		out[plate] = append(out[plate], p)
	}
	return out, rows.Err()
}

// plainText: valid UTF-8 without control characters.
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
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

// apiGate is the state of the machine API beyond the rate limit: verified
// keys, and the writer that commits audit rows in groups.
type apiGate struct {
	keys  keyCache
	audit *store.Group[*lookup]
}

// enforcement returns the API's state, starting the audit writer on first
// use; Close stops it.
func (s *Service) enforcement() *apiGate {
	s.gateOnce.Do(func() {
		s.gate = &apiGate{audit: store.NewReadInsertGroup(s.db, readLookups(s.db), insertLookups,
			func(l *lookup) []any { return l.row.values() }, store.GroupOptions{MaxBatch: auditBatch})}
	})
	return s.gate
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
