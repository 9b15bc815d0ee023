package mail

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// SendArgs is the job that sends one message.
type SendArgs struct {
	ID string `json:"id"` // the message id; never the address
}

// Kind implements river.JobArgs.
func (SendArgs) Kind() string { return "mail.send" }

// InsertOpts: an SMTP server that is down for a few hours delays a
// message, River's growing backoff spreads the attempts over about a day.
// Priority 2 (River's default is 1, the highest): when work piles up, the
// decisions a message reports come first, the message after them.
func (SendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 12, Priority: 2} }

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	o *Outbox
}

// Timeout bounds one attempt; the SMTP dialogue has its own deadline.
func (w *sendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return 2 * time.Minute }

func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	return w.o.deliver(ctx, job.Args.ID, job.Attempt >= job.MaxAttempts)
}

// deliver sends message id once. last says this is the job's last attempt:
// a failure then marks the message failed instead of queued.
func (o *Outbox) deliver(ctx context.Context, id string, last bool) error {
	now := o.now().UTC()
	if o.smtp == nil {
		n, err := o.update(ctx, `UPDATE mail_outbox SET status = $2, note = $3, updated_at = $4 WHERE id = $1 AND status = 'queued'`,
			id, Kept, keptNote, now)
		if err == nil && n == 1 {
			o.logger.Info("mail kept in the outbox: no SMTP server configured", "mail_id", id)
		}
		return err
	}
	// Claim the message: only one job, once, gets past this line.
	n, err := o.update(ctx, `UPDATE mail_outbox SET status = $2, attempts = attempts + 1, updated_at = $3 WHERE id = $1 AND status = 'queued'`,
		id, Sending, now)
	if err != nil {
		return err
	}
	if n == 0 {
		_, err := o.Get(ctx, id)
		if errs.Is(err, errs.NotFound) {
			return river.JobCancel(err) // deleted with its case, or by retention
		}
		if err != nil {
			return err // the database did not answer; the message may still be there
		}
		return nil // sent, being sent, kept or failed: never twice
	}
	m, err := o.Get(ctx, id)
	if err != nil {
		return err
	}
	sendErr := o.smtp.send(ctx, o.from, id, m.Message, now)
	done := o.now().UTC()
	if sendErr == nil {
		_, err := o.update(ctx, `UPDATE mail_outbox SET status = $2, note = '', sent_at = $3, updated_at = $3 WHERE id = $1 AND status = 'sending'`,
			id, Sent, done)
		if err != nil {
			// Sent, but not recorded: the message stays "sending" and is
			// never sent again; the log says what happened.
			o.logger.Error("mail sent but not recorded", "mail_id", id, "err", err.Error())
			return river.JobCancel(err)
		}
		o.logger.Info("mail sent", "mail_id", id)
		return nil
	}
	var se *sendError
	if !errors.As(sendErr, &se) {
		se = &sendError{step: "Versand", err: sendErr}
	}
	note := se.Error()
	status, final := Queued, false
	switch {
	case se.uncertain:
		status, final = Failed, true
		note = "Zustellung ungewiss, daher nicht wiederholt: " + note
	case se.permanent || last:
		status, final = Failed, true
	}
	if _, err := o.update(ctx, `UPDATE mail_outbox SET status = $2, note = $3, updated_at = $4 WHERE id = $1 AND status = 'sending'`,
		id, status, note, done); err != nil {
		return err
	}
	o.logger.Warn("mail not sent", "mail_id", id, "status", string(status), "err", note)
	if final {
		return river.JobCancel(se)
	}
	return se // River retries with backoff
}

func (o *Outbox) update(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := o.db.Transact(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("update mail: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
