package parking

import (
	"context"
	"database/sql"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/errs"
)

// Assignment: a clerk takes a case in review, so that two clerks never
// work the same case unknowingly. The queue and the case page show who
// works on a case; a decision by anyone else is refused until they take
// the case over (which the pages offer, naming whom they take it from).
// An unassigned case may be decided by anyone (the decision takes it).
// Taking, taking over and giving back are entries of the audit log.

// Assign gives the case to c (take = true) or back to the queue (take =
// false, only by its assignee). Taking a case someone else works on takes
// it over. Only cases in review are assigned.
func (s *Service) Assign(ctx context.Context, c Clerk, reference string, take bool, origin string) (Application, error) {
	now := s.now().UTC()
	var row appRow
	err := s.db.Transact(ctx, func(tx *sql.Tx) error {
		var err error
		row, err = s.caseForUpdate(ctx, tx, c, reference)
		if err != nil {
			return err
		}
		if row.Status != Review {
			return errs.E(errs.Conflict, "Der Antrag ist nicht (mehr) in Prüfung, sondern „%s“.", row.Status.Label())
		}
		action, reason := "parking.take", ""
		switch {
		case take && row.Assignee == c.Actor:
			return nil
		case take && row.Assignee != "":
			action, reason = "parking.take_over", "übernommen von "+row.Assignee
		case !take && row.Assignee == "":
			return nil
		case !take && row.Assignee != c.Actor:
			return errs.E(errs.Conflict, "Den Antrag bearbeitet %s; zurücklegen kann ihn nur, wer ihn bearbeitet.", row.AssigneeName)
		case !take:
			action = "parking.give_back"
		}
		assignee, name, at := "", "", sql.NullTime{}
		if take {
			assignee, name, at = c.Actor, c.Name, sql.NullTime{Time: now, Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE parking_applications SET assignee = $1, assignee_name = $2, assigned_at = $3 WHERE id = $4`,
			assignee, name, at, row.ID); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: now, Actor: c.Actor, Action: action, Object: "parking_application:" + row.ID,
			Municipality: c.Municipality, Origin: origin, Reason: reason})
		return err
	})
	if err != nil {
		return Application{}, err
	}
	row, err = getApp(ctx, s.db.Read(), s.db.Engine, "id", row.ID, false)
	if err != nil {
		return Application{}, err
	}
	return s.load(ctx, row)
}

// HandOver gives a case in review to a colleague (toActor, named toName):
// its assignee may, anyone may while nobody works on it, and a team lead
// always may (leads distribute the work). The colleague is found by the
// caller (the staff directory).
func (s *Service) HandOver(ctx context.Context, c Clerk, reference, toActor, toName, origin string) error {
	now := s.now().UTC()
	return s.db.Transact(ctx, func(tx *sql.Tx) error {
		row, err := s.caseForUpdate(ctx, tx, c, reference)
		if err != nil {
			return err
		}
		switch {
		case row.Status != Review:
			return errs.E(errs.Conflict, "Der Antrag ist nicht (mehr) in Prüfung, sondern „%s“.", row.Status.Label())
		case row.Assignee == toActor:
			return nil
		case row.Assignee != "" && row.Assignee != c.Actor && !c.Lead:
			return errs.E(errs.Conflict, "Den Antrag bearbeitet %s; übergeben kann ihn nur, wer ihn bearbeitet, oder die Teamleitung.", row.AssigneeName)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE parking_applications SET assignee = $1, assignee_name = $2, assigned_at = $3 WHERE id = $4`,
			toActor, toName, now, row.ID); err != nil {
			return err
		}
		reason := "an " + toActor
		if row.Assignee != "" {
			reason += " von " + row.Assignee
		}
		_, err = audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: now, Actor: c.Actor, Action: "parking.hand_over", Object: "parking_application:" + row.ID,
			Municipality: c.Municipality, Origin: origin, Reason: reason})
		return err
	})
}
