package tenant_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

func TestEnsureGetList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ensure := func(m tenant.Municipality) error {
			return db.Transact(ctx, func(tx *sql.Tx) error { return tenant.Ensure(ctx, tx, m) })
		}
		for _, m := range []tenant.Municipality{{"110000000000", "Berln"}, {"110000000000", "Berlin"}, {"083110000000", "Freiburg im Breisgau"}} {
			if err := ensure(m); err != nil {
				t.Fatal(err)
			}
		}
		got, err := tenant.List(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		want := []tenant.Municipality{{"083110000000", "Freiburg im Breisgau"}, {"110000000000", "Berlin"}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("List (-want +got):\n%s", d)
		}
		if _, err := tenant.Get(ctx, db.Read(), "051110000000"); !errs.Is(err, errs.NotFound) {
			t.Errorf("Get unknown = %v, want NotFound", err)
		}
		for _, bad := range []tenant.Municipality{{"11000000000", "x"}, {"11000000000a", "x"}, {"110000000000", ""}} {
			if err := ensure(bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("Ensure(%v) = %v, want Invalid", bad, err)
			}
		}
	}, tenant.Migrations)
}
