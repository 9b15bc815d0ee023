package parking

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/payment"
)

// StartPayment sends the citizen of an approved application to the payment
// provider and returns the URL to redirect to. A payment that is not
// completed within PaymentTimeout releases the application (a job).
func (s *Service) StartPayment(ctx context.Context, reference, code string) (string, error) {
	app, err := s.Get(ctx, reference, code)
	if err != nil {
		return "", err
	}
	switch {
	case app.Status == Issued:
		return "", errs.E(errs.Conflict, "Der Ausweis ist bereits bezahlt und ausgestellt.")
	case app.Status != Approved && app.Status != AwaitingPayment:
		return "", errs.E(errs.Conflict, "Die Gebühr kann erst nach der Bewilligung bezahlt werden (Status: %s).", app.Status.Label())
	case app.Kassenzeichen == "" || app.FeeCents == nil:
		return "", errs.E(errs.Unavailable, "Die Stadtkasse hat das Kassenzeichen noch nicht vergeben. Bitte versuchen Sie es in einigen Minuten erneut.")
	}
	if app.ReplacesPermit != "" {
		old, err := permitByNumber(ctx, s.db.Read(), app.ReplacesPermit)
		if err != nil {
			return "", err
		}
		if old.ValidUntil.Before(s.today()) {
			return "", errs.E(errs.Conflict, "Der Ausweis %s, den dieser Antrag ändern oder ersetzen sollte, ist am %s abgelaufen. "+
				"Eine Zahlung ist nicht mehr möglich; bitte stellen Sie einen neuen Antrag.", old.Number, germanDay(old.ValidUntil))
		}
	}
	now := s.now().UTC()
	var b [12]byte
	rand.Read(b[:])
	pay := paymentRow{ID: "pay_" + hex.EncodeToString(b[:]), ApplicationID: app.ID, Provider: s.payments.Name(),
		AmountCents: *app.FeeCents, Kassenzeichen: app.Kassenzeichen, Status: "pending", CreatedAt: now}
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		// An earlier payment attempt that never came back is given up.
		if _, err := tx.ExecContext(ctx, `UPDATE parking_payments SET status = 'abandoned', updated_at = $2
			WHERE application_id = $1 AND status = 'pending'`, app.ID, now); err != nil {
			return err
		}
		if err := insertPayment(ctx, tx, pay); err != nil {
			return err
		}
		if app.Status == Approved {
			if err := transition(ctx, tx, app.ID, Approved, AwaitingPayment, "citizen", "Zahlung begonnen", now); err != nil {
				return err
			}
		}
		err := s.jobs.InsertTx(ctx, tx, PaymentTimeoutArgs{PaymentID: pay.ID}, &river.InsertOpts{ScheduledAt: now.Add(s.PaymentTimeout)})
		return err
	})
	if err != nil {
		return "", err
	}
	return s.payments.Start(ctx, payment.Payment{
		ID:            pay.ID,
		AmountCents:   pay.AmountCents,
		Kassenzeichen: pay.Kassenzeichen,
		Purpose:       "Bewohnerparkausweis " + app.Reference,
		ReturnURL:     s.BaseURL + "/bewohnerparken/status/" + app.Reference,
		CallbackURL:   s.BaseURL + "/api/v1/payments/" + s.payments.Name() + "/callback",
	})
}

// HandleCallback processes a provider's callback: the signature is
// verified, each event is processed once, an unknown or already settled
// payment changes nothing, and a successful payment issues the permit in
// the same transaction.
func (s *Service) HandleCallback(ctx context.Context, provider string, header http.Header, body []byte) error {
	if provider != s.payments.Name() {
		return errs.E(errs.NotFound, "Unbekannter Zahlungsdienst.")
	}
	now := s.now().UTC()
	ev, err := s.payments.Verify(header, body, now)
	if err != nil {
		s.logger.Warn("security: payment callback rejected", "provider", provider, "reason", err.Error())
		return err
	}
	return s.db.Transact(ctx, func(tx *sql.Tx) error {
		fresh, err := recordPaymentEvent(ctx, tx, provider, ev.ID, ev.PaymentID, now)
		if err != nil {
			return err
		}
		if !fresh {
			s.logger.Info("payment callback replayed; ignored", "event", ev.ID)
			return nil
		}
		pay, err := getPayment(ctx, tx, ev.PaymentID)
		if errs.Is(err, errs.NotFound) {
			s.logger.Warn("security: payment callback for an unknown payment", "event", ev.ID)
			return nil // recorded, changes nothing
		}
		if err != nil {
			return err
		}
		if ev.Outcome == payment.Paid && ev.Amount != pay.AmountCents {
			s.logger.Warn("security: payment callback with a wrong amount", "event", ev.ID, "payment", pay.ID)
			return errs.E(errs.Invalid, "Betrag stimmt nicht.")
		}
		status := map[payment.Outcome]string{payment.Paid: "paid", payment.Failed: "failed", payment.Abandoned: "abandoned"}[ev.Outcome]
		changed, err := setPaymentStatus(ctx, tx, pay.ID, status, now)
		if err != nil || !changed {
			return err // not pending any more: changes nothing
		}
		row, err := getApp(ctx, tx, s.db.Engine, "id", pay.ApplicationID, true)
		if err != nil {
			return err
		}
		if row.Status != AwaitingPayment {
			s.logger.Warn("payment settled for an application not awaiting payment", "reference", row.Reference, "status", string(row.Status))
			return nil
		}
		if ev.Outcome != payment.Paid {
			return transition(ctx, tx, row.ID, AwaitingPayment, Approved, "payment:"+provider, "Zahlung nicht abgeschlossen", now)
		}
		return s.issue(ctx, tx, row, now, AwaitingPayment)
	})
}

// issue creates the permit of a paid (or free) application in state
// from. A change or reissue replaces its permit for the rest of that
// permit's term; a renewal is appended to the plate's current permit (it
// starts the day after the plate's latest active permit ends); otherwise
// the permit starts today.
func (s *Service) issue(ctx context.Context, tx *sql.Tx, row appRow, now time.Time, from Status) error {
	today := s.today()
	var b [5]byte
	rand.Read(b[:])
	p := Permit{
		Number:       "BPA-" + row.Municipality[:5] + "-" + crockford.EncodeToString(b[:]),
		Municipality: row.Municipality,
		Plate:        row.Plate,
		ZoneID:       row.ZoneID,
		Status:       "active",
		IssuedAt:     now,
	}
	note := "Gebühr bezahlt; Ausweis " + p.Number + " ausgestellt"
	if from == Approved {
		note = "Ausweis " + p.Number + " ausgestellt (keine Gebühr)"
	}
	followOn := "" // an issued renewal of the replaced permit, which keeps plate and zone
	if row.Kind == KindChange || row.Kind == KindReissue {
		old, err := permitByNumber(ctx, tx, row.ReplacesPermit.String)
		if err != nil {
			return err
		}
		if old.Status != "active" || old.ValidUntil.Before(today) {
			// Cancellation waits for open changes, so only expiry gets here:
			// StartPayment refuses a change of an expired permit, so the
			// payment began before midnight and was booked after it.
			if from != AwaitingPayment {
				return errs.E(errs.Conflict, "Der Ausweis %s, den dieser Antrag ersetzt, ist am %s abgelaufen.", old.Number, germanDay(old.ValidUntil))
			}
			s.logger.Warn("paid change of an expired permit sent to review", "reference", row.Reference)
			return transition(ctx, tx, row.ID, AwaitingPayment, Review, "system",
				fmt.Sprintf("Gebühr bezahlt, aber der zu ersetzende Ausweis %s ist am %s abgelaufen: kein Ausweis ausgestellt. "+
					"Bitte lehnen Sie den Antrag ab und veranlassen Sie die Erstattung der Gebühr.", old.Number, germanDay(old.ValidUntil)), now)
		}
		p.ValidFrom, p.ValidUntil = today, old.ValidUntil
		if old.ValidFrom.After(today) { // a renewal's permit that has not begun
			p.ValidFrom = old.ValidFrom
		}
		p.TermFeeCents, p.TermFrom, p.TermMonths = old.TermFeeCents, old.TermFrom, termMonths(old)
		// The old permit ends first: a reissue keeps the plate, and a
		// plate holds one active permit per day.
		if ended, err := endPermit(ctx, tx, old.Number, "replaced", p.Number, today); err != nil {
			return err
		} else if !ended {
			return fmt.Errorf("issue %s: the permit %s was ended meanwhile", row.Reference, old.Number)
		}
		note += "; ersetzt den Ausweis " + old.Number
		if row.Kind == KindChange {
			ren, err := openRenewal(ctx, tx, old.Number)
			if err != nil && !errs.Is(err, errs.NotFound) {
				return err
			}
			if ren.Status == Issued {
				followOn = ren.Reference
			}
		}
	} else {
		p.ValidFrom = today
		if end, err := latestPermitEnd(ctx, tx, row.Municipality, row.Plate); err != nil {
			return err
		} else if !end.IsZero() && !end.Before(today) {
			p.ValidFrom = end.AddDate(0, 0, 1)
		}
		p.ValidUntil = p.ValidFrom.AddDate(0, row.DurationMonths, -1)
		p.TermFrom, p.TermMonths = p.ValidFrom, row.DurationMonths
		p.TermFeeCents = row.FeeCents.Int64
	}
	token, err := s.signer.Sign(documents.PermitClaims{
		Permit: p.Number, ARS: p.Municipality, Plate: p.Plate, Zones: strings.Split(p.ZoneID, ","),
		ValidFrom: p.ValidFrom.Format(dateLayout), ValidUntil: p.ValidUntil.Format(dateLayout), IssuedAt: now.Unix(),
	})
	if err != nil {
		return err
	}
	p.Token = token
	if err := insertPermit(ctx, tx, row.ID, p); err != nil {
		return err
	}
	if err := transition(ctx, tx, row.ID, from, Issued, "system", note, now); err != nil {
		return err
	}
	return s.sendMail(ctx, tx, s.issuedMail(emailOf(row), row, p, followOn))
}

// PaymentTimeoutArgs releases an application whose payment stayed pending.
type PaymentTimeoutArgs struct {
	PaymentID string `json:"payment_id"`
}

// Kind implements river.JobArgs.
func (PaymentTimeoutArgs) Kind() string { return "parking.payment_timeout" }

type paymentTimeoutWorker struct {
	river.WorkerDefaults[PaymentTimeoutArgs]
	s *Service
}

func (w *paymentTimeoutWorker) Work(ctx context.Context, job *river.Job[PaymentTimeoutArgs]) error {
	s := w.s
	now := s.now().UTC()
	return s.db.Transact(ctx, func(tx *sql.Tx) error {
		pay, err := getPayment(ctx, tx, job.Args.PaymentID)
		if errs.Is(err, errs.NotFound) {
			return river.JobCancel(err) // deleted by retention: nothing to release
		}
		if err != nil {
			// The database did not answer: the payment is still there and
			// River tries again. Cancelling here left the application
			// "wartet auf Zahlung" for good.
			return err
		}
		changed, err := setPaymentStatus(ctx, tx, pay.ID, "expired", now)
		if err != nil || !changed {
			return err // settled in time
		}
		row, err := getApp(ctx, tx, s.db.Engine, "id", pay.ApplicationID, true)
		if err != nil {
			return err
		}
		var pending int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM parking_payments WHERE application_id = $1 AND status = 'pending'`, row.ID).Scan(&pending); err != nil {
			return err
		}
		if row.Status != AwaitingPayment || pending > 0 {
			return nil
		}
		return transition(ctx, tx, row.ID, AwaitingPayment, Approved, "system", "Zahlung nicht innerhalb der Frist abgeschlossen", now)
	})
}
