package mail

import (
	"context"
	"database/sql"
	"time"

	"github.com/riverqueue/river"
)

// RetentionArgs deletes old messages (DSGVO Art. 5 Abs. 1 lit. e).
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "mail.retention" }

// InsertOpts: one run at a time.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// PeriodicJobs returns the outbox's scheduled jobs: the retention once a
// day (and at start).
func (o *Outbox) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	o *Outbox
}

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	n, err := w.o.Purge(ctx)
	if err != nil {
		return err
	}
	w.o.logger.Info("mail retention done", "deleted", n)
	return nil
}

// Purge deletes every message written before the retention period,
// whatever its status: one that has not gone out after 90 days never will
// (its send job gave up long before), and it holds personal data all the
// same. It returns how many it deleted.
func (o *Outbox) Purge(ctx context.Context) (int, error) {
	cutoff := o.now().UTC().Add(-o.retention)
	var n int64
	err := o.db.Transact(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM mail_outbox WHERE created_at < $1`, cutoff)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
