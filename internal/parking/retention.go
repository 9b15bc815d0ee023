package parking

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// Storage limitation (DSGVO Art. 5 Abs. 1 lit. e, Art. 17): the personal
// data of a finished case is kept for the period its municipality sets
// (rules.RuleSet.RetentionMonths, default 24 months) after the permit ended
// or the negative decision was made, then anonymised in place. What
// remains — status, dates, zone, fee — serves the statistics and contains
// nothing that points to a person. The case's e-mails are deleted with it
// (the outbox deletes every message after 90 days anyway).

// RetentionArgs runs the storage limitation for all municipalities.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "parking.retention" }

// InsertOpts: one run at a time.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// PeriodicJobs returns the service's scheduled jobs, each once a day (and
// at start): the storage limitation and the reminders; and every hour the
// requests for missing information (reminders, deadlines).
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return ReminderArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return InfoRequestArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
	}
}

type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	s *Service
}

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	n, err := w.s.Anonymise(ctx)
	if err != nil {
		return err
	}
	w.s.logger.Info("storage limitation done", "anonymised", n)
	return nil
}

// Anonymise removes the personal data of every case whose retention period
// has passed and returns how many cases it anonymised.
func (s *Service) Anonymise(ctx context.Context) (int, error) {
	total := 0
	for ars, c := range s.allConfigs() {
		rs, err := c.RulesAt(s.today())
		if err != nil {
			continue // no rules in force: nothing configured, nothing to do
		}
		months := rs.RetentionMonths
		if months <= 0 {
			months = 24
		}
		cutoff := s.today().AddDate(0, -months, 0)
		n, err := s.anonymiseBefore(ctx, ars, cutoff)
		total += n
		if err != nil {
			return total, fmt.Errorf("anonymise %s: %w", ars, err)
		}
	}
	return total, nil
}

// anonymiseBefore anonymises the municipality's cases that ended before
// cutoff: refused, withdrawn or never paid cases decided before it, and
// issued cases whose every permit ended before it.
func (s *Service) anonymiseBefore(ctx context.Context, ars string, cutoff time.Time) (int, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT a.id, a.reference FROM parking_applications a
		WHERE a.municipality = $1 AND a.anonymised_at IS NULL AND (
			(a.status IN ('rejected', 'withdrawn', 'approved', 'awaiting_payment', 'review', 'awaiting_information') AND a.updated_at < $2)
			OR (a.status = 'issued' AND NOT EXISTS (
				SELECT 1 FROM parking_permits p WHERE p.application_id = a.id AND p.valid_until >= $3)))`,
		ars, cutoff, cutoff.Format(dateLayout))
	if err != nil {
		return 0, err
	}
	type kase struct{ id, reference string }
	var ids []kase
	for rows.Next() {
		var k kase
		if err := rows.Scan(&k.id, &k.reference); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	for _, k := range ids {
		id := k.id
		err := s.db.Transact(ctx, func(tx *sql.Tx) error {
			stmts := []struct {
				q    string
				args []any
			}{
				// The form, the plate, the person hash, the idempotency key and
				// the rule trace (it quotes the plate and register answers)
				// go; status, dates, zone and fee stay for the statistics.
				{`UPDATE parking_applications SET data = '{}', plate = '', person_hash = '', idempotency_key = NULL,
					outcome = '', open_rules = '', access_code_hash = '', assignee = '', assignee_name = '', assigned_at = NULL,
					anonymised_at = $2, updated_at = $2 WHERE id = $1`, []any{id, now}},
				{`UPDATE parking_events SET note = '' WHERE application_id = $1`, []any{id}},
				{`DELETE FROM parking_notes WHERE application_id = $1`, []any{id}},
				// Uploaded documents go entirely; a request keeps its dates
				// and outcome, not the words exchanged.
				{`DELETE FROM parking_documents WHERE application_id = $1`, []any{id}},
				{`UPDATE parking_info_requests SET message = '', answer = '', closed_at = COALESCE(closed_at, $2) WHERE application_id = $1`, []any{id, now}},
				// A permit keeps its number and dates; its plate becomes a
				// placeholder that stays unique per permit, and the token,
				// which carries the plate, goes.
				{`UPDATE parking_permits SET plate = 'anonymisiert-' || number, token = '' WHERE application_id = $1`, []any{id}},
			}
			for _, st := range stmts {
				if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
					return err
				}
			}
			// The case's e-mails carry its address and text: they go with
			// it, even if the outbox's own retention has not reached them.
			return s.mail.Forget(ctx, tx, k.reference)
		})
		if err != nil {
			return 0, err
		}
	}
	// Enforcement lookups and the log of clerks' access older than the
	// retention period go as well (neither holds personal data, but both
	// would otherwise grow without end).
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"enforcement_lookups", "casework_access"} {
			_, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE at < $1 AND api_key_id IN (SELECT id FROM api_keys WHERE municipality = $2)`, cutoff, ars)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return len(ids), err
}
