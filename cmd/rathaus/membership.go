package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/directory"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
	"opencode.de/rathaus/rathaus/internal/store"
)

// An Amtsnetz membership as rathaus node and rathaus serve read it from
// their configuration files: the member's certificate and key, the
// network's CA, and the directory.

type membershipFiles struct {
	Member, Cert, Key, CA string
	DirectoryURL          string
	DirectoryFile         string
	DirectoryGrace        string           // e.g. "24h"; "" for 24 h
	Usage                 x509.ExtKeyUsage // what the certificate must allow (server for a node, client for a caller)
}

type membership struct {
	id    node.Identity
	roots *x509.CertPool
	cache *directory.Cache
}

// loadMembership reads the files, checks that the certificate is the
// CA's and names the configured member, and opens the directory: its
// cached file, then a fetch from its URL (a failed fetch works from the
// file); without any valid directory it fails.
func loadMembership(ctx context.Context, f membershipFiles, logger *slog.Logger) (*membership, error) {
	read := func(what, path string) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return b, nil
	}
	certPEM, err := read("cert", f.Cert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := read("key", f.Key)
	if err != nil {
		return nil, err
	}
	caPEM, err := read("ca", f.CA)
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	key, err := pki.ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	ca, err := pki.ParseCertPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{f.Usage}}); err != nil {
		return nil, fmt.Errorf("cert ist nicht von der Zertifizierungsstelle ca ausgestellt: %w", err)
	}
	if id, err := pki.MemberID(cert); err != nil || id != f.Member {
		return nil, fmt.Errorf("cert nennt das Mitglied %q, konfiguriert ist %q", id, f.Member)
	}
	grace := 24 * time.Hour
	if f.DirectoryGrace != "" {
		if grace, err = time.ParseDuration(f.DirectoryGrace); err != nil || grace < 0 {
			return nil, fmt.Errorf("directory.grace %q: erwartet eine Dauer wie 24h", f.DirectoryGrace)
		}
	}
	id := node.Identity{ID: f.Member, Cert: cert, Key: key}
	cache := &directory.Cache{URL: f.DirectoryURL, File: f.DirectoryFile, CA: ca, Grace: grace,
		Client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.ClientTLS(id.TLSCertificate(), roots, "")}}}
	if err := cache.Load(); err != nil && f.DirectoryURL == "" {
		return nil, fmt.Errorf("Verzeichnis: %w", err)
	}
	if f.DirectoryURL != "" {
		if err := cache.Refresh(ctx); err != nil {
			logger.Warn("amtsnetz: directory not fetched; working from the cached copy", "err", err)
		}
	}
	if _, err := cache.Current(); err != nil {
		return nil, err
	}
	return &membership{id: id, roots: roots, cache: cache}, nil
}

// forgetExpired ends the retention of a message log's records older than
// days (0: keep them), logging what it did.
func forgetExpired(ctx context.Context, db *store.DB, days int, logger *slog.Logger) {
	if days == 0 {
		return
	}
	now := time.Now()
	if n, err := msglog.Forget(ctx, db, now.AddDate(0, 0, -days), now); err != nil {
		logger.Warn("amtsnetz: message log retention failed", "err", err)
	} else if n > 0 {
		logger.Info("amtsnetz: message log records past retention cleared", "records", n)
	}
}
