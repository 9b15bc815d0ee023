package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

func TestMigrateIsIdempotentAndCurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		n, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("second Migrate applied %d migrations, want 0", n)
		}
		applied, embedded, err := db.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if applied != embedded || embedded == 0 {
			t.Errorf("SchemaVersion = %d, %d; want equal and > 0", applied, embedded)
		}
		if err := db.CheckCurrent(ctx); err != nil {
			t.Errorf("CheckCurrent: %v", err)
		}
	})
}

func TestCheckCurrentOnEmptyDatabase(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, storetest.URL(t, e), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.CheckCurrent(ctx)
			if err == nil || !strings.Contains(err.Error(), "rathaus migrate") {
				t.Errorf("CheckCurrent on empty database = %v, want error naming 'rathaus migrate'", err)
			}
		})
	}
}

func TestTransactCommitsAndRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(tx *sql.Tx, ars string) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO municipalities (ars, name, created_at) VALUES ($1, $2, CURRENT_TIMESTAMP)", ars, "Test")
			return err
		}
		count := func() int {
			var n int
			if err := db.Read().QueryRowContext(ctx, "SELECT count(*) FROM municipalities").Scan(&n); err != nil {
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
			t.Error("CHECK constraint on ars was not enforced")
		}
		if got := count(); got != 1 {
			t.Errorf("rows after commit, error, panic and constraint violation = %d, want 1", got)
		}
	})
}

func TestForeignKeysEnforced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		_, err := db.Write().ExecContext(context.Background(),
			`INSERT INTO zones (municipality, zone_id, valid_from, name, geometry, source, imported_at)
			 VALUES ('999999999999', '1', '2024-01-01', 'Zone 1', '{}', 'test', CURRENT_TIMESTAMP)`)
		if err == nil {
			t.Error("zone for an unknown municipality was accepted: foreign keys are off")
		}
	})
}

func TestOpenRefusesUndurableDatabase(t *testing.T) {
	ctx := context.Background()
	cases := map[store.Engine]string{
		store.SQLite:   "?_pragma=synchronous(NORMAL)",
		store.Postgres: "&synchronous_commit=off",
	}
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			u := storetest.URL(t, e) + cases[e]
			if e == store.Postgres && !strings.Contains(u, "?") {
				u = strings.Replace(u, "&", "?", 1)
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
			db.Close()
		})
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "mysql://x", "sqlite:", "sqlite::memory:", "postgres://%zz"} {
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

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/rathaus?sslmode=require": "postgres://app:xxxxx@db:5432/rathaus?sslmode=require",
		"postgres://db/rathaus?password=s3cret":                 "postgres://db/rathaus?password=xxxxx",
		"sqlite:rathaus-data/rathaus.db":                        "sqlite:rathaus-data/rathaus.db",
	} {
		if got := store.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
