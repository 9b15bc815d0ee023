package parking

import (
	"context"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Renewal: from RenewalWindowDays (rules.RuleSet) before the end of an
// active permit, its holder applies again. The renewal is an application
// of its own — checked against the registers and the rules in force like
// any other — that names the permit it renews: the rule "permits per
// person" does not count that permit, and the new term is appended to it
// (issue starts a permit the day after the plate's latest active one).
// Changes of plate or address are not renewals; they are not offered
// online yet.

// basis is what an application that names an existing permit (a renewal,
// a change, a reissue) carries over from it.
type basis struct {
	kind       Kind
	permit     Permit
	personHash string     // of the applicant who holds the permit
	prev       storedForm // the form of the application that got the permit (changes)
}

// check refuses an application on a permit for another person, a renewal
// for another vehicle, and a change that changes nothing.
func (r *basis) check(v validated, stored storedForm, personHash string) error {
	if r.kind == KindChange || r.kind == KindReissue {
		return r.checkChange(v, stored, personHash)
	}
	if v.Plate != r.permit.Plate {
		return errs.Field("plate", "Eine Verlängerung gilt für das Kennzeichen %s des bisherigen Ausweises. "+
			"Einen Fahrzeugwechsel beantragen Sie bitte bei der Straßenverkehrsbehörde.", r.permit.Plate)
	}
	if personHash != r.personHash {
		return errs.E(errs.Invalid, "Eine Verlängerung kann nur die Person beantragen, für die der Ausweis ausgestellt ist. "+
			"Bitte prüfen Sie Vornamen, Familiennamen und Geburtsdatum.")
	}
	return nil
}

// RenewalInfo says whether and from when the permit of an application can
// be renewed.
type RenewalInfo struct {
	Offered bool      // the application has an active permit and the municipality offers renewal
	From    time.Time // the first day a renewal can be applied for
	Until   time.Time // the permit's last day
	Open    bool      // today is within [From, Until]
	Pending string    // the reference of an open renewal of the permit, if any
	// PendingStatus is where that renewal stands (Issued: renewed).
	PendingStatus Status
}

// Renewal returns the renewal state of an application's permit.
func (s *Service) Renewal(ctx context.Context, a Application) (RenewalInfo, error) {
	p := a.Permit
	if p == nil || p.Status != "active" {
		return RenewalInfo{}, nil
	}
	info := RenewalInfo{Until: p.ValidUntil}
	c, err := s.config(a.Municipality)
	if err != nil {
		return info, err
	}
	today := s.today()
	rs, err := c.RulesAt(today)
	if err != nil || rs.RenewalWindowDays <= 0 {
		return info, nil // no rules in force or no window: renewal not offered
	}
	info.Offered = true
	info.From = p.ValidUntil.AddDate(0, 0, -rs.RenewalWindowDays)
	info.Open = !today.Before(info.From) && !today.After(p.ValidUntil)
	prev, err := openRenewal(ctx, s.db.Read(), p.Number)
	switch {
	case err == nil:
		info.Pending, info.PendingStatus = prev.Reference, prev.Status
	case !errs.Is(err, errs.NotFound):
		return info, err
	}
	return info, nil
}

// refusal says in German why a permit cannot be renewed today; nil when it
// can (an open renewal is refused later, in the transaction, after an
// idempotent retry has been recognised).
func (s *Service) refusal(a Application, info RenewalInfo) error {
	p := a.Permit
	switch {
	case p == nil:
		return errs.E(errs.Conflict, "Zu diesem Antrag gibt es keinen Ausweis, der verlängert werden könnte.")
	case p.Status != "active":
		return errs.E(errs.Conflict, "Der Ausweis %s ist nicht mehr gültig und kann nicht verlängert werden. Bitte stellen Sie einen neuen Antrag.", p.Number)
	case s.today().After(p.ValidUntil):
		return errs.E(errs.Conflict, "Der Ausweis %s ist am %s abgelaufen und kann nicht mehr verlängert werden. Bitte stellen Sie einen neuen Antrag.",
			p.Number, germanDay(p.ValidUntil))
	case !info.Offered:
		return errs.E(errs.Conflict, "Die Kommune bietet keine Verlängerung an. Bitte stellen Sie vor dem Ablauf am %s einen neuen Antrag.", germanDay(p.ValidUntil))
	case !info.Open:
		return errs.E(errs.Conflict, "Eine Verlängerung ist ab dem %s möglich (%d Tage vor dem Ablauf des Ausweises am %s).",
			germanDay(info.From), int(info.Until.Sub(info.From).Hours()/24), germanDay(info.Until))
	}
	return nil
}

// Renewable returns the application the access code opens, with the form
// of a renewal prefilled from it (the declarations are made anew), or a
// Conflict saying why its permit cannot be renewed today.
func (s *Service) Renewable(ctx context.Context, reference, code string) (Application, Form, error) {
	a, err := s.Get(ctx, reference, code)
	if err != nil {
		return a, Form{}, err
	}
	info, err := s.Renewal(ctx, a)
	if err != nil {
		return a, Form{}, err
	}
	if err := s.refusal(a, info); err != nil {
		return a, Form{}, err
	}
	if info.Pending != "" {
		return a, Form{}, errs.E(errs.Conflict, "Für den Ausweis %s wurde die Verlängerung schon beantragt (Aktenzeichen %s).", a.Permit.Number, info.Pending)
	}
	return a, carryOver(Form{}, a.Form), nil
}

// carryOver fills the empty fields of f from the earlier form. The
// declarations (truthful, no own space, declaration at hand) are not
// carried over: the applicant makes them again for the new term.
func carryOver(f, from Form) Form {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&f.GivenNames, from.GivenNames)
	fill(&f.FamilyName, from.FamilyName)
	fill(&f.BirthDate, from.BirthDate)
	fill(&f.Address, from.Address)
	fill(&f.Plate, from.Plate)
	fill(&f.Email, from.Email)
	if f.Relation == "" {
		f.Relation = from.Relation
	}
	if f.DurationMonths == 0 {
		f.DurationMonths = from.DurationMonths
	}
	return f
}

// Renew applies for the renewal of the permit of the application that the
// access code opens. It answers like Submit, with the new application's
// reference and access code; idempotencyKey works the same way.
func (s *Service) Renew(ctx context.Context, reference, code string, f Form, idempotencyKey string) (Receipt, error) {
	row, err := s.authorised(ctx, reference, code)
	if err != nil {
		return Receipt{}, err
	}
	a, err := s.load(ctx, row)
	if err != nil {
		return Receipt{}, err
	}
	info, err := s.Renewal(ctx, a)
	if err != nil {
		return Receipt{}, err
	}
	if err := s.refusal(a, info); err != nil {
		return Receipt{}, err
	}
	return s.submit(ctx, row.Municipality, f, idempotencyKey, &basis{kind: KindRenewal, permit: *a.Permit, personHash: row.PersonHash})
}

// CheckRenewal validates a renewal form as Renew would, without storing
// anything (for the summary page).
func (s *Service) CheckRenewal(ctx context.Context, reference, code string, f *Form) error {
	row, err := s.authorised(ctx, reference, code)
	if err != nil {
		return err
	}
	a, err := s.load(ctx, row)
	if err != nil {
		return err
	}
	info, err := s.Renewal(ctx, a)
	if err != nil {
		return err
	}
	if err := s.refusal(a, info); err != nil {
		return err
	}
	v, stored, err := s.resolve(ctx, row.Municipality, *f, s.today())
	if err != nil {
		return err
	}
	ren := basis{kind: KindRenewal, permit: *a.Permit, personHash: row.PersonHash}
	if err := ren.check(v, stored, s.personHash(v.GivenNames, v.FamilyName, v.birth)); err != nil {
		return err
	}
	f.Address, f.Plate = v.Address, v.Plate
	return nil
}

func germanDay(t time.Time) string { return t.Format("02.01.2006") }
