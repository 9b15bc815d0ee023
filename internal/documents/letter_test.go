package documents

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func sampleLetter() LetterDocument {
	return LetterDocument{
		Authority: "Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde",
		Recipient: []string{"Jürgen Weiß-Öztürk", "Lehrter Straße 53", "10557 Berlin"},
		Reference: "BP-2026-7KQ4M2XD", Date: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		Subject: "Ablehnung Ihres Antrags auf einen Bewohnerparkausweis", Salutation: "Guten Tag Jürgen Weiß-Öztürk,",
		Tenor:   []string{"Ihr Antrag vom 20.11.2026 auf einen Bewohnerparkausweis wird abgelehnt."},
		Reasons: []string{"– Sie sind unter der Antragsanschrift nur mit Nebenwohnung gemeldet (§ 21 BMG).", strings.Repeat("Begründung der Sachbearbeitung. ", 80)},
		Remedy:  "Gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Widerspruch erhoben werden.",
		Closing: []string{"Dieses Schreiben wurde elektronisch erstellt und ist ohne Unterschrift gültig."},
	}
}

func TestRenderLetterPDF(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderLetterPDF(&buf, sampleLetter()); err != nil {
		t.Fatal(err)
	}
	pdf := buf.Bytes()
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) || !bytes.Contains(pdf, []byte("/Encoding /WinAnsiEncoding")) {
		t.Fatal("not a PDF in WinAnsiEncoding")
	}
	if n := bytes.Count(pdf, []byte("/Type /Page\n")); n != 2 {
		t.Errorf("%d pages, want 2 (the long reasons run over)", n)
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"Straßenverkehrsbehörde", "Jürgen Weiß-Öztürk", "BP-2026-7KQ4M2XD", "26.11.2026", "Ablehnung Ihres Antrags",
		"wird abgelehnt", "Begründung", "Nebenwohnung gemeldet", "Rechtsbehelfsbelehrung", "Widerspruch erhoben", "ohne Unterschrift gültig", "Seite 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("letter lacks %q", want)
		}
	}
	if strings.Contains(text, "MUSTER") {
		t.Error("a real letter carries the demo mark")
	}
	var again bytes.Buffer
	RenderLetterPDF(&again, sampleLetter())
	if !bytes.Equal(pdf, again.Bytes()) {
		t.Error("the same letter gives different bytes")
	}
	d := sampleLetter()
	d.Demo = true
	buf.Reset()
	RenderLetterPDF(&buf, d)
	if !strings.Contains(pdfText(t, buf.Bytes()), "MUSTER – DEMO") {
		t.Error("demo letter without its mark")
	}
	for name, change := range map[string]func(*LetterDocument){
		"no authority": func(d *LetterDocument) { d.Authority = "" },
		"no recipient": func(d *LetterDocument) { d.Recipient = nil },
		"no tenor":     func(d *LetterDocument) { d.Tenor = nil },
		"no date":      func(d *LetterDocument) { d.Date = time.Time{} },
	} {
		d := sampleLetter()
		change(&d)
		if err := RenderLetterPDF(&bytes.Buffer{}, d); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}
