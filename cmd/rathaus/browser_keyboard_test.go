package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focused describes document.activeElement.
type focused struct {
	Tag, Type, Name, Value, Text string
	Checked                      bool
	Indicator                    bool // a visible focus indicator: outline or box shadow
}

const focusedJS = `(() => { const e = document.activeElement; const s = getComputedStyle(e);
	return {Tag: e.tagName, Type: e.type || '', Name: e.name || '', Value: e.value || '', Text: (e.textContent || '').trim().replace(/\s+/g, ' '),
		Checked: !!e.checked, Indicator: (s.outlineStyle !== 'none' && s.outlineWidth !== '0px') || s.boxShadow !== 'none'}; })()`

func press(t *testing.T, ctx context.Context, keys string) {
	t.Helper()
	browserDo(t, ctx, chromedp.KeyEvent(keys))
}

// tabTo presses Tab until want accepts the focused element, checking that
// every element on the way shows where the focus is; it gives up after
// 80 steps.
func tabTo(t *testing.T, ctx context.Context, want func(focused) bool, act func(focused)) {
	t.Helper()
	for range 80 {
		press(t, ctx, kb.Tab)
		f := evalJS[focused](t, ctx, focusedJS)
		if f.Tag != "BODY" && !f.Indicator {
			t.Errorf("%s %s %q: focused without a visible indicator", f.Tag, f.Name, f.Text)
		}
		if act != nil {
			act(f)
		}
		if want(f) {
			return
		}
	}
	t.Fatalf("no element found by Tab on %s", location(t, ctx))
}

// TestBrowserKeyboardOnlyApplication fills and submits the application
// form with the keyboard alone — Tab, typing, arrow keys, space, Enter —
// and checks that every focused element shows it is focused.
func TestBrowserKeyboardOnlyApplication(t *testing.T) {
	requireChromium(t)
	s := demoServer(t)
	r := parkingResident(t, s, residentKeyboard)
	ctx := newBrowser(t)
	browserDo(t, ctx, chromedp.EmulateViewport(1280, 900))
	if status := openPage(t, ctx, s, "/bewohnerparken/antrag"); status != 200 {
		t.Fatalf("form: %d", status)
	}
	values := map[string]string{"given_names": r.GivenNames, "family_name": r.FamilyName, "birth_date": r.BirthDate,
		"address": r.Address, "email": "tastatur@example.org", "plate": r.Plates[0]}
	done := map[string]bool{}
	tabTo(t, ctx, func(f focused) bool { return f.Tag == "BUTTON" && f.Text == "Weiter zur Zusammenfassung" }, func(f focused) {
		switch {
		case values[f.Name] != "" && !done[f.Name]:
			press(t, ctx, values[f.Name])
			done[f.Name] = true
		case f.Name == "relation":
			// Arrow keys move through the group and select; stop at the holder.
			for i := 0; i < 6 && evalJS[string](t, ctx, `document.activeElement.value`) != "holder"; i++ {
				press(t, ctx, kb.ArrowDown)
			}
			if !evalJS[bool](t, ctx, `document.activeElement.checked`) {
				press(t, ctx, " ")
			}
			done["relation"] = true
		case (f.Type == "radio" && f.Name == "duration_months" || f.Name == "no_own_space" || f.Name == "truthful") && !f.Checked:
			press(t, ctx, " ")
			done[f.Name] = true
		}
	})
	for name := range values {
		if !done[name] {
			t.Errorf("field %s never reached by Tab", name)
		}
	}
	press(t, ctx, kb.Enter)
	waitFor(t, ctx, func() bool { return h1(t, ctx) == "Bitte prüfen Sie Ihre Angaben" },
		"the summary after Enter; errors: "+strings.Join(fieldErrorTexts(t, ctx), "; "))
	tabTo(t, ctx, func(f focused) bool { return f.Tag == "BUTTON" && f.Text == "Antrag absenden" }, nil)
	press(t, ctx, kb.Enter)
	waitFor(t, ctx, func() bool { return h1(t, ctx) == "Eingangsbestätigung" }, "the receipt after Enter")
	if ref := evalJS[string](t, ctx, `document.querySelector('main').textContent`); !strings.Contains(ref, "BP-") {
		t.Errorf("receipt without an Aktenzeichen")
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, ctx context.Context, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s (at %s)", what, location(t, ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// h1 is the page's heading, "" while there is none (during navigation).
func h1(t *testing.T, ctx context.Context) string {
	t.Helper()
	return evalJS[string](t, ctx, `(document.querySelector('h1') || {textContent: ''}).textContent.trim()`)
}
