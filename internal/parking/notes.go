package parking

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/errs"
)

// Internal notes and fee corrections: what a clerk adds to a case beside
// the decision. Notes are for colleagues, never shown to the citizen; a
// fee correction changes the fee of a case in review before it is
// approved, with a justification that stays in the case's record.

// Note is an internal note on a case.
type Note struct {
	At        time.Time
	Actor     string
	ActorName string
	Text      string
}

// maxNote bounds a note (runes).
const maxNote = 2000

// AddNote adds an internal note to a case of c's municipality.
func (s *Service) AddNote(ctx context.Context, c Clerk, reference, text, origin string) error {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return errs.Field("notiz", "Bitte schreiben Sie eine Notiz.")
	case utf8.RuneCountInString(text) > maxNote:
		return errs.Field("notiz", "Die Notiz ist zu lang (höchstens %d Zeichen).", maxNote)
	}
	now := s.now().UTC()
	return s.db.Transact(ctx, func(tx *sql.Tx) error {
		row, err := s.caseForUpdate(ctx, tx, c, reference)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO parking_notes (application_id, seq, at, actor, actor_name, text)
			VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM parking_notes WHERE application_id = $1), $2, $3, $4, $5)`,
			row.ID, now, c.Actor, c.Name, text); err != nil {
			return fmt.Errorf("add note: %w", err)
		}
		_, err = audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: now, Actor: c.Actor, Action: "parking.note", Object: "parking_application:" + row.ID,
			Municipality: c.Municipality, Origin: origin})
		return err
	})
}

// Notes returns the notes of an application, oldest first.
func (s *Service) Notes(ctx context.Context, applicationID string) ([]Note, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT at, actor, actor_name, text FROM parking_notes WHERE application_id = $1 ORDER BY seq`, applicationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Note
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.At, &n.Actor, &n.ActorName, &n.Text); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// FeeCorrection is a clerk's change of a case's fee before approval.
type FeeCorrection struct {
	FromCents int64     `json:"from_cents"`
	ToCents   int64     `json:"to_cents"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Reason    string    `json:"reason"`
}

// CorrectFee sets the fee of a case in review to cents, with a
// justification; the rule trace keeps the computed fee and the
// correction. An approval then charges the corrected fee.
func (s *Service) CorrectFee(ctx context.Context, c Clerk, reference string, cents int64, reason, origin string) error {
	reason = strings.TrimSpace(reason)
	switch {
	case cents < 0 || cents > 100_000_00:
		return errs.Field("gebuehr", "Bitte geben Sie einen Betrag zwischen 0,00 € und 100.000,00 € an.")
	case reason == "":
		return errs.Field("gebuehr_begruendung", "Bitte begründen Sie die Korrektur; die Begründung steht in der Akte.")
	case utf8.RuneCountInString(reason) > 1000:
		return errs.Field("gebuehr_begruendung", "Die Begründung ist zu lang (höchstens 1000 Zeichen).")
	}
	now := s.now().UTC()
	return s.db.Transact(ctx, func(tx *sql.Tx) error {
		row, err := s.caseForUpdate(ctx, tx, c, reference)
		if err != nil {
			return err
		}
		if row.Status != Review {
			return errs.E(errs.Conflict, "Die Gebühr lässt sich nur vor der Entscheidung korrigieren; der Antrag ist „%s“.", row.Status.Label())
		}
		if row.Assignee != "" && row.Assignee != c.Actor {
			return errs.E(errs.Conflict, "Den Antrag bearbeitet %s. Übernehmen Sie ihn, wenn Sie die Gebühr korrigieren wollen.", row.AssigneeName)
		}
		var d Decision
		if row.Outcome != "" {
			if err := json.Unmarshal([]byte(row.Outcome), &d); err != nil {
				return err
			}
		}
		from := int64(-1)
		if d.FeeCents != nil {
			from = *d.FeeCents
		}
		d.FeeCorrections = append(d.FeeCorrections, FeeCorrection{FromCents: from, ToCents: cents, By: c.Actor, At: now, Reason: reason})
		d.FeeCents = &cents
		d.FeeTier = "korrigiert durch die Sachbearbeitung"
		if err := setDecision(ctx, tx, row.ID, mustJSON(d), d.FeeCents, now); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: now, Actor: c.Actor, Action: "parking.correct_fee", Object: "parking_application:" + row.ID,
			Municipality: c.Municipality, Origin: origin, Reason: fmt.Sprintf("%d -> %d", from, cents)})
		return err
	})
}
