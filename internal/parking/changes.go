package parking

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/store"
)

// Changes of an issued permit, all from the status page of the application
// that got it (the access code proves the holder):
//
//   - Change (new plate and/or new address): an application of kind
//     "change" that names the permit. It is checked against the registers
//     and the rules in force like a first application (the replaced permit
//     does not count against "permits per person"), priced with the
//     schedule's change fee plus, pro rata, what a dearer tier of the new
//     vehicle costs more, and when issued it replaces the permit for the
//     rest of its term. A new address outside every zone is not a change:
//     eligibility ends, and the page offers the cancellation.
//   - Reissue after loss or damage: an application of kind "reissue" on
//     the same data, decided without asking the registers again (it
//     replaces a document, it decides nothing new), priced with the
//     replacement fee. The new permit has a new number; the old QR code
//     then shows as not valid.
//   - Cancellation: ends the permit at once and orders at the treasury the
//     refund the fee schedule in force allows (rules.RefundNone or full
//     months not yet begun, rules.RefundProRataMonths), by a job.
//
// A change or reissue of zero cost is issued in the transaction of its
// decision; otherwise it is paid like a first application. A permit has at
// most one open change or reissue (enforced by a unique index), and is not
// cancelled while one is open.

// refuseOpen refuses a second open application on the same permit, and a
// change of plate or address while a renewal of the permit is open (or a
// renewal while such a change is open): the renewal would otherwise be
// issued on the old plate and zone. A reissue keeps plate and zone, so it
// may run beside a renewal. On PostgreSQL the permit's row is locked, so
// two such applications submitted at once are refused one after the other;
// on SQLite the transaction already holds the only write lock.
func (b *basis) refuseOpen(ctx context.Context, tx *sql.Tx, engine store.Engine) error {
	if engine == store.Postgres {
		var n string
		if err := tx.QueryRowContext(ctx, `SELECT number FROM parking_permits WHERE number = $1 FOR UPDATE`, b.permit.Number).Scan(&n); err != nil {
			return fmt.Errorf("lock permit %s: %w", b.permit.Number, err)
		}
	}
	ren, err := openRenewal(ctx, tx, b.permit.Number)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	chg, err := openChange(ctx, tx, b.permit.Number)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	switch b.kind {
	case KindRenewal:
		if ren.ID != "" {
			return errs.E(errs.Conflict, "Für den Ausweis %s wurde die Verlängerung schon beantragt (Aktenzeichen %s).", b.permit.Number, ren.Reference)
		}
		if chg.ID != "" && chg.Kind == KindChange && chg.Status != Issued {
			return errs.E(errs.Conflict, "Für den Ausweis %s läuft ein Antrag auf Änderung (Aktenzeichen %s). Bitte beantragen Sie die Verlängerung, "+
				"wenn darüber entschieden ist: dann für den neuen Ausweis.", b.permit.Number, chg.Reference)
		}
		return nil
	}
	if chg.ID != "" && chg.Status != Issued {
		return errs.E(errs.Conflict, "Für den Ausweis %s läuft schon ein Antrag auf %s (Aktenzeichen %s).", b.permit.Number, chg.Kind.Label(), chg.Reference)
	}
	if chg.ID != "" {
		return errs.E(errs.Conflict, "Der Ausweis %s ist bereits ersetzt worden (Aktenzeichen %s).", b.permit.Number, chg.Reference)
	}
	if b.kind == KindChange && ren.ID != "" && ren.Status != Issued {
		return errs.E(errs.Conflict, "Über die Verlängerung des Ausweises %s (Aktenzeichen %s) ist noch nicht entschieden. "+
			"Bitte beantragen Sie die Änderung, wenn die Verlängerung entschieden ist; ist sie dann ausgestellt, ändern Sie beide Ausweise.",
			b.permit.Number, ren.Reference)
	}
	return nil
}

// checkChange refuses a change or reissue by another person, and a change
// that changes neither the plate nor the address.
func (b *basis) checkChange(v validated, stored storedForm, personHash string) error {
	if personHash != b.personHash {
		return errs.E(errs.Invalid, "Eine Änderung kann nur die Person beantragen, für die der Ausweis ausgestellt ist. "+
			"Bitte prüfen Sie Vornamen, Familiennamen und Geburtsdatum.")
	}
	samePlace := stored.Street == b.prev.Street && stored.HouseNumber == b.prev.HouseNumber && stored.Postcode == b.prev.Postcode
	switch b.kind {
	case KindReissue:
		if v.Plate != b.permit.Plate || !samePlace {
			return errs.E(errs.Invalid, "Ein Ersatzausweis wird mit den Angaben des bisherigen ausgestellt. Für ein anderes Fahrzeug oder eine neue Anschrift beantragen Sie bitte eine Änderung.")
		}
	case KindChange:
		if v.Plate == b.permit.Plate && samePlace {
			return errs.Field("plate", "Sie haben weder das Kennzeichen noch die Anschrift geändert. Bitte geben Sie das neue Kennzeichen oder die neue Anschrift an.")
		}
	}
	return nil
}

// changeRefusal says in German why the permit of a cannot be changed,
// reissued or cancelled today; nil when it can.
func (s *Service) changeRefusal(a Application) error {
	p := a.Permit
	switch {
	case p == nil:
		return errs.E(errs.Conflict, "Zu diesem Antrag gibt es keinen Ausweis, der geändert werden könnte.")
	case p.EndReason == "replaced":
		return errs.E(errs.Conflict, "Der Ausweis %s wurde durch den Ausweis %s ersetzt. Bitte öffnen Sie den Antrag, mit dem der neue Ausweis ausgestellt wurde.", p.Number, p.ReplacedBy)
	case p.EndReason == "cancelled":
		return errs.E(errs.Conflict, "Der Ausweis %s wurde am %s zurückgegeben.", p.Number, germanDay(p.EndedOn))
	case p.Status != "active":
		return errs.E(errs.Conflict, "Der Ausweis %s ist nicht mehr gültig.", p.Number)
	case s.today().After(p.ValidUntil):
		return errs.E(errs.Conflict, "Der Ausweis %s ist am %s abgelaufen. Bitte stellen Sie einen neuen Antrag.", p.Number, germanDay(p.ValidUntil))
	}
	return nil
}

// changeBasis loads what a change or reissue of the application the access
// code opens builds on; the Conflict of changeRefusal when there is none.
func (s *Service) changeBasis(ctx context.Context, reference, code string, kind Kind) (Application, *basis, error) {
	row, err := s.authorised(ctx, reference, code)
	if err != nil {
		return Application{}, nil, err
	}
	a, err := s.load(ctx, row)
	if err != nil {
		return a, nil, err
	}
	if err := s.changeRefusal(a); err != nil {
		return a, nil, err
	}
	prev, err := storedFormOf(row)
	if err != nil {
		return a, nil, err
	}
	return a, &basis{kind: kind, permit: *a.Permit, personHash: row.PersonHash, prev: prev}, nil
}

// storedFormOf decodes the form an application was stored with.
func storedFormOf(row appRow) (storedForm, error) {
	var sf storedForm
	if err := json.Unmarshal([]byte(row.Data), &sf); err != nil {
		return sf, fmt.Errorf("decode application %s: %w", row.ID, err)
	}
	return sf, nil
}

// OpenChange returns the open change or reissue of the permit of a, if
// any (its reference and kind), for the status page.
func (s *Service) OpenChange(ctx context.Context, a Application) (reference string, kind Kind, err error) {
	if a.Permit == nil {
		return "", "", nil
	}
	prev, err := openChange(ctx, s.db.Read(), a.Permit.Number)
	if errs.Is(err, errs.NotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	return prev.Reference, prev.Kind, nil
}

// Changeable returns the application the access code opens, with the form
// of a change prefilled from it (the declarations are made anew), or a
// Conflict saying why its permit cannot be changed.
func (s *Service) Changeable(ctx context.Context, reference, code string) (Application, Form, error) {
	a, b, err := s.changeBasis(ctx, reference, code, KindChange)
	if err != nil {
		return a, Form{}, err
	}
	if ref, kind, err := s.OpenChange(ctx, a); err != nil {
		return a, Form{}, err
	} else if ref != "" {
		return a, Form{}, errs.E(errs.Conflict, "Für den Ausweis %s läuft schon ein Antrag auf %s (Aktenzeichen %s).", b.permit.Number, kind.Label(), ref)
	}
	return a, carryOver(Form{}, a.Form), nil
}

// changeForm completes a posted change form: the term is the permit's.
func changeForm(a Application, f Form) Form {
	f.DurationMonths = a.DurationMonths
	return f
}

// Change applies for a new plate and/or a new address for the permit of
// the application the access code opens. It answers like Submit, with the
// new application's reference and access code.
func (s *Service) Change(ctx context.Context, reference, code string, f Form, idempotencyKey string) (Receipt, error) {
	a, b, err := s.changeBasis(ctx, reference, code, KindChange)
	if err != nil {
		return Receipt{}, err
	}
	return s.submit(ctx, a.Municipality, changeForm(a, f), idempotencyKey, b)
}

// CheckChange validates a change form as Change would, without storing
// anything (for the summary page).
func (s *Service) CheckChange(ctx context.Context, reference, code string, f *Form) error {
	a, b, err := s.changeBasis(ctx, reference, code, KindChange)
	if err != nil {
		return err
	}
	cf := changeForm(a, *f)
	v, stored, err := s.resolve(ctx, a.Municipality, cf, s.today())
	if err != nil {
		return err
	}
	if err := b.check(v, stored, s.personHash(v.GivenNames, v.FamilyName, v.birth)); err != nil {
		return err
	}
	f.Address, f.Plate, f.DurationMonths = v.Address, v.Plate, cf.DurationMonths
	return nil
}

// Reissue applies for a replacement of a lost or damaged permit. declared
// is the citizen's assurance that the permit is lost or damaged.
func (s *Service) Reissue(ctx context.Context, reference, code string, declared bool, idempotencyKey string) (Receipt, error) {
	if !declared {
		return Receipt{}, errs.Field("declared", "Bitte bestätigen Sie, dass der Ausweis verloren gegangen oder beschädigt ist.")
	}
	a, b, err := s.changeBasis(ctx, reference, code, KindReissue)
	if err != nil {
		return Receipt{}, err
	}
	f := a.Form
	f.Truthful = true // the assurance above, given for the same data
	return s.submit(ctx, a.Municipality, f, idempotencyKey, b)
}

// ReissueFee is what a replacement of a's permit costs today (0: free).
func (s *Service) ReissueFee(a Application) (int64, error) {
	c, err := s.config(a.Municipality)
	if err != nil {
		return 0, err
	}
	fees, err := c.FeesAt(s.today())
	if err != nil {
		return 0, err
	}
	return reissueFee(fees), nil
}

func reissueFee(fees *rules.FeeSchedule) int64 {
	if fees.ReplacementCents > 0 {
		return fees.ReplacementCents
	}
	return fees.ReissueCents
}

// decideReissue decides a reissue without asking the registers: the
// permit it replaces was decided already; the replacement fee applies.
func (s *Service) decideReissue(row appRow, fees *rules.FeeSchedule, now time.Time) Decision {
	fee := reissueFee(fees)
	return Decision{Verdict: rules.Pass, Automatic: true, At: now, FeeCents: &fee, FeeTier: "Ersatzausweis", FeeSource: fees.LegalSource,
		By: "system: Ersatz eines gültigen Ausweises ohne erneute Prüfung",
		Results: []rules.Result{{Rule: "reissue", Verdict: rules.Pass,
			Reason: "Ersatz für den gültigen Ausweis " + row.ReplacesPermit.String + "; Verlust oder Beschädigung versichert", Source: fees.LegalSource}},
		Checks: []CheckRecord{}}
}

// changeFee prices a change: the schedule's change fee plus, for the months
// of the term not yet begun, what the new vehicle's tier costs more than
// the fee paid for the term.
func changeFee(fees *rules.FeeSchedule, old Permit, newPrice int64, day time.Time) (int64, string) {
	fee := fees.ChangeCents
	tier := "Änderung"
	if diff := newPrice - old.TermFeeCents; diff > 0 && old.TermFeeCents > 0 {
		months := termMonths(old)
		extra := diff * int64(monthsNotBegun(old, day)) / int64(months)
		if extra > 0 {
			fee += extra
			tier = fmt.Sprintf("Änderung, Aufpreis %s für die noch nicht begonnenen Monate", FormatCents(extra))
		}
	}
	return fee, tier
}

// termMonths is the length of the permit's paid term in months.
func termMonths(p Permit) int {
	if p.TermMonths > 0 {
		return p.TermMonths
	}
	n := 0
	for !p.TermFrom.AddDate(0, n, 0).After(p.ValidUntil) {
		n++
	}
	return max(n, 1)
}

// monthsNotBegun counts the months of the permit's term that begin after
// day.
func monthsNotBegun(p Permit, day time.Time) int {
	n := 0
	for i := range termMonths(p) {
		if start := p.TermFrom.AddDate(0, i, 0); start.After(day) && !start.After(p.ValidUntil) {
			n++
		}
	}
	return n
}

// Cancellation is the end of a permit by its holder.
type Cancellation struct {
	Permit      string
	EndedOn     time.Time
	RefundCents int64  // 0: nothing is refunded
	RefundRule  string // in German, with its legal source
	Status      string // of the refund: "", "ordered", "booked"
	Booking     string // the treasury's reference of the payout
}

// refundQuote prices the cancellation of p on day by the fee schedule in
// force that day.
func (s *Service) refundQuote(ars string, p Permit, day time.Time) (int64, string, error) {
	c, err := s.config(ars)
	if err != nil {
		return 0, "", err
	}
	fees, err := c.FeesAt(day)
	if err != nil {
		return 0, "", err
	}
	if fees.RefundRule != rules.RefundProRataMonths || p.TermFeeCents <= 0 {
		return 0, "Keine Erstattung bei Rückgabe (" + fees.LegalSource + ")", nil
	}
	months, left := termMonths(p), monthsNotBegun(p, day)
	amount := p.TermFeeCents * int64(left) / int64(months)
	return amount, fmt.Sprintf("Erstattung der %d von %d Monaten, die noch nicht begonnen haben (%s)", left, months, fees.LegalSource), nil
}

// CancellationQuote says what a cancellation of the permit of the
// application the access code opens would refund today.
func (s *Service) CancellationQuote(ctx context.Context, reference, code string) (Application, Cancellation, error) {
	a, err := s.Get(ctx, reference, code)
	if err != nil {
		return a, Cancellation{}, err
	}
	if err := s.cancelRefusal(ctx, a); err != nil {
		return a, Cancellation{}, err
	}
	today := s.today()
	amount, rule, err := s.refundQuote(a.Municipality, *a.Permit, today)
	return a, Cancellation{Permit: a.Permit.Number, EndedOn: today, RefundCents: amount, RefundRule: rule}, err
}

// reissueRefusal says why the permit of a cannot be reissued (or
// cancelled) now: changeRefusal, or an open change or reissue.
func (s *Service) reissueRefusal(ctx context.Context, a Application) error {
	if err := s.changeRefusal(a); err != nil {
		return err
	}
	if ref, kind, err := s.OpenChange(ctx, a); err != nil {
		return err
	} else if ref != "" {
		return errs.E(errs.Conflict, "Für den Ausweis läuft noch ein Antrag auf %s (Aktenzeichen %s). Bitte warten Sie dessen Abschluss ab.", kind.Label(), ref)
	}
	return nil
}

func (s *Service) cancelRefusal(ctx context.Context, a Application) error {
	if err := s.reissueRefusal(ctx, a); err != nil {
		return err
	}
	if ren, err := openRenewal(ctx, s.db.Read(), a.Permit.Number); err == nil {
		return errs.E(errs.Conflict, "Zu diesem Ausweis gibt es die Verlängerung mit dem Aktenzeichen %s. Bitte geben Sie zuerst den verlängerten Ausweis zurück (oder ziehen Sie den Antrag zurück) und dann diesen.", ren.Reference)
	} else if !errs.Is(err, errs.NotFound) {
		return err
	}
	return nil
}

// Cancel ends the permit of the application the access code opens today
// and orders the refund. Cancelling a permit its holder has already
// cancelled answers with that cancellation (a retried request changes
// nothing).
func (s *Service) Cancel(ctx context.Context, reference, code string) (Cancellation, error) {
	a, err := s.Get(ctx, reference, code)
	if err != nil {
		return Cancellation{}, err
	}
	if p := a.Permit; p != nil && p.EndReason == "cancelled" {
		return s.cancellationOf(ctx, *p)
	}
	if err := s.cancelRefusal(ctx, a); err != nil {
		return Cancellation{}, err
	}
	p := *a.Permit
	today, now := s.today(), s.now().UTC()
	amount, rule, err := s.refundQuote(a.Municipality, p, today)
	if err != nil {
		return Cancellation{}, err
	}
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		ended, err := endPermit(ctx, tx, p.Number, "cancelled", "", today)
		if err != nil {
			return err
		}
		if !ended {
			return errs.E(errs.Conflict, "Der Ausweis %s ist inzwischen nicht mehr gültig.", p.Number)
		}
		note := "Ausweis " + p.Number + " zurückgegeben; " + rule
		if amount > 0 {
			note += ": " + FormatCents(amount)
			if err := insertRefund(ctx, tx, refundRow{PermitNumber: p.Number, ApplicationID: a.ID, AmountCents: amount, Rule: rule, CreatedAt: now}); err != nil {
				return err
			}
			if err := s.jobs.InsertTx(ctx, tx, RefundArgs{PermitNumber: p.Number}, nil); err != nil {
				return err
			}
		}
		if err := addEvent(ctx, tx, a.ID, a.Status, a.Status, "citizen", note, now); err != nil {
			return err
		}
		return s.sendMail(ctx, tx, s.cancelledMail(a, p, today, amount, rule))
	})
	if err != nil {
		return Cancellation{}, err
	}
	s.logger.Info("parking permit cancelled", "reference", a.Reference, "refund_cents", amount)
	p.EndReason, p.EndedOn = "cancelled", today
	return s.cancellationOf(ctx, p)
}

func (s *Service) cancellationOf(ctx context.Context, p Permit) (Cancellation, error) {
	c := Cancellation{Permit: p.Number, EndedOn: p.EndedOn, RefundRule: "Keine Erstattung"}
	r, err := refundOfPermit(ctx, s.db.Read(), p.Number)
	if err != nil || r == nil {
		return c, err
	}
	c.RefundCents, c.RefundRule, c.Status, c.Booking = r.AmountCents, r.Rule, r.Status, r.Booking
	return c, nil
}

// Refund returns the cancellation of a's permit, if it was cancelled.
func (s *Service) Refund(ctx context.Context, a Application) (*Cancellation, error) {
	if a.Permit == nil || a.Permit.EndReason != "cancelled" {
		return nil, nil
	}
	c, err := s.cancellationOf(ctx, *a.Permit)
	return &c, err
}

// RefundArgs is the job that orders a refund at the treasury.
type RefundArgs struct {
	PermitNumber string `json:"permit_number"`
}

// Kind implements river.JobArgs.
func (RefundArgs) Kind() string { return "parking.refund" }

// InsertOpts: like the checks, a treasury that is down delays the refund,
// never loses it.
func (RefundArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 50} }

type refundWorker struct {
	river.WorkerDefaults[RefundArgs]
	s *Service
}

func (w *refundWorker) Work(ctx context.Context, job *river.Job[RefundArgs]) error {
	s := w.s
	r, err := refundOfPermit(ctx, s.db.Read(), job.Args.PermitNumber)
	if err != nil {
		return err
	}
	if r == nil {
		return river.JobCancel(fmt.Errorf("no refund for permit %s", job.Args.PermitNumber))
	}
	if r.Status == "booked" {
		return nil
	}
	row, err := getApp(ctx, s.db.Read(), s.db.Engine, "id", r.ApplicationID, false)
	if err != nil {
		return err
	}
	kz, err := s.termKassenzeichen(ctx, row)
	if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Conflict) {
		return river.JobCancel(err) // no term to refund against, now or later
	}
	if err != nil {
		return err // the database did not answer; River tries again
	}
	ref, err := s.registers.Treasury.OrderRefund(ctx, s.purpose(row), "refund:"+r.PermitNumber, kz, r.AmountCents,
		"Erstattung Bewohnerparkausweis "+r.PermitNumber)
	if err != nil {
		return err
	}
	return s.db.Transact(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE parking_refunds SET status = 'booked', booking = $2, updated_at = $3 WHERE permit_number = $1`,
			r.PermitNumber, ref.Booking, s.now().UTC())
		return err
	})
}

// termKassenzeichen finds the Kassenzeichen under which the term of row's
// permit was paid: a change or reissue carries the term of the permit it
// replaced, back to the first application or renewal.
func (s *Service) termKassenzeichen(ctx context.Context, row appRow) (string, error) {
	for range 100 {
		if row.Kind != KindChange && row.Kind != KindReissue {
			if row.Kassenzeichen == "" {
				return "", errs.E(errs.Conflict, "Der Antrag %s hat kein Kassenzeichen.", row.Reference)
			}
			return row.Kassenzeichen, nil
		}
		var appID string
		err := s.db.Read().QueryRowContext(ctx, `SELECT application_id FROM parking_permits WHERE number = $1`, row.ReplacesPermit.String).Scan(&appID)
		if errors.Is(err, sql.ErrNoRows) {
			return "", errs.E(errs.NotFound, "Den von %s ersetzten Ausweis %s gibt es nicht.", row.Reference, row.ReplacesPermit.String)
		}
		if err != nil {
			return "", fmt.Errorf("permit replaced by %s: %w", row.Reference, err)
		}
		if row, err = getApp(ctx, s.db.Read(), s.db.Engine, "id", appID, false); err != nil {
			return "", err
		}
	}
	return "", errs.E(errs.Conflict, "Die Kette der Ersatzausweise von %s ist zu lang.", row.Reference)
}
