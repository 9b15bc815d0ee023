package documents

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"testing"
	"time"
)

// testKey returns a fixed P-256 key derived from label, so tokens signed in
// tests can be checked against constants. Never use such a key for real.
func testKey(tb testing.TB, label string) *ecdsa.PrivateKey {
	tb.Helper()
	d := sha256.Sum256([]byte("rathaus documents test key: " + label))
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func testSigner(tb testing.TB) *Signer {
	tb.Helper()
	key := testKey(tb, "berlin-2026")
	s, err := NewSigner(key, KeyID(&key.PublicKey))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func testVerifier(tb testing.TB, signers ...*Signer) *Verifier {
	tb.Helper()
	keys := map[string]*ecdsa.PublicKey{}
	for _, s := range signers {
		keys[s.KeyID()] = s.PublicKey()
	}
	v, err := NewVerifier(keys)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// testNow is the moment the sample permit is checked in the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sampleClaims is a typical Berlin permit: one zone, a two-year term.
func sampleClaims() PermitClaims {
	return PermitClaims{
		Permit:     "BPA-2026-0004711",
		ARS:        "110000000000",
		Plate:      "B-RA 1234",
		Zones:      []string{"29"},
		ValidFrom:  "2026-01-15",
		ValidUntil: "2028-01-14",
		IssuedAt:   time.Date(2026, 1, 14, 9, 30, 0, 0, time.UTC).Unix(),
	}
}

var b64 = base64.RawURLEncoding.EncodeToString

// signRaw signs any header and payload bytes with key, in low-S form unless
// highS: it builds the tokens a forger or a buggy signer would produce.
func signRaw(tb testing.TB, key *ecdsa.PrivateKey, header, payload string, highS bool) string {
	tb.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	n := elliptic.P256().Params().N
	if (s.Cmp(new(big.Int).Rsh(n, 1)) > 0) != highS {
		s.Sub(n, s)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig[:])
}
