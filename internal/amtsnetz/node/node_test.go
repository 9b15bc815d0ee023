package node

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/directory"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

const (
	melde  = "KOMMUNE:110000000000:meldebehoerde"
	parken = "KOMMUNE:110000000000:parken"
	fremd  = "KOMMUNE:110000000000:fremd"
	wohnen = melde + "/wohnsitz-pruefen"
)

// logBuffer collects the security events.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type net3 struct {
	ca                 *pki.CA
	roots              *x509.CertPool
	provider, consumer Identity
	stranger           Identity // a member of the directory, not allowed to call the service
	provLog, consLog   *msglog.Log
	provDB, consDB     *store.DB
	addr               string
	srv                *http.Server
	events             *logBuffer
	backendCalls       []message.Header
	mu                 sync.Mutex
	dirCache           *directory.Cache
}

func identity(t testing.TB, ca *pki.CA, id string) Identity {
	t.Helper()
	cert, key, err := ca.Issue(pki.Member{ID: id, Org: "Test", Hosts: []string{"127.0.0.1"}, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return Identity{ID: id, Cert: cert, Key: key}
}

func setup(t testing.TB, engine store.Engine) *net3 {
	t.Helper()
	ctx := context.Background()
	n := &net3{events: &logBuffer{}}
	var err error
	if n.ca, err = pki.NewCA("Amtsnetz Test", time.Now(), 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	n.roots = x509.NewCertPool()
	n.roots.AddCert(n.ca.Cert)
	n.provider, n.consumer, n.stranger = identity(t, n.ca, melde), identity(t, n.ca, parken), identity(t, n.ca, fremd)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = ln.Addr().String()
	now := time.Now().UTC()
	d := &directory.Directory{Network: "Amtsnetz Test", Version: 1, Issued: now, Until: now.Add(24 * time.Hour),
		Members: []directory.Member{
			{ID: melde, Org: "Bezirksamt", Address: "https://" + n.addr, Certificates: []string{pki.Fingerprint(n.provider.Cert)}},
			{ID: parken, Org: "Straßenverkehrsbehörde", Address: "https://127.0.0.1:1", Certificates: []string{pki.Fingerprint(n.consumer.Cert)}},
			{ID: fremd, Org: "Fremd", Address: "https://127.0.0.1:1", Certificates: []string{pki.Fingerprint(n.stranger.Cert)}},
		},
		Services: []directory.Service{{ID: wohnen, Title: "Wohnsitz prüfen", Clients: []string{parken}}}}
	signed, err := directory.Sign(d, n.ca)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "verzeichnis.jws")
	os.WriteFile(file, signed, 0o600)
	n.dirCache = &directory.Cache{File: file, CA: n.ca.Cert, Grace: time.Hour}
	if err := n.dirCache.Load(); err != nil {
		t.Fatal(err)
	}
	n.provDB = storetest.Open(t, engine, msglog.Migrations)
	n.consDB = storetest.Open(t, engine, msglog.Migrations)
	if n.provLog, err = msglog.Open(ctx, n.provDB, n.provider.Key, nil); err != nil {
		t.Fatal(err)
	}
	if n.consLog, err = msglog.Open(ctx, n.consDB, n.consumer.Key, nil); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(n.events, nil))
	p := &Provider{Identity: n.provider, Directory: n.dirCache, Log: n.provLog, Logger: logger,
		Backends: map[string]Backend{"wohnsitz-pruefen": BackendFunc(func(ctx context.Context, h message.Header, body []byte) (int, []byte, error) {
			n.mu.Lock()
			n.backendCalls = append(n.backendCalls, h)
			n.mu.Unlock()
			if bytes.Contains(body, []byte("kaputt")) {
				return 0, nil, errors.New("Fachverfahren antwortet nicht")
			}
			return 200, []byte(`{"gemeldet":true,"wohnsitz":"haupt"}`), nil
		})}}
	n.srv = &http.Server{Handler: p, TLSConfig: n.provider.ServerTLS(n.roots), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go n.srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { n.srv.Close() })
	return n
}

func (n *net3) client(t testing.TB) *Client {
	return &Client{Identity: n.consumer, Roots: n.roots, Directory: n.dirCache, Log: n.consLog,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Backoff: time.Millisecond, Threshold: 3, Cooldown: time.Minute}
}

// raw sends a request as the member id would, bypassing Client's checks.
func (n *net3) raw(t *testing.T, as Identity, h message.Header, body []byte, sign bool, tamper func(*http.Request)) int {
	t.Helper()
	req, _ := http.NewRequest("POST", "https://"+n.addr+PathPrefix+h.Service, bytes.NewReader(body))
	if sign {
		sig, err := message.Sign(h, body, as.Key, pki.Fingerprint(as.Cert))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(message.HeaderName, sig)
	}
	if tamper != nil {
		tamper(req)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientTLS(as.TLSCertificate(), n.roots, "127.0.0.1")}}
	res, err := c.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func TestCallAcrossNodes(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			n := setup(t, e)
			c := n.client(t)
			resp, err := c.Call(ctx, wohnen, "Bewohnerparken, § 34 BMG", "BP-2026-7KQ4M2XD", []byte(`{"person":"Muster"}`), true)
			if err != nil || string(resp) != `{"gemeldet":true,"wohnsitz":"haupt"}` {
				t.Fatalf("Call = %s, %v", resp, err)
			}
			if len(n.backendCalls) != 1 || n.backendCalls[0].Purpose != "Bewohnerparken, § 34 BMG" || n.backendCalls[0].Client != parken {
				t.Errorf("backend saw %+v", n.backendCalls)
			}
			// Both ends logged request and answer, and their logs verify.
			for name, l := range map[string]struct {
				log *msglog.Log
				db  *store.DB
				id  Identity
			}{"provider": {n.provLog, n.provDB, n.provider}, "consumer": {n.consLog, n.consDB, n.consumer}} {
				if l.log.Size() != 2 {
					t.Errorf("%s log: %d records, want 2", name, l.log.Size())
				}
				l.log.SignHead(ctx)
				if rep, err := msglog.Verify(ctx, l.db, l.id.Cert.PublicKey); err != nil || rep.Records != 2 {
					t.Errorf("%s log verify: %+v %v", name, rep, err)
				}
				// One commit: the request, then its answer right after it.
				rs, err := msglog.ByReference(ctx, l.db, "BP-2026-7KQ4M2XD", 10)
				if err != nil || len(rs) != 2 || rs[0].Seq != 1 || rs[1].Seq != 2 || rs[1].ReplyTo != rs[0].MessageID ||
					rs[0].Status != 0 || rs[1].Status != 200 || !rs[0].At.Equal(rs[1].At) {
					t.Errorf("%s log records: %+v %v", name, rs, err)
				}
			}

			// Refused at the provider, each a security event.
			now := time.Now()
			h := func(client string) message.Header {
				return message.Header{ID: NewMessageID(), Client: client, Service: wohnen, Purpose: "§ 34 BMG", Reference: "BP-1", Time: now}
			}
			body := []byte(`{"person":"Muster"}`)
			callsBefore := len(n.backendCalls)
			// Re-signed by the wrong member: the stranger's key, parken's name and TLS certificate.
			wrong := h(parken)
			wrongSig, _ := message.Sign(wrong, body, n.stranger.Key, "fp")
			if code := n.raw(t, n.consumer, wrong, body, false, func(r *http.Request) { r.Header.Set(message.HeaderName, wrongSig) }); code != http.StatusUnauthorized {
				t.Errorf("re-signed by the wrong member: %d", code)
			}
			// Truncated signature.
			trunc := h(parken)
			truncSig, _ := message.Sign(trunc, body, n.consumer.Key, "fp")
			if code := n.raw(t, n.consumer, trunc, body, false, func(r *http.Request) { r.Header.Set(message.HeaderName, truncSig[:len(truncSig)-10]) }); code != http.StatusUnauthorized {
				t.Errorf("truncated signature: %d", code)
			}
			if code := n.raw(t, n.stranger, h(fremd), body, true, nil); code != http.StatusForbidden {
				t.Errorf("member not allowed: %d", code)
			}
			if code := n.raw(t, n.consumer, h(parken), body, false, nil); code != http.StatusUnauthorized {
				t.Errorf("unsigned: %d", code)
			}
			if code := n.raw(t, n.consumer, h(fremd), body, true, nil); code != http.StatusUnauthorized && code != http.StatusForbidden {
				t.Errorf("signed as another member: %d", code)
			}
			if code := n.raw(t, n.consumer, h(parken), body, true, func(r *http.Request) {
				r.Body = io.NopCloser(strings.NewReader(`{"person":"Andere"}`))
				r.ContentLength = int64(len(`{"person":"Andere"}`))
			}); code != http.StatusUnauthorized {
				t.Errorf("changed body: %d", code)
			}
			old := h(parken)
			old.Time = now.Add(-10 * time.Minute)
			if code := n.raw(t, n.consumer, old, body, true, nil); code != http.StatusUnauthorized {
				t.Errorf("expired: %d", code)
			}
			// Replay: the same signed message twice.
			same := h(parken)
			sig, _ := message.Sign(same, body, n.consumer.Key, "fp")
			replay := func(r *http.Request) { r.Header.Set(message.HeaderName, sig) }
			if code := n.raw(t, n.consumer, same, body, false, replay); code != http.StatusOK {
				t.Errorf("first sending: %d", code)
			}
			if code := n.raw(t, n.consumer, same, body, false, replay); code != http.StatusConflict {
				t.Errorf("replay: %d, want 409", code)
			}
			// After a restart the node's memory of message IDs is empty; its log still knows.
			prov := n.srv.Handler.(*Provider)
			prov.mu.Lock()
			prov.seen = nil
			prov.mu.Unlock()
			if code := n.raw(t, n.consumer, same, body, false, replay); code != http.StatusConflict {
				t.Errorf("replay after a restart: %d, want 409", code)
			}
			// A certificate of another CA does not get through TLS.
			other, _ := pki.NewCA("Fremdes Netz", time.Now(), time.Hour)
			if code := n.raw(t, identity(t, other, parken), h(parken), body, true, nil); code != 0 {
				t.Errorf("another CA: %d, want no TLS connection", code)
			}
			// Of all these, only the first sending of the replayed message reached the backend.
			if got := len(n.backendCalls) - callsBefore; got != 1 {
				t.Errorf("the backend saw %d of the refused messages' sendings, want only the 1 accepted", got)
			}
			ev := n.events.String()
			for _, want := range []string{"Mitglied darf den Dienst nicht nutzen", "unsignierte Nachricht", "Signatur ungültig", "Wiederholung"} {
				if !strings.Contains(ev, "security: amtsnetz request refused") || !strings.Contains(ev, want) {
					t.Errorf("no security event %q in:\n%s", want, ev)
				}
			}
			// The client does not even send what the directory forbids.
			sc := n.client(t)
			sc.Identity = n.stranger
			if _, err := sc.Call(ctx, wohnen, "§ 34 BMG", "BP-1", body, false); err == nil || !strings.Contains(err.Error(), "nicht nutzen") {
				t.Errorf("forbidden call from the client: %v", err)
			}

			// The backend fails: a signed 502, retried, then an Error.
			calls := len(n.backendCalls)
			_, err = c.Call(ctx, wohnen, "§ 34 BMG", "BP-1", []byte(`{"kaputt":true}`), true)
			var ce *Error
			if !errors.As(err, &ce) || ce.Status != http.StatusBadGateway || ce.Retried != 3 || len(n.backendCalls) != calls+3 {
				t.Errorf("backend failure: %v (backend calls %d)", err, len(n.backendCalls)-calls)
			}
			// Three failures in a row opened the circuit for this service.
			if _, err := c.Call(ctx, wohnen, "§ 34 BMG", "BP-1", body, true); !errors.Is(err, ErrCircuitOpen) {
				t.Errorf("after three failed attempts: %v, want ErrCircuitOpen", err)
			}
			// The provider's log cannot commit: the answer is withheld
			// (503, unsigned), and the consumer logs its request alone.
			consBefore := n.consLog.Size()
			n.provLog.Close()
			c = n.client(t)
			if _, err := c.Call(ctx, wohnen, "§ 34 BMG", "BP-OHNE-PROTOKOLL", body, false); !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable {
				t.Errorf("provider log down: %v, want 503", err)
			}
			if rs, _ := msglog.ByReference(ctx, n.provDB, "BP-OHNE-PROTOKOLL", 10); len(rs) != 0 {
				t.Errorf("provider logged %d records with its log closed", len(rs))
			}
			if rs, _ := msglog.ByReference(ctx, n.consDB, "BP-OHNE-PROTOKOLL", 10); len(rs) != 1 || rs[0].Direction != msglog.Out ||
				n.consLog.Size() != consBefore+1 {
				t.Errorf("consumer log after an unanswered request: %+v (size %d → %d)", rs, consBefore, n.consLog.Size())
			}

			// The provider's node goes down: retries, then the circuit opens.
			n.srv.Close()
			clock := time.Now()
			c = n.client(t)
			c.Now = func() time.Time { return clock }
			if _, err := c.Call(ctx, wohnen, "§ 34 BMG", "BP-1", body, true); !errors.As(err, &ce) || !ce.Unavailable() || ce.Status != 0 {
				t.Errorf("node down: %v", err)
			}
			if _, err := c.Call(ctx, wohnen, "§ 34 BMG", "BP-1", body, true); !errors.Is(err, ErrCircuitOpen) {
				t.Errorf("after repeated failures: %v, want ErrCircuitOpen", err)
			}
			clock = clock.Add(2 * time.Minute)
			if _, err := c.Call(ctx, wohnen, "§ 34 BMG", "BP-1", body, false); errors.Is(err, ErrCircuitOpen) || err == nil {
				t.Errorf("after the cooldown: %v, want a real attempt", err)
			}
		})
	}
}
