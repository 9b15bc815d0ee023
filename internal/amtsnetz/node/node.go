// Package node is an Amtsnetz node: the provider side that takes signed
// requests from other members over mutual TLS, checks them and forwards
// them to the organisation's backend, and the consumer side (Client) that
// sends a member's requests to the provider's node.
//
// A request is accepted only when all of this holds, and each refusal is
// a security event in the log (slog, "security: amtsnetz …"):
//
//   - the TLS client certificate is of the network's CA (the TLS
//     configuration, pki.ServerTLS) and listed for its member in the
//     directory;
//   - the message's signature verifies with that certificate's key, its
//     client is that member, and its time is within message.MaxSkew;
//   - the service is this node's, and the directory allows the client to
//     call it;
//   - the message ID was not seen from that client before (a retry is a
//     new message with a new ID).
//
// Both the request and the signed response are records of the node's
// message log (msglog), so are they at the consumer's end. Each end logs an
// exchange in one commit: the provider commits request and answer together
// before the answer leaves its node (nothing is answered that its log does
// not hold); the consumer commits both when the verified answer has come,
// or the request alone when none came. One durable commit per end and
// exchange instead of two halves what a round trip waits for
// (BENCHMARKS.md). The price: the backend sees a request before it is in
// the provider's log, so a backend that changes state must be idempotent
// on its own key (kasse/sollstellung is, by "schluessel") — a request the
// provider could not log is answered 503 and may be sent again.
package node

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/directory"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
)

// PathPrefix is where a node takes requests: PathPrefix + service ID.
const PathPrefix = "/amtsnetz/v1/"

// MaxBody bounds a message body.
const MaxBody = 1 << 20

// Backend answers a service's requests: the organisation's system behind
// the node.
type Backend interface {
	Serve(ctx context.Context, h message.Header, body []byte) (status int, resp []byte, err error)
}

// BackendFunc adapts a function.
type BackendFunc func(ctx context.Context, h message.Header, body []byte) (int, []byte, error)

// Serve implements Backend.
func (f BackendFunc) Serve(ctx context.Context, h message.Header, body []byte) (int, []byte, error) {
	return f(ctx, h, body)
}

// HTTPBackend forwards to an HTTP endpoint of the organisation: POST
// URL/<service code> with the JSON body and the headers
// Amtsnetz-Client, Amtsnetz-Purpose, Amtsnetz-Reference, Amtsnetz-Message-ID.
type HTTPBackend struct {
	URL    string
	Client *http.Client
}

// Serve implements Backend.
func (b HTTPBackend) Serve(ctx context.Context, h message.Header, body []byte) (int, []byte, error) {
	_, code, _ := strings.Cut(h.Service, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(b.URL, "/")+"/"+code, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Amtsnetz-Client", h.Client)
	req.Header.Set("Amtsnetz-Purpose", h.Purpose)
	req.Header.Set("Amtsnetz-Reference", h.Reference)
	req.Header.Set("Amtsnetz-Message-ID", h.ID)
	c := b.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	resp, err := io.ReadAll(io.LimitReader(res.Body, MaxBody+1))
	if err != nil {
		return 0, nil, err
	}
	if len(resp) > MaxBody {
		return 0, nil, errors.New("backend answer over the size limit")
	}
	return res.StatusCode, resp, nil
}

// Identity is a member's node identity: its ID, certificate and key.
type Identity struct {
	ID   string
	Cert *x509.Certificate
	Key  crypto.Signer
}

// TLSCertificate is the identity as a TLS certificate.
func (id Identity) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
}

// Provider is the provider side of a node.
type Provider struct {
	Identity
	Directory *directory.Cache
	Log       *msglog.Log
	Backends  map[string]Backend // by service code (the part after "/")
	Logger    *slog.Logger
	Now       func() time.Time

	mu    sync.Mutex
	seen  map[string]time.Time // client + "\x00" + message ID → when, for replay protection
	swept time.Time            // last removal of expired entries from seen
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// problem answers with application/problem+json.
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
}

// refuse answers a refused request and logs it as a security event.
func (p *Provider) refuse(w http.ResponseWriter, r *http.Request, status int, reason, client string) {
	p.Logger.Warn("security: amtsnetz request refused", "reason", reason, "client", client, "path", r.URL.Path, "remote", r.RemoteAddr)
	problem(w, status, reason)
}

// seenBefore records a message ID and reports whether it was there. At
// a process's first request the memory is filled from the log with every
// request taken within twice the allowed clock skew, so a message sent
// again across a restart is recognised without a lookup per request. IDs
// older than that are forgotten, in one sweep at most every few seconds
// (older messages are refused by their time anyway). A node's log has one
// writer process; replicas of a provider node would not see each other's IDs.
func (p *Provider) seenBefore(ctx context.Context, client, id string, now time.Time) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		keys, err := p.Log.ReceivedSince(ctx, now.Add(-2*message.MaxSkew))
		if err != nil {
			return false, err
		}
		p.seen = make(map[string]time.Time, len(keys))
		for _, k := range keys {
			p.seen[k] = now
		}
	}
	if now.Sub(p.swept) > 5*time.Second {
		for k, at := range p.seen {
			if now.Sub(at) > 2*message.MaxSkew {
				delete(p.seen, k)
			}
		}
		p.swept = now
	}
	k := client + "\x00" + id
	if _, ok := p.seen[k]; ok {
		return true, nil
	}
	p.seen[k] = now
	return false, nil
}

// ServeHTTP takes one request (POST PathPrefix + service ID).
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := p.now()
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, PathPrefix) {
		problem(w, http.StatusNotFound, "Unbekannter Pfad")
		return
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		p.refuse(w, r, http.StatusUnauthorized, "ohne geprüftes Client-Zertifikat", "")
		return
	}
	peer := r.TLS.PeerCertificates[0]
	peerID, err := pki.MemberID(peer)
	if err != nil {
		p.refuse(w, r, http.StatusForbidden, "Client-Zertifikat ohne Amtsnetz-Mitglied", "")
		return
	}
	dir, err := p.Directory.Current()
	if err != nil {
		p.Logger.Error("amtsnetz: no valid directory; refusing requests", "err", err)
		problem(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if !dir.HasCertificate(peerID, peer) {
		p.refuse(w, r, http.StatusForbidden, "Zertifikat nicht im Verzeichnis", peerID)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil || len(body) > MaxBody {
		p.refuse(w, r, http.StatusRequestEntityTooLarge, "Nachricht zu groß oder unlesbar", peerID)
		return
	}
	sig := r.Header.Get(message.HeaderName)
	if sig == "" {
		p.refuse(w, r, http.StatusUnauthorized, "unsignierte Nachricht", peerID)
		return
	}
	h, err := message.Verify(sig, body, peer.PublicKey, now)
	if err != nil {
		p.refuse(w, r, http.StatusUnauthorized, "Signatur ungültig: "+err.Error(), peerID)
		return
	}
	if h.Client != peerID {
		p.refuse(w, r, http.StatusForbidden, "Absender der Nachricht passt nicht zum Zertifikat", peerID)
		return
	}
	if service := strings.TrimPrefix(r.URL.Path, PathPrefix); service != h.Service {
		p.refuse(w, r, http.StatusBadRequest, "Pfad und signierter Dienst stimmen nicht überein", peerID)
		return
	}
	_, code, _ := strings.Cut(h.Service, "/")
	backend, ok := p.Backends[code]
	if h.Provider() != p.ID || !ok {
		p.refuse(w, r, http.StatusNotFound, "Dienst wird hier nicht angeboten", peerID)
		return
	}
	if !dir.Allowed(h.Client, h.Service) {
		p.refuse(w, r, http.StatusForbidden, "Mitglied darf den Dienst nicht nutzen", peerID)
		return
	}
	ctx := r.Context()
	seen, err := p.seenBefore(ctx, h.Client, h.ID, now)
	if err != nil {
		p.Logger.Error("amtsnetz: reading the log for replay protection failed; refusing requests", "err", err)
		problem(w, http.StatusServiceUnavailable, "Protokoll nicht lesbar")
		return
	}
	if seen {
		p.refuse(w, r, http.StatusConflict, "Nachricht bereits empfangen (Wiederholung)", peerID)
		return
	}
	status, resp, err := backend.Serve(ctx, h, body)
	if err != nil {
		p.Logger.Warn("amtsnetz: backend failed", "service", h.Service, "err", err)
		status, resp = http.StatusBadGateway, mustJSON(map[string]any{"type": "about:blank", "title": "Bad Gateway", "status": 502,
			"detail": "Das Fachverfahren hinter dem Knoten antwortet nicht."})
	}
	rh := message.Header{ID: NewMessageID(), Client: h.Client, Service: h.Service, Purpose: h.Purpose, Reference: h.Reference,
		Time: p.now(), Reply: h.ID}
	rsig, err := message.Sign(rh, resp, p.Key, pki.Fingerprint(p.Cert))
	if err != nil {
		problem(w, http.StatusInternalServerError, "Antwort nicht signierbar")
		return
	}
	// The request and its answer are committed together before the
	// answer leaves: nothing is answered that the log does not hold.
	if _, err := p.Log.AppendAll(ctx,
		msglog.Entry{Record: msglog.Record{Direction: msglog.In, MessageID: h.ID, Client: h.Client, Service: h.Service,
			Purpose: h.Purpose, Reference: h.Reference, Signature: sig}, Body: body},
		msglog.Entry{Record: msglog.Record{Direction: msglog.Out, MessageID: rh.ID, Client: rh.Client, Service: rh.Service,
			Purpose: rh.Purpose, Reference: rh.Reference, ReplyTo: h.ID, Status: status, Signature: rsig}, Body: resp}); err != nil {
		p.Logger.Error("amtsnetz: logging an exchange failed; answer withheld", "service", h.Service, "err", err)
		problem(w, http.StatusServiceUnavailable, "Protokollierung nicht möglich")
		return
	}
	w.Header().Set(message.HeaderName, rsig)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(resp)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// NewMessageID is a fresh random message ID.
func NewMessageID() string {
	var b [16]byte
	rand.Read(b[:])
	return "msg-" + hex.EncodeToString(b[:])
}

// Error is a failed call: the provider's answer (Status > 0) or no answer.
type Error struct {
	Service string
	Status  int    // HTTP status of the provider's answer; 0 when none came
	Detail  string // the provider's problem detail, or why there was none
	Retried int    // attempts made
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("Amtsnetz-Dienst %s nicht erreichbar (%d Versuche): %s", e.Service, e.Retried, e.Detail)
	}
	return fmt.Sprintf("Amtsnetz-Dienst %s: HTTP %d: %s", e.Service, e.Status, e.Detail)
}

// Unavailable reports whether the provider could not be reached or did
// not answer properly (the caller should wait and try later).
func (e *Error) Unavailable() bool { return e.Status == 0 || e.Status >= 500 }

// ErrCircuitOpen: the service failed repeatedly; calls are not sent for a
// while.
var ErrCircuitOpen = errors.New("Amtsnetz-Dienst vorübergehend gesperrt nach wiederholten Fehlern")
