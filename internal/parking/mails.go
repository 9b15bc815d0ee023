package parking

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/mail"
)

// The e-mails of the service, in German. Each is enqueued in the
// transaction of the change it reports, so it exists exactly when the
// change does. They say what happened and link to the status page; they
// carry nothing the citizen does not need there (no name, no address, no
// plate) and never the access code: whoever reads a forwarded e-mail
// cannot open the case with it.

// sendMail enqueues m; a message without an address (an anonymised case)
// is skipped.
func (s *Service) sendMail(ctx context.Context, tx *sql.Tx, m mail.Message) error {
	if m.To == "" {
		return nil
	}
	_, err := s.mail.Enqueue(ctx, tx, m)
	if err != nil {
		return fmt.Errorf("mail for %s: %w", m.Reference, err)
	}
	return nil
}

// emailOf returns the applicant's e-mail address from the stored form; ""
// when there is none (anonymised).
func emailOf(row appRow) string {
	var sf storedForm
	if err := json.Unmarshal([]byte(row.Data), &sf); err != nil {
		return ""
	}
	return sf.Email
}

func (s *Service) statusURL(reference string) string {
	return s.BaseURL + "/bewohnerparken/status/" + reference
}

// letter assembles a message: greeting, paragraphs, closing.
func (s *Service) letter(ars, to, reference, subject string, paragraphs ...string) mail.Message {
	authority := s.Authority[ars]
	if authority == "" {
		authority = "Ihre Straßenverkehrsbehörde"
	}
	body := "Guten Tag,\n\n" + strings.Join(paragraphs, "\n\n") + "\n\nMit freundlichen Grüßen\n" + authority +
		"\n\nDiese Nachricht wurde automatisch erstellt. Bitte antworten Sie nicht darauf."
	return mail.Message{To: to, Subject: subject, Body: body, Reference: reference}
}

func (s *Service) receiptMail(ars, to, reference string, ren *basis) mail.Message {
	what := "Ihr Antrag auf einen Bewohnerparkausweis ist eingegangen."
	switch {
	case ren == nil:
	case ren.kind == KindRenewal:
		what = fmt.Sprintf("Ihr Antrag auf Verlängerung des Bewohnerparkausweises %s ist eingegangen. "+
			"Der neue Ausweis schließt an den bisherigen an, der bis zum %s gilt.", ren.permit.Number, germanDay(ren.permit.ValidUntil))
	case ren.kind == KindChange:
		what = fmt.Sprintf("Ihr Antrag auf Änderung des Bewohnerparkausweises %s ist eingegangen. "+
			"Bis der geänderte Ausweis ausgestellt ist, gilt der bisherige unverändert.", ren.permit.Number)
	case ren.kind == KindReissue:
		what = fmt.Sprintf("Ihr Antrag auf einen Ersatz für den Bewohnerparkausweis %s ist eingegangen. "+
			"Mit der Ausstellung des Ersatzausweises wird der bisherige ungültig.", ren.permit.Number)
	}
	return s.letter(ars, to, reference, "Ihr Antrag "+reference+" ist eingegangen",
		what+"\nAktenzeichen: "+reference,
		"Wir fragen jetzt bei der Meldebehörde und der Zulassungsstelle nach, ob die Voraussetzungen erfüllt sind. "+
			"Den Stand sehen Sie auf der Statusseite – mit dem Zugangscode aus Ihrer Eingangsbestätigung:\n"+s.statusURL(reference))
}

func (s *Service) approvedMail(to string, row appRow, feeCents int64) mail.Message {
	return s.letter(row.Municipality, to, row.Reference, "Ihr Antrag "+row.Reference+" ist bewilligt",
		"Ihr Antrag auf einen Bewohnerparkausweis ist bewilligt. Die Gebühr beträgt "+FormatCents(feeCents)+".",
		"Sobald die Gebühr bezahlt ist, stellen wir den Ausweis aus. Bezahlen können Sie auf der Statusseite:\n"+s.statusURL(row.Reference))
}

func (s *Service) rejectedMail(to string, row appRow, reasons []string) mail.Message {
	var b strings.Builder
	b.WriteString("Gründe:")
	for _, r := range reasons {
		b.WriteString("\n- " + r)
	}
	return s.letter(row.Municipality, to, row.Reference, "Ihr Antrag "+row.Reference+" wurde abgelehnt",
		"über Ihren Antrag auf einen Bewohnerparkausweis (Aktenzeichen "+row.Reference+") ist entschieden: Er wurde abgelehnt.",
		b.String(),
		"Die Entscheidung und ihren Verlauf finden Sie auf der Statusseite:\n"+s.statusURL(row.Reference))
}

// issuedMail announces a permit; followOn is the reference of an issued
// renewal of the permit a change replaced (that permit keeps the old plate
// and zone, and the citizen is asked to change it too).
func (s *Service) issuedMail(to string, row appRow, p Permit, followOn string) mail.Message {
	what := "die Gebühr ist bezahlt, Ihr Bewohnerparkausweis ist ausgestellt."
	switch {
	case row.Kind == KindChange || row.Kind == KindReissue:
		what = "Ihr neuer Bewohnerparkausweis ist ausgestellt. Der bisherige Ausweis " + row.ReplacesPermit.String +
			" ist damit ungültig; bitte legen Sie nur noch den neuen aus."
	case row.FeeCents.Valid && row.FeeCents.Int64 == 0:
		what = "Ihr Bewohnerparkausweis ist ausgestellt."
	}
	return s.letter(row.Municipality, to, row.Reference, "Ihr Bewohnerparkausweis ist ausgestellt ("+row.Reference+")",
		what+"\nAusweisnummer: "+p.Number+
			"\nZone: "+strings.ReplaceAll(p.ZoneID, ",", ", ")+
			"\nGültig: "+germanDay(p.ValidFrom)+" bis "+germanDay(p.ValidUntil),
		"Den Ausweis (PDF mit QR-Code) laden Sie auf der Statusseite herunter:\n"+s.statusURL(row.Reference)+followOnText(followOn))
}

func followOnText(ref string) string {
	if ref == "" {
		return ""
	}
	return "\n\nIhr Ausweis war bereits verlängert (Aktenzeichen " + ref + "). Der Folgeausweis gilt weiter für das bisherige " +
		"Kennzeichen und die bisherige Zone; bitte beantragen Sie auch für ihn die Änderung, über die Statusseite der Verlängerung."
}

func (s *Service) cancelledMail(a Application, p Permit, day time.Time, refund int64, rule string) mail.Message {
	what := "Ihr Bewohnerparkausweis " + p.Number + " (Kennzeichen " + p.Plate + ") ist zurückgegeben und gilt seit dem " + germanDay(day) + " nicht mehr."
	money := "Eine Erstattung der Gebühr ist nicht vorgesehen: " + rule + "."
	if refund > 0 {
		money = "Wir erstatten " + FormatCents(refund) + " (" + rule + "). Die Stadtkasse überweist den Betrag auf das Konto, von dem die Gebühr bezahlt wurde."
	}
	return s.letter(a.Municipality, a.Form.Email, a.Reference, "Ihr Bewohnerparkausweis "+p.Number+" ist zurückgegeben", what, money,
		"Den Verlauf finden Sie auf der Statusseite:\n"+s.statusURL(a.Reference))
}
