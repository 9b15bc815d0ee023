package documents

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// goldenToken was signed once by testSigner for sampleClaims. Permits are
// printed and live for years, so a token signed today must verify with every
// later version of this package; if this test fails, old permits fail too.
const goldenToken = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImRfRGFOSEhLT2g5In0." +
	"eyJwIjoiQlBBLTIwMjYtMDAwNDcxMSIsImEiOiIxMTAwMDAwMDAwMDAiLCJrIjoiQi1SQSAxMjM0IiwieiI6WyIyOSJdLCJmIjoiMjAyNi0wMS0xNSIsInUiOiIyMDI4LTAxLTE0IiwiaSI6MTc2ODM4MzAwMH0." +
	"l7Rq64ZCUrQ98XtlyrAzjaMpWPY6xYACuTSx7cE4MoQHqy6H-eTs8wEh9p33XGa8fk_HKZE00Y1jt6DmcZcVng"

func TestSignVerifyRoundTrip(t *testing.T) {
	s := testSigner(t)
	v := testVerifier(t, s)
	for _, c := range []PermitClaims{
		sampleClaims(),
		{Permit: "HH-2026/123456", ARS: "020000000000", Plate: "HH-ÖÄ 99E", Zones: []string{"A", "A/B"}, ValidFrom: "2026-12-31", ValidUntil: "2026-12-31", IssuedAt: 1},
		{Permit: `"quoted" <&>`, ARS: "091620000000", Plate: "M-X 1", Zones: []string{"1", "2", "3"}, ValidFrom: "2026-01-01", ValidUntil: "2026-06-30", IssuedAt: testNow.Unix() + 3600},
	} {
		c.KeyID = "ignored"
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatalf("Sign(%+v): %v", c, err)
		}
		got, err := v.Verify(tok, testNow)
		if err != nil {
			t.Fatalf("Verify(Sign(%+v)): %v", c, err)
		}
		c.KeyID = s.KeyID()
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("claims changed on the way (-signed +verified):\n%s", diff)
		}
	}
}

func TestTokenSize(t *testing.T) {
	tok, err := testSigner(t).Sign(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	// About 300 characters fit QR version 13 at level M (331 bytes, 69×69
	// modules), which scans well at 4 cm from behind a windscreen.
	if len(tok) > 300 {
		t.Errorf("token has %d characters, want at most 300: %s", len(tok), tok)
	}
	t.Logf("typical token: %d characters", len(tok))
}

func TestGoldenTokenStillVerifies(t *testing.T) {
	s := testSigner(t)
	got, err := testVerifier(t, s).Verify(goldenToken, testNow)
	if err != nil {
		t.Fatalf("Verify(goldenToken): %v", err)
	}
	want := sampleClaims()
	want.KeyID = "d_DaNHHKOh9"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

// TestRFC7515ES256Example checks the signature arithmetic against the ES256
// example of RFC 7515 Appendix A.3 (R || S, SHA-256 over the ASCII signing
// input), so our tokens are ordinary JWS any JOSE library can check.
func TestRFC7515ES256Example(t *testing.T) {
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	point := append([]byte{4}, append(dec("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"), dec("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")...)...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		t.Fatal(err)
	}
	input := "eyJhbGciOiJFUzI1NiJ9." +
		"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	sig := dec("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
	if !es256Valid(pub, input, sig) {
		t.Fatal("RFC 7515 A.3 signature does not verify")
	}
	sig[10] ^= 1
	if es256Valid(pub, input, sig) {
		t.Fatal("altered RFC 7515 A.3 signature verifies")
	}
}

func TestVerifyRejects(t *testing.T) {
	s := testSigner(t)
	other := testKey(t, "someone else")
	otherSigner, err := NewSigner(other, KeyID(&other.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v := testVerifier(t, s)
	key := testKey(t, "berlin-2026")
	kid := s.KeyID()
	hdr := `{"alg":"ES256","kid":"` + kid + `"}`
	good, err := s.Sign(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	payloadJSON := string(mustDecode(t, parts[1]))
	withPayload := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(payloadJSON), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hs256 := func() string {
		// Algorithm confusion: an HMAC keyed with the public key.
		pubPEM, err := MarshalPublicKeyPEM(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		input := b64([]byte(`{"alg":"HS256","kid":"`+kid+`"}`)) + "." + parts[1]
		mac := hmac.New(sha256.New, pubPEM)
		mac.Write([]byte(input))
		return input + "." + b64(mac.Sum(nil))
	}
	flip := func(tok string, i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	futureClaims := sampleClaims()
	futureClaims.IssuedAt = testNow.Add(25 * time.Hour).Unix()
	future, err := s.Sign(futureClaims)
	if err != nil {
		t.Fatal(err)
	}
	otherToken, err := otherSigner.Sign(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	otherParts := strings.Split(otherToken, ".")

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMalformed},
		{"huge", strings.Repeat("A", maxTokenLen+1), ErrMalformed},
		{"one part", parts[0], ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", good + ".", ErrMalformed},
		{"trailing character", good + "A", ErrMalformed},
		{"trailing newline", good + "\n", ErrMalformed},
		{"space inside", parts[0] + "." + parts[1] + ". " + parts[2], ErrMalformed},
		{"line break in signature", parts[0] + "." + parts[1] + "." + parts[2][:40] + "\n" + parts[2][40:], ErrMalformed},
		{"padding", good + "==", ErrMalformed},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(goldenToken), ErrMalformed}, // goldenToken has both
		{"header not base64 (bad length)", parts[0] + "A." + parts[1] + "." + parts[2], ErrMalformed},
		{"header not JSON", b64([]byte("hello")) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"header JSON array", b64([]byte(`["ES256"]`)) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"alg none", b64([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + ".", ErrAlgorithm},
		{"alg none with signature", b64([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + parts[1] + "." + parts[2], ErrAlgorithm},
		{"alg HS256 keyed with the public key", hs256(), ErrAlgorithm},
		{"alg ES384", signRaw(t, key, `{"alg":"ES384","kid":"`+kid+`"}`, payloadJSON, false), ErrAlgorithm},
		{"alg RS256", signRaw(t, key, `{"alg":"RS256","kid":"`+kid+`"}`, payloadJSON, false), ErrAlgorithm},
		{"alg lower case", signRaw(t, key, `{"alg":"es256","kid":"`+kid+`"}`, payloadJSON, false), ErrAlgorithm},
		{"alg missing", signRaw(t, key, `{"kid":"`+kid+`"}`, payloadJSON, false), ErrAlgorithm},
		{"alg not a string", signRaw(t, key, `{"alg":256,"kid":"`+kid+`"}`, payloadJSON, false), ErrMalformed},
		{"kid missing", signRaw(t, key, `{"alg":"ES256"}`, payloadJSON, false), ErrMalformed},
		{"kid empty", signRaw(t, key, `{"alg":"ES256","kid":""}`, payloadJSON, false), ErrMalformed},
		{"kid with quote", signRaw(t, key, `{"alg":"ES256","kid":"a\"b"}`, payloadJSON, false), ErrMalformed},
		{"kid unknown", otherToken, ErrUnknownKey},
		{"known kid, other key", signRaw(t, other, hdr, payloadJSON, false), ErrSignature},
		{"signature of another token", parts[0] + "." + parts[1] + "." + otherParts[2], ErrSignature},
		{"header with embedded jwk", signRaw(t, key, `{"alg":"ES256","kid":"`+kid+`","jwk":{"kty":"EC"}}`, payloadJSON, false), ErrMalformed},
		{"header with crit", signRaw(t, key, `{"alg":"ES256","crit":["exp"],"kid":"`+kid+`"}`, payloadJSON, false), ErrMalformed},
		{"header with spaces", signRaw(t, key, `{"alg": "ES256", "kid": "`+kid+`"}`, payloadJSON, false), ErrMalformed},
		{"header keys reordered", signRaw(t, key, `{"kid":"`+kid+`","alg":"ES256"}`, payloadJSON, false), ErrMalformed},
		{"header key in other case", signRaw(t, key, `{"ALG":"ES256","alg":"ES256","kid":"`+kid+`"}`, payloadJSON, false), ErrMalformed},
		{"header duplicate alg", signRaw(t, key, `{"alg":"none","alg":"ES256","kid":"`+kid+`"}`, payloadJSON, false), ErrMalformed},
		{"signature empty", parts[0] + "." + parts[1] + ".", ErrMalformed},
		{"signature too short", parts[0] + "." + parts[1] + "." + parts[2][:84], ErrMalformed},
		{"signature in DER", parts[0] + "." + parts[1] + "." + b64(append([]byte{0x30, 0x44}, make([]byte, 68)...)), ErrMalformed},
		{"signature bit flipped", flip(good, len(good)-20), ErrSignature},
		{"signature non-canonical base64", parts[0] + "." + parts[1] + "." + parts[2][:85] + nextB64(parts[2][85]), ErrMalformed},
		{"signature all zero", parts[0] + "." + parts[1] + "." + b64(make([]byte, 64)), ErrSignature},
		{"signature high S", signRaw(t, key, hdr, payloadJSON, true), ErrSignature},
		{"payload swapped", parts[0] + "." + b64([]byte(withPayload(func(m map[string]any) { m["k"] = "B-XX 999" }))) + "." + parts[2], ErrSignature},
		{"payload bit flipped", flip(good, len(parts[0])+10), ErrSignature},
		{"payload not JSON", signRaw(t, key, hdr, "permit", false), ErrMalformed},
		{"payload JSON null", signRaw(t, key, hdr, "null", false), ErrMalformed},
		{"payload unknown field", signRaw(t, key, hdr, withPayload(func(m map[string]any) { m["x"] = 1 }), false), ErrMalformed},
		{"payload trailing data", signRaw(t, key, hdr, payloadJSON+" {}", false), ErrMalformed},
		{"payload trailing space", signRaw(t, key, hdr, payloadJSON+" ", false), ErrMalformed},
		{"payload fields reordered", signRaw(t, key, hdr, withPayload(func(map[string]any) {}), false), ErrMalformed},
		{"payload duplicate field", signRaw(t, key, hdr, strings.Replace(payloadJSON, `{"p":`, `{"k":"B-XX 999","p":`, 1), false), ErrMalformed},
		{"payload field in other case", signRaw(t, key, hdr, strings.Replace(payloadJSON, `"k":`, `"K":`, 1), false), ErrMalformed},
		{"payload ARS too short", signRaw(t, key, hdr, strings.Replace(payloadJSON, `"110000000000"`, `"11000000000"`, 1), false), ErrMalformed},
		{"payload no zones", signRaw(t, key, hdr, strings.Replace(payloadJSON, `["29"]`, `[]`, 1), false), ErrMalformed},
		{"payload dates reversed", signRaw(t, key, hdr, strings.Replace(payloadJSON, `"u":"2028-01-14"`, `"u":"2025-01-14"`, 1), false), ErrMalformed},
		{"payload date not ISO", signRaw(t, key, hdr, strings.Replace(payloadJSON, `"2028-01-14"`, `"14.01.2028"`, 1), false), ErrMalformed},
		{"payload empty plate", signRaw(t, key, hdr, strings.Replace(payloadJSON, `"B-RA 1234"`, `""`, 1), false), ErrMalformed},
		{"payload issued at zero", signRaw(t, key, hdr, strings.Replace(payloadJSON, `1768383000`, `0`, 1), false), ErrMalformed},
		{"issued more than a day after now", future, ErrIssuedInFuture},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.token, testNow)
			if err == nil {
				t.Fatalf("Verify accepted %q: %+v", tt.token, got)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify error = %v, want %v", err, tt.want)
			}
			if k := errs.KindOf(err); k != errs.Invalid {
				t.Errorf("kind = %v, want invalid", k)
			}
			if msg := errs.MessageOf(err); !strings.Contains(msg, "Prüfcode") {
				t.Errorf("message %q is not the German one for the checker", msg)
			}
			if diff := cmp.Diff(PermitClaims{}, got); diff != "" {
				t.Errorf("claims returned with an error:\n%s", diff)
			}
		})
	}
}

// nextB64 returns the base64url character after c, which decodes to the
// same bytes as c when only the unused low bits differ.
func nextB64(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func mustDecode(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestVerifyAcceptsIssuedSlightlyAhead(t *testing.T) {
	s := testSigner(t)
	c := sampleClaims()
	c.IssuedAt = testNow.Add(23 * time.Hour).Unix() // verifier's clock behind
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testVerifier(t, s).Verify(tok, testNow); err != nil {
		t.Errorf("Verify: %v, want a token issued within the day's tolerance accepted", err)
	}
}

func TestVerifierWithSeveralKeys(t *testing.T) {
	a := testSigner(t)
	k := testKey(t, "hamburg")
	b, err := NewSigner(k, "hamburg-2026")
	if err != nil {
		t.Fatal(err)
	}
	v := testVerifier(t, a, b)
	for _, s := range []*Signer{a, b} {
		tok, err := s.Sign(sampleClaims())
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Verify(tok, testNow)
		if err != nil {
			t.Fatalf("Verify(token of %s): %v", s.KeyID(), err)
		}
		if got.KeyID != s.KeyID() {
			t.Errorf("KeyID = %q, want %q", got.KeyID, s.KeyID())
		}
	}
}

func TestSignRejectsInvalidClaims(t *testing.T) {
	s := testSigner(t)
	tests := []struct {
		name   string
		change func(*PermitClaims)
	}{
		{"no permit number", func(c *PermitClaims) { c.Permit = "" }},
		{"permit number too long", func(c *PermitClaims) { c.Permit = strings.Repeat("1", maxPermitLen+1) }},
		{"permit number with line break", func(c *PermitClaims) { c.Permit = "BPA\n1" }},
		{"ARS with letters", func(c *PermitClaims) { c.ARS = "11000000000X" }},
		{"ARS too long", func(c *PermitClaims) { c.ARS = "1100000000000" }},
		{"no plate", func(c *PermitClaims) { c.Plate = "" }},
		{"plate with surrounding space", func(c *PermitClaims) { c.Plate = " B-RA 1234" }},
		{"plate not UTF-8", func(c *PermitClaims) { c.Plate = "B-\xff 1" }},
		{"no zones", func(c *PermitClaims) { c.Zones = nil }},
		{"empty zone", func(c *PermitClaims) { c.Zones = []string{"29", ""} }},
		{"too many zones", func(c *PermitClaims) { c.Zones = make([]string, maxZones+1) }},
		{"valid from not a date", func(c *PermitClaims) { c.ValidFrom = "2026-02-30" }},
		{"valid until in German format", func(c *PermitClaims) { c.ValidUntil = "14.01.2028" }},
		{"valid until with time", func(c *PermitClaims) { c.ValidUntil = "2028-01-14T00:00:00Z" }},
		{"until before from", func(c *PermitClaims) { c.ValidUntil = "2026-01-14" }},
		{"no issue time", func(c *PermitClaims) { c.IssuedAt = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sampleClaims()
			tt.change(&c)
			tok, err := s.Sign(c)
			if err == nil {
				t.Fatalf("Sign(%+v) = %q, want an error", c, tok)
			}
			if k := errs.KindOf(err); k != errs.Internal {
				t.Errorf("kind = %v, want internal (a caller's bug)", k)
			}
		})
	}
}

func TestNewSignerRejects(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := testKey(t, "berlin-2026")
	tests := []struct {
		name  string
		key   *ecdsa.PrivateKey
		keyID string
	}{
		{"nil key", nil, "k"},
		{"P-384 key", p384, "k"},
		{"empty key id", good, ""},
		{"key id with dot", good, "a.b"},
		{"key id with quote", good, `a"b`},
		{"key id too long", good, strings.Repeat("k", maxKeyIDLen+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSigner(tt.key, tt.keyID); err == nil {
				t.Errorf("NewSigner accepted %s", tt.name)
			}
		})
	}
}

func TestNewVerifierRejects(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := &testKey(t, "berlin-2026").PublicKey
	for name, keys := range map[string]map[string]*ecdsa.PublicKey{
		"nil key":          {"k": nil},
		"P-384 key":        {"k": &p384.PublicKey},
		"empty key id":     {"": good},
		"key id with dot":  {"a.b": good},
		"key id non-ASCII": {"schlüssel": good},
	} {
		if _, err := NewVerifier(keys); err == nil {
			t.Errorf("NewVerifier accepted %s", name)
		}
	}
	v, err := NewVerifier(nil)
	if err != nil {
		t.Fatalf("NewVerifier(nil): %v", err)
	}
	if _, err := v.Verify(goldenToken, testNow); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("verifier without keys: err = %v, want ErrUnknownKey", err)
	}
}

func TestVerifierCopiesKeys(t *testing.T) {
	s := testSigner(t)
	keys := map[string]*ecdsa.PublicKey{s.KeyID(): s.PublicKey()}
	v, err := NewVerifier(keys)
	if err != nil {
		t.Fatal(err)
	}
	delete(keys, s.KeyID())
	if _, err := v.Verify(goldenToken, testNow); err != nil {
		t.Errorf("Verify after the caller changed its map: %v", err)
	}
}

func TestStatus(t *testing.T) {
	c := PermitClaims{ValidFrom: "2026-01-01", ValidUntil: "2026-12-31"}
	tests := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2025, 12, 31, 22, 59, 59, 0, time.UTC), StatusNotYetValid}, // 23:59:59 in Berlin
		{time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC), StatusValid},         // midnight in Berlin
		{time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC), StatusValid},
		{time.Date(2026, 12, 31, 22, 59, 59, 0, time.UTC), StatusValid}, // last second of the last day
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), StatusExpired},
		{time.Date(2027, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600)), StatusExpired},
	}
	for _, tt := range tests {
		if got := Status(c, tt.now); got != tt.want {
			t.Errorf("Status(%s … %s, %s) = %q, want %q", c.ValidFrom, c.ValidUntil, tt.now, got, tt.want)
		}
	}
	if got := Status(PermitClaims{ValidFrom: "2026-01-01", ValidUntil: "kaputt"}, testNow); got != StatusExpired {
		t.Errorf("Status with an unreadable date = %q, want %q", got, StatusExpired)
	}
}

func TestStatusInSummerTime(t *testing.T) {
	if berlinTZ.String() != "Europe/Berlin" {
		t.Skip("no time zone database: Berlin time falls back to CET")
	}
	c := PermitClaims{ValidFrom: "2026-07-01", ValidUntil: "2026-07-31"}
	if got := Status(c, time.Date(2026, 6, 30, 22, 0, 0, 0, time.UTC)); got != StatusValid {
		t.Errorf("at midnight CEST on the first day: %q, want %q", got, StatusValid)
	}
	if got := Status(c, time.Date(2026, 7, 31, 22, 0, 0, 0, time.UTC)); got != StatusExpired {
		t.Errorf("at midnight CEST after the last day: %q, want %q", got, StatusExpired)
	}
}

// FuzzVerify feeds Verify arbitrary tokens. It must never panic, and it must
// accept nothing but goldenToken, the one token the signer produced here: with
// a strict header, canonical base64 and JSON, and low-S signatures there is
// exactly one spelling per signature, so every mutation has to be refused.
// (The set of produced tokens is a constant because fuzzing runs this setup
// in several processes; tokens signed here would differ in each.)
func FuzzVerify(f *testing.F) {
	s := testSigner(f)
	v := testVerifier(f, s)
	key := testKey(f, "berlin-2026")
	payload := string(mustDecode(f, strings.Split(goldenToken, ".")[1]))
	f.Add(goldenToken)
	f.Add(signRaw(f, key, `{"alg":"ES256","kid":"`+s.KeyID()+`"}`, payload, true))
	f.Add(b64([]byte(`{"alg":"none","kid":"`+s.KeyID()+`"}`)) + "." + b64([]byte(payload)) + ".")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo")
	f.Add("..")
	f.Add("")

	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token, testNow)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid || errs.MessageOf(err) == "" {
				t.Fatalf("Verify(%q) error %v is not Invalid with a message", token, err)
			}
			return
		}
		if token != goldenToken {
			t.Fatalf("Verify accepted a token the signer never produced: %q → %+v", token, c)
		}
		if err := c.validate(); err != nil {
			t.Fatalf("accepted claims are invalid: %v", err)
		}
		if c.KeyID != s.KeyID() {
			t.Fatalf("KeyID = %q, want %q", c.KeyID, s.KeyID())
		}
	})
}

func BenchmarkSign(b *testing.B) {
	s := testSigner(b)
	c := sampleClaims()
	for b.Loop() {
		if _, err := s.Sign(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s := testSigner(b)
	v := testVerifier(b, s)
	for b.Loop() {
		if _, err := v.Verify(goldenToken, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
