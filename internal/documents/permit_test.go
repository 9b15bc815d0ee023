package documents

import (
	"bytes"
	"compress/zlib"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func samplePermit() PermitDocument {
	berlin := time.FixedZone("CET", 3600)
	return PermitDocument{
		Authority:    "Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde",
		Municipality: "Berlin",
		PermitNumber: "BPA-2026-0004711",
		Plate:        "B-RA 1234",
		Zones:        []string{"29"},
		ZoneNames:    []string{"Spandauer Vorstadt"},
		ValidFrom:    time.Date(2026, 1, 15, 0, 0, 0, 0, berlin),
		ValidUntil:   time.Date(2028, 1, 14, 0, 0, 0, 0, berlin),
		IssuedAt:     time.Date(2026, 1, 14, 10, 30, 0, 0, berlin),
		Token:        goldenToken,
		VerifyURL:    "https://rathaus.berlin.example/pruefen/" + goldenToken,
		LegalNote: "Nur gültig für das angegebene Fahrzeug im angegebenen Bewohnerparkbereich. " +
			"Gut lesbar hinter der Windschutzscheibe auslegen. Änderungen des Kennzeichens oder der Wohnanschrift sind mitzuteilen.",
	}
}

func render(tb testing.TB, d PermitDocument) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := RenderPermitPDF(&buf, d); err != nil {
		tb.Fatalf("RenderPermitPDF: %v", err)
	}
	return buf.Bytes()
}

func TestRenderPermitPDFGolden(t *testing.T) {
	got := render(t, samplePermit())
	golden := filepath.Join("testdata", "permit.golden.pdf")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("PDF differs from %s (%d bytes, want %d); look at both and run go test -update if the change is intended",
			golden, len(got), len(want))
	}
}

func TestRenderPermitPDFIsDeterministic(t *testing.T) {
	a, b := render(t, samplePermit()), render(t, samplePermit())
	if !bytes.Equal(a, b) {
		t.Error("two renderings of the same permit differ")
	}
}

func TestRenderPermitPDFContent(t *testing.T) {
	pdf := render(t, samplePermit())
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) {
		t.Errorf("PDF starts with %q", pdf[:8])
	}
	if !bytes.HasSuffix(bytes.TrimRight(pdf, "\r\n"), []byte("%%EOF")) {
		t.Errorf("PDF does not end with %%%%EOF: %q", pdf[len(pdf)-10:])
	}
	if n := bytes.Count(pdf, []byte("/Type /Page\n")); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
	if !bytes.Contains(pdf, []byte("/MediaBox [0 0 595.28 419.53]")) {
		t.Error("page is not A5 landscape")
	}
	if !bytes.Contains(pdf, []byte("/Subtype /Image")) || !bytes.Contains(pdf, []byte("/Width 308")) {
		t.Error("no QR image of 77 modules × 4 pixels")
	}
	if !bytes.Contains(pdf, []byte("/Encoding /WinAnsiEncoding")) {
		t.Error("fonts are not in WinAnsiEncoding; umlauts would come out wrong")
	}
	text := pdfText(t, pdf)
	for _, want := range []string{
		"Bewohnerparkausweis",
		"Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde",
		"B-RA 1234",
		"gültig vom", "15.01.2026",
		"gültig bis einschließlich", "14.01.2028",
		"29", "Zone 29 – Spandauer Vorstadt",
		"BPA-2026-0004711", "14.01.2026",
		"§ 45 Abs. 1b Satz 1 Nr. 2a StVO",
		"Änderungen des Kennzeichens",
		"https://rathaus.berlin.example/pruefen/",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q; text:\n%s", want, text)
		}
	}
	if strings.Contains(text, "MUSTER") {
		t.Error("a real permit carries the demo banner")
	}
	if strings.Contains(text, "Inhaber") {
		t.Error("holder printed although no name was given")
	}
}

func TestRenderPermitPDFDemoAndHolder(t *testing.T) {
	d := samplePermit()
	d.Demo = true
	d.HolderName = "Łukasz Müller-Lüdenscheidt"
	d.Zones = []string{"29", "30"}
	d.ZoneNames = nil
	text := pdfText(t, render(t, d))
	for _, want := range []string{
		"MUSTER – DEMO, KEIN GÜLTIGER AUSWEIS", // banner
		"KEIN GÜLTIGER AUSWEIS",                // watermark
		"Inhaber/in", "Lukasz Müller-Lüdenscheidt",
		"29 · 30", "Zone 29", "Zone 30", "Zonen",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo PDF text lacks %q; text:\n%s", want, text)
		}
	}
}

// TestRenderPermitPDFWithPoppler reads the PDF with a real PDF reader when
// one is installed (Debian: poppler-utils); the pure-Go checks above always run.
func TestRenderPermitPDFWithPoppler(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not installed")
	}
	d := samplePermit()
	d.Demo = true
	path := filepath.Join(t.TempDir(), "permit.pdf")
	if err := os.WriteFile(path, render(t, d), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"B-RA 1234", "14.01.2028", "gültig bis einschließlich", "Straßenverkehrsbehörde", "Prüfadresse", "MUSTER – DEMO, KEIN GÜLTIGER AUSWEIS"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext output lacks %q:\n%s", want, text)
		}
	}
}

func TestRenderPermitPDFRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(*PermitDocument)
	}{
		{"no authority", func(d *PermitDocument) { d.Authority = "" }},
		{"no permit number", func(d *PermitDocument) { d.PermitNumber = " " }},
		{"no plate", func(d *PermitDocument) { d.Plate = "" }},
		{"no zones", func(d *PermitDocument) { d.Zones, d.ZoneNames = nil, nil }},
		{"more zones than the card holds", func(d *PermitDocument) { d.Zones, d.ZoneNames = []string{"1", "2", "3", "4", "5"}, nil }},
		{"zone names do not match zones", func(d *PermitDocument) { d.ZoneNames = []string{"a", "b"} }},
		{"no token", func(d *PermitDocument) { d.Token = "" }},
		{"no valid until", func(d *PermitDocument) { d.ValidUntil = time.Time{} }},
		{"no issue date", func(d *PermitDocument) { d.IssuedAt = time.Time{} }},
		{"until before from", func(d *PermitDocument) { d.ValidUntil = d.ValidFrom.AddDate(0, 0, -1) }},
		{"legal note too long", func(d *PermitDocument) { d.LegalNote = strings.Repeat("Sehr langer Hinweis. ", 60) }},
		{"token too long for a QR code", func(d *PermitDocument) { d.Token = strings.Repeat("x", 3000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := samplePermit()
			tt.change(&d)
			var buf bytes.Buffer
			if err := RenderPermitPDF(&buf, d); err == nil {
				t.Errorf("RenderPermitPDF accepted it (%d bytes)", buf.Len())
			}
		})
	}
}

func TestCP1252Fallback(t *testing.T) {
	tr := cp1252(fpdf.New("L", "mm", "A5", "").UnicodeTranslatorFromDescriptor(""))
	for in, want := range map[string]string{
		"Straße Größe Äpfel": "Straße Größe Äpfel",
		"Łukasz Żółć":        "Lukasz Zólc",
		"Çağrı Şahin":        "Çagri Sahin",
		"U\u0308ber":         "Über", // U + combining diaeresis
		"€ – „ok“":           "€ – „ok“",
		"東京":                 "??",
	} {
		if got := fromCP1252(tr(in)); got != want {
			t.Errorf("cp1252(%q) = %q, want %q", in, got, want)
		}
	}
}

// pdfText returns the text shown by the PDF's content streams (the strings
// of its Tj operators), decoded from Windows-1252: enough to check what a
// permit says without a PDF library.
func pdfText(tb testing.TB, pdf []byte) string {
	tb.Helper()
	var out strings.Builder
	streams := regexp.MustCompile(`(?s)<<([^>]*)>>\s*stream\r?\n`)
	for _, m := range streams.FindAllSubmatchIndex(pdf, -1) {
		dict := string(pdf[m[2]:m[3]])
		if strings.Contains(dict, "/Subtype /Image") {
			continue
		}
		end := bytes.Index(pdf[m[1]:], []byte("endstream"))
		if end < 0 {
			tb.Fatal("stream without endstream")
		}
		data := pdf[m[1] : m[1]+end]
		if strings.Contains(dict, "/FlateDecode") {
			r, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				tb.Fatalf("inflate stream: %v", err)
			}
			if data, err = io.ReadAll(r); err != nil {
				tb.Fatalf("inflate stream: %v", err)
			}
		}
		for _, s := range regexp.MustCompile(`\(((?:[^()\\]|\\.)*)\)\s*Tj`).FindAllSubmatch(data, -1) {
			out.WriteString(fromCP1252(unescapePDF(string(s[1]))))
			out.WriteByte('\n')
		}
	}
	return out.String()
}

func unescapePDF(s string) string {
	return strings.NewReplacer(`\(`, "(", `\)`, ")", `\\`, `\`, `\r`, "\r").Replace(s)
}

// fromCP1252 decodes Windows-1252: Latin-1, except for 0x80–0x9F.
func fromCP1252(s string) string {
	high := map[byte]rune{0x80: '€', 0x82: '‚', 0x84: '„', 0x85: '…', 0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x95: '•', 0x96: '–', 0x97: '—'}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if r, ok := high[s[i]]; ok {
			b.WriteRune(r)
		} else {
			b.WriteRune(rune(s[i]))
		}
	}
	return b.String()
}

func BenchmarkRenderPermitPDF(b *testing.B) {
	s := testSigner(b)
	c := sampleClaims()
	d := samplePermit()
	for b.Loop() {
		tok, err := s.Sign(c)
		if err != nil {
			b.Fatal(err)
		}
		d.Token = tok
		d.VerifyURL = "https://rathaus.berlin.example/pruefen/" + tok
		if err := RenderPermitPDF(io.Discard, d); err != nil {
			b.Fatal(err)
		}
	}
}
