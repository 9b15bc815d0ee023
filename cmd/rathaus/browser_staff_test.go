package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
)

// TestBrowserStaffSignIn signs a clerk in to the workbench of rathaus demo
// through its development OpenID provider — with the account and password
// the demo prints — and out again, running axe-core's WCAG 2.1 A/AA rules
// on each page: the provider's sign-in page, it with a wrong password, the
// workbench's start page and the page after sign-out.
func TestBrowserStaffSignIn(t *testing.T) {
	source, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	requireChromium(t)
	s := demoServer(t)
	m := regexp.MustCompile(`Benutzer sachbearbeitung +Passwort (\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("the demo prints no clerk account:\n%s", s.stdout.String())
	}
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))
	axe := func(t *testing.T) {
		t.Helper()
		res := runAxe(t, ctx, string(source))
		if res.Passes < 10 {
			t.Errorf("axe passed only %d rules; did it run?", res.Passes)
		}
		if len(res.Violations) > 0 {
			t.Errorf("%s: %d WCAG 2.1 A/AA violations:%s", location(t, ctx), len(res.Violations), res.report())
		}
	}
	says := func(t *testing.T, want string) {
		t.Helper()
		if text := evalJS[string](t, ctx, `document.querySelector('main').textContent.replace(/\s+/g, ' ')`); !strings.Contains(text, want) {
			t.Errorf("%s does not say %q:\n%s", location(t, ctx), want, text)
		}
	}
	steps := []struct {
		name string
		do   func(t *testing.T) int64
		path string
		code int64
		says string
	}{
		{"sign-in page", func(t *testing.T) int64 { return openPage(t, ctx, s, "/sachbearbeitung") }, "/dev-idp/authorize", 200, "Anmeldung für Beschäftigte"},
		{"wrong password", func(t *testing.T) int64 {
			typeInto(t, ctx, "Benutzername", "sachbearbeitung")
			typeInto(t, ctx, "Passwort", "falsch")
			return follow(t, ctx, "Anmelden")
		}, "/dev-idp/authorize", 401, "Benutzername oder Passwort stimmt nicht"},
		{"start page", func(t *testing.T) int64 {
			typeInto(t, ctx, "Passwort", m[1])
			return follow(t, ctx, "Anmelden")
		}, "/sachbearbeitung", 200, "Angemeldet als Sabine Sachbearbeiterin (Demo) (Sachbearbeitung; Kommune 110000000000)"},
		{"signed out", func(t *testing.T) int64 { return follow(t, ctx, "Abmelden") }, "/sachbearbeitung/abmelden", 200, "Sie sind abgemeldet"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if code := st.do(t); code != st.code || location(t, ctx) != st.path {
				t.Fatalf("%s: status %d, want %d at %s", location(t, ctx), code, st.code, st.path)
			}
			says(t, st.says)
			axe(t)
		})
	}
}

// staffSignIn opens path of the workbench and signs in as the demo's
// account user (password from the demo's output) at the development
// provider; it fails unless the browser ends on path.
func staffSignIn(t *testing.T, ctx context.Context, s *server, user, path string) {
	t.Helper()
	m := regexp.MustCompile(`Benutzer ` + user + ` +Passwort (\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("the demo prints no account %s:\n%s", user, s.stdout.String())
	}
	if code := openPage(t, ctx, s, path); code != 200 || location(t, ctx) != "/dev-idp/authorize" {
		t.Fatalf("%s without session: %d at %s, want the sign-in page", path, code, location(t, ctx))
	}
	typeInto(t, ctx, "Benutzername", user)
	typeInto(t, ctx, "Passwort", m[1])
	if code := follow(t, ctx, "Anmelden"); code != 200 || location(t, ctx) != path {
		t.Fatalf("after sign-in: %d at %s, want %s", code, location(t, ctx), path)
	}
}

// The Teamleitung's report page, under axe; a clerk without the role is
// refused, and the CSV counts the same applications.
func TestBrowserReport(t *testing.T) {
	source, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	requireChromium(t)
	s := demoServer(t)
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))
	staffSignIn(t, ctx, s, "teamleitung", "/sachbearbeitung/bewohnerparken/berichte")
	text := evalJS[string](t, ctx, `document.querySelector('main').textContent.replace(/\s+/g, ' ')`)
	m := regexp.MustCompile(`Anträge insgesamt ?(\d+)`).FindStringSubmatch(text)
	if m == nil || !strings.Contains(text, "Nach Zone") {
		t.Fatalf("report page does not show the counts:\n%s", text)
	}
	res := runAxe(t, ctx, string(source))
	if res.Passes < 10 || len(res.Violations) > 0 {
		t.Errorf("report page: axe passed %d, violations:%s", res.Passes, res.report())
	}
	// The CSV of the same moment sums to the total (no application is
	// added meanwhile by this test; others may add some, so at least).
	csvText := evalJS[string](t, ctx, `fetch('/sachbearbeitung/bewohnerparken/berichte?format=csv').then(r => r.text())`)
	lines := strings.Split(strings.TrimSpace(csvText), "\n")
	total := 0
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		n, _ := strconv.Atoi(f[len(f)-1])
		total += n
	}
	want, _ := strconv.Atoi(m[1])
	if lines[0] != "monat,status,zone,anzahl" || total < want {
		t.Errorf("CSV: header %q, sum %d; want the header and at least %d", lines[0], total, want)
	}

	// A clerk without the role is refused.
	ctx2 := newBrowser(t)
	staffSignIn(t, ctx2, s, "sachbearbeitung", "/sachbearbeitung")
	if code := openPage(t, ctx2, s, "/sachbearbeitung/bewohnerparken/berichte"); code != 403 {
		t.Errorf("report for a clerk: %d, want 403", code)
	}
}

// The Fachadministration checks a new rule file: a valid one with a
// higher fee shows the change, a broken one every error with its path;
// both pages under axe. A clerk is refused.
func TestBrowserRulesCheck(t *testing.T) {
	source, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := os.ReadFile(filepath.Join("..", "..", "internal", "parking", "rules", "municipalities", "110000000000-berlin.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dearer, broken := filepath.Join(dir, "teurer.json"), filepath.Join(dir, "kaputt.json")
	os.WriteFile(dearer, []byte(strings.Replace(string(berlin), `"amount_cents": 2040`, `"amount_cents": 3000`, 1)), 0o600)
	os.WriteFile(broken, []byte(strings.Replace(string(berlin), `"amount_cents": 2040`, `"amount_cents": -5`, 1)), 0o600)

	requireChromium(t)
	s := demoServer(t)
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))
	staffSignIn(t, ctx, s, "fachadministration", "/sachbearbeitung/bewohnerparken/regeln")
	check := func(t *testing.T, file string, status int64, says string) {
		t.Helper()
		browserDo(t, ctx, chromedp.SetUploadFiles(chromedp.ID("datei"), []string{file}))
		button := "Datei prüfen"
		if strings.HasSuffix(file, ".geojson") {
			button = "Zonen prüfen"
		}
		if code := follow(t, ctx, button); code != status {
			t.Fatalf("check %s: %d, want %d", filepath.Base(file), code, status)
		}
		if text := evalJS[string](t, ctx, `document.querySelector('main').textContent.replace(/\s+/g, ' ')`); !strings.Contains(text, says) {
			t.Errorf("check %s does not say %q:\n%s", filepath.Base(file), says, text)
		}
		res := runAxe(t, ctx, string(source))
		if res.Passes < 10 || len(res.Violations) > 0 {
			t.Errorf("rules page: axe passed %d, violations:%s", res.Passes, res.report())
		}
	}
	check(t, dearer, 200, "24 Monate: 30,00 € (bisher: 24 Monate: 20,40 €)")
	check(t, broken, 422, "fees[0].tiers[0].amount_cents")
	if text := evalJS[string](t, ctx, `document.querySelector('main').textContent`); strings.Contains(text, "in Kraft setzen") {
		t.Error("a broken file is offered for activation")
	}
	// Changing the fees in force is previewed but cannot be put in force.
	check(t, dearer, 200, "Diese Fassung lässt sich so nicht in Kraft setzen")
	// A new fee version from 2030 on: previewed on the demo's recent
	// applications and put in force.
	cfg, _, err := rules.Load(bytes.NewReader(berlin))
	if err != nil {
		t.Fatal(err)
	}
	next := cfg.Fees[len(cfg.Fees)-1]
	next.ValidFrom = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	next.Tiers = append([]rules.FeeTier(nil), next.Tiers...)
	for i := range next.Tiers {
		next.Tiers[i].AmountCents += 1000
	}
	cfg.Fees = append(cfg.Fees, next)
	future, _ := cfg.MarshalJSON()
	futureFile := filepath.Join(dir, "ab-2030.json")
	os.WriteFile(futureFile, future, 0o600)
	check(t, futureFile, 200, "Wirkung auf die jüngsten Anträge (Stichtag 01.01.2030)")
	if code := follow(t, ctx, "Diese Fassung in Kraft setzen"); code != 200 {
		t.Fatalf("activate: %d", code)
	}
	if text := evalJS[string](t, ctx, `document.querySelector('main').textContent.replace(/\s+/g, ' ')`); !strings.Contains(text, "Die neue Fassung ist in Kraft gesetzt") ||
		!strings.Contains(text, "Gebühren ab 01.01.2030") {
		t.Errorf("after activation:\n%s", text)
	}

	// New zones: the demo's own, from today — nothing changes.
	zonesFile := filepath.Join(dir, "zonen.geojson")
	os.WriteFile(zonesFile, demo.Zones(), 0o600)
	if code := openPage(t, ctx, s, "/sachbearbeitung/bewohnerparken/zonen"); code != 200 {
		t.Fatalf("zones page: %d", code)
	}
	browserDo(t, ctx, chromedp.SetUploadFiles(chromedp.ID("datei"), []string{zonesFile}))
	browserDo(t, ctx, chromedp.SetValue(chromedp.ID("gueltig_ab"), time.Now().Format("2006-01-02")))
	check(t, zonesFile, 200, "Zonen in der Datei102")
	// The checked file can be imported; a second time it is refused.
	if code := follow(t, ctx, "Diese Zonen übernehmen"); code != 200 {
		t.Fatalf("import zones: %d", code)
	}
	if text := evalJS[string](t, ctx, `document.querySelector('main').textContent`); !strings.Contains(text, "Zonen übernommen: 102 Zonen gelten ab dem") {
		t.Errorf("after the import:\n%s", text)
	}
	axeClean(t, ctx, "zones imported")

	ctx2 := newBrowser(t)
	staffSignIn(t, ctx2, s, "sachbearbeitung", "/sachbearbeitung")
	if code := openPage(t, ctx2, s, "/sachbearbeitung/bewohnerparken/regeln"); code != 403 {
		t.Errorf("rules page for a clerk: %d, want 403", code)
	}
}

// TestBrowserHandOver: the team lead has signed in once (so the staff
// directory knows her); a clerk takes a case and hands it over to her by
// name; the case page then names her as the one who works on it.
func TestBrowserHandOver(t *testing.T) {
	requireChromium(t)
	s := demoServer(t)
	var rec receipt
	seen := 0
	for _, r := range residents(t, s) {
		if r.Expect == "Nebenwohnsitz" && len(r.Plates) > 0 {
			if seen++; seen == 3 { // the first two are TestBrowserClerkAccessibility's
				_, rec = s.submit(t, applicationBody(r), "")
				s.waitStatus(t, rec, "review")
				break
			}
		}
	}
	if rec.Reference == "" {
		t.Fatal("the demo has fewer than three residents with a secondary residence")
	}
	lead := newBrowser(t)
	staffSignIn(t, lead, s, "teamleitung", "/sachbearbeitung/bewohnerparken")
	leadName := strings.TrimSpace(strings.TrimPrefix(regexp.MustCompile(`Angemeldet: ([^.]+)\.`).FindString(
		evalJS[string](t, lead, `document.querySelector('main').textContent`)), "Angemeldet:"))
	leadName = strings.TrimSuffix(leadName, ".")
	if leadName == "" {
		t.Fatal("the queue does not name the signed-in lead")
	}

	clerk := newBrowser(t)
	browserDo(t, clerk, chromedp.EmulateViewport(1280, 900))
	staffSignIn(t, clerk, s, "sachbearbeitung", "/sachbearbeitung/bewohnerparken")
	if code := openPage(t, clerk, s, "/sachbearbeitung/bewohnerparken/"+rec.Reference); code != 200 {
		t.Fatalf("case page: %d", code)
	}
	if code := follow(t, clerk, "Übernehmen"); code != 200 {
		t.Fatalf("take: %d", code)
	}
	// Without a choice: the field says so.
	if code := follow(t, clerk, "Übergeben"); code != 422 || !strings.Contains(strings.Join(fieldErrorTexts(t, clerk), " "), "Bitte wählen Sie") {
		t.Fatalf("hand over without a colleague: %d %q", code, fieldErrorTexts(t, clerk))
	}
	axeClean(t, clerk, "hand-over without a choice")
	options := evalJS[[]string](t, clerk, `[...document.querySelectorAll('#uebergabe_an option')].map(o => o.textContent.trim())`)
	if !slices.Contains(options, leadName) {
		t.Fatalf("colleagues offered: %q, want %q", options, leadName)
	}
	value := evalJS[string](t, clerk, `[...document.querySelectorAll('#uebergabe_an option')].find(o => o.textContent.trim() === `+jsString(leadName)+`).value`)
	browserDo(t, clerk, chromedp.SetValue(chromedp.ID("uebergabe_an"), value))
	if code := follow(t, clerk, "Übergeben"); code != 200 {
		t.Fatalf("hand over: %d", code)
	}
	if text := evalJS[string](t, clerk, `document.querySelector('main').textContent.replace(/\s+/g, ' ')`); !strings.Contains(text, "Diesen Antrag bearbeitet "+leadName) {
		t.Errorf("after the hand-over the case page does not name %s:\n%s", leadName, text)
	}
}
