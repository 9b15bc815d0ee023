package parking_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"crypto/ecdsa"
	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/payment"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
	"opencode.de/rathaus/rathaus/internal/vault"
)

// fixture is a complete parking service on a fresh database: Berlin's real
// zones, the addresses of the first demo residents, demo registers, a test
// payment provider whose callbacks the test signs itself.
type fixture struct {
	db     *store.DB
	svc    *parking.Service
	regs   *registers.Demo
	secret []byte
	signer *documents.Signer
	ctx    context.Context
	byExp  map[string]registers.DemoResident
	clock  *testClock
	outbox *mail.Outbox
	geo    *geo.Service
}

// testClock is the service's clock: real time plus an offset the test sets.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// setDay moves the clock to noon (Berlin) of day, a date as UTC midnight.
func (c *testClock) setDay(day time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, berlin))
}

// today is the legal date of the clock, as UTC midnight (like the service's).
func (c *testClock) today() time.Time {
	y, m, d := c.Now().In(berlin).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

var berlin, _ = time.LoadLocation("Europe/Berlin")

var (
	demoOnce sync.Once
	allAddrs []geo.Address
)

func population(t *testing.T) *registers.Demo {
	demoOnce.Do(func() {
		var err error
		allAddrs, err = demo.AddressesInZones()
		if err != nil {
			t.Fatal(err)
		}
	})
	return registers.NewDemo(2026, allAddrs)
}

// recordingProvider is the test provider's signature scheme without its
// HTTP round trip: the test plays the provider's server.
type recordingProvider struct {
	secret []byte
	mu     sync.Mutex
	starts []payment.Payment
}

func (p *recordingProvider) Name() string { return "testzahlung" }
func (p *recordingProvider) Start(ctx context.Context, pay payment.Payment) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts = append(p.starts, pay)
	return "https://zahlung.example/" + pay.ID, nil
}
func (p *recordingProvider) Verify(h http.Header, body []byte, now time.Time) (payment.Event, error) {
	if err := payment.VerifySignature(p.secret, h.Get(payment.SignatureHeader), body, now); err != nil {
		return payment.Event{}, err
	}
	return payment.DecodeEvent(body)
}
func (p *recordingProvider) last() payment.Payment {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts[len(p.starts)-1]
}

// newFixture builds the service on db; opts may change its options (a
// test replaces a register with its own double).
func newFixture(t *testing.T, db *store.DB, opts ...func(*parking.Options)) (*fixture, *recordingProvider) {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	if _, err := jobs.Migrate(ctx, db, logger); err != nil {
		t.Fatal(err)
	}
	if err := db.Transact(ctx, func(tx *sql.Tx) error { return tenant.Ensure(ctx, tx, demo.Berlin) }); err != nil {
		t.Fatal(err)
	}
	regs := population(t)
	geoSvc := geo.NewService(db, nil, logger)
	geoSvc.RefreshInterval = 0
	if _, err := geoSvc.ImportZones(ctx, demo.Berlin.ARS, bytes.NewReader(demo.Zones()), "test", demo.ZonesValidFrom); err != nil {
		t.Fatal(err)
	}
	configs, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := documents.GenerateKey()
	signer, _ := documents.NewSigner(key, documents.KeyID(&key.PublicKey))
	verifier, _ := documents.NewVerifier(map[string]*ecdsa.PublicKey{signer.KeyID(): &key.PublicKey})
	prov := &recordingProvider{secret: []byte("test-secret")}
	clock := &testClock{}
	outbox, err := mail.New(db, mail.Options{Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	o := parking.Options{DB: db, Geo: geoSvc, Configs: configs, Signer: signer, Verifier: verifier,
		Payments: prov, Mail: outbox, Logger: logger, BaseURL: "http://rathaus.test", Demo: true, Now: clock.Now,
		Registers: parking.Registers{Residence: regs.Residence(), Vehicles: regs.Vehicles(), Treasury: regs.Treasury()}}
	for _, opt := range opts {
		opt(&o)
	}
	svc, err := parking.NewService(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	w := river.NewWorkers()
	geoSvc.Register(w)
	svc.Register(w)
	outbox.Register(w)
	client, err := jobs.New(db, w, logger, jobs.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	geoSvc.SetJobs(client)
	svc.SetJobs(client)
	outbox.SetJobs(client)
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		client.Stop(c)
	})
	// The address register: the addresses of the first 60 demo residents.
	f := &fixture{db: db, svc: svc, regs: regs, secret: prov.secret, signer: signer, ctx: ctx, byExp: map[string]registers.DemoResident{}, clock: clock, outbox: outbox, geo: geoSvc}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write([]string{"street", "housenumber", "postcode", "lon", "lat"})
	for i, r := range regs.Residents() {
		if i >= 60 {
			break
		}
		if _, ok := f.byExp[r.Expect]; !ok {
			f.byExp[r.Expect] = r
		}
		a := r.Address
		cw.Write([]string{a.Street, a.HouseNumber, a.Postcode, fmt.Sprint(a.Point.Lon), fmt.Sprint(a.Point.Lat)})
	}
	cw.Flush()
	id, err := geoSvc.EnqueueAddressImport(ctx, demo.Berlin.ARS, buf.Bytes(), "test.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Wait(ctx, geoSvc, id, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	return f, prov
}

func (f *fixture) form(r registers.DemoResident) parking.Form {
	return parking.Form{
		GivenNames: r.Person.GivenNames, FamilyName: r.Person.FamilyName, BirthDate: r.Person.BirthDate.Format("2006-01-02"),
		Address: r.Address.Street + " " + r.Address.HouseNumber + ", " + r.Address.Postcode, Plate: r.Vehicles[0].Plate.String(),
		Relation: parking.Holder, DurationMonths: 24, NoOwnSpace: true, Email: "test@example.org", Truthful: true,
	}
}

// wait polls the application until cond holds.
func (f *fixture) wait(t *testing.T, ref, code string, cond func(parking.Application) bool) parking.Application {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, err := f.svc.Get(f.ctx, ref, code)
		if err != nil {
			t.Fatal(err)
		}
		if cond(a) {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("application %s stuck in %s: %+v", ref, a.Status, a.Outcome)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fixture) callback(t *testing.T, eventID, paymentID string, outcome payment.Outcome, amount int64, at time.Time) error {
	t.Helper()
	body, _ := json.Marshal(payment.Event{ID: eventID, PaymentID: paymentID, Outcome: outcome, Amount: amount, At: at})
	h := http.Header{}
	h.Set(payment.SignatureHeader, payment.Sign(f.secret, body, at))
	return f.svc.HandleCallback(f.ctx, "testzahlung", h, body)
}

func TestEligibleResidentGetsPermit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		r, ok := f.byExp[registers.ExpectEligible]
		if !ok {
			t.Fatal("no eligible resident among the first 60")
		}
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(r), "key-1")
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Created || rec.Reference == "" || len(rec.AccessCode) != 10 {
			t.Fatalf("receipt %+v", rec)
		}
		// A retried submit with the same key returns the same application.
		again, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(r), "key-1")
		if err != nil || again.Reference != rec.Reference || again.Created || again.AccessCode != rec.AccessCode {
			t.Fatalf("retry = %+v, %v; want the same application", again, err)
		}
		other := f.form(r)
		other.DurationMonths = 24
		other.Email = "anders@example.org"
		if _, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, other, "key-1"); !errs.Is(err, errs.Conflict) {
			t.Errorf("same key, other body = %v, want Conflict", err)
		}
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Kassenzeichen != "" })
		if a.Status != parking.Approved || a.Outcome == nil || !a.Outcome.Automatic || a.FeeCents == nil || *a.FeeCents != 2040 {
			t.Fatalf("after checks: %s, outcome %+v, fee %v; want automatically approved at 20,40 €", a.Status, a.Outcome, a.FeeCents)
		}
		for _, res := range a.Outcome.Results {
			if res.Source == "" || res.Rule == "" {
				t.Errorf("rule result without rule or source: %+v", res)
			}
		}
		if _, err := f.svc.Get(f.ctx, rec.Reference, "WRONGCODE1"); !errs.Is(err, errs.NotFound) {
			t.Errorf("wrong access code = %v, want NotFound", err)
		}

		url, err := f.svc.StartPayment(f.ctx, rec.Reference, rec.AccessCode)
		if err != nil || !strings.HasPrefix(url, "https://zahlung.example/") {
			t.Fatalf("StartPayment = %q, %v", url, err)
		}
		pay := prov.last()
		now := time.Now()
		// Forged and stale callbacks change nothing.
		body, _ := json.Marshal(payment.Event{ID: "evt_forged", PaymentID: pay.ID, Outcome: payment.Paid, Amount: pay.AmountCents, At: now})
		h := http.Header{}
		h.Set(payment.SignatureHeader, payment.Sign([]byte("wrong"), body, now))
		if err := f.svc.HandleCallback(f.ctx, "testzahlung", h, body); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("forged callback = %v, want Unauthenticated", err)
		}
		if err := f.callback(t, "evt_old", pay.ID, payment.Paid, pay.AmountCents, now.Add(-10*time.Minute)); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("stale callback = %v, want Unauthenticated", err)
		}
		if err := f.callback(t, "evt_amount", pay.ID, payment.Paid, 1, now); err == nil {
			t.Error("callback with a wrong amount accepted")
		}
		if err := f.callback(t, "evt_unknown", "pay_unknown", payment.Paid, 2040, now); err != nil {
			t.Errorf("callback for an unknown payment = %v, want accepted and ignored", err)
		}
		if a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode); a.Status != parking.AwaitingPayment || a.Permit != nil {
			t.Fatalf("after bad callbacks: %s, permit %v", a.Status, a.Permit)
		}
		if err := f.callback(t, "evt_paid", pay.ID, payment.Paid, pay.AmountCents, now); err != nil {
			t.Fatal(err)
		}
		if err := f.callback(t, "evt_paid", pay.ID, payment.Paid, pay.AmountCents, now); err != nil {
			t.Errorf("replayed callback = %v, want accepted and ignored", err)
		}
		a, _ = f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		if a.Status != parking.Issued || a.Permit == nil {
			t.Fatalf("after payment: %s, permit %v", a.Status, a.Permit)
		}
		p := a.Permit
		if p.Plate != r.Vehicles[0].Plate.String() || !p.ValidUntil.Equal(p.ValidFrom.AddDate(0, 24, -1)) {
			t.Errorf("permit %+v", p)
		}
		var statuses []parking.Status
		for _, e := range a.Events {
			statuses = append(statuses, e.To)
		}
		want := []parking.Status{parking.Received, parking.Checking, parking.Approved, parking.AwaitingPayment, parking.Issued}
		if fmt.Sprint(statuses) != fmt.Sprint(want) {
			t.Errorf("history %v, want %v", statuses, want)
		}
		// The QR token verifies, and the PDF renders.
		v := f.svc.Verify(f.ctx, p.Token)
		if !v.Valid || v.Claims.Plate != p.Plate {
			t.Errorf("Verify = %+v", v)
		}
		if v := f.svc.Verify(f.ctx, p.Token[:len(p.Token)-3]+"AAA"); v.Valid {
			t.Error("a tampered token verified")
		}
		var pdf bytes.Buffer
		if err := f.svc.RenderPermit(&pdf, a); err != nil || !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) {
			t.Errorf("RenderPermit: %v", err)
		}
		// Enforcement sees it: valid in its zone, not in another.
		key, err := f.svc.CreateAPIKey(f.ctx, demo.Berlin.ARS, parking.RoleEnforcement, "Scan 1")
		if err != nil {
			t.Fatal(err)
		}
		k, err := f.svc.Authenticate(f.ctx, "Bearer "+key)
		if err != nil {
			t.Fatal(err)
		}
		ans, err := f.svc.Enforce(f.ctx, k, strings.ToLower(p.Plate), strings.Split(p.ZoneID, ",")[0], time.Time{}, "Test")
		if err != nil || !ans.Valid || ans.ValidUntil != p.ValidUntil.Format("2006-01-02") {
			t.Errorf("Enforce = %+v, %v", ans, err)
		}
		ans, _ = f.svc.Enforce(f.ctx, k, p.Plate, "999", time.Time{}, "Test")
		if ans.Valid {
			t.Error("permit valid in a zone it is not for")
		}
		if _, err := f.svc.Enforce(f.ctx, k, p.Plate, "", time.Time{}, ""); !errs.Is(err, errs.Invalid) {
			t.Errorf("lookup without purpose = %v, want Invalid", err)
		}
		var logged int
		db.Read().QueryRowContext(f.ctx, "SELECT count(*) FROM enforcement_lookups").Scan(&logged)
		if logged != 2 {
			t.Errorf("enforcement lookups logged = %d, want 2", logged)
		}
		if _, err := f.svc.Authenticate(f.ctx, "Bearer "+key+"x"); !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("wrong secret = %v", err)
		}
		// Concurrent lookups share one read of the permits per batch: each
		// still gets its own plate's answer for its own zone, and its audit
		// row says the same.
		var wg sync.WaitGroup
		var wantValid atomic.Int64
		for i := range 48 {
			wg.Go(func() {
				plate, zone, want := p.Plate, strings.Split(p.ZoneID, ",")[0], true
				switch i % 4 {
				case 1:
					zone, want = "999", false
				case 2:
					zone = ""
				case 3:
					plate, want = fmt.Sprintf("B-Q %d", 1000+i), false
				}
				ans, err := f.svc.Enforce(f.ctx, k, plate, zone, time.Time{}, "Stapel")
				if err != nil || ans.Valid != want {
					t.Errorf("lookup %d (%s, zone %q) = %+v, %v; want valid %v", i, plate, zone, ans, err, want)
				}
				if want {
					wantValid.Add(1)
				}
			})
		}
		wg.Wait()
		var validRows int64
		db.Read().QueryRowContext(f.ctx, "SELECT count(*) FROM enforcement_lookups WHERE purpose = 'Stapel' AND valid").Scan(&validRows)
		if validRows != wantValid.Load() {
			t.Errorf("%d audit rows say valid, want %d", validRows, wantValid.Load())
		}

		// Three e-mails, one per step, each written with its step: the
		// idempotent retry and the refused reuse of the key wrote none.
		ms := f.mails(t, rec.Reference)
		wantSubjects := []string{
			"Ihr Antrag " + rec.Reference + " ist eingegangen",
			"Ihr Antrag " + rec.Reference + " ist bewilligt",
			"Ihr Bewohnerparkausweis ist ausgestellt (" + rec.Reference + ")",
		}
		var subjects []string
		for _, m := range ms {
			subjects = append(subjects, m.Subject)
			if m.To != "test@example.org" {
				t.Errorf("mail %q to %q, want the applicant's address", m.Subject, m.To)
			}
		}
		if fmt.Sprint(subjects) != fmt.Sprint(wantSubjects) {
			t.Fatalf("mails %q, want %q", subjects, wantSubjects)
		}
		if !strings.Contains(ms[1].Body, "20,40 €") || !strings.Contains(ms[2].Body, p.Number) ||
			!strings.Contains(ms[2].Body, "http://rathaus.test/bewohnerparken/status/"+rec.Reference) {
			t.Errorf("approval mail lacks the fee or permit mail lacks number and link:\n%s\n---\n%s", ms[1].Body, ms[2].Body)
		}
		f.noPersonalDataInMails(t, ms, r, rec.AccessCode)
	}, sets...)
}

// mails returns the e-mails of a case, oldest first.
func (f *fixture) mails(t *testing.T, reference string) []mail.Stored {
	t.Helper()
	all, err := f.outbox.List(f.ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []mail.Stored
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Reference == reference {
			out = append(out, all[i])
		}
	}
	return out
}

// noPersonalDataInMails fails when a mail carries the access code or
// personal data it does not need (name, birth date, address, plate).
func (f *fixture) noPersonalDataInMails(t *testing.T, ms []mail.Stored, r registers.DemoResident, code string) {
	t.Helper()
	for _, m := range ms {
		text := m.Subject + "\n" + m.Body
		for _, s := range []string{code, r.Person.FamilyName, r.Person.GivenNames, r.Person.BirthDate.Format("02.01.2006"),
			r.Address.Street, r.Vehicles[0].Plate.String()} {
			if strings.Contains(text, s) {
				t.Errorf("mail %q contains %q:\n%s", m.Subject, s, m.Body)
			}
		}
	}
}

func TestReviewAndClerkDecision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		r, ok := f.byExp[registers.ExpectBlocked]
		if !ok {
			t.Fatal("no blocked resident among the first 60")
		}
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(r), "")
		if err != nil {
			t.Fatal(err)
		}
		a := f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		if a.Outcome == nil || a.Outcome.Automatic {
			t.Fatalf("blocked entry decided automatically: %+v", a.Outcome)
		}
		queue, err := f.svc.Queue(f.ctx, demo.Berlin.ARS, 10)
		if err != nil || len(queue) != 1 || queue[0].Reference != rec.Reference {
			t.Fatalf("queue = %v, %v", queue, err)
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Clerk: "clerk:test"}); !errs.Is(err, errs.Invalid) {
			t.Errorf("rejection without reasons = %v, want Invalid", err)
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Reasons: "x", Grounds: []string{"vehicle.length"}, Clerk: "clerk:test"}); !errs.Is(err, errs.Invalid) ||
			!strings.Contains(errs.MessageOf(err)+fmt.Sprint(err), "vehicle.length") {
			t.Errorf("rejection on a result the case does not have = %v, want Invalid naming it", err)
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Approve: true, Grounds: []string{"residence.blocked"}, Clerk: "clerk:test"}); !errs.Is(err, errs.Invalid) {
			t.Errorf("approval with grounds = %v, want Invalid", err)
		}
		if _, err := f.svc.Decide(f.ctx, "051110000000", rec.Reference, parking.ClerkDecision{Approve: true, Clerk: "clerk:other"}); !errs.Is(err, errs.NotFound) {
			t.Errorf("decision by another municipality = %v, want NotFound", err)
		}
		// Two clerks decide at once: exactly one wins.
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Approve: i == 0, Reasons: "Geprüft", Clerk: fmt.Sprintf("clerk:%d", i)})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range results {
			switch {
			case err == nil:
				wins++
			case !errs.Is(err, errs.Conflict):
				t.Errorf("losing decision = %v, want Conflict", err)
			}
		}
		if wins != 1 {
			t.Errorf("%d decisions won, want exactly 1", wins)
		}
		// One decision, one e-mail about it, after the receipt.
		a, _ = f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		want := "Ihr Antrag " + rec.Reference + " ist bewilligt"
		if a.Status == parking.Rejected {
			want = "Ihr Antrag " + rec.Reference + " wurde abgelehnt"
		}
		ms := f.mails(t, rec.Reference)
		if len(ms) != 2 || ms[1].Subject != want {
			t.Fatalf("mails after the decision: %v, want the receipt and %q", ms, want)
		}
		if a.Status == parking.Rejected && !strings.Contains(ms[1].Body, "Geprüft") {
			t.Errorf("the rejection mail does not give the clerk's reasons:\n%s", ms[1].Body)
		}
	}, sets...)
}

func TestInvalidFormNamesEveryField(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		_, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, parking.Form{GivenNames: "Anna1", BirthDate: "31.02.1990", Address: "Nirgendwostraße 1",
			Plate: "XX-1234", Relation: "stolen", DurationMonths: 7, Email: "kein-mail"}, "")
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("Submit = %v, want Invalid", err)
		}
		msg := err.Error()
		for _, field := range []string{"given_names", "family_name", "birth_date", "address", "plate", "relation", "duration_months", "email", "truthful"} {
			if !strings.Contains(msg, field+":") {
				t.Errorf("error does not name %s: %s", field, msg)
			}
		}
		var n int
		db.Read().QueryRowContext(f.ctx, "SELECT count(*) FROM parking_applications").Scan(&n)
		if n != 0 {
			t.Errorf("%d applications stored after a rejected submit", n)
		}
	}, sets...)
}

func TestUnavailableRegisterDelaysButDoesNotDecide(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		r := f.byExp[registers.ExpectEligible]
		f.regs.SetUnavailable(registers.RegisterResidence, time.Now().Add(600*time.Millisecond))
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, f.form(r), "")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		if a.Status != parking.Received && a.Status != parking.Checking {
			t.Fatalf("with the register down: %s, want still in checks", a.Status)
		}
		if a.Outcome != nil {
			t.Fatalf("decided on missing data: %+v", a.Outcome)
		}
		// River retries with backoff (first retry after ~1 s, then longer):
		// the application is decided once the register answers again.
		f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Approved })
	}, sets...)
}

func TestOverlappingPermitsRefusedByDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		_ = f
		ctx := context.Background()
		now := time.Now().UTC()
		insertApp := func(id string) {
			storetest.Exec(t, db, `INSERT INTO parking_applications (id, municipality, reference, access_code_hash, request_hash, status, applied_on, data, plate, person_hash, duration_months, created_at, updated_at)
				VALUES ($1, '110000000000', $2, 'x', 'x', 'issued', '2026-01-01', '{}', 'B-AB 1', 'p', 12, $3, $3)`, id, "REF-"+id, now)
		}
		insertPermit := func(app, number, from, until string) error {
			_, err := db.Write().ExecContext(ctx, `INSERT INTO parking_permits (number, application_id, municipality, plate, zone_id, valid_from, valid_until, status, token, issued_at)
				VALUES ($1, $2, '110000000000', 'B-AB 1', '29', $3, $4, 'active', 't', $5)`, number, app, from, until, now)
			return err
		}
		for _, id := range []string{"a1", "a2", "a3"} {
			insertApp(id)
		}
		if err := insertPermit("a1", "P1", "2026-01-01", "2026-12-31"); err != nil {
			t.Fatal(err)
		}
		if err := insertPermit("a2", "P2", "2026-12-31", "2027-12-30"); err == nil {
			t.Error("overlapping permit (one shared day) accepted")
		}
		if err := insertPermit("a3", "P3", "2027-01-01", "2027-12-31"); err != nil {
			t.Errorf("adjacent permit refused: %v", err)
		}
	}, sets...)
}

// sets is the schema the parking feature needs, in dependency order.
var sets = []store.MigrationSet{tenant.Migrations, audit.Migrations, mail.Migrations, geo.Migrations, parking.Migrations}

// issue takes an eligible resident's application through checks and payment.
func (f *fixture) issue(t *testing.T, r registers.DemoResident, prov *recordingProvider) parking.Receipt {
	t.Helper()
	return f.issueForm(t, f.form(r), prov)
}

// issueForm takes an application with form through checks and payment.
func (f *fixture) issueForm(t *testing.T, form parking.Form, prov *recordingProvider) parking.Receipt {
	t.Helper()
	rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, form, "")
	if err != nil {
		t.Fatal(err)
	}
	f.pay(t, rec, prov)
	return rec
}

// startPayment starts the payment of an application once it has its
// Kassenzeichen and returns what the provider was asked for.
func (f *fixture) startPayment(t *testing.T, rec parking.Receipt, prov *recordingProvider) payment.Payment {
	t.Helper()
	f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Kassenzeichen != "" })
	if _, err := f.svc.StartPayment(f.ctx, rec.Reference, rec.AccessCode); err != nil {
		t.Fatal(err)
	}
	return prov.last()
}

// pay pays an application once it is approved and waits for its permit.
func (f *fixture) pay(t *testing.T, rec parking.Receipt, prov *recordingProvider) {
	t.Helper()
	pay := f.startPayment(t, rec, prov)
	if err := f.callback(t, "evt_"+pay.ID, pay.ID, payment.Paid, pay.AmountCents, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Issued })
}

func TestStorageLimitationAnonymisesEveryTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		eligible, blocked := f.byExp[registers.ExpectEligible], f.byExp[registers.ExpectBlocked]
		// Each case with an address of its own, to find it in the outbox.
		formOf := func(r registers.DemoResident, email string) parking.Form {
			form := f.form(r)
			form.Email = email
			return form
		}
		emails := map[string]string{eligible.Person.FamilyName: "inhaberin@example.org", blocked.Person.FamilyName: "abgelehnt@example.org"}
		issued := f.issueForm(t, formOf(eligible, emails[eligible.Person.FamilyName]), prov)
		rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, formOf(blocked, emails[blocked.Person.FamilyName]), "retention-key")
		if err != nil {
			t.Fatal(err)
		}
		f.wait(t, rec.Reference, rec.AccessCode, func(a parking.Application) bool { return a.Status == parking.Review })
		// A request for information, answered with a document and words.
		keys, _ := vault.Parse(vault.NewKey())
		f.svc.SetVault(keys)
		clerk := parking.Clerk{Actor: "clerk:t", Name: "Test", Municipality: demo.Berlin.ARS}
		if err := f.svc.RequestInformation(f.ctx, clerk, rec.Reference, "sonstiges", "Nachweis für "+blocked.Person.FamilyName, 14, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SubmitDocuments(f.ctx, rec.Reference, rec.AccessCode, "", []parking.Upload{{Name: "n.pdf", Content: testPDF}},
			"Gruß, "+blocked.Person.FamilyName); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Decide(f.ctx, demo.Berlin.ARS, rec.Reference, parking.ClerkDecision{Reasons: "Abgelehnt für " + blocked.Person.FamilyName, Clerk: "clerk:t"}); err != nil {
			t.Fatal(err)
		}
		secrets := func(r registers.DemoResident) []string {
			return []string{r.Person.FamilyName, r.Person.GivenNames, r.Vehicles[0].Plate.String(), r.Address.Street + " " + r.Address.HouseNumber,
				emails[r.Person.FamilyName]}
		}
		tables := []string{"parking_applications", "parking_events", "parking_permits", "parking_payments", "payment_events", "enforcement_lookups",
			"parking_reminders", "mail_outbox", "parking_info_requests"}
		find := func(r registers.DemoResident) []string {
			var where []string
			for _, table := range tables {
				text := storetest.TableText(t, db, table)
				for _, s := range secrets(r) {
					if strings.Contains(text, s) {
						where = append(where, table+": "+s)
					}
				}
			}
			return where
		}
		if len(find(blocked)) == 0 || len(find(eligible)) == 0 {
			t.Fatal("the fixture stored no personal data to begin with: the test would prove nothing")
		}
		for _, e := range emails {
			if !strings.Contains(storetest.TableText(t, db, "mail_outbox"), e) {
				t.Fatalf("no e-mail to %s in the outbox to begin with: the test would prove nothing", e)
			}
		}
		n, err := f.svc.Anonymise(f.ctx)
		if err != nil || n != 0 {
			t.Fatalf("Anonymise right away = %d, %v; want nothing", n, err)
		}
		// 25 months later: the refused case is gone, the permit (24 months) still runs + retention.
		f.clock.advance(25 * 31 * 24 * time.Hour)
		if n, err = f.svc.Anonymise(f.ctx); err != nil || n != 1 {
			t.Fatalf("Anonymise after 25 months = %d, %v; want 1", n, err)
		}
		// The refused case's e-mails went with it (Forget), before the
		// outbox's own retention ran.
		if w := find(blocked); len(w) > 0 {
			t.Errorf("personal data of the refused case left after anonymisation: %v", w)
		}
		var docs int
		db.Read().QueryRowContext(f.ctx, "SELECT count(*) FROM parking_documents").Scan(&docs)
		if docs != 0 {
			t.Errorf("%d uploaded documents left after anonymisation", docs)
		}
		// The outbox's retention (90 days) takes the running case's e-mails.
		if n, err := f.outbox.Purge(f.ctx); err != nil || n != 3 {
			t.Errorf("mail retention after 25 months = %d, %v; want the 3 e-mails of the running case", n, err)
		}
		if text := storetest.TableText(t, db, "mail_outbox"); text != "" {
			t.Errorf("e-mails left after retention:\n%s", text)
		}
		if len(find(eligible)) == 0 {
			t.Error("the running permit's case was anonymised too early")
		}
		if _, err := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode); !errs.Is(err, errs.NotFound) {
			t.Errorf("anonymised case still reachable with its access code: %v", err)
		}
		f.clock.advance(25 * 31 * 24 * time.Hour)
		if n, err = f.svc.Anonymise(f.ctx); err != nil || n != 1 {
			t.Fatalf("Anonymise after the permit's end + 24 months = %d, %v; want 1", n, err)
		}
		if w := find(eligible); len(w) > 0 {
			t.Errorf("personal data of the issued case left: %v", w)
		}
		// The statistics survive: both cases still count, by status.
		var issuedN, rejectedN int
		db.Read().QueryRowContext(f.ctx, "SELECT count(*) FROM parking_applications WHERE status = 'issued'").Scan(&issuedN)
		db.Read().QueryRowContext(f.ctx, "SELECT count(*) FROM parking_applications WHERE status = 'rejected'").Scan(&rejectedN)
		if issuedN != 1 || rejectedN != 1 {
			t.Errorf("counts after anonymisation: issued %d, rejected %d; want 1, 1", issuedN, rejectedN)
		}
		_ = issued
	}, sets...)
}

// Person hashes of the earlier form are recomputed from the stored form
// at start, to the value a new application of the same person gets —
// also when the particles of the name stand with the given names.
func TestRehashPersons(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		r := f.byExp[registers.ExpectBlocked]
		form := f.form(r)
		a, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, form, "rehash-a")
		if err != nil {
			t.Fatal(err)
		}
		moved := form
		moved.GivenNames, moved.FamilyName = form.GivenNames+" von der", form.FamilyName
		plain := form
		plain.FamilyName = "von der " + form.FamilyName
		b, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, moved, "rehash-b")
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, plain, "rehash-c")
		if err != nil {
			t.Fatal(err)
		}
		hash := func(ref string) string {
			var h string
			db.Read().QueryRow(`SELECT person_hash FROM parking_applications WHERE reference = $1`, ref).Scan(&h)
			return h
		}
		if hash(b.Reference) != hash(c.Reference) || !strings.HasPrefix(hash(b.Reference), "p2:") {
			t.Errorf("particles with the given names vs. the family name: %s vs %s", hash(b.Reference), hash(c.Reference))
		}
		want := hash(a.Reference)
		if _, err := db.Write().Exec(`UPDATE parking_applications SET person_hash = 'a1b2c3' WHERE reference = $1`, a.Reference); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.RehashPersons(f.ctx); err != nil || n != 1 {
			t.Fatalf("RehashPersons = %d, %v; want 1", n, err)
		}
		if got := hash(a.Reference); got != want {
			t.Errorf("recomputed %s, want %s", got, want)
		}
		if n, _ := f.svc.RehashPersons(f.ctx); n != 0 {
			t.Errorf("second run changed %d", n)
		}
	}, sets...)
}

// Key rotation: a permit signed with the earlier key still verifies on an
// installation that signs with a new key and lists the earlier one; both
// keys are published, the new one first; without the earlier key the old
// permit does not verify.
func TestSigningKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, prov := newFixture(t, db)
		rec := f.issue(t, f.byExp[registers.ExpectEligible], prov)
		a, _ := f.svc.Get(f.ctx, rec.Reference, rec.AccessCode)
		if res := f.svc.Verify(f.ctx, a.Permit.Token); !res.Valid {
			t.Fatalf("before the rotation: %+v", res)
		}
		oldKey := f.signer.PublicKey()
		newKey, _ := documents.GenerateKey()
		signer, _ := documents.NewSigner(newKey, documents.KeyID(&newKey.PublicKey))
		rotated := func(previous []*ecdsa.PublicKey) *parking.Service {
			keys := map[string]*ecdsa.PublicKey{signer.KeyID(): &newKey.PublicKey}
			for _, k := range previous {
				keys[documents.KeyID(k)] = k
			}
			verifier, err := documents.NewVerifier(keys)
			if err != nil {
				t.Fatal(err)
			}
			configs, _ := rules.Embedded()
			svc, err := parking.NewService(f.ctx, parking.Options{DB: db, Configs: configs, Signer: signer, Verifier: verifier,
				PreviousKeys: previous, Mail: f.outbox, Logger: slog.New(slog.DiscardHandler), Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			return svc
		}
		svc := rotated([]*ecdsa.PublicKey{oldKey})
		if res := svc.Verify(f.ctx, a.Permit.Token); !res.Valid {
			t.Errorf("old permit after the rotation: %+v", res)
		}
		keys, err := svc.PublicKeys()
		if err != nil || len(keys) != 2 || keys[0].KeyID != signer.KeyID() || keys[1].KeyID != documents.KeyID(oldKey) {
			t.Errorf("published keys: %+v, %v", keys, err)
		}
		if res := rotated(nil).Verify(f.ctx, a.Permit.Token); res.Valid {
			t.Error("the old permit verifies without the earlier key")
		}
	}, sets...)
}
