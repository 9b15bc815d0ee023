package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

func TestUnavailableSQLite(t *testing.T) {
	ctx := context.Background()
	db := storetest.Empty(t, store.SQLite)
	w := db.Write()
	for _, q := range []string{
		`CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)`,
		`INSERT INTO t (id, b) VALUES (1, x'00')`,
	} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// A full disk, as SQLite reports it: the database may not grow past
	// its pages (the write pool has one connection, so the pragma holds
	// for the insert below).
	var pages int
	if err := w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	_, full := w.ExecContext(ctx, `INSERT INTO t (id, b) VALUES (2, randomblob(1000000))`)
	var se *sqlite.Error
	if !errors.As(full, &se) || se.Code()&0xff != 13 {
		t.Fatalf("insert past max_page_count = %v, want SQLITE_FULL (13)", full)
	}
	_, constraint := w.ExecContext(ctx, `INSERT INTO t (id, b) VALUES (1, x'00')`)
	_, syntax := w.ExecContext(ctx, `INSERT INTO nowhere VALUES (1)`)
	if constraint == nil || syntax == nil {
		t.Fatalf("constraint violation = %v, bad query = %v; want errors", constraint, syntax)
	}

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"SQLITE_FULL", full, true},
		{"SQLITE_FULL wrapped", fmt.Errorf("commit: %w", full), true},
		{"constraint violation", constraint, false},
		{"no such table", syntax, false},
	}
	for _, tt := range tests {
		if got := store.Unavailable(tt.err); got != tt.want {
			t.Errorf("%s (%v): Unavailable = %t, want %t", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestUnavailablePostgresAndNetwork(t *testing.T) {
	// A real refused connection: a port nobody listens on any more.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, refused := net.Dial("tcp", addr)
	var op *net.OpError
	if !errors.As(refused, &op) {
		t.Fatalf("dial a closed port = %v, want a *net.OpError", refused)
	}

	pg := func(code string) error {
		return fmt.Errorf("commit: %w", &pgconn.PgError{Severity: "FATAL", Code: code, Message: "test"})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("query: %w", refused), true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"pgx conn closed", fmt.Errorf("exec: %w", pgconn.ErrConnClosed), true},
		{"08006 connection_failure", pg("08006"), true},
		{"08003 connection_does_not_exist", pg("08003"), true},
		{"57P01 admin_shutdown", pg("57P01"), true},
		{"57P03 cannot_connect_now", pg("57P03"), true},
		{"53100 disk_full", pg("53100"), true},
		{"23505 unique_violation", pg("23505"), false},
		{"23503 foreign_key_violation", pg("23503"), false},
		{"42601 syntax_error", pg("42601"), false},
		{"42P01 undefined_table", pg("42P01"), false},
		{"40001 serialization_failure", pg("40001"), false},
		{"57014 query_canceled", pg("57014"), false},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"canceled", context.Canceled, false},
		{"plain error", errors.New("boom"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := store.Unavailable(tt.err); got != tt.want {
			t.Errorf("%s (%v): Unavailable = %t, want %t", tt.name, tt.err, got, tt.want)
		}
	}
}

// A PostgreSQL connection that the server ends mid-transaction: the
// statement's error, and the transaction's, are Unavailable.
func TestUnavailablePostgresTerminated(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		if e != store.Postgres {
			continue
		}
		ctx := context.Background()
		db := storetest.Empty(t, e)
		var stmtErr error
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			_, stmtErr = tx.ExecContext(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
			if stmtErr != nil {
				return stmtErr
			}
			_, err := tx.ExecContext(ctx, `SELECT 1`)
			return err
		})
		t.Logf("terminated: statement %v; transaction %v", stmtErr, err)
		if err == nil || !store.Unavailable(err) {
			t.Errorf("transaction on a terminated connection = %v; want an error that is Unavailable", err)
		}
		if stmtErr != nil && !store.Unavailable(stmtErr) {
			t.Errorf("statement that terminated its connection = %v; want Unavailable", stmtErr)
		}
		var syntax *pgconn.PgError
		_, bad := db.Write().ExecContext(ctx, `SELEC 1`)
		if !errors.As(bad, &syntax) || store.Unavailable(bad) {
			t.Errorf("bad query = %v; want a PgError that is not Unavailable", bad)
		}
	}
}
