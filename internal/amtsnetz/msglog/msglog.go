// Package msglog is the message log of an Amtsnetz node: every message it
// sends or receives becomes a record, and the records are the leaves of a
// Merkle tree (internal/amtsnetz/merkle) whose heads the node signs with
// its member key at intervals. Both ends of an exchange log it, so either
// can prove later what was asked, by whom, why and when — and that its log
// only ever grew: a signed head commits to every record before it, an
// inclusion proof shows one record under a head, a consistency proof
// shows an older head is a prefix of a newer one.
//
// A record holds the message's metadata and signature and the SHA-256 of
// its body; the body itself is kept only when the node is configured to
// (sealed with the node's vault key) — a message between registers is
// personal data. When a record's retention ends, Forget clears everything
// but its leaf hash and time: the tree, its heads and the proofs of the
// other records stay verifiable.
//
// One node writes its log (Append is serialised in the process); the
// leaf hashes are held in memory (32 bytes a record).
package msglog

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"sync"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/merkle"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/vault"
)

//go:embed migrations
var migrationFiles embed.FS

var migrationsDir, _ = fs.Sub(migrationFiles, "migrations")

// Migrations is the schema of the message log.
var Migrations = store.MigrationSet{Component: "amtsnetz_log", FS: migrationsDir}

// Directions of a record.
const (
	In  = "in"
	Out = "out"
)

// Record is one logged message.
type Record struct {
	Seq        int64 // 1, 2, 3, …; leaf index Seq−1
	At         time.Time
	Direction  string // In or Out
	MessageID  string
	Client     string
	Service    string
	Purpose    string
	Reference  string
	ReplyTo    string
	Status     int    // HTTP status of a response; 0 for a request
	Signature  string // the message's JWS
	BodySHA256 string // hex
	Forgotten  bool   // retention ended: only Seq, At and the leaf hash are left
}

// leafData is what a record's leaf hash covers: every field but Seq, in
// a fixed order, time to the microsecond (what PostgreSQL keeps).
func (r Record) leafData() []byte {
	b, _ := json.Marshal([]any{"amtsnetz-log/v1", r.At.UTC().Format("2006-01-02T15:04:05.000000Z"), r.Direction, r.MessageID,
		r.Client, r.Service, r.Purpose, r.Reference, r.ReplyTo, r.Status, r.Signature, r.BodySHA256})
	return b
}

// Leaf is the record's leaf hash.
func (r Record) Leaf() merkle.Hash { return merkle.LeafHash(r.leafData()) }

// Head is a signed tree head.
type Head struct {
	Size      int64
	Root      merkle.Hash
	At        time.Time
	Signature []byte
}

// HeadBytes is what a head's signature covers.
func HeadBytes(size int64, root merkle.Hash, at time.Time) []byte {
	return []byte("amtsnetz-log-head/v1\n" + strconv.FormatInt(size, 10) + "\n" + hex.EncodeToString(root[:]) + "\n" +
		at.UTC().Format("2006-01-02T15:04:05.000000Z") + "\n")
}

func sign(key crypto.Signer, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	var opts crypto.SignerOpts = crypto.SHA256
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	return key.Sign(rand.Reader, d[:], opts)
}

// VerifyHead checks a head's signature with the node's public key.
func VerifyHead(pub crypto.PublicKey, h Head) error {
	d := sha256.Sum256(HeadBytes(h.Size, h.Root, h.At))
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(k, d[:], h.Signature) {
			return nil
		}
	case *rsa.PublicKey:
		if rsa.VerifyPSS(k, crypto.SHA256, d[:], h.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil {
			return nil
		}
	default:
		return fmt.Errorf("Schlüsseltyp %T", pub)
	}
	return fmt.Errorf("Signatur des Baumkopfs %d ist ungültig", h.Size)
}

// Log is a node's message log.
type Log struct {
	db    *store.DB
	key   crypto.Signer  // the node's member key: signs heads
	vault *vault.Keyring // seals bodies; nil: bodies are not kept
	now   func() time.Time

	mu   sync.Mutex
	tree merkle.Tree

	group *store.Group[[]*pending] // concurrent appends share one commit; the records of one AppendAll stay together, in order
}

// pending is a record on its way into the log.
type pending struct {
	r      Record
	sealed []byte
	body   []byte
}

// Entry is a record and its body for AppendAll.
type Entry struct {
	Record Record
	Body   []byte
}

// Open loads the log's leaf hashes. vault nil: bodies are not kept.
func Open(ctx context.Context, db *store.DB, key crypto.Signer, v *vault.Keyring) (*Log, error) {
	l := &Log{db: db, key: key, vault: v, now: time.Now}
	tree, err := loadTree(ctx, db.Read())
	if err != nil {
		return nil, err
	}
	l.tree = tree
	l.group = store.NewGroup(db, l.write, store.GroupOptions{MaxBatch: 128})
	return l, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadTree reads the leaf hashes of the log.
func loadTree(ctx context.Context, q querier) (merkle.Tree, error) {
	var tree merkle.Tree
	rows, err := q.QueryContext(ctx, `SELECT seq, leaf_hash FROM amtsnetz_log ORDER BY seq`)
	if err != nil {
		return tree, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var leaf string
		if err := rows.Scan(&seq, &leaf); err != nil {
			return tree, err
		}
		h, err := parseHash(leaf)
		if err != nil || seq != int64(tree.Size())+1 {
			return tree, fmt.Errorf("msglog: record %d is damaged or missing; run rathaus log verify", tree.Size()+1)
		}
		tree.Append(h)
	}
	return tree, rows.Err()
}

// Close stops the log's writer (after what is queued is written).
func (l *Log) Close() { l.group.Close() }

// write inserts a batch of records in tx, numbered after the last one
// committed. The in-memory tree grows with them; should the commit fail
// after that, the next batch finds the tree longer than the table and
// reads it again from the table first.
func (l *Log) write(ctx context.Context, tx *sql.Tx, batches [][]*pending) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM amtsnetz_log`).Scan(&last); err != nil {
		return err
	}
	if last != int64(l.tree.Size()) {
		tree, err := loadTree(ctx, tx)
		if err != nil {
			return err
		}
		l.tree = tree
	}
	// The tree grows only once the rows are written: a failed insert
	// leaves it as the table is.
	size := int64(l.tree.Size())
	var rows [][]any
	var leaves []merkle.Hash
	for _, it := range all(batches) {
		size++
		it.r.Seq = size
		leaf := it.r.Leaf()
		if l.vault != nil {
			keyID, blob := l.vault.Seal(it.body, []byte("amtsnetz_log\x00"+strconv.FormatInt(it.r.Seq, 10)))
			it.sealed = append([]byte(keyID+":"), blob...) // the key that sealed it, for rotation
		}
		rows = append(rows, []any{it.r.Seq, hex.EncodeToString(leaf[:]), it.r.At, it.r.Direction, it.r.MessageID, it.r.Client,
			it.r.Service, it.r.Purpose, it.r.Reference, it.r.ReplyTo, it.r.Status, it.r.Signature, it.r.BodySHA256, it.sealed})
		leaves = append(leaves, leaf)
	}
	if err := store.InsertRows(ctx, tx, l.db.Engine, `INSERT INTO amtsnetz_log (seq, leaf_hash, at, direction, message_id, client,
		service, purpose, reference, reply_to, status, signature, body_sha256, body) VALUES`, rows); err != nil {
		return fmt.Errorf("msglog: append: %w", err)
	}
	for _, leaf := range leaves {
		l.tree.Append(leaf)
	}
	return nil
}

func parseHash(s string) (merkle.Hash, error) {
	var h merkle.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, errors.New("not a hash")
	}
	copy(h[:], b)
	return h, nil
}

// Size is the number of records.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(l.tree.Size())
}

// Append logs a message; body is kept (sealed) only when the log has a
// vault. It returns the record with Seq and At set, after the record is
// committed (concurrent appends share commits, store.Group).
func (l *Log) Append(ctx context.Context, r Record, body []byte) (Record, error) {
	rs, err := l.AppendAll(ctx, Entry{Record: r, Body: body})
	if err != nil {
		return r, err
	}
	return rs[0], nil
}

// AppendAll logs messages as consecutive records in one transaction:
// all of them or none. A node logs a request together with its response
// this way — one commit per exchange instead of two.
func (l *Log) AppendAll(ctx context.Context, entries ...Entry) ([]Record, error) {
	ps := make([]*pending, len(entries))
	at := l.now().UTC().Truncate(time.Microsecond)
	for i, e := range entries {
		r := e.Record
		if r.Direction != In && r.Direction != Out {
			return nil, fmt.Errorf("msglog: direction %q", r.Direction)
		}
		sum := sha256.Sum256(e.Body)
		r.BodySHA256 = hex.EncodeToString(sum[:])
		r.At = at
		ps[i] = &pending{r: r, body: e.Body}
	}
	if len(ps) == 0 {
		return nil, nil
	}
	if err := l.group.Add(ctx, ps); err != nil {
		return nil, err
	}
	out := make([]Record, len(ps))
	for i, p := range ps {
		out[i] = p.r
	}
	return out, nil
}

// all iterates the records of a group's batches in order.
func all(batches [][]*pending) func(yield func(int, *pending) bool) {
	return func(yield func(int, *pending) bool) {
		i := 0
		for _, b := range batches {
			for _, p := range b {
				if !yield(i, p) {
					return
				}
				i++
			}
		}
	}
}

// SignHead signs the current size and root and stores the head (once
// per size). An empty log has no head.
func (l *Log) SignHead(ctx context.Context) (Head, error) {
	l.mu.Lock()
	size := l.tree.Size()
	root, err := l.tree.Root(size)
	l.mu.Unlock()
	if err != nil || size == 0 {
		return Head{}, err
	}
	h := Head{Size: int64(size), Root: root, At: l.now().UTC().Truncate(time.Microsecond)}
	if h.Signature, err = sign(l.key, HeadBytes(h.Size, h.Root, h.At)); err != nil {
		return Head{}, err
	}
	var q string
	if l.db.Engine == store.Postgres {
		q = `INSERT INTO amtsnetz_log_heads (size, root, at, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING`
	} else {
		q = `INSERT OR IGNORE INTO amtsnetz_log_heads (size, root, at, signature) VALUES ($1, $2, $3, $4)`
	}
	_, err = l.db.Write().ExecContext(ctx, q, h.Size, hex.EncodeToString(root[:]), h.At, base64.StdEncoding.EncodeToString(h.Signature))
	return h, err
}

// Heads returns the stored heads, smallest first.
func Heads(ctx context.Context, db *store.DB) ([]Head, error) {
	rows, err := db.Read().QueryContext(ctx, `SELECT size, root, at, signature FROM amtsnetz_log_heads ORDER BY size`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Head
	for rows.Next() {
		var h Head
		var root, sig string
		if err := rows.Scan(&h.Size, &root, &h.At, &sig); err != nil {
			return nil, err
		}
		if h.Root, err = parseHash(root); err != nil {
			return nil, fmt.Errorf("Baumkopf %d: Wurzel unlesbar", h.Size)
		}
		if h.Signature, err = base64.StdEncoding.DecodeString(sig); err != nil {
			return nil, fmt.Errorf("Baumkopf %d: Signatur unlesbar", h.Size)
		}
		h.At = h.At.UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// InclusionProof proves record seq under the head of size.
func (l *Log) InclusionProof(seq, size int64) ([]merkle.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.InclusionProof(int(seq-1), int(size))
}

// ConsistencyProof proves the head of size m a prefix of the head of size n.
func (l *Log) ConsistencyProof(m, n int64) ([]merkle.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.ConsistencyProof(int(m), int(n))
}

const recordColumns = `seq, at, direction, message_id, client, service, purpose, reference, reply_to, status, signature, body_sha256, forgotten_at`

func scanRecord(row interface{ Scan(...any) error }) (Record, string, error) {
	var r Record
	var forgotten sql.NullTime
	var leaf string
	err := row.Scan(&r.Seq, &r.At, &r.Direction, &r.MessageID, &r.Client, &r.Service, &r.Purpose, &r.Reference, &r.ReplyTo,
		&r.Status, &r.Signature, &r.BodySHA256, &forgotten, &leaf)
	r.At, r.Forgotten = r.At.UTC(), forgotten.Valid
	return r, leaf, err
}

// Find returns the records of a message ID (request and response, at this
// end), oldest first.
func Find(ctx context.Context, db *store.DB, messageID string) ([]Record, error) {
	return records(ctx, db, `WHERE message_id = $1 OR (reply_to = $1 AND reply_to <> '') ORDER BY seq`, messageID)
}

// records returns the records a WHERE … ORDER BY … clause selects.
func records(ctx context.Context, db *store.DB, where string, args ...any) ([]Record, error) {
	rows, err := db.Read().QueryContext(ctx, `SELECT `+recordColumns+`, leaf_hash FROM amtsnetz_log `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, _, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Forget ends the retention of the records logged before cutoff: their
// content goes, their leaf hash and time stay. It returns how many.
func Forget(ctx context.Context, db *store.DB, cutoff, now time.Time) (int64, error) {
	res, err := db.Write().ExecContext(ctx, `UPDATE amtsnetz_log SET direction = '', message_id = '', client = '', service = '', purpose = '',
		reference = '', reply_to = '', status = 0, signature = '', body_sha256 = '', body = NULL, forgotten_at = $2
		WHERE at < $1 AND forgotten_at IS NULL`, cutoff.UTC(), now.UTC())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Body returns the sealed body of record seq, opened; nil when bodies are
// not kept or the record is forgotten.
func (l *Log) Body(ctx context.Context, seq int64) ([]byte, error) {
	var sealed []byte
	if err := l.db.Read().QueryRowContext(ctx, `SELECT body FROM amtsnetz_log WHERE seq = $1`, seq).Scan(&sealed); err != nil {
		return nil, err
	}
	if sealed == nil || l.vault == nil {
		return nil, nil
	}
	keyID, blob, ok := bytes.Cut(sealed, []byte(":"))
	if !ok {
		return nil, vault.ErrOpen
	}
	return l.vault.Open(string(keyID), blob, []byte("amtsnetz_log\x00"+strconv.FormatInt(seq, 10)))
}

// ReceivedSince returns client + "\x00" + message ID of every message
// logged as received at or after since, for replay protection across
// restarts. It reads the log backwards from its end and stops a minute
// before since (records are appended in time order, give or take a
// batch), so it costs the records of that window.
func (l *Log) ReceivedSince(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := l.db.Read().QueryContext(ctx, `SELECT client, message_id, direction, at FROM amtsnetz_log ORDER BY seq DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	stop := since.Add(-time.Minute)
	for rows.Next() {
		var client, id, direction string
		var at time.Time
		if err := rows.Scan(&client, &id, &direction, &at); err != nil {
			return nil, err
		}
		if at.Before(stop) {
			break
		}
		if direction == In && id != "" && !at.Before(since) {
			keys = append(keys, client+"\x00"+id)
		}
	}
	return keys, rows.Err()
}

// ByReference returns the records of a file reference (Aktenzeichen),
// oldest first, at most limit.
func ByReference(ctx context.Context, db *store.DB, reference string, limit int) ([]Record, error) {
	return records(ctx, db, `WHERE reference = $1 ORDER BY seq LIMIT $2`, reference, limit)
}
