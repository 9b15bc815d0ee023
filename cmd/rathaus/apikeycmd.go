package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"opencode.de/rathaus/rathaus/internal/config"

	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

const apikeyUsage = "rathaus apikey create --role enforcement|casework --municipality ARS --name NAME"

// apikeyCommands names every key command, for a call without one.
const apikeyCommands = apikeyUsage + ", rathaus apikey list [--municipality ARS] oder rathaus apikey revoke ID"

// runAPIKeyCreate creates an API key of the Bewohnerparken API for one
// municipality and role (enforcement: scan cars and handhelds; casework:
// the clerks' queue and decisions) and prints it once on stdout — alone on
// its line, so that a script can capture it. Rathaus keeps only its hash:
// a lost key is replaced by a new one. It uses the database configuration
// of migrate.
func runAPIKeyCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var role, ars, name string
	cfg, rest, err := loadToolConfig("apikey create", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&role, "role", "", "Rolle: enforcement (Überwachung) oder casework (Sachbearbeitung)")
		fs.StringVar(&ars, "municipality", "", "ARS der Kommune (12 Ziffern)")
		fs.StringVar(&name, "name", "", "Name des Schlüssels, z. B. das Gerät oder die Stelle, die ihn bekommt")
	})
	if err != nil {
		return err
	}
	if len(rest) != 0 || role == "" || ars == "" || name == "" {
		return errors.New("erwartet: " + apikeyUsage)
	}
	if role != parking.RoleEnforcement && role != parking.RoleCasework {
		return fmt.Errorf("--role %q: erlaubt sind %s und %s", role, parking.RoleEnforcement, parking.RoleCasework)
	}
	if err := tenant.ValidateARS(ars); err != nil {
		return fmt.Errorf("--municipality: %w", err)
	}
	svc, done, err := keyService(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer done()
	key, err := svc.CreateAPIKey(ctx, ars, role, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintf(stderr, "API-Schlüssel %q (%s) für %s angelegt. Er wird nur dieses eine Mal angezeigt; Rathaus speichert nur seinen Hash.\n", name, role, ars)
	return nil
}

// keyService opens the database of cfg and a parking service on it for
// the key commands; done closes both.
func keyService(ctx context.Context, cfg *config.Config, stderr io.Writer) (*parking.Service, func(), error) {
	logger := newLogger(cfg, stderr)
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	if err := checkSchema(ctx, db); err != nil {
		db.Close()
		return nil, nil, err
	}
	// The service needs an outbox to exist; the key commands send no e-mail.
	outbox, err := mail.New(db, mail.Options{Logger: logger})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	svc, err := parking.NewService(ctx, parking.Options{DB: db, Mail: outbox, Logger: logger})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return svc, func() { svc.Close(); db.Close() }, nil
}

// runAPIKeyList prints the keys (never their secrets) as a table: id,
// municipality, role, created, revoked, name.
func runAPIKeyList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var ars string
	cfg, rest, err := loadToolConfig("apikey list", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&ars, "municipality", "", "nur die Schlüssel dieser Kommune (ARS)")
	})
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("erwartet: rathaus apikey list [--municipality ARS]")
	}
	if ars != "" {
		if err := tenant.ValidateARS(ars); err != nil {
			return fmt.Errorf("--municipality: %w", err)
		}
	}
	svc, done, err := keyService(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer done()
	keys, err := svc.ListAPIKeys(ctx, ars)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKOMMUNE\tROLLE\tANGELEGT\tWIDERRUFEN\tNAME")
	for _, k := range keys {
		revoked := "–"
		if k.Revoked != nil {
			revoked = k.Revoked.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Municipality, k.Role, k.Created.UTC().Format(time.RFC3339), revoked, k.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintln(stderr, "Keine API-Schlüssel.")
	}
	return nil
}

// runAPIKeyRevoke revokes one key by its id (the part of the key before
// the dot, as apikey list shows it).
func runAPIKeyRevoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, err := loadToolConfig("apikey revoke", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("erwartet: rathaus apikey revoke ID")
	}
	id, _, _ := strings.Cut(rest[0], ".") // a pasted full key names its id first
	svc, done, err := keyService(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer done()
	k, err := svc.RevokeAPIKey(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API-Schlüssel %s (%q, %s, %s) widerrufen. Laufende Server lehnen ihn spätestens nach %s ab.\n",
		k.ID, k.Name, k.Role, k.Municipality, parking.KeyCacheTTL)
	return nil
}
