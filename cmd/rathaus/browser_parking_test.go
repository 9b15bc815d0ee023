package main

// Real-browser tests of the citizen pages of the Bewohnerparkausweis: a
// headless Chromium, driven with chromedp like the tests of /zonen in
// browser_test.go (same browser, flags, timeouts and skip/CI rules), goes the
// citizen's way from the start page to the downloaded permit, makes the
// mistakes people make (an empty form, a double click on "Antrag absenden"),
// and runs axe-core's WCAG 2.1 A/AA rules on every page of the way and on the
// legal pages.
//
// Each test applies for a demo resident of its own (parkingResident): the
// rules allow one permit per person, so two tests applying for the same
// person would decide each other's outcome.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Demo residents of the browser tests: the n-th resident whom the demo
// expects to be granted a permit, not counting the first, whom
// TestParkingOverHTTP applies for.
const (
	residentCitizenWay    = 1
	residentDoubleSubmit  = 2
	residentAccessibility = 3
	residentKeyboard      = 4
)

func parkingResident(t *testing.T, s *server, n int) demoResident {
	t.Helper()
	seen := 0
	for i, r := range residents(t, s) {
		if i == 0 || r.Expect != "berechtigt" || len(r.Plates) == 0 {
			continue
		}
		if seen++; seen == n {
			return r
		}
	}
	t.Fatalf("the demo has no %d. resident who is expected to get a permit", n)
	return demoResident{}
}

// jsText is the JavaScript function that reads an element's text as a person
// reads it: whitespace collapsed.
const jsText = `const text = e => e ? e.textContent.replace(/\s+/g, ' ').trim() : '';`

// controlByLabel returns the id of the form control whose <label> reads
// label (or starts with it, for long labels), found as a person finds it.
func controlByLabel(t *testing.T, ctx context.Context, label string, prefix bool) string {
	t.Helper()
	ids := evalJS[[]string](t, ctx, `(() => {`+jsText+`
		const want = `+jsString(label)+`, prefix = `+fmt.Sprint(prefix)+`;
		return [...document.querySelectorAll('main label')]
			.filter(l => prefix ? text(l).startsWith(want) : text(l) === want)
			.map(l => l.control ? l.control.id : '');
	})()`)
	if len(ids) != 1 || ids[0] == "" {
		t.Fatalf("want one form control labelled %q, found %q", label, ids)
	}
	return ids[0]
}

// typeInto types value into the text field labelled label.
func typeInto(t *testing.T, ctx context.Context, label, value string) {
	t.Helper()
	id := controlByLabel(t, ctx, label, false)
	// Emptied by script: chromedp.Clear fails on an empty <textarea>.
	evalJS[chromedp.Void](t, ctx, `document.getElementById(`+jsString(id)+`).value = ''`)
	browserDo(t, ctx, chromedp.SendKeys(chromedp.ID(id), value))
	if got := evalJS[string](t, ctx, `document.getElementById(`+jsString(id)+`).value`); got != value {
		t.Fatalf("typed %q into %q, the field holds %q", value, label, got)
	}
}

// choose clicks the label of a radio button or checkbox (the label starts
// with label) and checks that this checked it.
func choose(t *testing.T, ctx context.Context, label string) {
	t.Helper()
	id := controlByLabel(t, ctx, label, true)
	// The click goes to the label's coordinates; on a loaded machine the
	// layout can still shift (web fonts arriving) between measuring and
	// clicking, so a missed click is repeated a few times before failing.
	checked := false
	for attempt := 0; attempt < 4 && !checked; attempt++ {
		if attempt > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		clickOn(t, ctx, `document.querySelector('label[for="`+id+`"]')`)
		checked = evalJS[bool](t, ctx, `document.getElementById(`+jsString(id)+`).checked`)
	}
	if !checked {
		t.Fatalf("clicked on %q, but #%s is not checked", label, id)
	}
}

// jsControl is a JavaScript expression for the links and buttons in main
// whose text is name.
func jsControl(name string) string {
	return `[...document.querySelectorAll('main a, main button')].filter(e => e.textContent.replace(/\s+/g, ' ').trim() === ` + jsString(name) + `)`
}

// follow clicks the one link or button named name, waits for the page it
// loads and returns its HTTP status.
func follow(t *testing.T, ctx context.Context, name string) int64 {
	t.Helper()
	if n := evalJS[int](t, ctx, jsControl(name)+`.length`); n != 1 {
		t.Fatalf("want one link or button %q on %s, found %d", name, location(t, ctx), n)
	}
	return loadPage(t, ctx, clickAction(t, ctx, jsControl(name)+`[0]`))
}

// clickAction scrolls the element that the JavaScript expression el gives
// into view and returns the action that clicks it with the mouse. The
// scrolling is instant: KERN scrolls smoothly, and a click computed from
// the element's place during the animation would miss it.
func clickAction(t *testing.T, ctx context.Context, el string) chromedp.Action[chromedp.Void] {
	t.Helper()
	evalJS[chromedp.Void](t, ctx, `(`+el+`).scrollIntoView({block: 'center', behavior: 'instant'})`)
	return chromedp.Click(chromedp.JSPath(el))
}

func clickOn(t *testing.T, ctx context.Context, el string) {
	t.Helper()
	browserDo(t, ctx, clickAction(t, ctx, el))
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evalJS[string](t, ctx, `location.pathname`)
}

// reload reloads the page and returns its HTTP status.
func reload(t *testing.T, ctx context.Context) int64 {
	t.Helper()
	return loadPage(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.Reload, page.ReloadParams{})
		return err
	}))
}

// descriptions returns the terms and descriptions of the description lists
// in main (the summary, the receipt, the permit).
func descriptions(t *testing.T, ctx context.Context) map[string]string {
	t.Helper()
	return evalJS[map[string]string](t, ctx, `(() => {`+jsText+`
		const m = {};
		document.querySelectorAll('main dl dt').forEach(dt => { m[text(dt)] = text(dt.nextElementSibling); });
		return m;
	})()`)
}

func headings(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evalJS[string](t, ctx, `[...document.querySelectorAll('h1')].map(h => h.textContent.replace(/\s+/g, ' ').trim()).join('|')`)
}

// applicationStatus is the status the status page names ("" if none).
func applicationStatus(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evalJS[string](t, ctx, `(() => {`+jsText+`
		const p = [...document.querySelectorAll('main p')].find(p => text(p).startsWith('Status:'));
		return p ? text(p.querySelector('strong')) : '';
	})()`)
}

// reloadUntil reloads the page until ok says it shows what the test waits
// for, at most 30 s.
func reloadUntil(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s of reloading %s still does not show %s; status %q", location(t, ctx), what, applicationStatus(t, ctx))
		}
		time.Sleep(200 * time.Millisecond)
		if status := reload(t, ctx); status != 200 {
			t.Fatalf("reload %s: status %d", location(t, ctx), status)
		}
	}
}

// fillApplication fills the form for resident r the way a person does:
// typing into the labelled fields, clicking the labels of the choices. The
// address is typed with "Str." and the plate in lower case without the
// hyphen, so the summary has something to normalise.
func fillApplication(t *testing.T, ctx context.Context, r demoResident) {
	t.Helper()
	typeInto(t, ctx, "Vorname(n)", r.GivenNames)
	typeInto(t, ctx, "Familienname", r.FamilyName)
	typeInto(t, ctx, "Geburtsdatum", r.BirthDate)
	typeInto(t, ctx, "Straße und Hausnummer Ihrer Wohnung", strings.NewReplacer("Straße ", "Str. ", "straße ", "str. ").Replace(r.Address))
	typeInto(t, ctx, "E-Mail-Adresse", "test@example.org")
	typeInto(t, ctx, "Kennzeichen", strings.ToLower(strings.Replace(r.Plates[0], "-", " ", 1)))
	choose(t, ctx, "Ich bin Halterin oder Halter")
	durations := evalJS[[]string](t, ctx, `[...document.querySelectorAll('main input[type="radio"][name="duration_months"]')].map(i => i.labels[0].textContent.trim() + (i.checked ? ' (gewählt)' : ''))`)
	if len(durations) != 1 {
		t.Fatalf("durations offered: %q, want one", durations)
	}
	if !strings.HasSuffix(durations[0], "(gewählt)") {
		choose(t, ctx, durations[0])
	}
	// Asked only where the rules require it.
	if evalJS[bool](t, ctx, `!!document.getElementById('no_own_space')`) {
		choose(t, ctx, "Ich habe keinen eigenen Stellplatz")
	}
	choose(t, ctx, "Meine Angaben sind richtig")
}

// applyFor opens the empty form, fills it for r and goes on to the summary.
func applyFor(t *testing.T, ctx context.Context, s *server, r demoResident) {
	t.Helper()
	if status := openPage(t, ctx, s, "/bewohnerparken/antrag"); status != 200 {
		t.Fatalf("GET /bewohnerparken/antrag: status %d", status)
	}
	fillApplication(t, ctx, r)
	if status := follow(t, ctx, "Weiter zur Zusammenfassung"); status != 200 {
		t.Fatalf("Weiter zur Zusammenfassung: status %d, errors %q", status, fieldErrorTexts(t, ctx))
	}
}

func fieldErrorTexts(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return evalJS[[]string](t, ctx, `[...document.querySelectorAll('main .kern-error')].map(e => e.textContent.replace(/\s+/g, ' ').trim())`)
}

var referencePattern = regexp.MustCompile(`^BP-\d{4}-[0-9A-Z]{8}$`)

// TestBrowserCitizenApplies walks the citizen's way on a phone-sized screen:
// the demo's list of persons, the start page, the form, the summary, the
// receipt, the status page until the decision, the test payment, and the
// permit as a PDF.
func TestBrowserCitizenApplies(t *testing.T) {
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	r := parkingResident(t, s, residentCitizenWay)
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	shots := map[string][]byte{}
	shot := func(name string) { shots[name] = browserRun(t, ctx, chromedp.FullScreenshot(90)) }

	// The tester looks for a person to try; the table is wider than a phone.
	if status := openPage(t, ctx, s, "/demo"); status != 200 {
		t.Fatalf("GET /demo: status %d", status)
	}
	checkNoHorizontalOverflow(t, ctx, 375, "/demo")
	checkTableScrollsAlone(t, ctx)
	if !evalJS[bool](t, ctx, `document.querySelector('main').textContent.includes(`+jsString(r.FamilyName)+`)`) {
		t.Errorf("/demo does not list %s %s", r.GivenNames, r.FamilyName)
	}

	if status := openPage(t, ctx, s, "/bewohnerparken"); status != 200 {
		t.Fatalf("GET /bewohnerparken: status %d", status)
	}
	if h1 := headings(t, ctx); h1 != "Bewohnerparkausweis beantragen" {
		t.Errorf("start page: h1 %q", h1)
	}
	fees := evalJS[[]string](t, ctx, `[...document.querySelectorAll('main table tbody td.kern-table__cell--numeric')].map(e => e.textContent.trim())`)
	if !slices.Contains(fees, "20,40 €") {
		t.Errorf("fee table shows %q, want 20,40 €", fees)
	}
	checkNoHorizontalOverflow(t, ctx, 375, "start page")

	if status := follow(t, ctx, "Antrag starten"); status != 200 || location(t, ctx) != "/bewohnerparken/antrag" {
		t.Fatalf("Antrag starten: status %d at %s", status, location(t, ctx))
	}
	if h1 := headings(t, ctx); h1 != "Antrag auf einen Bewohnerparkausweis" {
		t.Errorf("form: h1 %q", h1)
	}
	checkNoHorizontalOverflow(t, ctx, 375, "empty form")
	fillApplication(t, ctx, r)
	checkNoHorizontalOverflow(t, ctx, 375, "filled form")
	shot("antrag-375.png")

	if status := follow(t, ctx, "Weiter zur Zusammenfassung"); status != 200 {
		t.Fatalf("Weiter zur Zusammenfassung: status %d, errors %q", status, fieldErrorTexts(t, ctx))
	}
	if h1 := headings(t, ctx); h1 != "Bitte prüfen Sie Ihre Angaben" {
		t.Errorf("summary: h1 %q", h1)
	}
	sum := descriptions(t, ctx)
	want := map[string]string{
		"Name": r.GivenNames + " " + r.FamilyName, "Geburtsdatum": r.BirthDate,
		"Wohnung": r.Address, "Kennzeichen": r.Plates[0], "Laufzeit": "24 Monate",
		"Fahrzeug": "Ich bin Halterin oder Halter des Fahrzeugs", "E-Mail": "test@example.org",
	}
	for k, v := range want {
		if sum[k] != v {
			t.Errorf("summary: %s = %q, want %q", k, sum[k], v)
		}
	}
	checkNoHorizontalOverflow(t, ctx, 375, "summary")
	shot("zusammenfassung-375.png")

	if status := follow(t, ctx, "Antrag absenden"); status != 200 {
		t.Fatalf("Antrag absenden: status %d, errors %q", status, fieldErrorTexts(t, ctx))
	}
	rec := descriptions(t, ctx)
	ref, code := rec["Aktenzeichen"], rec["Zugangscode"]
	if !referencePattern.MatchString(ref) || len(code) != 10 {
		t.Fatalf("receipt: Aktenzeichen %q, Zugangscode %q", ref, code)
	}
	t.Logf("Aktenzeichen %s", ref)
	checkNoHorizontalOverflow(t, ctx, 375, "receipt")

	if status := follow(t, ctx, "Zum Stand des Antrags"); status != 200 || location(t, ctx) != "/bewohnerparken/status/"+ref {
		t.Fatalf("Zum Stand des Antrags: status %d at %s", status, location(t, ctx))
	}
	reloadUntil(t, ctx, `"Bewilligt – Gebühr offen" and "Jetzt bezahlen"`, func() bool {
		return applicationStatus(t, ctx) == "Bewilligt – Gebühr offen" && evalJS[int](t, ctx, jsControl("Jetzt bezahlen")+`.length`) == 1
	})
	if steps := evalJS[int](t, ctx, `document.querySelectorAll('main ol li').length`); steps != 5 {
		t.Errorf("status page shows %d steps, want 5", steps)
	}
	if current := evalJS[string](t, ctx, `(() => { const e = document.querySelector('main ol [aria-current="step"]'); return e ? e.textContent.trim() : ''; })()`); !strings.HasPrefix(current, "Gebühr bezahlt") {
		t.Errorf("current step %q, want Gebühr bezahlt", current)
	}
	checkNoHorizontalOverflow(t, ctx, 375, "status page")
	shot("status-bewilligt-375.png")

	if status := follow(t, ctx, "Jetzt bezahlen"); status != 200 || !strings.HasPrefix(location(t, ctx), "/testzahlung/") {
		t.Fatalf("Jetzt bezahlen: status %d at %s", status, location(t, ctx))
	}
	if got := descriptions(t, ctx)["Betrag"]; got != "20,40 €" {
		t.Errorf("test provider: Betrag %q, want 20,40 €", got)
	}
	checkNoHorizontalOverflow(t, ctx, 375, "test provider")
	if status := follow(t, ctx, "Bezahlen (Test)"); status != 200 || location(t, ctx) != "/bewohnerparken/status/"+ref {
		t.Fatalf("Bezahlen (Test): status %d at %s", status, location(t, ctx))
	}
	const pdfLink = "Ausweis herunterladen (PDF)"
	reloadUntil(t, ctx, `"Ausgestellt" and the PDF`, func() bool {
		return applicationStatus(t, ctx) == "Ausgestellt" && evalJS[int](t, ctx, jsControl(pdfLink)+`.length`) == 1
	})
	permit := descriptions(t, ctx)
	if permit["Kennzeichen"] != r.Plates[0] || permit["Ausweisnummer"] == "" {
		t.Errorf("permit shown: %v, want plate %s and a number", permit, r.Plates[0])
	}
	checkNoHorizontalOverflow(t, ctx, 375, "status page with permit")
	shot("status-ausgestellt-375.png")

	// The download, in this browser session (the access cookie is HttpOnly).
	type download struct {
		Status                   int
		Type, Start, Disposition string
		Size                     int
	}
	pdf := evalJS[download](t, ctx, `(async () => {
		const a = `+jsControl(pdfLink)+`[0];
		const res = await fetch(a.href);
		const b = new Uint8Array(await res.arrayBuffer());
		return {status: res.status, type: res.headers.get('Content-Type') || '', disposition: res.headers.get('Content-Disposition') || '',
			start: String.fromCharCode(...b.slice(0, 5)), size: b.length};
	})()`)
	if pdf.Status != 200 || pdf.Type != "application/pdf" || pdf.Start != "%PDF-" || pdf.Size < 1000 {
		t.Errorf("PDF download: status %d, Content-Type %q, starts %q, %d bytes; want 200, application/pdf, %%PDF-", pdf.Status, pdf.Type, pdf.Start, pdf.Size)
	}
	if !strings.Contains(pdf.Disposition, "attachment") || !strings.Contains(pdf.Disposition, ref) {
		t.Errorf("PDF download: Content-Disposition %q, want an attachment named after %s", pdf.Disposition, ref)
	}

	// For a person to look at: go test -run Browser -artifacts -outputdir DIR
	dir := t.ArtifactDir()
	for name, png := range shots {
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTableScrollsAlone: the /demo table, wider than a phone, scrolls in
// its container, not the page; the keyboard reaches the container with Tab,
// shows it focused and scrolls it with the arrow keys.
func checkTableScrollsAlone(t *testing.T, ctx context.Context) {
	t.Helper()
	type region struct {
		Found                bool
		Scroll, Client       int
		Overflow             string
		Role, Name, TabIndex string
	}
	const container = `document.querySelector('main .kern-table-responsive')`
	rg := evalJS[region](t, ctx, `(() => {
		const c = `+container+`;
		if (!c) return {found: false};
		const label = document.getElementById(c.getAttribute('aria-labelledby'));
		return {found: true, scroll: c.scrollWidth, client: c.clientWidth, overflow: getComputedStyle(c).overflowX,
			role: c.getAttribute('role') || '', name: label ? label.textContent.trim() : '', tabIndex: String(c.tabIndex)};
	})()`)
	switch {
	case !rg.Found:
		t.Errorf("/demo: no .kern-table-responsive around the table")
		return
	case rg.Scroll <= rg.Client:
		t.Logf("/demo: the table fits the screen (%d px); nothing to scroll", rg.Scroll)
		return
	case rg.Overflow != "auto" && rg.Overflow != "scroll":
		t.Errorf("/demo: the table is %d px wide in a %d px container with overflow-x %q, want it to scroll", rg.Scroll, rg.Client, rg.Overflow)
		return
	case rg.TabIndex != "0" || rg.Role != "region" || rg.Name == "":
		t.Errorf("/demo: the scrolling container has tabindex %s, role %q, name %q; want a focusable, named region, so the keyboard can scroll it", rg.TabIndex, rg.Role, rg.Name)
		return
	}

	// With the keyboard. A headless page has no focus of its own: emulate it,
	// so that :focus applies.
	browserRun(t, ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
	})
	focused := false
	for range 10 {
		browserDo(t, ctx, chromedp.KeyEvent(kb.Tab))
		if focused = evalJS[bool](t, ctx, container+` === document.activeElement`); focused {
			break
		}
	}
	if !focused {
		t.Errorf("/demo: 10 presses of Tab do not reach the table's scrolling container")
		return
	}
	if outline := evalJS[string](t, ctx, `(() => { const s = getComputedStyle(`+container+`); return s.outlineStyle + ' ' + s.outlineWidth; })()`); strings.HasPrefix(outline, "none") || strings.HasSuffix(outline, " 0px") {
		t.Errorf("/demo: the table's scrolling container has the keyboard focus but shows no outline (%s)", outline)
	}
	browserDo(t, ctx, chromedp.KeyEvent(kb.ArrowRight))
	deadline := time.Now().Add(2 * time.Second)
	for evalJS[float64](t, ctx, container+`.scrollLeft`) == 0 {
		if time.Now().After(deadline) {
			t.Errorf("/demo: the arrow key does not scroll the table")
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkNoHorizontalOverflow(t, ctx, 375, "/demo, table scrolled")
}

// formField is what the browser says about one control of the form and the
// error shown with it.
type formField struct {
	ID, Value   string
	Invalid     string // aria-invalid
	DescribedBy []string
	// Errors are the texts of the error messages that aria-describedby
	// names, of the control or of its fieldset.
	Errors []string
	// Visible: each of them is shown.
	Visible bool
}

func formFields(t *testing.T, ctx context.Context) map[string]formField {
	t.Helper()
	return evalJS[map[string]formField](t, ctx, `(() => {`+jsText+`
		const ids = e => (e && e.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
		const m = {};
		document.querySelectorAll('main form input:not([type="hidden"])').forEach(i => {
			const fs = i.closest('fieldset');
			const described = [...ids(i), ...(i.type === 'radio' ? ids(fs) : [])];
			const errs = described.map(id => document.getElementById(id)).filter(e => e && e.classList.contains('kern-error'));
			const f = m[i.name] || {id: i.id, value: '', invalid: i.getAttribute('aria-invalid') || (i.type === 'radio' && fs ? fs.getAttribute('aria-invalid') || '' : ''),
				describedBy: described, errors: errs.map(text),
				visible: errs.length > 0 && errs.every(e => e.checkVisibility() && e.getBoundingClientRect().height > 0)};
			if ((i.type !== 'radio' && i.type !== 'checkbox') || i.checked) f.value = i.type === 'checkbox' ? 'checked' : i.value;
			m[i.name] = f;
		});
		return m;
	})()`)
}

// axInfo is what Chromium's accessibility tree – what a screen reader
// gets – says about an element.
type axInfo struct {
	Role, Name, Description, Invalid string
}

// axNode reads the node of the element that the JavaScript expression el
// gives.
func axNode(t *testing.T, ctx context.Context, el string) axInfo {
	t.Helper()
	nodes := browserRun(t, ctx, chromedp.Nodes(chromedp.JSPath(el)))
	ax := browserRun(t, ctx, func(ctx context.Context, tg *chromedp.Target) (accessibility.GetPartialAXTreeResult, error) {
		return cdp.Call(ctx, tg, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{
			BackendNodeID: nodes[0].BackendNodeID, FetchRelatives: new(false)})
	})
	if len(ax.Nodes) == 0 {
		t.Fatalf("%s has no node in the accessibility tree", el)
	}
	n := ax.Nodes[0]
	info := axInfo{Role: axString(n.Role), Name: axString(n.Name), Description: axString(n.Description)}
	for _, p := range n.Properties {
		if p.Name == accessibility.PropertyNameInvalid {
			info.Invalid = axString(p.Value)
		}
	}
	return info
}

// TestBrowserApplicationFieldErrors: an empty form is refused with a message
// at every required field, tied to the field for screen readers, and what
// was typed stays.
func TestBrowserApplicationFieldErrors(t *testing.T) {
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	ctx := newBrowser(t)
	if status := openPage(t, ctx, s, "/bewohnerparken/antrag"); status != 200 {
		t.Fatalf("GET /bewohnerparken/antrag: status %d", status)
	}
	if status := follow(t, ctx, "Weiter zur Zusammenfassung"); status != 422 {
		t.Fatalf("empty form: status %d, want 422", status)
	}
	if alert := evalJS[string](t, ctx, `(() => { const a = document.querySelector('main [role="alert"].kern-alert'); return a ? a.textContent.replace(/\s+/g, ' ').trim() : ''; })()`); !strings.Contains(alert, "Bitte korrigieren Sie") {
		t.Errorf("empty form: no summary alert above the form, got %q", alert)
	}
	fields := formFields(t, ctx)
	// Everything but the duration: the only one offered comes chosen.
	required := []string{"given_names", "family_name", "birth_date", "address", "email", "plate", "relation", "truthful"}
	if _, ok := fields["no_own_space"]; ok {
		required = append(required, "no_own_space")
	}
	if f := fields["duration_months"]; f.Value != "24" || f.Invalid != "" || len(f.Errors) != 0 {
		t.Errorf("empty form: duration %+v, want the only one (24) chosen and no error", f)
	}
	for _, name := range required {
		f, ok := fields[name]
		switch {
		case !ok:
			t.Errorf("empty form: no field %s", name)
		case f.Invalid != "true":
			t.Errorf("empty form: %s has aria-invalid %q, want true", name, f.Invalid)
		case len(f.Errors) != 1 || f.Errors[0] == "":
			t.Errorf("empty form: %s (aria-describedby %q) is described by %d error messages %q, want 1", name, f.DescribedBy, len(f.Errors), f.Errors)
		case !f.Visible:
			t.Errorf("empty form: the error of %s, %q, is not visible", name, f.Errors[0])
		}
	}
	if n := len(fieldErrorTexts(t, ctx)); n != len(required) {
		t.Errorf("empty form shows %d error messages %q, want one for each of the %d fields", n, fieldErrorTexts(t, ctx), len(required))
	}

	// As a screen reader gets it: each control, or the group of the
	// radio buttons, is named by its label or legend, described by its
	// error and invalid.
	for _, c := range []struct{ field, name string }{
		{"given_names", "Vorname(n)"},
		{"relation", "Wie steht Ihnen das Fahrzeug zur Verfügung?"},
		{"truthful", "Meine Angaben sind richtig und vollständig."},
	} {
		el := `document.getElementById('` + c.field + `')`
		if c.field == "relation" {
			el = `document.querySelector('input[name="relation"]').closest('fieldset')`
		}
		ax := axNode(t, ctx, el)
		if errs := fields[c.field].Errors; ax.Name != c.name || ax.Invalid != "true" || len(errs) != 1 || !strings.Contains(ax.Description, errs[0]) {
			t.Errorf("empty form: %s in the accessibility tree: %+v; want the name %q, invalid, described by %q", c.field, ax, c.name, errs)
		}
	}

	// One name typed, the rest left empty: the name stays, its error goes.
	typeInto(t, ctx, "Vorname(n)", "Käthe Marie")
	if status := follow(t, ctx, "Weiter zur Zusammenfassung"); status != 422 {
		t.Fatalf("form with a name only: status %d, want 422", status)
	}
	fields = formFields(t, ctx)
	if f := fields["given_names"]; f.Value != "Käthe Marie" || f.Invalid != "" || len(f.Errors) != 0 {
		t.Errorf("given_names after the error: %+v, want the name kept and no error", f)
	}
	if f := fields["family_name"]; f.Invalid != "true" || len(f.Errors) != 1 {
		t.Errorf("family_name after the error: %+v, want it still marked", f)
	}
	// The only duration is offered chosen again.
	if f := fields["duration_months"]; f.Value != "24" {
		t.Errorf("duration after the error: %q, want the only one (24) chosen", f.Value)
	}
}

// TestBrowserApplicationSubmittedOnce: "Antrag absenden" sent twice — a
// first click whose answer never came, then a double click — makes one
// application, and every answer is its receipt.
func TestBrowserApplicationSubmittedOnce(t *testing.T) {
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	r := parkingResident(t, s, residentDoubleSubmit)
	ctx := newBrowser(t)

	var mu sync.Mutex
	posts := 0
	err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok && ev.Request.Method == "POST" && strings.HasSuffix(ev.Request.URL, "/bewohnerparken/antrag") {
			mu.Lock()
			posts++
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	applyFor(t, ctx, s, r)

	// The first click: the form as the button sends it, its answer lost.
	type answer struct {
		Status          int
		Reference, Code string
	}
	first := evalJS[answer](t, ctx, `(async () => {
		const b = `+jsControl("Antrag absenden")+`[0];
		const res = await fetch(b.form.getAttribute('action'), {method: 'POST', body: new URLSearchParams(new FormData(b.form, b))});
		const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
		const dd = term => { const dt = [...doc.querySelectorAll('main dt')].find(e => e.textContent.trim() === term); return dt ? dt.nextElementSibling.textContent.trim() : ''; };
		return {status: res.status, reference: dd('Aktenzeichen'), code: dd('Zugangscode')};
	})()`)
	if first.Status != 200 || !referencePattern.MatchString(first.Reference) {
		t.Fatalf("first submission: status %d, Aktenzeichen %q", first.Status, first.Reference)
	}

	// Then the person double-clicks.
	evalJS[chromedp.Void](t, ctx, jsControl("Antrag absenden")+`[0].scrollIntoView({block: 'center', behavior: 'instant'})`)
	status := loadPage(t, ctx, chromedp.DoubleClick(chromedp.JSPath(jsControl("Antrag absenden")+`[0]`)))
	rec := descriptions(t, ctx)
	if status != 200 || rec["Aktenzeichen"] != first.Reference || rec["Zugangscode"] != first.Code {
		t.Errorf("after the double click: status %d, receipt %v; want the receipt of the first submission, %s", status, rec, first.Reference)
	}
	mu.Lock()
	n := posts
	mu.Unlock()
	if n < 2 {
		t.Errorf("the browser sent the form %d times, want at least 2 (the test did not submit twice)", n)
	}
	t.Logf("the form was sent %d times, one application %s", n, first.Reference)

	// The receipt's application goes its way: its code opens it, and it is
	// decided like any other.
	a := s.waitStatus(t, receipt{Reference: first.Reference, AccessCode: first.Code}, "approved")
	if a.Status != "approved" {
		t.Errorf("application %s: %+v", first.Reference, a)
	}
}

// parkingAxeAllowed lists axe rules that fail on a page of the
// Bewohnerparkausweis and cannot be fixed in its templates, by state and
// rule id, with the reason. Keep it empty: fix the page and delete the entry.
var parkingAxeAllowed = map[string]map[string]string{}

// TestBrowserParkingAccessibility runs axe-core's WCAG 2.1 A/AA rules on
// every page of the citizen's way – the start page, the form empty and with
// errors, the summary, the receipt, the status page asking for the code and
// showing the steps, the test provider, the permit – on the verification
// page of a valid and of a forged permit, on /demo (also on a phone, where
// its table scrolls) and on the legal pages.
func TestBrowserParkingAccessibility(t *testing.T) {
	source, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	r := parkingResident(t, s, residentAccessibility)
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))

	var ref, code string
	open := func(path string) func(t *testing.T) int64 {
		return func(t *testing.T) int64 { return openPage(t, ctx, s, path) }
	}
	states := []struct {
		name   string
		load   func(t *testing.T) int64
		status int64
		// chain: the state goes on from the page of the one before, so
		// it is skipped when one before it failed.
		chain bool
		// clipped: axe may leave the contrast of text it cannot see (in
		// a scrolled container) undecided; the same page is checked
		// unclipped in another state.
		clipped bool
	}{
		{name: "start page", load: open("/bewohnerparken"), status: 200},
		{name: "empty form", load: func(t *testing.T) int64 { return follow(t, ctx, "Antrag starten") }, status: 200, chain: true},
		{name: "form with errors", load: func(t *testing.T) int64 { return follow(t, ctx, "Weiter zur Zusammenfassung") }, status: 422, chain: true},
		{name: "summary", load: func(t *testing.T) int64 {
			fillApplication(t, ctx, r)
			return follow(t, ctx, "Weiter zur Zusammenfassung")
		}, status: 200, chain: true},
		{name: "receipt", load: func(t *testing.T) int64 {
			status := follow(t, ctx, "Antrag absenden")
			d := descriptions(t, ctx)
			if ref, code = d["Aktenzeichen"], d["Zugangscode"]; ref == "" || code == "" {
				t.Fatalf("receipt without Aktenzeichen or Zugangscode: %v", d)
			}
			return status
		}, status: 200, chain: true},
		// Coming back later, by the link of the receipt: the code is asked for.
		{name: "status page, code entry", load: func(t *testing.T) int64 { return follow(t, ctx, "Link zur Statusseite Ihres Antrags") }, status: 200, chain: true},
		{name: "status page, wrong code", load: func(t *testing.T) int64 {
			typeInto(t, ctx, "Zugangscode", "FALSCH1234")
			return follow(t, ctx, "Stand anzeigen")
		}, status: 422, chain: true},
		{name: "status page with steps", load: func(t *testing.T) int64 {
			typeInto(t, ctx, "Zugangscode", code)
			return follow(t, ctx, "Stand anzeigen")
		}, status: 200, chain: true},
		{name: "status page, fee open", load: func(t *testing.T) int64 {
			reloadUntil(t, ctx, `"Jetzt bezahlen"`, func() bool { return evalJS[int](t, ctx, jsControl("Jetzt bezahlen")+`.length`) == 1 })
			return 200
		}, status: 200, chain: true},
		{name: "test provider", load: func(t *testing.T) int64 { return follow(t, ctx, "Jetzt bezahlen") }, status: 200, chain: true},
		{name: "status page with permit", load: func(t *testing.T) int64 {
			status := follow(t, ctx, "Bezahlen (Test)")
			reloadUntil(t, ctx, "the permit", func() bool { return applicationStatus(t, ctx) == "Ausgestellt" })
			return status
		}, status: 200, chain: true},
		// The changes of an issued permit: each page once, nothing carried out.
		{name: "change form", load: func(t *testing.T) int64 { return follow(t, ctx, "Neues Fahrzeug oder Umzug melden") }, status: 200, chain: true},
		{name: "change form with errors", load: func(t *testing.T) int64 { return follow(t, ctx, "Weiter zur Zusammenfassung") }, status: 422, chain: true},
		{name: "reissue page", load: func(t *testing.T) int64 {
			openPage(t, ctx, s, "/bewohnerparken/status/"+ref)
			return follow(t, ctx, "Ausweis verloren oder beschädigt – Ersatz beantragen")
		}, status: 200, chain: true},
		{name: "reissue without assurance", load: func(t *testing.T) int64 { return follow(t, ctx, "Ersatzausweis beantragen") }, status: 422, chain: true},
		{name: "cancellation page", load: func(t *testing.T) int64 {
			openPage(t, ctx, s, "/bewohnerparken/status/"+ref)
			return follow(t, ctx, "Ausweis zurückgeben")
		}, status: 200, chain: true},
		{name: "status lookup", load: open("/bewohnerparken/status"), status: 200},
		{name: "verification, valid permit", load: func(t *testing.T) int64 {
			a := s.waitStatus(t, receipt{Reference: ref, AccessCode: code}, "issued")
			if a.Permit == nil || a.Permit.Token == "" {
				t.Fatalf("issued without permit: %+v", a)
			}
			return openPage(t, ctx, s, "/pruefen/"+a.Permit.Token)
		}, status: 200, chain: true},
		{name: "verification, garbage", load: open("/pruefen/garbage"), status: 400},
		{name: "demo", load: open("/demo"), status: 200},
		{name: "Impressum", load: open("/impressum"), status: 200},
		{name: "Datenschutz", load: open("/datenschutz"), status: 200},
		{name: "Barrierefreiheit", load: open("/barrierefreiheit"), status: 200},
		{name: "demo, 375 px", load: func(t *testing.T) int64 {
			browserDo(t, ctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
			return openPage(t, ctx, s, "/demo")
		}, status: 200, clipped: true},
	}
	broken := ""
	for _, st := range states {
		ok := t.Run(st.name, func(t *testing.T) {
			if st.chain && broken != "" {
				t.Skipf("goes on from %q, which failed", broken)
			}
			if status := st.load(t); status != st.status {
				t.Fatalf("%s: status %d, want %d", location(t, ctx), status, st.status)
			}
			res := runAxe(t, ctx, string(source))
			if res.Passes < 10 {
				t.Errorf("axe passed only %d rules; did it run?", res.Passes)
			}
			for _, inc := range res.Incomplete {
				if strings.HasPrefix(inc, "color-contrast:") && !st.clipped {
					t.Errorf("axe could not decide the contrast of %s", strings.TrimPrefix(inc, "color-contrast:"))
				} else {
					t.Logf("axe leaves for a person to review: %s", inc)
				}
			}
			var allowed, violations axeResult
			for _, v := range res.Violations {
				if _, ok := parkingAxeAllowed[st.name][v.ID]; ok {
					allowed.Violations = append(allowed.Violations, v)
				} else {
					violations.Violations = append(violations.Violations, v)
				}
			}
			if len(allowed.Violations) > 0 {
				t.Logf("allowed violations (parkingAxeAllowed):%s", allowed.report())
			}
			if len(violations.Violations) > 0 {
				t.Errorf("%s: %d WCAG 2.1 A/AA violations:%s", location(t, ctx), len(violations.Violations), violations.report())
			}
		})
		if !ok && broken == "" {
			broken = st.name
		}
	}
}
