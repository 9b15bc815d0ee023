// Package adapters puts the registers of internal/registers on the
// Amtsnetz: on the consumer side, implementations of registers.Residence,
// registers.Vehicles and registers.Treasury that call the providers'
// services through a node.Client; on the provider side, node.Backends
// that answer those services from a register implementation (the demo
// registers, or an office's own adapter).
//
// The services and their JSON:
//
//	melderegister/wohnsitz-pruefen  {zweck, person, anschrift} → {gemeldet, art, seit, auskunftssperre, hauptwohnung, namensabgleich, quelle, beantwortet}
//	kfz/halter-pruefen              {zweck, kennzeichen, halter} → {gefunden, halter_passt, …, quelle, beantwortet}
//	kasse/sollstellung              {zweck, schluessel, betrag_cent, verwendungszweck} → {kassenzeichen, betrag_cent, verwendungszweck, angelegt}
//	kasse/zahlung-abfragen          {kassenzeichen} → {gebucht, am}
//	kasse/auszahlung                {zweck, schluessel, kassenzeichen, betrag_cent, verwendungszweck} → {buchung, kassenzeichen, betrag_cent, angelegt}
//
// Every answer is validated before it reaches the parking service (a
// register that answers nonsense is treated like one that does not
// answer: the check waits and retries, nothing is decided on it); every
// request body is decoded strictly on the provider side.
package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/registers"
)

// Service codes.
const (
	ServiceResidence  = "wohnsitz-pruefen"
	ServiceVehicle    = "halter-pruefen"
	ServiceReceivable = "sollstellung"
	ServiceBooked     = "zahlung-abfragen"
	ServiceRefund     = "auszahlung"
)

const dateLayout = "2006-01-02"

// Wire types.

type purposeJSON struct {
	Procedure     string `json:"verfahren"`
	FileReference string `json:"aktenzeichen"`
	Reason        string `json:"grund"`
	LegalBasis    string `json:"rechtsgrundlage"`
	Municipality  string `json:"behoerde_ars"`
}

func purposeOf(p registers.Purpose) purposeJSON {
	return purposeJSON{p.Procedure, p.FileReference, p.Reason, p.LegalBasis, p.Municipality}
}

func (p purposeJSON) registers() registers.Purpose {
	return registers.Purpose{Procedure: p.Procedure, FileReference: p.FileReference, Reason: p.Reason, LegalBasis: p.LegalBasis, Municipality: p.Municipality}
}

// header is the message purpose: reason and legal basis, for the logs.
func headerPurpose(p registers.Purpose) string {
	s := p.Procedure + ": " + p.Reason
	if p.LegalBasis != "" {
		s += " (" + p.LegalBasis + ")"
	}
	if len([]rune(s)) > 200 {
		s = string([]rune(s)[:199]) + "…"
	}
	return s
}

type personJSON struct {
	GivenNames string `json:"vornamen"`
	FamilyName string `json:"familienname"`
	BirthDate  string `json:"geburtsdatum"`
}

func personOf(p registers.Person) personJSON {
	return personJSON{p.GivenNames, p.FamilyName, p.BirthDate.Format(dateLayout)}
}

func (p personJSON) registers() (registers.Person, error) {
	d, err := time.Parse(dateLayout, p.BirthDate)
	if err != nil || p.FamilyName == "" {
		return registers.Person{}, errors.New("person: familienname und geburtsdatum (JJJJ-MM-TT) sind nötig")
	}
	return registers.Person{GivenNames: p.GivenNames, FamilyName: p.FamilyName, BirthDate: d}, nil
}

type addressJSON struct {
	Street      string `json:"strasse"`
	HouseNumber string `json:"hausnummer"`
	Postcode    string `json:"postleitzahl"`
}

type residenceQuery struct {
	Purpose purposeJSON `json:"zweck"`
	Person  personJSON  `json:"person"`
	Address addressJSON `json:"anschrift"`
}

type residenceReply struct {
	Registered    bool         `json:"gemeldet"`
	Kind          string       `json:"art"`
	Since         string       `json:"seit,omitempty"`
	Blocked       bool         `json:"auskunftssperre"`
	MainResidence *addressJSON `json:"hauptwohnung,omitempty"`
	NameMatch     uint8        `json:"namensabgleich"`
	Source        string       `json:"quelle"`
	AnsweredAt    time.Time    `json:"beantwortet"`
}

type vehicleQuery struct {
	Purpose purposeJSON `json:"zweck"`
	Plate   string      `json:"kennzeichen"`
	Holder  personJSON  `json:"halter"`
}

type vehicleReply struct {
	Found          bool      `json:"gefunden"`
	HolderMatches  bool      `json:"halter_passt"`
	HolderMatch    uint8     `json:"halterabgleich"`
	Class          string    `json:"klasse"`
	LengthMM       int       `json:"laenge_mm"`
	WidthMM        int       `json:"breite_mm"`
	MassKg         int       `json:"masse_kg"`
	Fuel           string    `json:"kraftstoff"`
	Decommissioned bool      `json:"ausser_betrieb"`
	Source         string    `json:"quelle"`
	AnsweredAt     time.Time `json:"beantwortet"`
}

type receivableQuery struct {
	Purpose     purposeJSON `json:"zweck"`
	Key         string      `json:"schluessel"`
	AmountCents int64       `json:"betrag_cent"`
	Text        string      `json:"verwendungszweck"`
}

type receivableReply struct {
	Kassenzeichen string    `json:"kassenzeichen"`
	AmountCents   int64     `json:"betrag_cent"`
	Text          string    `json:"verwendungszweck"`
	CreatedAt     time.Time `json:"angelegt"`
}

type bookedQuery struct {
	Kassenzeichen string `json:"kassenzeichen"`
}

type bookedReply struct {
	Booked bool      `json:"gebucht"`
	At     time.Time `json:"am"`
}

type refundQuery struct {
	Purpose       purposeJSON `json:"zweck"`
	Key           string      `json:"schluessel"`
	Kassenzeichen string      `json:"kassenzeichen"`
	AmountCents   int64       `json:"betrag_cent"`
	Text          string      `json:"verwendungszweck"`
}

type refundReply struct {
	Booking       string    `json:"buchung"`
	Kassenzeichen string    `json:"kassenzeichen"`
	AmountCents   int64     `json:"betrag_cent"`
	CreatedAt     time.Time `json:"angelegt"`
}

// decodeStrict reads exactly one JSON value with known fields only.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("mehr als ein JSON-Wert")
	}
	return nil
}

// Consumer side.

// Caller is what the adapters need of a node.Client.
type Caller interface {
	Call(ctx context.Context, service, purpose, reference string, body []byte, idempotent bool) ([]byte, error)
}

// call sends q to service and decodes the answer into r; an unreachable
// provider or a malformed answer is errs.Unavailable (the caller waits
// and retries).
func call(ctx context.Context, c Caller, service string, p registers.Purpose, idempotent bool, q, r any) error {
	body, err := json.Marshal(q)
	if err != nil {
		return err
	}
	resp, err := c.Call(ctx, service, headerPurpose(p), p.FileReference, body, idempotent)
	if err != nil {
		var ne *node.Error
		if errors.Is(err, node.ErrCircuitOpen) || (errors.As(err, &ne) && ne.Unavailable()) {
			return errs.Wrap(errs.Unavailable, err, "Das Register %s ist zurzeit nicht erreichbar.", service)
		}
		return err
	}
	if err := decodeStrict(resp, r); err != nil {
		return errs.Wrap(errs.Unavailable, err, "Die Antwort des Registers %s ist unlesbar.", service)
	}
	return nil
}

// Residence is registers.Residence over the Amtsnetz; Service is the
// provider's service ID (PROVIDER/wohnsitz-pruefen).
type Residence struct {
	C       Caller
	Service string
}

// CheckResidence implements registers.Residence.
func (a Residence) CheckResidence(ctx context.Context, p registers.Purpose, who registers.Person, at registers.AddressRef) (registers.ResidenceAnswer, error) {
	var r residenceReply
	q := residenceQuery{purposeOf(p), personOf(who), addressJSON{at.Street, at.HouseNumber, at.Postcode}}
	if err := call(ctx, a.C, a.Service, p, true, q, &r); err != nil {
		return registers.ResidenceAnswer{}, err
	}
	ans := registers.ResidenceAnswer{Registered: r.Registered, Kind: registers.ResidenceKind(r.Kind), Blocked: r.Blocked,
		NameMatch: registers.Match(r.NameMatch), Source: r.Source, AnsweredAt: r.AnsweredAt}
	switch {
	case ans.Kind != registers.Hauptwohnsitz && ans.Kind != registers.Nebenwohnsitz && ans.Kind != registers.NotRegistered,
		ans.Registered == (ans.Kind == registers.NotRegistered),
		r.NameMatch > uint8(registers.Exact), r.Source == "", r.AnsweredAt.IsZero():
		return registers.ResidenceAnswer{}, errs.E(errs.Unavailable, "Das Melderegister hat widersprüchlich geantwortet.")
	}
	if r.Since != "" {
		if ans.Since, _ = time.Parse(dateLayout, r.Since); ans.Since.IsZero() {
			return registers.ResidenceAnswer{}, errs.E(errs.Unavailable, "Das Melderegister nennt ein unlesbares Einzugsdatum.")
		}
	}
	if m := r.MainResidence; m != nil {
		ans.MainResidence = &registers.AddressRef{Street: m.Street, HouseNumber: m.HouseNumber, Postcode: m.Postcode}
	}
	return ans, nil
}

// Vehicles is registers.Vehicles over the Amtsnetz.
type Vehicles struct {
	C       Caller
	Service string
}

// CheckVehicle implements registers.Vehicles.
func (a Vehicles) CheckVehicle(ctx context.Context, p registers.Purpose, plate string, holder registers.Person) (registers.VehicleAnswer, error) {
	var r vehicleReply
	if err := call(ctx, a.C, a.Service, p, true, vehicleQuery{purposeOf(p), plate, personOf(holder)}, &r); err != nil {
		return registers.VehicleAnswer{}, err
	}
	if r.HolderMatch > uint8(registers.Exact) || r.LengthMM < 0 || r.MassKg < 0 || r.WidthMM < 0 || r.Source == "" || r.AnsweredAt.IsZero() ||
		(!r.Found && r.HolderMatches) {
		return registers.VehicleAnswer{}, errs.E(errs.Unavailable, "Das Fahrzeugregister hat widersprüchlich geantwortet.")
	}
	return registers.VehicleAnswer{Found: r.Found, HolderMatches: r.HolderMatches, HolderMatch: registers.Match(r.HolderMatch), Class: r.Class,
		LengthMM: r.LengthMM, WidthMM: r.WidthMM, MassKg: r.MassKg, Fuel: r.Fuel, Decommissioned: r.Decommissioned,
		AnsweredAt: r.AnsweredAt, Source: r.Source}, nil
}

// Treasury is registers.Treasury over the Amtsnetz; Provider is the
// treasury's member ID (its services are PROVIDER/sollstellung, …).
type Treasury struct {
	C        Caller
	Provider string
}

// CreateReceivable implements registers.Treasury (idempotent by key).
func (a Treasury) CreateReceivable(ctx context.Context, p registers.Purpose, key string, amountCents int64, text string) (registers.Receivable, error) {
	var r receivableReply
	if err := call(ctx, a.C, a.Provider+"/"+ServiceReceivable, p, true, receivableQuery{purposeOf(p), key, amountCents, text}, &r); err != nil {
		return registers.Receivable{}, err
	}
	if r.Kassenzeichen == "" || r.AmountCents != amountCents {
		return registers.Receivable{}, errs.E(errs.Unavailable, "Die Stadtkasse hat die Sollstellung nicht wie beantragt bestätigt.")
	}
	return registers.Receivable{Kassenzeichen: r.Kassenzeichen, AmountCents: r.AmountCents, Purpose: r.Text, CreatedAt: r.CreatedAt}, nil
}

// Booked implements registers.Treasury.
func (a Treasury) Booked(ctx context.Context, kassenzeichen string) (bool, time.Time, error) {
	var r bookedReply
	p := registers.Purpose{Procedure: "Zahlungsabgleich", FileReference: kassenzeichen, Reason: "Zahlungseingang prüfen"}
	if err := call(ctx, a.C, a.Provider+"/"+ServiceBooked, p, true, bookedQuery{kassenzeichen}, &r); err != nil {
		return false, time.Time{}, err
	}
	return r.Booked, r.At, nil
}

// OrderRefund implements registers.Treasury (idempotent by key).
func (a Treasury) OrderRefund(ctx context.Context, p registers.Purpose, key, kassenzeichen string, amountCents int64, text string) (registers.Refund, error) {
	var r refundReply
	if err := call(ctx, a.C, a.Provider+"/"+ServiceRefund, p, true, refundQuery{purposeOf(p), key, kassenzeichen, amountCents, text}, &r); err != nil {
		return registers.Refund{}, err
	}
	if r.Booking == "" || r.AmountCents != amountCents || r.Kassenzeichen != kassenzeichen {
		return registers.Refund{}, errs.E(errs.Unavailable, "Die Stadtkasse hat die Auszahlung nicht wie beantragt bestätigt.")
	}
	return registers.Refund{Booking: r.Booking, Kassenzeichen: r.Kassenzeichen, AmountCents: r.AmountCents, CreatedAt: r.CreatedAt}, nil
}

// Provider side.

func jsonAnswer(v any, err error) (int, []byte, error) {
	if err != nil {
		if errs.Is(err, errs.Invalid) {
			b, _ := json.Marshal(map[string]any{"type": "about:blank", "title": "Bad Request", "status": 400, "detail": errs.MessageOf(err)})
			return http.StatusBadRequest, b, nil
		}
		return 0, nil, err // the node answers 502
	}
	b, err := json.Marshal(v)
	return http.StatusOK, b, err
}

func invalid(err error) error { return errs.Wrap(errs.Invalid, err, "Anfrage ungültig: %v", err) }

// ResidenceBackend answers wohnsitz-pruefen from a registration office.
func ResidenceBackend(r registers.Residence) node.Backend {
	return node.BackendFunc(func(ctx context.Context, h message.Header, body []byte) (int, []byte, error) {
		var q residenceQuery
		if err := decodeStrict(body, &q); err != nil {
			return jsonAnswer(nil, invalid(err))
		}
		who, err := q.Person.registers()
		if err != nil {
			return jsonAnswer(nil, invalid(err))
		}
		a, err := r.CheckResidence(ctx, q.Purpose.registers(), who, registers.AddressRef{Street: q.Address.Street, HouseNumber: q.Address.HouseNumber, Postcode: q.Address.Postcode})
		if err != nil {
			return jsonAnswer(nil, err)
		}
		rep := residenceReply{Registered: a.Registered, Kind: string(a.Kind), Blocked: a.Blocked, NameMatch: uint8(a.NameMatch), Source: a.Source, AnsweredAt: a.AnsweredAt}
		if !a.Since.IsZero() {
			rep.Since = a.Since.Format(dateLayout)
		}
		if m := a.MainResidence; m != nil {
			rep.MainResidence = &addressJSON{m.Street, m.HouseNumber, m.Postcode}
		}
		return jsonAnswer(rep, nil)
	})
}

// VehicleBackend answers halter-pruefen from a vehicle register.
func VehicleBackend(r registers.Vehicles) node.Backend {
	return node.BackendFunc(func(ctx context.Context, h message.Header, body []byte) (int, []byte, error) {
		var q vehicleQuery
		if err := decodeStrict(body, &q); err != nil {
			return jsonAnswer(nil, invalid(err))
		}
		who, err := q.Holder.registers()
		if err != nil || q.Plate == "" {
			return jsonAnswer(nil, invalid(fmt.Errorf("kennzeichen und halter sind nötig")))
		}
		a, err := r.CheckVehicle(ctx, q.Purpose.registers(), q.Plate, who)
		if err != nil {
			return jsonAnswer(nil, err)
		}
		return jsonAnswer(vehicleReply{Found: a.Found, HolderMatches: a.HolderMatches, HolderMatch: uint8(a.HolderMatch), Class: a.Class,
			LengthMM: a.LengthMM, WidthMM: a.WidthMM, MassKg: a.MassKg, Fuel: a.Fuel, Decommissioned: a.Decommissioned,
			Source: a.Source, AnsweredAt: a.AnsweredAt}, nil)
	})
}

// TreasuryBackends answer the treasury's three services.
func TreasuryBackends(t registers.Treasury) map[string]node.Backend {
	return map[string]node.Backend{
		ServiceReceivable: node.BackendFunc(func(ctx context.Context, h message.Header, body []byte) (int, []byte, error) {
			var q receivableQuery
			if err := decodeStrict(body, &q); err != nil || q.Key == "" || q.AmountCents <= 0 {
				return jsonAnswer(nil, invalid(fmt.Errorf("schluessel und ein positiver betrag_cent sind nötig")))
			}
			r, err := t.CreateReceivable(ctx, q.Purpose.registers(), q.Key, q.AmountCents, q.Text)
			return jsonAnswer(receivableReply{r.Kassenzeichen, r.AmountCents, r.Purpose, r.CreatedAt}, err)
		}),
		ServiceBooked: node.BackendFunc(func(ctx context.Context, h message.Header, body []byte) (int, []byte, error) {
			var q bookedQuery
			if err := decodeStrict(body, &q); err != nil || q.Kassenzeichen == "" {
				return jsonAnswer(nil, invalid(fmt.Errorf("kassenzeichen ist nötig")))
			}
			ok, at, err := t.Booked(ctx, q.Kassenzeichen)
			return jsonAnswer(bookedReply{ok, at}, err)
		}),
		ServiceRefund: node.BackendFunc(func(ctx context.Context, h message.Header, body []byte) (int, []byte, error) {
			var q refundQuery
			if err := decodeStrict(body, &q); err != nil || q.Key == "" || q.Kassenzeichen == "" || q.AmountCents <= 0 {
				return jsonAnswer(nil, invalid(fmt.Errorf("schluessel, kassenzeichen und ein positiver betrag_cent sind nötig")))
			}
			r, err := t.OrderRefund(ctx, q.Purpose.registers(), q.Key, q.Kassenzeichen, q.AmountCents, q.Text)
			return jsonAnswer(refundReply{r.Booking, r.Kassenzeichen, r.AmountCents, r.CreatedAt}, err)
		}),
	}
}
