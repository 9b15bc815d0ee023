package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/adapters"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
	"opencode.de/rathaus/rathaus/internal/config"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/vault"
)

// rathaus node: one organisation's Amtsnetz gateway as a process of its
// own. It serves the organisation's services to the members the signed
// directory allows, forwards each request to the organisation's HTTP
// backend, and logs every message in its own database. The directory is
// read from its file at start and fetched from its URL every five
// minutes (kept in the file; used past its validity for the grace period
// when the directory server is away); tree heads are signed every minute
// and at shutdown.

// nodeConfig is the node's configuration file (JSON).
type nodeConfig struct {
	Member    string `json:"member"` // CLASS:CODE[:subsystem]
	Cert      string `json:"cert"`   // member certificate (PEM)
	Key       string `json:"key"`    // its private key (PEM, mode 0600)
	CA        string `json:"ca"`     // the Amtsnetz CA certificate (PEM)
	Listen    string `json:"listen"` // host:port
	Directory struct {
		URL   string `json:"url"`   // where the signed directory is served ("" : file only)
		File  string `json:"file"`  // the cached copy
		Grace string `json:"grace"` // e.g. "24h"
	} `json:"directory"`
	Log struct {
		DatabaseURL string `json:"database_url"` // sqlite:PATH or postgres://…
		BodyKeys    string `json:"body_keys"`    // file with RATHAUS_DOCUMENT_KEYS-style keys: bodies kept sealed; "": not kept
		// RetentionDays: records older than this lose their content (the
		// tree stays verifiable, msglog.Forget); 0 keeps them.
		RetentionDays int `json:"retention_days"`
	} `json:"log"`
	Services map[string]struct {
		HTTP string `json:"http"` // the backend's base URL; requests go to URL/<service code>
		// CSV: for offices without an API, the answer comes from a CSV
		// export of the register (adapters.CSVBackend).
		CSV *struct {
			File string `json:"file"`
			Kind string `json:"kind"` // melderegister or fahrzeugregister
		} `json:"csv"`
		// SQL: the answer comes from a table or view of the office's
		// database (adapters.SQLBackend).
		SQL *struct {
			DatabaseURL string `json:"database_url"`
			Table       string `json:"table"`
			Kind        string `json:"kind"` // melderegister or fahrzeugregister
		} `json:"sql"`
	} `json:"services"`
}

func readNodeConfig(path string) (*nodeConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var c nodeConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var p []string
	if err := pki.ValidMemberID(c.Member); err != nil {
		p = append(p, err.Error())
	}
	if c.Cert == "" || c.Key == "" || c.CA == "" {
		p = append(p, "cert, key und ca sind nötig")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p = append(p, fmt.Sprintf("listen %q: erwartet host:port", c.Listen))
	}
	if c.Directory.File == "" {
		p = append(p, "directory.file ist nötig (die zwischengespeicherte Fassung)")
	}
	if c.Log.DatabaseURL == "" {
		p = append(p, "log.database_url ist nötig")
	}
	if c.Log.RetentionDays < 0 || c.Log.RetentionDays > 36500 {
		p = append(p, "log.retention_days: 0 (behalten) bis 36500")
	}
	if len(c.Services) == 0 {
		p = append(p, "services: mindestens ein Dienst")
	}
	for code, s := range c.Services {
		set := 0
		for _, b := range []bool{s.HTTP != "", s.CSV != nil, s.SQL != nil} {
			if b {
				set++
			}
		}
		switch {
		case set > 1:
			p = append(p, fmt.Sprintf("services.%s: genau eins von http, csv und sql", code))
		case s.SQL != nil:
			if s.SQL.DatabaseURL == "" || s.SQL.Table == "" || (s.SQL.Kind != "melderegister" && s.SQL.Kind != "fahrzeugregister") {
				p = append(p, fmt.Sprintf("services.%s.sql: database_url, table und kind (melderegister oder fahrzeugregister) sind nötig", code))
			}
		case s.CSV != nil:
			if s.CSV.File == "" || (s.CSV.Kind != "melderegister" && s.CSV.Kind != "fahrzeugregister") {
				p = append(p, fmt.Sprintf("services.%s.csv: file und kind (melderegister oder fahrzeugregister) sind nötig", code))
			}
		case !strings.HasPrefix(s.HTTP, "http://") && !strings.HasPrefix(s.HTTP, "https://"):
			p = append(p, fmt.Sprintf("services.%s.http: erwartet eine http(s)-URL", code))
		}
	}
	if len(p) > 0 {
		return nil, errors.New("Knotenkonfiguration ungültig:\n  " + strings.Join(p, "\n  "))
	}
	return &c, nil
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "Konfigurationsdatei des Knotens (JSON)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgFile == "" || fs.NArg() != 0 {
		return errors.New("erwartet: rathaus node --config KNOTEN.json")
	}
	c, err := readNodeConfig(*cfgFile)
	if err != nil {
		return err
	}
	lcfg := config.Defaults(config.Tool)
	lcfg.LogFormat = "json"
	logger := newLogger(&lcfg, stderr).With("node", c.Member)
	m, err := loadMembership(ctx, membershipFiles{Member: c.Member, Cert: c.Cert, Key: c.Key, CA: c.CA, DirectoryURL: c.Directory.URL,
		DirectoryFile: c.Directory.File, DirectoryGrace: c.Directory.Grace, Usage: x509.ExtKeyUsageServerAuth}, logger)
	if err != nil {
		return err
	}
	cache, roots, key := m.cache, m.roots, m.id.Key
	db, err := store.Open(ctx, c.Log.DatabaseURL, store.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx, msglog.Migrations); err != nil {
		return err
	}
	var bodies *vault.Keyring
	if c.Log.BodyKeys != "" {
		b, err := os.ReadFile(c.Log.BodyKeys)
		if err != nil {
			return err
		}
		if bodies, err = vault.Parse(string(b)); err != nil {
			return fmt.Errorf("log.body_keys: %w", err)
		}
	}
	mlog, err := msglog.Open(ctx, db, key, bodies)
	if err != nil {
		return err
	}
	defer mlog.Close()
	backends := map[string]node.Backend{}
	for code, s := range c.Services {
		if s.CSV != nil {
			if backends[code], err = adapters.CSVBackend(s.CSV.Kind, s.CSV.File); err != nil {
				return fmt.Errorf("services.%s.csv: %w", code, err)
			}
			continue
		}
		if s.SQL != nil {
			if backends[code], err = adapters.SQLBackend(ctx, s.SQL.Kind, s.SQL.DatabaseURL, s.SQL.Table); err != nil {
				return fmt.Errorf("services.%s.sql: %w", code, err)
			}
			continue
		}
		backends[code] = node.HTTPBackend{URL: s.HTTP, Client: &http.Client{Timeout: 20 * time.Second}}
	}
	id := m.id
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: &node.Provider{Identity: id, Directory: cache, Log: mlog, Backends: backends, Logger: logger},
		TLSConfig: id.ServerTLS(roots), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(stdout, "Amtsnetz-Knoten %s hört auf https://%s (%d Dienste, Protokoll: %d Einträge)\n", c.Member, ln.Addr(), len(backends), mlog.Size())
	heads, refresh, retention := time.NewTicker(time.Minute), time.NewTicker(5*time.Minute), time.NewTicker(24*time.Hour)
	defer heads.Stop()
	defer refresh.Stop()
	defer retention.Stop()
	forget := func() { forgetExpired(ctx, db, c.Log.RetentionDays, logger) }
	forget()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			srv.Shutdown(sctx)
			cancel()
			_, err := mlog.SignHead(context.Background())
			return err
		case err := <-errc:
			return err
		case <-heads.C:
			if _, err := mlog.SignHead(ctx); err != nil {
				logger.Warn("amtsnetz: signing the tree head failed", "err", err)
			}
		case <-retention.C:
			forget()
		case <-refresh.C:
			if c.Directory.URL != "" {
				if err := cache.Refresh(ctx); err != nil {
					logger.Warn("amtsnetz: directory not fetched; working from the cached copy", "err", err)
				}
			}
		}
	}
}
