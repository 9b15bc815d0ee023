package payment

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func TestSignatureVerification(t *testing.T) {
	secret := []byte("geheim")
	body := []byte(`{"event_id":"evt_1","payment_id":"pay_1","outcome":"paid","amount_cents":2040,"at":"2026-11-26T10:00:00Z"}`)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	good := Sign(secret, body, now)
	cases := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"valid", good, body, now, true},
		{"valid within window", good, body, now.Add(4 * time.Minute), true},
		{"too old", good, body, now.Add(6 * time.Minute), false},
		{"from the future", good, body, now.Add(-2 * time.Minute), false},
		{"body changed", good, []byte(strings.Replace(string(body), "2040", "1", 1)), now, false},
		{"other secret", Sign([]byte("anders"), body, now), body, now, false},
		{"missing", "", body, now, false},
		{"no mac", "t=" + strings.Split(good, ",")[0][2:], body, now, false},
		{"garbage", "t=abc,v1=00", body, now, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySignature(secret, tc.header, tc.body, tc.now)
			if (err == nil) != tc.ok {
				t.Fatalf("VerifySignature = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errs.Is(err, errs.Unauthenticated) {
				t.Errorf("kind = %v, want unauthenticated", errs.KindOf(err))
			}
		})
	}
	p := NewTestProvider(secret, "http://x/testzahlung")
	h := http.Header{}
	h.Set(SignatureHeader, good)
	ev, err := p.Verify(h, body, now)
	if err != nil || ev.Outcome != Paid || ev.PaymentID != "pay_1" || ev.Amount != 2040 {
		t.Errorf("Verify = %+v, %v", ev, err)
	}
}

func TestDecodeEventRejects(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{"event_id":"e","payment_id":"p","outcome":"maybe"}`,
		`{"event_id":"","payment_id":"p","outcome":"paid"}`,
		`{"event_id":"e","payment_id":"p","outcome":"paid","extra":1}`,
		`{"event_id":"e","payment_id":"p","outcome":"paid"}{}`,
		`{"event_id":"e","payment_id":"p","outcome":"paid","amount_cents":-5}`,
	} {
		if _, err := DecodeEvent([]byte(body)); err == nil {
			t.Errorf("DecodeEvent(%q) accepted", body)
		}
	}
}

// The test provider keeps no state: its page URL carries the payment
// sealed, so another instance with the same secret (a restart, a second
// replica) serves it, and the URL shows nothing of the payment.
func TestTestProviderTokens(t *testing.T) {
	secret := []byte("geheim")
	clock := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	p := NewTestProvider(secret, "http://x/testzahlung")
	p.now = func() time.Time { return clock }
	pay := Payment{ID: "pay_1", AmountCents: 10240, Kassenzeichen: "KZ-4711-0815", Purpose: "Bewohnerparkausweis BP-2026-7KQ4M2XD",
		ReturnURL: "http://x/status/BP-2026-7KQ4M2XD", CallbackURL: "http://x/cb"}
	u, err := p.Start(context.Background(), pay)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimPrefix(u, "http://x/testzahlung/")
	for _, leak := range []string{"KZ-4711", "BP-2026", "10240", "pay_1"} {
		if strings.Contains(u, leak) {
			t.Errorf("URL %s shows %q", u, leak)
		}
	}
	restarted := NewTestProvider(secret, "http://x/testzahlung")
	restarted.now = p.now
	if got, ok := restarted.open(token); !ok || got != pay {
		t.Errorf("after a restart: %+v %v", got, ok)
	}
	other := NewTestProvider([]byte("anders"), "http://x/testzahlung")
	if _, ok := other.open(token); ok {
		t.Error("a provider with another secret opened the token")
	}
	raw := []byte(token)
	raw[len(raw)/2] ^= 1
	for _, bad := range []string{string(raw), token[:len(token)-4], "", "x", "%%%"} {
		if _, ok := p.open(bad); ok {
			t.Errorf("token %q accepted", bad)
		}
	}
	clock = clock.Add(TokenLifetime)
	if _, ok := p.open(token); ok {
		t.Error("expired token accepted")
	}
	// Over HTTP: an unknown or expired token is a 404 with a German hint.
	rec := httptest.NewRecorder()
	p.Handler(func() string { return "/kern.css" }).ServeHTTP(rec, httptest.NewRequest("GET", "/testzahlung/"+token, nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "Statusseite") {
		t.Errorf("expired page: %d %s", rec.Code, rec.Body)
	}
	clock = clock.Add(-time.Minute)
	rec = httptest.NewRecorder()
	p.Handler(func() string { return "/kern.css" }).ServeHTTP(rec, httptest.NewRequest("GET", "/testzahlung/"+token, nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "KZ-4711-0815") || !strings.Contains(rec.Body.String(), "102,40") {
		t.Errorf("page: %d %s", rec.Code, rec.Body)
	}
}
