package documents

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/go-pdf/fpdf"
	"golang.org/x/text/unicode/norm"
)

// PermitDocument is what is printed on a Bewohnerparkausweis, the card a
// resident puts behind the windscreen.
type PermitDocument struct {
	Authority    string   // issuing authority, e.g. "Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde"
	Municipality string   // e.g. "Berlin"; optional when Authority names it
	PermitNumber string   // as in the token
	Plate        string   // number plate, e.g. "B-AB 1234"
	Zones        []string // zone numbers, e.g. "29"
	ZoneNames    []string // optional, one per zone, e.g. "Spandauer Vorstadt"
	ValidFrom    time.Time
	ValidUntil   time.Time // last valid day; only the calendar date of both is printed
	HolderName   string    // optional; many cities print no name, so the default is to omit it
	IssuedAt     time.Time // also the PDF's creation date, which makes the output reproducible
	Token        string    // the signed token (Signer.Sign); becomes the QR code
	VerifyURL    string    // optional, e.g. https://…/pruefen/<token>; printed below the QR code and linked from it
	Demo         bool      // prints "MUSTER – DEMO, KEIN GÜLTIGER AUSWEIS" as a banner and a watermark
	LegalNote    string    // optional small print, e.g. how to display the card
}

// Layout of an A5 landscape card, in millimetres.
const (
	pageW, pageH = 210.0, 148.0
	marginX      = 10.0
	leftW        = 130.0 // plate, dates, details
	rightX       = 148.0 // zone box and QR code
	rightW       = pageW - marginX - rightX
	qrSide       = 42.0
	qrModulePx   = 4 // pixels per QR module in the embedded PNG
	demoText     = "MUSTER – DEMO, KEIN GÜLTIGER AUSWEIS"
	legalBasis   = "§ 45 Abs. 1b Satz 1 Nr. 2a StVO"
	germanDate   = "02.01.2006"
	maxCardZones = 4 // one line each on the card; Hamburg's overlap zones need two
)

// RenderPermitPDF writes d as a one-page PDF: an A5 landscape card with the
// number plate large, the zone number(s) in a box that reads from outside
// the car, the validity dates (31.12.2026 style), permit number, issuing
// authority, the legal basis (§ 45 Abs. 1b Satz 1 Nr. 2a StVO) and the
// token as a QR code with VerifyURL below it. With d.Demo the card carries a
// red banner and a diagonal watermark that no one can mistake for a permit.
//
// The PDF uses the standard Helvetica and Courier fonts in the Windows-1252
// encoding, which covers German; letters outside it (a holder named
// Łukasz) lose their diacritics rather than turn into dots. The same
// document always gives the same bytes.
func RenderPermitPDF(w io.Writer, d PermitDocument) error {
	if err := d.validate(); err != nil {
		return fmt.Errorf("render permit: %w", err)
	}
	bitmap, err := qrBitmap(d.Token)
	if err != nil {
		return fmt.Errorf("render permit: %w", err)
	}
	qrPNG, err := encodeQR(bitmap, qrModulePx, 0, len(bitmap)*qrModulePx)
	if err != nil {
		return fmt.Errorf("render permit: %w", err)
	}

	// ISO 216 A5 is 148 × 210 mm; fpdf's "A5" is half a millimetre taller.
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "L", UnitStr: "mm", Size: fpdf.SizeType{Wd: 148, Ht: 210}})
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(d.IssuedAt.UTC()) // fpdf writes no offset; UTC is the honest reading
	pdf.SetModificationDate(d.IssuedAt.UTC())
	pdf.SetTitle("Bewohnerparkausweis "+d.PermitNumber, true)
	pdf.SetSubject("Bewohnerparkausweis nach "+legalBasis, true)
	pdf.SetAuthor(d.Authority, true)
	pdf.SetCreator("Rathaus", true)
	pdf.SetProducer("Rathaus", true)
	pdf.SetLang("de-DE")
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(marginX, marginX, marginX)
	pdf.SetCellMargin(0)
	pdf.AddPage()
	c := &card{pdf: pdf, tr: cp1252(pdf.UnicodeTranslatorFromDescriptor(""))}

	// Cut line around the card.
	pdf.SetDrawColor(150, 150, 150)
	pdf.SetLineWidth(0.2)
	pdf.RoundedRect(4, 4, pageW-8, pageH-8, 4, "1234", "D")

	if d.Demo {
		pdf.SetFillColor(200, 0, 0)
		pdf.Rect(4, 5, pageW-8, 7.5, "F")
		pdf.SetTextColor(255, 255, 255)
		c.cell(4, 5, pageW-8, 7.5, "B", 11, demoText, "C")
	}

	// Header.
	pdf.SetTextColor(80, 80, 80)
	c.fitCell(marginX, 15, pageW-2*marginX, 4, "", 8.5, d.Authority, "L")
	pdf.SetTextColor(0, 0, 0)
	c.cell(marginX, 20, leftW, 10, "B", 24, "Bewohnerparkausweis", "L")
	sub := "Parkausweis für Bewohner nach " + legalBasis
	if d.Municipality != "" {
		sub = d.Municipality + " · " + sub
	}
	c.fitCell(marginX, 30.5, pageW-2*marginX, 4.5, "", 9.5, sub, "L")
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetLineWidth(0.4)
	pdf.Line(marginX, 37.5, pageW-marginX, 37.5)

	// Plate, as large as fits.
	c.label(marginX, 40, "Kennzeichen")
	pdf.SetLineWidth(0.9)
	pdf.RoundedRect(marginX, 44, leftW, 24, 2.5, "1234", "D")
	c.fitCell(marginX+3, 44, leftW-6, 24, "B", 58, d.Plate, "C")

	// Validity.
	c.label(marginX, 71, "gültig vom")
	c.cell(marginX, 75, 45, 9, "B", 15, d.ValidFrom.Format(germanDate), "L")
	c.label(marginX+50, 71, "gültig bis einschließlich")
	c.cell(marginX+50, 74, 80, 10, "B", 24, d.ValidUntil.Format(germanDate), "L")

	// Zones by name, permit number, issue date, holder.
	y := 88.0
	c.label(marginX, y, "Bewohnerparkbereich")
	y += 3.5
	for i, z := range d.Zones {
		line := "Zone " + z
		if len(d.ZoneNames) > 0 && d.ZoneNames[i] != "" {
			line += " – " + d.ZoneNames[i]
		}
		c.fitCell(marginX, y, leftW, 4.8, "", 10.5, line, "L")
		y += 4.8
	}
	y += 2
	c.label(marginX, y, "Ausweis-Nr.")
	c.label(marginX+50, y, "ausgestellt am")
	c.fitCell(marginX, y+3.5, 48, 5.5, "B", 11, d.PermitNumber, "L")
	c.cell(marginX+50, y+3.5, 40, 5.5, "B", 11, d.IssuedAt.In(berlinTZ).Format(germanDate), "L")
	if d.HolderName != "" {
		c.label(marginX+90, y, "Inhaber/in")
		c.fitCell(marginX+90, y+3.5, leftW-90, 5.5, "B", 11, d.HolderName, "L")
	}
	y += 11
	if d.LegalNote != "" {
		if err := c.smallPrint(marginX, y, leftW, 127.5-y, d.LegalNote); err != nil {
			return fmt.Errorf("render permit: %w", err)
		}
	}

	// Zone box in the colour of the parking sign, readable from outside.
	pdf.SetFillColor(0, 84, 159)
	pdf.RoundedRect(rightX, 40, rightW, 38, 2.5, "1234", "F")
	pdf.SetTextColor(255, 255, 255)
	zoneLabel := "Zone"
	if len(d.Zones) > 1 {
		zoneLabel = "Zonen"
	}
	c.cell(rightX, 42, rightW, 6, "B", 13, zoneLabel, "C")
	c.fitCell(rightX+2, 48, rightW-4, 27, "B", 64, strings.Join(d.Zones, " · "), "C")
	pdf.SetTextColor(0, 0, 0)

	// QR code, linked to the verification page when there is one.
	qrX := rightX + (rightW-qrSide)/2
	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qrPNG))
	pdf.ImageOptions("qr", qrX, 81, qrSide, qrSide, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, d.VerifyURL)
	pdf.SetTextColor(80, 80, 80)
	c.cell(rightX, 123.5, rightW, 3.5, "", 7, "Echtheit prüfen: QR-Code scannen", "C")
	pdf.SetTextColor(0, 0, 0)

	if d.VerifyURL != "" {
		pdf.SetXY(marginX, 130)
		pdf.SetFont("Helvetica", "", 6.5)
		pdf.CellFormat(0, 3, c.tr("Prüfadresse:"), "", 1, "L", false, 0, "")
		pdf.SetX(marginX)
		pdf.SetFont("Courier", "", 5.5)
		pdf.MultiCell(pageW-2*marginX, 2.4, c.tr(d.VerifyURL), "", "L", false)
	}

	if d.Demo {
		// A watermark across the card, under which everything stays legible.
		pdf.SetAlpha(0.22, "Normal")
		pdf.SetTextColor(200, 0, 0)
		pdf.TransformBegin()
		pdf.TransformRotate(25, pageW/2, pageH/2+8)
		c.cell(0, pageH/2-14, pageW, 18, "B", 54, "MUSTER – DEMO", "C")
		c.cell(0, pageH/2+6, pageW, 14, "B", 30, "KEIN GÜLTIGER AUSWEIS", "C")
		pdf.TransformEnd()
		pdf.SetAlpha(1, "Normal")
		pdf.SetTextColor(0, 0, 0)
	}

	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("render permit: %w", err)
	}
	return nil
}

func (d *PermitDocument) validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"authority", d.Authority}, {"permit number", d.PermitNumber}, {"plate", d.Plate}, {"token", d.Token},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(d.Zones) == 0 {
		missing = append(missing, "zones")
	}
	if d.ValidFrom.IsZero() || d.ValidUntil.IsZero() || d.IssuedAt.IsZero() {
		missing = append(missing, "dates")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if len(d.Zones) > maxCardZones {
		return fmt.Errorf("%d zones, the card has room for %d", len(d.Zones), maxCardZones)
	}
	if len(d.ZoneNames) != 0 && len(d.ZoneNames) != len(d.Zones) {
		return fmt.Errorf("%d zone names for %d zones", len(d.ZoneNames), len(d.Zones))
	}
	if d.ValidUntil.Format(dateLayout) < d.ValidFrom.Format(dateLayout) {
		return errors.New("valid until is before valid from")
	}
	return nil
}

// card draws text on the permit with the core fonts.
type card struct {
	pdf *fpdf.Fpdf
	tr  func(string) string // UTF-8 → Windows-1252
}

func (c *card) cell(x, y, w, h float64, style string, size float64, text, align string) {
	c.pdf.SetFont("Helvetica", style, size)
	c.pdf.SetXY(x, y)
	c.pdf.CellFormat(w, h, c.tr(text), "", 0, align+"M", false, 0, "")
}

// fitCell is cell with the font shrunk until text fits the width.
func (c *card) fitCell(x, y, w, h float64, style string, size float64, text, align string) {
	t := c.tr(text)
	c.pdf.SetFont("Helvetica", style, size)
	if tw := c.pdf.GetStringWidth(t); tw > w {
		size = size * w / tw
		c.pdf.SetFontSize(size)
	}
	c.pdf.SetXY(x, y)
	c.pdf.CellFormat(w, h, t, "", 0, align+"M", false, 0, "")
}

func (c *card) label(x, y float64, text string) {
	c.pdf.SetTextColor(90, 90, 90)
	c.cell(x, y, 60, 3.5, "", 7.5, text, "L")
	c.pdf.SetTextColor(0, 0, 0)
}

// smallPrint wraps text into the box, at 7 pt or, if needed, 6 pt, and
// refuses text that does not fit even then: an overlap on a permit is worse
// than an error.
func (c *card) smallPrint(x, y, w, h float64, text string) error {
	t := c.tr(text)
	for _, size := range []float64{7, 6} {
		c.pdf.SetFont("Helvetica", "", size)
		lineH := size * 0.3528 * 1.25 // points to mm, with leading
		if n := len(c.pdf.SplitLines([]byte(t), w)); float64(n)*lineH <= h {
			c.pdf.SetXY(x, y)
			c.pdf.MultiCell(w, lineH, t, "", "L", false)
			return nil
		}
	}
	return errors.New("legal note too long for the card")
}

// cp1252 wraps fpdf's translator: a letter Windows-1252 lacks is replaced by
// its base letter (ł → l, ă → a) instead of the translator's dot, and
// anything else it lacks by '?'.
func cp1252(tr func(string) string) func(string) string {
	representable := func(r rune) bool { return r < 0x80 || tr(string(r)) != "." }
	fold := map[rune]rune{'ł': 'l', 'Ł': 'L', 'đ': 'd', 'Đ': 'D', 'ħ': 'h', 'Ħ': 'H', 'ı': 'i', 'ĸ': 'k', 'ŀ': 'l', 'Ŀ': 'L'}
	return func(s string) string {
		if !strings.ContainsFunc(s, func(r rune) bool { return !representable(r) }) {
			return tr(s)
		}
		var b strings.Builder
		for _, r := range norm.NFC.String(s) {
			switch {
			case representable(r):
				b.WriteRune(r)
			case fold[r] != 0:
				b.WriteRune(fold[r])
			default:
				base := []rune(norm.NFD.String(string(r)))
				if len(base) > 0 && base[0] < unicode.MaxLatin1 && representable(base[0]) && !unicode.Is(unicode.Mn, base[0]) {
					b.WriteRune(base[0])
				} else if !unicode.Is(unicode.Mn, r) {
					b.WriteByte('?')
				}
			}
		}
		return tr(b.String())
	}
}
