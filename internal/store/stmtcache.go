package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"reflect"
	"strings"

	"modernc.org/sqlite"
)

// SQLite connections keep their prepared statements.
//
// database/sql prepares nothing for Exec and Query when the driver's
// connection executes SQL text itself, and modernc.org/sqlite then parses
// the text anew on every call. On SQLite's single write connection that
// parse is time the only writer is held: River's job insert alone is 2 KiB
// of SQL, and preparing it took more of a submission's CPU than the commit
// (BENCHMARKS.md, issue #3). A stmtCacheConn keeps the statements it
// prepared, per connection, and runs the same text again on the same
// statement.
//
// It is invisible to callers: ExecContext and QueryContext take SQL text as
// before, and what is cached is decided here. SQLite re-prepares a cached
// statement by itself when the schema changed since it was prepared
// (sqlite3_prepare_v2), so migrations and ALTER TABLE need no invalidation.

const (
	// stmtCacheSize bounds the statements kept per connection; the least
	// recently used one is closed when a new one would exceed it. Rathaus
	// and River together have about two hundred statements, few of them
	// hot.
	stmtCacheSize = 256
	// stmtCacheMaxLen bounds the length of SQL text that is cached. Longer
	// text is generated (multi-row inserts with one placeholder per value):
	// its parse is shared by many rows already, and a cache of such
	// statements would hold megabytes per connection.
	stmtCacheMaxLen = 16 << 10
)

// openSQLiteDB opens a pool of connections to the SQLite database dsn
// that keep their prepared statements.
func openSQLiteDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(stmtCacheConnector{Connector: c, size: stmtCacheSize}), nil
}

// stmtCacheConnector opens connections through the driver's connector and
// wraps each in a stmtCacheConn.
type stmtCacheConnector struct {
	driver.Connector
	size int
}

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlite driver connection %T lacks the interfaces the statement cache relies on", conn)
	}
	return newStmtCacheConn(sc, c.size), nil
}

// sqliteConn is what database/sql uses of modernc.org/sqlite's connection.
// stmtCacheConn implements exactly these interfaces: the driver's
// connection implements no driver.NamedValueChecker, and one here would
// change how database/sql converts arguments. (It also implements the
// deprecated driver.Execer and driver.Queryer, which database/sql ignores
// beside their Context versions.)
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteStmt is the driver's prepared statement.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachedStmt is a statement of a stmtCacheConn, an element of its list in
// order of use.
type cachedStmt struct {
	query      string
	stmt       sqliteStmt
	prev, next *cachedStmt // nil: not (or no longer) in the cache
	// inUse: rows of the statement are open. SQLite steps them on this
	// statement, so a second use of the same text in the meantime gets a
	// statement of its own, and a statement evicted while in use is
	// closed when its rows are.
	inUse bool
}

func (s *cachedStmt) cached() bool { return s.next != nil }

// stmtCacheConn is a connection that keeps up to max prepared statements,
// keyed by their SQL text.
//
// Like every driver connection it is used by one goroutine at a time:
// database/sql holds the connection's lock around every call into it and
// into its rows, closing of rows included. So the cache has no lock.
type stmtCacheConn struct {
	sqliteConn
	max   int
	stmts map[string]*cachedStmt
	// root.next is the most recently used statement, root.prev the least.
	root cachedStmt
}

func newStmtCacheConn(conn sqliteConn, max int) *stmtCacheConn {
	c := &stmtCacheConn{sqliteConn: conn, max: max, stmts: make(map[string]*cachedStmt)}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// cacheable reports whether query is worth caching and certainly one
// statement. The driver runs SQL text of several statements (migrations)
// one after the other, preparing each anew: such text is not cached. Text
// is one statement when no ';' stands outside comments, string literals
// and quoted identifiers, except a single one at the very end, which
// leaves SQLite no text after the statement. (River's SQL carries
// semicolons in its comments.) Text the scan cannot follow — an
// unterminated literal or comment — is merely not cached.
func cacheable(query string) bool {
	if len(query) > stmtCacheMaxLen {
		return false
	}
	for i := 0; i < len(query); i++ {
		var end string // what closes the literal or comment that starts here
		switch query[i] {
		case '\'':
			end = "'" // '' inside a literal: two literals in a row, same result
		case '"':
			end = `"`
		case '`':
			end = "`"
		case '[':
			end = "]"
		case '-':
			if strings.HasPrefix(query[i:], "--") {
				end = "\n"
			}
		case '/':
			if strings.HasPrefix(query[i:], "/*") {
				end = "*/"
				i++ // "/*/" does not close the comment
			}
		case ';':
			return i == len(query)-1
		}
		if end == "" {
			continue
		}
		j := strings.Index(query[i+1:], end)
		if j < 0 {
			// A line comment may end the text; anything else unterminated
			// is left to SQLite.
			return end == "\n"
		}
		i += j + len(end)
	}
	return true
}

// take returns the cached statement of query, marked in use, preparing and
// caching it first if need be. It returns nil without an error when query
// is to run without the cache.
func (c *stmtCacheConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	if !cacheable(query) {
		return nil, nil
	}
	if s, ok := c.stmts[query]; ok {
		if s.inUse {
			return nil, nil
		}
		c.unlink(s)
		c.pushFront(s)
		s.inUse = true
		return s, nil
	}
	ds, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(sqliteStmt)
	if !ok {
		ds.Close()
		return nil, nil
	}
	s := &cachedStmt{query: query, stmt: st, inUse: true}
	c.stmts[query] = s
	c.pushFront(s)
	if len(c.stmts) > c.max {
		c.evict(c.root.prev)
	}
	return s, nil
}

// release ends a use of s. A statement whose use failed leaves the cache:
// the next use prepares it anew, so nothing of a failed execution can
// carry over.
func (c *stmtCacheConn) release(s *cachedStmt, failed bool) {
	s.inUse = false
	if failed && s.cached() {
		c.evict(s)
		return
	}
	if !s.cached() {
		s.stmt.Close()
	}
}

// evict removes s from the cache and closes it unless its rows are open.
// Closing a statement finalizes it: an error there is the error of its
// last execution, reported then already.
func (c *stmtCacheConn) evict(s *cachedStmt) {
	c.unlink(s)
	delete(c.stmts, s.query)
	if !s.inUse {
		s.stmt.Close()
	}
}

func (c *stmtCacheConn) pushFront(s *cachedStmt) {
	s.prev, s.next = &c.root, c.root.next
	c.root.next.prev = s
	c.root.next = s
}

func (c *stmtCacheConn) unlink(s *cachedStmt) {
	s.prev.next, s.next.prev = s.next, s.prev
	s.prev, s.next = nil, nil
}

func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	res, err := s.stmt.ExecContext(ctx, args)
	c.release(s, err != nil)
	return res, err
}

func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(s, true)
		return nil, err
	}
	return &cachedRows{Rows: rows, conn: c, stmt: s}, nil
}

// Close closes the cached statements, then the connection. database/sql
// closes a connection only when no rows of it are open.
func (c *stmtCacheConn) Close() error {
	for s := c.root.next; s != &c.root; s = s.next {
		s.stmt.Close()
	}
	c.stmts = nil
	c.root.next, c.root.prev = &c.root, &c.root
	return c.sqliteConn.Close()
}

// cachedRows are the rows of a cached statement; closing them ends the
// statement's use. They offer what the driver's rows offer database/sql:
// column types for sql.ColumnType.
type cachedRows struct {
	driver.Rows
	conn   *stmtCacheConn
	stmt   *cachedStmt // nil once closed
	failed bool
}

func (r *cachedRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err != nil && err != io.EOF {
		r.failed = true
	}
	return err
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.stmt != nil {
		r.conn.release(r.stmt, r.failed || err != nil)
		r.stmt = nil
	}
	return err
}

// The column type methods answer what database/sql assumes when rows lack
// them.

func (r *cachedRows) ColumnTypeDatabaseTypeName(index int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(index int) (length int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(index)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(index int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}
