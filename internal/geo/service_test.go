package geo

import (
	"context"
	"database/sql"
	"errors"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// jobClient migrates River's tables and returns a client for svc: one that
// works the imports, or, with insertOnly, one that only enqueues — the
// state a killed process leaves behind, with nobody working its jobs.
func jobClient(t *testing.T, db *store.DB, svc *Service, insertOnly bool) *jobs.Client {
	t.Helper()
	ctx := context.Background()
	if _, err := jobs.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	svc.Register(workers)
	if insertOnly {
		workers = nil
	}
	client, err := jobs.New(db, workers, slog.New(slog.DiscardHandler), jobs.Options{PollInterval: 50 * time.Millisecond, InsertOnly: insertOnly})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetJobs(client)
	if !insertOnly {
		if err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			client.Stop(c)
		})
	}
	return client
}

const oneAddressCSV = "addr:housenumber,addr:street,addr:postcode,lon,lat\n53,Lehrter Straße,10557,13.3585277,52.5344684\n"

// importJob returns the job row of an import.
func importJob(t *testing.T, client *jobs.Client, id string) *rivertype.JobRow {
	t.Helper()
	res, err := client.River.JobList(context.Background(), river.NewJobListParams().TagsAll(id))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Jobs) != 1 {
		t.Fatalf("jobs tagged %s: %d, want 1", id, len(res.Jobs))
	}
	return res.Jobs[0]
}

func TestFollowImport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, ctx := setup(t, db)
		client := jobClient(t, db, svc, true)

		// Queued, nobody works it: not stalled at first, stalled once
		// ImportStaleAfter has passed without a sign of life.
		id, err := svc.EnqueueAddressImport(ctx, testARS, []byte(oneAddressCSV), "a.csv")
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.FollowImport(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != "queued" || p.Job != "available" || p.MaxAttempts != 3 {
			t.Errorf("FollowImport = %+v, want queued with an available job of 3 attempts", p)
		}
		if now := time.Now(); p.Stalled(now, ImportStaleAfter) || !p.Stalled(now.Add(ImportStaleAfter+time.Minute), ImportStaleAfter) {
			t.Errorf("Stalled: want false now and true after %v without a sign of life (last %v)", ImportStaleAfter, p.LastSign)
		}

		// Its job is cancelled: the import can never finish, so it is failed.
		if _, err := client.River.JobCancel(ctx, importJob(t, client, id).ID); err != nil {
			t.Fatal(err)
		}
		p, err = svc.FollowImport(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != "failed" || p.Error == "" {
			t.Errorf("after the job was cancelled: %+v, want failed with a message", p.ImportRun)
		}

		// An import without a job (a lost one) is failed as well.
		if err := db.Transact(ctx, func(tx *sql.Tx) error {
			return insertImport(ctx, tx, "imp_lost", testARS, "lost.csv", []byte(oneAddressCSV))
		}); err != nil {
			t.Fatal(err)
		}
		if p, err := svc.FollowImport(ctx, "imp_lost"); err != nil || p.Status != "failed" || !strings.Contains(p.Error, "Auftrag") {
			t.Errorf("import without job: %+v, %v; want failed naming the missing job", p.ImportRun, err)
		}

		// AbandonImport keeps a finished import's outcome.
		if err := svc.AbandonImport(ctx, "imp_lost", "anders"); err != nil {
			t.Fatal(err)
		}
		if run, _ := svc.Import(ctx, "imp_lost"); run.Error == "anders" {
			t.Errorf("AbandonImport overwrote a finished import: %+v", run)
		}
		if _, ok, err := svc.UnfinishedImport(ctx, testARS); ok || err != nil {
			t.Errorf("UnfinishedImport = %v, %v; want none", ok, err)
		}
		id, _ = svc.EnqueueAddressImport(ctx, testARS, []byte(oneAddressCSV), "b.csv")
		if run, ok, err := svc.UnfinishedImport(ctx, testARS); !ok || err != nil || run.ID != id {
			t.Errorf("UnfinishedImport = %+v, %v, %v; want %s", run, ok, err, id)
		}
	}, tenant.Migrations, Migrations)
}

// TestAddressImportWorkerRecordsLastFailure: River gives up after the last
// attempt, so the import must then say "failed"; before, a failure of the
// final transaction left it "running" for ever. A transient error is
// retried, not cancelled.
func TestAddressImportWorkerRecordsLastFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, ctx := setup(t, db)
		w := &AddressImportWorker{Service: svc}
		newImport := func(id string) *river.Job[AddressImportArgs] {
			t.Helper()
			if err := db.Transact(ctx, func(tx *sql.Tx) error {
				return insertImport(ctx, tx, id, testARS, "a.csv", []byte(oneAddressCSV))
			}); err != nil {
				t.Fatal(err)
			}
			return &river.Job[AddressImportArgs]{JobRow: &rivertype.JobRow{ID: 1, MaxAttempts: 3}, Args: AddressImportArgs{ImportID: id}}
		}
		status := func(id string) ImportRun {
			t.Helper()
			run, err := svc.Import(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return run
		}
		isCancel := func(err error) bool {
			var c *rivertype.JobCancelError
			return errors.As(err, &c)
		}

		// A read that fails (here: the context has ended) is transient.
		job := newImport("imp_transient")
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		job.Attempt = 1
		if err := w.Work(cancelled, job); err == nil || isCancel(err) {
			t.Errorf("transient error: Work = %v, want an error River retries (not JobCancel)", err)
		}
		if run := status("imp_transient"); run.Status != "queued" {
			t.Errorf("after a transient error on attempt 1: %s, want queued", run.Status)
		}
		job.Attempt = 3
		if err := w.Work(cancelled, job); err == nil {
			t.Error("Work succeeded with a cancelled context")
		}
		if run := status("imp_transient"); run.Status != "failed" || !strings.Contains(run.Error, "3 Versuchen") {
			t.Errorf("after the last attempt: %+v, want failed after 3 attempts", run)
		}

		// The final transaction fails.
		job = newImport("imp_final")
		storetest.Exec(t, db, "DROP TABLE addresses")
		job.Attempt = 1
		if err := w.Work(ctx, job); err == nil || isCancel(err) {
			t.Errorf("final transaction failed: Work = %v, want an error River retries", err)
		}
		if run := status("imp_final"); run.Status != "running" {
			t.Errorf("after attempt 1 of 3: %s, want running (River retries)", run.Status)
		}
		job.Attempt = 3
		if err := w.Work(ctx, job); err == nil {
			t.Error("Work succeeded without an addresses table")
		}
		run := status("imp_final")
		if run.Status != "failed" || !strings.Contains(run.Error, "3 Versuchen") {
			t.Errorf("after the last attempt: %+v, want failed after 3 attempts", run)
		}
		// A retried job after that changes nothing.
		if err := w.Work(ctx, job); err != nil {
			t.Errorf("job after the recorded outcome: %v", err)
		}

		// An import that does not exist is cancelled: nothing to retry.
		job = &river.Job[AddressImportArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 3}, Args: AddressImportArgs{ImportID: "imp_none"}}
		if err := w.Work(ctx, job); !isCancel(err) {
			t.Errorf("unknown import: Work = %v, want JobCancel", err)
		}
	}, tenant.Migrations, Migrations)
}

// TestSnapshotTransaction: on PostgreSQL a snapshot is read at REPEATABLE
// READ, so that an import committing between its queries cannot mix old
// and new data; on both engines read-only.
func TestSnapshotTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, ctx := setup(t, db)
		tx, err := svc.beginSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if db.Engine == store.Postgres {
			var iso, ro string
			if err := tx.QueryRowContext(ctx, "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')").Scan(&iso, &ro); err != nil {
				t.Fatal(err)
			}
			if iso != "repeatable read" || ro != "on" {
				t.Errorf("snapshot transaction: isolation %q, read only %q; want repeatable read, on", iso, ro)
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE municipalities SET name = 'x'"); err == nil {
			t.Error("the snapshot transaction can write")
		}
	}, tenant.Migrations, Migrations)
}

func TestZonesOrderedAsNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, ctx := setup(t, db)
		var zones []Zone
		for i, id := range []string{"10", "2", "100", "1", "B", "A"} {
			zones = append(zones, Zone{ID: id, Name: "Zone " + id, Geometry: sqMP(13+float64(i)/10, 52, 0.05), Source: "t"})
		}
		if err := db.Transact(ctx, func(tx *sql.Tx) error { return replaceZones(ctx, tx, testARS, zones, day("2024-01-01")) }); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Zones(ctx, testARS)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, z := range got {
			ids = append(ids, z.ID)
		}
		if s := strings.Join(ids, ","); s != "1,2,10,100,A,B" {
			t.Errorf("Zones = %s, want 1,2,10,100,A,B", s)
		}
		if z, err := svc.Zone(ctx, testARS, "10"); err != nil || z.ID != "10" {
			t.Errorf("Zone(10) = %v, %v", z, err)
		}
	}, tenant.Migrations, Migrations)
}

// TestBerlinTimeZone: legal dates are counted in Europe/Berlin with summer
// time, also where the system has no zoneinfo (minimal container images):
// the package links time/tzdata. That cannot be taken away from a test
// process on a machine that has /usr/share/zoneinfo, so the import itself
// is checked too.
func TestBerlinTimeZone(t *testing.T) {
	summer := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC).In(berlinTZ)
	winter := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).In(berlinTZ)
	if _, off := summer.Zone(); off != 2*3600 {
		t.Errorf("summer offset %d s, want 7200 (CEST)", off)
	}
	if _, off := winter.Zone(); off != 3600 {
		t.Errorf("winter offset %d s, want 3600 (CET)", off)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "time/tzdata" {
				return
			}
		}
	}
	t.Error("package geo does not import time/tzdata")
}
