// Package storetest runs tests against every storage engine Rathaus
// supports: SQLite in a temporary directory always, and PostgreSQL when
// RATHAUS_TEST_POSTGRES holds a URL of a server where the test may create
// databases. Each test gets a fresh database of its own, migrated with the
// migration sets the test names: storetest cannot list them itself, because
// the components' own tests import storetest.
//
// Under CI=true a missing RATHAUS_TEST_POSTGRES fails the test instead of
// skipping the PostgreSQL half: CI must prove both engines.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"opencode.de/rathaus/rathaus/internal/store"
)

// EnvPostgres names the variable with the PostgreSQL server URL for tests.
const EnvPostgres = "RATHAUS_TEST_POSTGRES"

// Engines returns the engines this test run covers.
func Engines(t testing.TB) []store.Engine {
	es := []store.Engine{store.SQLite}
	if os.Getenv(EnvPostgres) != "" {
		es = append(es, store.Postgres)
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is not set: the PostgreSQL half of the contract tests cannot run", EnvPostgres)
	}
	return es
}

// Each runs fn as a subtest per engine, each with a fresh database migrated
// with sets, in dependency order (tenant.Migrations first).
func Each(t *testing.T, fn func(t *testing.T, db *store.DB), sets ...store.MigrationSet) {
	t.Helper()
	if len(sets) == 0 {
		t.Fatal(noSets)
	}
	for _, e := range Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			fn(t, Open(t, e, sets...))
		})
	}
}

const noSets = "storetest: name the migration sets the test needs, in dependency order, " +
	"e.g. storetest.Each(t, fn, tenant.Migrations, geo.Migrations) (schema.Sets()... where the import allows); " +
	"storetest.Empty for a database without tables"

// Open returns a fresh database of engine e migrated with sets, in
// dependency order; it is closed and (for PostgreSQL) dropped when the test
// ends.
func Open(t testing.TB, e store.Engine, sets ...store.MigrationSet) *store.DB {
	t.Helper()
	if len(sets) == 0 {
		t.Fatal(noSets)
	}
	db := Empty(t, e)
	if _, err := db.Migrate(context.Background(), sets...); err != nil {
		t.Fatalf("migrate %s: %v", e, err)
	}
	return db
}

// Empty returns a fresh database of engine e without any tables, for tests
// of migrations themselves; it is closed and (for PostgreSQL) dropped when
// the test ends.
func Empty(t testing.TB, e store.Engine) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), URL(t, e), store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", e, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// URL returns the URL of a fresh, empty database of engine e.
func URL(t testing.TB, e store.Engine) string {
	t.Helper()
	switch e {
	case store.SQLite:
		return store.SQLiteURL(filepath.Join(t.TempDir(), "test.db"))
	case store.Postgres:
		return createPostgresDB(t)
	}
	t.Fatalf("unknown engine %q", e)
	return ""
}

func createPostgresDB(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		t.Skipf("%s not set", EnvPostgres)
	}
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	adminDB := stdlib.OpenDB(*cfg)
	defer adminDB.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "rathaus_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := adminDB.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db := stdlib.OpenDB(*cfg)
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Exec runs statements on the write pool, failing the test on error. For
// fixtures and for tests that tamper with data on purpose.
func Exec(t testing.TB, db *store.DB, query string, args ...any) sql.Result {
	t.Helper()
	res, err := db.Write().ExecContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
	return res
}

// TableText is every value of every row of table as text, one row a line,
// for tests that search a table for what must (not) be in it — personal
// data after deletion, a secret stored in clear.
func TableText(t testing.TB, db *store.DB, table string) string {
	t.Helper()
	rows, err := db.Read().QueryContext(context.Background(), "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			fmt.Fprintf(&b, "%v\x1f", v)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
