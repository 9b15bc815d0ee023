package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"opencode.de/rathaus/rathaus/internal/config"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/payment"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/tenant"
	"opencode.de/rathaus/rathaus/internal/vault"
)

// parkingFeature is the Bewohnerparken service as wired for one process:
// the service and the backends it was given.
type parkingFeature struct {
	svc          *parking.Service
	municipality string                // ARS of the citizen pages
	provider     *payment.TestProvider // the test provider, or nil; its pages are mounted under /testzahlung
	regs         *registers.Demo       // the demo registers, or nil
	net          *demoAmtsnetz         // the demo's Amtsnetz the registers run behind, or nil
	member       *amtsnetzMember       // serve: Rathaus as an Amtsnetz member, or nil
	outbox       *mail.Outbox

	// Demo only: the data directory and the API keys kept in it.
	dataDir string
	keys    demoKeys
}

type demoKeys struct{ enforcement, casework string }

// parkingSetup is what the demo and serve choose differently; newParking
// does the wiring both share. A real register adapter (Amtsnetz) or payment
// provider is one more value of registers or payment here.
type parkingSetup struct {
	municipality  string                   // ARS of the citizen pages
	authority     string                   // issuing authority printed on the municipality's permits
	rules         map[string]*rules.Config // by ARS; must hold municipality
	signingKey    *ecdsa.PrivateKey        // P-256; signs the permits' QR tokens
	previousKeys  []*ecdsa.PublicKey       // earlier signing keys: their permits still verify
	registers     string                   // config.ParkingRegistersDemo
	payment       string                   // config.PaymentProviderTest
	paymentSecret []byte                   // signs the payment callbacks
	// specimen prints permits as "MUSTER": a permit that no real register
	// or payment stands behind must not look like a valid one.
	specimen bool
	// publicOutbox: the demo shows every e-mail on /demo/post.
	publicOutbox bool
	// documents seals the documents citizens upload; nil: no uploads.
	documents *vault.Keyring
	// amtsnetzConfig: with registers "amtsnetz", the membership file.
	amtsnetzConfig string
	// amtsnetzDir: the demo registers run behind their own Amtsnetz nodes
	// (keys and certificates in this directory's amtsnetz/); "": in process.
	amtsnetzDir string
	// targetDays is the queue's processing target in working days.
	targetDays int
}

// parkingDeps are the platform parts the service uses.
type parkingDeps struct {
	db     *store.DB
	geo    *geo.Service
	outbox *mail.Outbox
	logger *slog.Logger
	base   string // the server's public URL
}

// newParking wires the Bewohnerparken service.
func newParking(ctx context.Context, d parkingDeps, s parkingSetup) (*parkingFeature, error) {
	if _, ok := s.rules[s.municipality]; !ok {
		return nil, fmt.Errorf("parking: no rule configuration for %s", s.municipality)
	}
	signer, err := documents.NewSigner(s.signingKey, documents.KeyID(&s.signingKey.PublicKey))
	if err != nil {
		return nil, err
	}
	verifyKeys := map[string]*ecdsa.PublicKey{signer.KeyID(): &s.signingKey.PublicKey}
	for _, k := range s.previousKeys {
		verifyKeys[documents.KeyID(k)] = k
	}
	verifier, err := documents.NewVerifier(verifyKeys)
	if err != nil {
		return nil, err
	}
	p := &parkingFeature{municipality: s.municipality, outbox: d.outbox}
	var regs parking.Registers
	switch s.registers {
	case config.ParkingRegistersDemo:
		addrs, err := demo.AddressesInZones()
		if err != nil {
			return nil, err
		}
		p.regs = registers.NewDemo(2026, addrs)
		regs = parking.Registers{Residence: p.regs.Residence(), Vehicles: p.regs.Vehicles(), Treasury: p.regs.Treasury()}
		if s.amtsnetzDir != "" {
			if p.net, regs, err = startDemoAmtsnetz(ctx, s.amtsnetzDir, p.regs, d.db, d.logger); err != nil {
				return nil, err
			}
		}
	case config.ParkingRegistersAmtsnetz:
		if p.member, regs, err = startAmtsnetzMember(ctx, s.amtsnetzConfig, d.db, d.logger); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("parking: unknown registers %q", s.registers)
	}
	var provider payment.Provider
	switch s.payment {
	case config.PaymentProviderTest:
		p.provider = payment.NewTestProvider(s.paymentSecret, d.base+"/testzahlung")
		provider = p.provider
	default:
		return nil, fmt.Errorf("parking: unknown payment provider %q", s.payment)
	}
	p.svc, err = parking.NewService(ctx, parking.Options{
		DB: d.db, Geo: d.geo, Configs: s.rules, Signer: signer, Verifier: verifier, Payments: provider, Mail: d.outbox, Logger: d.logger,
		BaseURL: d.base, Demo: s.specimen, PublicOutbox: s.publicOutbox, Registers: regs, PreviousKeys: s.previousKeys,
	})
	if err != nil {
		return nil, err
	}
	p.svc.Authority[s.municipality] = s.authority
	if s.targetDays > 0 {
		p.svc.TargetWorkingDays = s.targetDays
	}
	p.svc.SetVault(s.documents)
	// A changed rule or fee file becomes an entry of the audit log.
	if n, err := p.svc.RecordRulesInForce(ctx, "system:start", "rathaus"); err != nil {
		return nil, err
	} else if n > 0 {
		d.logger.Info("audit: parking rules in force recorded", "municipalities", n)
	}
	return p, nil
}

// newParkingDemo wires Bewohnerparken as the demo runs it: demo registers,
// the test payment provider with a secret that lives as long as the
// process, the shipped rules and a signing key kept in the data directory.
func newParkingDemo(ctx context.Context, cfg *config.Config, d parkingDeps) (*parkingFeature, error) {
	configs, err := rules.Embedded()
	if err != nil {
		return nil, fmt.Errorf("parking rules: %w", err)
	}
	key, err := loadOrCreateSigningKey(filepath.Join(cfg.DataDir, "permit-signing-key.pem"))
	if err != nil {
		return nil, err
	}
	var secret [32]byte
	rand.Read(secret[:])
	docKeys, err := vault.LoadOrCreate(filepath.Join(cfg.DataDir, "document-key"))
	if err != nil {
		return nil, fmt.Errorf("Dokumentenschlüssel: %w", err)
	}
	p, err := newParking(ctx, d, parkingSetup{
		municipality: demo.Berlin.ARS, authority: "Land Berlin – Straßenverkehrsbehörde (Demo)",
		rules: configs, signingKey: key,
		registers: config.ParkingRegistersDemo, payment: config.PaymentProviderTest, paymentSecret: secret[:],
		specimen: true, publicOutbox: true, documents: docKeys, targetDays: int(cfg.ParkingTargetDays), amtsnetzDir: cfg.DataDir,
	})
	if err != nil {
		return nil, err
	}
	p.dataDir = cfg.DataDir
	return p, nil
}

// newParkingServe wires Bewohnerparken as the operator configured it
// (cfg.Validate has checked the options). It refuses a municipality that
// has no rule configuration or is not in the database, and says on stdout
// and in the log when a backend is not one for production.
func newParkingServe(ctx context.Context, cfg *config.Config, d parkingDeps, stdout io.Writer) (*parkingFeature, error) {
	ars := cfg.ParkingMunicipality
	var configs map[string]*rules.Config
	var err error
	from := "den mitgelieferten Regeln"
	if cfg.ParkingRulesDir == "" {
		configs, err = rules.Embedded()
	} else {
		configs, err = loadRulesDir(cfg.ParkingRulesDir, d.logger)
		from = cfg.ParkingRulesDir
	}
	if err != nil {
		return nil, fmt.Errorf("RATHAUS_PARKING_RULES_DIR: %w", err)
	}
	if _, ok := configs[ars]; !ok {
		have := make([]string, 0, len(configs))
		for a := range configs {
			have = append(have, a)
		}
		slices.Sort(have)
		return nil, fmt.Errorf("RATHAUS_PARKING_MUNICIPALITY %s: keine Regel- und Gebührenkonfiguration in %s (vorhanden: %s)", ars, from, strings.Join(have, ", "))
	}
	if _, err := tenant.Get(ctx, d.db.Read(), ars); err != nil {
		if errs.KindOf(err) == errs.NotFound {
			return nil, fmt.Errorf("RATHAUS_PARKING_MUNICIPALITY %s: die Kommune ist nicht in der Datenbank; zuerst ihre Zonen und Adressen importieren:\n"+
				"  rathaus zones import --tenant %s --name NAME ZONEN.geojson\n  rathaus addresses import --tenant %s ADRESSEN.csv", ars, ars, ars)
		}
		return nil, err
	}
	key, err := documents.ParsePrivateKeyPEM([]byte(cfg.ParkingSigningKey))
	if err != nil {
		return nil, fmt.Errorf("RATHAUS_PARKING_SIGNING_KEY: %w", err)
	}
	var previous []*ecdsa.PublicKey
	if cfg.ParkingPreviousKeys != "" {
		if previous, err = documents.ParsePublicKeysPEM([]byte(cfg.ParkingPreviousKeys)); err != nil {
			return nil, fmt.Errorf("RATHAUS_PARKING_PREVIOUS_KEYS: %w", err)
		}
	}
	setup := parkingSetup{previousKeys: previous,
		municipality: ars, authority: cfg.ParkingAuthority, rules: configs, signingKey: key,
		registers: cfg.ParkingRegisters, payment: cfg.PaymentProvider, paymentSecret: []byte(cfg.PaymentSecret),
		targetDays: int(cfg.ParkingTargetDays), amtsnetzConfig: cfg.AmtsnetzConfig,
	}
	if cfg.DocumentKeys != "" {
		if setup.documents, err = vault.Parse(cfg.DocumentKeys); err != nil {
			return nil, fmt.Errorf("RATHAUS_DOCUMENT_KEYS: %w", err)
		}
	} else {
		d.logger.Warn("no RATHAUS_DOCUMENT_KEYS: citizens cannot upload documents")
		fmt.Fprintln(stdout, "HINWEIS: Ohne RATHAUS_DOCUMENT_KEYS können Antragstellende keine Unterlagen hochladen.")
	}
	if setup.registers == config.ParkingRegistersDemo {
		setup.specimen = true
		d.logger.Warn("Bewohnerparken runs on the synthetic demo registers: no real register queries, not for production")
		fmt.Fprintln(stdout, "ACHTUNG: Demo-Register – Bewohnerparken prüft gegen erfundene Personen und Fahrzeuge, keine echten Registerabfragen. Nicht für den Produktivbetrieb.")
	}
	if setup.payment == config.PaymentProviderTest {
		setup.specimen = true
		d.logger.Warn("Bewohnerparken uses the test payment provider: no money moves, permits are specimens, not for production")
		fmt.Fprintln(stdout, "ACHTUNG: Testzahlung – es fließt kein Geld, Ausweise tragen „MUSTER“. Nicht für den Produktivbetrieb.")
	}
	p, err := newParking(ctx, d, setup)
	if err != nil {
		return nil, err
	}
	d.logger.Info("Bewohnerparken offered", "municipality", ars, "registers", setup.registers, "payment", setup.payment,
		"signing_key_id", documents.KeyID(&key.PublicKey), "url", d.base+"/bewohnerparken")
	return p, nil
}

// loadRulesDir loads the operator's rule directory (rules.LoadDir) and logs
// what loads but is legally doubtful.
func loadRulesDir(dir string, logger *slog.Logger) (map[string]*rules.Config, error) {
	configs, warnings, err := rules.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	for ars, ws := range warnings {
		for _, w := range ws {
			logger.Warn("parking rules", "municipality", ars, "warning", w.String())
		}
	}
	return configs, nil
}

// seed creates the demo's API keys once and keeps them in the data
// directory (demo only: a real installation shows a key exactly once, see
// rathaus apikey create).
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

// clerkText is the demo's line for the clerk pages (staff sign-in, see
// signIn.text).
func (p *parkingFeature) clerkText(base string) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("  %s/sachbearbeitung/bewohnerparken  Sachbearbeitung: Anträge in Prüfung (Anmeldung siehe unten)\n", base)
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
