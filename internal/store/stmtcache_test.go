package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"modernc.org/sqlite"
)

// These tests run on SQLite only: the statement cache is part of the
// SQLite connections.

func openCacheTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), SQLiteURL(filepath.Join(t.TempDir(), "cache.db")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openCachePool opens a pool of at most one connection whose caches hold
// size statements.
func openCachePool(t *testing.T, size int) *sql.DB {
	t.Helper()
	c, err := sqlite.NewConnector(sqliteFileURI(filepath.Join(t.TempDir(), "pool.db")))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(stmtCacheConnector{Connector: c, size: size})
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func mustExec(t *testing.T, db execer, query string, args ...any) sql.Result {
	t.Helper()
	res, err := db.ExecContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return res
}

// inspect runs fn on the driver connection that conn holds.
func inspect(t *testing.T, conn *sql.Conn, fn func(c *stmtCacheConn)) {
	t.Helper()
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stmtCacheConn)
		if !ok {
			return fmt.Errorf("driver connection is %T, want *stmtCacheConn", dc)
		}
		fn(c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// inspectPool runs fn on the connection of a pool of one connection.
func inspectPool(t *testing.T, pool *sql.DB, fn func(c *stmtCacheConn)) {
	t.Helper()
	conn, err := pool.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	inspect(t, conn, fn)
}

// keys returns the cached statements' text, most recently used first.
func (c *stmtCacheConn) keys() []string {
	var ks []string
	for s := c.root.next; s != &c.root; s = s.next {
		ks = append(ks, s.query)
	}
	return ks
}

// stmtMemory is the memory SQLite holds for the connection's prepared
// statements.
func (c *stmtCacheConn) stmtMemory(t *testing.T) int {
	t.Helper()
	cur, _, err := c.sqliteConn.(sqlite.DBStatus).Status(sqlite.DBStatusStmtUsed, false)
	if err != nil {
		t.Fatal(err)
	}
	return cur
}

func TestStmtCacheValues(t *testing.T) {
	ctx := context.Background()
	db := openCacheTestDB(t)
	w := db.Write()
	mustExec(t, w, `CREATE TABLE vals (id INTEGER PRIMARY KEY, n INTEGER, f REAL, s TEXT, b BLOB, at TIMESTAMP)`)

	type row struct {
		N  sql.NullInt64
		F  sql.NullFloat64
		S  sql.NullString
		B  []byte
		At sql.NullTime
	}
	berlin := time.FixedZone("CET", 3600)
	rows := []row{
		{sql.NullInt64{Int64: 42, Valid: true}, sql.NullFloat64{Float64: 2.5, Valid: true}, sql.NullString{String: "Wichertstraße 45", Valid: true},
			[]byte{0, 1, 2, 0xff}, sql.NullTime{Time: time.Date(2026, 11, 26, 18, 4, 5, 123456789, time.UTC), Valid: true}},
		{}, // all NULL
		{sql.NullInt64{Int64: -1 << 63, Valid: true}, sql.NullFloat64{Float64: -0.125, Valid: true}, sql.NullString{String: "", Valid: true},
			[]byte("x"), sql.NullTime{Time: time.Date(2027, 1, 1, 0, 0, 0, 0, berlin), Valid: true}},
		{sql.NullInt64{Int64: 7, Valid: true}, sql.NullFloat64{}, sql.NullString{String: "it's; a \"string\"", Valid: true}, nil, sql.NullTime{}},
	}
	const insert = `INSERT INTO vals (n, f, s, b, at) VALUES ($1, $2, $3, $4, $5) RETURNING id`
	const get = `SELECT n, f, s, b, at FROM vals WHERE id = $1`
	var ids []int64
	for _, r := range rows {
		var id int64
		if err := w.QueryRowContext(ctx, insert, r.N, r.F, r.S, r.B, r.At).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i, id := range ids {
		// Twice from each pool: the second read runs the cached statement.
		for _, pool := range []*sql.DB{w, w, db.Read(), db.Read()} {
			var got row
			if err := pool.QueryRowContext(ctx, get, id).Scan(&got.N, &got.F, &got.S, &got.B, &got.At); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rows[i], got); diff != "" {
				t.Errorf("row %d (-stored +read):\n%s", id, diff)
			}
		}
	}
	// Exec runs a statement with RETURNING to its end, cached as well.
	for range 2 {
		res := mustExec(t, w, `UPDATE vals SET n = coalesce(n, 0) + 1 WHERE id <= $1 RETURNING id`, 2)
		if n, _ := res.RowsAffected(); n != 2 {
			t.Errorf("UPDATE … RETURNING affected %d rows, want 2", n)
		}
	}
	var sum int64
	if err := w.QueryRowContext(ctx, `SELECT sum(n) FROM vals WHERE id <= 2`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 42+2+2 {
		t.Errorf("sum after two updates = %d, want %d", sum, 42+2+2)
	}

	// The write connection prepared each statement once.
	conn, err := w.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var s *cachedStmt
	inspect(t, conn, func(c *stmtCacheConn) { s = c.stmts[insert] })
	if s == nil {
		t.Fatal("insert not cached")
	}
	mustExec(t, conn, insert, 1, nil, nil, nil, nil)
	inspect(t, conn, func(c *stmtCacheConn) {
		if c.stmts[insert] != s {
			t.Error("the insert was prepared again")
		}
		if c.keys()[0] != insert {
			t.Errorf("most recently used = %q, want the insert", c.keys()[0])
		}
	})
}

func TestStmtCacheAfterErrors(t *testing.T) {
	ctx := context.Background()
	db := openCacheTestDB(t)
	w := db.Write()

	t.Run("constraint", func(t *testing.T) {
		mustExec(t, w, `CREATE TABLE u (k TEXT PRIMARY KEY)`)
		const insert = `INSERT INTO u (k) VALUES ($1)`
		mustExec(t, w, insert, "a")
		if _, err := w.ExecContext(ctx, insert, "a"); err == nil || !strings.Contains(err.Error(), "UNIQUE constraint failed") {
			t.Fatalf("second insert of a: %v, want a UNIQUE constraint error", err)
		}
		mustExec(t, w, insert, "b")
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			mustExec(t, tx, insert, "c")
			_, err := tx.ExecContext(ctx, insert, "b")
			return err
		})
		if err == nil {
			t.Fatal("transaction with a duplicate committed")
		}
		if err := db.Transact(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, insert, "c")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := w.QueryRowContext(ctx, `SELECT group_concat(k, ',') FROM (SELECT k FROM u ORDER BY k)`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != "a,b,c" {
			t.Errorf("keys = %q, want a,b,c", got)
		}
	})

	t.Run("error while stepping rows", func(t *testing.T) {
		mustExec(t, w, `CREATE TABLE nums (id INTEGER PRIMARY KEY, x INTEGER NOT NULL)`)
		mustExec(t, w, `INSERT INTO nums (x) VALUES (-1), (-9223372036854775808), (-3)`)
		const abs = `SELECT abs(x) FROM nums ORDER BY id`
		readAll := func() ([]int64, error) {
			rows, err := db.Read().QueryContext(ctx, abs)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			var xs []int64
			for rows.Next() {
				var x int64
				if err := rows.Scan(&x); err != nil {
					return nil, err
				}
				xs = append(xs, x)
			}
			return xs, rows.Err()
		}
		if xs, err := readAll(); err == nil || !strings.Contains(err.Error(), "integer overflow") {
			t.Fatalf("abs of the smallest integer: %v, %v; want an integer overflow", xs, err)
		}
		mustExec(t, w, `DELETE FROM nums WHERE x = -9223372036854775808`)
		xs, err := readAll()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int64{1, 3}, xs); diff != "" {
			t.Errorf("abs after the failure (-want +got):\n%s", diff)
		}
	})

	t.Run("syntax", func(t *testing.T) {
		var before []string
		inspectPool(t, w, func(c *stmtCacheConn) { before = c.keys() })
		if _, err := w.ExecContext(ctx, `SELEC 1`); err == nil || !strings.Contains(err.Error(), "syntax error") {
			t.Fatalf("SELEC 1: %v, want a syntax error", err)
		}
		inspectPool(t, w, func(c *stmtCacheConn) {
			if diff := cmp.Diff(before, c.keys()); diff != "" {
				t.Errorf("cache changed by a statement that does not prepare (-before +after):\n%s", diff)
			}
		})
	})

	t.Run("cancelled", func(t *testing.T) {
		// Counts to 100 million unless cancelled: seconds, not milliseconds.
		const count = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $1) SELECT count(*) FROM c`
		var n int64
		if err := w.QueryRowContext(ctx, count, 10).Scan(&n); err != nil || n != 10 {
			t.Fatalf("count to 10 = %d, %v", n, err)
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := w.QueryRowContext(cctx, count, 100_000_000).Scan(&n); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("count to 100 million with a 50 ms deadline: %d, %v; want the deadline", n, err)
		}
		if err := w.QueryRowContext(ctx, count, 20).Scan(&n); err != nil || n != 20 {
			t.Fatalf("count to 20 after the cancelled call = %d, %v", n, err)
		}
	})
}

func TestStmtCacheSchemaChange(t *testing.T) {
	ctx := context.Background()
	db := openCacheTestDB(t)
	w := db.Write()
	mustExec(t, w, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL)`)
	const insert = `INSERT INTO t (a) VALUES ($1)`
	const get = `SELECT * FROM t ORDER BY id`
	mustExec(t, w, insert, "eins")

	// readAll returns the column names and the rows of get as text.
	readAll := func(pool *sql.DB) []string {
		t.Helper()
		rows, err := pool.QueryContext(ctx, get)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		out := []string{strings.Join(cols, ",")}
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var fs []string
			for _, v := range vals {
				fs = append(fs, v.String)
			}
			out = append(out, strings.Join(fs, ","))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(step string, want ...string) {
		t.Helper()
		for _, pool := range []*sql.DB{w, db.Read()} {
			if diff := cmp.Diff(want, readAll(pool)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", step, diff)
			}
		}
	}
	check("before", "id,a", "1,eins")
	var cached *cachedStmt
	inspectPool(t, w, func(c *stmtCacheConn) { cached = c.stmts[get] })

	mustExec(t, w, `ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x'`)
	check("after ADD COLUMN", "id,a,b", "1,eins,x")
	// SQLite prepared the statement anew itself (sqlite3_prepare_v2).
	inspectPool(t, w, func(c *stmtCacheConn) {
		if c.stmts[get] != cached {
			t.Error("the cache prepared the SELECT again; SQLite should have")
		}
	})

	// Dropped and created anew with other columns in between two uses.
	mustExec(t, w, `DROP TABLE t`)
	mustExec(t, w, `CREATE TABLE t (z INTEGER NOT NULL DEFAULT 5, a TEXT NOT NULL, id INTEGER PRIMARY KEY)`)
	mustExec(t, w, insert, "zwei")
	check("after DROP and CREATE", "z,a,id", "5,zwei,1")

	// Used while the table is missing: an error, then it works again.
	mustExec(t, w, `DROP TABLE t`)
	if _, err := w.ExecContext(ctx, insert, "drei"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Fatalf("insert into a dropped table: %v, want no such table", err)
	}
	mustExec(t, w, `CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL)`)
	mustExec(t, w, insert, "vier")
	check("after a failed use", "id,a", "1,vier")
}

func TestStmtCacheScripts(t *testing.T) {
	ctx := context.Background()
	db := openCacheTestDB(t)
	w := db.Write()
	script := `CREATE TABLE s (x INTEGER NOT NULL);
INSERT INTO s (x) VALUES (1);
INSERT INTO s (x) VALUES (2);
`
	mustExec(t, w, script)
	const more = `INSERT INTO s (x) VALUES (3); INSERT INTO s (x) VALUES (4)`
	mustExec(t, w, more)
	mustExec(t, w, more)
	var got string
	if err := w.QueryRowContext(ctx, `SELECT group_concat(x, ',') FROM (SELECT x FROM s ORDER BY x)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "1,2,3,3,4,4" {
		t.Errorf("rows after the scripts = %s, want 1,2,3,3,4,4", got)
	}
	inspectPool(t, w, func(c *stmtCacheConn) {
		for _, k := range c.keys() {
			if k == script || k == more {
				t.Errorf("script cached: %q", k)
			}
		}
	})
}

func TestCacheable(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  bool
	}{
		{"SELECT 1", true},
		{"SELECT 1;", true},
		{"SELECT 1\n", true},
		{"SELECT 1 -- a comment\n", true},
		{"-- only a comment", true}, // prepares to no statement: the driver runs nothing either way
		{"SELECT 1;\n", false},      // SQLite leaves "\n" behind the statement
		{"SELECT 1; SELECT 2", false},
		{"SELECT 1; -- done", false},
		{"SELECT ';'", true},
		{"SELECT 'it''s; fine'", true},
		{`SELECT ";" FROM t`, true},
		{"SELECT [a;b] FROM t", true},
		{"SELECT 1 -- one; two\n + 1", true},
		{"SELECT /* one; two */ 1", true},
		{"SELECT /*/ one; two */ 1", true},
		{"SELECT 1 /* one; two", false},
		{"SELECT 'open; literal", false},
		{"SELECT 1 -- trailing; comment", true},
		{"SELECT ';'; SELECT 2", false},
		{"-- a; comment\nSELECT 1; SELECT 2", false},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u; END", false},
		{"SELECT '" + strings.Repeat("x", stmtCacheMaxLen) + "'", false},
	} {
		if got := cacheable(tt.query); got != tt.want {
			t.Errorf("cacheable(%.40q) = %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestStmtCacheEviction(t *testing.T) {
	ctx := context.Background()
	pool := openCachePool(t, 2)
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// q returns the i-th of many statements of about the same size.
	q := func(i int) string { return fmt.Sprintf("SELECT %d + $1", i) }
	run := func(i int) {
		t.Helper()
		var n int
		if err := conn.QueryRowContext(ctx, q(i), 1).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("%s with 1 = %d, %v; want %d", q(i), n, err, i+1)
		}
	}
	for i := range 3 {
		run(i)
	}
	run(1)
	var mem2 int
	inspect(t, conn, func(c *stmtCacheConn) {
		if diff := cmp.Diff([]string{q(1), q(2)}, c.keys()); diff != "" {
			t.Errorf("cache after 0, 1, 2, 1 (-want +got):\n%s", diff)
		}
		if len(c.stmts) != 2 {
			t.Errorf("map holds %d statements, want 2", len(c.stmts))
		}
		mem2 = c.stmtMemory(t)
	})
	for i := range 200 {
		run(i)
	}
	inspect(t, conn, func(c *stmtCacheConn) {
		// Evicted statements are finalized: the memory stays that of two.
		if mem := c.stmtMemory(t); mem > mem2*3/2 {
			t.Errorf("statement memory after 200 statements = %d bytes, after 2 = %d", mem, mem2)
		}
	})

	// A statement evicted while its rows are open is closed with them.
	const each = `SELECT value FROM json_each($1)`
	var open int // statement memory while the evicted statement's rows are open
	rows, err := conn.QueryContext(ctx, each, "[1,2,3]")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() // before conn.Close when the test fails
	var got []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
		if v == 1 {
			// The same text while its rows are open: a statement of its own.
			var inner int
			if err := conn.QueryRowContext(ctx, each, "[10]").Scan(&inner); err != nil || inner != 10 {
				t.Fatalf("nested %s = %d, %v; want 10", each, inner, err)
			}
			run(300)
			run(301) // evicts each
			inspect(t, conn, func(c *stmtCacheConn) {
				if _, ok := c.stmts[each]; ok {
					t.Errorf("%s still cached after two others", each)
				}
				open = c.stmtMemory(t)
			})
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, got); diff != "" {
		t.Errorf("rows of the evicted statement (-want +got):\n%s", diff)
	}
	rows.Close() // closed already at the end of the rows
	inspect(t, conn, func(c *stmtCacheConn) {
		if mem := c.stmtMemory(t); mem >= open {
			t.Errorf("statement memory %d bytes after closing the rows of the evicted statement, %d before", mem, open)
		}
	})
}

// countingConn counts the statements prepared on it and not closed yet.
type countingConn struct {
	sqliteConn
	open *int
}

func (c countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	s, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	*c.open++
	return countingStmt{s.(sqliteStmt), c.open}, nil
}

type countingStmt struct {
	sqliteStmt
	open *int
}

func (s countingStmt) Close() error {
	*s.open--
	return s.sqliteStmt.Close()
}

func TestStmtCacheCloses(t *testing.T) {
	ctx := context.Background()
	c, err := sqlite.NewConnector(sqliteFileURI(filepath.Join(t.TempDir(), "close.db")))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var open int
	conn := newStmtCacheConn(countingConn{raw.(sqliteConn), &open}, 4)
	for i := range 10 {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SELECT %d + $1", i), []driver.NamedValue{{Ordinal: 1, Value: int64(1)}}); err != nil {
			t.Fatal(err)
		}
	}
	if open != 4 {
		t.Errorf("%d statements open after 10 with a cache of 4, want 4", open)
	}
	// A failed statement is closed (and it took the place of another).
	if _, err := conn.ExecContext(ctx, "SELECT abs(-9223372036854775808)", nil); err == nil {
		t.Fatal("abs of the smallest integer did not fail")
	}
	if open != 3 || len(conn.stmts) != 3 {
		t.Errorf("%d statements open, %d cached after a failure, want 3 and 3", open, len(conn.stmts))
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Errorf("%d statements open after Close, want 0", open)
	}
}

func TestStmtCacheConcurrentReads(t *testing.T) {
	ctx := context.Background()
	db := openCacheTestDB(t)
	mustExec(t, db.Write(), `CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, name TEXT NOT NULL)`)
	mustExec(t, db.Write(), `CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT NOT NULL)`)
	if err := db.Transact(ctx, func(tx *sql.Tx) error {
		for i := range 100 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, grp, name) VALUES ($1, $2, $3)`, i, i%10, fmt.Sprintf("item %d", i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const (
		byID    = `SELECT name FROM items WHERE id = $1`
		inGroup = `SELECT count(*), sum(id) FROM items WHERE grp = $1`
		names   = `SELECT name FROM items WHERE grp = $1 ORDER BY id`
	)
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for g := range 8 {
		wg.Go(func() {
			for i := range 150 {
				id := (g*31 + i*7) % 100
				grp := id % 10
				var name string
				if err := db.Read().QueryRowContext(ctx, byID, id).Scan(&name); err != nil || name != fmt.Sprintf("item %d", id) {
					errc <- fmt.Errorf("%s %d = %q, %v", byID, id, name, err)
					return
				}
				var n, sum int
				if err := db.Read().QueryRowContext(ctx, inGroup, grp).Scan(&n, &sum); err != nil || n != 10 || sum != 10*grp+450 {
					errc <- fmt.Errorf("%s %d = %d, %d, %v; want 10, %d", inGroup, grp, n, sum, err, 10*grp+450)
					return
				}
				rows, err := db.Read().QueryContext(ctx, names, grp)
				if err != nil {
					errc <- err
					return
				}
				k := grp
				for rows.Next() {
					if err := rows.Scan(&name); err != nil || name != fmt.Sprintf("item %d", k) {
						errc <- fmt.Errorf("%s %d: row %q, %v; want item %d", names, grp, name, err, k)
						rows.Close()
						return
					}
					k += 10
				}
				rows.Close()
				if err := rows.Err(); err != nil || k != grp+100 {
					errc <- fmt.Errorf("%s %d ended at %d, %v", names, grp, k, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 100 {
			if err := db.Transact(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO log (what) VALUES ($1)`, fmt.Sprintf("write %d", i))
				return err
			}); err != nil {
				errc <- err
				return
			}
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	var n int
	if err := db.Read().QueryRowContext(ctx, `SELECT count(*) FROM log`).Scan(&n); err != nil || n != 100 {
		t.Errorf("log rows = %d, %v; want 100", n, err)
	}
}

// The connection and its rows offer database/sql what the driver's own
// do, so database/sql (and River on top of it) behave as without the
// cache.
func TestStmtCacheInterfaces(t *testing.T) {
	ctx := context.Background()
	c, err := sqlite.NewConnector(sqliteFileURI(filepath.Join(t.TempDir(), "ifaces.db")))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := stmtCacheConnector{Connector: c, size: 4}.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	defer cached.Close()

	type iface struct {
		t reflect.Type
		// deprecated: database/sql prefers the Context version, which
		// the cache implements instead.
		deprecated bool
	}
	connIfaces := []iface{
		{t: reflect.TypeFor[driver.Conn]()},
		{t: reflect.TypeFor[driver.ConnBeginTx]()},
		{t: reflect.TypeFor[driver.ConnPrepareContext]()},
		{t: reflect.TypeFor[driver.ExecerContext]()},
		{t: reflect.TypeFor[driver.QueryerContext]()},
		{t: reflect.TypeFor[driver.Pinger]()},
		{t: reflect.TypeFor[driver.SessionResetter]()},
		{t: reflect.TypeFor[driver.Validator]()},
		{t: reflect.TypeFor[driver.NamedValueChecker]()},
		{t: reflect.TypeFor[driver.ColumnConverter]()},
		{t: reflect.TypeFor[driver.Execer](), deprecated: true},
		{t: reflect.TypeFor[driver.Queryer](), deprecated: true},
	}
	check := func(what string, raw, cached any, ifaces []iface) {
		for _, i := range ifaces {
			has, want := reflect.TypeOf(cached).Implements(i.t), reflect.TypeOf(raw).Implements(i.t)
			if i.deprecated {
				want = false
			}
			if has != want {
				t.Errorf("%s implements %v: %v, want %v", what, i.t, has, want)
			}
		}
	}
	check("connection", raw, cached, connIfaces)

	rawRows, err := raw.(driver.QueryerContext).QueryContext(ctx, "SELECT 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rawRows.Close()
	cachedRows, err := cached.(driver.QueryerContext).QueryContext(ctx, "SELECT 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cachedRows.Close()
	check("rows", rawRows, cachedRows, []iface{
		{t: reflect.TypeFor[driver.RowsColumnTypeDatabaseTypeName]()},
		{t: reflect.TypeFor[driver.RowsColumnTypeLength]()},
		{t: reflect.TypeFor[driver.RowsColumnTypeNullable]()},
		{t: reflect.TypeFor[driver.RowsColumnTypePrecisionScale]()},
		{t: reflect.TypeFor[driver.RowsColumnTypeScanType]()},
		{t: reflect.TypeFor[driver.RowsNextResultSet]()},
	})
}
