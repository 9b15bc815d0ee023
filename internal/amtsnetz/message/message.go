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
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

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

// algorithm is the JWS algorithm of a key (BSI TR-02102 keys only).
func algorithm(pub crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	if err := pki.CheckKey(pub); err != nil {
		return "", err
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return jose.ES384, nil
		}
		return jose.ES256, nil
	case *rsa.PublicKey:
		return jose.PS256, nil
	}
	return "", fmt.Errorf("Schlüsseltyp %T", pub)
}

// allowed are the algorithms a receiver accepts (never none or HMAC).
var allowed = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.PS256}

// Sign signs header and body with key; kid names the signer's certificate
// (pki.Fingerprint). It returns the value of the HeaderName header.
func Sign(h Header, body []byte, key crypto.Signer, kid string) (string, error) {
	if err := h.Validate(); err != nil {
		return "", err
	}
	alg, err := algorithm(key.Public())
	if err != nil {
		return "", err
	}
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid).WithHeader("amt", wire{Header: h, IAT: h.Time.Unix()})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(body)
	if err != nil {
		return "", err
	}
	return obj.DetachedCompactSerialize()
}

// ErrSignature: the signature is missing, malformed, or does not verify.
var ErrSignature = errors.New("Signatur fehlt, ist fehlerhaft oder passt nicht zu Kopf und Inhalt")

// Peek reads the header of a signature without verifying it: to find the
// client's certificate. Nothing of it may be trusted before Verify.
func Peek(sig string) (Header, string, error) {
	obj, err := jose.ParseDetached(sig, []byte{}, allowed)
	if err != nil || len(obj.Signatures) != 1 {
		return Header{}, "", ErrSignature
	}
	h, err := headerOf(obj.Signatures[0].Protected)
	return h, obj.Signatures[0].Protected.KeyID, err
}

func headerOf(p jose.Header) (Header, error) {
	raw, ok := p.ExtraHeaders["amt"]
	if !ok {
		return Header{}, fmt.Errorf("%w: ohne Amtsnetz-Kopf", ErrSignature)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return Header{}, ErrSignature
	}
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Header{}, fmt.Errorf("%w: Amtsnetz-Kopf unlesbar", ErrSignature)
	}
	w.Header.Time = time.Unix(w.IAT, 0).UTC()
	return w.Header, nil
}

// Verify checks sig over body with the sender's public key and the time
// against now, and returns the header.
func Verify(sig string, body []byte, pub crypto.PublicKey, now time.Time) (Header, error) {
	if body == nil {
		body = []byte{}
	}
	obj, err := jose.ParseDetached(sig, body, allowed)
	if err != nil || len(obj.Signatures) != 1 {
		return Header{}, ErrSignature
	}
	want, err := algorithm(pub)
	if err != nil {
		return Header{}, err
	}
	if got := jose.SignatureAlgorithm(obj.Signatures[0].Protected.Algorithm); got != want {
		return Header{}, fmt.Errorf("%w: Algorithmus %s passt nicht zum Schlüssel", ErrSignature, got)
	}
	if err := obj.DetachedVerify(body, pub); err != nil {
		return Header{}, ErrSignature
	}
	h, err := headerOf(obj.Signatures[0].Protected)
	if err != nil {
		return Header{}, err
	}
	if err := h.Validate(); err != nil {
		return Header{}, err
	}
	if d := now.Sub(h.Time); d > MaxSkew || d < -MaxSkew {
		return Header{}, fmt.Errorf("Nachricht vom %s liegt mehr als %s neben der eigenen Uhr", h.Time.Format(time.RFC3339), MaxSkew)
	}
	return h, nil
}
