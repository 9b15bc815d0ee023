package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// items is the fixture table of the Group tests: one row per item, the
// primary key refuses a second write of the same item.
var items = set("items", `CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT NOT NULL)`)

type item struct {
	id string
	n  int
}

func insertItems(ctx context.Context, tx *sql.Tx, e store.Engine, its []item) error {
	rows := make([][]any, len(its))
	for i, it := range its {
		rows[i] = []any{it.id, it.n, "x"}
	}
	return store.InsertRows(ctx, tx, e, "INSERT INTO items (id, n, note) VALUES", rows)
}

func countItems(t *testing.T, db *store.DB, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Read().QueryRowContext(context.Background(), "SELECT count(*) FROM items "+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// gate holds the Group's writer in its first batch until open is called,
// so that a test can line items up behind it.
type gate struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) hold() {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
}

func (g *gate) open() { close(g.release) }

// waitQueued waits until n items wait in the group's queue.
func waitQueued[T any](t *testing.T, g *store.Group[T], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.Stats().Queued < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d items queued, want %d", g.Stats().Queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupCommitsEveryItemOnceBeforeAnswering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var maxSeen atomic.Int64
		const maxBatch = 32
		g := store.NewGroup(db, func(ctx context.Context, tx *sql.Tx, its []item) error {
			if int64(len(its)) > maxSeen.Load() {
				maxSeen.Store(int64(len(its)))
			}
			return insertItems(ctx, tx, db.Engine, its)
		}, store.GroupOptions{MaxBatch: maxBatch})
		defer g.Close()

		const callers, each = 64, 40
		var wg sync.WaitGroup
		var failed atomic.Int64
		for c := range callers {
			wg.Go(func() {
				for i := range each {
					id := fmt.Sprintf("c%02d-%03d", c, i)
					if err := g.Add(ctx, item{id: id, n: c}); err != nil {
						t.Errorf("Add(%s) = %v", id, err)
						failed.Add(1)
						return
					}
					// Committed before Add returned: another connection sees it.
					var n int
					if err := db.Read().QueryRowContext(ctx, "SELECT count(*) FROM items WHERE id = $1", id).Scan(&n); err != nil || n != 1 {
						t.Errorf("right after Add(%s): %d rows (%v), want 1", id, n, err)
						failed.Add(1)
						return
					}
				}
			})
		}
		wg.Wait()
		if failed.Load() > 0 {
			return
		}
		if got := countItems(t, db, ""); got != callers*each {
			t.Errorf("%d rows, want %d", got, callers*each)
		}
		st := g.Stats()
		if st.Items != callers*each {
			t.Errorf("Stats().Items = %d, want %d", st.Items, callers*each)
		}
		// 64 callers at once must share transactions; the batch size is bounded.
		if st.Batches >= st.Items {
			t.Errorf("%d transactions for %d items: nothing was grouped", st.Batches, st.Items)
		}
		if maxSeen.Load() > maxBatch {
			t.Errorf("a batch of %d items, want at most %d", maxSeen.Load(), maxBatch)
		}
		t.Logf("%s: %d items in %d transactions (largest %d)", db.Engine, st.Items, st.Batches, maxSeen.Load())
	}, items)
}

func TestGroupErrorReachesEveryCallerOfTheBatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		gt := newGate()
		g := store.NewGroup(db, func(ctx context.Context, tx *sql.Tx, its []item) error {
			gt.hold()
			return insertItems(ctx, tx, db.Engine, its)
		}, store.GroupOptions{})
		defer g.Close()

		first := make(chan error, 1)
		go func() { first <- g.Add(ctx, item{id: "first"}) }()
		<-gt.entered
		// Behind the held batch: good items and one that breaks the primary
		// key ("first" again) — they go into one transaction.
		ids := []string{"a", "b", "first", "c"}
		results := make([]chan error, len(ids))
		for i, id := range ids {
			results[i] = make(chan error, 1)
			go func() { results[i] <- g.Add(ctx, item{id: id}) }()
			waitQueued(t, g, i+1)
		}
		gt.open()
		if err := <-first; err != nil {
			t.Fatalf("first batch: %v", err)
		}
		for i, id := range ids {
			if err := <-results[i]; err == nil {
				t.Errorf("Add(%s) = nil, want the batch's error", id)
			}
		}
		if got := countItems(t, db, ""); got != 1 {
			t.Errorf("%d rows, want 1 (the failed batch must leave nothing)", got)
		}
		// The writer goes on with the next batch.
		if err := g.Add(ctx, item{id: "after"}); err != nil {
			t.Errorf("Add after a failed batch = %v", err)
		}
		if st := g.Stats(); st.Batches != 3 || st.Items != 6 {
			t.Errorf("Stats = %+v, want 3 batches of 6 items", st)
		}
	}, items)
}

func TestGroupCancelledCallerNeitherLostNorDoubled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		gt := newGate()
		g := store.NewGroup(db, func(ctx context.Context, tx *sql.Tx, its []item) error {
			gt.hold()
			return insertItems(ctx, tx, db.Engine, its)
		}, store.GroupOptions{})
		defer g.Close()

		// Cancelled while its batch is in flight: the caller waits for the
		// outcome and learns that the item is written.
		inflightCtx, cancelInflight := context.WithCancel(ctx)
		inflight := make(chan error, 1)
		go func() { inflight <- g.Add(inflightCtx, item{id: "inflight"}) }()
		<-gt.entered
		cancelInflight()

		// Cancelled while queued: withdrawn, never written.
		queuedCtx, cancelQueued := context.WithCancel(ctx)
		queued := make(chan error, 1)
		go func() { queued <- g.Add(queuedCtx, item{id: "withdrawn"}) }()
		waitQueued(t, g, 1)
		cancelQueued()
		if err := <-queued; !errors.Is(err, context.Canceled) {
			t.Errorf("Add cancelled while queued = %v, want context.Canceled", err)
		}
		kept := make(chan error, 1)
		go func() { kept <- g.Add(ctx, item{id: "kept"}) }()
		waitQueued(t, g, 2)

		select {
		case err := <-inflight:
			t.Fatalf("Add returned %v while its transaction was still open", err)
		case <-time.After(20 * time.Millisecond):
		}
		gt.open()
		if err := <-inflight; err != nil {
			t.Errorf("Add cancelled in flight = %v, want nil (its row is committed)", err)
		}
		if err := <-kept; err != nil {
			t.Errorf("Add(kept) = %v", err)
		}
		for id, want := range map[string]int{"inflight": 1, "withdrawn": 0, "kept": 1} {
			if got := countItems(t, db, "WHERE id = $1", id); got != want {
				t.Errorf("%s: %d rows, want %d", id, got, want)
			}
		}
		if err := g.Add(queuedCtx, item{id: "late"}); !errors.Is(err, context.Canceled) {
			t.Errorf("Add with an ended context = %v, want context.Canceled", err)
		}
	}, items)
}

func TestGroupCloseDrainsTheQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		gt := newGate()
		g := store.NewGroup(db, func(ctx context.Context, tx *sql.Tx, its []item) error {
			gt.hold()
			return insertItems(ctx, tx, db.Engine, its)
		}, store.GroupOptions{MaxBatch: 4})

		const n = 10
		var wg sync.WaitGroup
		errsCh := make(chan error, n+1)
		wg.Go(func() { errsCh <- g.Add(ctx, item{id: "held"}) })
		<-gt.entered
		for i := range n {
			wg.Go(func() { errsCh <- g.Add(ctx, item{id: fmt.Sprint("q", i)}) })
		}
		waitQueued(t, g, n)
		closed := make(chan struct{})
		go func() { g.Close(); close(closed) }()
		// Close has begun: new items are refused, queued ones are not.
		deadline := time.Now().Add(5 * time.Second)
		for {
			// Before Close begins, the item queues behind the held batch and
			// is withdrawn when its short context ends.
			short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			err := g.Add(short, item{id: "refused"})
			cancel()
			if errors.Is(err, store.ErrGroupClosed) {
				if !errs.Is(err, errs.Unavailable) {
					t.Errorf("ErrGroupClosed has kind %v, want Unavailable", errs.KindOf(err))
				}
				break
			}
			if !errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
				t.Fatalf("Add during Close = %v", err)
			}
		}
		select {
		case <-closed:
			t.Fatal("Close returned while a batch was still held")
		case <-time.After(20 * time.Millisecond):
		}
		gt.open()
		<-closed
		wg.Wait()
		close(errsCh)
		for err := range errsCh {
			if err != nil {
				t.Errorf("queued Add = %v, want nil", err)
			}
		}
		if got := countItems(t, db, ""); got != n+1 {
			t.Errorf("%d rows after Close, want %d", got, n+1)
		}
		g.Close() // twice is fine
	}, items)
}

func TestGroupSurvivesAPanickingWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g := store.NewGroup(db, func(ctx context.Context, tx *sql.Tx, its []item) error {
			if its[0].id == "boom" {
				panic("boom")
			}
			return insertItems(ctx, tx, db.Engine, its)
		}, store.GroupOptions{})
		defer g.Close()
		if err := g.Add(ctx, item{id: "boom"}); err == nil {
			t.Error("Add of a panicking write = nil")
		}
		if err := g.Add(ctx, item{id: "fine"}); err != nil {
			t.Errorf("Add after a panic = %v", err)
		}
		if got := countItems(t, db, ""); got != 1 {
			t.Errorf("%d rows, want 1", got)
		}
	}, items)
}

func TestInsertRowsSplitsAtTheParameterLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// 25,000 rows × 3 columns = 75,000 parameters: over both engines' limits.
		const n = 25_000
		rows := make([][]any, n)
		for i := range rows {
			rows[i] = []any{fmt.Sprintf("r%05d", i), i, "x"}
		}
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			return store.InsertRows(ctx, tx, db.Engine, "INSERT INTO items (id, n, note) VALUES", rows)
		})
		if err != nil {
			t.Fatal(err)
		}
		var count, sum int
		if err := db.Read().QueryRowContext(ctx, "SELECT count(*), sum(n) FROM items").Scan(&count, &sum); err != nil {
			t.Fatal(err)
		}
		if count != n || sum != n*(n-1)/2 {
			t.Errorf("count %d, sum %d; want %d, %d", count, sum, n, n*(n-1)/2)
		}
		err = db.Transact(ctx, func(tx *sql.Tx) error {
			return store.InsertRows(ctx, tx, db.Engine, "INSERT INTO items (id, n, note) VALUES", [][]any{{"a", 1, "x"}, {"b", 2}})
		})
		if err == nil {
			t.Error("InsertRows with a short row = nil, want an error")
		}
	}, items)
}

// BenchmarkGroupCommit: the rows of BenchmarkDurableInsert, one per caller
// from 16 and 64 goroutines at once, committed through a Group: NewGroup
// (kind=tx: InsertRows in Transact) and NewInsertGroup (kind=insert: on
// PostgreSQL one statement without BEGIN and COMMIT). Each Add returns after
// its row is committed, as each Transact there does. inserts/s is the
// figure, rows/commit how many callers shared a commit.
//
//	go test -run='^$' -bench=GroupCommit -benchtime=3s ./internal/store/
func BenchmarkGroupCommit(b *testing.B) {
	type row struct {
		reference string
		at        time.Time
	}
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			db := openInsertDB(b, e)
			const head = "INSERT INTO bench_insert (reference, status, data, created_at) VALUES"
			values := func(r row) []any { return []any{r.reference, "received", insertData, r.at} }
			for _, bc := range []struct {
				kind    string
				clients int
			}{{"tx", 16}, {"tx", 64}, {"insert", 16}, {"insert", 64}} {
				b.Run(fmt.Sprintf("kind=%s/clients=%d", bc.kind, bc.clients), func(b *testing.B) {
					clients := bc.clients
					g := store.NewInsertGroup(db, head, values, store.GroupOptions{})
					if bc.kind == "tx" {
						g = store.NewGroup(db, func(ctx context.Context, tx *sql.Tx, rs []row) error {
							args := make([][]any, len(rs))
							for i, r := range rs {
								args[i] = values(r)
							}
							return store.InsertRows(ctx, tx, db.Engine, head, args)
						}, store.GroupOptions{})
					}
					defer g.Close()
					procs := runtime.GOMAXPROCS(0)
					b.SetParallelism((clients + procs - 1) / procs)
					ctx := context.Background()
					var n atomic.Int64
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := g.Add(ctx, row{fmt.Sprintf("BP-2026-%08d", n.Add(1)), time.Now().UTC()}); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
					st := g.Stats()
					b.ReportMetric(float64(st.Items)/float64(max(1, st.Batches)), "rows/commit")
				})
			}
		})
	}
}

func TestInsertGroupAnswersMatchTheRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		storetest.Exec(t, db, "INSERT INTO items (id, n, note) VALUES ('taken', 0, 'x')")
		g := store.NewInsertGroup(db, "INSERT INTO items (id, n, note) VALUES", func(it item) []any { return []any{it.id, it.n, "x"} },
			store.GroupOptions{MaxBatch: 4})
		defer g.Close()
		// 32 callers at once; three of them add a row whose key is taken,
		// which fails their whole batch. Whatever the batches were, a caller
		// told nil has its row, a caller told an error has none. (At most 4
		// per batch: the three bad rows can spoil at most three of the eight
		// or more batches, so some Add always succeeds; with 16 per batch
		// both batches could hold one.)
		const callers = 32
		results := make([]error, callers)
		ids := make([]string, callers)
		var wg sync.WaitGroup
		for i := range callers {
			ids[i] = fmt.Sprint("g", i)
			if i%11 == 5 {
				ids[i] = "taken"
			}
			wg.Go(func() { results[i] = g.Add(ctx, item{id: ids[i], n: i}) })
		}
		wg.Wait()
		var ok, failed int
		for i, err := range results {
			if ids[i] == "taken" {
				if err == nil {
					t.Errorf("Add of a taken key = nil")
				}
				continue
			}
			want := 1
			if err != nil {
				want = 0
				failed++
			} else {
				ok++
			}
			if got := countItems(t, db, "WHERE id = $1", ids[i]); got != want {
				t.Errorf("%s: Add = %v, but %d rows", ids[i], err, got)
			}
		}
		if ok == 0 {
			t.Error("no Add succeeded")
		}
		t.Logf("%s: %d committed, %d in failed batches, %+v", db.Engine, ok, failed, g.Stats())
		if err := g.Add(ctx, item{id: "alone", n: 1}); err != nil || countItems(t, db, "WHERE id = 'alone'") != 1 {
			t.Errorf("Add(alone) = %v", err)
		}
	}, items)
}

// NewReadInsertGroup: read fills each batch's items before their rows are
// built (one read per batch, seen by every caller after Add), and a read
// that fails fails its batch before anything is written.
func TestReadInsertGroupReadsBeforeInserting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		type req struct {
			id   string
			n    int // set by read
			fail bool
		}
		var reads atomic.Int64
		g := store.NewReadInsertGroup(db, func(ctx context.Context, batch []*req) error {
			reads.Add(1)
			var base int
			if err := db.Read().QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&base); err != nil {
				return err
			}
			for _, r := range batch {
				if r.fail {
					return errors.New("read failed")
				}
				r.n = 1000 + len(r.id)
			}
			return nil
		}, "INSERT INTO items (id, n, note) VALUES", func(r *req) []any { return []any{r.id, r.n, "x"} }, store.GroupOptions{})
		defer g.Close()

		const callers = 24
		reqs := make([]*req, callers)
		errsOf := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			reqs[i] = &req{id: fmt.Sprint("r", i)}
			wg.Go(func() { errsOf[i] = g.Add(ctx, reqs[i]) })
		}
		wg.Wait()
		for i, r := range reqs {
			if errsOf[i] != nil {
				t.Fatalf("Add(%s) = %v", r.id, errsOf[i])
			}
			if r.n != 1000+len(r.id) {
				t.Errorf("%s: n = %d after Add, want what read set", r.id, r.n)
			}
			if got := countItems(t, db, "WHERE id = $1 AND n = $2", r.id, r.n); got != 1 {
				t.Errorf("%s: %d rows with the value read, want 1", r.id, got)
			}
		}
		if n := reads.Load(); n < 1 || n > callers {
			t.Errorf("%d reads for %d callers", n, callers)
		}
		bad := &req{id: "bad", fail: true}
		if err := g.Add(ctx, bad); err == nil {
			t.Error("Add with a failing read = nil")
		}
		if got := countItems(t, db, "WHERE id = 'bad'"); got != 0 {
			t.Errorf("a failed read wrote %d rows", got)
		}
	}, items)
}
