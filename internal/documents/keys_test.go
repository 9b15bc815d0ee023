package documents

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func TestPrivateKeyPEMRoundTrip(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if key.Curve != elliptic.P256() {
		t.Fatalf("GenerateKey curve = %s, want P-256", key.Curve.Params().Name)
	}
	data, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("PEM starts %q, want a PKCS #8 block", data[:30])
	}
	got, err := ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(key) {
		t.Error("parsed key differs from the marshalled one")
	}
}

func TestParsePrivateKeyPEMSEC1(t *testing.T) {
	key := testKey(t, "sec1")
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// What `openssl ecparam -name prime256v1 -genkey` writes.
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	data := append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
	got, err := ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(key) {
		t.Error("parsed SEC 1 key differs")
	}
}

func TestParsePrivateKeyPEMRejects(t *testing.T) {
	good, err := MarshalPrivateKeyPEM(testKey(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := MarshalPublicKeyPEM(&testKey(t, "x").PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"empty":              nil,
		"not PEM":            []byte("hello"),
		"public key":         pubPEM,
		"P-384":              pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER}),
		"Ed25519":            pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}),
		"garbage DER":        pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}),
		"two keys":           append(append([]byte{}, good...), good...),
		"only EC PARAMETERS": pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 1, 0}}),
	}
	for name, data := range tests {
		if _, err := ParsePrivateKeyPEM(data); err == nil {
			t.Errorf("ParsePrivateKeyPEM accepted %s", name)
		}
	}
}

func TestPublicKeyPEMRoundTrip(t *testing.T) {
	key := testKey(t, "berlin-2026")
	data, err := MarshalPublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Errorf("PEM starts %q, want a PKIX block", data[:27])
	}
	got, err := ParsePublicKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(&key.PublicKey) {
		t.Error("parsed public key differs")
	}
	// The published key is enough to check a token.
	v, err := NewVerifier(map[string]*ecdsa.PublicKey{KeyID(got): got})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(goldenToken, testNow); err != nil {
		t.Errorf("Verify with the key from PEM: %v", err)
	}
}

func TestParsePublicKeyPEMRejects(t *testing.T) {
	priv, err := MarshalPrivateKeyPEM(testKey(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKIXPublicKey(edPub)
	if err != nil {
		t.Fatal(err)
	}
	good, err := MarshalPublicKeyPEM(&testKey(t, "x").PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"empty":         nil,
		"private key":   priv,
		"P-384":         pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p384DER}),
		"Ed25519":       pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER}),
		"trailing data": append(append([]byte{}, good...), "x"...),
	}
	for name, data := range tests {
		if _, err := ParsePublicKeyPEM(data); err == nil {
			t.Errorf("ParsePublicKeyPEM accepted %s", name)
		}
	}
	if _, err := MarshalPublicKeyPEM(&p384.PublicKey); err == nil {
		t.Error("MarshalPublicKeyPEM accepted a P-384 key")
	}
	if _, err := MarshalPrivateKeyPEM(p384); err == nil {
		t.Error("MarshalPrivateKeyPEM accepted a P-384 key")
	}
}

func TestKeyID(t *testing.T) {
	key := testKey(t, "berlin-2026")
	// The full RFC 7638 thumbprint of this key, as computed by go-jose v4
	// (JSONWebKey.Thumbprint(crypto.SHA256)): d_DaNHHKOh9xxAaoxTSHrMdGFQPSfiyRW3qRdi-WB7k
	if got, want := KeyID(&key.PublicKey), "d_DaNHHKOh9"; got != want {
		t.Errorf("KeyID = %q, want %q", got, want)
	}
	other := testKey(t, "other")
	if KeyID(&other.PublicKey) == KeyID(&key.PublicKey) {
		t.Error("two keys have the same KeyID")
	}
	if got := KeyID(nil); got != "" {
		t.Errorf("KeyID(nil) = %q, want empty", got)
	}
	if strings.ContainsAny(KeyID(&other.PublicKey), "+/=") {
		t.Error("KeyID is not base64url")
	}
}
