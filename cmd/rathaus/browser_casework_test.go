package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserCaseWorkEndToEnd: a citizen with a blocked register entry
// applies in one browser; the case goes to review; a clerk signs in at the
// workbench in another, takes the case and asks for a document; the
// citizen sees the task and uploads it; the clerk opens it in the
// workbench and approves the case; the citizen pays with the test
// provider and downloads the permit.
func TestBrowserCaseWorkEndToEnd(t *testing.T) {
	requireChromium(t)
	s := demoServer(t)
	var r demoResident
	seen := 0
	for _, x := range residents(t, s) {
		if strings.HasPrefix(x.Expect, "Auskunftssperre") && len(x.Plates) > 0 {
			if seen++; seen == 2 { // the first is TestBrowserClerkAccessibility's
				r = x
				break
			}
		}
	}
	if r.FamilyName == "" {
		t.Fatal("the demo has fewer than two residents with a blocked register entry")
	}
	citizen := newBrowser(t)
	browserDo(t, citizen, chromedp.EmulateViewport(1280, 900))
	applyFor(t, citizen, s, r)
	if status := follow(t, citizen, "Antrag absenden"); status != 200 {
		t.Fatalf("Antrag absenden: %d, errors %q", status, fieldErrorTexts(t, citizen))
	}
	ref := descriptions(t, citizen)["Aktenzeichen"]
	if !referencePattern.MatchString(ref) {
		t.Fatalf("receipt without Aktenzeichen: %v", descriptions(t, citizen))
	}
	if status := follow(t, citizen, "Zum Stand des Antrags"); status != 200 {
		t.Fatalf("status page: %d", status)
	}
	reloadUntil(t, citizen, "review", func() bool { return applicationStatus(t, citizen) == "Wird von der Sachbearbeitung geprüft" })

	clerk := newBrowser(t)
	browserDo(t, clerk, chromedp.EmulateViewport(1280, 900))
	staffSignIn(t, clerk, s, "sachbearbeitung", "/sachbearbeitung/bewohnerparken")
	if code := openPage(t, clerk, s, "/sachbearbeitung/bewohnerparken/"+ref); code != 200 {
		t.Fatalf("case page: %d", code)
	}
	// The registers were asked over the Amtsnetz; the case page says so.
	if text := evalJS[string](t, clerk, `document.querySelector('main').textContent`); !strings.Contains(text, "Nachrichten über das Amtsnetz") ||
		!strings.Contains(text, "wohnsitz-pruefen") || !strings.Contains(text, "Antwort erhalten (HTTP 200)") {
		t.Errorf("the case page does not show the case's Amtsnetz messages")
	}
	if code := openPage(t, citizen, s, "/demo/amtsnetz?az="+ref); code != 200 {
		t.Errorf("/demo/amtsnetz: %d", code)
	}
	axeClean(t, citizen, "the demo's Amtsnetz messages of a case")
	if code := openPage(t, citizen, s, "/bewohnerparken/status/"+ref); code != 200 {
		t.Fatalf("back to the status page: %d", code)
	}
	if code := follow(t, clerk, "Übernehmen"); code != 200 || !strings.Contains(evalJS[string](t, clerk, `document.querySelector('main').textContent`), "Sie bearbeiten diesen Antrag") {
		t.Fatalf("take the case: %d", code)
	}
	// The request for a document.
	clickOn(t, clerk, `[...document.querySelectorAll('main summary')].find(e => e.textContent.trim() === 'Unterlagen nachfordern')`)
	browserDo(t, clerk, chromedp.SetValue(chromedp.ID("nachforderung_art"), "meldebescheinigung"))
	typeInto(t, clerk, "Nachricht an die antragstellende Person", "Bitte reichen Sie eine aktuelle Meldebescheinigung ein.")
	typeInto(t, clerk, "Frist in Tagen", "14")
	if code := follow(t, clerk, "Unterlagen nachfordern"); code != 200 ||
		!strings.Contains(evalJS[string](t, clerk, `document.querySelector('main').textContent`), "Unterlagen nachgefordert") {
		t.Fatalf("request a document: %d at %s", code, location(t, clerk))
	}
	reloadUntil(t, citizen, "the task", func() bool {
		return strings.Contains(evalJS[string](t, citizen, `document.querySelector('main').textContent`), "Ihre Aufgabe: Unterlagen nachreichen")
	})
	axeClean(t, citizen, "status page with the task")
	// A file that is not what its name says is refused next to the field.
	fake := filepath.Join(t.TempDir(), "scan.pdf")
	if err := os.WriteFile(fake, []byte("kein PDF"), 0o600); err != nil {
		t.Fatal(err)
	}
	browserDo(t, citizen, chromedp.SetUploadFiles(chromedp.ID("dokumente"), []string{fake}))
	if code := follow(t, citizen, "Antwort senden"); code != 422 || !strings.Contains(strings.Join(fieldErrorTexts(t, citizen), " "), "weder PDF noch JPEG noch PNG") {
		t.Fatalf("fake PDF: %d, errors %q", code, fieldErrorTexts(t, citizen))
	}
	axeClean(t, citizen, "status page with a refused file")
	file := filepath.Join(t.TempDir(), "meldebescheinigung.pdf")
	if err := os.WriteFile(file, []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	browserDo(t, citizen, chromedp.SetUploadFiles(chromedp.ID("dokumente"), []string{file}))
	typeInto(t, citizen, "Nachricht an die Sachbearbeitung (optional)", "Anbei die Bescheinigung.")
	if code := follow(t, citizen, "Antwort senden"); code != 200 ||
		!strings.Contains(evalJS[string](t, citizen, `document.querySelector('main').textContent`), "Ihre Angaben sind eingegangen") {
		t.Fatalf("upload: %d, errors %q", code, fieldErrorTexts(t, citizen))
	}
	if code := reload(t, clerk); code != 200 {
		t.Fatalf("case page after the answer: %d", code)
	}
	if code := follow(t, clerk, "Meldebescheinigung"); code != 200 {
		t.Fatalf("open the document: %d", code)
	}
	type fetched struct {
		Status      int
		Type, Start string
	}
	doc := evalJS[fetched](t, clerk, `(async () => {
		const res = await fetch(document.querySelector('main iframe').src);
		const b = new Uint8Array(await res.arrayBuffer());
		return {status: res.status, type: res.headers.get('Content-Type') || '', start: String.fromCharCode(...b.slice(0, 5))};
	})()`)
	if doc.Status != 200 || doc.Type != "application/pdf" || doc.Start != "%PDF-" {
		t.Errorf("the document in the workbench: %+v", doc)
	}
	axeClean(t, clerk, "document viewer")
	if code := follow(t, clerk, "Zurück zum Antrag "+ref); code != 200 {
		t.Fatalf("back to the case: %d", code)
	}
	if code := follow(t, clerk, "Antrag bewilligen"); code != 200 ||
		!strings.Contains(evalJS[string](t, clerk, `document.querySelector('main').textContent`), "Entscheidung gespeichert: Antrag "+ref) {
		t.Fatalf("approve: %d at %s", code, location(t, clerk))
	}

	reloadUntil(t, citizen, `"Bewilligt – Gebühr offen" and "Jetzt bezahlen"`, func() bool {
		return applicationStatus(t, citizen) == "Bewilligt – Gebühr offen" && evalJS[int](t, citizen, jsControl("Jetzt bezahlen")+`.length`) == 1
	})
	if status := follow(t, citizen, "Jetzt bezahlen"); status != 200 {
		t.Fatalf("Jetzt bezahlen: %d", status)
	}
	if status := follow(t, citizen, "Bezahlen (Test)"); status != 200 {
		t.Fatalf("Bezahlen (Test): %d", status)
	}
	reloadUntil(t, citizen, `"Ausgestellt" and the PDF`, func() bool {
		return applicationStatus(t, citizen) == "Ausgestellt" && evalJS[int](t, citizen, jsControl("Ausweis herunterladen (PDF)")+`.length`) == 1
	})
	if d := descriptions(t, citizen); d["Kennzeichen"] != r.Plates[0] {
		t.Errorf("permit: %v, want plate %s", d, r.Plates[0])
	}
	pdf := evalJS[fetched](t, citizen, `(async () => {
		const res = await fetch(`+jsControl("Ausweis herunterladen (PDF)")+`[0].href);
		const b = new Uint8Array(await res.arrayBuffer());
		return {status: res.status, type: res.headers.get('Content-Type') || '', start: String.fromCharCode(...b.slice(0, 5))};
	})()`)
	if pdf.Status != 200 || pdf.Type != "application/pdf" || pdf.Start != "%PDF-" {
		t.Errorf("permit download: %+v", pdf)
	}
}

// axeClean runs axe-core's WCAG 2.1 A/AA rules on the page the browser
// shows and fails the test on any violation.
func axeClean(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	source, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	res := runAxe(t, ctx, string(source))
	if res.Passes < 10 {
		t.Errorf("%s: axe passed only %d rules; did it run?", what, res.Passes)
	}
	if len(res.Violations) > 0 {
		t.Errorf("%s: %d WCAG 2.1 A/AA violations:%s", what, len(res.Violations), res.report())
	}
}
