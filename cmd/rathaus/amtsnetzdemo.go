package main

import (
	"context"
	"crypto"
	"crypto/x509"
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
	for _, db := range n.dbs {
		db.Close()
	}
}

// demoPublicKey is the key that verifies Rathaus's log heads (tests).
func (n *demoAmtsnetz) demoPublicKey() crypto.PublicKey { return n.client.Cert.PublicKey }
