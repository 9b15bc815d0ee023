package directory

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
)

func testDirectory(t *testing.T, ca *pki.CA, version int64, now time.Time) (*Directory, []byte) {
	t.Helper()
	melde, _, err := ca.Issue(pki.Member{ID: "KOMMUNE:110000000000:meldebehoerde", Org: "Bezirksamt Mitte", Hosts: []string{"melde.test"}, Validity: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	parken, _, _ := ca.Issue(pki.Member{ID: "KOMMUNE:110000000000:parken", Org: "Straßenverkehrsbehörde", Hosts: []string{"parken.test"}, Validity: time.Hour}, now)
	d := &Directory{Network: "Amtsnetz Test", Version: version, Issued: now, Until: now.Add(24 * time.Hour),
		Members: []Member{
			{ID: "KOMMUNE:110000000000:meldebehoerde", Org: "Bezirksamt Mitte", Address: "https://melde.test:8443", Certificates: []string{pki.Fingerprint(melde)}},
			{ID: "KOMMUNE:110000000000:parken", Org: "Straßenverkehrsbehörde", Address: "https://parken.test:8443", Certificates: []string{pki.Fingerprint(parken)}},
		},
		Services: []Service{{ID: "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen", Title: "Wohnsitz prüfen", Clients: []string{"KOMMUNE:110000000000:parken"}}},
	}
	signed, err := Sign(d, ca)
	if err != nil {
		t.Fatal(err)
	}
	return d, signed
}

func TestSignParseAllowed(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	ca, _ := pki.NewCA("Amtsnetz Test", now, 48*time.Hour)
	_, signed := testDirectory(t, ca, 1, now)
	d, err := Parse(signed, ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed("KOMMUNE:110000000000:parken", "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen") ||
		d.Allowed("KOMMUNE:110000000000:meldebehoerde", "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen") ||
		d.Allowed("KOMMUNE:110000000000:parken", "KOMMUNE:110000000000:meldebehoerde/halter-pruefen") {
		t.Error("Allowed does not follow the services' client lists")
	}
	other, _ := pki.NewCA("Fremdes Netz", now, 48*time.Hour)
	if _, err := Parse(signed, other.Cert); !errors.Is(err, ErrSignature) {
		t.Errorf("parsed with another CA: %v", err)
	}
	parts := strings.Split(string(signed), ".")
	tampered := parts[0] + "." + parts[1][:len(parts[1])-2] + "AA." + parts[2]
	if _, err := Parse([]byte(tampered), ca.Cert); err == nil {
		t.Error("a changed directory parsed")
	}
	bad := &Directory{Network: "x", Version: 1, Issued: now, Until: now.Add(time.Hour),
		Members:  []Member{{ID: "KOMMUNE:1", Certificates: []string{"ab"}}},
		Services: []Service{{ID: "KOMMUNE:1/dienst", Clients: []string{"KOMMUNE:2"}}}}
	if _, err := Sign(bad, ca); err == nil || !strings.Contains(err.Error(), "unbekannte Mitglied") {
		t.Errorf("a service for an unknown client was signed: %v", err)
	}
}

// A node keeps working from its cached directory while the directory
// server is away, until the grace period after its validity ends; a
// restart reads the cached file; an older version does not replace a
// newer one.
func TestCacheSurvivesOutage(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	ca, _ := pki.NewCA("Amtsnetz Test", now, 48*time.Hour)
	_, v2 := testDirectory(t, ca, 2, now)
	_, v1 := testDirectory(t, ca, 1, now)
	serve := atomic.Value{}
	serve.Store(v2)
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "weg", http.StatusServiceUnavailable)
			return
		}
		w.Write(serve.Load().([]byte))
	}))
	defer srv.Close()
	clock := now
	file := filepath.Join(t.TempDir(), "verzeichnis.jws")
	c := &Cache{URL: srv.URL, File: file, CA: ca.Cert, Grace: 12 * time.Hour, Client: srv.Client(), Now: func() time.Time { return clock }}
	if _, err := c.Current(); !errors.Is(err, ErrStale) {
		t.Errorf("before the first fetch: %v", err)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	if err := c.Refresh(context.Background()); err == nil {
		t.Error("a failed fetch was not reported")
	}
	clock = now.Add(30 * time.Hour) // past Until, within the grace period
	if d, err := c.Current(); err != nil || d.Version != 2 {
		t.Errorf("within the grace period: %v, %v", d, err)
	}
	// A restart while the server is down: the file.
	c2 := &Cache{URL: srv.URL, File: file, CA: ca.Cert, Grace: 12 * time.Hour, Client: srv.Client(), Now: func() time.Time { return clock }}
	if err := c2.Load(); err != nil {
		t.Fatal(err)
	}
	if d, err := c2.Current(); err != nil || d.Version != 2 {
		t.Errorf("after a restart: %v, %v", d, err)
	}
	clock = now.Add(37 * time.Hour) // past the grace period
	if _, err := c.Current(); !errors.Is(err, ErrStale) {
		t.Errorf("past the grace period: %v", err)
	}
	// Back, but serving an older version: refused, the newer stays.
	down.Store(false)
	serve.Store(v1)
	clock = now
	if err := c.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "älter") {
		t.Errorf("older version: %v", err)
	}
	// Served with a bad signature, or expired: refused, the good one stays.
	other, _ := pki.NewCA("Fremdes Netz", now, 48*time.Hour)
	_, forged := testDirectory(t, other, 3, now)
	serve.Store(forged)
	if err := c.Refresh(context.Background()); !errors.Is(err, ErrSignature) {
		t.Errorf("forged directory: %v", err)
	}
	old := &Directory{Network: "Amtsnetz Test", Version: 4, Issued: now.Add(-72 * time.Hour), Until: now.Add(-time.Hour)}
	expired, err := Sign(old, ca)
	if err != nil {
		t.Fatal(err)
	}
	serve.Store(expired)
	if err := c.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "abgelaufen") {
		t.Errorf("expired directory: %v", err)
	}
	if d, err := c.Current(); err != nil || d.Version != 2 {
		t.Errorf("after refused directories: %v, %v; want version 2", d, err)
	}
	// A file someone replaced with an unsigned one is not loaded.
	c3 := &Cache{File: filepath.Join(t.TempDir(), "x"), CA: ca.Cert}
	if err := c3.Load(); err == nil {
		t.Error("a missing file loaded")
	}
}
