// Package store opens Rathaus's database — embedded SQLite or PostgreSQL,
// chosen by URL — checks that the database is durable, applies the
// migration sets that components embed (see MigrationSet), and runs
// transactions.
//
// Both engines are reached through database/sql (modernc.org/sqlite, pure Go;
// pgx through its stdlib adapter), so feature packages write one set of plain
// SQL with $1-style placeholders, which both engines accept. SQL is portable
// where it can be; where it cannot, a feature switches on DB.Engine.
//
// SQLite has one writer: the write pool holds exactly one connection and
// begins transactions IMMEDIATE, so writers queue instead of failing with
// SQLITE_BUSY; reads go to a separate pool of read-only connections. On
// PostgreSQL both pools are the same.
//
// The package does not hold domain queries nor any component's schema:
// those live with their feature.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Engine names a storage engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Options tune Open.
type Options struct {
	// UnsafeNoDurability lets Rathaus run on a database that may lose
	// committed transactions (PostgreSQL fsync=off or synchronous_commit=off,
	// SQLite synchronous below FULL or a journal mode other than WAL). Only
	// for throwaway test databases.
	UnsafeNoDurability bool
	// MaxConns bounds the PostgreSQL pool and the SQLite read pool
	// (default: 4 × GOMAXPROCS, at least 4).
	MaxConns int
	// Logger receives the loud warning when durability checks are off.
	Logger *slog.Logger
}

// DB is an open database.
type DB struct {
	Engine Engine
	write  *sql.DB
	read   *sql.DB
	dsn    string // redacted, for messages
}

// Open opens the database named by rawURL: "sqlite:PATH" (also
// "sqlite:///abs/path" and "sqlite:PATH?_pragma=..."; PATH is
// percent-decoded, see SQLiteURL), or "postgres://..." /
// "postgresql://...". It checks connectivity and durability before it
// returns.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = max(4, 4*runtime.GOMAXPROCS(0))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		db, err = openSQLite(rawURL, opts)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err = openPostgres(rawURL, opts)
	default:
		return nil, errs.E(errs.Invalid, "Datenbank-URL %q: erwartet sqlite:PFAD oder postgres://…", Redact(rawURL))
	}
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pingCtx); err != nil {
		db.Close()
		return nil, errs.Wrap(errs.Unavailable, err, "Datenbank %s nicht erreichbar", db.dsn)
	}
	if err := db.checkDurability(ctx); err != nil {
		if !opts.UnsafeNoDurability {
			db.Close()
			return nil, err
		}
		opts.Logger.Warn("DURABILITY CHECK DISABLED: committed data may be lost on a crash; never use this in production",
			"reason", err.Error(), "flag", "--unsafe-no-durability")
	}
	return db, nil
}

func openSQLite(rawURL string, opts Options) (*DB, error) {
	rest := strings.TrimPrefix(rawURL, "sqlite:")
	rest = strings.TrimPrefix(rest, "//")
	escaped, query, _ := strings.Cut(rest, "?")
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, errs.E(errs.Invalid, "SQLite-URL %q: der Pfad ist prozentkodiert, ein %%-Zeichen wird als %%25 geschrieben", rawURL)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, errs.E(errs.Invalid, "SQLite-URL %q: ein Dateipfad wird gebraucht (z. B. sqlite:rathaus-data/rathaus.db)", rawURL)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("create database directory: %w", err)
	}
	// Pragmas run on every new connection. synchronous=FULL makes a commit
	// durable in WAL mode. Which of two values for the same pragma wins is
	// the driver's business (it sorts _pragma values, and applies
	// _journal_mode and _synchronous after them); checkDurability judges
	// what the connection ended up with.
	base := "_time_format=sqlite&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)"
	if query != "" {
		base += "&" + query
	}
	file := sqliteFileURI(abs)
	// temp_store(2): the statement journals of savepoints (a group commit
	// runs each submission in one) stay in memory instead of spilling to a
	// temporary file; durability is the WAL's business, not theirs.
	write, err := openSQLiteDB(file + "?" + base + "&_txlock=immediate&_pragma=temp_store(2)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := openSQLiteDB(file + "?" + base + "&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	read.SetMaxOpenConns(opts.MaxConns)
	read.SetMaxIdleConns(opts.MaxConns)
	return &DB{Engine: SQLite, write: write, read: read, dsn: "sqlite:" + path}, nil
}

// sqliteFileURI returns the SQLite URI ("file:///…") of the absolute path
// abs. The driver hands it to SQLite, which splits it at the first '?' and
// '#' and decodes %HH escapes in the path: escaping makes every file name
// work, spaces, '?', '#' and '%' included.
func sqliteFileURI(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") { // a Windows drive letter
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// SQLiteURL returns the database URL of the SQLite file at path, for any
// file name: Open percent-decodes the path of a sqlite: URL, so '%' (and
// '?', which would start the parameters) are escaped here.
func SQLiteURL(path string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	if strings.HasPrefix(p, "//") { // Open trims one leading "//"
		return "sqlite://" + p
	}
	return "sqlite:" + p
}

func openPostgres(rawURL string, opts Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgx's error quotes the URL and redacts it only as well as it can
		// parse it: it stays out of the message.
		return nil, errs.E(errs.Invalid, "PostgreSQL-URL %s ist ungültig%s", Redact(rawURL), passwordHint(rawURL))
	}
	// Where pgx and Redact disagree about the password ("postgres://app:12?x@db"
	// is host "app", port 12 to pgx), parts of it would reach logs as host,
	// port or parameter: refuse such a URL.
	if pw, ok := urlPassword(rawURL); ok && pw != cfg.Password {
		return nil, errs.E(errs.Invalid, "PostgreSQL-URL %s ist mehrdeutig%s", Redact(rawURL), passwordHint(rawURL))
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{Engine: Postgres, write: db, read: db, dsn: Redact(rawURL)}, nil
}

// passwordHint explains how to write a password with special characters.
func passwordHint(rawURL string) string {
	_, rest, _ := strings.Cut(rawURL, "://")
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return ""
	}
	if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
		if _, err := url.PathUnescape(pw); err != nil || strings.ContainsAny(pw, "#/?@") {
			return ": Sonderzeichen im Passwort (# / ? @ %) werden prozentkodiert geschrieben, z. B. # als %23, @ als %40, % als %25"
		}
	}
	return ""
}

// String returns the redacted data source.
func (db *DB) String() string { return db.dsn }

// Read returns the pool for read-only queries.
func (db *DB) Read() *sql.DB { return db.read }

// Write returns the pool for writes. On SQLite it has one connection: never
// use it while a transaction from Transact is open in the same goroutine.
func (db *DB) Write() *sql.DB { return db.write }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return err
	}
	if db.read != db.write {
		return db.read.PingContext(ctx)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Transact runs fn in a write transaction and commits it when fn returns
// nil; otherwise, and on panic, it rolls back. fn must use only tx.
func (db *DB) Transact(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "Datenbank nicht erreichbar")
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// checkDurability refuses databases that may lose committed transactions.
func (db *DB) checkDurability(ctx context.Context) error {
	switch db.Engine {
	case SQLite:
		// Only WAL with synchronous=FULL is durable and lets readers run
		// beside the writer; journal_mode=OFF or MEMORY can lose or corrupt
		// committed data on a crash.
		var mode string
		if err := db.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			return fmt.Errorf("read sqlite journal_mode: %w", err)
		}
		if !strings.EqualFold(mode, "wal") {
			return errs.E(errs.Invalid, "SQLite läuft mit journal_mode=%s statt WAL: bestätigte Daten können bei einem Absturz verloren gehen", mode)
		}
		var level int
		if err := db.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level); err != nil {
			return fmt.Errorf("read sqlite synchronous: %w", err)
		}
		if level < 2 { // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
			return errs.E(errs.Invalid, "SQLite läuft mit synchronous=%d (unter FULL): bestätigte Daten können bei einem Absturz verloren gehen", level)
		}
	case Postgres:
		for _, setting := range []string{"fsync", "synchronous_commit"} {
			var v string
			if err := db.write.QueryRowContext(ctx, "SELECT current_setting($1)", setting).Scan(&v); err != nil {
				return fmt.Errorf("read postgres %s: %w", setting, err)
			}
			if v == "off" {
				return errs.E(errs.Invalid, "PostgreSQL läuft mit %s=off: bestätigte Daten können bei einem Absturz verloren gehen", setting)
			}
		}
	}
	return nil
}
