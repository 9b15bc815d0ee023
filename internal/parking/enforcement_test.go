package parking_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// newEnforcementService is a parking service with only what the
// enforcement API needs (the municipality, a clock); Close runs when the
// test ends.
func newEnforcementService(t *testing.T, db *store.DB) (*parking.Service, *testClock) {
	t.Helper()
	ctx := context.Background()
	if err := db.Transact(ctx, func(tx *sql.Tx) error { return tenant.Ensure(ctx, tx, demo.Berlin) }); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{}
	logger := slog.New(slog.DiscardHandler)
	outbox, err := mail.New(db, mail.Options{Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := parking.NewService(ctx, parking.Options{DB: db, Mail: outbox, Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc, clock
}

// enforcementKey creates an enforcement API key for Berlin and returns it
// authenticated.
func enforcementKey(t *testing.T, svc *parking.Service) parking.APIKey {
	t.Helper()
	ctx := context.Background()
	full, err := svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleEnforcement, "Scan 1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := svc.Authenticate(ctx, "Bearer "+full)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func lookupsWithPurpose(t *testing.T, db *store.DB, purpose string) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRowContext(context.Background(), "SELECT count(*) FROM enforcement_lookups WHERE purpose = $1", purpose).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentLookupsAuditedOnceBeforeTheAnswer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, _ := newEnforcementService(t, db)
		ctx := context.Background()
		full, err := svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleEnforcement, "Scan 1")
		if err != nil {
			t.Fatal(err)
		}
		const workers, each = 16, 25
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					k, err := svc.Authenticate(ctx, "Bearer "+full)
					if err != nil {
						t.Errorf("Authenticate = %v", err)
						return
					}
					purpose := fmt.Sprintf("Test %d/%d", w, i)
					plate := fmt.Sprintf("B-T %d", 100+w*each+i)
					ans, err := svc.Enforce(ctx, k, plate, "29", time.Time{}, purpose)
					if err != nil {
						t.Errorf("Enforce(%s) = %v", plate, err)
						return
					}
					if ans.Valid || ans.Plate != plate {
						t.Errorf("Enforce(%s) = %+v, want not valid", plate, ans)
					}
					// The row is committed when the answer returns.
					if n := lookupsWithPurpose(t, db, purpose); n != 1 {
						t.Errorf("right after the answer for %q: %d audit rows, want 1", purpose, n)
					}
				}
			})
		}
		wg.Wait()
		var rows, distinct int
		err = db.Read().QueryRowContext(ctx, "SELECT count(*), count(DISTINCT purpose) FROM enforcement_lookups").Scan(&rows, &distinct)
		if err != nil {
			t.Fatal(err)
		}
		if rows != workers*each || distinct != workers*each {
			t.Errorf("%d audit rows with %d purposes, want %d of each (every lookup exactly once)", rows, distinct, workers*each)
		}
		// Each row is the lookup's: key, zone, outcome, the plate as keyed hash.
		var keyID, zone, hash string
		var valid bool
		err = db.Read().QueryRowContext(ctx, "SELECT api_key_id, zone_id, plate_hash, valid FROM enforcement_lookups WHERE purpose = 'Test 3/7'").
			Scan(&keyID, &zone, &hash, &valid)
		if err != nil || keyID+"." != full[:len(keyID)+1] || zone != "29" || len(hash) != 64 || valid {
			t.Errorf("audit row = %s %s %s %v (%v)", keyID, zone, hash, valid, err)
		}
	}, sets...)
}

func TestRevokedKeyStopsWithinTheCacheTTL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, clock := newEnforcementService(t, db)
		ctx := context.Background()
		full, err := svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleEnforcement, "Scan 1")
		if err != nil {
			t.Fatal(err)
		}
		id := full[:len("key_")+12]
		auth := func() error {
			_, err := svc.Authenticate(ctx, "Bearer "+full)
			return err
		}
		if err := auth(); err != nil {
			t.Fatalf("Authenticate = %v", err)
		}
		// A wrong secret fails, though the key id is verified and in memory.
		if _, err := svc.Authenticate(ctx, "Bearer "+id+".wrong"); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("wrong secret of a cached key = %v, want Unauthenticated", err)
		}
		storetest.Exec(t, db, "UPDATE api_keys SET revoked_at = $1 WHERE id = $2", clock.Now().UTC(), id)
		// Within the TTL the verified key is still answered from memory …
		clock.advance(parking.KeyCacheTTL / 2)
		if err := auth(); err != nil {
			t.Errorf("within the cache TTL after revocation: %v, want nil (documented delay)", err)
		}
		// … after it, the revocation holds.
		clock.advance(parking.KeyCacheTTL/2 + time.Second)
		if err := auth(); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("a cache TTL after revocation: %v, want Unauthenticated", err)
		}
		// The failure is not kept as anything, and a clock moved back to
		// before the verification does not bring it back.
		clock.advance(-parking.KeyCacheTTL - 2*time.Second)
		if err := auth(); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("revoked key after the clock moved back: %v, want Unauthenticated", err)
		}

		// A key revoked before its first use never works.
		other, err := svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleEnforcement, "Scan 2")
		if err != nil {
			t.Fatal(err)
		}
		storetest.Exec(t, db, "UPDATE api_keys SET revoked_at = $1 WHERE id = $2", clock.Now().UTC(), other[:len("key_")+12])
		for range 2 {
			if _, err := svc.Authenticate(ctx, "Bearer "+other); !errs.Is(err, errs.Unauthenticated) {
				t.Errorf("key revoked before first use = %v, want Unauthenticated", err)
			}
		}
	}, sets...)
}

// RevokeAPIKey works on this replica at once, not only after the TTL, and
// says what it did; ListAPIKeys shows it, without the secret.
func TestRevokeAPIKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, _ := newEnforcementService(t, db)
		ctx := context.Background()
		full, err := svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleCasework, "Team Nord")
		if err != nil {
			t.Fatal(err)
		}
		id, _, _ := strings.Cut(full, ".")
		if _, err := svc.Authenticate(ctx, "Bearer "+full); err != nil {
			t.Fatal(err)
		}
		keys, err := svc.ListAPIKeys(ctx, demo.Berlin.ARS)
		if err != nil || len(keys) != 1 || keys[0].ID != id || keys[0].Name != "Team Nord" || keys[0].Role != parking.RoleCasework || keys[0].Revoked != nil {
			t.Fatalf("ListAPIKeys = %+v, %v", keys, err)
		}
		if other, err := svc.ListAPIKeys(ctx, "020000000000"); err != nil || len(other) != 0 {
			t.Errorf("keys of another municipality = %+v, %v", other, err)
		}
		k, err := svc.RevokeAPIKey(ctx, id)
		if err != nil || k.ID != id || k.Revoked == nil {
			t.Fatalf("RevokeAPIKey = %+v, %v", k, err)
		}
		if _, err := svc.Authenticate(ctx, "Bearer "+full); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("revoked key on the revoking replica = %v, want Unauthenticated at once", err)
		}
		if _, err := svc.RevokeAPIKey(ctx, id); !errs.Is(err, errs.Conflict) {
			t.Errorf("second revocation = %v, want Conflict", err)
		}
		if _, err := svc.RevokeAPIKey(ctx, "key_000000000000"); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown key = %v, want NotFound", err)
		}
		keys, err = svc.ListAPIKeys(ctx, "")
		if err != nil || len(keys) != 1 || keys[0].Revoked == nil {
			t.Errorf("ListAPIKeys after the revocation = %+v, %v", keys, err)
		}
	}, sets...)
}

func TestLookupAfterCloseIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, _ := newEnforcementService(t, db)
		ctx := context.Background()
		k := enforcementKey(t, svc)
		if _, err := svc.Enforce(ctx, k, "B-T 1", "", time.Time{}, "vor dem Beenden"); err != nil {
			t.Fatalf("Enforce = %v", err)
		}
		svc.Close()
		if ans, err := svc.Enforce(ctx, k, "B-T 1", "", time.Time{}, "nach dem Beenden"); !errs.Is(err, errs.Unavailable) {
			t.Errorf("Enforce after Close = %+v, %v; want Unavailable (no answer without its audit row)", ans, err)
		}
		if n := lookupsWithPurpose(t, db, "vor dem Beenden"); n != 1 {
			t.Errorf("%d audit rows of the lookup before Close, want 1", n)
		}
		if n := lookupsWithPurpose(t, db, "nach dem Beenden"); n != 0 {
			t.Errorf("%d audit rows of the refused lookup, want 0", n)
		}
	}, sets...)
}

// BenchmarkEnforce: Authenticate and Enforce as the HTTP handler calls
// them, without HTTP, from 32 goroutines that take turns with 128 keys (one
// key is limited to 1,000 lookups/s); lookups/s is the figure, rows/commit
// how many lookups shared a commit. Every lookup commits its audit row
// before it returns.
//
//	go test -run='^$' -bench='^BenchmarkEnforce$' -benchtime=3s ./internal/parking/
func BenchmarkEnforce(b *testing.B) {
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			db := storetest.Open(b, e, sets...)
			ctx := context.Background()
			if err := db.Transact(ctx, func(tx *sql.Tx) error { return tenant.Ensure(ctx, tx, demo.Berlin) }); err != nil {
				b.Fatal(err)
			}
			logger := slog.New(slog.DiscardHandler)
			outbox, err := mail.New(db, mail.Options{Logger: logger})
			if err != nil {
				b.Fatal(err)
			}
			svc, err := parking.NewService(ctx, parking.Options{DB: db, Mail: outbox, Logger: logger})
			if err != nil {
				b.Fatal(err)
			}
			defer svc.Close()
			var keys []string
			for i := range 128 {
				k, err := svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleEnforcement, fmt.Sprint("Scan ", i))
				if err != nil {
					b.Fatal(err)
				}
				keys = append(keys, "Bearer "+k)
			}
			var next atomic.Int64
			b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := int(next.Add(1))
				i := 0
				for pb.Next() {
					i++
					k, err := svc.Authenticate(ctx, keys[(w+i)%len(keys)])
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := svc.Enforce(ctx, k, fmt.Sprintf("B-T %d", 1+i%9000), "", time.Time{}, "Lasttest"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
			if st := svc.AuditStats(); st.Batches > 0 {
				b.ReportMetric(float64(st.Items)/float64(st.Batches), "rows/commit")
			}
		})
	}
}

// Text the database would refuse (NUL, invalid UTF-8) is refused before a
// lookup joins the shared audit insert, so it cannot fail the lookups of
// others in the same batch.
func TestLookupWithUnstorableTextRefusedAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, _ := newEnforcementService(t, db)
		ctx := context.Background()
		k := enforcementKey(t, svc)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				purpose, zone := fmt.Sprintf("Gut %d", i), "29"
				switch i % 4 {
				case 1:
					purpose = "Zweck\x00"
				case 2:
					purpose = "Zweck \xff"
				case 3:
					zone = "2\x009"
				}
				_, err := svc.Enforce(ctx, k, fmt.Sprintf("B-T %d", 100+i), zone, time.Time{}, purpose)
				if i%4 == 0 && err != nil {
					t.Errorf("good lookup %d: %v", i, err)
				}
				if i%4 != 0 && !errs.Is(err, errs.Invalid) {
					t.Errorf("lookup %d with unstorable text: %v, want Invalid", i, err)
				}
			})
		}
		wg.Wait()
		var n int
		db.Read().QueryRowContext(ctx, "SELECT count(*) FROM enforcement_lookups").Scan(&n)
		if n != 10 {
			t.Errorf("%d audit rows, want the 10 good lookups", n)
		}
	}, sets...)
}
