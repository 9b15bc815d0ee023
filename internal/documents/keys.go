package documents

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// keyIDLen is how many characters of the RFC 7638 thumbprint a key id keeps.
// 11 base64url characters are 66 bits: a kid is only a lookup hint (the
// signature is what proves anything), and 66 bits keep the ids of a few hundred
// keys in one verifier apart while the token stays small enough for a QR code.
const keyIDLen = 11

// GenerateKey returns a new ECDSA P-256 signing key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// MarshalPrivateKeyPEM encodes key as a PKCS #8 "PRIVATE KEY" PEM block.
// The block is not encrypted: protecting it at rest is the caller's business.
func MarshalPrivateKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	if err := checkP256(key); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes a P-256 private key from PEM: PKCS #8
// ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY", as written by openssl ecparam,
// whose "EC PARAMETERS" block is skipped). Anything but one unencrypted key
// block, and keys on other curves, are rejected.
func ParsePrivateKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, errors.New("parse private key: no PEM block found")
		}
		data = rest
		if block.Type == "EC PARAMETERS" {
			continue
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, errors.New("parse private key: data after the key block")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("parse private key: unexpected PEM block %q", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("parse private key: %T is not an ECDSA key", key)
		}
		if err := checkP256(ec); err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		return ec, nil
	}
}

// MarshalPublicKeyPEM encodes pub as a PKIX "PUBLIC KEY" PEM block, the form
// a municipality publishes so that anyone can check its permits.
func MarshalPublicKeyPEM(pub *ecdsa.PublicKey) ([]byte, error) {
	if err := checkP256Public(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM decodes a P-256 public key from a PKIX "PUBLIC KEY" PEM block.
func ParsePublicKeyPEM(data []byte) (*ecdsa.PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("parse public key: no PEM block found")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("parse public key: unexpected PEM block %q", block.Type)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("parse public key: data after the key block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parse public key: %T is not an ECDSA key", key)
	}
	if err := checkP256Public(ec); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	return ec, nil
}

// KeyID returns the key id ("kid") of pub: the first 11 characters of its
// RFC 7638 JWK thumbprint (SHA-256, base64url without padding). The full
// thumbprint of the same key starts with these characters, so any JOSE tool
// can recompute it. KeyID returns "" for a nil or invalid key.
func KeyID(pub *ecdsa.PublicKey) string {
	if pub == nil || pub.Curve == nil {
		return ""
	}
	point, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return ""
	}
	n := (len(point) - 1) / 2
	b64 := base64.RawURLEncoding.EncodeToString
	// RFC 7638 § 3.2: the required members in lexicographic order, no whitespace.
	jwk := `{"crv":"` + pub.Curve.Params().Name + `","kty":"EC","x":"` + b64(point[1:1+n]) + `","y":"` + b64(point[1+n:]) + `"}`
	sum := sha256.Sum256([]byte(jwk))
	return b64(sum[:])[:keyIDLen]
}

func checkP256(key *ecdsa.PrivateKey) error {
	if key == nil {
		return errors.New("no private key")
	}
	return checkP256Public(&key.PublicKey)
}

// checkP256Public accepts only valid points on P-256: ES256 is defined on that
// curve alone (RFC 7518 § 3.4), and BSI TR-02102 lists it.
func checkP256Public(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve == nil {
		return errors.New("no public key")
	}
	if pub.Curve != elliptic.P256() {
		return fmt.Errorf("key is on curve %s, want P-256", pub.Curve.Params().Name)
	}
	if _, err := pub.Bytes(); err != nil {
		return fmt.Errorf("invalid P-256 public key: %w", err)
	}
	return nil
}

// ParsePublicKeysPEM reads one or more PUBLIC KEY blocks (P-256), e.g. the
// earlier signing keys of a key rotation.
func ParsePublicKeysPEM(data []byte) ([]*ecdsa.PublicKey, error) {
	var out []*ecdsa.PublicKey
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		k, err := ParsePublicKeyPEM(pem.EncodeToMemory(block))
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", len(out)+1, err)
		}
		out = append(out, k)
		data = rest
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return out, nil
}
