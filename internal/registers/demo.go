package registers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/geo"
)

// Names of the demo registers, for SetUnavailable, FailNext and
// QueryRecord.Register.
const (
	RegisterResidence = "residence" // Melderegister
	RegisterVehicles  = "vehicles"  // Fahrzeugregister
	RegisterTreasury  = "treasury"  // Stadtkasse
)

// What the demo registers call themselves in every answer: demo data must
// never pass for real data.
const (
	DemoResidenceSource = "Demo-Melderegister Berlin (synthetische Daten)"
	DemoVehiclesSource  = "Demo-Fahrzeugregister Berlin (synthetische Daten)"
	DemoTreasurySource  = "Demo-Stadtkasse Berlin (synthetische Daten)"
)

// What a demo resident should get when they apply for a Bewohnerparkausweis
// (DemoResident.Expect). The demo assumes these rules: Hauptwohnsitz only,
// an adult applicant, the vehicle held by the applicant (otherwise a
// document is needed), at most DemoMaxLengthMM long (as in Köln) and
// DemoMaxMassKg heavy (as in Neubrandenburg). An Auskunftssperre always
// goes to a clerk.
const (
	ExpectEligible       = "berechtigt"
	ExpectBlocked        = "Auskunftssperre – Prüfung durch Sachbearbeitung"
	ExpectMinor          = "minderjährig"
	ExpectSecondary      = "Nebenwohnsitz"
	ExpectNoVehicle      = "kein Fahrzeug"
	ExpectDecommissioned = "Fahrzeug außer Betrieb gesetzt"
	ExpectNotHolder      = "nicht Halter – Überlassungserklärung nötig"
	ExpectCompanyCar     = "Firmenwagen – Bestätigung des Arbeitgebers nötig"
	ExpectTooLong        = "Fahrzeug zu lang"
	ExpectTooHeavy       = "Fahrzeug zu schwer"
)

// The vehicle limits behind ExpectTooLong and ExpectTooHeavy.
const (
	DemoMaxLengthMM = 5600
	DemoMaxMassKg   = 3500
)

// DemoResident is one synthetic person of the demo registers.
type DemoResident struct {
	No      int // 1-based position in Residents
	Person  Person
	Address geo.Address // the address the person is registered at with Kind
	Kind    ResidenceKind
	Since   time.Time // moved in
	// MainResidence is the Hauptwohnsitz of a person registered at Address
	// with a Nebenwohnsitz: another Berlin address of the demo (where the
	// register answers Hauptwohnsitz for them) or one outside Berlin.
	MainResidence *AddressRef
	Blocked       bool          // Auskunftssperre (§ 51 BMG)
	Vehicles      []DemoVehicle // the first is the one they apply with
	Expect        string        // one of the Expect… constants
	Note          string        // what the resident shows, for the first residents; "" for the rest
}

// DemoVehicle is a vehicle at a demo resident's disposal.
type DemoVehicle struct {
	Plate Plate
	Model string
	// Holder is the registered holder (Halter): the resident, a relative
	// who lends the car, or a company (Company; FamilyName is its name).
	Holder         Person
	Company        bool
	Class          string // EU vehicle class: M1, N1, N2, L3e
	LengthMM       int
	WidthMM        int
	MassKg         int    // technically permissible maximum laden mass
	Fuel           string // petrol, diesel, electric, hybrid, plug-in-hybrid, lpg
	Decommissioned bool   // außer Betrieb gesetzt
}

// QueryRecord is one question to a demo register. People, addresses,
// plates and keys appear only as pseudonymous references (a keyed hash,
// the key living only as long as the Demo): the log shows who asked what
// and why, and that two questions were about the same person, but not
// the personal data itself.
type QueryRecord struct {
	At       time.Time
	Register string // RegisterResidence, RegisterVehicles or RegisterTreasury
	Purpose  Purpose
	Question string
	Answered bool   // false: refused, failed or invalid
	Outcome  string // a short German summary of the answer or why there was none
}

// maxQueries bounds the in-memory query log; beyond it the oldest half is
// dropped (a load test must not fill the memory of a demo server).
const maxQueries = 50_000

// Demo holds the demo registers: a Melderegister, a Fahrzeugregister and
// a Stadtkasse over a synthetic population at real Berlin addresses. It
// implements Residence, Vehicles and Treasury and is safe for concurrent
// use. The population is fixed at construction; the query log, the
// treasury and the simulated failures change.
type Demo struct {
	residents []DemoResident
	reference time.Time                   // the date Expect was evaluated for
	byAddress map[string][]residenceEntry // by StreetKey + "|" + HouseNumberKey
	byPlate   map[string]vehicleEntry     // by canonical plate
	refKey    []byte                      // HMAC key for the pseudonymous references in the log

	mu          sync.Mutex
	now         func() time.Time
	queries     []QueryRecord
	down        map[string]time.Time
	failNext    map[string]int
	byKey       map[string]*receivable
	byKZ        map[string]*receivable
	kzSeq       int
	refunds     map[string]Refund // by idempotency key
	droppedLogs int
}

type residenceEntry struct {
	resident int
	kind     ResidenceKind
	postcode string
	since    time.Time
}

type vehicleEntry struct{ resident, vehicle int }

type receivable struct {
	Receivable
	bookedAt time.Time
}

var (
	_ Residence = (*Demo)(nil)
	_ Vehicles  = (*Demo)(nil)
	_ Treasury  = (*Demo)(nil)
)

// NewDemo generates the demo population from seed at the given addresses
// (demo.Addresses() parsed with geo.ParseAddressesCSV): one resident per
// five addresses, at least 3000 (or one per address when there are
// fewer). Birth dates are anchored at 1 January of the current year so
// that the minors stay minors; the same seed and addresses give the same
// residents all year. NewDemoAt fixes the date.
func NewDemo(seed uint64, addrs []geo.Address) *Demo {
	return NewDemoAt(seed, addrs, time.Now())
}

// NewDemoAt is NewDemo with the residents' ages anchored at 1 January of
// today's year: the same seed, addresses and year give the same residents.
func NewDemoAt(seed uint64, addrs []geo.Address, today time.Time) *Demo {
	d := &Demo{
		reference: time.Date(today.Year(), 1, 1, 0, 0, 0, 0, time.UTC),
		now:       time.Now,
		down:      map[string]time.Time{},
		failNext:  map[string]int{},
		byKey:     map[string]*receivable{},
		byKZ:      map[string]*receivable{},
		refunds:   map[string]Refund{},
		refKey:    make([]byte, 32),
	}
	rand.Read(d.refKey) // never fails (crypto/rand since Go 1.24)
	generate(d, seed, addrs)
	return d
}

// ReferenceDate is the date the residents' Expect was evaluated for
// (1 January of the year given to NewDemoAt). Minors stay minors for at
// least a year after it.
func (d *Demo) ReferenceDate() time.Time { return d.reference }

// Residents returns a copy of the population, in generation order. The
// first residents (Note set) cover every Expect outcome and the name
// patterns that matching must get right.
func (d *Demo) Residents() []DemoResident {
	out := make([]DemoResident, len(d.residents))
	for i, r := range d.residents {
		r.Vehicles = append([]DemoVehicle(nil), r.Vehicles...)
		if r.MainResidence != nil {
			m := *r.MainResidence
			r.MainResidence = &m
		}
		out[i] = r
	}
	return out
}

// Residence returns the demo Melderegister.
func (d *Demo) Residence() Residence { return d }

// Vehicles returns the demo Fahrzeugregister.
func (d *Demo) Vehicles() Vehicles { return d }

// Treasury returns the demo Stadtkasse.
func (d *Demo) Treasury() Treasury { return d }

// SetClock replaces the clock (time.Now) that stamps answers, queries and
// receivables and that SetUnavailable compares with; for tests.
func (d *Demo) SetClock(now func() time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = now
}

// SetUnavailable makes a register answer errs.Unavailable until the given
// time (by the Demo's clock); a zero time ends it. It panics for an
// unknown register name.
func (d *Demo) SetUnavailable(register string, until time.Time) {
	mustRegister(register)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down[register] = until
}

// FailNext makes the next n queries to a register fail with
// errs.Unavailable (0 resets). It panics for an unknown register name.
func (d *Demo) FailNext(register string, n int) {
	mustRegister(register)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failNext[register] = max(n, 0)
}

func mustRegister(name string) {
	switch name {
	case RegisterResidence, RegisterVehicles, RegisterTreasury:
		return
	}
	panic(fmt.Sprintf("registers: unknown demo register %q", name))
}

// Queries returns a copy of the query log, oldest first.
func (d *Demo) Queries() []QueryRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]QueryRecord(nil), d.queries...)
}

// Validate checks what § 11 BMeldDAV requires of every query to a
// register: the asking authority's file reference and the reason. The
// error is errs.Invalid.
func (p Purpose) Validate() error {
	if strings.TrimSpace(p.FileReference) == "" {
		return errs.Field("file_reference", "Eine Registerabfrage braucht das Aktenzeichen der anfragenden Stelle (§ 11 BMeldDAV).")
	}
	if strings.TrimSpace(p.Reason) == "" {
		return errs.Field("reason", "Eine Registerabfrage braucht den Grund der Abfrage (§ 11 BMeldDAV).")
	}
	return nil
}

var unavailableMessages = map[string]string{
	RegisterResidence: "Das Melderegister antwortet gerade nicht. Bitte versuchen Sie es später erneut.",
	RegisterVehicles:  "Das Fahrzeugregister antwortet gerade nicht. Bitte versuchen Sie es später erneut.",
	RegisterTreasury:  "Die Stadtkasse antwortet gerade nicht. Bitte versuchen Sie es später erneut.",
}

// admit decides whether a query is answered at all and logs it when not:
// a cancelled context, a missing purpose (p nil: the call carries none),
// a register made unavailable.
func (d *Demo) admit(ctx context.Context, register string, p *Purpose, question string) error {
	var purpose Purpose
	if p != nil {
		purpose = *p
	}
	if err := ctx.Err(); err != nil {
		d.record(register, purpose, question, false, "abgebrochen")
		return err
	}
	if p != nil {
		if err := p.Validate(); err != nil {
			d.record(register, purpose, question, false, "abgelehnt: Aktenzeichen oder Grund fehlt (§ 11 BMeldDAV)")
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	down := now.Before(d.down[register])
	if !down && d.failNext[register] > 0 {
		d.failNext[register]--
		down = true
	}
	if down {
		d.recordLocked(now, register, purpose, question, false, "nicht erreichbar")
		return errs.E(errs.Unavailable, "%s", unavailableMessages[register])
	}
	return nil
}

// record logs a query and returns the time it was logged at.
func (d *Demo) record(register string, p Purpose, question string, answered bool, outcome string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.recordLocked(now, register, p, question, answered, outcome)
	return now
}

func (d *Demo) recordLocked(at time.Time, register string, p Purpose, question string, answered bool, outcome string) {
	if len(d.queries) >= maxQueries {
		half := maxQueries / 2
		d.droppedLogs += len(d.queries) - half
		d.queries = append(d.queries[:0], d.queries[len(d.queries)-half:]...)
	}
	d.queries = append(d.queries, QueryRecord{At: at, Register: register, Purpose: p, Question: question, Answered: answered, Outcome: outcome})
}

// ref returns a pseudonymous reference for a value: a keyed hash, so
// equal values give equal references within one Demo, and the log alone
// does not reveal them (a plain hash of a name and a birth date could be
// reversed by trying names).
func (d *Demo) ref(kind, value string) string {
	m := hmac.New(sha256.New, d.refKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return kind + ":" + hex.EncodeToString(m.Sum(nil)[:6])
}

func (d *Demo) personRef(p Person) string {
	return d.ref("person", NormalizeName(p.GivenNames)+"\x00"+NormalizeName(p.FamilyName)+"\x00"+p.BirthDate.Format(time.DateOnly))
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// addressKey is how the demo registers find an address: the geo package's
// keys, so "Perleberger Str. 61 a" finds "Perleberger Straße 61A".
func addressKey(street, houseNumber string) (string, bool) {
	sk := geo.StreetKey(street)
	hn, err := geo.HouseNumberKey(houseNumber)
	if sk == "" || err != nil {
		return "", false
	}
	return sk + "|" + hn, true
}

// CheckResidence answers whether who is registered at the address. The
// address matches by street and house number key and, when given, the
// postcode; the person by birth date and NamesMatch. Only an Exact or
// Equivalent name counts as registered; a Partial one is reported in
// NameMatch for a clerk. An unknown address is an answer (not
// registered), not an error.
func (d *Demo) CheckResidence(ctx context.Context, p Purpose, who Person, at AddressRef) (ResidenceAnswer, error) {
	key, keyOK := addressKey(at.Street, at.HouseNumber)
	postcode := strings.TrimSpace(at.Postcode)
	question := "Ist " + d.personRef(who) + " unter " + d.ref("address", key+"|"+postcode) + " gemeldet?"
	if err := d.admit(ctx, RegisterResidence, &p, question); err != nil {
		return ResidenceAnswer{}, err
	}
	best, bestMatch := residenceEntry{resident: -1}, NoMatch
	if keyOK {
		for _, e := range d.byAddress[key] {
			if postcode != "" && e.postcode != postcode {
				continue
			}
			r := &d.residents[e.resident]
			if !sameDay(r.Person.BirthDate, who.BirthDate) {
				continue
			}
			if m := NamesMatch(who, r.Person); m > bestMatch {
				best, bestMatch = e, m
			}
		}
	}
	ans := ResidenceAnswer{Kind: NotRegistered, NameMatch: bestMatch, Source: DemoResidenceSource}
	outcome := "nicht gemeldet"
	if best.resident >= 0 {
		r := &d.residents[best.resident]
		ans.Blocked = r.Blocked // a clerk must know, whatever the match
		if bestMatch.Automatic() {
			ans.Registered, ans.Kind, ans.Since = true, best.kind, best.since
			if best.kind == Nebenwohnsitz && r.MainResidence != nil {
				m := *r.MainResidence
				ans.MainResidence = &m
			}
			outcome = "gemeldet (" + kindName(best.kind) + ")"
		} else {
			outcome = "Name stimmt nur teilweise überein"
		}
		if r.Blocked {
			outcome += "; Auskunftssperre"
		}
	}
	ans.AnsweredAt = d.record(RegisterResidence, p, question, true, outcome)
	return ans, nil
}

func kindName(k ResidenceKind) string {
	if k == Nebenwohnsitz {
		return "Nebenwohnsitz"
	}
	return "Hauptwohnsitz"
}

// CheckVehicle answers what the register holds for a plate and whether
// holder is its registered holder (name by NamesMatch and birth date). A
// plate that is not assigned is an answer (Found false); a plate that is
// not one is errs.Invalid.
func (d *Demo) CheckVehicle(ctx context.Context, p Purpose, plate string, holder Person) (VehicleAnswer, error) {
	pl, perr := ParsePlate(plate)
	plateKey := strings.TrimSpace(plate)
	if perr == nil {
		plateKey = pl.String()
	}
	question := "Fahrzeug " + d.ref("plate", plateKey) + ", Halter " + d.personRef(holder) + "?"
	if err := d.admit(ctx, RegisterVehicles, &p, question); err != nil {
		return VehicleAnswer{}, err
	}
	if perr != nil {
		d.record(RegisterVehicles, p, question, false, "ungültiges Kennzeichen")
		return VehicleAnswer{}, perr
	}
	ans := VehicleAnswer{Source: DemoVehiclesSource}
	outcome := "nicht zugelassen"
	if e, ok := d.byPlate[pl.String()]; ok {
		v := &d.residents[e.resident].Vehicles[e.vehicle]
		ans.Found = true
		ans.Class, ans.LengthMM, ans.WidthMM, ans.MassKg, ans.Fuel = v.Class, v.LengthMM, v.WidthMM, v.MassKg, v.Fuel
		ans.Decommissioned = v.Decommissioned
		if !v.Company && sameDay(v.Holder.BirthDate, holder.BirthDate) {
			ans.HolderMatch = NamesMatch(holder, v.Holder)
		}
		ans.HolderMatches = ans.HolderMatch.Automatic()
		outcome = "zugelassen, Halter " + map[bool]string{true: "stimmt überein", false: "stimmt nicht überein"}[ans.HolderMatches]
		if ans.Decommissioned {
			outcome += ", außer Betrieb gesetzt"
		}
	}
	ans.AnsweredAt = d.record(RegisterVehicles, p, question, true, outcome)
	return ans, nil
}

// CreateReceivable posts an amount due (Sollstellung) and returns its
// Kassenzeichen ("KZ-2026-000123"). The same idempotency key returns the
// same receivable; the same key with another amount or purpose is
// errs.Conflict (a bug in the caller, not a retry).
func (d *Demo) CreateReceivable(ctx context.Context, p Purpose, idempotencyKey string, amountCents int64, purpose string) (Receivable, error) {
	question := fmt.Sprintf("Sollstellung über %s, Vorgang %s", euros(amountCents), d.ref("key", idempotencyKey))
	if err := d.admit(ctx, RegisterTreasury, &p, question); err != nil {
		return Receivable{}, err
	}
	switch {
	case strings.TrimSpace(idempotencyKey) == "":
		d.record(RegisterTreasury, p, question, false, "ungültig: ohne Vorgangsschlüssel")
		return Receivable{}, errs.Field("idempotency_key", "Eine Sollstellung braucht einen Vorgangsschlüssel.")
	case amountCents <= 0:
		d.record(RegisterTreasury, p, question, false, "ungültig: Betrag nicht positiv")
		return Receivable{}, errs.Field("amount", "Der Betrag einer Sollstellung muss positiv sein.")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if r, ok := d.byKey[idempotencyKey]; ok {
		if r.AmountCents != amountCents || r.Purpose != purpose {
			d.recordLocked(now, RegisterTreasury, p, question, false, "Konflikt mit "+r.Kassenzeichen)
			return Receivable{}, errs.E(errs.Conflict, "Zu diesem Vorgang gibt es schon die Sollstellung %s über %s.", r.Kassenzeichen, euros(r.AmountCents))
		}
		d.recordLocked(now, RegisterTreasury, p, question, true, "schon gestellt: "+r.Kassenzeichen)
		return r.Receivable, nil
	}
	d.kzSeq++
	r := &receivable{Receivable: Receivable{
		Kassenzeichen: fmt.Sprintf("KZ-%04d-%06d", now.Year(), d.kzSeq),
		AmountCents:   amountCents,
		Purpose:       purpose,
		CreatedAt:     now,
	}}
	d.byKey[idempotencyKey] = r
	d.byKZ[r.Kassenzeichen] = r
	d.recordLocked(now, RegisterTreasury, p, question, true, "gestellt: "+r.Kassenzeichen)
	return r.Receivable, nil
}

// Booked reports whether the amount of a Kassenzeichen has been paid and
// when. An unknown Kassenzeichen is errs.NotFound. The call carries no
// Purpose (and no personal data); it is logged all the same.
func (d *Demo) Booked(ctx context.Context, kassenzeichen string) (bool, time.Time, error) {
	question := "Buchungsstand " + kassenzeichen
	if err := d.admit(ctx, RegisterTreasury, nil, question); err != nil {
		return false, time.Time{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	r, ok := d.byKZ[kassenzeichen]
	if !ok {
		d.recordLocked(now, RegisterTreasury, Purpose{}, question, false, "unbekanntes Kassenzeichen")
		return false, time.Time{}, errs.E(errs.NotFound, "Das Kassenzeichen %s ist nicht bekannt.", kassenzeichen)
	}
	booked := !r.bookedAt.IsZero()
	d.recordLocked(now, RegisterTreasury, Purpose{}, question, true, map[bool]string{true: "bezahlt", false: "offen"}[booked])
	return booked, r.bookedAt, nil
}

// OrderRefund orders a payout against a paid Kassenzeichen
// ("AZ-2026-000001"). The same idempotency key returns the same order; the
// same key with another amount is errs.Conflict; more than the receivable,
// or an unknown Kassenzeichen, is refused. (The demo treasury does not
// learn of payments — the payment provider reports them to Rathaus — so it
// does not check that the amount was paid; a real treasury does.)
func (d *Demo) OrderRefund(ctx context.Context, p Purpose, idempotencyKey, kassenzeichen string, amountCents int64, purpose string) (Refund, error) {
	question := fmt.Sprintf("Auszahlung über %s zu %s, Vorgang %s", euros(amountCents), kassenzeichen, d.ref("key", idempotencyKey))
	if err := d.admit(ctx, RegisterTreasury, &p, question); err != nil {
		return Refund{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	r, ok := d.byKZ[kassenzeichen]
	switch {
	case strings.TrimSpace(idempotencyKey) == "":
		d.recordLocked(now, RegisterTreasury, p, question, false, "ungültig: ohne Vorgangsschlüssel")
		return Refund{}, errs.Field("idempotency_key", "Eine Auszahlung braucht einen Vorgangsschlüssel.")
	case !ok:
		d.recordLocked(now, RegisterTreasury, p, question, false, "unbekanntes Kassenzeichen")
		return Refund{}, errs.E(errs.NotFound, "Das Kassenzeichen %s ist nicht bekannt.", kassenzeichen)
	case amountCents <= 0 || amountCents > r.AmountCents:
		d.recordLocked(now, RegisterTreasury, p, question, false, "ungültig: Betrag")
		return Refund{}, errs.Field("amount", "Der Auszahlungsbetrag muss positiv sein und darf %s nicht übersteigen.", euros(r.AmountCents))
	}
	if prev, ok := d.refunds[idempotencyKey]; ok {
		if prev.AmountCents != amountCents || prev.Kassenzeichen != kassenzeichen {
			d.recordLocked(now, RegisterTreasury, p, question, false, "Konflikt mit "+prev.Booking)
			return Refund{}, errs.E(errs.Conflict, "Zu diesem Vorgang gibt es schon die Auszahlung %s über %s.", prev.Booking, euros(prev.AmountCents))
		}
		d.recordLocked(now, RegisterTreasury, p, question, true, "schon angeordnet: "+prev.Booking)
		return prev, nil
	}
	ref := Refund{Booking: fmt.Sprintf("AZ-%04d-%06d", now.Year(), len(d.refunds)+1), Kassenzeichen: kassenzeichen, AmountCents: amountCents, CreatedAt: now}
	d.refunds[idempotencyKey] = ref
	d.recordLocked(now, RegisterTreasury, p, question, true, "angeordnet: "+ref.Booking)
	return ref, nil
}

// MarkBooked records that the amount of a Kassenzeichen was paid, as the
// payment provider reports it to the treasury. Marking twice keeps the
// first time. An unknown Kassenzeichen is errs.NotFound.
func (d *Demo) MarkBooked(kassenzeichen string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.byKZ[kassenzeichen]
	if !ok {
		return errs.E(errs.NotFound, "Das Kassenzeichen %s ist nicht bekannt.", kassenzeichen)
	}
	if r.bookedAt.IsZero() {
		r.bookedAt = d.now()
	}
	return nil
}

// euros formats cents the German way: "20,40 €".
func euros(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d,%02d €", sign, cents/100, cents%100)
}
