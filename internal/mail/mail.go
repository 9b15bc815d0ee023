// Package mail is the platform's e-mail outbox. A feature enqueues a
// message in the transaction of the change that causes it (Enqueue), so a
// message exists exactly when the change committed; a job then sends it
// over SMTP, with TLS required (STARTTLS on smtp://, implicit TLS on
// smtps://). Without an SMTP server (the demo) the job keeps the message
// in the outbox, where the demo page /demo/post shows it.
//
// A message is sent at most once: the job claims it (queued → sending)
// before talking to the server and records sent_at afterwards; a job that
// runs again, or a crash in between, never sends it a second time. A
// message whose delivery is uncertain is marked failed, not retried.
//
// Addresses and bodies are personal data: logs name a message by its id
// only, error texts are scrubbed of addresses, and messages are deleted 90
// days after they were written (Purge, a daily job) or with their case
// (Forget).
//
// It does not render templates, track opens, handle bounces or send
// attachments; the text of a message is its feature's business.
package mail

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/store"
)

// Message is one e-mail to one person.
type Message struct {
	To        string // one plain address, "name@example.org"
	Subject   string // one line
	Body      string // German plain text, lines separated by \n
	Reference string // the case it belongs to (e.g. an Aktenzeichen); deleted with it
}

// Status is where a message stands.
type Status string

const (
	Queued  Status = "queued"  // written; the send job will pick it up
	Sending Status = "sending" // claimed by the send job; never sent twice
	Sent    Status = "sent"    // the SMTP server accepted it
	Kept    Status = "kept"    // no SMTP server configured: kept in the outbox only
	Failed  Status = "failed"  // refused, given up, or delivery uncertain
)

var labels = map[Status]string{
	Queued:  "Wartet auf Versand",
	Sending: "Wird gesendet",
	Sent:    "Gesendet",
	Kept:    "Nicht versandt (kein SMTP-Server konfiguriert)",
	Failed:  "Fehlgeschlagen",
}

// Label returns the German name of a status.
func (s Status) Label() string {
	if l, ok := labels[s]; ok {
		return l
	}
	return string(s)
}

// Stored is a message as the outbox holds it.
type Stored struct {
	ID string
	Message
	Status    Status
	Note      string // why kept or failed
	Attempts  int
	CreatedAt time.Time
	SentAt    *time.Time
}

// DefaultRetention is how long messages are kept: long enough to answer
// "did you write to me?", short enough not to become a second case file.
const DefaultRetention = 90 * 24 * time.Hour

// keptNote says why a message was not sent.
const keptNote = "kept (no SMTP configured)"

// Options configure an Outbox.
type Options struct {
	// SMTP is the server to send through; nil keeps every message in the
	// outbox (the demo).
	SMTP *SMTP
	// From is the sender, e.g. "Stadt Musterstadt <noreply@musterstadt.de>";
	// required with SMTP.
	From   string
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Retention is how long a message is kept (default DefaultRetention).
	Retention time.Duration
}

// Outbox stores and sends messages.
type Outbox struct {
	db        *store.DB
	jobs      *jobs.Client
	smtp      *SMTP
	from      *netmail.Address
	logger    *slog.Logger
	now       func() time.Time
	retention time.Duration
}

// New returns an Outbox; SetJobs must be called before Enqueue.
func New(db *store.DB, o Options) (*Outbox, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	out := &Outbox{db: db, smtp: o.SMTP, logger: o.Logger, now: o.Now, retention: o.Retention}
	if o.From != "" {
		a, err := netmail.ParseAddress(o.From)
		if err != nil {
			return nil, fmt.Errorf("mail: sender %q: %w", o.From, err)
		}
		out.from = a
	}
	if o.SMTP != nil && out.from == nil {
		return nil, errors.New("mail: an SMTP server needs a sender address (RATHAUS_MAIL_FROM)")
	}
	return out, nil
}

// SetJobs sets the job client that runs the send jobs.
func (o *Outbox) SetJobs(c *jobs.Client) { o.jobs = c }

// Register adds the outbox's workers.
func (o *Outbox) Register(w *river.Workers) {
	river.AddWorker(w, &sendWorker{o: o})
	river.AddWorker(w, &retentionWorker{o: o})
}

// Sending reports whether messages go to an SMTP server (false: they are
// kept in the outbox).
func (o *Outbox) Sending() bool { return o.smtp != nil }

// Limits of a message: generous for any text a procedure sends, small
// enough to stop a runaway body.
const (
	maxSubject = 200
	maxBody    = 64 << 10
)

// Enqueue stores m and enqueues its send job, both in tx: the message
// exists exactly when tx commits. It returns the message's id.
func (o *Outbox) Enqueue(ctx context.Context, tx *sql.Tx, m Message) (string, error) {
	if o.jobs == nil {
		return "", errors.New("mail: Enqueue before SetJobs")
	}
	id, job, err := o.Store(ctx, tx, m)
	if err != nil {
		return "", err
	}
	if err := o.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{job}); err != nil {
		return "", err
	}
	return id, nil
}

// Store stores m in tx and returns its send job, which the caller must
// enqueue in the same tx (jobs.Client.InsertManyTx) — for callers that
// enqueue the jobs of many messages with one statement.
func (o *Outbox) Store(ctx context.Context, tx *sql.Tx, m Message) (string, river.InsertManyParams, error) {
	if err := m.validate(); err != nil {
		return "", river.InsertManyParams{}, err
	}
	var b [10]byte
	rand.Read(b[:])
	id := "mail_" + hex.EncodeToString(b[:])
	now := o.now().UTC()
	_, err := tx.ExecContext(ctx, `INSERT INTO mail_outbox (id, to_addr, subject, body, reference, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, id, m.To, m.Subject, m.Body, m.Reference, Queued, now)
	if err != nil {
		return "", river.InsertManyParams{}, fmt.Errorf("insert mail: %w", err)
	}
	return id, river.InsertManyParams{Args: SendArgs{ID: id}}, nil
}

// validate refuses what could break the message's headers. Its messages
// never quote the address: errors end up in logs.
func (m Message) validate() error {
	a, err := netmail.ParseAddress(m.To)
	if err != nil || a.Address != m.To || len(m.To) > 254 {
		return errs.E(errs.Invalid, "Die Empfängeradresse ist ungültig.")
	}
	if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") || utf8.RuneCountInString(m.Subject) > maxSubject {
		return errs.E(errs.Invalid, "Der Betreff fehlt, ist zu lang oder hat mehrere Zeilen.")
	}
	if strings.TrimSpace(m.Body) == "" || len(m.Body) > maxBody || !utf8.ValidString(m.Body) {
		return errs.E(errs.Invalid, "Der Text fehlt, ist zu lang oder kein gültiges UTF-8.")
	}
	if len(m.Reference) > 100 {
		return errs.E(errs.Invalid, "Das Aktenzeichen ist zu lang.")
	}
	return nil
}

const columns = `id, to_addr, subject, body, reference, status, note, attempts, created_at, sent_at`

func scan(row interface{ Scan(...any) error }) (Stored, error) {
	var s Stored
	var sent sql.NullTime
	err := row.Scan(&s.ID, &s.To, &s.Subject, &s.Body, &s.Reference, &s.Status, &s.Note, &s.Attempts, &s.CreatedAt, &sent)
	if sent.Valid {
		t := sent.Time.UTC()
		s.SentAt = &t
	}
	s.CreatedAt = s.CreatedAt.UTC()
	return s, err
}

// List returns the newest limit messages, newest first (for the demo's
// outbox page).
func (o *Outbox) List(ctx context.Context, limit int) ([]Stored, error) {
	rows, err := o.db.Read().QueryContext(ctx, `SELECT `+columns+` FROM mail_outbox ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	defer rows.Close()
	out := []Stored{}
	for rows.Next() {
		s, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Get returns one message.
func (o *Outbox) Get(ctx context.Context, id string) (Stored, error) {
	s, err := scan(o.db.Read().QueryRowContext(ctx, `SELECT `+columns+` FROM mail_outbox WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, errs.E(errs.NotFound, "Die Nachricht %s gibt es nicht.", id)
	}
	return s, err
}

// Forget deletes the messages of a case, in tx: the case's storage
// limitation reaches the outbox as well. A message still queued is not
// sent any more.
func (o *Outbox) Forget(ctx context.Context, tx *sql.Tx, reference string) error {
	if reference == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM mail_outbox WHERE reference = $1`, reference)
	if err != nil {
		return fmt.Errorf("forget mail of %s: %w", reference, err)
	}
	return nil
}
