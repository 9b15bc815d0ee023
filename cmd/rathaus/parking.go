package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"opencode.de/rathaus/rathaus/internal/config"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/payment"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
)

// parkingFeature is the Bewohnerparken service as the demo wires it: demo
// registers, the test payment provider, a signing key in the data
// directory.
type parkingFeature struct {
	svc      *parking.Service
	provider *payment.TestProvider
	regs     *registers.Demo
	outbox   *mail.Outbox
	dataDir  string
	keys     demoKeys
}

type demoKeys struct{ enforcement, casework string }

func newParkingDemo(ctx context.Context, cfg *config.Config, db *store.DB, geoSvc *geo.Service, outbox *mail.Outbox, logger *slog.Logger, base string) (*parkingFeature, error) {
	configs, err := rules.Embedded()
	if err != nil {
		return nil, fmt.Errorf("parking rules: %w", err)
	}
	key, err := loadOrCreateSigningKey(filepath.Join(cfg.DataDir, "permit-signing-key.pem"))
	if err != nil {
		return nil, err
	}
	signer, err := documents.NewSigner(key, documents.KeyID(&key.PublicKey))
	if err != nil {
		return nil, err
	}
	verifier, err := documents.NewVerifier(map[string]*ecdsa.PublicKey{signer.KeyID(): &key.PublicKey})
	if err != nil {
		return nil, err
	}
	addrs, err := demo.AddressesInZones()
	if err != nil {
		return nil, err
	}
	regs := registers.NewDemo(2026, addrs)
	var secret [32]byte
	rand.Read(secret[:])
	provider := payment.NewTestProvider(secret[:], base+"/testzahlung")
	svc, err := parking.NewService(ctx, parking.Options{
		DB: db, Geo: geoSvc, Configs: configs, Signer: signer, Verifier: verifier, Payments: provider, Mail: outbox, Logger: logger,
		BaseURL: base, Demo: true,
		Registers: parking.Registers{Residence: regs.Residence(), Vehicles: regs.Vehicles(), Treasury: regs.Treasury()},
	})
	if err != nil {
		return nil, err
	}
	svc.Authority[demo.Berlin.ARS] = "Land Berlin – Straßenverkehrsbehörde (Demo)"
	return &parkingFeature{svc: svc, provider: provider, regs: regs, outbox: outbox, dataDir: cfg.DataDir}, nil
}

// seed creates the demo's API keys once and keeps them in the data
// directory (demo only: a real installation shows a key exactly once).
func (p *parkingFeature) seed(ctx context.Context, say func(string, ...any)) error {
	if p == nil {
		return nil
	}
	file := filepath.Join(p.dataDir, "demo-api-keys.txt")
	b, err := os.ReadFile(file)
	if err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) == 2 {
			p.keys = demoKeys{enforcement: strings.TrimPrefix(lines[0], "enforcement="), casework: strings.TrimPrefix(lines[1], "casework=")}
			return nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if p.keys.enforcement, err = p.svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleEnforcement, "Demo-Scanfahrzeug"); err != nil {
		return err
	}
	if p.keys.casework, err = p.svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleCasework, "Demo-Sachbearbeitung"); err != nil {
		return err
	}
	say("Demo-API-Schlüssel angelegt (%s)", file)
	return os.WriteFile(file, []byte("enforcement="+p.keys.enforcement+"\ncasework="+p.keys.casework+"\n"), 0o600)
}

func (p *parkingFeature) keysText() string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("  API-Schlüssel (Demo): Überwachung %s\n                        Sachbearbeitung %s\n", p.keys.enforcement, p.keys.casework)
}

// loadOrCreateSigningKey reads the permit signing key (PEM), creating a
// new P-256 key on first use.
func loadOrCreateSigningKey(file string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(file)
	if err == nil {
		return documents.ParsePrivateKeyPEM(b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key, err := documents.GenerateKey()
	if err != nil {
		return nil, err
	}
	pemBytes, err := documents.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, pemBytes, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}
