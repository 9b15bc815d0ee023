package parking

import (
	"io"
	"strings"

	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/errs"
)

// remedyMissing stands in the Bescheid when the municipality's
// configuration has no Rechtsbehelfsbelehrung (the rule loader warns).
const remedyMissing = "Gegen diesen Bescheid ist ein Rechtsbehelf möglich. Die Kommune hat die Rechtsbehelfsbelehrung noch nicht hinterlegt; " +
	"bitte erfragen Sie Form und Frist bei der Behörde, die den Bescheid erlassen hat."

// authorityOf is the issuing authority of a municipality's documents.
func (s *Service) authorityOf(ars string) string {
	if a := s.Authority[ars]; a != "" {
		return a
	}
	authority := "Straßenverkehrsbehörde"
	if c, err := s.config(ars); err == nil {
		authority += " " + c.Municipality
	}
	return authority
}

// RenderDecisionLetter writes the Bescheid of a rejected application as a
// PDF: addressee, Aktenzeichen, the decision, its reasons (the failed
// checks it rests on with their legal sources, and the clerk's words) and
// the municipality's Rechtsbehelfsbelehrung.
func (s *Service) RenderDecisionLetter(w io.Writer, a Application) error {
	if a.Status != Rejected || a.Outcome == nil {
		return errs.E(errs.NotFound, "Für diesen Antrag gibt es keinen Ablehnungsbescheid.")
	}
	remedy := remedyMissing
	if c, err := s.config(a.Municipality); err == nil && c.Remedy != "" {
		remedy = c.Remedy
	}
	name := strings.TrimSpace(a.Form.GivenNames + " " + a.Form.FamilyName)
	recipient := []string{name}
	if street, place, ok := strings.Cut(a.Form.Address, ", "); ok {
		if c, err := s.config(a.Municipality); err == nil && strings.Trim(place, "0123456789") == "" {
			place += " " + c.Municipality // the form's address ends with the postcode
		}
		recipient = append(recipient, street, place)
	} else if a.Form.Address != "" {
		recipient = append(recipient, a.Form.Address)
	}
	var reasons []string
	for _, r := range reasonsOf(a.Outcome) {
		reasons = append(reasons, "– "+r)
	}
	decided := a.Outcome.At
	if decided.IsZero() {
		decided = a.UpdatedAt
	}
	what := "einen Bewohnerparkausweis"
	switch a.Kind {
	case KindRenewal:
		what = "die Verlängerung Ihres Bewohnerparkausweises"
	case KindChange:
		what = "die Änderung Ihres Bewohnerparkausweises"
	case KindReissue:
		what = "einen Ersatz für Ihren Bewohnerparkausweis"
	}
	return documents.RenderLetterPDF(w, documents.LetterDocument{
		Authority:  s.authorityOf(a.Municipality),
		Recipient:  recipient,
		Reference:  a.Reference,
		Date:       decided.In(berlin),
		Subject:    "Bescheid: Ablehnung Ihres Antrags (" + a.Reference + ")",
		Salutation: "Guten Tag " + name + ",",
		Tenor:      []string{"Ihr Antrag vom " + germanDay(a.AppliedOn) + " auf " + what + " wird abgelehnt."},
		Reasons:    reasons,
		Remedy:     remedy,
		Closing: []string{"Dieser Bescheid wurde elektronisch erstellt und ist ohne Unterschrift gültig (§ 37 Abs. 5 VwVfG).",
			"Den Stand Ihres Antrags sehen Sie auf der Statusseite: " + s.statusURL(a.Reference)},
		Demo: s.Demo,
	})
}
