package node

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/directory"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
)

// Client is the consumer side: it sends a member's requests to the
// providers' nodes and checks their signed answers.
//
// Each attempt is a message of its own (new ID, new signature), logged at
// this end with its answer. Idempotent calls are retried with backoff
// when no proper answer came (network error, timeout, 5xx); a service
// that failed Threshold times in a row is not called for Cooldown (circuit
// breaker), so a dead register does not tie up every request.
type Client struct {
	Identity
	Roots     *x509.CertPool
	Directory *directory.Cache
	Log       *msglog.Log
	Logger    *slog.Logger
	Now       func() time.Time

	Timeout   time.Duration // per attempt (default 10 s)
	Attempts  int           // for idempotent calls (default 3)
	Backoff   time.Duration // before the second attempt, doubled after (default 200 ms)
	Threshold int           // failures in a row that open the circuit (default 5)
	Cooldown  time.Duration // how long it stays open (default 30 s)

	mu       sync.Mutex
	breakers map[string]*breaker
	clients  map[string]*http.Client // by provider host
}

type breaker struct {
	failures  int
	openUntil time.Time
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// Call is one request: service (PROVIDER/code), the purpose with its
// legal basis, the file reference and the JSON body. idempotent calls are
// retried. It returns the provider's body of a 2xx answer; any other
// outcome is an *Error (or ErrCircuitOpen).
func (c *Client) Call(ctx context.Context, service, purpose, reference string, body []byte, idempotent bool) ([]byte, error) {
	if !c.allow(service) {
		return nil, ErrCircuitOpen
	}
	attempts := 1
	if idempotent {
		attempts = orDefault(c.Attempts, 3)
	}
	backoff := orDefault(c.Backoff, 200*time.Millisecond)
	var last *Error
	for i := 1; i <= attempts; i++ {
		if i > 1 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		resp, err := c.attempt(ctx, service, purpose, reference, body)
		var ce *Error
		if err == nil {
			c.result(service, true)
			return resp, nil
		}
		if !errors.As(err, &ce) {
			return nil, err // a local problem (directory, signing): no retry helps
		}
		ce.Retried = i
		last = ce
		if !ce.Unavailable() {
			c.result(service, true) // the provider answered: it is alive
			return nil, ce
		}
		c.result(service, false)
		c.Logger.Warn("amtsnetz: call failed", "service", service, "attempt", i, "status", ce.Status, "detail", ce.Detail)
	}
	return nil, last
}

// allow reports whether the circuit of service lets a call through.
func (c *Client) allow(service string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.breakers[service]
	return b == nil || !c.now().Before(b.openUntil)
}

func (c *Client) result(service string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.breakers == nil {
		c.breakers = map[string]*breaker{}
	}
	b := c.breakers[service]
	if b == nil {
		b = &breaker{}
		c.breakers[service] = b
	}
	if ok {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= orDefault(c.Threshold, 5) {
		b.openUntil = c.now().Add(orDefault(c.Cooldown, 30*time.Second))
		b.failures = 0
		c.Logger.Warn("amtsnetz: circuit open", "service", service, "until", b.openUntil)
	}
}

// httpClient is the mutual-TLS client for a provider's node: its
// certificate must be of the network's CA and name host.
func (c *Client) httpClient(host string) *http.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clients == nil {
		c.clients = map[string]*http.Client{}
	}
	if hc, ok := c.clients[host]; ok {
		return hc
	}
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig:     pki.ClientTLS(c.TLSCertificate(), c.Roots, host),
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 64, // as many as callers run at once: no new handshakes under load
	}}
	c.clients[host] = hc
	return hc
}

func (c *Client) attempt(ctx context.Context, service, purpose, reference string, body []byte) ([]byte, error) {
	dir, err := c.Directory.Current()
	if err != nil {
		return nil, err
	}
	h := message.Header{ID: NewMessageID(), Client: c.ID, Service: service, Purpose: purpose, Reference: reference, Time: c.now()}
	provider, ok := dir.Member(h.Provider())
	if !ok {
		return nil, fmt.Errorf("Amtsnetz: Anbieter von %s ist nicht im Verzeichnis", service)
	}
	if !dir.Allowed(c.ID, service) {
		return nil, fmt.Errorf("Amtsnetz: %s darf %s laut Verzeichnis nicht nutzen", c.ID, service)
	}
	u, err := url.Parse(provider.Address)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("Amtsnetz: Adresse %q des Anbieters ist keine https-URL", provider.Address)
	}
	sig, err := message.Sign(h, body, c.Key, pki.Fingerprint(c.Cert))
	if err != nil {
		return nil, err
	}
	out := msglog.Entry{Record: msglog.Record{Direction: msglog.Out, MessageID: h.ID, Client: h.Client, Service: h.Service,
		Purpose: h.Purpose, Reference: h.Reference, Signature: sig}, Body: body}
	resp, in, err := c.exchange(ctx, dir, provider, u.Hostname(), h, sig, body)
	if err != nil {
		// No usable answer: the request is logged alone — it may have
		// reached the provider, whose log then holds it too.
		if _, lerr := c.Log.AppendAll(ctx, out); lerr != nil {
			c.Logger.Error("amtsnetz: logging a request without answer failed", "service", service, "err", lerr)
		}
		return nil, err
	}
	if _, err := c.Log.AppendAll(ctx, out, in); err != nil {
		return nil, fmt.Errorf("Amtsnetz: Protokollierung nicht möglich: %w", err)
	}
	if in.Record.Status < 200 || in.Record.Status > 299 {
		return nil, &Error{Service: service, Status: in.Record.Status, Detail: problemDetail(resp)}
	}
	return resp, nil
}

// exchange sends a signed request to the provider's node and checks the
// answer: it must come from the provider's node and be signed by it as
// the reply to this request. It returns the answer's body and its log
// entry.
func (c *Client) exchange(ctx context.Context, dir *directory.Directory, provider directory.Member, host string, h message.Header, sig string, body []byte) ([]byte, msglog.Entry, error) {
	service := h.Service
	actx, cancel := context.WithTimeout(ctx, orDefault(c.Timeout, 10*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, provider.Address+PathPrefix+service, bytes.NewReader(body))
	if err != nil {
		return nil, msglog.Entry{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(message.HeaderName, sig)
	res, err := c.httpClient(host).Do(req)
	if err != nil {
		return nil, msglog.Entry{}, &Error{Service: service, Detail: err.Error()}
	}
	defer res.Body.Close()
	resp, err := io.ReadAll(io.LimitReader(res.Body, MaxBody+1))
	if err != nil || len(resp) > MaxBody {
		return nil, msglog.Entry{}, &Error{Service: service, Detail: "Antwort unlesbar oder zu groß"}
	}
	peer := res.TLS.PeerCertificates[0]
	if id, err := pki.MemberID(peer); err != nil || id != provider.ID || !dir.HasCertificate(provider.ID, peer) {
		return nil, msglog.Entry{}, &Error{Service: service, Detail: "der antwortende Knoten ist nicht der Anbieter laut Verzeichnis"}
	}
	rsig := res.Header.Get(message.HeaderName)
	if rsig == "" {
		// A refusal before the request was accepted (e.g. by the TLS
		// layer's peer or a proxy) comes unsigned: reported, not trusted.
		return nil, msglog.Entry{}, &Error{Service: service, Status: res.StatusCode, Detail: problemDetail(resp) + " (unsignierte Antwort)"}
	}
	rh, err := message.Verify(rsig, resp, peer.PublicKey, c.now())
	if err != nil || rh.Reply != h.ID || rh.Service != h.Service || rh.Client != h.Client {
		return nil, msglog.Entry{}, &Error{Service: service, Detail: "Antwort nicht vom Anbieter signiert oder nicht die Antwort auf diese Anfrage"}
	}
	return resp, msglog.Entry{Record: msglog.Record{Direction: msglog.In, MessageID: rh.ID, Client: rh.Client, Service: rh.Service,
		Purpose: rh.Purpose, Reference: rh.Reference, ReplyTo: h.ID, Status: res.StatusCode, Signature: rsig}, Body: resp}, nil
}

func problemDetail(b []byte) string {
	var p struct{ Detail string }
	if json.Unmarshal(b, &p) == nil && p.Detail != "" {
		return p.Detail
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// ServerTLS is the provider node's TLS configuration (pki.ServerTLS).
func (id Identity) ServerTLS(roots *x509.CertPool) *tls.Config {
	return pki.ServerTLS(id.TLSCertificate(), roots)
}
