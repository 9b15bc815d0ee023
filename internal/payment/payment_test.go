package payment

import (
	"net/http"
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
