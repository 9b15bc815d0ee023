package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// each runs fn per engine on a database with the geo schema and River's.
func each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		if _, err := jobs.Migrate(context.Background(), db, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		fn(t, db)
	}, tenant.Migrations, geo.Migrations)
}

// service returns a geo.Service with a job client: one that works the
// imports (a running demo), or with insertOnly one that only enqueues (a
// demo killed before its import was worked).
func service(t *testing.T, db *store.DB, insertOnly bool) (*geo.Service, *jobs.Client) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	svc := geo.NewService(db, nil, logger)
	svc.RefreshInterval = 0 // every call sees the latest import
	var workers *river.Workers
	if !insertOnly {
		workers = river.NewWorkers()
		svc.Register(workers)
	}
	client, err := jobs.New(db, workers, logger, jobs.Options{PollInterval: 50 * time.Millisecond, InsertOnly: insertOnly})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetJobs(client)
	if !insertOnly {
		if err := client.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			client.Stop(ctx)
		})
	}
	return svc, client
}

// console collects what Seed and Wait report.
type console struct {
	mu    sync.Mutex
	lines []string
}

func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// killedStart leaves what a first start killed during its address import
// leaves: Berlin, its zones, and an unfinished import with its job.
func killedStart(t *testing.T, db *store.DB) (id string, client *jobs.Client) {
	t.Helper()
	ctx := context.Background()
	svc, client := service(t, db, true)
	if err := db.Transact(ctx, func(tx *sql.Tx) error { return tenant.Ensure(ctx, tx, Berlin) }); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ImportZones(ctx, Berlin.ARS, strings.NewReader(string(Zones())), ZonesSource, ZonesValidFrom); err != nil {
		t.Fatal(err)
	}
	id, err := svc.EnqueueAddressImport(ctx, Berlin.ARS, Addresses(), AddressesSource)
	if err != nil {
		t.Fatal(err)
	}
	return id, client
}

type importRow struct{ id, status, msg string }

func imports(t *testing.T, db *store.DB) []importRow {
	t.Helper()
	rows, err := db.Read().Query("SELECT id, status, error FROM imports ORDER BY created_at, id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []importRow
	for rows.Next() {
		var r importRow
		if err := rows.Scan(&r.id, &r.status, &r.msg); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestSeedFinishesTheKilledStartsImport: the second start waits for the
// import the first one left queued instead of enqueuing a second.
func TestSeedFinishesTheKilledStartsImport(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB) {
		first, _ := killedStart(t, db)
		svc, _ := service(t, db, false)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var out console
		if err := Seed(ctx, db, svc, out.printf); err != nil {
			t.Fatalf("Seed: %v\n%s", err, &out)
		}
		if got := imports(t, db); len(got) != 1 || got[0].id != first || got[0].status != "done" {
			t.Errorf("imports after the second start: %+v, want only %s, done", got, first)
		}
		if !strings.Contains(out.String(), first) || !strings.Contains(out.String(), "Adressen übernommen") {
			t.Errorf("Seed did not report waiting for %s and its result:\n%s", first, &out)
		}
		if stats, _ := svc.Stats(ctx, Berlin.ARS); stats.Addresses == 0 {
			t.Error("no addresses after Seed")
		}
	})
}

// TestSeedReplacesAStalledImport: an import left "running" by a killed
// process shows no sign of life; River would retry it only after more than
// an hour, so the demo gives it up and imports anew — once.
func TestSeedReplacesAStalledImport(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB) {
		first, _ := killedStart(t, db)
		// Claimed by the killed process: River will not hand it out again.
		storetest.Exec(t, db, "UPDATE river_job SET state = 'running', attempt = 1")
		storetest.Exec(t, db, "UPDATE imports SET status = 'running', updated_at = $1", time.Now().UTC().Add(-2*time.Hour))
		svc, _ := service(t, db, false)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var out console
		if err := Seed(ctx, db, svc, out.printf); err != nil {
			t.Fatalf("Seed: %v\n%s", err, &out)
		}
		got := imports(t, db)
		if len(got) != 2 || got[0].id != first || got[0].status != "failed" || got[0].msg == "" || got[1].status != "done" {
			t.Errorf("imports: %+v, want %s failed with a reason, then one done", got, first)
		}
		if !strings.Contains(out.String(), "neu gestartet") {
			t.Errorf("Seed did not say that it restarted the import:\n%s", &out)
		}
	})
}

// TestWaitEnds: Wait returns, with a reason, for an import that can never
// finish, instead of polling until the end of time.
func TestWaitEnds(t *testing.T) {
	each(t, func(t *testing.T, db *store.DB) {
		id, client := killedStart(t, db)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		svc := geo.NewService(db, client, slog.New(slog.DiscardHandler))
		var out console

		// Nobody works it: stalled after staleAfter.
		start := time.Now()
		_, err := wait(ctx, svc, id, out.printf, 300*time.Millisecond)
		if !errors.Is(err, geo.ErrImportStalled) || !strings.Contains(err.Error(), id) {
			t.Errorf("wait on an import nobody works = %v, want ErrImportStalled naming %s", err, id)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("wait took %v to notice", d)
		}

		// Its job ended without an outcome.
		res, err := client.River.JobList(ctx, river.NewJobListParams().TagsAll(id))
		if err != nil || len(res.Jobs) != 1 {
			t.Fatalf("job of %s: %v, %v", id, res, err)
		}
		if _, err := client.River.JobCancel(ctx, res.Jobs[0].ID); err != nil {
			t.Fatal(err)
		}
		run, err := Wait(ctx, svc, id, out.printf)
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "fehlgeschlagen") || run.Status != "failed" {
			t.Errorf("Wait on an import whose job was cancelled = %+v, %v; want failed at once", run, err)
		}

		// The caller gives up.
		if err := db.Transact(ctx, func(tx *sql.Tx) error { return tenant.Ensure(ctx, tx, Berlin) }); err != nil {
			t.Fatal(err)
		}
		id2, err := svc.EnqueueAddressImport(ctx, Berlin.ARS, []byte("a"), "x.csv")
		if err != nil {
			t.Fatal(err)
		}
		short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel2()
		if _, err := Wait(short, svc, id2, out.printf); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "abgebrochen") {
			t.Errorf("Wait with an ending context = %v, want the context's error", err)
		}
	})
}
