// Package message is the signed message of the Amtsnetz: a JSON body sent
// as is (HTTP body), and beside it a JWS with detached payload (RFC 7515
// Appendix F) in the header Amtsnetz-Signature. The JWS's protected
// header carries the message's metadata under "amt" — message ID
// (idempotency, replay protection), client member, service, purpose and
// legal basis, file reference, time — and the signer's certificate
// fingerprint as "kid". Request and response are each signed by their
// member's key; a response names the request it answers.
//
// The signature covers header and body together, so neither can be
// changed or moved to another message; a receiver checks it with the
// member certificate the directory lists for the claimed client, and the
// time against its own clock.
package message

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes of ES256/PS256 and ES384
	_ "crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
)

// HeaderName is the HTTP header of the signature.
const HeaderName = "Amtsnetz-Signature"

// MaxSkew is how far a message's time may lie from the receiver's clock.
const MaxSkew = 5 * time.Minute

// Header is a message's metadata.
type Header struct {
	ID        string    `json:"id"`           // unique per client: idempotency and replay protection
	Client    string    `json:"client"`       // member ID of the sender of the request
	Service   string    `json:"service"`      // PROVIDER-MEMBER/service-code, e.g. KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen
	Purpose   string    `json:"purpose"`      // why, with the legal basis, e.g. "Bewohnerparken, § 34 BMG"
	Reference string    `json:"ref"`          // file reference (Aktenzeichen) of the case
	Time      time.Time `json:"-"`            // when signed
	Reply     string    `json:"re,omitempty"` // for a response: the ID of the request it answers
}

// wire is Header as it is signed (time as unix seconds).
type wire struct {
	Header
	IAT int64 `json:"iat"`
}

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9._-]{8,128}$`)
	servicePattern = regexp.MustCompile(`^([^/]+)/([a-z][a-z0-9-]{1,62}(/[a-z][a-z0-9-]{1,62})?)$`)
)

// Validate checks a header's fields.
func (h Header) Validate() error {
	switch {
	case !idPattern.MatchString(h.ID):
		return fmt.Errorf("Nachrichten-ID %q: 8 bis 128 Zeichen aus A-Z, a-z, 0-9, . _ -", h.ID)
	case h.Reply != "" && !idPattern.MatchString(h.Reply):
		return fmt.Errorf("Bezug %q ist keine Nachrichten-ID", h.Reply)
	case h.Purpose == "" || utf8.RuneCountInString(h.Purpose) > 200 || !utf8.ValidString(h.Purpose):
		return errors.New("Zweck und Rechtsgrundlage fehlen oder sind länger als 200 Zeichen")
	case utf8.RuneCountInString(h.Reference) > 100 || !utf8.ValidString(h.Reference):
		return errors.New("Aktenzeichen länger als 100 Zeichen")
	case h.Time.IsZero():
		return errors.New("Zeitpunkt fehlt")
	}
	if err := pki.ValidMemberID(h.Client); err != nil {
		return err
	}
	m := servicePattern.FindStringSubmatch(h.Service)
	if m == nil {
		return fmt.Errorf("Dienst %q: erwartet MITGLIED/dienst-name", h.Service)
	}
	return pki.ValidMemberID(m[1])
}

// Provider is the member that offers the header's service.
func (h Header) Provider() string {
	if m := servicePattern.FindStringSubmatch(h.Service); m != nil {
		return m[1]
	}
	return ""
}

// The JWS algorithms (RFC 7518) of the keys BSI TR-02102 allows here.
const (
	algES256 = "ES256" // ECDSA P-256, SHA-256
	algES384 = "ES384" // ECDSA P-384, SHA-384
	algPS256 = "PS256" // RSASSA-PSS, SHA-256, salt as long as the hash
)

// algorithm is the JWS algorithm of a key (BSI TR-02102 keys only) and its
// hash. Only these three are ever accepted: never "none" or HMAC.
func algorithm(pub crypto.PublicKey) (string, crypto.Hash, error) {
	if err := pki.CheckKey(pub); err != nil {
		return "", 0, err
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return algES384, crypto.SHA384, nil
		}
		return algES256, crypto.SHA256, nil
	case *rsa.PublicKey:
		return algPS256, crypto.SHA256, nil
	}
	return "", 0, fmt.Errorf("Schlüsseltyp %T", pub)
}

// protected is the JWS protected header of a message. The JWS is written
// and read here directly (RFC 7515 compact serialisation, detached payload,
// Appendix F) rather than through a general JOSE library: a message has
// exactly one shape, and go-jose's general parsing cost about 30 µs of each
// verification — a fifth of the CPU of a round trip besides the ECDSA
// itself (BENCHMARKS.md, issue #5). Messages stay standard JWS: the tests
// check them against go-jose both ways.
type protected struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Amt *wire  `json:"amt"`
	// Members that would change how the JWS is read are refused, not
	// ignored: "crit" (RFC 7515 4.1.11) and "b64" (RFC 7797, unencoded
	// payload).
	Crit json.RawMessage `json:"crit,omitempty"`
	B64  json.RawMessage `json:"b64,omitempty"`
}

// maxSignature bounds the header value (a message's metadata is small).
const maxSignature = 16 << 10

// b64 is base64url without padding, strict: the bits after the last
// character must be zero, so one signature has one spelling.
var b64 = base64.RawURLEncoding.Strict()

// Sign signs header and body with key; kid names the signer's certificate
// (pki.Fingerprint). It returns the value of the HeaderName header: a JWS
// in compact serialisation with detached payload.
func Sign(h Header, body []byte, key crypto.Signer, kid string) (string, error) {
	if err := h.Validate(); err != nil {
		return "", err
	}
	alg, hash, err := algorithm(key.Public())
	if err != nil {
		return "", err
	}
	hdr, err := json.Marshal(protected{Alg: alg, Kid: kid, Amt: &wire{Header: h, IAT: h.Time.Unix()}})
	if err != nil {
		return "", err
	}
	input := make([]byte, 0, b64.EncodedLen(len(hdr))+1+b64.EncodedLen(len(body)))
	input = b64.AppendEncode(input, hdr)
	n := len(input)
	input = append(input, '.')
	input = b64.AppendEncode(input, body)
	sig, err := signInput(key, alg, hash, input)
	if err != nil {
		return "", err
	}
	out := make([]byte, 0, n+2+b64.EncodedLen(len(sig)))
	out = append(append(out, input[:n]...), '.', '.')
	return string(b64.AppendEncode(out, sig)), nil
}

// signInput signs a JWS signing input as alg wants it: ECDSA as R‖S of
// fixed length (RFC 7518 3.4), not ASN.1.
func signInput(key crypto.Signer, alg string, hash crypto.Hash, input []byte) ([]byte, error) {
	h := hash.New()
	h.Write(input)
	digest := h.Sum(nil)
	if alg == algPS256 {
		return key.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash})
	}
	der, err := key.Sign(rand.Reader, digest, hash)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("ECDSA-Signatur unlesbar: %v", err)
	}
	size := 32
	if alg == algES384 {
		size = 48
	}
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// ErrSignature: the signature is missing, malformed, or does not verify.
var ErrSignature = errors.New("Signatur fehlt, ist fehlerhaft oder passt nicht zu Kopf und Inhalt")

// parsed is a signature taken apart, not yet verified.
type parsed struct {
	hdr       protected
	protected string // the protected header as sent (base64url), part of the signing input
	sig       []byte
}

func parse(sig string) (parsed, error) {
	if len(sig) > maxSignature {
		return parsed{}, ErrSignature
	}
	i := strings.IndexByte(sig, '.')
	if i < 1 || len(sig) < i+2 || sig[i+1] != '.' || strings.IndexByte(sig[i+2:], '.') >= 0 {
		return parsed{}, ErrSignature // not HEADER..SIGNATURE
	}
	raw, err := b64.DecodeString(sig[:i])
	if err != nil {
		return parsed{}, ErrSignature
	}
	s, err := b64.DecodeString(sig[i+2:])
	if err != nil || len(s) == 0 {
		return parsed{}, ErrSignature
	}
	p := parsed{protected: sig[:i], sig: s}
	if err := strictHeader(raw); err != nil {
		return parsed{}, err
	}
	if err := json.Unmarshal(raw, &p.hdr); err != nil {
		return parsed{}, ErrSignature
	}
	switch {
	case p.hdr.Crit != nil || p.hdr.B64 != nil:
		return parsed{}, fmt.Errorf("%w: kritische Kopfangaben werden nicht unterstützt", ErrSignature)
	case p.hdr.Alg != algES256 && p.hdr.Alg != algES384 && p.hdr.Alg != algPS256:
		return parsed{}, ErrSignature
	case p.hdr.Amt == nil:
		return parsed{}, fmt.Errorf("%w: ohne Amtsnetz-Kopf", ErrSignature)
	}
	return p, nil
}

// headerNames are the protected header's members that mean something
// here; amtNames those of its "amt" object. All are lower case.
var (
	headerNames = map[string]bool{"alg": true, "kid": true, "amt": true, "crit": true, "b64": true}
	amtNames    = map[string]bool{"id": true, "client": true, "service": true, "purpose": true, "ref": true, "re": true, "iat": true}
)

// strictHeader refuses a protected header that another JWS library could
// read differently from encoding/json, which matches member names without
// regard to case and lets a repeated member win: a member given twice (in
// any case), a known member in another case ("ALG", "Purpose"), a member
// of "amt" that is not one of its fields, a value of "amt" that is not a
// string or number, text that is not UTF-8 (encoding/json would replace
// it), and anything after the object. Otherwise a signer could make the
// message log record one purpose while a standard verifier of the same JWS
// reads another.
func strictHeader(raw []byte) error {
	bad := fmt.Errorf("%w: Kopf mehrdeutig oder fehlerhaft", ErrSignature)
	if !utf8.Valid(raw) {
		return bad
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var object func(names map[string]bool, nested bool) error
	object = func(names map[string]bool, nested bool) error {
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return bad
		}
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return bad
			}
			name, _ := t.(string)
			lower := strings.ToLower(name)
			if seen[lower] || (names[lower] && name != lower) || (nested && !names[name]) {
				return bad
			}
			seen[lower] = true
			switch {
			case !nested && name == "amt":
				if err := object(amtNames, true); err != nil {
					return err
				}
			case nested:
				v, err := dec.Token()
				if err != nil {
					return bad
				}
				switch v.(type) {
				case string, json.Number:
				default:
					return bad
				}
			default:
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return bad
				}
			}
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('}') {
			return bad
		}
		return nil
	}
	if err := object(headerNames, false); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad
	}
	return nil
}

func (p parsed) header() Header {
	h := p.hdr.Amt.Header
	h.Time = time.Unix(p.hdr.Amt.IAT, 0).UTC()
	return h
}

// Verify checks sig over body with the sender's public key and the time
// against now, and returns the header.
func Verify(sig string, body []byte, pub crypto.PublicKey, now time.Time) (Header, error) {
	p, err := parse(sig)
	if err != nil {
		return Header{}, err
	}
	want, hash, err := algorithm(pub)
	if err != nil {
		return Header{}, err
	}
	if p.hdr.Alg != want {
		return Header{}, fmt.Errorf("%w: Algorithmus %s passt nicht zum Schlüssel", ErrSignature, p.hdr.Alg)
	}
	d := hash.New()
	d.Write([]byte(p.protected))
	d.Write([]byte{'.'})
	enc := make([]byte, b64.EncodedLen(len(body)))
	b64.Encode(enc, body)
	d.Write(enc)
	if !verifyDigest(pub, want, hash, d.Sum(nil), p.sig) {
		return Header{}, ErrSignature
	}
	h := p.header()
	if err := h.Validate(); err != nil {
		return Header{}, err
	}
	if d := now.Sub(h.Time); d > MaxSkew || d < -MaxSkew {
		return Header{}, fmt.Errorf("Nachricht vom %s liegt mehr als %s neben der eigenen Uhr", h.Time.Format(time.RFC3339), MaxSkew)
	}
	return h, nil
}

func verifyDigest(pub crypto.PublicKey, alg string, hash crypto.Hash, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, digest, r, s)
	case *rsa.PublicKey:
		return alg == algPS256 && rsa.VerifyPSS(k, hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}) == nil
	}
	return false
}
