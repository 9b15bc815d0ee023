package parking

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/mail"
)

// Reminders: an e-mail 30 and 7 days before a permit ends, so nobody
// learns of the end from a parking ticket (the complaint in Hamburg and
// Düsseldorf). Each reminder is recorded in parking_reminders in the
// transaction that enqueues its e-mail: a job that runs twice, or on two
// replicas, sends nothing twice. A day the job missed is caught up: a
// reminder goes out on the first run on or after its day, as long as the
// permit runs. A permit already renewed gets none.

// reminderDays are the reminders, in days before the last day of a
// permit, the earliest first.
var reminderDays = []int{30, 7}

// ReminderArgs sends the reminders that are due.
type ReminderArgs struct{}

// Kind implements river.JobArgs.
func (ReminderArgs) Kind() string { return "parking.reminders" }

// InsertOpts: one run at a time.
func (ReminderArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

type reminderWorker struct {
	river.WorkerDefaults[ReminderArgs]
	s *Service
}

func (w *reminderWorker) Work(ctx context.Context, job *river.Job[ReminderArgs]) error {
	n, err := w.s.SendReminders(ctx)
	if err != nil {
		return err
	}
	w.s.logger.Info("parking reminders done", "sent", n)
	return nil
}

// reminderCandidate is an active permit that ends within the first
// reminder's horizon.
type reminderCandidate struct {
	Permit
	reference     string // of the application that got the permit
	data          string // its stored form (for the e-mail address)
	renewal       string // reference of an open renewal, if any
	renewalStatus Status
}

// SendReminders enqueues the reminders due today and returns how many.
func (s *Service) SendReminders(ctx context.Context) (int, error) {
	today := s.today()
	cands, err := reminderCandidates(ctx, s.db.Read(), today, today.AddDate(0, 0, reminderDays[0]))
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, c := range cands {
		left := int(c.ValidUntil.Sub(today).Hours() / 24)
		days := reminderDays[0]
		for _, d := range reminderDays {
			if left <= d {
				days = d
			}
		}
		var sf storedForm
		if err := json.Unmarshal([]byte(c.data), &sf); err != nil || sf.Email == "" {
			continue // nobody to write to
		}
		m := s.reminderMail(sf.Email, c, today)
		err := s.db.Transact(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `INSERT INTO parking_reminders (permit_number, days, sent_on) VALUES ($1, $2, $3)
				ON CONFLICT (permit_number, days) DO NOTHING`, c.Number, days, today.Format(dateLayout))
			if err != nil {
				return fmt.Errorf("record reminder: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errAlreadySent
			}
			return s.sendMail(ctx, tx, m)
		})
		switch {
		case errors.Is(err, errAlreadySent):
		case err != nil:
			return sent, err
		default:
			sent++
			s.logger.Info("parking reminder enqueued", "permit", c.Number, "days", days)
		}
	}
	return sent, nil
}

var errAlreadySent = errors.New("reminder already sent")

// reminderCandidates returns the active permits that end between from and
// until (inclusive), of cases not anonymised, not yet renewed: no issued
// renewal and no later permit of the plate.
func reminderCandidates(ctx context.Context, q querier, from, until time.Time) ([]reminderCandidate, error) {
	rows, err := q.QueryContext(ctx, `SELECT p.number, p.municipality, p.plate, p.zone_id, p.valid_from, p.valid_until,
			a.reference, a.data, COALESCE(r.reference, ''), COALESCE(r.status, '')
		FROM parking_permits p
		JOIN parking_applications a ON a.id = p.application_id
		LEFT JOIN parking_applications r ON r.renews_permit = p.number AND r.status NOT IN ('rejected', 'withdrawn')
		WHERE p.status = 'active' AND p.valid_until >= $1 AND p.valid_until <= $2 AND a.anonymised_at IS NULL
			AND (r.status IS NULL OR r.status <> 'issued')
			AND NOT EXISTS (SELECT 1 FROM parking_permits n WHERE n.municipality = p.municipality AND n.plate = p.plate
				AND n.status = 'active' AND n.valid_from > p.valid_until)
		ORDER BY p.valid_until, p.number`, from.Format(dateLayout), until.Format(dateLayout))
	if err != nil {
		return nil, fmt.Errorf("reminder candidates: %w", err)
	}
	defer rows.Close()
	var out []reminderCandidate
	for rows.Next() {
		var c reminderCandidate
		if err := rows.Scan(&c.Number, &c.Municipality, &c.Plate, &c.ZoneID, &c.ValidFrom, &c.ValidUntil,
			&c.reference, &c.data, &c.renewal, &c.renewalStatus); err != nil {
			return nil, err
		}
		c.ValidFrom, c.ValidUntil = c.ValidFrom.UTC(), c.ValidUntil.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Service) reminderMail(to string, c reminderCandidate, today time.Time) mail.Message {
	first := fmt.Sprintf("Ihr Bewohnerparkausweis %s (Zone %s) gilt noch bis zum %s.",
		c.Number, strings.ReplaceAll(c.ZoneID, ",", ", "), germanDay(c.ValidUntil))
	var next string
	window := 0
	if cfg, err := s.config(c.Municipality); err == nil {
		if rs, err := cfg.RulesAt(today); err == nil {
			window = rs.RenewalWindowDays
		}
	}
	switch {
	case c.renewal != "":
		next = fmt.Sprintf("Ihren Antrag auf Verlängerung (Aktenzeichen %s) haben wir; er ist noch nicht abgeschlossen (Stand: %s). "+
			"Den Stand sehen Sie hier:\n%s", c.renewal, c.renewalStatus.Label(), s.statusURL(c.renewal))
	case window > 0 && !today.Before(c.ValidUntil.AddDate(0, 0, -window)):
		next = "Sie können ihn jetzt verlängern; der neue Ausweis schließt an den bisherigen an. " +
			"Auf der Statusseite finden Sie dafür „Verlängern“:\n" + s.statusURL(c.reference)
	case window > 0:
		next = "Verlängern können Sie ihn ab dem " + germanDay(c.ValidUntil.AddDate(0, 0, -window)) + " auf der Statusseite:\n" + s.statusURL(c.reference)
	default:
		next = "Für die Zeit danach stellen Sie bitte rechtzeitig einen neuen Antrag:\n" + s.BaseURL + "/bewohnerparken/antrag"
	}
	return s.letter(c.Municipality, to, c.reference, "Ihr Bewohnerparkausweis endet am "+germanDay(c.ValidUntil), first, next)
}
