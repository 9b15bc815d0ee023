package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/config"
	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/store"
)

const auditUsage = "rathaus audit verify [--key ÖFFENTLICH.pem] [--data VERZEICHNIS | --database-url URL]"

// demoAuditKeyFile is where rathaus demo keeps the key of its audit
// checkpoints.
const demoAuditKeyFile = "audit-signing-key.pem"

// runAuditVerify checks the audit log of a database (internal/audit): the
// hash chain, the head and the signed checkpoints. It prints the report
// and fails when the log is broken, naming the first broken entry.
// Signatures are checked with --key (the public key, or the private key
// file); without it, on the demo's database, with the demo's key from the
// data directory; otherwise only the chain is checked, and the report
// says so.
func runAuditVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var keyFile string
	cfg, rest, err := loadToolConfig("audit verify", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&keyFile, "key", "", "öffentlicher Schlüssel der Prüfpunkte (PEM); ohne: der Demo-Schlüssel im Datenverzeichnis, falls vorhanden")
	})
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("erwartet: " + auditUsage)
	}
	pub, from, err := auditPublicKey(cfg, keyFile)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkSchema(ctx, db); err != nil {
		return err
	}
	if from != "" {
		fmt.Fprintf(stderr, "Signaturen werden mit dem Schlüssel aus %s geprüft.\n", from)
	}
	r, err := audit.Verify(ctx, db.Read(), pub)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r)
	if r.Broken != nil {
		return fmt.Errorf("%w at entry %d", audit.ErrBroken, r.Broken.Seq)
	}
	return nil
}

// auditPublicKey is the key from --key (a public or a private key PEM), or
// the demo's when the database is the demo's; nil without either.
func auditPublicKey(cfg *config.Config, keyFile string) (*ecdsa.PublicKey, string, error) {
	if keyFile == "" {
		if cfg.DatabaseURL != cfg.DemoDatabaseURL() {
			return nil, "", nil
		}
		keyFile = filepath.Join(cfg.DataDir, demoAuditKeyFile)
		if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("--key: %w", err)
	}
	if pub, err := documents.ParsePublicKeyPEM(b); err == nil {
		return pub, keyFile, nil
	}
	key, err := documents.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, "", fmt.Errorf("--key %s: weder ein öffentlicher noch ein privater ECDSA-Schlüssel auf P-256 (PEM)", keyFile)
	}
	return &key.PublicKey, keyFile, nil
}

// auditSigner is the signer of the audit checkpoints: the demo's key from
// its data directory, or the operator's RATHAUS_AUDIT_SIGNING_KEY; nil,
// with a warning, when serve has none.
func auditSigner(m mode, cfg *config.Config, db *store.DB, logger *slog.Logger, stdout io.Writer) (*audit.Signer, error) {
	var key *ecdsa.PrivateKey
	var err error
	switch {
	case m == modeDemo:
		key, err = loadOrCreateSigningKey(filepath.Join(cfg.DataDir, demoAuditKeyFile))
	case cfg.AuditSigningKey != "":
		key, err = documents.ParsePrivateKeyPEM([]byte(cfg.AuditSigningKey))
	default:
		logger.Warn("no RATHAUS_AUDIT_SIGNING_KEY: the audit log is protected by its hash chain only, without signed checkpoints")
		fmt.Fprintln(stdout, "HINWEIS: Ohne RATHAUS_AUDIT_SIGNING_KEY sichert nur die Hash-Kette das Audit-Protokoll; signierte Prüfpunkte fehlen.")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Schlüssel des Audit-Protokolls: %w", err)
	}
	return &audit.Signer{DB: db, Key: key, Logger: logger}, nil
}
