package parking_test

import (
	"errors"
	"testing"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// The payment timeout job cancels itself only when its payment is gone. A
// payment it cannot read (the database is away) is tried again: cancelling
// left the application waiting for a payment for good.
func TestPaymentTimeoutRetriesWhenThePaymentCannotBeRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(f.byExp[registers.ExpectEligible]), "")
		if err != nil {
			t.Fatal(err)
		}
		pay := f.startPayment(t, rec, prov)
		var cancel *river.JobCancelError

		// The table cannot be read: an error that is not NotFound, as a
		// lost connection or a restarting database gives.
		storetest.Exec(t, db, `ALTER TABLE parking_payments RENAME TO parking_payments_away`)
		err = parking.ExpirePayment(f.ctx, f.svc, pay.ID)
		storetest.Exec(t, db, `ALTER TABLE parking_payments_away RENAME TO parking_payments`)
		if err == nil || errors.As(err, &cancel) {
			t.Fatalf("payment not readable: job returned %v, want an error River retries (not a cancel)", err)
		}
		if a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode); a.Status != parking.AwaitingPayment {
			t.Fatalf("after the failed attempt: %s, want %s", a.Status, parking.AwaitingPayment)
		}

		// A payment that does not exist: cancelled, there is nothing to release.
		err = parking.ExpirePayment(f.ctx, f.svc, "pay_does_not_exist")
		if !errors.As(err, &cancel) || !errs.Is(err, errs.NotFound) {
			t.Errorf("missing payment: job returned %v, want a cancel of a NotFound", err)
		}

		// The retry, with the database back, releases the application.
		if err := parking.ExpirePayment(f.ctx, f.svc, pay.ID); err != nil {
			t.Fatalf("retry = %v, want nil", err)
		}
		if a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode); a.Status != parking.Approved {
			t.Errorf("after the retry: %s, want %s", a.Status, parking.Approved)
		}
	}, sets...)
}
