package documents

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

// LetterDocument is an administrative letter (Bescheid) on A4: the
// authority as sender, the addressee, reference and date, the subject,
// the decision (Tenor), its reasons (Begründung, § 39 VwVfG) and the
// Rechtsbehelfsbelehrung (§ 37 Abs. 6, § 58 VwGO).
type LetterDocument struct {
	Authority  string    // sender, e.g. "Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde"
	Recipient  []string  // name and address lines
	Reference  string    // Aktenzeichen
	Date       time.Time // date of the letter; also the PDF's creation date
	Subject    string    // e.g. "Ablehnung Ihres Antrags auf einen Bewohnerparkausweis"
	Salutation string    // e.g. "Guten Tag Anna Muster,"
	Tenor      []string  // the decision, one paragraph each
	Reasons    []string  // the reasons, one paragraph (or list item) each
	Remedy     string    // the Rechtsbehelfsbelehrung
	Closing    []string  // closing paragraphs, e.g. that the letter needs no signature
	Demo       bool      // prints "MUSTER – DEMO" in the header
}

// RenderLetterPDF writes d as an A4 PDF, as many pages as it needs, in the
// standard Helvetica (Windows-1252, like the permit). The same letter
// always gives the same bytes.
func RenderLetterPDF(w io.Writer, d LetterDocument) error {
	switch {
	case strings.TrimSpace(d.Authority) == "":
		return errors.New("render letter: no authority")
	case len(d.Recipient) == 0:
		return errors.New("render letter: no recipient")
	case d.Reference == "" || d.Subject == "" || len(d.Tenor) == 0:
		return errors.New("render letter: reference, subject and decision are required")
	case d.Date.IsZero():
		return errors.New("render letter: no date")
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(d.Date.UTC())
	pdf.SetModificationDate(d.Date.UTC())
	pdf.SetTitle(d.Subject+" ("+d.Reference+")", true)
	pdf.SetAuthor(d.Authority, true)
	pdf.SetCreator("Rathaus", true)
	pdf.SetProducer("Rathaus", true)
	pdf.SetLang("de-DE")
	pdf.SetMargins(25, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	tr := cp1252(pdf.UnicodeTranslatorFromDescriptor(""))
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 4, tr(fmt.Sprintf("%s · Aktenzeichen %s · Seite %d", d.Authority, d.Reference, pdf.PageNo())), "", 0, "C", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()
	text := func(style string, size, lineH float64, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(0, lineH, tr(s), "", "L", false)
	}
	if d.Demo {
		pdf.SetTextColor(200, 0, 0)
		text("B", 10, 5, "MUSTER – DEMO, KEIN ECHTER BESCHEID")
		pdf.SetTextColor(0, 0, 0)
		pdf.Ln(2)
	}
	text("B", 11, 5, d.Authority)
	pdf.Ln(8)
	for _, l := range d.Recipient {
		text("", 10, 5, l)
	}
	pdf.Ln(8)
	pdf.SetFont("Helvetica", "", 10)
	pdf.CellFormat(0, 5, tr("Aktenzeichen: "+d.Reference), "", 1, "L", false, 0, "")
	pdf.CellFormat(0, 5, tr("Datum: "+d.Date.Format("02.01.2006")), "", 1, "L", false, 0, "")
	pdf.Ln(6)
	text("B", 12, 6, d.Subject)
	pdf.Ln(4)
	if d.Salutation != "" {
		text("", 10, 5, d.Salutation)
		pdf.Ln(2)
	}
	for _, p := range d.Tenor {
		text("B", 10, 5, p)
		pdf.Ln(2)
	}
	if len(d.Reasons) > 0 {
		pdf.Ln(2)
		text("B", 11, 6, "Begründung")
		for _, p := range d.Reasons {
			text("", 10, 5, p)
			pdf.Ln(2)
		}
	}
	if d.Remedy != "" {
		pdf.Ln(2)
		text("B", 11, 6, "Rechtsbehelfsbelehrung")
		text("", 10, 5, d.Remedy)
	}
	for _, p := range d.Closing {
		pdf.Ln(3)
		text("", 10, 5, p)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("render letter: %w", err)
	}
	return nil
}
