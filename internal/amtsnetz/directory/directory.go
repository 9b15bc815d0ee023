// Package directory is the Amtsnetz's directory: who is a member, where
// its node is, with which certificates, which services each member
// offers, and which member may call which service. The network's operator
// signs it with the CA key (JWS, ES384); every node fetches it, checks
// the signature against the CA certificate it was given, keeps the last
// good copy on disk and goes on working from it while the directory
// server is unreachable — for the document's validity plus a grace
// period, after which it refuses calls rather than trust a stale list.
package directory

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
)

// Directory is the signed document.
type Directory struct {
	Network  string    `json:"network"`  // the Amtsnetz's name
	Version  int64     `json:"version"`  // grows with every issue
	Issued   time.Time `json:"issued"`   // when signed
	Until    time.Time `json:"until"`    // valid until (then the grace period)
	Members  []Member  `json:"members"`  // sorted by ID
	Services []Service `json:"services"` // sorted by ID
}

// Member is an organisation's node.
type Member struct {
	ID           string   `json:"id"`           // CLASS:CODE[:subsystem]
	Org          string   `json:"org"`          // the organisation's name
	Address      string   `json:"address"`      // base URL of its node, https://host:port
	Certificates []string `json:"certificates"` // SHA-256 fingerprints of its member certificates (pki.Fingerprint)
}

// Service is a service a member offers, and who may call it.
type Service struct {
	ID      string   `json:"id"`      // PROVIDER/code, as in message.Header.Service
	Title   string   `json:"title"`   // what it does, for people
	Clients []string `json:"clients"` // member IDs allowed to call it
}

// Validate checks the document's structure.
func (d *Directory) Validate() error {
	if d.Network == "" || d.Version <= 0 || d.Issued.IsZero() || !d.Until.After(d.Issued) {
		return errors.New("Verzeichnis: Netz, Version, Ausstellung und Gültigkeit sind nötig")
	}
	seen := map[string]bool{}
	for _, m := range d.Members {
		if err := pki.ValidMemberID(m.ID); err != nil {
			return err
		}
		if seen[m.ID] {
			return fmt.Errorf("Verzeichnis: Mitglied %s doppelt", m.ID)
		}
		seen[m.ID] = true
		if len(m.Certificates) == 0 {
			return fmt.Errorf("Verzeichnis: Mitglied %s ohne Zertifikat", m.ID)
		}
	}
	for _, s := range d.Services {
		provider, _, ok := cutService(s.ID)
		if !ok || !seen[provider] {
			return fmt.Errorf("Verzeichnis: Dienst %s gehört keinem Mitglied", s.ID)
		}
		for _, c := range s.Clients {
			if !seen[c] {
				return fmt.Errorf("Verzeichnis: Dienst %s nennt das unbekannte Mitglied %s", s.ID, c)
			}
		}
	}
	return nil
}

func cutService(id string) (provider, code string, ok bool) {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return id[:i], id[i+1:], i > 0 && i < len(id)-1
		}
	}
	return "", "", false
}

// Member returns the member id.
func (d *Directory) Member(id string) (Member, bool) {
	for _, m := range d.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// Allowed reports whether client may call service.
func (d *Directory) Allowed(client, service string) bool {
	for _, s := range d.Services {
		if s.ID == service {
			return slices.Contains(s.Clients, client)
		}
	}
	return false
}

// HasCertificate reports whether cert is one of member id's certificates.
func (d *Directory) HasCertificate(id string, cert *x509.Certificate) bool {
	m, ok := d.Member(id)
	return ok && slices.Contains(m.Certificates, pki.Fingerprint(cert))
}

// Sign signs the directory with the CA's key (JWS compact, ES384).
func Sign(d *Directory, ca *pki.CA) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: ca.Key},
		(&jose.SignerOptions{}).WithType("amtsnetz-directory+jws").WithHeader("kid", pki.Fingerprint(ca.Cert)))
	if err != nil {
		return nil, err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	s, err := obj.CompactSerialize()
	return []byte(s), err
}

// ErrSignature: the document is not signed by the network's CA.
var ErrSignature = errors.New("das Verzeichnis ist nicht von der Zertifizierungsstelle des Amtsnetzes signiert")

// Parse verifies a signed directory with the CA certificate.
func Parse(signed []byte, ca *x509.Certificate) (*Directory, error) {
	obj, err := jose.ParseSigned(string(signed), []jose.SignatureAlgorithm{jose.ES384, jose.ES256})
	if err != nil {
		return nil, ErrSignature
	}
	payload, err := obj.Verify(ca.PublicKey)
	if err != nil {
		return nil, ErrSignature
	}
	var d Directory
	if err := json.Unmarshal(payload, &d); err != nil {
		return nil, fmt.Errorf("Verzeichnis unlesbar: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Cache keeps the current directory of a node: fetched from the directory
// server, verified, stored in a file, and used from there while the
// server is away.
type Cache struct {
	URL    string            // where the directory is served
	File   string            // the last good copy
	CA     *x509.Certificate // the network's CA
	Grace  time.Duration     // how long past Until a cached copy is still used
	Client *http.Client      // for fetching (mutual TLS like every Amtsnetz call)
	Now    func() time.Time

	mu  sync.Mutex
	cur *Directory
}

// ErrStale: no directory is valid any more (nor within the grace period).
var ErrStale = errors.New("kein gültiges Amtsnetz-Verzeichnis: der Verzeichnisdienst ist nicht erreichbar und die zwischengespeicherte Fassung ist abgelaufen")

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Refresh fetches the directory; a newer valid version replaces the
// current one and the file. A fetch that fails leaves the current one.
func (c *Cache) Refresh(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	res, err := c.Client.Do(req)
	if err != nil {
		return fmt.Errorf("Verzeichnis abrufen: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("Verzeichnis abrufen: HTTP %d", res.StatusCode)
	}
	signed, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	d, err := Parse(signed, c.CA)
	if err != nil {
		return err
	}
	if c.now().After(d.Until) {
		return fmt.Errorf("Verzeichnis Version %d ist seit %s abgelaufen; nicht übernommen", d.Version, d.Until.Format(time.RFC3339))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && d.Version < c.cur.Version {
		return fmt.Errorf("Verzeichnis Version %d ist älter als die vorhandene %d; nicht übernommen", d.Version, c.cur.Version)
	}
	if c.File != "" {
		tmp := c.File + ".tmp"
		if err := os.MkdirAll(filepath.Dir(c.File), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(tmp, signed, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, c.File); err != nil {
			return err
		}
	}
	c.cur = d
	return nil
}

// Load reads the cached file (at start, before the first fetch).
func (c *Cache) Load() error {
	signed, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	d, err := Parse(signed, c.CA)
	if err != nil {
		return fmt.Errorf("%s: %w", c.File, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || d.Version > c.cur.Version {
		c.cur = d
	}
	return nil
}

// Current returns the directory to work with: the current one while it
// is valid or within the grace period after it; ErrStale otherwise.
func (c *Cache) Current() (*Directory, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.now().After(c.cur.Until.Add(c.Grace)) {
		return nil, ErrStale
	}
	return c.cur, nil
}
