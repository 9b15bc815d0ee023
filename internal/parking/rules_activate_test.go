package parking_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// withFees returns Berlin's configuration in force plus a fee version
// from day on whose every tier costs factor times as much; with past set,
// the version in force is changed instead.
func withFees(t *testing.T, day time.Time, factor int64, past bool) []byte {
	t.Helper()
	all, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := all[demo.Berlin.ARS].MarshalJSON()
	cfg, _, err := rules.Load(bytes.NewReader(b)) // a deep copy
	if err != nil {
		t.Fatal(err)
	}
	if past {
		for i := range cfg.Fees[len(cfg.Fees)-1].Tiers {
			cfg.Fees[len(cfg.Fees)-1].Tiers[i].AmountCents *= factor
		}
	} else {
		next := cfg.Fees[len(cfg.Fees)-1]
		next.ValidFrom = day
		next.Tiers = append([]rules.FeeTier(nil), next.Tiers...)
		for i := range next.Tiers {
			next.Tiers[i].AmountCents *= factor
		}
		cfg.Fees = append(cfg.Fees, next)
	}
	out, err := cfg.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A new fee version is previewed on recent applications (same facts,
// both configurations), put in force from its day, refused when it would
// change what is in force, audited, and loaded by another instance on
// the same database.
func TestRulesPreviewAndActivation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		for _, exp := range []string{registers.ExpectEligible, registers.ExpectBlocked, registers.ExpectSecondary} {
			rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[exp]), "")
			if err != nil {
				t.Fatal(err)
			}
			f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Outcome != nil })
		}
		before, err := f.svc.Offer(demo.Berlin.ARS)
		if err != nil {
			t.Fatal(err)
		}
		day := f.clock.today().AddDate(0, 0, 10)
		file := withFees(t, day, 2, false)
		next, _, err := rules.Load(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.PreviewRules(f.ctx, demo.Berlin.ARS, next)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Day.Equal(day) || p.Sample != 3 || len(p.Changes) == 0 || p.FeeAfter != 2*p.FeeBefore || p.FeeBefore == 0 {
			t.Fatalf("preview: %+v", p)
		}
		for _, ch := range p.Changes {
			if ch.Before != ch.After || ch.FeeBefore == ch.FeeAfter {
				t.Errorf("a fee change changed a verdict: %+v", ch)
			}
		}

		admin := parking.Clerk{Actor: "staff:admin", Name: "Admin", Municipality: demo.Berlin.ARS}
		// Changing the version in force is refused.
		bad, err := f.svc.SaveRulesDraft(f.ctx, admin, withFees(t, day, 3, true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ActivateRules(f.ctx, admin, bad, ""); !errs.Is(err, errs.Conflict) || !strings.Contains(errs.MessageOf(err), "unverändert") {
			t.Fatalf("activating a change of the version in force: %v", err)
		}
		// Another municipality's file ID is unknown here.
		other := admin
		other.Municipality = "083110000000"
		if _, err := f.svc.ActivateRules(f.ctx, other, bad, ""); !errs.Is(err, errs.NotFound) {
			t.Errorf("another municipality's draft: %v", err)
		}
		id, err := f.svc.SaveRulesDraft(f.ctx, admin, file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ActivateRules(f.ctx, admin, id, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ActivateRules(f.ctx, admin, id, ""); !errs.Is(err, errs.Conflict) {
			t.Errorf("second activation: %v", err)
		}
		var audited int
		db.Read().QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'parking.rules_activated' AND actor = 'staff:admin'`).Scan(&audited)
		if audited != 1 {
			t.Errorf("%d audit entries of the activation, want 1", audited)
		}
		// Today's fees stay; from the new version's day they double.
		now, _ := f.svc.Offer(demo.Berlin.ARS)
		if now.Fees.Tiers[0].AmountCents != before.Fees.Tiers[0].AmountCents {
			t.Errorf("fee today after activation: %d, want %d", now.Fees.Tiers[0].AmountCents, before.Fees.Tiers[0].AmountCents)
		}
		f.clock.advance(10 * 24 * time.Hour)
		later, _ := f.svc.Offer(demo.Berlin.ARS)
		if later.Fees.Tiers[0].AmountCents != 2*before.Fees.Tiers[0].AmountCents {
			t.Errorf("fee from the new version's day: %d, want %d", later.Fees.Tiers[0].AmountCents, 2*before.Fees.Tiers[0].AmountCents)
		}
		// Another instance on the same database starts with the file in force.
		configs, _ := rules.Embedded()
		outbox, err := mail.New(db, mail.Options{Logger: slog.New(slog.DiscardHandler), Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		svc2, err := parking.NewService(context.Background(), parking.Options{DB: db, Configs: configs, Mail: outbox,
			Logger: slog.New(slog.DiscardHandler), Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := svc2.Offer(demo.Berlin.ARS); o.Fees.Tiers[0].AmountCents != 2*before.Fees.Tiers[0].AmountCents {
			t.Errorf("second instance: fee %d, want the activated %d", o.Fees.Tiers[0].AmountCents, 2*before.Fees.Tiers[0].AmountCents)
		}
	}, sets...)
}
