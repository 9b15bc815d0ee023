// Package parking is the Fachverfahren Bewohnerparken: a resident applies
// online for a Bewohnerparkausweis (residential parking permit, § 45 Abs. 1b
// Satz 1 Nr. 2a StVO), the application is checked against the registers of
// other offices, decided automatically where the municipality allows it
// (§ 35a VwVfG) or by a clerk, paid, and issued as a signed permit that
// enforcement can look up by plate.
//
// It is the first feature folder on the platform core and the blueprint for
// later ones: it owns its domain types, its state machine, its SQL and its
// HTTP handlers, and uses the platform (store, jobs, web, geo, registers,
// documents, payment) through their small interfaces.
//
// The way of one application:
//
//	received ─job─▶ checking ─▶ approved ─▶ awaiting_payment ─paid─▶ issued
//	                    │           ▲                │
//	                    └▶ review ──┤                └─timeout/abandon─▶ approved (pay again)
//	                       ▲   │    └─▶ rejected
//	                       │   └▶ awaiting_information (documents asked for)
//	                       └─answered / deadline passed─┘
//
// Every transition is stored with time and actor (parking_events). Checks
// run as a job enqueued in the same transaction as the application, so an
// acknowledged application is never lost; a register that does not answer
// leaves the application in "checking" and the job retries with backoff —
// nothing is decided on missing data.
//
// The citizen hears of each step by e-mail (receipt, decision, permit;
// mails.go), enqueued in the mail outbox in the transaction of the step.
// From the municipality's renewal window on, the holder renews the permit
// with a new application that names it (renewal.go); reminders go out 30
// and 7 days before a permit ends (reminders.go). Personal data of
// finished cases is anonymised after the retention period (retention.go).
//
// An issued permit can be changed online (changes.go): a new plate or a
// new address is an application of its own that is checked like a first
// one and replaces the permit for the rest of its term; a lost or damaged
// permit is reissued under a new number (the old QR code then shows as not
// valid); a cancellation ends the permit at once and orders the refund the
// fee schedule allows at the treasury.
//
// Clerks decide the applications in review on minimal pages under
// /sachbearbeitung/bewohnerparken (queue_page.go) or over the API, signed in
// with a casework API key until staff sign-in exists; every view and
// decision is logged in casework_access.
//
// A clerk who misses a document asks the citizen for it (documents.go): the
// case waits in "awaiting_information" until the citizen uploads it on the
// status page or the deadline passes. Uploaded documents are sealed with
// the installation's document key before they are stored.
package parking

import (
	"fmt"
	"time"
)

// Status is where an application stands.
type Status string

const (
	Received Status = "received" // stored and acknowledged; checks are enqueued
	Checking Status = "checking" // the registers are being asked
	Review   Status = "review"   // waits for a clerk (automation off, a check failed, a declaration to review)
	// AwaitingInformation: a clerk asked the citizen for a document or an
	// answer (documents.go); back to review when answered or overdue.
	AwaitingInformation Status = "awaiting_information"
	Approved            Status = "approved"         // decided positively; the fee is due
	AwaitingPayment     Status = "awaiting_payment" // the citizen was sent to the payment provider
	Issued              Status = "issued"           // paid; the permit exists
	Rejected            Status = "rejected"         // decided negatively, with reasons
	Withdrawn           Status = "withdrawn"        // withdrawn by the citizen
)

// transitions is the state machine: from → allowed targets.
var transitions = map[Status][]Status{
	Received: {Checking, Withdrawn},
	Checking: {Approved, Review, Withdrawn},
	Review:   {Approved, Rejected, Withdrawn, AwaitingInformation},
	// AwaitingInformation → Review: answered, or the deadline passed.
	AwaitingInformation: {Review, Withdrawn},
	Approved:            {AwaitingPayment, Issued, Withdrawn},
	// AwaitingPayment → Review: the fee was paid, but the permit a change
	// or reissue replaces expired meanwhile; a clerk settles the case.
	AwaitingPayment: {Issued, Approved, Review, Withdrawn},
}

// CanTransition reports whether the state machine allows from → to.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// label is how the status page names a status.
var labels = map[Status]string{
	Received:            "Eingegangen",
	Checking:            "In Prüfung",
	Review:              "Wird von der Sachbearbeitung geprüft",
	AwaitingInformation: "Unterlagen nachgefordert",
	Approved:            "Bewilligt – Gebühr offen",
	AwaitingPayment:     "Zahlung begonnen",
	Issued:              "Ausgestellt",
	Rejected:            "Abgelehnt",
	Withdrawn:           "Zurückgezogen",
}

// Label returns the German name of a status.
func (s Status) Label() string {
	if l, ok := labels[s]; ok {
		return l
	}
	return string(s)
}

// Relation is how the applicant has the vehicle at their disposal.
type Relation string

const (
	Holder     Relation = "holder"      // Halter
	CompanyCar Relation = "company_car" // Firmenwagen: employer's confirmation needed
	Borrowed   Relation = "borrowed"    // Überlassungserklärung of the holder needed
	CarSharing Relation = "car_sharing" // car-sharing contract needed
)

// Event is one stored transition of an application.
type Event struct {
	Seq  int
	At   time.Time
	By   string
	From Status
	To   Status
	Note string
}

// Application is one application as the service sees it.
type Application struct {
	ID             string
	Municipality   string
	Reference      string // Aktenzeichen
	Status         Status
	AppliedOn      time.Time
	Form           Form
	Plate          string
	ZoneID         string
	DurationMonths int
	FeeCents       *int64
	Outcome        *Decision
	Kassenzeichen  string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Events         []Event
	Permit         *Permit
	RenewsPermit   string // the permit this application renews, if it is a renewal
	Kind           Kind
	ReplacesPermit string // the permit a change or reissue replaces
	// Assignee is the actor who has taken the case in review ("" nobody),
	// AssigneeName how the pages name them, AssignedAt since when.
	Assignee, AssigneeName string
	AssignedAt             time.Time
}

// Permit is an issued Bewohnerparkausweis.
type Permit struct {
	Number       string
	Municipality string
	Plate        string
	ZoneID       string
	ValidFrom    time.Time
	ValidUntil   time.Time // inclusive
	Status       string    // active, revoked
	Token        string    // signed QR token
	IssuedAt     time.Time
	EndedOn      time.Time // zero unless it ended before ValidUntil
	EndReason    string    // "", "replaced", "cancelled"
	ReplacedBy   string    // the permit that replaced it

	// The paid term the permit belongs to: a replacement carries the term
	// of the permit it replaces (fee, first day, months), so that a
	// cancellation refunds from the fee actually paid.
	TermFeeCents int64
	TermFrom     time.Time
	TermMonths   int
}

// Kind is what an application asks for.
type Kind string

const (
	KindNew     Kind = "new"     // a first permit
	KindRenewal Kind = "renewal" // the next term of a permit (renewal.go)
	KindChange  Kind = "change"  // new plate and/or new address for a permit (changes.go)
	KindReissue Kind = "reissue" // a replacement after loss or damage (changes.go)
)

// Label names the kind in German.
func (k Kind) Label() string {
	switch k {
	case KindRenewal:
		return "Verlängerung"
	case KindChange:
		return "Änderung"
	case KindReissue:
		return "Ersatzausweis"
	}
	return "Erstantrag"
}

// FormatCents formats an amount as German currency: "20,40 €".
func FormatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d,%02d €", sign, c/100, c%100)
}
