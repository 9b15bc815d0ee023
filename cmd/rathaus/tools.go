package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/config"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/schema"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadToolConfig reads the configuration of a CLI tool; extra registers the
// tool's own flags. Without RATHAUS_DATABASE_URL a tool works on the demo's
// SQLite file, so that the README's first steps need no configuration.
func loadToolConfig(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (*config.Config, []string, error) {
	cfg := config.Defaults(config.Tool)
	cfg.LogLevel = "warn"
	var extras []func(*flag.FlagSet)
	if extra != nil {
		extras = append(extras, extra)
	}
	rest, err := cfg.Load(name, args, getenv, stderr, extras...)
	if err != nil {
		return nil, nil, err
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = cfg.DemoDatabaseURL()
	}
	if err := cfg.Validate(config.Tool); err != nil {
		return nil, nil, err
	}
	return &cfg, rest, nil
}

func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*store.DB, error) {
	return store.Open(ctx, cfg.DatabaseURL, store.Options{UnsafeNoDurability: cfg.UnsafeNoDurability, Logger: logger})
}

// migrateAll applies the migrations of every component (schema.Sets) and
// River's.
func migrateAll(ctx context.Context, db *store.DB, logger *slog.Logger) (int, error) {
	n, err := db.Migrate(ctx, schema.Sets()...)
	if err != nil {
		return n, err
	}
	m, err := jobs.Migrate(ctx, db, logger)
	return n + m, err
}

// checkSchema refuses to work on a database whose schema does not match.
func checkSchema(ctx context.Context, db *store.DB) error {
	if err := db.CheckCurrent(ctx, schema.Sets()...); err != nil {
		return err
	}
	return jobs.CheckCurrent(ctx, db)
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := loadToolConfig("migrate", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := migrateAll(ctx, db, logger)
	if err != nil {
		return err
	}
	applied, _, _ := db.SchemaVersion(ctx)
	fmt.Fprintf(stdout, "%s: %d Migration(en) angewendet, Schema-Version %d\n", db, n, applied)
	return nil
}

func runZonesImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var ars, name, validFrom string
	cfg, rest, err := loadToolConfig("zones import", args, getenv, stderr, func(fs *flag.FlagSet) {
		tenantFlags(fs, &ars, &name)
		fs.StringVar(&validFrom, "valid-from", "", "gültig ab JJJJ-MM-TT (Standard: heute)")
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("erwartet genau eine GeoJSON-Datei, bekommen: %q", rest)
	}
	if err := tenant.ValidateARS(ars); err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	// Legal dates count in German time: "today" at 00:30 in Berlin is
	// already the new day, while UTC still says yesterday.
	y, mo, d := time.Now().In(berlinTime).Date()
	day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	if validFrom != "" {
		if day, err = time.Parse("2006-01-02", validFrom); err != nil {
			return fmt.Errorf("--valid-from %q: erwartet JJJJ-MM-TT", validFrom)
		}
	}
	f, err := os.Open(rest[0])
	if err != nil {
		return err
	}
	defer f.Close()
	db, logger, err := openForImport(ctx, cfg, stderr, ars, name)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := geo.NewService(db, nil, logger)
	n, err := svc.ImportZones(ctx, ars, f, filepath.Base(rest[0]), day)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d Zonen für %s importiert, gültig ab %s\n", n, ars, day.Format("2006-01-02"))
	return nil
}

// tenantFlags registers the flags that name the municipality of an import.
func tenantFlags(fs *flag.FlagSet, ars, name *string) {
	fs.StringVar(ars, "tenant", "", "ARS der Kommune (12 Ziffern)")
	fs.StringVar(name, "name", "", "Name der Kommune (legt sie an, falls es sie noch nicht gibt)")
}

// openForImport opens the database for an import into municipality ars:
// the schema must be current, and the municipality must exist or be
// created with name.
func openForImport(ctx context.Context, cfg *config.Config, stderr io.Writer, ars, name string) (*store.DB, *slog.Logger, error) {
	logger := newLogger(cfg, stderr)
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	if err := checkSchema(ctx, db); err != nil {
		db.Close()
		return nil, nil, err
	}
	if err := ensureTenant(ctx, db, ars, name); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, logger, nil
}

var berlinTime = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err) // time/tzdata is linked in (see internal/geo)
	}
	return loc
}()

func ensureTenant(ctx context.Context, db *store.DB, ars, name string) error {
	if name == "" {
		_, err := tenant.Get(ctx, db.Read(), ars)
		if err != nil {
			return fmt.Errorf("%w (mit --name NAME wird sie angelegt)", err)
		}
		return nil
	}
	return db.Transact(ctx, func(tx *sql.Tx) error {
		return tenant.Ensure(ctx, tx, tenant.Municipality{ARS: ars, Name: name})
	})
}

func runAddressesImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var ars, name string
	cfg, rest, err := loadToolConfig("addresses import", args, getenv, stderr, func(fs *flag.FlagSet) {
		tenantFlags(fs, &ars, &name)
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("erwartet genau eine CSV-Datei, bekommen: %q", rest)
	}
	if err := tenant.ValidateARS(ars); err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	content, err := os.ReadFile(rest[0])
	if err != nil {
		return err
	}
	db, logger, err := openForImport(ctx, cfg, stderr, ars, name)
	if err != nil {
		return err
	}
	defer db.Close()
	// The import is a job: this process works it (a running server on the
	// same database may pick it up instead), and follows its progress.
	svc := geo.NewService(db, nil, logger)
	client, err := startJobs(ctx, db, logger, cfg, 1, nil, svc.Register)
	if err != nil {
		return err
	}
	svc.SetJobs(client)
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client.Stop(stopCtx)
	}()
	id, err := svc.EnqueueAddressImport(ctx, ars, content, filepath.Base(rest[0]))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Adressimport %s eingereiht\n", id)
	run, err := demo.Wait(ctx, svc, id, func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Fertig: %d Adressen übernommen (%s)\n", run.Stats.Kept, run.Stats.Summary())
	return nil
}

// startJobs starts a River client with the workers the features register.
func startJobs(ctx context.Context, db *store.DB, logger *slog.Logger, cfg *config.Config, workers int, periodic []*river.PeriodicJob, registrars ...func(*river.Workers)) (*jobs.Client, error) {
	w := river.NewWorkers()
	for _, register := range registrars {
		register(w)
	}
	client, err := jobs.New(db, w, logger, jobs.Options{MaxWorkers: workers, PollInterval: 200 * time.Millisecond, Periodic: periodic, RescueAfter: cfg.JobRescueAfter})
	if err != nil {
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("start jobs: %w", err)
	}
	return client, nil
}
