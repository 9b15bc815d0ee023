// Package registers is what a Fachverfahren asks the registers of other
// offices: the registration office (Melderegister), the vehicle register
// (Zulassungsstelle / Fahrzeugregister) and the city treasury (Stadtkasse).
//
// Each register is a small interface that answers only the question a
// procedure needs (data minimisation): "is this person registered at this
// address?" — not "give me the record". Every query carries the requesting
// procedure, its file reference (Aktenzeichen) and the reason, as § 11
// BMeldDAV requires for queries of the registration register.
//
// Implementations: the demo registers in this package (synthetic residents
// and vehicles at Berlin's real addresses, clearly labelled as demo data)
// and, in a later issue, clients that ask other offices' nodes over the
// Amtsnetz. A register that does not answer returns an error of kind
// errs.Unavailable; callers retry later and never decide on missing data.
//
// The package also holds what every register and its callers need to
// agree on: ParsePlate for German licence plates (FZV), and NamesMatch,
// which compares names the way a clerk would — umlauts, ß, particles and
// double names do not make a person unknown, typos are not glossed over —
// and says which differences need a clerk (Match).
package registers

import (
	"context"
	"time"
)

// Purpose is what every register query must state (§ 11 BMeldDAV).
type Purpose struct {
	Procedure     string // e.g. "Bewohnerparkausweis"
	FileReference string // Aktenzeichen of the application
	Reason        string // e.g. "Prüfung der Wohnsitzvoraussetzung nach § 45 Abs. 1b Nr. 2a StVO"
	LegalBasis    string // e.g. "§ 34 BMG"
	Municipality  string // ARS of the asking authority
}

// Person identifies someone as they wrote their name on a form.
type Person struct {
	GivenNames string
	FamilyName string
	BirthDate  time.Time // a date (UTC midnight)
}

// AddressRef names an address as the citizen gave it (after the geo
// package normalised it).
type AddressRef struct {
	Street      string
	HouseNumber string
	Postcode    string
}

// ResidenceKind is the kind of residence under the Bundesmeldegesetz.
type ResidenceKind string

const (
	Hauptwohnsitz ResidenceKind = "haupt" // main residence, § 21 Abs. 2 BMG
	Nebenwohnsitz ResidenceKind = "neben" // secondary residence, § 21 Abs. 3 BMG
	NotRegistered ResidenceKind = ""      // not registered at that address
)

// ResidenceAnswer is the registration office's answer: nothing beyond what
// the question needs.
type ResidenceAnswer struct {
	Registered bool          // the person is registered at the address
	Kind       ResidenceKind // Haupt- or Nebenwohnsitz, when registered
	Since      time.Time     // date of moving in, when registered
	// Blocked is set when the record carries an Auskunftssperre (§ 51 BMG):
	// such cases go to a clerk, never to automation.
	Blocked bool
	// MainResidence is the address of the Hauptwohnsitz when the person is
	// registered here only with a Nebenwohnsitz (for minimum-distance rules).
	MainResidence *AddressRef
	// NameMatch is how well the name asked about matched the registered
	// name of a person with that birth date at the address. Registered is
	// set only for Exact or Equivalent; Partial ("Anna" for "Anna Maria",
	// a dropped "von") leaves Registered false and means: a clerk checks.
	NameMatch  Match
	AnsweredAt time.Time
	Source     string // which register answered, e.g. "Demo-Melderegister Berlin"
}

// Residence is the registration office.
type Residence interface {
	CheckResidence(ctx context.Context, p Purpose, who Person, at AddressRef) (ResidenceAnswer, error)
}

// VehicleAnswer is the vehicle register's answer for one plate.
type VehicleAnswer struct {
	Found          bool   // the plate is registered
	HolderMatches  bool   // holder's name and date of birth match the person asked about (HolderMatch Exact or Equivalent)
	HolderMatch    Match  // how well the holder's name matched, for a birth date that matches; Partial: a clerk checks
	Class          string // EU vehicle class, e.g. "M1" (car), "N1" (van), "L3e" (motorcycle)
	LengthMM       int
	WidthMM        int
	MassKg         int    // technically permissible maximum laden mass
	Fuel           string // "petrol", "diesel", "electric", "hybrid", "lpg", ...
	Decommissioned bool   // außer Betrieb gesetzt
	AnsweredAt     time.Time
	Source         string
}

// Vehicles is the vehicle register.
type Vehicles interface {
	CheckVehicle(ctx context.Context, p Purpose, plate string, holder Person) (VehicleAnswer, error)
}

// Receivable is an amount due posted to the treasury (Sollstellung).
type Receivable struct {
	Kassenzeichen string // the treasury's payment reference
	AmountCents   int64
	Purpose       string // Verwendungszweck
	CreatedAt     time.Time
}

// Treasury is the city treasury (Stadtkasse).
type Treasury interface {
	// CreateReceivable posts an amount due; idempotencyKey makes a retried
	// call return the same Kassenzeichen.
	CreateReceivable(ctx context.Context, p Purpose, idempotencyKey string, amountCents int64, purpose string) (Receivable, error)
	// Booked reports whether the amount of a Kassenzeichen has been paid.
	Booked(ctx context.Context, kassenzeichen string) (bool, time.Time, error)
	// OrderRefund orders the payout of part of a paid amount (Auszahlungs-
	// anordnung) against its Kassenzeichen; idempotencyKey makes a retried
	// call return the same order.
	OrderRefund(ctx context.Context, p Purpose, idempotencyKey, kassenzeichen string, amountCents int64, purpose string) (Refund, error)
}

// Refund is a payout ordered at the treasury.
type Refund struct {
	Booking       string // the treasury's reference of the payout order
	Kassenzeichen string // of the original receivable
	AmountCents   int64
	CreatedAt     time.Time
}
