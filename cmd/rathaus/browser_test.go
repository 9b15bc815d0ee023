package main

// Real-browser tests of the public page /zonen: a headless Chromium, driven
// with chromedp, uses the demo server the way a citizen does – types the
// address, presses Enter, reads the answer – and checks what only a browser
// can show: the rendered layout, the stylesheets and fonts that the
// Content-Security-Policy lets through, the accessibility tree, and the
// WCAG rules of axe-core (testdata/axe, vendored).
//
// The tests need /usr/bin/chromium (Debian package chromium). Without it they
// are skipped, except under CI=true, where .ci/run installs it and a missing
// browser is a failure.

import (
	"context"
	"encoding/json"
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
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const (
	chromiumPath = "/usr/bin/chromium"
	// browserTimeout bounds everything a test does with its browser, so a
	// hung browser fails the test instead of hanging the run.
	browserTimeout = 60 * time.Second
	// stepTimeout bounds one step; query actions wait for their element, so
	// a missing element fails after this instead of after browserTimeout.
	stepTimeout = 15 * time.Second
)

// requireChromium skips the test when there is no Chromium, or fails it
// under CI=true, where .ci/run installs one.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need %s, which .ci/run installs (Debian package chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s not found, browser tests skipped (apt-get install chromium)", chromiumPath)
	}
}

// newBrowser starts a headless Chromium with a fresh profile for one test
// and returns the context of its tab. It is stopped when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	requireChromium(t)
	profile := t.TempDir() // before the cleanup below, so it is removed after the browser stopped
	output := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(output),
	)
	bounded, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(bounded, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits until the browser has exited
		cancelTimeout()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", chromiumPath, err, output)
	}
	return ctx
}

// browserDo runs steps in the tab, each step bounded by stepTimeout.
func browserDo(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for _, s := range steps {
		browserRun(t, ctx, s)
	}
}

// browserRun runs one action in the tab, bounded by stepTimeout.
func browserRun[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// evalJS evaluates a JavaScript expression in the page and decodes its value;
// a promise is awaited.
func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return browserRun(t, ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// openPage navigates to path on the server and returns the HTTP status.
func openPage(t *testing.T, ctx context.Context, s *server, path string) int64 {
	t.Helper()
	return loadPage(t, ctx, chromedp.Navigate(s.base+path))
}

// loadPage runs steps that make the browser load a page (a navigation, a form
// submission), waits for the load and returns the page's HTTP status.
func loadPage(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(sctx, steps...)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if res == nil {
		t.Fatal("browser: no page loaded")
	}
	return res.Status
}

// searchAddress types text into the address field, found by its label as a person
// finds it, and presses Enter. It returns the HTTP status of the answer.
func searchAddress(t *testing.T, ctx context.Context, text string) int64 {
	t.Helper()
	const label = "Straße und Hausnummer"
	id := evalJS[string](t, ctx, `(() => {
		const l = [...document.querySelectorAll('label')].find(l => l.textContent.trim() === `+jsString(label)+`);
		return l && l.control ? l.control.id : '';
	})()`)
	if id != "adresse" {
		t.Fatalf("the field labelled %q is %q, want #adresse", label, id)
	}
	browserDo(t, ctx, chromedp.Clear(chromedp.ID("adresse")))
	return loadPage(t, ctx, chromedp.SendKeys(chromedp.ID("adresse"), text+"\n"))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// zoneResultText is the text of the answer's status box, "" when there is none.
func zoneResultText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evalJS[string](t, ctx, `(() => {
		const e = document.querySelector('section[aria-labelledby="ergebnis"] [role="status"]');
		return e ? e.textContent.replace(/\s+/g, ' ').trim() : '';
	})()`)
}

// TestBrowserCitizenFindsZone walks the citizen's way on a phone-sized
// screen: open the page, type the address, press Enter, read the answer and
// see the map.
func TestBrowserCitizenFindsZone(t *testing.T) {
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))

	if status := openPage(t, ctx, s, "/zonen"); status != 200 {
		t.Fatalf("GET /zonen: status %d", status)
	}
	if lang := evalJS[string](t, ctx, `document.documentElement.getAttribute('lang')`); lang != "de" {
		t.Errorf(`<html lang=%q>, want "de"`, lang)
	}
	if h1 := evalJS[string](t, ctx, `[...document.querySelectorAll('h1')].map(h => h.textContent.trim()).join('|')`); h1 != "Wohne ich in einer Bewohnerparkzone?" {
		t.Errorf("h1 = %q, want one h1 \"Wohne ich in einer Bewohnerparkzone?\"", h1)
	}
	checkNoHorizontalOverflow(t, ctx, 375, "empty form")

	if status := searchAddress(t, ctx, "Oranienburger Str. 13, 10178"); status != 200 {
		t.Fatalf("search: status %d, want 200", status)
	}
	if got := zoneResultText(t, ctx); !regexp.MustCompile(`^Oranienburger Straße 13, 10178\b.* liegt in der Bewohnerparkzone 29\.$`).MatchString(got) {
		t.Errorf("result = %q, want Oranienburger Straße 13, 10178 in Bewohnerparkzone 29", got)
	}
	type svgMap struct {
		Count       int
		Title, Role string
		Labelled    bool
		Width       float64
		Height      float64
		Left, Right float64
	}
	m := evalJS[svgMap](t, ctx, `(() => {
		const all = document.querySelectorAll('section[aria-labelledby="ergebnis"] figure > svg');
		const svg = all[0];
		if (!svg) return {count: 0};
		const r = svg.getBoundingClientRect();
		const title = svg.querySelector(':scope > title');
		const ids = (svg.getAttribute('aria-labelledby') || '').split(/\s+/);
		return {count: all.length, title: title ? title.textContent : '', role: svg.getAttribute('role') || '',
			labelled: !!title && ids.includes(title.id),
			width: r.width, height: r.height, left: r.left, right: r.right};
	})()`)
	switch {
	case m.Count != 1:
		t.Errorf("result shows %d inline <svg> maps, want 1", m.Count)
	case m.Title != "Karte der Zone 29" || m.Role != "img" || !m.Labelled:
		t.Errorf("map: <title> %q, role %q, labelled by its title %v; want \"Karte der Zone 29\", img, true", m.Title, m.Role, m.Labelled)
	case m.Width < 200 || m.Height < 100 || m.Left < 0 || m.Right > 375:
		t.Errorf("map is drawn at %.0f×%.0f px from x=%.0f to %.0f, want visible and within the 375 px screen", m.Width, m.Height, m.Left, m.Right)
	}
	checkNoHorizontalOverflow(t, ctx, 375, "result with map")

	// For a person to look at: go test -run Browser -artifacts -outputdir DIR
	dir := t.ArtifactDir()
	shots := map[string][]byte{"zonen-ergebnis-375.png": browserRun(t, ctx, chromedp.FullScreenshot(100))}
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))
	shots["zonen-ergebnis-1280.png"] = browserRun(t, ctx, chromedp.FullScreenshot(100))
	for name, png := range shots {
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
}

func checkNoHorizontalOverflow(t *testing.T, ctx context.Context, width int, state string) {
	t.Helper()
	w := evalJS[struct{ Scroll, Client int }](t, ctx, `({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth})`)
	if w.Client != width {
		t.Errorf("%s: viewport is %d px wide, want %d", state, w.Client, width)
	}
	if w.Scroll > w.Client {
		wide := evalJS[[]string](t, ctx, `[...document.querySelectorAll('body *')]
			.filter(e => !e.ownerSVGElement && e.getBoundingClientRect().right > document.documentElement.clientWidth)
			.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') + ' right=' + Math.round(e.getBoundingClientRect().right))`)
		t.Errorf("%s: page scrolls sideways at %d px (scrollWidth %d > clientWidth %d); too wide: %v", state, width, w.Scroll, w.Client, wide)
	}
}

// fieldState is what a browser and its accessibility tree say about the
// address field.
type fieldState struct {
	Value       string
	Invalid     string   // aria-invalid
	DescribedBy []string // ids in aria-describedby
	Error       struct {
		ID, Text string
		Visible  bool
	}
	// From Chromium's accessibility tree, as a screen reader gets it:
	AXName, AXDescription string
	AXInvalid             string
}

func addressField(t *testing.T, ctx context.Context) fieldState {
	t.Helper()
	f := evalJS[fieldState](t, ctx, `(() => {
		const i = document.getElementById('adresse');
		const e = i && i.closest('.kern-form-input') ? i.closest('.kern-form-input').querySelector('.kern-error') : null;
		return {
			value: i ? i.value : '',
			invalid: i ? (i.getAttribute('aria-invalid') || '') : '',
			describedBy: i ? (i.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean) : [],
			error: e ? {id: e.id, text: e.textContent.replace(/\s+/g, ' ').trim(),
				visible: e.checkVisibility({opacityProperty: true, visibilityProperty: true}) && e.getBoundingClientRect().height > 0} : {},
		};
	})()`)
	nodes := browserRun(t, ctx, chromedp.Nodes(chromedp.ID("adresse")))
	ax := browserRun(t, ctx, func(ctx context.Context, tg *chromedp.Target) (accessibility.GetPartialAXTreeResult, error) {
		return cdp.Call(ctx, tg, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{
			BackendNodeID: nodes[0].BackendNodeID, FetchRelatives: new(false)})
	})
	if len(ax.Nodes) == 0 {
		t.Fatal("#adresse has no node in the accessibility tree")
	}
	n := ax.Nodes[0]
	f.AXName, f.AXDescription = axString(n.Name), axString(n.Description)
	for _, p := range n.Properties {
		if p.Name == accessibility.PropertyNameInvalid {
			f.AXInvalid = axString(p.Value)
		}
	}
	return f
}

func axString(v *accessibility.Value) string {
	if v == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err != nil {
		return string(v.Value)
	}
	return strings.Join(strings.Fields(s), " ")
}

// TestBrowserFieldErrors: an input error is shown at the field, announced
// with it, and keeps what the person typed.
func TestBrowserFieldErrors(t *testing.T) {
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	ctx := newBrowser(t)
	openPage(t, ctx, s, "/zonen")
	before := addressField(t, ctx)
	if before.Invalid != "" || before.Error.ID != "" || before.AXName != "Straße und Hausnummer" || before.AXInvalid == "true" {
		t.Errorf("untouched field = %+v, want the label as its name and no error", before)
	}

	status := loadPage(t, ctx, chromedp.Click(chromedp.CSS(`main form[action="/zonen"] button[type="submit"]`)))
	if status != 422 {
		t.Errorf("empty submit: status %d, want 422", status)
	}
	f := addressField(t, ctx)
	if f.Invalid != "true" || f.AXInvalid != "true" {
		t.Errorf("empty submit: aria-invalid %q (accessibility tree: %q), want true", f.Invalid, f.AXInvalid)
	}
	switch {
	case f.Error.Text == "" || f.Error.ID == "":
		t.Errorf("empty submit: no error message with an id at the field: %+v", f)
	case !slices.Contains(f.DescribedBy, f.Error.ID):
		t.Errorf("empty submit: aria-describedby %q does not name the error %q", f.DescribedBy, f.Error.ID)
	case !f.Error.Visible:
		t.Errorf("empty submit: error message %q is not visible", f.Error.Text)
	case !strings.Contains(f.AXDescription, f.Error.Text):
		t.Errorf("empty submit: a screen reader hears the description %q, want it to contain the error %q", f.AXDescription, f.Error.Text)
	}
	if f.AXName != "Straße und Hausnummer" {
		t.Errorf("empty submit: field's accessible name %q", f.AXName)
	}

	if status := searchAddress(t, ctx, "Lehrter Straße"); status != 422 {
		t.Errorf("address without number: status %d, want 422", status)
	}
	f = addressField(t, ctx)
	if f.Value != "Lehrter Straße" {
		t.Errorf("address without number: field holds %q, want the input kept", f.Value)
	}
	if f.Invalid != "true" || f.Error.Text == "" || !f.Error.Visible || !strings.Contains(f.AXDescription, f.Error.Text) {
		t.Errorf("address without number: field %+v, want a visible, announced error", f)
	}
}

// TestBrowserSuggestions: an unknown address offers known ones, and one click
// on a suggestion answers the question.
func TestBrowserSuggestions(t *testing.T) {
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	ctx := newBrowser(t)
	openPage(t, ctx, s, "/zonen")
	if status := searchAddress(t, ctx, "Lehrter Strase 9999"); status != 200 {
		t.Fatalf("unknown address: status %d, want 200", status)
	}
	if got := zoneResultText(t, ctx); !strings.Contains(got, "nicht bekannt") {
		t.Errorf("unknown address: result %q, want \"nicht bekannt\"", got)
	}
	labels := evalJS[[]string](t, ctx, `[...document.querySelectorAll('section[aria-labelledby="ergebnis"] ul button[type="submit"]')]
		.map(b => b.textContent.replace(/\s+/g, ' ').trim())`)
	if len(labels) == 0 || len(labels) > 5 {
		t.Fatalf("unknown address: %d suggestion buttons %q, want 1 to 5", len(labels), labels)
	}
	if !strings.HasPrefix(labels[0], "Lehrter Straße ") {
		t.Errorf("first suggestion %q, want one on Lehrter Straße", labels[0])
	}

	status := loadPage(t, ctx, chromedp.Click(chromedp.CSS(`section[aria-labelledby="ergebnis"] ul li:first-child button[type="submit"]`)))
	if status != 200 {
		t.Fatalf("suggestion %q: status %d, want 200", labels[0], status)
	}
	if f := addressField(t, ctx); f.Value != labels[0] || f.Invalid != "" {
		t.Errorf("after the suggestion the field holds %q (aria-invalid %q), want %q and no error", f.Value, f.Invalid, labels[0])
	}
	// A known address is found: it lies in a zone or in none.
	if got := zoneResultText(t, ctx); !regexp.MustCompile(`^Lehrter Straße \S+, \d{5}\b.* liegt in (der Bewohnerparkzone \S+|keiner Bewohnerparkzone)`).MatchString(got) {
		t.Errorf("suggestion %q: result %q, want the address found", labels[0], got)
	}
}

// consoleLog collects what the browser reports on its console: the page's
// console calls, uncaught exceptions and the browser's own log, which is
// where CSP violations appear.
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
}

func collectConsole(t *testing.T, ctx context.Context) *consoleLog {
	t.Helper()
	c := &consoleLog{}
	add := func(s string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.msgs = append(c.msgs, s)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		// Runs in the tab's read loop: only format and store.
		switch ev := ev.(type) {
		case *cdplog.EventEntryAdded:
			add(fmt.Sprintf("log %s/%s %s: %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.URL, ev.Entry.Text))
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				if a.Value != nil {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			add(fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			add(fmt.Sprintf("exception %s:%d: %s", d.URL, d.LineNumber, text))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// chromedp enables the Log domain when it attaches the tab; enabling it
	// again is harmless and keeps this test independent of that.
	browserRun(t, ctx, func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
		return cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
	})
	return c
}

func (c *consoleLog) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

func cspViolations(msgs []string) []string {
	var v []string
	for _, m := range msgs {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "Content-Security-Policy") {
			v = append(v, m)
		}
	}
	return v
}

// pageStyle tells whether the stylesheets and fonts reached the page.
type pageStyle struct {
	Font      string // computed font-family of body
	FiraFaces int    // loaded Fira Sans font faces
	Sheets    []struct {
		Href  string
		Rules int // -1: not readable
	}
	ButtonBackground string // computed background of the primary button, "" if none
	SkipLinkTop      string // from rathaus.css: the skip link waits off-screen
}

func styleOf(t *testing.T, ctx context.Context) pageStyle {
	t.Helper()
	return evalJS[pageStyle](t, ctx, `(async () => {
		await document.fonts.ready;
		const btn = document.querySelector('.kern-btn--primary');
		const skip = document.querySelector('.rathaus-skip-link');
		return {
			font: getComputedStyle(document.body).fontFamily,
			firaFaces: [...document.fonts].filter(f => f.family.replace(/"/g, '') === 'Fira Sans' && f.status === 'loaded').length,
			sheets: [...document.styleSheets].map(s => { try { return {href: s.href || '', rules: s.cssRules.length}; } catch (e) { return {href: s.href || '', rules: -1}; } }),
			buttonBackground: btn ? getComputedStyle(btn).backgroundColor : '',
			skipLinkTop: skip ? getComputedStyle(skip).top : '',
		};
	})()`)
}

// TestBrowserCSPAndStyles: the pages work under their own
// Content-Security-Policy – no violation is reported, and the stylesheets
// and fonts it allows really apply.
func TestBrowserCSPAndStyles(t *testing.T) {
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	ctx := newBrowser(t)
	console := collectConsole(t, ctx)

	pages := []struct {
		name   string
		load   func() int64
		status int64
		button bool
	}{
		{"empty form", func() int64 { return openPage(t, ctx, s, "/zonen") }, 200, true},
		{"found result", func() int64 { return searchAddress(t, ctx, "Oranienburger Str. 13, 10178") }, 200, true},
		{"suggestions", func() int64 { return searchAddress(t, ctx, "Lehrter Strase 9999") }, 200, true},
		{"field error", func() int64 {
			return loadPage(t, ctx, chromedp.Clear(chromedp.ID("adresse")), chromedp.Click(chromedp.CSS(`main form[action="/zonen"] button[type="submit"]`)))
		}, 422, true},
		{"404 page", func() int64 { return openPage(t, ctx, s, "/gibt-es-nicht") }, 404, false},
	}
	for _, p := range pages {
		if status := p.load(); status != p.status {
			t.Errorf("%s: status %d, want %d", p.name, status, p.status)
		}
		st := styleOf(t, ctx)
		if !strings.Contains(st.Font, "Fira Sans") {
			t.Errorf("%s: body font-family %q, want KERN's Fira Sans", p.name, st.Font)
		}
		if st.FiraFaces == 0 {
			t.Errorf("%s: no Fira Sans font face loaded (font-src blocked?)", p.name)
		}
		var sheets []string
		for _, sh := range st.Sheets {
			if sh.Rules <= 0 {
				t.Errorf("%s: stylesheet %q has %d rules, want it loaded", p.name, sh.Href, sh.Rules)
			}
			sheets = append(sheets, filepath.Base(sh.Href))
		}
		if len(st.Sheets) != 3 || !strings.HasPrefix(sheets[1], "kern.min.") || !strings.HasPrefix(sheets[2], "rathaus.") {
			t.Errorf("%s: stylesheets %q, want fira-sans, kern.min and rathaus", p.name, sheets)
		}
		if st.SkipLinkTop != "-100px" {
			t.Errorf("%s: skip link top %q, want -100px from rathaus.css", p.name, st.SkipLinkTop)
		}
		if bg := st.ButtonBackground; p.button && (bg == "" || bg == "rgba(0, 0, 0, 0)" || bg == "rgb(239, 239, 239)" || bg == "rgb(240, 240, 240)") {
			t.Errorf("%s: primary button background %q, want KERN's colour", p.name, bg)
		}
	}

	// A round trip, so every event sent before it has been seen.
	evalJS[int](t, ctx, `1`)
	msgs := console.all()
	if v := cspViolations(msgs); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations:\n  %s", strings.Join(v, "\n  "))
	}
	for _, m := range msgs {
		if strings.HasPrefix(m, "exception ") {
			t.Errorf("uncaught exception on a page that has no scripts: %s", m)
		}
	}
	t.Logf("%d console messages (status codes 404/422 are expected):\n  %s", len(msgs), strings.Join(msgs, "\n  "))

	// Control: an inline style that the policy must refuse is reported, so
	// the check above can see a violation at all.
	evalJS[chromedp.Void](t, ctx, `document.querySelector('main').insertAdjacentHTML('beforeend', '<p style="color: red">Test</p>')`)
	deadline := time.Now().Add(5 * time.Second)
	for len(cspViolations(console.all())) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if v := cspViolations(console.all()); len(v) == 0 {
		t.Error("an inline style added on purpose produced no CSP violation message: the console collection does not work")
	} else {
		t.Logf("control, as it should be: %s", v[0])
	}
	if color := evalJS[string](t, ctx, `getComputedStyle(document.querySelector('main p[style]')).color`); color == "rgb(255, 0, 0)" {
		t.Error("an inline style was applied: the page's CSP allows inline styles")
	}
}

// knownAxeViolations lists axe rules that fail on the app's own pages and
// are not fixed yet, by rule id, with the reason and where it is tracked.
// The accessibility test reports them but does not fail on them. Keep it
// empty: fix the page and delete the entry.
var knownAxeViolations = map[string]string{}

// axeResult is what runAxe brings back from axe.run.
type axeResult struct {
	Passes     int
	Incomplete []string // rules axe could not decide; a person has to look
	Violations []struct {
		ID, Impact, Help, HelpURL string
		Nodes                     []struct {
			Target  []json.RawMessage // selectors; an element in a shadow tree is a list
			HTML    string
			Summary string
		}
	}
}

// runAxe loads the vendored axe-core into the page and runs the WCAG 2.0 and
// 2.1 A/AA rules on the whole document.
func runAxe(t *testing.T, ctx context.Context, source string) axeResult {
	t.Helper()
	evalJS[chromedp.Void](t, ctx, source)
	return evalJS[axeResult](t, ctx, `axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
	}).then(r => ({
		passes: r.passes.length,
		incomplete: r.incomplete.map(v => v.id + ': ' + v.nodes.slice(0, 5).map(n => n.target.join(' >>> ')).join(', ') + (v.nodes.length > 5 ? ' …' : '')),
		violations: r.violations.map(v => ({
			id: v.id, impact: v.impact || '', help: v.help, helpURL: v.helpUrl,
			nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary || ''})),
		})),
	}))`)
}

func (r axeResult) report() string {
	var b strings.Builder
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "\n  %s (%s): %s – %d element(s), %s", v.ID, v.Impact, v.Help, len(v.Nodes), v.HelpURL)
		for i, n := range v.Nodes {
			if i == 3 {
				fmt.Fprintf(&b, "\n      …")
				break
			}
			var sel []string
			for _, raw := range n.Target {
				var s string
				if json.Unmarshal(raw, &s) != nil {
					s = string(raw) // a list: the path into a shadow tree
				}
				sel = append(sel, s)
			}
			fmt.Fprintf(&b, "\n      %s  %s\n        %s", strings.Join(sel, " >>> "), n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n        "))
		}
	}
	return b.String()
}

// TestBrowserAccessibility runs axe-core's WCAG 2.1 A/AA rules on each state
// of the page and on the 404 page.
func TestBrowserAccessibility(t *testing.T) {
	source, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	requireChromium(t) // before the demo server starts
	s := demoServer(t)
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))

	states := []struct {
		name   string
		load   func(t *testing.T) int64 // nil: stay on the page of the state before
		status int64
		// prepare runs in the page before axe, for a state that is the
		// page of the state before with a change.
		prepare string
		// contrast: axe must decide color-contrast on every element,
		// leaving nothing for a person to review.
		contrast bool
	}{
		{name: "empty form", load: func(t *testing.T) int64 { return openPage(t, ctx, s, "/zonen") }, status: 200, contrast: true},
		{name: "found result with map", load: func(t *testing.T) int64 { return searchAddress(t, ctx, "Oranienburger Str. 13, 10178") }, status: 200},
		// axe cannot decide the contrast of the text above the map: the
		// neighbouring zones' paths reach beyond the map's viewBox, and
		// axe takes their (clipped) boxes for elements that overlap the
		// text. Without the map's drawing it can, so check it so.
		{name: "found result, contrast without the drawing", prepare: `document.querySelectorAll('figure.rathaus-map svg > :not(title, desc)').forEach(e => e.remove())`, contrast: true},
		{name: "suggestions", load: func(t *testing.T) int64 { return searchAddress(t, ctx, "Lehrter Strase 9999") }, status: 200, contrast: true},
		{name: "field error", load: func(t *testing.T) int64 {
			return loadPage(t, ctx, chromedp.Clear(chromedp.ID("adresse")), chromedp.Click(chromedp.CSS(`main form[action="/zonen"] button[type="submit"]`)))
		}, status: 422, contrast: true},
		{name: "404 page", load: func(t *testing.T) int64 { return openPage(t, ctx, s, "/gibt-es-nicht") }, status: 404, contrast: true},
	}
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			if st.load != nil {
				if status := st.load(t); status != st.status {
					t.Fatalf("status %d, want %d", status, st.status)
				}
			}
			if st.prepare != "" {
				evalJS[chromedp.Void](t, ctx, st.prepare)
			}
			r := runAxe(t, ctx, string(source))
			if r.Passes < 10 {
				t.Errorf("axe passed only %d rules; did it run?", r.Passes)
			}
			for _, inc := range r.Incomplete {
				if st.contrast && strings.HasPrefix(inc, "color-contrast:") {
					t.Errorf("axe could not decide the contrast of %s", strings.TrimPrefix(inc, "color-contrast:"))
				} else {
					t.Logf("axe leaves for a person to review: %s", inc)
				}
			}
			var known, unknown axeResult
			for _, v := range r.Violations {
				if _, ok := knownAxeViolations[v.ID]; ok {
					known.Violations = append(known.Violations, v)
				} else {
					unknown.Violations = append(unknown.Violations, v)
				}
			}
			if len(known.Violations) > 0 {
				t.Logf("known violations (knownAxeViolations):%s", known.report())
			}
			if len(unknown.Violations) > 0 {
				t.Errorf("%d WCAG 2.1 A/AA violations:%s", len(unknown.Violations), unknown.report())
			}
		})
	}

	// Control: an unlabelled field added on purpose is reported, so a clean
	// result above means something.
	t.Run("control", func(t *testing.T) {
		evalJS[chromedp.Void](t, ctx, `document.querySelector('main').insertAdjacentHTML('beforeend', '<input type="text" name="x">')`)
		r := runAxe(t, ctx, string(source))
		for _, v := range r.Violations {
			if v.ID == "label" {
				return
			}
		}
		t.Errorf("axe did not report an input without a label; violations:%s", r.report())
	})
}
