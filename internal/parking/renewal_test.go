package parking_test

import (
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// Berlin's demo rules: renewal from 30 days before the end.
const berlinWindow = 30

func germanDay(t time.Time) string { return t.Format("02.01.2006") }

// eligibleResidents returns the residents among the fixture's first 60
// whom the demo expects to get a permit.
func (f *fixture) eligibleResidents() []registers.DemoResident {
	var out []registers.DemoResident
	for i, r := range f.regs.Residents() {
		if i >= 60 {
			break
		}
		if r.Expect == registers.ExpectEligible {
			out = append(out, r)
		}
	}
	return out
}

func resultOf(a parking.Application, rule string) rules.Result {
	if a.Outcome != nil {
		for _, r := range a.Outcome.Results {
			if r.Rule == rule {
				return r
			}
		}
	}
	return rules.Result{}
}

func TestRenewal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		r := f.byExp[registers.ExpectEligible]
		first := f.issue(t, r, prov)
		old, _ := f.svc.Get(f.ctx, first.Reference, first.AccessCode)
		p := old.Permit
		opens := p.ValidUntil.AddDate(0, 0, -berlinWindow)

		// Too early: a Conflict that names the day renewal opens.
		_, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, f.form(r), "")
		if !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "ab dem "+germanDay(opens)) {
			t.Fatalf("renewal right after issue = %v, want a Conflict naming %s", err, germanDay(opens))
		}
		if info, err := f.svc.Renewal(f.ctx, old); err != nil || !info.Offered || info.Open || !info.From.Equal(opens) {
			t.Errorf("Renewal = %+v, %v; want offered, not open, from %s", info, err, germanDay(opens))
		}
		if _, err := f.svc.Renew(f.ctx, first.Reference, "FALSCH1234", f.form(r), ""); !errs.Is(err, errs.NotFound) {
			t.Errorf("renewal with a wrong access code = %v, want NotFound", err)
		}

		// Without the renewal link, a second application of the same person
		// fails "one permit per person": the rule is in force.
		f.clock.setDay(opens)
		plain, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(r), "")
		if err != nil {
			t.Fatal(err)
		}
		a := f.wait(t, plain.Reference, plain.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		if res := resultOf(a, rules.RulePermitsPerPerson); res.Verdict != rules.Fail {
			t.Fatalf("a second application beside the running permit: %s = %+v, want fail", rules.RulePermitsPerPerson, res)
		}

		// In the window: another plate or another person is refused.
		other := f.byExp[registers.ExpectBlocked]
		form := f.form(r)
		form.Plate = other.Vehicles[0].Plate.String()
		if _, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, form, ""); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "plate" {
			t.Errorf("renewal for another plate = %v, want Invalid on plate", err)
		}
		form = f.form(other)
		form.Plate = p.Plate
		if _, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, form, ""); !errs.Is(err, errs.Invalid) {
			t.Errorf("renewal by another person = %v, want Invalid", err)
		}
		// The page's prefilled form: the earlier answers without the declarations.
		if _, pre, err := f.svc.Renewable(f.ctx, first.Reference, first.AccessCode); err != nil ||
			pre.Plate != p.Plate || pre.Email != "test@example.org" || pre.Truthful || pre.NoOwnSpace {
			t.Errorf("Renewable = %+v, %v; want the earlier form without declarations", pre, err)
		}

		ren, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, f.form(r), "renew-1")
		if err != nil || !ren.Created || ren.Reference == first.Reference {
			t.Fatalf("Renew = %+v, %v; want a new application", ren, err)
		}
		if again, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, f.form(r), "renew-1"); err != nil || again.Reference != ren.Reference || again.Created {
			t.Errorf("retried renewal = %+v, %v; want the same application", again, err)
		}
		if _, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, f.form(r), ""); !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), ren.Reference) {
			t.Errorf("second renewal = %v, want a Conflict naming %s", err, ren.Reference)
		}
		if info, _ := f.svc.Renewal(f.ctx, old); !info.Open || info.Pending != ren.Reference {
			t.Errorf("Renewal after applying = %+v, want open with %s pending", info, ren.Reference)
		}

		// Decided automatically: the renewed permit does not count.
		a = f.wait(t, ren.Reference, ren.AccessCode, func(a parking.Application) bool { return a.Kassenzeichen != "" })
		if a.Status != parking.Approved || a.RenewsPermit != p.Number {
			t.Fatalf("renewal after checks: %s, renews %q; want approved, renewing %s", a.Status, a.RenewsPermit, p.Number)
		}
		if res := resultOf(a, rules.RulePermitsPerPerson); res.Verdict != rules.Pass {
			t.Errorf("%s on the renewal = %+v, want pass", rules.RulePermitsPerPerson, res)
		}
		f.pay(t, ren, prov)
		a, _ = f.svc.Get(f.ctx, ren.Reference, ren.AccessCode)
		np := a.Permit
		if !np.ValidFrom.Equal(p.ValidUntil.AddDate(0, 0, 1)) || !np.ValidUntil.Equal(np.ValidFrom.AddDate(0, 24, -1)) || np.Plate != p.Plate {
			t.Errorf("renewed permit %s–%s for %s; want from %s for 24 months, appended to the old one",
				germanDay(np.ValidFrom), germanDay(np.ValidUntil), np.Plate, germanDay(p.ValidUntil.AddDate(0, 0, 1)))
		}
		// Enforcement sees one permit today and the new one after the old ended.
		key, _ := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleEnforcement, "Scan")
		k, _ := f.svc.Authenticate(f.ctx, "Bearer "+key)
		for _, day := range []time.Time{p.ValidUntil, np.ValidFrom} {
			at := time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, berlin)
			if ans, err := f.svc.Enforce(f.ctx, k, p.Plate, "", at, "Test"); err != nil || !ans.Valid {
				t.Errorf("enforcement on %s = %+v, %v; want valid", germanDay(day), ans, err)
			}
		}

		ms := f.mails(t, ren.Reference)
		if len(ms) != 3 || !strings.Contains(ms[0].Body, "Verlängerung des Bewohnerparkausweises "+p.Number) {
			t.Errorf("mails of the renewal: %d, first:\n%v", len(ms), ms)
		}
		f.noPersonalDataInMails(t, ms, r, ren.AccessCode)

		// After the end: too late.
		f.clock.setDay(p.ValidUntil.AddDate(0, 0, 1))
		if _, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, f.form(r), ""); !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "abgelaufen") {
			t.Errorf("renewal after the end = %v, want a Conflict: expired", err)
		}
	}, sets...)
}

func TestReminders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		rs := f.eligibleResidents()
		if len(rs) < 2 {
			t.Fatalf("only %d eligible residents among the first 60", len(rs))
		}
		renewing, forgetful := rs[0], rs[1]
		recR := f.issue(t, renewing, prov)
		recF := f.issue(t, forgetful, prov)
		a, _ := f.svc.Get(f.ctx, recF.Reference, recF.AccessCode)
		end := a.Permit.ValidUntil
		run := func(day time.Time, want int) {
			t.Helper()
			f.clock.setDay(day)
			if n, err := f.svc.SendReminders(f.ctx); err != nil || n != want {
				t.Errorf("reminders on %s = %d, %v; want %d", germanDay(day), n, err, want)
			}
		}
		reminders := func(ref string) []string {
			var out []string
			for _, m := range f.mails(t, ref) {
				if strings.HasPrefix(m.Subject, "Ihr Bewohnerparkausweis endet") {
					out = append(out, m.Body)
				}
			}
			return out
		}

		run(f.clock.today(), 0)
		run(end.AddDate(0, 0, -31), 0)
		run(end.AddDate(0, 0, -30), 2) // both permits end the same day
		run(end.AddDate(0, 0, -30), 0) // the job ran twice: nothing twice
		run(end.AddDate(0, 0, -29), 0)
		body := reminders(recF.Reference)
		if len(body) != 1 || !strings.Contains(body[0], "gilt noch bis zum "+germanDay(end)) || !strings.Contains(body[0], "jetzt verlängern") ||
			!strings.Contains(body[0], "/bewohnerparken/status/"+recF.Reference) {
			t.Fatalf("30-day reminder: %q", body)
		}
		f.noPersonalDataInMails(t, f.mails(t, recF.Reference), forgetful, recF.AccessCode)

		// One renews; the other forgets. Only the other gets the 7-day reminder.
		ren, err := f.svc.Renew(f.ctx, recR.Reference, recR.AccessCode, f.form(renewing), "")
		if err != nil {
			t.Fatal(err)
		}
		f.pay(t, ren, prov)
		run(end.AddDate(0, 0, -10), 0)
		run(end.AddDate(0, 0, -7), 1)
		run(end.AddDate(0, 0, -7), 0)
		if n := len(reminders(recF.Reference)); n != 2 {
			t.Errorf("the forgetful holder got %d reminders, want 2", n)
		}
		if n := len(reminders(recR.Reference)); n != 1 {
			t.Errorf("the renewing holder got %d reminders, want 1 (none after the renewal)", n)
		}
		var rows int
		db.Read().QueryRowContext(f.ctx, "SELECT count(*) FROM parking_reminders").Scan(&rows)
		if rows != 3 {
			t.Errorf("parking_reminders has %d rows, want 3", rows)
		}
	}, sets...)
}

// A reminder the job missed (the server was down on the day) goes out on
// the next run, once; the 7-day reminder replaces a 30-day one not sent in
// time.
func TestRemindersCatchUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		rec := f.issue(t, f.byExp[registers.ExpectEligible], prov)
		a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		end := a.Permit.ValidUntil
		for _, step := range []struct {
			day  time.Time
			want int
		}{{end.AddDate(0, 0, -6), 1}, {end.AddDate(0, 0, -5), 0}, {end, 0}, {end.AddDate(0, 0, 1), 0}} {
			f.clock.setDay(step.day)
			if n, err := f.svc.SendReminders(f.ctx); err != nil || n != step.want {
				t.Errorf("reminders on %s = %d, %v; want %d", germanDay(step.day), n, err, step.want)
			}
		}
	}, sets...)
}
