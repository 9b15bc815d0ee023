package parking

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

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

func (s *Service) receiptMail(ars, to, reference string, ren *renewal) mail.Message {
	what := "Ihr Antrag auf einen Bewohnerparkausweis ist eingegangen."
	if ren != nil {
		what = fmt.Sprintf("Ihr Antrag auf Verlängerung des Bewohnerparkausweises %s ist eingegangen. "+
			"Der neue Ausweis schließt an den bisherigen an, der bis zum %s gilt.", ren.permit.Number, germanDay(ren.permit.ValidUntil))
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

func (s *Service) issuedMail(to string, row appRow, p Permit) mail.Message {
	return s.letter(row.Municipality, to, row.Reference, "Ihr Bewohnerparkausweis ist ausgestellt ("+row.Reference+")",
		"die Gebühr ist bezahlt, Ihr Bewohnerparkausweis ist ausgestellt.\nAusweisnummer: "+p.Number+
			"\nZone: "+strings.ReplaceAll(p.ZoneID, ",", ", ")+
			"\nGültig: "+germanDay(p.ValidFrom)+" bis "+germanDay(p.ValidUntil),
		"Den Ausweis (PDF mit QR-Code) laden Sie auf der Statusseite herunter:\n"+s.statusURL(row.Reference))
}
