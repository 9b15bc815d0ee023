package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserCaseWorkEndToEnd: a citizen with a blocked register entry
// applies in one browser; the case goes to review; a clerk signs in at the
// workbench in another, takes the case and approves it; the citizen pays
// with the test provider and gets the permit.
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
	if code := follow(t, clerk, "Übernehmen"); code != 200 || !strings.Contains(evalJS[string](t, clerk, `document.querySelector('main').textContent`), "Sie bearbeiten diesen Antrag") {
		t.Fatalf("take the case: %d", code)
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
}
