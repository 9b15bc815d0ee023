package parking_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/payment"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// updatedRegisters plays the registration office and the vehicle register
// after the citizen has moved or bought a car: answers for the new address
// and the new plate, everything else from the demo registers.
type updatedRegisters struct {
	registers.Residence
	registers.Vehicles

	mu      sync.Mutex
	movedTo map[string]registers.AddressRef // by family name
	cars    map[string]registers.Person     // new plate → holder
	asked   int                             // questions to either register
}

func (u *updatedRegisters) CheckResidence(ctx context.Context, p registers.Purpose, who registers.Person, at registers.AddressRef) (registers.ResidenceAnswer, error) {
	u.mu.Lock()
	u.asked++
	to, ok := u.movedTo[who.FamilyName]
	u.mu.Unlock()
	if ok && to.Street == at.Street && to.HouseNumber == at.HouseNumber {
		return registers.ResidenceAnswer{Registered: true, Kind: registers.Hauptwohnsitz, Since: time.Now(), NameMatch: registers.Exact,
			AnsweredAt: time.Now(), Source: "Test: Melderegister nach Ummeldung"}, nil
	}
	return u.Residence.CheckResidence(ctx, p, who, at)
}

func (u *updatedRegisters) CheckVehicle(ctx context.Context, p registers.Purpose, plate string, holder registers.Person) (registers.VehicleAnswer, error) {
	u.mu.Lock()
	u.asked++
	h, ok := u.cars[plate]
	u.mu.Unlock()
	if ok {
		return registers.VehicleAnswer{Found: true, HolderMatches: h.FamilyName == holder.FamilyName, HolderMatch: registers.Exact,
			Class: "M1", LengthMM: 4200, WidthMM: 1800, MassKg: 1500, Fuel: "electric", AnsweredAt: time.Now(), Source: "Test: Fahrzeugregister nach Zulassung"}, nil
	}
	return u.Vehicles.CheckVehicle(ctx, p, plate, holder)
}

func (u *updatedRegisters) questions() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.asked
}

// changeFixture is the parking fixture with updatedRegisters and Berlin's
// fee schedule given a change fee, a replacement fee and a refund rule
// (Berlin's real schedule has none of them).
func changeFixture(t *testing.T, db *store.DB, changeCents, replacementCents int64, refund string) (*fixture, *recordingProvider, *updatedRegisters) {
	u := &updatedRegisters{movedTo: map[string]registers.AddressRef{}, cars: map[string]registers.Person{}}
	f, prov := newFixture(t, db, func(o *parking.Options) {
		u.Residence, u.Vehicles = o.Registers.Residence, o.Registers.Vehicles
		o.Registers.Residence, o.Registers.Vehicles = u, u
		fees := &o.Configs[demo.Berlin.ARS].Fees[len(o.Configs[demo.Berlin.ARS].Fees)-1]
		fees.ChangeCents, fees.ReplacementCents, fees.RefundRule = changeCents, replacementCents, refund
	})
	return f, prov, u
}

func TestChangeOfVehicleIsFreeInBerlinAndReplacesThePermit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov, u := changeFixture(t, db, 0, 0, rules.RefundNone)
		r := f.byExp[registers.ExpectEligible]
		first := f.issue(t, r, prov)
		old, _ := f.svc.Get(f.ctx, first.Reference, first.AccessCode)
		oldPermit := *old.Permit
		u.cars["B-NE 4711E"] = r.Person

		// Nothing changed: refused, naming the plate field.
		if _, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, f.form(r), ""); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "plate" {
			t.Fatalf("change without a change = %v, want Invalid on plate", err)
		}
		// Another person: refused.
		other := f.byExp[registers.ExpectBlocked]
		form := f.form(other)
		form.Plate = "B-NE 4711E"
		if _, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, form, ""); !errs.Is(err, errs.Invalid) {
			t.Errorf("change by another person = %v, want Invalid", err)
		}
		if _, err := f.svc.Change(f.ctx, first.Reference, "FALSCH1234", form, ""); !errs.Is(err, errs.NotFound) {
			t.Errorf("change with a wrong access code = %v, want NotFound", err)
		}
		// The prefilled form carries the earlier answers, not the declarations.
		if _, pre, err := f.svc.Changeable(f.ctx, first.Reference, first.AccessCode); err != nil || pre.Plate != oldPermit.Plate || pre.Truthful {
			t.Errorf("Changeable = %+v, %v; want the earlier form without declarations", pre, err)
		}

		form = f.form(r)
		form.Plate = "b ne 4711 e"
		rec, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, form, "change-1")
		if err != nil || !rec.Created {
			t.Fatalf("Change = %+v, %v", rec, err)
		}
		again, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, form, "change-1")
		if err != nil || again.Reference != rec.Reference || again.Created {
			t.Errorf("retried change = %+v, %v; want the same application", again, err)
		}
		// No change fee in Berlin: issued in the transaction of the decision.
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Issued })
		if a.Kind != parking.KindChange || a.ReplacesPermit != oldPermit.Number || a.FeeCents == nil || *a.FeeCents != 0 {
			t.Fatalf("change: kind %s replaces %q fee %v; want change of %s, free", a.Kind, a.ReplacesPermit, a.FeeCents, oldPermit.Number)
		}
		if res := resultOf(a, rules.RulePermitsPerPerson); res.Verdict != rules.Pass {
			t.Errorf("%s on a change = %+v, want pass (the replaced permit does not count)", rules.RulePermitsPerPerson, res)
		}
		p := a.Permit
		if p.Plate != "B-NE 4711E" || !p.ValidUntil.Equal(oldPermit.ValidUntil) || p.Number == oldPermit.Number || p.Status != "active" {
			t.Errorf("new permit %+v; want plate B-NE 4711E until %s", p, germanDay(oldPermit.ValidUntil))
		}
		// The old permit ended, its QR code shows as not valid, and no
		// further change of it is possible.
		old, _ = f.svc.Get(f.ctx, first.Reference, first.AccessCode)
		if old.Permit.Status != "revoked" || old.Permit.EndReason != "replaced" || old.Permit.ReplacedBy != p.Number {
			t.Errorf("old permit after the change: %+v", old.Permit)
		}
		if v := f.svc.Verify(f.ctx, oldPermit.Token); v.Valid || !strings.Contains(v.Problem, "ersetzt") {
			t.Errorf("Verify(old token) = %+v, want not valid, replaced", v)
		}
		if v := f.svc.Verify(f.ctx, p.Token); !v.Valid {
			t.Errorf("Verify(new token) = %+v, want valid", v)
		}
		if _, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, form, ""); !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), p.Number) {
			t.Errorf("change of the replaced permit = %v, want a Conflict naming %s", err, p.Number)
		}
		// The e-mail says the old permit is void.
		ms := f.mails(t, rec.Reference)
		if len(ms) == 0 || !strings.Contains(ms[len(ms)-1].Body, oldPermit.Number) {
			t.Errorf("issued mail of the change does not name the old permit: %+v", ms)
		}
	}, sets...)
}

func TestMoveIsCheckedPricedAndPaid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov, u := changeFixture(t, db, 1500, 0, rules.RefundNone)
		r := f.byExp[registers.ExpectEligible]
		first := f.issue(t, r, prov)
		old, _ := f.svc.Get(f.ctx, first.Reference, first.AccessCode)
		// The new home: the address of another demo resident, in another zone.
		var to registers.DemoResident
		for _, o := range f.regs.Residents()[:60] {
			if o.Address.Postcode != "" && o.Address.Street != r.Address.Street {
				if zs := zonesOf(t, f, o); len(zs) > 0 && zs[0] != old.Permit.ZoneID {
					to = o
					break
				}
			}
		}
		if to.No == 0 {
			t.Fatal("no demo address in another zone among the fixture's addresses")
		}
		form := f.form(r)
		form.Address = to.Address.Street + " " + to.Address.HouseNumber + ", " + to.Address.Postcode

		// Not yet re-registered: the registration office does not confirm
		// the new address, so the change goes to a clerk, not to automation.
		rec, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, form, "")
		if err != nil {
			t.Fatal(err)
		}
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Reasons: "Nicht unter der neuen Anschrift gemeldet.", Clerk: "clerk:test"}); err != nil {
			t.Fatal(err)
		}
		if cur, _ := f.svc.Get(f.ctx, first.Reference, first.AccessCode); cur.Permit.Status != "active" {
			t.Fatalf("a rejected change ended the permit: %+v", cur.Permit)
		}

		// Re-registered: approved with the change fee, paid, issued in the new zone.
		u.movedTo[r.Person.FamilyName] = registers.AddressRef{Street: to.Address.Street, HouseNumber: to.Address.HouseNumber, Postcode: to.Address.Postcode}
		rec, err = f.svc.Change(f.ctx, first.Reference, first.AccessCode, form, "")
		if err != nil {
			t.Fatal(err)
		}
		a = f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Kassenzeichen != "" || a.Status == parking.Review })
		if a.Status != parking.Approved || a.FeeCents == nil || *a.FeeCents != 1500 {
			t.Fatalf("move after re-registration: %s, fee %v; want approved at 15,00 € (%+v)", a.Status, a.FeeCents, a.Outcome)
		}
		f.pay(t, rec, prov)
		a, _ = f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		if a.Permit == nil || a.Permit.ZoneID == old.Permit.ZoneID || !a.Permit.ValidUntil.Equal(old.Permit.ValidUntil) {
			t.Fatalf("permit after the move: %+v; want another zone than %s, until %s", a.Permit, old.Permit.ZoneID, germanDay(old.Permit.ValidUntil))
		}
		// The replacement carries the paid term: a cancellation refunds from it.
		if a.Permit.TermFeeCents != old.Permit.TermFeeCents || !a.Permit.TermFrom.Equal(old.Permit.TermFrom) {
			t.Errorf("term of the replacement: %d from %s; want %d from %s", a.Permit.TermFeeCents, a.Permit.TermFrom, old.Permit.TermFeeCents, old.Permit.TermFrom)
		}
	}, sets...)
}

// zonesOf returns the zone IDs of a resident's address.
func zonesOf(t *testing.T, f *fixture, r registers.DemoResident) []string {
	t.Helper()
	res, err := f.geo.LookupAddress(f.ctx, demo.Berlin.ARS, r.Address.Street+" "+r.Address.HouseNumber+", "+r.Address.Postcode)
	if err != nil || res.Found == nil {
		return nil
	}
	var out []string
	for _, z := range res.Zones {
		out = append(out, z.ID)
	}
	return out
}

func TestReissueAfterLoss(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov, u := changeFixture(t, db, 0, 2500, rules.RefundNone)
		r := f.byExp[registers.ExpectEligible]
		first := f.issue(t, r, prov)
		old, _ := f.svc.Get(f.ctx, first.Reference, first.AccessCode)

		if _, err := f.svc.Reissue(f.ctx, first.Reference, first.AccessCode, false, ""); !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "declared" {
			t.Fatalf("reissue without the assurance = %v, want Invalid on declared", err)
		}
		asked := u.questions()
		rec, err := f.svc.Reissue(f.ctx, first.Reference, first.AccessCode, true, "lost-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Reissue(f.ctx, first.Reference, first.AccessCode, true, "lost-2"); !errs.Is(err, errs.Conflict) {
			t.Errorf("second reissue while one is open = %v, want Conflict", err)
		}
		if _, _, err := f.svc.CancellationQuote(f.ctx, first.Reference, first.AccessCode); !errs.Is(err, errs.Conflict) {
			t.Errorf("cancellation while a reissue is open = %v, want Conflict", err)
		}
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Kassenzeichen != "" })
		if a.Status != parking.Approved || *a.FeeCents != 2500 || a.Kind != parking.KindReissue {
			t.Fatalf("reissue: %s %s fee %v; want an approved reissue at 25,00 €", a.Kind, a.Status, a.FeeCents)
		}
		if n := u.questions(); n != asked {
			t.Errorf("the reissue asked the registers %d times; it decides nothing new", n-asked)
		}
		f.pay(t, rec, prov)
		a, _ = f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		p, q := a.Permit, old.Permit
		if p.Number == q.Number || p.Plate != q.Plate || p.ZoneID != q.ZoneID || !p.ValidUntil.Equal(q.ValidUntil) {
			t.Errorf("reissued permit %+v, old %+v; want a new number with the same data", p, q)
		}
		if v := f.svc.Verify(f.ctx, q.Token); v.Valid {
			t.Errorf("the lost permit's QR code still verifies: %+v", v)
		}
		if v := f.svc.Verify(f.ctx, p.Token); !v.Valid {
			t.Errorf("the replacement's QR code does not verify: %+v", v)
		}
	}, sets...)
}

func TestCancellationRefundsMonthsNotBegun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov, _ := changeFixture(t, db, 0, 0, rules.RefundProRataMonths)
		r := f.byExp[registers.ExpectEligible]
		first := f.issue(t, r, prov)
		a, _ := f.svc.Get(f.ctx, first.Reference, first.AccessCode)
		p := *a.Permit
		// Five months and a day later: months 1–6 of 24 have begun.
		f.clock.setDay(p.ValidFrom.AddDate(0, 5, 1))
		_, q, err := f.svc.CancellationQuote(f.ctx, first.Reference, first.AccessCode)
		want := *a.FeeCents * 18 / 24
		if err != nil || q.RefundCents != want {
			t.Fatalf("quote = %+v, %v; want %d cents", q, err, want)
		}
		c, err := f.svc.Cancel(f.ctx, first.Reference, first.AccessCode)
		if err != nil || c.RefundCents != want || !c.EndedOn.Equal(f.clock.today()) {
			t.Fatalf("Cancel = %+v, %v", c, err)
		}
		// A retried cancellation answers with the same one.
		if again, err := f.svc.Cancel(f.ctx, first.Reference, first.AccessCode); err != nil || again.RefundCents != want {
			t.Errorf("retried Cancel = %+v, %v", again, err)
		}
		// The refund is ordered at the treasury by a job.
		deadline := time.Now().Add(30 * time.Second)
		for {
			a, _ = f.svc.Get(f.ctx, first.Reference, first.AccessCode)
			c, err := f.svc.Refund(f.ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if c != nil && c.Status == "booked" {
				if !strings.HasPrefix(c.Booking, "AZ-") {
					t.Errorf("booking %q", c.Booking)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("refund not booked: %+v", c)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if a.Permit.Status != "revoked" || a.Permit.EndReason != "cancelled" {
			t.Errorf("permit after cancellation: %+v", a.Permit)
		}
		if v := f.svc.Verify(f.ctx, p.Token); v.Valid || !strings.Contains(v.Problem, "zurückgegeben") {
			t.Errorf("Verify after cancellation = %+v", v)
		}
		if _, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, f.form(r), ""); !errs.Is(err, errs.Conflict) {
			t.Errorf("change of a cancelled permit = %v, want Conflict", err)
		}
		// The plate is free again: a new application can be issued.
		second := f.issue(t, r, prov)
		if b, _ := f.svc.Get(f.ctx, second.Reference, second.AccessCode); b.Permit == nil || b.Permit.Status != "active" {
			t.Errorf("new permit after the cancellation: %+v", b.Permit)
		}
	}, sets...)
}

func TestCancellationWithoutRefundRule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov, _ := changeFixture(t, db, 0, 0, rules.RefundNone)
		r := f.byExp[registers.ExpectEligible]
		first := f.issue(t, r, prov)
		c, err := f.svc.Cancel(f.ctx, first.Reference, first.AccessCode)
		if err != nil || c.RefundCents != 0 || !strings.Contains(c.RefundRule, "Keine Erstattung") {
			t.Fatalf("Cancel = %+v, %v; want no refund", c, err)
		}
		var n int
		if err := db.Read().QueryRow(`SELECT count(*) FROM parking_refunds`).Scan(&n); err != nil || n != 0 {
			t.Errorf("refund rows = %d, %v; want none", n, err)
		}
		ms := f.mails(t, first.Reference)
		if len(ms) == 0 || !strings.Contains(ms[len(ms)-1].Body, "nicht vorgesehen") {
			t.Errorf("cancellation mail: %+v", ms)
		}
	}, sets...)
}

// A change of plate and a renewal of the same permit do not run at once
// (the renewal would be issued on the old plate); a change after an issued
// renewal tells the citizen that the follow-on permit keeps the old plate.
func TestChangeAndRenewalDoNotCross(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov, u := changeFixture(t, db, 0, 0, rules.RefundNone)
		res := f.eligibleResidents()
		if len(res) < 2 {
			t.Fatal("fewer than two eligible demo residents")
		}
		r, s := res[0], res[1]
		first := f.issue(t, r, prov)
		second := f.issue(t, s, prov)
		a, _ := f.svc.Get(f.ctx, first.Reference, first.AccessCode)
		f.clock.setDay(a.Permit.ValidUntil.AddDate(0, 0, -berlinWindow))

		// A renewal not yet decided: a change is refused, naming it.
		ren, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, f.form(r), "")
		if err != nil {
			t.Fatal(err)
		}
		form := f.form(r)
		form.Plate = "B-NE 4712E"
		u.cars["B-NE 4712E"] = r.Person
		if _, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, form, ""); !errs.Is(err, errs.Conflict) ||
			!strings.Contains(errs.MessageOf(err), ren.Reference) || !strings.Contains(errs.MessageOf(err), "noch nicht entschieden") {
			t.Errorf("change beside an open renewal = %v, want a Conflict naming %s", err, ren.Reference)
		}
		// Once the renewal is issued the change goes through, and says the
		// follow-on permit keeps the old plate.
		f.pay(t, ren, prov)
		rec, err := f.svc.Change(f.ctx, first.Reference, first.AccessCode, form, "")
		if err != nil {
			t.Fatalf("change after the renewal was issued = %v", err)
		}
		f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Issued })
		ms := f.mails(t, rec.Reference)
		if len(ms) == 0 || !strings.Contains(ms[len(ms)-1].Body, "bereits verlängert (Aktenzeichen "+ren.Reference+")") {
			t.Errorf("issued mail of the change does not point to the renewal %s: %+v", ren.Reference, ms)
		}
		if rn, _ := f.svc.Get(f.ctx, ren.Reference, ren.AccessCode); rn.Permit == nil || rn.Permit.Plate != a.Permit.Plate || rn.Permit.Status != "active" {
			t.Errorf("renewal permit after the change: %+v, want it unchanged on %s", rn.Permit, a.Permit.Plate)
		}
		// The follow-on permit is changed the same way, from its own status
		// page: neither permit counts against the other (they do not overlap).
		rec2, err := f.svc.Change(f.ctx, ren.Reference, ren.AccessCode, form, "")
		if err != nil {
			t.Fatalf("change of the renewal permit = %v", err)
		}
		c2 := f.wait(t, rec2.Reference, rec2.AccessCode, func(a parking.Application) bool { return a.Status == parking.Issued })
		if rn, _ := f.svc.Get(f.ctx, ren.Reference, ren.AccessCode); c2.Permit.Plate != "B-NE 4712E" || !c2.Permit.ValidFrom.Equal(rn.Permit.ValidFrom) ||
			!c2.Permit.ValidUntil.Equal(rn.Permit.ValidUntil) {
			t.Errorf("changed renewal permit %+v; want B-NE 4712E for the renewal's term %s–%s", c2.Permit, germanDay(rn.Permit.ValidFrom), germanDay(rn.Permit.ValidUntil))
		}

		// A change in review: a renewal is refused until it is decided.
		form = f.form(s)
		form.Plate = "B-XX 1" // unknown to the vehicle register: review
		chg, err := f.svc.Change(f.ctx, second.Reference, second.AccessCode, form, "")
		if err != nil {
			t.Fatal(err)
		}
		f.wait(t, chg.Reference, chg.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		if _, err := f.svc.Renew(f.ctx, second.Reference, second.AccessCode, f.form(s), ""); !errs.Is(err, errs.Conflict) ||
			!strings.Contains(errs.MessageOf(err), chg.Reference) {
			t.Errorf("renewal beside an open change = %v, want a Conflict naming %s", err, chg.Reference)
		}
		// The replaced permit is renewed no more.
		if _, err := f.svc.Renew(f.ctx, first.Reference, first.AccessCode, f.form(r), ""); !errs.Is(err, errs.Conflict) {
			t.Errorf("renewal of a replaced permit = %v, want Conflict", err)
		}
	}, sets...)
}

// A reissue paid after the permit it replaces expired issues nothing and
// loses nothing: the payment is recorded and a clerk settles the case (no
// approval, which would charge again); a payment begun after the expiry is
// refused.
func TestPaidReissueOfAnExpiredPermitGoesToAClerk(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov, _ := changeFixture(t, db, 0, 2000, rules.RefundNone)
		r := f.byExp[registers.ExpectEligible]
		first := f.issue(t, r, prov)
		a, _ := f.svc.Get(f.ctx, first.Reference, first.AccessCode)
		last := a.Permit.ValidUntil

		f.clock.setDay(last)
		rec, err := f.svc.Reissue(f.ctx, first.Reference, first.AccessCode, true, "")
		if err != nil {
			t.Fatal(err)
		}
		pay := f.startPayment(t, rec, prov)

		f.clock.setDay(last.AddDate(0, 0, 1))
		if _, err := f.svc.StartPayment(f.ctx, rec.Reference, rec.AccessCode); !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "abgelaufen") {
			t.Errorf("payment begun after the expiry = %v, want a Conflict: expired", err)
		}
		if err := f.callback(t, "evt_"+pay.ID, pay.ID, payment.Paid, pay.AmountCents, f.clock.Now()); err != nil {
			t.Fatalf("callback of the payment begun before midnight = %v, want it recorded", err)
		}
		got, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		if got.Status != parking.Review || got.Permit != nil || !strings.Contains(got.Events[len(got.Events)-1].Note, "Erstattung") {
			t.Fatalf("paid reissue of an expired permit: %s, permit %+v, events %+v; want review without a permit", got.Status, got.Permit, got.Events)
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Approve: true, Clerk: "clerk:test"}); !errs.Is(err, errs.Conflict) {
			t.Errorf("approval of the paid case = %v, want Conflict", err)
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Reasons: "Der Ausweis ist abgelaufen; die Gebühr wird erstattet.", Clerk: "clerk:test"}); err != nil {
			t.Errorf("rejection of the paid case = %v", err)
		}
	}, sets...)
}
