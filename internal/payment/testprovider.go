package payment

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// TestProvider is the demo's payment provider: it shows a page, clearly
// labelled "Testzahlung – es wird kein Geld bewegt", where the tester
// chooses pay, fail or abandon. It then posts a signed callback to the
// payment's CallbackURL — over HTTP, exactly as a real provider would — and
// sends the browser back to the ReturnURL.
//
// It keeps no state: the payment travels in the page's URL as a token
// sealed with AES-256-GCM under a key derived from the callback secret, so
// a restart or another replica serving the page changes nothing, and the
// URL shows nothing of the payment (amount, Kassenzeichen, Aktenzeichen).
// A token is good for TokenLifetime. Choosing twice (the browser's back
// button) posts a second callback; the Fachverfahren settles a payment
// once (HandleCallback changes only a pending payment).
type TestProvider struct {
	aead   cipher.AEAD
	secret []byte
	base   string // URL prefix of the provider's pages, e.g. http://127.0.0.1:8080/testzahlung
	client *http.Client
	now    func() time.Time
}

// TokenLifetime is how long a test payment's page can be used.
const TokenLifetime = 2 * time.Hour

// NewTestProvider returns a test provider that signs with secret and
// serves its pages under base (mount Handler at that path).
func NewTestProvider(secret []byte, base string) *TestProvider {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("rathaus testzahlung token key v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &TestProvider{aead: aead, secret: secret, base: base, client: &http.Client{Timeout: 10 * time.Second}, now: time.Now}
}

// sealed is what a token holds.
type sealed struct {
	Payment Payment   `json:"p"`
	Expires time.Time `json:"e"`
}

// seal makes the token of pay.
func (p *TestProvider) seal(pay Payment) string {
	plain, _ := json.Marshal(sealed{Payment: pay, Expires: p.now().Add(TokenLifetime).UTC()})
	nonce := make([]byte, p.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(p.aead.Seal(nonce, nonce, plain, []byte("testzahlung")))
}

// open returns the payment of a token made by seal that has not expired.
func (p *TestProvider) open(token string) (Payment, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < p.aead.NonceSize() {
		return Payment{}, false
	}
	plain, err := p.aead.Open(nil, raw[:p.aead.NonceSize()], raw[p.aead.NonceSize():], []byte("testzahlung"))
	if err != nil {
		return Payment{}, false
	}
	var s sealed
	if json.Unmarshal(plain, &s) != nil || !p.now().Before(s.Expires) {
		return Payment{}, false
	}
	return s.Payment, true
}

// Name implements Provider.
func (p *TestProvider) Name() string { return "testzahlung" }

// Start implements Provider.
func (p *TestProvider) Start(ctx context.Context, pay Payment) (string, error) {
	if pay.ID == "" || pay.AmountCents <= 0 || pay.CallbackURL == "" || pay.ReturnURL == "" {
		return "", fmt.Errorf("test provider: incomplete payment %+v", pay)
	}
	return p.base + "/" + p.seal(pay), nil
}

// Verify implements Provider.
func (p *TestProvider) Verify(header http.Header, body []byte, now time.Time) (Event, error) {
	if err := VerifySignature(p.secret, header.Get(SignatureHeader), body, now); err != nil {
		return Event{}, err
	}
	return DecodeEvent(body)
}

var testPage = template.Must(template.New("testzahlung").Parse(`<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Testzahlung – kein echtes Geld</title><link rel="stylesheet" href="{{.CSS}}"></head>
<body class="rathaus-page"><main id="inhalt" class="kern-container rathaus-main">
<div class="kern-stack-lg">
<div class="kern-alert kern-alert--warning" role="status"><div class="kern-alert__header">
<span class="kern-icon kern-icon--warning" aria-hidden="true"></span>
<span class="kern-title">Testzahlung – es wird kein Geld bewegt. Dieser Zahlungsdienst gehört zur Demo von Rathaus.</span></div></div>
<h1 class="kern-heading-large">Zahlung</h1>
<dl class="kern-description-list">
<div class="kern-description-list-item"><dt class="kern-description-list-item__key">Betrag</dt><dd class="kern-description-list-item__value">{{.Amount}}</dd></div>
<div class="kern-description-list-item"><dt class="kern-description-list-item__key">Kassenzeichen</dt><dd class="kern-description-list-item__value">{{.Pay.Kassenzeichen}}</dd></div>
<div class="kern-description-list-item"><dt class="kern-description-list-item__key">Verwendungszweck</dt><dd class="kern-description-list-item__value">{{.Pay.Purpose}}</dd></div>
</dl>
<form method="post" action="{{.Action}}" class="kern-stack">
<button class="kern-btn kern-btn--primary" type="submit" name="outcome" value="paid"><span class="kern-label">Bezahlen (Test)</span></button>
<button class="kern-btn kern-btn--secondary" type="submit" name="outcome" value="failed"><span class="kern-label">Zahlung scheitern lassen</span></button>
<button class="kern-btn kern-btn--tertiary" type="submit" name="outcome" value="abandoned"><span class="kern-label">Abbrechen</span></button>
</form></div></main></body></html>`))

// Handler serves the provider's pages: GET {base}/{token} shows the
// choice, POST {base}/{token} carries it out. css is the URL of the
// stylesheet.
func (p *TestProvider) Handler(css func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{token}", func(w http.ResponseWriter, r *http.Request) {
		pay, ok := p.open(r.PathValue("token"))
		if !ok {
			http.Error(w, "Diese Testzahlung gibt es nicht oder nicht mehr (ein Zahlungslink gilt zwei Stunden). Bitte starten Sie die Zahlung auf der Statusseite Ihres Antrags neu.", http.StatusNotFound)
			return
		}
		var buf bytes.Buffer
		err := testPage.Execute(&buf, map[string]any{"Pay": pay, "Amount": FormatAmount(pay.AmountCents),
			"Action": p.base + "/" + r.PathValue("token"), "CSS": css()})
		if err != nil {
			http.Error(w, "Fehler", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	})
	mux.HandleFunc("POST /{token}", func(w http.ResponseWriter, r *http.Request) {
		pay, ok := p.open(r.PathValue("token"))
		if !ok {
			http.Error(w, "Diese Testzahlung gibt es nicht oder nicht mehr (ein Zahlungslink gilt zwei Stunden). Bitte starten Sie die Zahlung auf der Statusseite Ihres Antrags neu.", http.StatusNotFound)
			return
		}
		outcome := Outcome(r.PostFormValue("outcome"))
		if outcome != Paid && outcome != Failed && outcome != Abandoned {
			http.Error(w, "Unbekannte Auswahl.", http.StatusBadRequest)
			return
		}
		if err := p.Notify(r.Context(), pay, outcome); err != nil {
			http.Error(w, "Die Rückmeldung an das Fachverfahren ist fehlgeschlagen: "+errs.MessageOf(err), http.StatusBadGateway)
			return
		}
		http.Redirect(w, r, pay.ReturnURL, http.StatusSeeOther)
	})
	return http.StripPrefix(pathOf(p.base), mux)
}

// Notify posts the signed callback for a payment, as the provider's server
// would.
func (p *TestProvider) Notify(ctx context.Context, pay Payment, outcome Outcome) error {
	var b [12]byte
	rand.Read(b[:])
	ev := Event{ID: "evt_" + hex.EncodeToString(b[:]), PaymentID: pay.ID, Outcome: outcome, Amount: pay.AmountCents, At: p.now().UTC()}
	body, _ := json.Marshal(ev)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pay.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(p.secret, body, p.now()))
	res, err := p.client.Do(req)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "Fachverfahren nicht erreichbar")
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return errs.E(errs.Unavailable, "Fachverfahren antwortet %d", res.StatusCode)
	}
	return nil
}

// pathOf returns the path of a URL or path prefix.
func pathOf(base string) string {
	if u, err := url.Parse(base); err == nil {
		return u.Path
	}
	return base
}
