package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// set builds a migration set whose migrations are the same portable SQL
// on both engines: sql[0] is version 1.
func set(component string, sql ...string) store.MigrationSet {
	files := fstest.MapFS{}
	for i, s := range sql {
		for _, e := range []string{"sqlite", "postgres"} {
			files[fmt.Sprintf("%s/%04d_step%d.sql", e, i+1, i+1)] = &fstest.MapFile{Data: []byte(s)}
		}
	}
	return store.MigrationSet{Component: component, FS: files}
}

// parents and children are the fixture schema of this package's tests:
// children depends on parents.
var (
	parents = set("parents",
		`CREATE TABLE parents (id TEXT PRIMARY KEY CHECK (length(id) = 12), name TEXT NOT NULL)`)
	children = set("children",
		`CREATE TABLE children (parent TEXT NOT NULL REFERENCES parents (id), n INTEGER NOT NULL)`,
		`ALTER TABLE children ADD COLUMN note TEXT NOT NULL DEFAULT ''`)
)

// steps returns a set whose migrations each append "<component><n>" to
// the table steps, which the first set of a test creates.
func steps(component string, n int, create bool) store.MigrationSet {
	var sql []string
	for i := 1; i <= n; i++ {
		s := fmt.Sprintf(`INSERT INTO steps (n, what) SELECT coalesce(max(n), 0) + 1, '%s%d' FROM steps`, component, i)
		if create && i == 1 {
			s = "CREATE TABLE steps (n INTEGER PRIMARY KEY, what TEXT NOT NULL);\n" + s
		}
		sql = append(sql, s)
	}
	return set(component, sql...)
}

func readSteps(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.Read().QueryContext(context.Background(), "SELECT what FROM steps ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// eachEmpty runs fn per engine on a fresh database without tables.
func eachEmpty(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) { fn(t, storetest.Empty(t, e)) })
	}
}

func TestMigrateAppliesSetsInOrderOnce(t *testing.T) {
	eachEmpty(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Ten migrations: version 10 must come after 9 and 2, not after 1.
		a, b := steps("a", 10, true), steps("b", 2, false)
		n, err := db.Migrate(ctx, a, b)
		if err != nil || n != 12 {
			t.Fatalf("Migrate = %d, %v; want 12, nil", n, err)
		}
		want := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "b1", "b2"}
		if d := cmp.Diff(want, readSteps(t, db)); d != "" {
			t.Errorf("order of application (-want +got):\n%s", d)
		}
		n, err = db.Migrate(ctx, a, b)
		if err != nil || n != 0 {
			t.Errorf("second Migrate = %d, %v; want 0, nil", n, err)
		}
		if d := cmp.Diff(want, readSteps(t, db)); d != "" {
			t.Errorf("second Migrate ran migrations again (-want +got):\n%s", d)
		}
		// A later release adds a migration to b: only that one runs.
		n, err = db.Migrate(ctx, a, steps("b", 3, false))
		if err != nil || n != 1 {
			t.Errorf("Migrate with one new migration = %d, %v; want 1, nil", n, err)
		}
		if got := readSteps(t, db); !slices.Equal(got, append(want, "b3")) {
			t.Errorf("steps after the new migration = %v", got)
		}
		var rows int
		if err := db.Read().QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != 13 {
			t.Errorf("schema_migrations has %d rows (%v), want 13", rows, err)
		}
	})
}

func TestCheckCurrentPerComponent(t *testing.T) {
	eachEmpty(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// check wants CheckCurrent(sets) to fail with all of want in its
		// message, or to succeed when want is empty.
		check := func(name string, sets []store.MigrationSet, want ...string) {
			t.Helper()
			err := db.CheckCurrent(ctx, sets...)
			if len(want) == 0 {
				if err != nil {
					t.Errorf("%s: CheckCurrent = %v, want nil", name, err)
				}
				return
			}
			for _, w := range want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%s: CheckCurrent = %v, want error containing %q", name, err, w)
				}
			}
		}
		sets := func(s ...store.MigrationSet) []store.MigrationSet { return s }
		olderChildren := set("children", `CREATE TABLE children (parent TEXT NOT NULL REFERENCES parents (id), n INTEGER NOT NULL)`)

		check("empty database", sets(parents, children), "parents at version 0 of 1", "children at version 0 of 2", "run 'rathaus migrate'")
		check("no sets", nil, "no migration sets")
		if _, err := db.Migrate(ctx, parents); err != nil {
			t.Fatal(err)
		}
		check("children missing", sets(parents, children), "children at version 0 of 2", "run 'rathaus migrate'")
		check("parents alone", sets(parents))
		if _, err := db.Migrate(ctx, parents, olderChildren); err != nil {
			t.Fatal(err)
		}
		check("children behind", sets(parents, children), "children at version 1 of 2", "run 'rathaus migrate'")
		if _, err := db.Migrate(ctx, parents, children); err != nil {
			t.Fatal(err)
		}
		check("current", sets(parents, children))
		check("children newer than the binary", sets(parents, olderChildren), "children at version 2, this binary knows 1", "update Rathaus")
		check("children unknown to the binary", sets(parents), "children at version 2, unknown to this binary", "update Rathaus")
		// Newer wins over behind: migrating would not help.
		check("newer and behind", sets(parents, olderChildren, set("grandchildren", "CREATE TABLE g (x INTEGER)")), "update Rathaus")
		if n, err := db.Migrate(ctx, parents, olderChildren); err == nil || !strings.Contains(err.Error(), "update Rathaus") {
			t.Errorf("Migrate with an older set = %d, %v; want refusal", n, err)
		}
		if n, err := db.Migrate(ctx, parents); err == nil || !strings.Contains(err.Error(), "unknown to this binary") {
			t.Errorf("Migrate without the children set = %d, %v; want refusal", n, err)
		}

		vs, err := db.SchemaVersions(ctx, parents, olderChildren, set("grandchildren", "CREATE TABLE g (x INTEGER)"))
		if err != nil {
			t.Fatal(err)
		}
		want := []store.ComponentVersion{{"parents", 1, 1}, {"children", 2, 1}, {"grandchildren", 0, 1}}
		if d := cmp.Diff(want, vs); d != "" {
			t.Errorf("SchemaVersions (-want +got):\n%s", d)
		}
		vs, err = db.SchemaVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want = []store.ComponentVersion{{"children", 2, 0}, {"parents", 1, 0}}
		if d := cmp.Diff(want, vs); d != "" {
			t.Errorf("SchemaVersions without sets (-want +got):\n%s", d)
		}
		if applied, embedded, err := db.SchemaVersion(ctx, parents, children); applied != 3 || embedded != 3 || err != nil {
			t.Errorf("SchemaVersion = %d, %d, %v; want 3, 3, nil", applied, embedded, err)
		}
	})
}

func TestMigrateRollsBackAFailedMigration(t *testing.T) {
	eachEmpty(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		broken := set("broken",
			`CREATE TABLE first (x INTEGER)`,
			`CREATE TABLE second (x INTEGER); INSERT INTO nowhere VALUES (1)`,
			`CREATE TABLE third (x INTEGER)`)
		n, err := db.Migrate(ctx, broken)
		if err == nil || !strings.Contains(err.Error(), "broken/0002_step2.sql") {
			t.Fatalf("Migrate = %d, %v; want an error naming broken/0002_step2.sql", n, err)
		}
		if n != 1 {
			t.Errorf("Migrate applied %d, want 1", n)
		}
		vs, err := db.SchemaVersions(ctx, broken)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]store.ComponentVersion{{"broken", 1, 3}}, vs); d != "" {
			t.Errorf("SchemaVersions (-want +got):\n%s", d)
		}
		for table, want := range map[string]bool{"first": true, "second": false, "third": false} {
			_, err := db.Read().ExecContext(ctx, "SELECT x FROM "+table)
			if exists := err == nil; exists != want {
				t.Errorf("table %s exists = %v, want %v", table, exists, want)
			}
		}
	})
}

func TestMigrateRejectsBadSets(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	const ok = "CREATE TABLE t (x INTEGER)"
	for _, tt := range []struct {
		name string
		sets []store.MigrationSet
		want string
	}{
		{"no sets", nil, "no migration sets"},
		{"empty component", []store.MigrationSet{set("", ok)}, "component must be"},
		{"upper-case component", []store.MigrationSet{set("Geo", ok)}, "component must be"},
		{"set given twice", []store.MigrationSet{set("a", ok), set("a", ok)}, "given twice"},
		{"no files", []store.MigrationSet{{Component: "a"}}, "no files"},
		{"gap", []store.MigrationSet{{Component: "a", FS: fstest.MapFS{
			"sqlite/0001_a.sql": file(ok), "sqlite/0003_c.sql": file(ok),
			"postgres/0001_a.sql": file(ok), "postgres/0003_c.sql": file(ok)}}}, "expected version 2, found 3"},
		{"duplicate", []store.MigrationSet{{Component: "a", FS: fstest.MapFS{
			"sqlite/0001_a.sql": file(ok), "sqlite/0001_b.sql": file(ok),
			"postgres/0001_a.sql": file(ok), "postgres/0001_b.sql": file(ok)}}}, "expected version 2, found 1"},
		{"bad name", []store.MigrationSet{{Component: "a", FS: fstest.MapFS{
			"sqlite/first.sql": file(ok), "postgres/first.sql": file(ok)}}}, "NNNN_name.sql"},
		{"version 0", []store.MigrationSet{{Component: "a", FS: fstest.MapFS{
			"sqlite/0000_a.sql": file(ok), "postgres/0000_a.sql": file(ok)}}}, "NNNN_name.sql"},
		{"one engine only", []store.MigrationSet{{Component: "a", FS: fstest.MapFS{
			"sqlite/0001_a.sql": file(ok), "sqlite/0002_b.sql": file(ok),
			"postgres/0001_a.sql": file(ok)}}}, "different migrations"},
		{"engines disagree on a name", []store.MigrationSet{{Component: "a", FS: fstest.MapFS{
			"sqlite/0001_a.sql": file(ok), "postgres/0001_b.sql": file(ok)}}}, "different migrations"},
		{"engine directory missing", []store.MigrationSet{{Component: "a", FS: fstest.MapFS{
			"sqlite/0001_a.sql": file(ok)}}}, "postgres"},
		{"empty engine directory", []store.MigrationSet{{Component: "a", FS: fstest.MapFS{
			"sqlite/README": file("x"), "postgres/README": file("x")}}}, "no migrations"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.Empty(t, store.SQLite)
			ctx := context.Background()
			n, err := db.Migrate(ctx, tt.sets...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Migrate = %d, %v; want error containing %q", n, err, tt.want)
			}
			if vs, err := db.SchemaVersions(ctx); err != nil || len(vs) != 0 {
				t.Errorf("after a refused set, SchemaVersions = %v, %v; want nothing recorded", vs, err)
			}
		})
	}
}

// Replicas that start together each run Migrate on a fresh database: all
// succeed, and every migration is applied once.
func TestConcurrentMigrate(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			u := storetest.URL(t, e)
			a, b := steps("a", 5, true), steps("b", 5, false)
			const replicas = 4
			var wg sync.WaitGroup
			counts := make([]int, replicas)
			failures := make([]error, replicas)
			dbs := make([]*store.DB, replicas)
			for i := range replicas {
				db, err := store.Open(ctx, u, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				dbs[i] = db
			}
			for i, db := range dbs {
				wg.Go(func() { counts[i], failures[i] = db.Migrate(ctx, a, b) })
			}
			wg.Wait()
			total := 0
			for i := range replicas {
				if failures[i] != nil {
					t.Errorf("replica %d: Migrate: %v", i, failures[i])
				}
				total += counts[i]
			}
			if total != 10 {
				t.Errorf("replicas applied %v migrations, %d in all; want 10 in all", counts, total)
			}
			want := []string{"a1", "a2", "a3", "a4", "a5", "b1", "b2", "b3", "b4", "b5"}
			if d := cmp.Diff(want, readSteps(t, dbs[0])); d != "" {
				t.Errorf("steps (-want +got):\n%s", d)
			}
			if err := dbs[0].CheckCurrent(ctx, a, b); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestMigrateExplainsTheOldLayout(t *testing.T) {
	eachEmpty(t, func(t *testing.T, db *store.DB) {
		storetest.Exec(t, db, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
		_, err := db.Migrate(context.Background(), parents)
		if err == nil || !strings.Contains(err.Error(), "layout") {
			t.Errorf("Migrate on the old schema_migrations = %v, want an error about its layout", err)
		}
	})
}

func TestTransactCommitsAndRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO parents (id, name) VALUES ($1, $2)", id, "Test")
			return err
		}
		count := func() int {
			var n int
			if err := db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parents").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if err := db.Transact(ctx, func(tx *sql.Tx) error { return insert(tx, "000000000001") }); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			if err := insert(tx, "000000000002"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("Transact error = %v, want boom", err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("panic inside Transact was swallowed")
				}
			}()
			db.Transact(ctx, func(tx *sql.Tx) error {
				insert(tx, "000000000003")
				panic("boom")
			})
		}()
		// A constraint violation in the middle rolls back the first insert too.
		err = db.Transact(ctx, func(tx *sql.Tx) error {
			if err := insert(tx, "000000000004"); err != nil {
				return err
			}
			return insert(tx, "too-short")
		})
		if err == nil {
			t.Error("CHECK constraint was not enforced")
		}
		if got := count(); got != 1 {
			t.Errorf("rows after commit, error, panic and constraint violation = %d, want 1", got)
		}
	}, parents)
}

func TestForeignKeysEnforced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		_, err := db.Write().ExecContext(context.Background(), `INSERT INTO children (parent, n) VALUES ('999999999999', 1)`)
		if err == nil {
			t.Error("child of an unknown parent was accepted: foreign keys are off")
		}
	}, parents, children)
}

func TestCheckCurrentOnEmptyDatabase(t *testing.T) {
	eachEmpty(t, func(t *testing.T, db *store.DB) {
		err := db.CheckCurrent(context.Background(), parents)
		if err == nil || !strings.Contains(err.Error(), "rathaus migrate") {
			t.Errorf("CheckCurrent on empty database = %v, want error naming 'rathaus migrate'", err)
		}
	})
}

func TestOpenRefusesUndurableDatabase(t *testing.T) {
	ctx := context.Background()
	cases := map[store.Engine][]string{
		store.SQLite: {
			"_pragma=synchronous(NORMAL)",
			"_pragma=synchronous=OFF",
			"_synchronous=NORMAL",
			"_pragma=journal_mode=OFF",
			"_journal_mode=MEMORY",
			"_pragma=journal_mode=DELETE&_pragma=synchronous=OFF",
			"_journal_mode=DELETE",
			"_journal_mode=TRUNCATE&_synchronous=EXTRA",
		},
		store.Postgres: {"synchronous_commit=off"},
	}
	for _, e := range storetest.Engines(t) {
		for _, params := range cases[e] {
			t.Run(string(e)+"/"+params, func(t *testing.T) {
				u := storetest.URL(t, e)
				if strings.Contains(u, "?") {
					u += "&" + params
				} else {
					u += "?" + params
				}
				db, err := store.Open(ctx, u, store.Options{})
				if err == nil {
					db.Close()
					t.Fatalf("Open(%s) succeeded on an undurable database, want refusal", store.Redact(u))
				}
				if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "verloren") {
					t.Errorf("Open error = %v (kind %v), want Invalid explaining possible data loss", err, errs.KindOf(err))
				}
				db, err = store.Open(ctx, u, store.Options{UnsafeNoDurability: true})
				if err != nil {
					t.Fatalf("Open with UnsafeNoDurability: %v", err)
				}
				defer db.Close()
				// The setting took effect: the refusal was not for another reason.
				if e == store.SQLite {
					var mode string
					var sync int
					db.Write().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
					db.Write().QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
					if mode == "wal" && sync >= 2 {
						t.Errorf("with %s the connection has journal_mode=%s, synchronous=%d: durable after all", params, mode, sync)
					}
				}
			})
		}
	}
	// The defaults, and settings that stay durable, pass.
	for _, params := range []string{"", "?_synchronous=EXTRA", "?_pragma=journal_mode(wal)", "?_journal_mode=WAL&_synchronous=FULL"} {
		u := storetest.URL(t, store.SQLite) + params
		db, err := store.Open(ctx, u, store.Options{})
		if err != nil {
			t.Errorf("Open(%s): %v", u, err)
			continue
		}
		db.Close()
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "mysql://x", "sqlite:", "sqlite::memory:", "sqlite:file:x.db", "postgres://%zz", "sqlite:/tmp/50%/x.db"} {
		db, err := store.Open(context.Background(), u, store.Options{})
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want error", u)
			continue
		}
		if k := errs.KindOf(err); k != errs.Invalid {
			t.Errorf("Open(%q) kind = %v, want invalid (%v)", u, k, err)
		}
	}
}

// A URL that fails to parse, or that pgx reads differently than Redact,
// is refused without the password in the error.
func TestOpenDoesNotLeakPasswords(t *testing.T) {
	for _, tt := range []struct{ url, secret string }{
		{"postgres://app:Sup3r#Secret@db/x", "Sup3r#Secret"},
		{"postgres://app:Sup3r/Secret@db/x", "Sup3r/Secret"},
		{"postgres://app:Sup3r%zzSecret@db/x", "Sup3r%zzSecret"},
		{"postgres://app:1234?Secret@127.0.0.1/x", "Secret"}, // pgx: host "app", port 1234
		{"postgres://app:1234?Secret@127.0.0.1/x", "1234"},
		{"postgres://app:Sup3r@Secret@db/x", "Secret"},
		{"postgresql://app:Sup3r Secret@db/x", "Sup3r Secret"},
	} {
		db, err := store.Open(context.Background(), tt.url, store.Options{})
		if err == nil {
			db.Close()
			t.Errorf("Open(%s) succeeded, want error", store.Redact(tt.url))
			continue
		}
		if strings.Contains(err.Error(), tt.secret) {
			t.Errorf("Open error leaks %q: %v", tt.secret, err)
		}
		if errs.KindOf(err) == errs.Invalid && strings.ContainsAny(tt.secret, "#/?") && !strings.Contains(err.Error(), "prozentkodiert") {
			t.Errorf("Open error = %v, want a hint to percent-encode the password", err)
		}
	}
}

// Any file name works, given through SQLiteURL; names without '%' and '?'
// also work written as they are.
func TestSQLitePathsWithSpecialCharacters(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		dir string
		url func(path string) string
	}{
		{"a b?c#d%e&f=g;h", store.SQLiteURL},
		{"%41%zz", store.SQLiteURL},
		{"a b#c&d=e", func(p string) string { return "sqlite:" + p }},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, tt.dir, "x.db")
			u := tt.url(path)
			db, err := store.Open(ctx, u, store.Options{})
			if err != nil {
				t.Fatalf("Open(%s): %v", u, err)
			}
			if _, err := db.Migrate(ctx, parents); err != nil {
				t.Fatal(err)
			}
			if err := db.Transact(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO parents (id, name) VALUES ('000000000001', 'x')")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database file not at %q: %v", path, err)
			}
			if entries, _ := os.ReadDir(root); len(entries) != 1 || entries[0].Name() != tt.dir {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("%s holds %q, want only %q", root, names, tt.dir)
			}
			db, err = store.Open(ctx, u, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parents").Scan(&n); err != nil || n != 1 {
				t.Errorf("after reopening: %d rows (%v), want 1", n, err)
			}
			if got := db.String(); got != "sqlite:"+path {
				t.Errorf("String() = %q, want %q", got, "sqlite:"+path)
			}
		})
	}
}
