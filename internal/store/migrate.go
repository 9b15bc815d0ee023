package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations are numbered, forward-only SQL files, one set per engine:
// migrations/<engine>/NNNN_name.sql. Each runs in its own transaction and is
// recorded in schema_migrations. A file that has been released is never
// edited; a change is a new file.
//
//go:embed migrations
var migrationFS embed.FS

// Migration is one embedded migration.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations of engine e in order.
func Migrations(e Engine) ([]Migration, error) {
	dir := path.Join("migrations", string(e))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, ent := range entries {
		name := ent.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations of %s: expected version %d, found %d (gaps and duplicates are not allowed)", e, i+1, m.Version)
		}
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// Migrate applies every embedded migration that has not been applied yet and
// returns how many it applied. On PostgreSQL an advisory lock keeps two
// replicas that start together from applying the same migration twice.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	ms, err := Migrations(db.Engine)
	if err != nil {
		return 0, err
	}
	if _, err := db.write.ExecContext(ctx, createMigrationsTable); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		did := false
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			if db.Engine == Postgres {
				if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7261686175)"); err != nil { // "rathau"
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = $1", m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if did {
			applied++
		}
	}
	return applied, nil
}

// SchemaVersion returns the highest applied migration and the highest
// embedded one. The database is current when they are equal.
func (db *DB) SchemaVersion(ctx context.Context) (applied, embedded int, err error) {
	ms, err := Migrations(db.Engine)
	if err != nil {
		return 0, 0, err
	}
	embedded = len(ms)
	var v sql.NullInt64
	err = db.read.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	if err != nil {
		// A database that was never migrated has no table yet.
		if isUndefinedTable(err) {
			return 0, embedded, nil
		}
		return 0, embedded, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), embedded, nil
}

func isUndefinedTable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no such table") || strings.Contains(s, "SQLSTATE 42P01")
}

// CheckCurrent returns an error unless all embedded migrations are applied
// and the database knows none newer than this binary.
func (db *DB) CheckCurrent(ctx context.Context) error {
	applied, embedded, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case applied < embedded:
		return fmt.Errorf("database schema at version %d, this binary needs %d: run 'rathaus migrate'", applied, embedded)
	case applied > embedded:
		return fmt.Errorf("database schema at version %d is newer than this binary (%d): update Rathaus", applied, embedded)
	}
	return nil
}
