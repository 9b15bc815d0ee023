package message

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"strconv"
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

// Messages are standard JWS: go-jose verifies what Sign writes, and Verify
// takes what go-jose signs with the same header — for each key type.
func TestJWSInterop(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	body := []byte(`{"kennzeichen":"B-AB 1234"}`)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa3072, _ := rsa.GenerateKey(rand.Reader, 3072)
	for _, k := range []struct {
		alg jose.SignatureAlgorithm
		key crypto.Signer
	}{{jose.ES256, p256}, {jose.ES384, p384}, {jose.PS256, rsa3072}} {
		sig, err := Sign(header(now), body, k.key, "fp")
		if err != nil {
			t.Fatal(err)
		}
		obj, err := jose.ParseDetached(sig, body, []jose.SignatureAlgorithm{k.alg})
		if err != nil {
			t.Fatalf("%s: go-jose cannot parse Sign's JWS: %v", k.alg, err)
		}
		if err := obj.DetachedVerify(body, k.key.Public()); err != nil {
			t.Errorf("%s: go-jose does not verify Sign's JWS: %v", k.alg, err)
		}
		if obj.Signatures[0].Protected.KeyID != "fp" || obj.Signatures[0].Protected.ExtraHeaders["amt"] == nil {
			t.Errorf("%s: header %+v", k.alg, obj.Signatures[0].Protected)
		}

		opts := (&jose.SignerOptions{}).WithHeader("kid", "fp").WithHeader("amt", wire{Header: header(now), IAT: now.Unix()})
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		jobj, _ := signer.Sign(body)
		jsig, _ := jobj.DetachedCompactSerialize()
		if h, err := Verify(jsig, body, k.key.Public(), now); err != nil || h != header(now) {
			t.Errorf("%s: go-jose's JWS: %+v, %v", k.alg, h, err)
		}
		if _, err := Verify(jsig, append([]byte(" "), body...), k.key.Public(), now); err == nil {
			t.Errorf("%s: go-jose's JWS verified over another body", k.alg)
		}
	}
}

// Forms of a signature that must not verify even with a valid ECDSA
// signature inside: critical or unencoded-payload headers, the signature
// in ASN.1 instead of R‖S, an attached payload, extra parts, oversize.
func TestSignatureForms(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	body := []byte(`{}`)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	resign := func(hdr string) string {
		in := b64.EncodeToString([]byte(hdr)) + "." + b64.EncodeToString(body)
		d := sha256.Sum256([]byte(in))
		r, s, _ := ecdsa.Sign(rand.Reader, key, d[:])
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return b64.EncodeToString([]byte(hdr)) + ".." + b64.EncodeToString(sig)
	}
	amt := `"amt":{"id":"msg-0001-abcdef","client":"KOMMUNE:110000000000:parken","service":"KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen","purpose":"Zweck","ref":"","iat":` + strconv.FormatInt(now.Unix(), 10) + `}`
	if _, err := Verify(resign(`{"alg":"ES256","kid":"fp",`+amt+`}`), body, key.Public(), now); err != nil {
		t.Fatalf("the hand-made baseline does not verify: %v", err)
	}
	good, _ := Sign(header(now), body, key, "fp")
	parts := strings.Split(good, ".")
	rs, _ := b64.DecodeString(parts[2])
	der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])})
	for name, sig := range map[string]string{
		"crit":              resign(`{"alg":"ES256","kid":"fp","crit":["exp"],"exp":1,` + amt + `}`),
		"b64 false":         resign(`{"alg":"ES256","kid":"fp","b64":false,` + amt + `}`),
		"alg ES384 on P256": resign(`{"alg":"ES384","kid":"fp",` + amt + `}`),
		"alg none":          resign(`{"alg":"none","kid":"fp",` + amt + `}`),
		"ASN.1 signature":   parts[0] + ".." + b64.EncodeToString(der),
		"attached payload":  parts[0] + "." + b64.EncodeToString(body) + "." + parts[2],
		"four parts":        good + ".x",
		"no signature":      parts[0] + "..",
		"oversize":          strings.Repeat("A", maxSignature) + ".." + parts[2],
		"not base64":        parts[0] + "..!!" + parts[2],
		"header not JSON":   b64.EncodeToString([]byte("amt")) + ".." + parts[2],
		// Headers encoding/json would read otherwise than a standard JWS
		// library: repeated or re-cased members, strangers in amt, bad
		// UTF-8, trailing data.
		"amt twice":          resign(`{"alg":"ES256","kid":"fp",` + amt + `,"AMT":{"purpose":"B"}}`),
		"ALG":                resign(`{"ALG":"ES256","kid":"fp",` + amt + `}`),
		"kid twice":          resign(`{"alg":"ES256","kid":"fp","kid":"gp",` + amt + `}`),
		"purpose twice":      resign(`{"alg":"ES256","kid":"fp",` + strings.Replace(amt, `"purpose":"Zweck"`, `"purpose":"Zweck","Purpose":"Anderer"`, 1) + `}`),
		"stranger in amt":    resign(`{"alg":"ES256","kid":"fp",` + strings.Replace(amt, `"ref":""`, `"ref":"","time":"x"`, 1) + `}`),
		"object in amt":      resign(`{"alg":"ES256","kid":"fp",` + strings.Replace(amt, `"ref":""`, `"ref":{}`, 1) + `}`),
		"bad UTF-8":          resign(`{"alg":"ES256","kid":"fp",` + strings.Replace(amt, `Zweck`, "Zw\xffeck", 1) + `}`),
		"trailing data":      resign(`{"alg":"ES256","kid":"fp",` + amt + `} {}`),
		"signature bits set": parts[0] + ".." + parts[2][:len(parts[2])-1] + string(parts[2][len(parts[2])-1]+1),
	} {
		if _, err := Verify(sig, body, key.Public(), now); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func BenchmarkSignVerify(b *testing.B) {
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	body := []byte(`{"person":{"familienname":"Muster","vornamen":"Erika","geburtsdatum":"1964-08-12"},"anschrift":"Lehrter Str. 53, 10557 Berlin"}`)
	sig, _ := Sign(header(now), body, key, "fp")
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			Sign(header(now), body, key, "fp")
		}
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := Verify(sig, body, key.Public(), now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
