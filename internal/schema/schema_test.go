package schema_test

import (
	"context"
	"testing"

	"opencode.de/rathaus/rathaus/internal/schema"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// The whole schema migrates on both engines in the listed order. On
// PostgreSQL a REFERENCES to a table of a later set fails, so this also
// proves the dependency order.
func TestSetsMigrate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.CheckCurrent(ctx, schema.Sets()...); err != nil {
			t.Errorf("CheckCurrent after migrating: %v", err)
		}
		if n, err := db.Migrate(ctx, schema.Sets()...); err != nil || n != 0 {
			t.Errorf("second Migrate = %d, %v; want 0, nil", n, err)
		}
	}, schema.Sets()...)
}

func TestTenantComesFirst(t *testing.T) {
	var got []string
	for _, s := range schema.Sets() {
		got = append(got, s.Component)
	}
	if len(got) == 0 || got[0] != "tenant" {
		t.Errorf("sets = %q, want tenant first: every component's tables refer to municipalities", got)
	}
}
