package documents

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// PermitClaims is what the signed token on a Bewohnerparkausweis (residential
// parking permit) says. The JSON names are one letter to keep the token small
// enough for a QR code that still scans from behind a windscreen.
type PermitClaims struct {
	Permit     string   `json:"p"` // permit number as printed on the permit
	ARS        string   `json:"a"` // Amtlicher Regionalschlüssel (12 digits) of the issuing municipality
	Plate      string   `json:"k"` // Kennzeichen: the vehicle's number plate, as printed
	Zones      []string `json:"z"` // Bewohnerparkbereiche (zones) the permit is valid in
	ValidFrom  string   `json:"f"` // first day of validity, YYYY-MM-DD (a legal date, German time)
	ValidUntil string   `json:"u"` // last day of validity, YYYY-MM-DD, inclusive
	IssuedAt   int64    `json:"i"` // when the token was signed, Unix seconds
	// KeyID is the id of the key that signed the token. It travels in the JWS
	// header, not in the payload: Sign ignores it and takes its own, Verify
	// fills it in from the header.
	KeyID string `json:"-"`
}

const (
	dateLayout     = "2006-01-02"
	maxTokenLen    = 2048 // far above what the signer produces; bounds the work for junk input
	maxPermitLen   = 64
	maxPlateLen    = 20
	maxZones       = 16
	maxZoneLen     = 16
	maxKeyIDLen    = 64
	futureIssuance = 24 * time.Hour // see Verify
)

// Status values of a permit on a given day. Revocation is not among them:
// the token cannot know about it, the caller checks its database.
const (
	StatusValid       = "gültig"
	StatusExpired     = "abgelaufen"
	StatusNotYetValid = "noch nicht gültig"
)

// The causes Verify wraps into its errs.Invalid errors, for callers that want
// to tell them apart (errors.Is).
var (
	ErrMalformed      = errors.New("malformed token")
	ErrAlgorithm      = errors.New("algorithm not accepted")
	ErrUnknownKey     = errors.New("unknown key id")
	ErrSignature      = errors.New("bad signature")
	ErrIssuedInFuture = errors.New("issued in the future")
	errInvalidClaims  = errors.New("invalid claims")
)

// User-facing messages (German, like every message in errs).
const (
	msgMalformed      = "Der Prüfcode ist unvollständig oder beschädigt."
	msgAlgorithm      = "Der Prüfcode verwendet ein nicht zugelassenes Signaturverfahren."
	msgUnknownKey     = "Der Prüfcode wurde mit einem unbekannten Schlüssel signiert."
	msgSignature      = "Die Signatur des Prüfcodes ist ungültig; der Ausweis ist möglicherweise gefälscht."
	msgIssuedInFuture = "Der Prüfcode trägt ein Ausstellungsdatum in der Zukunft."
)

// Signer signs permit tokens with one P-256 key. It is safe for concurrent use.
type Signer struct {
	key    *ecdsa.PrivateKey
	keyID  string
	header string // base64url of the fixed protected header
}

// NewSigner returns a Signer for key, which must be on P-256 (ES256 is
// defined for that curve only). keyID goes into every token's header; use
// KeyID(&key.PublicKey) unless you have ids of your own. It may contain only
// base64url characters (A–Z, a–z, 0–9, '-', '_').
func NewSigner(key *ecdsa.PrivateKey, keyID string) (*Signer, error) {
	if err := checkP256(key); err != nil {
		return nil, fmt.Errorf("new signer: %w", err)
	}
	if err := checkKeyID(keyID); err != nil {
		return nil, fmt.Errorf("new signer: %w", err)
	}
	return &Signer{key: key, keyID: keyID, header: encodedHeader(keyID)}, nil
}

// KeyID returns the key id the signer writes into its tokens.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey returns the public half of the signing key.
func (s *Signer) PublicKey() *ecdsa.PublicKey { return &s.key.PublicKey }

// Sign returns c as a compact JWS (RFC 7515 § 7.1) with alg ES256: three
// base64url parts joined by dots, about 280 characters for a typical permit.
// c.KeyID is ignored. Claims that could not be verified later (empty fields,
// dates out of order, an ARS that is not 12 digits) are refused with an error
// of kind Internal: they are a bug in the caller, not a user's mistake.
func (s *Signer) Sign(c PermitClaims) (string, error) {
	c.KeyID = ""
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("sign permit token: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign permit token: %w", err)
	}
	signingInput := s.header + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signingInput))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign permit token: %w", err)
	}
	// Low-S form: (r, s) and (r, n-s) are both valid, and Verify accepts only
	// the smaller s, so nobody can turn one valid token into a second one.
	if sv.Cmp(halfOrder) > 0 {
		sv.Sub(curveOrder, sv)
	}
	var sig [64]byte // RFC 7518 § 3.4: R || S, 32 bytes each, big-endian
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig[:]), nil
}

// Verifier checks permit tokens against a fixed set of public keys, chosen
// by the token's kid. It is safe for concurrent use.
type Verifier struct {
	keys map[string]*ecdsa.PublicKey
}

// NewVerifier returns a Verifier that accepts tokens signed by any of keys,
// indexed by key id. The map is copied. Every key must be a valid P-256 key.
func NewVerifier(keys map[string]*ecdsa.PublicKey) (*Verifier, error) {
	v := &Verifier{keys: make(map[string]*ecdsa.PublicKey, len(keys))}
	for kid, pub := range keys {
		if err := checkKeyID(kid); err != nil {
			return nil, fmt.Errorf("new verifier: %w", err)
		}
		if err := checkP256Public(pub); err != nil {
			return nil, fmt.Errorf("new verifier: key %q: %w", kid, err)
		}
		v.keys[kid] = pub
	}
	return v, nil
}

// Verify checks token and returns its claims with KeyID set. It accepts
// exactly what a Signer produces: the header must be {"alg":"ES256","kid":…}
// byte for byte (so "none", HS256, other algorithms, extra header fields such
// as jwk, jku or crit are all refused), the kid must be one of the verifier's
// keys, the signature must be 64 bytes in low-S form and valid, and the
// payload must be the canonical JSON of PermitClaims with valid dates.
// A token issued more than a day after now is refused too: that only happens
// when the signing clock was wrong or a key was misused.
//
// Every refusal is an errs.Invalid error with a German message for the
// person checking the permit, wrapping ErrMalformed, ErrAlgorithm,
// ErrUnknownKey, ErrSignature or ErrIssuedInFuture.
//
// Verify does not decide whether the permit is valid today (see Status) and
// cannot know whether it was revoked: the caller looks the permit number up
// in its database for that.
func (v *Verifier) Verify(token string, now time.Time) (PermitClaims, error) {
	fail := func(cause error, msg, detail string) (PermitClaims, error) {
		if detail != "" {
			cause = fmt.Errorf("%w: %s", cause, detail)
		}
		return PermitClaims{}, errs.Wrap(errs.Invalid, cause, "%s", msg)
	}
	malformed := func(detail string) (PermitClaims, error) { return fail(ErrMalformed, msgMalformed, detail) }

	if len(token) == 0 || len(token) > maxTokenLen {
		return malformed("length")
	}
	// Only the base64url alphabet and the two dots: this refuses padding,
	// whitespace and line breaks, which the base64 decoder would skip.
	for i := 0; i < len(token); i++ {
		if !isBase64URL(token[i]) && token[i] != '.' {
			return malformed("character outside base64url")
		}
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return malformed("not three parts")
	}

	headerJSON, err := decodeB64(h)
	if err != nil {
		return malformed("header: " + err.Error())
	}
	var header struct {
		Alg *string `json:"alg"`
		Kid *string `json:"kid"`
	}
	if err := json.Unmarshal(headerJSON, &header); err != nil {
		return malformed("header: " + err.Error())
	}
	if header.Alg == nil || *header.Alg != "ES256" {
		return fail(ErrAlgorithm, msgAlgorithm, "")
	}
	if header.Kid == nil || checkKeyID(*header.Kid) != nil {
		return malformed("header: no usable kid")
	}
	kid := *header.Kid
	if h != encodedHeader(kid) {
		return malformed("header is not the one the signer writes")
	}
	pub, ok := v.keys[kid]
	if !ok {
		return fail(ErrUnknownKey, msgUnknownKey, "")
	}

	rawSig, err := decodeB64(sig)
	if err != nil || len(rawSig) != 64 {
		return malformed("signature is not 64 bytes of base64url")
	}
	if !lowS(rawSig) || !es256Valid(pub, token[:len(h)+1+len(p)], rawSig) {
		return fail(ErrSignature, msgSignature, "")
	}

	// Only now, with the signature good, look at the payload.
	payload, err := decodeB64(p)
	if err != nil {
		return malformed("payload: " + err.Error())
	}
	var c PermitClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return malformed("payload: " + err.Error())
	}
	if again, err := json.Marshal(c); err != nil || !bytes.Equal(again, payload) {
		return malformed("payload is not canonical")
	}
	if err := c.validate(); err != nil {
		return malformed("payload: " + err.Error())
	}
	if time.Unix(c.IssuedAt, 0).After(now.Add(futureIssuance)) {
		return fail(ErrIssuedInFuture, msgIssuedInFuture, "")
	}
	c.KeyID = kid
	return c, nil
}

// Status says whether a permit with claims c is valid on the day of now,
// counted in German time: StatusValid, StatusExpired or StatusNotYetValid.
// ValidUntil is the last valid day. Claims whose dates do not parse (Verify
// never returns such) count as expired, so they are never shown as valid.
// Revocation is not checked here; the caller asks its database.
func Status(c PermitClaims, now time.Time) string {
	from, err1 := parseDate(c.ValidFrom)
	until, err2 := parseDate(c.ValidUntil)
	if err1 != nil || err2 != nil {
		return StatusExpired
	}
	y, m, d := now.In(berlinTZ).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	switch {
	case today.Before(from):
		return StatusNotYetValid
	case today.After(until):
		return StatusExpired
	default:
		return StatusValid
	}
}

// berlinTZ is the time zone legal dates in Germany are counted in. Without
// the tz database on the host it falls back to CET, off by an hour in summer.
var berlinTZ = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}()

var (
	curveOrder = elliptic.P256().Params().N
	halfOrder  = new(big.Int).Rsh(curveOrder, 1)
)

// es256Valid reports whether sig, R || S as in RFC 7518 § 3.4, is a valid
// ECDSA P-256 SHA-256 signature of signingInput.
func es256Valid(pub *ecdsa.PublicKey, signingInput string, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	digest := sha256.Sum256([]byte(signingInput))
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, digest[:], r, s)
}

// lowS reports whether the S half of a 64-byte signature is at most n/2.
func lowS(sig []byte) bool {
	return new(big.Int).SetBytes(sig[32:]).Cmp(halfOrder) <= 0
}

// validate checks what Sign refuses to sign and Verify refuses to accept.
func (c *PermitClaims) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errInvalidClaims, fmt.Sprintf(format, args...))
	}
	if err := checkText(c.Permit, maxPermitLen); err != nil {
		return bad("permit number: %v", err)
	}
	if len(c.ARS) != 12 || strings.Trim(c.ARS, "0123456789") != "" {
		return bad("ARS %q is not 12 digits", c.ARS)
	}
	if err := checkText(c.Plate, maxPlateLen); err != nil {
		return bad("plate: %v", err)
	}
	if len(c.Zones) == 0 || len(c.Zones) > maxZones {
		return bad("%d zones, want 1 to %d", len(c.Zones), maxZones)
	}
	for _, z := range c.Zones {
		if err := checkText(z, maxZoneLen); err != nil {
			return bad("zone: %v", err)
		}
	}
	from, err := parseDate(c.ValidFrom)
	if err != nil {
		return bad("valid from: %v", err)
	}
	until, err := parseDate(c.ValidUntil)
	if err != nil {
		return bad("valid until: %v", err)
	}
	if until.Before(from) {
		return bad("valid until %s is before valid from %s", c.ValidUntil, c.ValidFrom)
	}
	if c.IssuedAt <= 0 {
		return bad("no issue time")
	}
	return nil
}

// checkText accepts non-empty valid UTF-8 without control characters, at
// most max runes, with no surrounding space.
func checkText(s string, max int) error {
	switch {
	case s == "":
		return errors.New("empty")
	case !utf8.ValidString(s):
		return errors.New("not UTF-8")
	case utf8.RuneCountInString(s) > max:
		return fmt.Errorf("longer than %d characters", max)
	case strings.TrimSpace(s) != s:
		return errors.New("surrounding space")
	case strings.ContainsFunc(s, unicode.IsControl):
		return errors.New("control character")
	}
	return nil
}

// parseDate parses YYYY-MM-DD and nothing else.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Format(dateLayout) != s {
		return time.Time{}, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	return t, nil
}

func checkKeyID(kid string) error {
	if kid == "" || len(kid) > maxKeyIDLen {
		return fmt.Errorf("key id must have 1 to %d characters", maxKeyIDLen)
	}
	for i := 0; i < len(kid); i++ {
		if !isBase64URL(kid[i]) {
			return fmt.Errorf("key id %q has characters outside base64url", kid)
		}
	}
	return nil
}

// encodedHeader is the protected header the signer writes. The key id holds
// only base64url characters, so it needs no JSON escaping.
func encodedHeader(kid string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"` + kid + `"}`))
}

// decodeB64 decodes unpadded base64url and refuses non-zero trailing bits,
// so every byte string has exactly one encoding.
func decodeB64(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
