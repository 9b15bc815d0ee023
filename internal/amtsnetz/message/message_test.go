package message

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func header(now time.Time) Header {
	return Header{ID: "msg-0001-abcdef", Client: "KOMMUNE:110000000000:parken", Service: "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen",
		Purpose: "Bewohnerparken, § 34 BMG", Reference: "BP-2026-7KQ4M2XD", Time: now}
}

func TestSignVerify(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa3072, _ := rsa.GenerateKey(rand.Reader, 3072)
	body := []byte(`{"person":{"familienname":"Muster"},"anschrift":"Lehrter Str. 53"}`)
	for name, key := range map[string]crypto.Signer{"P-256": p256, "P-384": p384, "RSA-3072": rsa3072} {
		sig, err := Sign(header(now), body, key, "fp")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Count(sig, ".") != 2 || strings.Split(sig, ".")[1] != "" {
			t.Fatalf("%s: not a detached compact JWS: %s", name, sig)
		}
		h, err := Verify(sig, body, key.Public(), now.Add(time.Minute))
		if err != nil || h != header(now) {
			t.Fatalf("%s: Verify = %+v, %v", name, h, err)
		}
		if peeked, kid, err := Peek(sig); err != nil || peeked.Client != h.Client || kid != "fp" {
			t.Errorf("%s: Peek = %+v %q %v", name, peeked, kid, err)
		}
	}
	sig, _ := Sign(header(now), body, p256, "fp")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, check := range map[string]func() error{
		"changed body":   func() error { _, err := Verify(sig, append(body, ' '), p256.Public(), now); return err },
		"empty body":     func() error { _, err := Verify(sig, nil, p256.Public(), now); return err },
		"other key":      func() error { _, err := Verify(sig, body, other.Public(), now); return err },
		"other key type": func() error { _, err := Verify(sig, body, p384.Public(), now); return err },
		"too old":        func() error { _, err := Verify(sig, body, p256.Public(), now.Add(6*time.Minute)); return err },
		"from the future": func() error {
			_, err := Verify(sig, body, p256.Public(), now.Add(-6*time.Minute))
			return err
		},
		"changed header": func() error {
			parts := strings.Split(sig, ".")
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			hdr = []byte(strings.Replace(string(hdr), "§ 34 BMG", "§ 34 BMX", 1))
			_, err := Verify(base64.RawURLEncoding.EncodeToString(hdr)+".."+parts[2], body, p256.Public(), now)
			return err
		},
		"garbage": func() error { _, err := Verify("a.b.c", body, p256.Public(), now); return err },
	} {
		if err := check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// alg "none" and HMAC (with the public key's bytes as secret) are refused.
	hs := hsToken(t, body, now)
	if _, err := Verify(hs, body, p256.Public(), now); !errors.Is(err, ErrSignature) {
		t.Errorf("HS256 token: %v, want ErrSignature", err)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","amt":{"id":"msg-0001-abcdef"}}`)) + ".."
	if _, err := Verify(none, body, p256.Public(), now); !errors.Is(err, ErrSignature) {
		t.Errorf("alg none: %v", err)
	}
	// A JWS without the Amtsnetz header is no message.
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: p256}, nil)
	obj, _ := signer.Sign(body)
	plain, _ := obj.DetachedCompactSerialize()
	if _, err := Verify(plain, body, p256.Public(), now); !errors.Is(err, ErrSignature) {
		t.Errorf("JWS without amt: %v", err)
	}
}

func hsToken(t *testing.T, body []byte, now time.Time) string {
	t.Helper()
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","amt":{"id":"msg-0001-abcdef","client":"KOMMUNE:1","service":"KOMMUNE:2/x-y","purpose":"p","iat":` +
		strings.TrimSpace(now.Format("20060102")) + `}}`))
	m := hmac.New(sha256.New, []byte("secret"))
	m.Write([]byte(hdr + "." + base64.RawURLEncoding.EncodeToString(body)))
	return hdr + ".." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestHeaderValidation(t *testing.T) {
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, mod := range map[string]func(*Header){
		"short ID":        func(h *Header) { h.ID = "x" },
		"bad client":      func(h *Header) { h.Client = "irgendwer" },
		"bad service":     func(h *Header) { h.Service = "wohnsitz-pruefen" },
		"bad provider":    func(h *Header) { h.Service = "irgendwer/wohnsitz-pruefen" },
		"no purpose":      func(h *Header) { h.Purpose = "" },
		"long reference":  func(h *Header) { h.Reference = strings.Repeat("x", 101) },
		"no time":         func(h *Header) { h.Time = time.Time{} },
		"bad reply":       func(h *Header) { h.Reply = "?" },
		"RSA 2048 signer": nil,
	} {
		h := header(now)
		var k crypto.Signer = key
		if mod == nil {
			k, _ = rsa.GenerateKey(rand.Reader, 2048)
		} else {
			mod(&h)
		}
		if _, err := Sign(h, []byte("{}"), k, "fp"); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if p := header(now).Provider(); p != "KOMMUNE:110000000000:meldebehoerde" {
		t.Errorf("Provider = %q", p)
	}
}
