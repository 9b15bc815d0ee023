package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/adapters"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/directory"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
)

// The demo's Amtsnetz: the demo registers run behind nodes of their own
// on loopback — the registration office, the vehicle register and the
// treasury, each with its own listener, member certificate of a demo CA
// and message log (an SQLite file of its own: another organisation's
// system) — and Rathaus calls them as a member through node.Client, so
// every check of the demo crosses mutual TLS, is signed and is logged at
// both ends (Rathaus's end in its own database). The CA, the keys and the
// certificates are made once in DATA/amtsnetz; the directory is signed
// anew at every start, with the nodes' current ports.

const (
	demoMemberRathaus = "KOMMUNE:110000000000:parken"
	demoMemberMelde   = "KOMMUNE:110000000000:meldebehoerde"
	demoMemberKfz     = "LAND:11:kfz"
	demoMemberKasse   = "KOMMUNE:110000000000:kasse"
)

// demoAmtsnetz is the running demo network.
type demoAmtsnetz struct {
	servers []*http.Server
	logs    []*msglog.Log
	dbs     []*store.DB
	client  *node.Client
	log     *msglog.Log // Rathaus's end
	logger  *slog.Logger
	stop    chan struct{}
	done    sync.WaitGroup
}

// loadOrIssue reads a member's certificate and key from dir, or issues
// them (and the CA, for the first member).
func loadOrIssue(dir string, ca *pki.CA, id, org string) (node.Identity, error) {
	base := filepath.Join(dir, strings.ReplaceAll(id, ":", "_"))
	certPEM, err := os.ReadFile(base + ".pem")
	if err == nil {
		keyPEM, err := os.ReadFile(base + "-key.pem")
		if err != nil {
			return node.Identity{}, err
		}
		cert, err := pki.ParseCertPEM(certPEM)
		if err != nil {
			return node.Identity{}, err
		}
		key, err := pki.ParseKeyPEM(keyPEM)
		if err != nil {
			return node.Identity{}, err
		}
		if time.Until(cert.NotAfter) > 24*time.Hour {
			return node.Identity{ID: id, Cert: cert, Key: key}, nil
		}
		os.Remove(base + ".pem") // about to expire: a new one
		os.Remove(base + "-key.pem")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return node.Identity{}, err
	}
	cert, key, err := ca.Issue(pki.Member{ID: id, Org: org, Hosts: []string{"127.0.0.1", "localhost"}, Validity: 365 * 24 * time.Hour}, time.Now())
	if err != nil {
		return node.Identity{}, err
	}
	keyPEM, err := pki.KeyPEM(key)
	if err != nil {
		return node.Identity{}, err
	}
	if err := writeNew(base+"-key.pem", keyPEM, 0o600); err != nil {
		return node.Identity{}, err
	}
	if err := writeNew(base+".pem", pki.CertPEM(cert), 0o644); err != nil {
		return node.Identity{}, err
	}
	return node.Identity{ID: id, Cert: cert, Key: key}, nil
}

func loadOrCreateCA(dir string) (*pki.CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err == nil {
		keyPEM, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
		if err != nil {
			return nil, err
		}
		return pki.LoadCA(certPEM, keyPEM)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ca, err := pki.NewCA("Amtsnetz Demo Berlin", time.Now(), 10*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	keyPEM, err := pki.KeyPEM(ca.Key)
	if err != nil {
		return nil, err
	}
	if err := writeNew(filepath.Join(dir, "ca-key.pem"), keyPEM, 0o600); err != nil {
		return nil, err
	}
	return ca, writeNew(filepath.Join(dir, "ca.pem"), pki.CertPEM(ca.Cert), 0o644)
}

// startDemoAmtsnetz starts the three register nodes and returns the
// network and the registers Rathaus uses (adapters over its client).
func startDemoAmtsnetz(ctx context.Context, dataDir string, regs *registers.Demo, db *store.DB, logger *slog.Logger) (*demoAmtsnetz, parking.Registers, error) {
	dir := filepath.Join(dataDir, "amtsnetz")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, parking.Registers{}, err
	}
	ca, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, parking.Registers{}, fmt.Errorf("Amtsnetz-Demo: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	type provider struct {
		id, org  string
		backends map[string]node.Backend
		identity node.Identity
		ln       net.Listener
	}
	providers := []*provider{
		{id: demoMemberMelde, org: "Demo-Meldebehörde Berlin", backends: map[string]node.Backend{adapters.ServiceResidence: adapters.ResidenceBackend(regs.Residence())}},
		{id: demoMemberKfz, org: "Demo-Zulassungsbehörde", backends: map[string]node.Backend{adapters.ServiceVehicle: adapters.VehicleBackend(regs.Vehicles())}},
		{id: demoMemberKasse, org: "Demo-Landeshauptkasse", backends: adapters.TreasuryBackends(regs.Treasury())},
	}
	n := &demoAmtsnetz{logger: logger, stop: make(chan struct{})}
	fail := func(err error) (*demoAmtsnetz, parking.Registers, error) {
		n.Close()
		return nil, parking.Registers{}, fmt.Errorf("Amtsnetz-Demo: %w", err)
	}
	rathaus, err := loadOrIssue(dir, ca, demoMemberRathaus, "Rathaus – Straßenverkehrsbehörde (Demo)")
	if err != nil {
		return fail(err)
	}
	now := time.Now().UTC()
	d := &directory.Directory{Network: "Amtsnetz Demo Berlin", Version: now.UnixNano(), Issued: now, Until: now.Add(30 * 24 * time.Hour),
		Members: []directory.Member{{ID: rathaus.ID, Org: "Rathaus – Straßenverkehrsbehörde (Demo)", Address: "https://127.0.0.1:1",
			Certificates: []string{pki.Fingerprint(rathaus.Cert)}}}}
	for _, p := range providers {
		if p.identity, err = loadOrIssue(dir, ca, p.id, p.org); err != nil {
			return fail(err)
		}
		if p.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fail(err)
		}
		d.Members = append(d.Members, directory.Member{ID: p.id, Org: p.org, Address: "https://" + p.ln.Addr().String(),
			Certificates: []string{pki.Fingerprint(p.identity.Cert)}})
		for code := range p.backends {
			d.Services = append(d.Services, directory.Service{ID: p.id + "/" + code, Title: code, Clients: []string{rathaus.ID}})
		}
	}
	signed, err := directory.Sign(d, ca)
	if err != nil {
		return fail(err)
	}
	dirFile := filepath.Join(dir, "verzeichnis.jws")
	if err := os.WriteFile(dirFile, signed, 0o600); err != nil {
		return fail(err)
	}
	cache := &directory.Cache{File: dirFile, CA: ca.Cert, Grace: 24 * time.Hour}
	if err := cache.Load(); err != nil {
		return fail(err)
	}
	for _, p := range providers {
		pdb, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, strings.ReplaceAll(p.id, ":", "_")+".db"), store.Options{Logger: logger})
		if err != nil {
			return fail(err)
		}
		n.dbs = append(n.dbs, pdb)
		if _, err := pdb.Migrate(ctx, msglog.Migrations); err != nil {
			return fail(err)
		}
		plog, err := msglog.Open(ctx, pdb, p.identity.Key, nil)
		if err != nil {
			return fail(err)
		}
		n.logs = append(n.logs, plog)
		srv := &http.Server{Handler: &node.Provider{Identity: p.identity, Directory: cache, Log: plog, Backends: p.backends,
			Logger: logger.With("node", p.id)}, TLSConfig: p.identity.ServerTLS(roots), ReadHeaderTimeout: 5 * time.Second,
			ErrorLog: log.New(io.Discard, "", 0)}
		n.servers = append(n.servers, srv)
		go srv.ServeTLS(p.ln, "", "")
	}
	if n.log, err = msglog.Open(ctx, db, rathaus.Key, nil); err != nil {
		return fail(err)
	}
	n.logs = append(n.logs, n.log)
	n.client = &node.Client{Identity: rathaus, Roots: roots, Directory: cache, Log: n.log, Logger: logger,
		Timeout: 5 * time.Second, Attempts: 2, Backoff: 100 * time.Millisecond, Threshold: 5, Cooldown: 10 * time.Second}
	n.done.Add(1)
	go n.signHeads()
	logger.Info("amtsnetz demo started", "nodes", len(providers), "directory", dirFile)
	return n, parking.Registers{
		Residence: adapters.Residence{C: n.client, Service: demoMemberMelde + "/" + adapters.ServiceResidence},
		Vehicles:  adapters.Vehicles{C: n.client, Service: demoMemberKfz + "/" + adapters.ServiceVehicle},
		Treasury:  adapters.Treasury{C: n.client, Provider: demoMemberKasse},
	}, nil
}

// signHeads signs every log's tree head twice a minute (and once more at
// Close).
func (n *demoAmtsnetz) signHeads() {
	defer n.done.Done()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.sign()
		}
	}
}

func (n *demoAmtsnetz) sign() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, l := range n.logs {
		if _, err := l.SignHead(ctx); err != nil {
			n.logger.Warn("amtsnetz: signing a tree head failed", "err", err)
		}
	}
}

// Close stops the nodes, signs the heads and closes the nodes' databases.
func (n *demoAmtsnetz) Close() {
	if n == nil {
		return
	}
	select {
	case <-n.stop:
		return // closed before
	default:
		close(n.stop)
	}
	n.done.Wait()
	for _, s := range n.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.Shutdown(ctx)
		cancel()
	}
	n.sign()
	for _, l := range n.logs {
		l.Close()
	}
	for _, db := range n.dbs {
		db.Close()
	}
}

// demoPublicKey is the key that verifies Rathaus's log heads (tests).
func (n *demoAmtsnetz) demoPublicKey() crypto.PublicKey { return n.client.Cert.PublicKey }

// memberConfig is Rathaus's Amtsnetz membership in serve
// (RATHAUS_AMTSNETZ_CONFIG).
type memberConfig struct {
	Member    string `json:"member"`
	Cert      string `json:"cert"`
	Key       string `json:"key"`
	CA        string `json:"ca"`
	Directory struct {
		URL   string `json:"url"`
		File  string `json:"file"`
		Grace string `json:"grace"`
	} `json:"directory"`
	// LogRetentionDays: Rathaus's message log records older than this lose
	// their content (msglog.Forget); 0 keeps them.
	LogRetentionDays int `json:"log_retention_days"`
	Registers        struct {
		Residence string `json:"residence"` // service ID, e.g. KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen
		Vehicles  string `json:"vehicles"`  // service ID, e.g. LAND:11:kfz/halter-pruefen
		Treasury  string `json:"treasury"`  // the treasury's member ID
	} `json:"registers"`
}

// amtsnetzMember is Rathaus as an Amtsnetz member in serve: its client,
// its end of the message log, and the goroutine that refreshes the
// directory and signs the log's heads.
type amtsnetzMember struct {
	db            *store.DB
	retentionDays int
	client        *node.Client
	log           *msglog.Log
	cache         *directory.Cache
	stop          chan struct{}
	done          sync.WaitGroup
	logger        *slog.Logger
}

// startAmtsnetzMember reads the membership file and returns the registers
// over the Amtsnetz.
func startAmtsnetzMember(ctx context.Context, file string, db *store.DB, logger *slog.Logger) (*amtsnetzMember, parking.Registers, error) {
	fail := func(err error) (*amtsnetzMember, parking.Registers, error) {
		return nil, parking.Registers{}, fmt.Errorf("RATHAUS_AMTSNETZ_CONFIG %s: %w", file, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fail(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c memberConfig
	if err := dec.Decode(&c); err != nil {
		return fail(err)
	}
	if c.Registers.Residence == "" || c.Registers.Vehicles == "" || c.Registers.Treasury == "" || c.Directory.File == "" {
		return fail(errors.New("registers.residence, registers.vehicles, registers.treasury und directory.file sind nötig"))
	}
	ms, err := loadMembership(ctx, membershipFiles{Member: c.Member, Cert: c.Cert, Key: c.Key, CA: c.CA, DirectoryURL: c.Directory.URL,
		DirectoryFile: c.Directory.File, DirectoryGrace: c.Directory.Grace, Usage: x509.ExtKeyUsageClientAuth}, logger)
	if err != nil {
		return fail(err)
	}
	id, roots, cache, key := ms.id, ms.roots, ms.cache, ms.id.Key
	mlog, err := msglog.Open(ctx, db, key, nil)
	if err != nil {
		return fail(err)
	}
	if c.LogRetentionDays < 0 || c.LogRetentionDays > 36500 {
		return fail(errors.New("log_retention_days: 0 (behalten) bis 36500"))
	}
	m := &amtsnetzMember{log: mlog, cache: cache, stop: make(chan struct{}), logger: logger, db: db, retentionDays: c.LogRetentionDays,
		client: &node.Client{Identity: id, Roots: roots, Directory: cache, Log: mlog, Logger: logger, Timeout: 10 * time.Second,
			Cooldown: 10 * time.Second}}
	m.done.Add(1)
	go m.loop(c.Directory.URL != "")
	logger.Info("amtsnetz member", "member", c.Member, "residence", c.Registers.Residence, "vehicles", c.Registers.Vehicles, "treasury", c.Registers.Treasury)
	return m, parking.Registers{
		Residence: adapters.Residence{C: m.client, Service: c.Registers.Residence},
		Vehicles:  adapters.Vehicles{C: m.client, Service: c.Registers.Vehicles},
		Treasury:  adapters.Treasury{C: m.client, Provider: c.Registers.Treasury},
	}, nil
}

func (m *amtsnetzMember) loop(fetch bool) {
	defer m.done.Done()
	heads, refresh, retention := time.NewTicker(time.Minute), time.NewTicker(5*time.Minute), time.NewTicker(24*time.Hour)
	defer heads.Stop()
	defer refresh.Stop()
	defer retention.Stop()
	forget := func() { forgetExpired(context.Background(), m.db, m.retentionDays, m.logger) }
	forget()
	for {
		select {
		case <-m.stop:
			return
		case <-retention.C:
			forget()
		case <-heads.C:
			if _, err := m.log.SignHead(context.Background()); err != nil {
				m.logger.Warn("amtsnetz: signing the tree head failed", "err", err)
			}
		case <-refresh.C:
			if fetch {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := m.cache.Refresh(ctx); err != nil {
					m.logger.Warn("amtsnetz: directory not fetched; working from the cached copy", "err", err)
				}
				cancel()
			}
		}
	}
}

// Close stops the loop and signs the log's head.
func (m *amtsnetzMember) Close() {
	if m == nil {
		return
	}
	select {
	case <-m.stop:
		return
	default:
		close(m.stop)
	}
	m.done.Wait()
	m.log.SignHead(context.Background())
	m.log.Close()
}
