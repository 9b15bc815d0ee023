package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

const apikeyUsage = "rathaus apikey create --role enforcement|casework --municipality ARS --name NAME"

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
	logger := newLogger(cfg, stderr)
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := checkSchema(ctx, db); err != nil {
		return err
	}
	// The service needs an outbox to exist; creating a key sends no e-mail.
	outbox, err := mail.New(db, mail.Options{Logger: logger})
	if err != nil {
		return err
	}
	svc, err := parking.NewService(ctx, parking.Options{DB: db, Mail: outbox, Logger: logger})
	if err != nil {
		return err
	}
	key, err := svc.CreateAPIKey(ctx, ars, role, name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintf(stderr, "API-Schlüssel %q (%s) für %s angelegt. Er wird nur dieses eine Mal angezeigt; Rathaus speichert nur seinen Hash.\n", name, role, ars)
	return nil
}
