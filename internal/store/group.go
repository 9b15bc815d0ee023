package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Group commits the items of many concurrent callers together (group
// commit). Each caller hands in one item with Add and waits; one goroutine
// takes whatever is queued, at most MaxBatch items, writes them in one
// transaction and wakes their callers with its outcome.
//
// A durable commit costs one sync of the write-ahead log whether it holds
// one row or hundreds: SQLite's single writer manages a few thousand
// commits per second, yet many times as many rows when they share commits
// (BENCHMARKS.md). Durability is kept: Add returns nil only after its
// item's transaction has committed.
//
// There is no waiting for a batch to fill: when the writer is idle, an item
// is written at once, alone. Items gather only while a transaction is in
// flight, so the batch size follows the load, and the queue is bounded by
// the number of callers (each waits for its item).
//
// A transaction's outcome is that of every item in it: if write fails for
// one item, the whole batch fails and all its callers get the error.
// Nothing is retried, so nothing is written twice.
type Group[T any] struct {
	db      *DB
	batch   func(ctx context.Context, items []T) error // writes and commits one batch
	max     int
	timeout time.Duration

	mu     sync.Mutex
	queue  []*groupItem[T]
	closed bool
	wake   chan struct{}  // capacity 1: "the queue may hold items"
	stop   chan struct{}  // closed by Close
	done   sync.WaitGroup // the writer

	batches, items atomic.Int64
}

// GroupOptions tune NewGroup.
type GroupOptions struct {
	// MaxBatch bounds the items per transaction (default 256). With
	// InsertRows the batch may be larger than one statement can carry.
	MaxBatch int
	// Timeout bounds one batch's transaction (default 30 s): a database that
	// hangs fails the batch instead of holding its callers forever.
	Timeout time.Duration
}

// ErrGroupClosed is what Add returns after Close.
var ErrGroupClosed = errs.E(errs.Unavailable, "Der Dienst wird gerade beendet; bitte gleich noch einmal versuchen.")

// item states: queued until the writer takes it or its caller gives up.
const (
	itemQueued int32 = iota
	itemTaken
	itemCancelled
)

type groupItem[T any] struct {
	v     T
	state atomic.Int32
	done  chan error // capacity 1: the writer never blocks on a caller
}

// NewGroup starts a Group whose batches write calls inside one transaction
// of db (through Transact). write gets the items in the order they were
// added and must use only tx. Close stops it.
func NewGroup[T any](db *DB, write func(ctx context.Context, tx *sql.Tx, items []T) error, opts GroupOptions) *Group[T] {
	return newGroup(db, func(ctx context.Context, items []T) error {
		return db.Transact(ctx, func(tx *sql.Tx) error { return write(ctx, tx, items) })
	}, opts)
}

// NewInsertGroup starts a Group whose items are rows of one table: row
// returns an item's values for the columns that head names ("INSERT INTO t
// (a, b, c) VALUES"), and a batch is inserted with InsertRows.
//
// On PostgreSQL a batch that fits one statement is that statement alone,
// committed by itself (a single statement is a transaction of its own and
// as durable as any): one round trip instead of three for BEGIN, INSERT
// and COMMIT. With the server on the same busy cores, each round trip
// waits for the scheduler, and the batches' cycle is what callers wait for.
func NewInsertGroup[T any](db *DB, head string, row func(T) []any, opts GroupOptions) *Group[T] {
	return NewReadInsertGroup(db, nil, head, row, opts)
}

// NewReadInsertGroup is NewInsertGroup with a read before each batch is
// inserted: read gets the batch's items (pointers the callers keep) and
// fills them from the database — one query for the whole batch instead of
// one per caller — before their rows are built and inserted; a caller reads
// its item after Add returned nil. An error from read fails the batch
// before anything is written. read runs outside the insert's transaction
// (on db.Read()): what it reads is what a caller reading just before Add
// would have read.
func NewReadInsertGroup[T any](db *DB, read func(ctx context.Context, items []T) error, head string, row func(T) []any, opts GroupOptions) *Group[T] {
	return newGroup(db, func(ctx context.Context, items []T) error {
		if read != nil {
			if err := read(ctx, items); err != nil {
				return err
			}
		}
		rows := make([][]any, len(items))
		for i, it := range items {
			rows[i] = row(it)
		}
		if cols := len(rows[0]); db.Engine == Postgres && cols > 0 && len(rows)*cols <= maxParamsPostgres {
			return insertChunk(ctx, db.write, db.Engine, head, rows, cols, nil)
		}
		return db.Transact(ctx, func(tx *sql.Tx) error { return InsertRows(ctx, tx, db.Engine, head, rows) })
	}, opts)
}

func newGroup[T any](db *DB, batch func(ctx context.Context, items []T) error, opts GroupOptions) *Group[T] {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	g := &Group[T]{db: db, batch: batch, max: opts.MaxBatch, timeout: opts.Timeout,
		wake: make(chan struct{}, 1), stop: make(chan struct{})}
	g.done.Go(g.run)
	return g
}

// Add queues v and waits until the transaction that holds it has ended.
// nil means v is committed. An error means it is not, with one exception
// that every single transaction shares: a commit whose answer is lost (the
// connection breaks during COMMIT) may have taken effect.
//
// When ctx ends while v is still queued, v is withdrawn and never written,
// and Add returns ctx's error. When ctx ends after the writer has taken v,
// Add waits for that transaction (bounded by GroupOptions.Timeout) and
// returns its outcome: the caller always learns whether v was written.
func (g *Group[T]) Add(ctx context.Context, v T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it := &groupItem[T]{v: v, done: make(chan error, 1)}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return ErrGroupClosed
	}
	g.queue = append(g.queue, it)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		if it.state.CompareAndSwap(itemQueued, itemCancelled) {
			return ctx.Err()
		}
		return <-it.done
	}
}

// Close stops taking items, writes those already queued, and returns when
// the last of their callers has its answer. Add then returns
// ErrGroupClosed. Close may be called more than once.
func (g *Group[T]) Close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.stop)
	}
	g.mu.Unlock()
	g.done.Wait()
}

// GroupStats count a Group's work since it started.
type GroupStats struct {
	Batches int64 // transactions attempted
	Items   int64 // items in them
	Queued  int   // items waiting now (withdrawn ones included until the writer skips them)
}

// Stats returns the Group's counters.
func (g *Group[T]) Stats() GroupStats {
	g.mu.Lock()
	q := len(g.queue)
	g.mu.Unlock()
	return GroupStats{Batches: g.batches.Load(), Items: g.items.Load(), Queued: q}
}

// run is the writer: it takes what is queued, writes it, answers, and
// starts over; it sleeps only when the queue is empty.
func (g *Group[T]) run() {
	batch := make([]*groupItem[T], 0, g.max)
	vals := make([]T, 0, g.max)
	for {
		batch = g.take(batch[:0])
		if len(batch) == 0 {
			g.mu.Lock()
			stop := g.closed && len(g.queue) == 0
			g.mu.Unlock()
			if stop {
				return
			}
			select {
			case <-g.wake:
			case <-g.stop:
			}
			continue
		}
		vals = vals[:0]
		for _, it := range batch {
			vals = append(vals, it.v)
		}
		err := g.commit(vals)
		g.batches.Add(1)
		g.items.Add(int64(len(vals)))
		for _, it := range batch {
			it.done <- err
		}
		clear(vals) // let the items' values go
		clear(batch)
	}
}

// take moves up to max queued items into batch, skipping withdrawn ones.
// From here on their callers wait for the outcome.
func (g *Group[T]) take(batch []*groupItem[T]) []*groupItem[T] {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, it := range g.queue {
		if len(batch) == g.max {
			break
		}
		n++
		if it.state.CompareAndSwap(itemQueued, itemTaken) {
			batch = append(batch, it)
		}
	}
	rest := copy(g.queue, g.queue[n:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	return batch
}

// commit writes one batch in one transaction. A panic in the write fails
// the batch instead of the process: the writer must keep serving the
// others.
func (g *Group[T]) commit(vals []T) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("group commit: write panicked: %v", p)
		}
	}()
	return g.batch(ctx, vals)
}

// Most parameters one statement may carry: SQLite's default
// SQLITE_MAX_VARIABLE_NUMBER (since 3.32) and PostgreSQL's protocol limit
// (a 16-bit count).
const (
	maxParamsSQLite   = 32766
	maxParamsPostgres = 65535
)

// InsertRows inserts rows with multi-row INSERT statements: head is the
// statement up to VALUES ("INSERT INTO t (a, b, c) VALUES"), and every row
// holds one value per column.
//
// Each statement carries as many rows as the engine's parameter limit
// allows. On SQLite the rows go in chunks of powers of two (37 rows: 32, 4
// and 1): a Group's batches come in every size, and with power-of-two chunks
// a table sees at most a dozen distinct statements, which the connections'
// statement cache keeps prepared, instead of one new statement per batch
// size that would push the others out; the extra statements cost little in
// process. On PostgreSQL each statement is a round trip, so a batch is one
// statement of its exact size (pgx keeps a few hundred prepared statements
// per connection).
func InsertRows(ctx context.Context, tx *sql.Tx, e Engine, head string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	cols := len(rows[0])
	if cols == 0 {
		return fmt.Errorf("insert rows: no columns")
	}
	limit := maxParamsSQLite
	if e == Postgres {
		limit = maxParamsPostgres
	}
	per := limit / cols
	if e != Postgres {
		per = 1 << (bits.Len(uint(per)) - 1)
	}
	args := make([]any, 0, min(len(rows), per)*cols)
	for len(rows) > 0 {
		n := len(rows)
		if e != Postgres {
			n = 1 << (bits.Len(uint(n)) - 1)
		}
		chunk := rows[:min(n, per)]
		rows = rows[len(chunk):]
		if err := insertChunk(ctx, tx, e, head, chunk, cols, args[:0]); err != nil {
			return err
		}
	}
	return nil
}

// insertChunk inserts rows with one statement; args is room for the
// arguments.
func insertChunk(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, e Engine, head string, rows [][]any, cols int, args []any) error {
	for _, r := range rows {
		if len(r) != cols {
			return fmt.Errorf("insert rows: row has %d values, want %d", len(r), cols)
		}
		args = append(args, r...)
	}
	if _, err := q.ExecContext(ctx, insertSQL(e, head, len(rows), cols), args...); err != nil {
		return fmt.Errorf("insert %d rows: %w", len(rows), err)
	}
	return nil
}

type insertShape struct {
	e          Engine
	head       string
	rows, cols int
}

// insertStatements holds the text of each SQLite multi-row INSERT of up to
// maxCachedParams parameters built so far: a few per table, since chunks
// are powers of two there.
var insertStatements sync.Map // insertShape → string

const maxCachedParams = 4096

// insertSQL returns head followed by rows tuples of cols placeholders.
func insertSQL(e Engine, head string, rows, cols int) string {
	k := insertShape{e, head, rows, cols}
	cache := e != Postgres && rows*cols <= maxCachedParams
	if cache {
		if s, ok := insertStatements.Load(k); ok {
			return s.(string)
		}
	}
	var b strings.Builder
	b.Grow(len(head) + rows*cols*7)
	b.WriteString(head)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" (")
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			if e == Postgres {
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(i*cols + j + 1))
			} else {
				// Plain ?: SQLite looks each $N up among the statement's
				// named parameters, which is quadratic in their number.
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	if !cache {
		return b.String()
	}
	s, _ := insertStatements.LoadOrStore(k, b.String())
	return s.(string)
}
