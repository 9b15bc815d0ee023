package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// MigrationSet is the schema of one component: numbered, forward-only SQL
// files, one directory per engine, with the same numbers and names in
// both:
//
//	sqlite/0001_name.sql
//	postgres/0001_name.sql
//
// A component (a feature folder) embeds its migrations and exports its
// set; the binary lists all sets, in dependency order, in one place and
// passes them to Migrate and CheckCurrent. Each migration runs in its own
// transaction and is recorded in schema_migrations under the component's
// name. A migration that has been released is never edited; a change is a
// new file with the next number.
type MigrationSet struct {
	// Component names the set in schema_migrations ("tenant", "geo"). It
	// never changes once released.
	Component string
	// FS holds the sqlite/ and postgres/ directories.
	FS fs.FS
}

// Migration is one migration of a set.
type Migration struct {
	Component string
	Version   int
	Name      string
	SQL       string
}

var engines = []Engine{SQLite, Postgres}

// Migrations returns the set's migrations for engine e in order. It fails
// when a file name is not NNNN_name.sql, when the numbers do not run 1, 2,
// 3… without gaps, or when the engines' directories disagree on numbers
// and names: a migration written for one engine only is a bug.
func (s MigrationSet) Migrations(e Engine) ([]Migration, error) {
	if !validComponent(s.Component) {
		return nil, fmt.Errorf("migration set %q: component must be lower-case letters, digits and _", s.Component)
	}
	if s.FS == nil {
		return nil, fmt.Errorf("migration set %s: no files", s.Component)
	}
	var ms []Migration
	for _, engine := range engines {
		list, err := s.list(engine)
		if err != nil {
			return nil, err
		}
		if ms == nil {
			ms = list
			continue
		}
		if !slices.EqualFunc(ms, list, func(a, b Migration) bool { return a.Version == b.Version && a.Name == b.Name }) {
			return nil, fmt.Errorf("migration set %s: %s and %s have different migrations (%s / %s)",
				s.Component, engines[0], engine, names(ms), names(list))
		}
	}
	if !slices.Contains(engines, e) {
		return nil, fmt.Errorf("migration set %s: unknown engine %q", s.Component, e)
	}
	for i := range ms {
		b, err := fs.ReadFile(s.FS, path.Join(string(e), fileName(ms[i])))
		if err != nil {
			return nil, fmt.Errorf("migration set %s: %w", s.Component, err)
		}
		ms[i].SQL = string(b)
	}
	return ms, nil
}

// list reads the names of the migrations of engine e, in order.
func (s MigrationSet) list(e Engine) ([]Migration, error) {
	entries, err := fs.ReadDir(s.FS, string(e))
	if err != nil {
		return nil, fmt.Errorf("migration set %s: %w", s.Component, err)
	}
	var ms []Migration
	for _, ent := range entries {
		name := ent.Name()
		if ent.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || rest == "" {
			return nil, fmt.Errorf("migration set %s: %s/%s: name must be NNNN_name.sql", s.Component, e, name)
		}
		ms = append(ms, Migration{Component: s.Component, Version: v, Name: rest})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("migration set %s: no migrations in %s/", s.Component, e)
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration set %s: %s: expected version %d, found %d (gaps and duplicates are not allowed)", s.Component, e, i+1, m.Version)
		}
	}
	return ms, nil
}

func fileName(m Migration) string { return fmt.Sprintf("%04d_%s.sql", m.Version, m.Name) }

func names(ms []Migration) string {
	var ns []string
	for _, m := range ms {
		ns = append(ns, strings.TrimSuffix(fileName(m), ".sql"))
	}
	return strings.Join(ns, ", ")
}

func validComponent(c string) bool {
	if c == "" || c[0] < 'a' || c[0] > 'z' {
		return false
	}
	for _, r := range c {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// plan reads the migrations of every set for the database's engine.
func (db *DB) plan(sets []MigrationSet) ([][]Migration, error) {
	seen := map[string]bool{}
	var plan [][]Migration
	for _, s := range sets {
		if seen[s.Component] {
			return nil, fmt.Errorf("migration set %s given twice", s.Component)
		}
		seen[s.Component] = true
		ms, err := s.Migrations(db.Engine)
		if err != nil {
			return nil, err
		}
		plan = append(plan, ms)
	}
	return plan, nil
}

var createMigrationsTable = map[Engine]string{
	SQLite: `CREATE TABLE IF NOT EXISTS schema_migrations (
	component  TEXT NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0),
	name       TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL,
	PRIMARY KEY (component, version)
)`,
	Postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
	component  TEXT NOT NULL,
	version    INTEGER NOT NULL CHECK (version > 0),
	name       TEXT NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (component, version)
)`,
}

// migrationLock is the PostgreSQL advisory lock key of Migrate ("rathau").
const migrationLock int64 = 7261686175

// Migrate applies the migrations of sets that the database has not
// recorded yet and returns how many it applied. Sets are applied one after
// the other in the order given, which must be dependency order (a set may
// refer to the tables of the sets before it); within a set, by number.
//
// It refuses to work on a database that has a component at a newer version
// than its set, or a component that no set names: that database belongs to
// a newer Rathaus.
//
// On PostgreSQL the whole run holds a session-level advisory lock, so
// replicas that start together apply each migration once; on SQLite each
// migration's transaction takes the write lock (BEGIN IMMEDIATE) and
// checks again whether it is recorded.
func (db *DB) Migrate(ctx context.Context, sets ...MigrationSet) (applied int, err error) {
	if len(sets) == 0 {
		return 0, errors.New("migrate: no migration sets given")
	}
	plan, err := db.plan(sets)
	if err != nil {
		return 0, err
	}
	// One connection for the whole run: it holds the advisory lock, and
	// on SQLite it is the write pool's only connection anyway.
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return 0, errs.Wrap(errs.Unavailable, err, "Datenbank nicht erreichbar")
	}
	defer conn.Close()
	if db.Engine == Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
			return 0, fmt.Errorf("migrate: take lock: %w", err)
		}
		defer func() {
			if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock); uerr != nil {
				// The lock lives as long as the session: close the
				// connection rather than return it to the pool locked.
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable[db.Engine]); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT component, version, name, applied_at FROM schema_migrations LIMIT 0")
	if err != nil {
		return 0, fmt.Errorf("schema_migrations has an unexpected layout (a database from before per-component migrations? create it anew): %w", err)
	}
	rows.Close()
	recorded, err := appliedVersions(ctx, conn)
	if err != nil {
		return 0, err
	}
	if err := checkVersions(compareVersions(plan, recorded), true); err != nil {
		return 0, err
	}
	for _, ms := range plan {
		for _, m := range ms {
			did, err := applyMigration(ctx, conn, m)
			if err != nil {
				return applied, fmt.Errorf("migration %s/%s: %w", m.Component, fileName(m), err)
			}
			if did {
				applied++
			}
		}
	}
	return applied, nil
}

// applyMigration applies m in a transaction of its own unless it is
// recorded already.
func applyMigration(ctx context.Context, conn *sql.Conn, m Migration) (applied bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE component = $1 AND version = $2",
		m.Component, m.Version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)",
		m.Component, m.Version, m.Name, time.Now().UTC()); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// querier is what *sql.DB and *sql.Conn offer for reads.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// appliedVersions returns the highest recorded version of each component;
// an empty map for a database that was never migrated.
func appliedVersions(ctx context.Context, q querier) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, "SELECT component, max(version) FROM schema_migrations GROUP BY component")
	if err != nil {
		if isUndefinedTable(err) {
			return map[string]int{}, nil
		}
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	defer rows.Close()
	vs := map[string]int{}
	for rows.Next() {
		var c string
		var v int
		if err := rows.Scan(&c, &v); err != nil {
			return nil, fmt.Errorf("read schema versions: %w", err)
		}
		vs[c] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	return vs, nil
}

func isUndefinedTable(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pgErr.Code == "42P01" // undefined_table
	}
	return strings.Contains(err.Error(), "no such table: schema_migrations")
}

// ComponentVersion says where one component's schema stands.
type ComponentVersion struct {
	Component string
	Applied   int // highest migration recorded in the database; 0: none
	Embedded  int // highest migration of this binary's set; 0: the binary has no set of that name
}

// compareVersions lists the components of plan in order, then the
// components only the database knows, by name.
func compareVersions(plan [][]Migration, recorded map[string]int) []ComponentVersion {
	var vs []ComponentVersion
	known := map[string]bool{}
	for _, ms := range plan {
		if len(ms) == 0 {
			continue
		}
		c := ms[0].Component
		known[c] = true
		vs = append(vs, ComponentVersion{Component: c, Applied: recorded[c], Embedded: len(ms)})
	}
	var unknown []string
	for c := range recorded {
		if !known[c] {
			unknown = append(unknown, c)
		}
	}
	slices.Sort(unknown)
	for _, c := range unknown {
		vs = append(vs, ComponentVersion{Component: c, Applied: recorded[c]})
	}
	return vs
}

// checkVersions returns an error when a component is newer in the database
// than in the binary and, unless behindOK, when one is behind.
func checkVersions(vs []ComponentVersion, behindOK bool) error {
	var newer, behind []string
	for _, v := range vs {
		switch {
		case v.Applied > v.Embedded && v.Embedded == 0:
			newer = append(newer, fmt.Sprintf("%s at version %d, unknown to this binary", v.Component, v.Applied))
		case v.Applied > v.Embedded:
			newer = append(newer, fmt.Sprintf("%s at version %d, this binary knows %d", v.Component, v.Applied, v.Embedded))
		case v.Applied < v.Embedded:
			behind = append(behind, fmt.Sprintf("%s at version %d of %d", v.Component, v.Applied, v.Embedded))
		}
	}
	switch {
	case len(newer) > 0:
		return fmt.Errorf("database schema is newer than this binary (%s): update Rathaus", strings.Join(newer, "; "))
	case len(behind) > 0 && !behindOK:
		return fmt.Errorf("database schema is behind this binary (%s): run 'rathaus migrate'", strings.Join(behind, "; "))
	}
	return nil
}

// SchemaVersions compares the database with sets: one entry per set in
// order, then one per component that only the database knows.
func (db *DB) SchemaVersions(ctx context.Context, sets ...MigrationSet) ([]ComponentVersion, error) {
	plan, err := db.plan(sets)
	if err != nil {
		return nil, err
	}
	recorded, err := appliedVersions(ctx, db.read)
	if err != nil {
		return nil, err
	}
	return compareVersions(plan, recorded), nil
}

// SchemaVersion sums SchemaVersions up for a one-line summary: the number
// of migrations the database has recorded and the number sets hold. Equal
// numbers do not make the database current — CheckCurrent decides that.
func (db *DB) SchemaVersion(ctx context.Context, sets ...MigrationSet) (applied, embedded int, err error) {
	vs, err := db.SchemaVersions(ctx, sets...)
	if err != nil {
		return 0, 0, err
	}
	for _, v := range vs {
		applied += v.Applied
		embedded += v.Embedded
	}
	return applied, embedded, nil
}

// CheckCurrent returns an error unless every set is applied completely and
// the database has no component newer than its set or unknown to sets.
func (db *DB) CheckCurrent(ctx context.Context, sets ...MigrationSet) error {
	if len(sets) == 0 {
		return errors.New("check schema: no migration sets given (the binary passes schema.Sets())")
	}
	vs, err := db.SchemaVersions(ctx, sets...)
	if err != nil {
		return err
	}
	return checkVersions(vs, false)
}
