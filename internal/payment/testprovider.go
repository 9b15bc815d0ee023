package payment

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sync"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// TestProvider is the demo's payment provider: it shows a page, clearly
// labelled "Testzahlung – es wird kein Geld bewegt", where the tester
// chooses pay, fail or abandon. It then posts a signed callback to the
// payment's CallbackURL — over HTTP, exactly as a real provider would — and
// sends the browser back to the ReturnURL.
//
// It keeps its pending payments in memory: a restart forgets them, and the
// Fachverfahren's payment timeout releases the application.
type TestProvider struct {
	secret []byte
	base   string // URL prefix of the provider's pages, e.g. http://127.0.0.1:8080/testzahlung
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	pending map[string]Payment
}

// NewTestProvider returns a test provider that signs with secret and
// serves its pages under base (mount Handler at that path).
func NewTestProvider(secret []byte, base string) *TestProvider {
	return &TestProvider{secret: secret, base: base, client: &http.Client{Timeout: 10 * time.Second},
		now: time.Now, pending: map[string]Payment{}}
}

// Name implements Provider.
func (p *TestProvider) Name() string { return "testzahlung" }

// Start implements Provider.
func (p *TestProvider) Start(ctx context.Context, pay Payment) (string, error) {
	if pay.ID == "" || pay.AmountCents <= 0 || pay.CallbackURL == "" || pay.ReturnURL == "" {
		return "", fmt.Errorf("test provider: incomplete payment %+v", pay)
	}
	p.mu.Lock()
	p.pending[pay.ID] = pay
	p.mu.Unlock()
	return p.base + "/" + pay.ID, nil
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

// Handler serves the provider's pages: GET {base}/{id} shows the choice,
// POST {base}/{id} carries it out. css is the URL of the stylesheet.
func (p *TestProvider) Handler(css func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{id}", func(w http.ResponseWriter, r *http.Request) {
		pay, ok := p.lookup(r.PathValue("id"))
		if !ok {
			http.Error(w, "Diese Testzahlung gibt es nicht (mehr).", http.StatusNotFound)
			return
		}
		var buf bytes.Buffer
		err := testPage.Execute(&buf, map[string]any{"Pay": pay, "Amount": FormatAmount(pay.AmountCents),
			"Action": p.base + "/" + pay.ID, "CSS": css()})
		if err != nil {
			http.Error(w, "Fehler", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	})
	mux.HandleFunc("POST /{id}", func(w http.ResponseWriter, r *http.Request) {
		pay, ok := p.lookup(r.PathValue("id"))
		if !ok {
			http.Error(w, "Diese Testzahlung gibt es nicht (mehr).", http.StatusNotFound)
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
		p.mu.Lock()
		delete(p.pending, pay.ID)
		p.mu.Unlock()
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

func (p *TestProvider) lookup(id string) (Payment, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay, ok := p.pending[id]
	return pay, ok
}

// pathOf returns the path of a URL or path prefix.
func pathOf(base string) string {
	if u, err := url.Parse(base); err == nil {
		return u.Path
	}
	return base
}
