// Package audit keeps the tamper-evident log of what staff and operators
// do with personal data: every read, every decision, every change of
// rules — who, what, when, from where, why.
//
// The log is a hash chain. Entry n stores the SHA-256 of its own content
// and of entry n−1 (hashEntry), so changing, deleting or reordering an
// entry breaks every link after it; seq runs 1, 2, 3, … without gaps, so a
// deleted entry also leaves a hole. A chain alone does not stop someone
// who can write the database from recomputing it after a change: signed
// checkpoints do. Checkpoint signs the current head (seq and hash) with the
// installation's audit key (ECDSA P-256), kept outside the database; a
// rewritten chain no longer matches the signed hashes, and a cut-off tail
// leaves a checkpoint pointing past the last entry. What comes after the
// last checkpoint is protected by the chain only, so checkpoints are made
// often (a periodic job) and Verify says up to which entry the log is
// signed.
//
// Entries are appended in the transaction of what they record (Append
// takes the caller's *sql.Tx): no decision without its entry, no entry
// for a decision that was rolled back. Appends are serialised on the head
// row (audit_head): on PostgreSQL its row lock, on SQLite the one writer.
// That suits what staff do (a few events per second per clerk), not
// machine traffic: the enforcement lookups of scan cars have their own
// table.
//
// Entries hold references (key ids, application ids, ARS), never copies
// of personal data, so the log needs no deletion period; deleting old
// entries would break the chain.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
)

// Entry is one event of the log.
type Entry struct {
	Seq          int64
	At           time.Time // UTC, to the microsecond (what PostgreSQL keeps)
	Actor        string    // who: "clerk:key_…", "staff:<subject>", "system", "operator"
	Action       string    // what: "view_queue", "view_case", "decide", …
	Object       string    // on what: a reference such as "parking_application:app_…"; never personal data
	Municipality string    // ARS, "" for none
	Origin       string    // from where: client address, "cli", "job"
	Reason       string    // why: the purpose given
	PrevHash     string    // hex SHA-256 of entry Seq−1 (zeroHash for the first)
	Hash         string    // hex SHA-256 of this entry (hashEntry)
}

// zeroHash is the PrevHash of the first entry.
var zeroHash = strings.Repeat("0", 64)

// Field limits: an entry is a short record, not a document.
const (
	maxShort  = 200  // actor, action, object, municipality, origin
	maxReason = 2000 // reason
)

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Append writes e as the next entry of the log in tx and returns it with
// Seq, At (now, if e.At is zero), PrevHash and Hash set. The caller's
// transaction commits or rolls back the entry with what it records.
func Append(ctx context.Context, tx *sql.Tx, engine store.Engine, e Entry) (Entry, error) {
	if e.Actor == "" || e.Action == "" {
		return Entry{}, errors.New("audit: an entry needs an actor and an action")
	}
	for _, f := range []string{e.Actor, e.Action, e.Object, e.Municipality, e.Origin} {
		if len(f) > maxShort {
			return Entry{}, fmt.Errorf("audit: field longer than %d bytes", maxShort)
		}
	}
	if len(e.Reason) > maxReason {
		e.Reason = e.Reason[:maxReason]
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	lock := ""
	if engine == store.Postgres {
		lock = " FOR UPDATE"
	}
	var seq int64
	var prev string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+lock).Scan(&seq, &prev); err != nil {
		return Entry{}, fmt.Errorf("audit: read head: %w", err)
	}
	e.Seq, e.PrevHash = seq+1, prev
	e.Hash = hashEntry(e)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor, action, object, municipality, origin, reason, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.Seq, e.At, e.Actor, e.Action, e.Object, e.Municipality, e.Origin, e.Reason, e.PrevHash, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit: append: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, e.Seq, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit: move head: %w", err)
	}
	return e, nil
}

// hashEntry is the SHA-256 of an entry's fields and its predecessor's
// hash, each length-prefixed so that no two different entries encode the
// same (moving a character from one field to the next changes the hash).
func hashEntry(e Entry) string {
	var b bytes.Buffer
	b.WriteString("rathaus-audit-v1")
	field := func(s string) {
		var n [binary.MaxVarintLen64]byte
		b.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		b.WriteString(s)
	}
	field(strconv.FormatInt(e.Seq, 10))
	field(strconv.FormatInt(e.At.UTC().UnixMicro(), 10))
	field(e.Actor)
	field(e.Action)
	field(e.Object)
	field(e.Municipality)
	field(e.Origin)
	field(e.Reason)
	field(e.PrevHash)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// Head returns the last entry's seq and hash (0 and zeroHash for an empty
// log).
func Head(ctx context.Context, q querier) (int64, string, error) {
	var seq int64
	var hash string
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	return seq, hash, err
}

// Entries returns up to limit entries from seq from on, in order; for the
// reports and the tests.
func Entries(ctx context.Context, q querier, from int64, limit int) ([]Entry, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, at, actor, action, object, municipality, origin, reason, prev_hash, hash
		FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2`, from, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Object, &e.Municipality, &e.Origin, &e.Reason, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
