// Package payment is how a Fachverfahren collects a fee: by redirecting the
// citizen to a payment service provider (ePayBL, a bank's e-payment, …), so
// that card and account data never reach Rathaus, and by receiving the
// provider's signed callback that says whether the payment went through.
//
// The package holds the Provider interface, the signature scheme of
// callbacks (HMAC-SHA256 over "timestamp.body", rejected when older than
// five minutes or not matching in constant time) and the test provider used
// by the demo, which is labelled as such on every page it shows.
//
// It does not store payments (the Fachverfahren does, in the same
// transaction as its own state) and does not book into the treasury (see
// registers.Treasury).
package payment

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Payment is what a provider is asked to collect.
type Payment struct {
	ID            string // Rathaus's id of the payment; the provider echoes it
	AmountCents   int64
	Kassenzeichen string // the treasury's reference, shown to the payer
	Purpose       string // Verwendungszweck
	ReturnURL     string // where the payer's browser goes afterwards
	CallbackURL   string // where the provider posts its result
}

// Outcome is what happened to a payment.
type Outcome string

const (
	Paid      Outcome = "paid"
	Failed    Outcome = "failed"
	Abandoned Outcome = "abandoned"
)

// Event is a verified callback.
type Event struct {
	ID        string    `json:"event_id"`   // unique per event: replays are recognised by it
	PaymentID string    `json:"payment_id"` // Payment.ID
	Outcome   Outcome   `json:"outcome"`
	Amount    int64     `json:"amount_cents"`
	At        time.Time `json:"at"`
}

// Provider is a payment service provider.
type Provider interface {
	// Name identifies the provider in stored payments.
	Name() string
	// Start registers the payment and returns the URL to send the payer to.
	Start(ctx context.Context, p Payment) (redirectURL string, err error)
	// Verify checks a callback's signature and freshness and decodes it.
	Verify(header http.Header, body []byte, now time.Time) (Event, error)
}

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
const SignatureHeader = "X-Rathaus-Signature"

// MaxCallbackAge is how old a callback may be (replay window).
const MaxCallbackAge = 5 * time.Minute

// Sign returns the signature header value for body at time t.
func Sign(secret []byte, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	io.WriteString(m, ts)
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a signature header against body: the MAC must
// match (constant time) and the timestamp must be within MaxCallbackAge of
// now (and not from the future beyond a minute of clock skew).
func VerifySignature(secret []byte, header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	if ts == "" || sig == "" {
		return errs.E(errs.Unauthenticated, "Rückmeldung ohne gültige Signatur.")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errs.E(errs.Unauthenticated, "Rückmeldung mit ungültigem Zeitstempel.")
	}
	at := time.Unix(sec, 0)
	if now.Sub(at) > MaxCallbackAge || at.Sub(now) > time.Minute {
		return errs.E(errs.Unauthenticated, "Rückmeldung zu alt oder aus der Zukunft (Zeitstempel %s).", at.UTC().Format(time.RFC3339))
	}
	want := mac(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
		return errs.E(errs.Unauthenticated, "Rückmeldung mit falscher Signatur.")
	}
	return nil
}

// DecodeEvent parses a callback body strictly.
func DecodeEvent(body []byte) (Event, error) {
	var e Event
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, errs.Wrap(errs.Invalid, err, "Rückmeldung ist kein gültiges JSON.")
	}
	if dec.More() {
		return e, errs.E(errs.Invalid, "Rückmeldung enthält mehr als ein JSON-Objekt.")
	}
	switch {
	case e.ID == "" || len(e.ID) > 100:
		return e, errs.Field("event_id", "fehlt oder ist zu lang")
	case e.PaymentID == "" || len(e.PaymentID) > 100:
		return e, errs.Field("payment_id", "fehlt oder ist zu lang")
	case e.Outcome != Paid && e.Outcome != Failed && e.Outcome != Abandoned:
		return e, errs.Field("outcome", "unbekanntes Ergebnis %q", string(e.Outcome))
	case e.Amount < 0:
		return e, errs.Field("amount_cents", "negativ")
	}
	return e, nil
}

// FormatAmount formats cents as "20,40 €".
func FormatAmount(c int64) string { return fmt.Sprintf("%d,%02d €", c/100, c%100) }
