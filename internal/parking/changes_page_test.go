package parking_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// The citizen's way to the changes on the pages: the status page of an
// issued permit links to change, reissue and cancellation; each page needs
// the status page's access code; a change form without a change shows the
// message at the plate field with the entered values kept; a reissue needs
// the assurance; a cancellation shows the refund before it happens, and
// afterwards the status page says the permit ended.
func TestChangePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov, u := changeFixture(t, db, 0, 2500, rules.RefundProRataMonths)
		srv := f.pageServer(t)

		r := f.byExp[registers.ExpectEligible]
		rec := f.issue(t, r, prov)
		status := "/bewohnerparken/status/" + rec.Reference
		b := newBrowser(t, srv.URL)
		for _, p := range []string{"/aendern", "/ersatz", "/rueckgabe"} {
			if code, _, hdr := b.do("GET", status+p, nil); code != http.StatusSeeOther || hdr.Get("Location") != status {
				t.Errorf("GET %s without the access code: %d → %q, want a redirect to the status page", p, code, hdr.Get("Location"))
			}
		}
		if code, page, _ := b.do("POST", status, url.Values{"access_code": {rec.AccessCode}}); code != http.StatusSeeOther {
			t.Fatalf("access code: %d\n%s", code, page)
		}
		_, page, _ := b.do("GET", status, nil)
		for _, p := range []string{"/aendern", "/ersatz", "/rueckgabe"} {
			if !strings.Contains(page, `href="`+status+p+`"`) {
				t.Errorf("status page of an issued permit does not link %s", p)
			}
		}

		// The change form: prefilled, no duration choice, declarations anew.
		code, page, _ := b.do("GET", status+"/aendern", nil)
		if code != http.StatusOK || !strings.Contains(page, "Fahrzeugwechsel oder Umzug") || !strings.Contains(page, `name="duration_months" value="24"`) ||
			strings.Contains(page, `id="duration-24"`) || !strings.Contains(page, `value="`+r.Vehicles[0].Plate.String()+`"`) {
			t.Errorf("change form: %d\n%s", code, page)
		}
		// Nothing changed: the message at the plate, values kept.
		code, page, _ = b.do("POST", status+"/aendern", formValues(f.form(r), "pruefen", strings.Repeat("a", 32)))
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, "weder das Kennzeichen noch die Anschrift") || !strings.Contains(page, r.Person.FamilyName) {
			t.Errorf("change without a change: %d\n%s", code, page)
		}
		// A new car: summary, then submit; a double click submits once.
		u.cars["B-NE 4712E"] = r.Person
		form := f.form(r)
		form.Plate = "B-NE 4712E"
		key := strings.Repeat("b", 32)
		if code, page, _ = b.do("POST", status+"/aendern", formValues(form, "pruefen", key)); code != http.StatusOK || !strings.Contains(page, "Bitte prüfen Sie Ihre Angaben") {
			t.Fatalf("change summary: %d\n%s", code, page)
		}
		_, first, _ := b.do("POST", status+"/aendern", formValues(form, "absenden", key))
		_, second, _ := b.do("POST", status+"/aendern", formValues(form, "absenden", key))
		ref1, ref2 := referenceRE.FindString(first), referenceRE.FindString(second)
		if ref1 == "" || ref1 != ref2 || ref1 == rec.Reference {
			t.Fatalf("change submitted: %q then %q; want one new application\n%s", ref1, ref2, first)
		}
		var changed parking.Application
		tries := 0
		for {
			a, err := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
			if err != nil {
				t.Fatal(err)
			}
			if a.Permit.EndReason == "replaced" {
				changed = a
				break
			}
			if tries++; tries > 600 {
				t.Fatalf("the change was not issued: %+v", a.Permit)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_, page, _ = b.do("GET", status, nil)
		if !strings.Contains(page, "durch den Ausweis <strong>"+changed.Permit.ReplacedBy+"</strong> ersetzt") || strings.Contains(page, "ausweis.pdf") {
			t.Errorf("status page of the replaced permit:\n%s", page)
		}
		if code, _, _ := b.do("GET", status+"/rueckgabe", nil); code != http.StatusConflict {
			t.Errorf("cancelling the replaced permit: %d, want 409", code)
		}
		if code, page, _ := b.do("GET", status+"/ausweis.pdf", nil); code != http.StatusConflict || !strings.Contains(page, "gilt nicht mehr") {
			t.Errorf("PDF of the replaced permit: %d\n%.300s", code, page)
		}

		// Reissue and cancellation on a second resident's permit.
		r2 := f.eligibleResidents()[1]
		rec2 := f.issue(t, r2, prov)
		status2 := "/bewohnerparken/status/" + rec2.Reference
		b2 := newBrowser(t, srv.URL)
		b2.do("POST", status2, url.Values{"access_code": {rec2.AccessCode}})
		if code, page, _ := b2.do("GET", status2+"/ersatz", nil); code != http.StatusOK || !strings.Contains(page, "25,00 €") {
			t.Errorf("reissue page: %d\n%s", code, page)
		}
		if code, page, _ := b2.do("POST", status2+"/ersatz", url.Values{"idempotency_key": {strings.Repeat("c", 32)}}); code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, "verloren gegangen oder beschädigt") {
			t.Errorf("reissue without the assurance: %d\n%s", code, page)
		}
		code, page, _ = b2.do("GET", status2+"/rueckgabe", nil)
		if code != http.StatusOK || !strings.Contains(page, "Ausweis jetzt zurückgeben") || !strings.Contains(page, "Monaten") {
			t.Errorf("cancellation page: %d\n%s", code, page)
		}
		if code, _, hdr := b2.do("POST", status2+"/rueckgabe", url.Values{}); code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), status2) {
			t.Fatalf("cancellation: %d → %q", code, hdr.Get("Location"))
		}
		_, page, _ = b2.do("GET", status2, nil)
		if !strings.Contains(page, "zurückgegeben; er gilt nicht mehr") || strings.Contains(page, `href="`+status2+`/aendern"`) {
			t.Errorf("status page after the cancellation:\n%s", page)
		}
	}, sets...)
}

// A citizen without the link opens the status page with reference and code.
func TestStatusLookupPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		srv := f.pageServer(t)
		rec, err := f.svc.Submit(f.ctx, "110000000000", f.form(f.byExp[registers.ExpectEligible]), "")
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, srv.URL)
		if code, page, _ := b.do("GET", "/bewohnerparken/status", nil); code != http.StatusOK || !strings.Contains(page, `name="reference"`) {
			t.Fatalf("lookup page: %d\n%s", code, page)
		}
		for _, bad := range []url.Values{
			{"reference": {"nonsense"}, "access_code": {rec.AccessCode}},
			{"reference": {rec.Reference}, "access_code": {"FALSCH1234"}},
		} {
			if code, page, _ := b.do("POST", "/bewohnerparken/status", bad); code != http.StatusUnprocessableEntity || !strings.Contains(page, "Eingangsbestätigung") {
				t.Errorf("lookup with %v: %d\n%s", bad, code, page)
			}
		}
		code, _, hdr := b.do("POST", "/bewohnerparken/status", url.Values{"reference": {strings.ToLower(rec.Reference)}, "access_code": {rec.AccessCode}})
		if code != http.StatusSeeOther || hdr.Get("Location") != "/bewohnerparken/status/"+rec.Reference || strings.Contains(hdr.Get("Location"), rec.AccessCode) {
			t.Fatalf("lookup: %d → %q", code, hdr.Get("Location"))
		}
		if _, page, _ := b.do("GET", hdr.Get("Location"), nil); !strings.Contains(page, "Stand Ihres Antrags") || strings.Contains(page, `name="access_code"`) {
			t.Errorf("status page after the lookup asks for the code again:\n%s", page)
		}
	}, sets...)
}
