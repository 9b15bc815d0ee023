package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Unavailable reports whether err says that the database is away for now —
// the connection was refused or lost, the server is shutting down or
// starting, the disk is full or failing — so that the same request may
// well succeed in a moment. The HTTP layer answers such an error like
// errs.Unavailable: 503 with Retry-After, which clients retry.
//
// It holds for the database's answer only, never for the query's own
// fault: a constraint violation, a syntax error, a missing table or a
// serialization conflict is not Unavailable. Context errors are not either:
// a deadline is the caller's business, a cancelled request nobody reads.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff { // the primary result code of an extended one
		case sqlite3.SQLITE_BUSY, // busy_timeout ran out: another writer held the database
			sqlite3.SQLITE_NOMEM,
			sqlite3.SQLITE_IOERR,    // the disk failed to read or write
			sqlite3.SQLITE_FULL,     // the disk is full
			sqlite3.SQLITE_CANTOPEN, // the file (or its WAL) cannot be opened
			sqlite3.SQLITE_PROTOCOL: // WAL locking raced
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pgUnavailable(pe.Code)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF): // the server closed the connection mid-message
		return true
	}
	return false
}

// pgUnavailable reports whether a PostgreSQL SQLSTATE says the server
// cannot serve now (appendix A of the PostgreSQL manual).
func pgUnavailable(code string) bool {
	if len(code) == 5 && code[:2] == "08" { // connection exception
		return true
	}
	switch code {
	case "57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now: starting up or in recovery
		"53000", // insufficient_resources
		"53100", // disk_full
		"53200", // out_of_memory
		"53300", // too_many_connections
		"58030": // io_error
		return true
	}
	return false
}
