package adapters

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/registers"
)

// loop is a Caller that hands the body to the provider's backends
// directly (the transport is node's to test); answer, when set, replaces
// the backend's answer.
type loop struct {
	backends map[string]node.Backend
	answer   func(service string) (int, []byte)
	down     bool
}

func (l *loop) Call(ctx context.Context, service, purpose, reference string, body []byte, idempotent bool) ([]byte, error) {
	if l.down {
		return nil, &node.Error{Service: service, Detail: "connection refused", Retried: 3}
	}
	if l.answer != nil {
		status, b := l.answer(service)
		if status != 200 {
			return nil, &node.Error{Service: service, Status: status, Detail: string(b)}
		}
		return b, nil
	}
	_, code, _ := strings.Cut(service, "/")
	status, resp, err := l.backends[code].Serve(ctx, message.Header{Service: service, Purpose: purpose, Reference: reference}, body)
	if err != nil {
		return nil, &node.Error{Service: service, Status: 502, Detail: err.Error()}
	}
	if status != 200 {
		return nil, &node.Error{Service: service, Status: status, Detail: string(resp)}
	}
	return resp, nil
}

func demoRegisters(t *testing.T) *registers.Demo {
	t.Helper()
	addrs, err := demo.AddressesInZones()
	if err != nil {
		t.Fatal(err)
	}
	return registers.NewDemo(2026, addrs)
}

// The demo registers answer the same through the adapters as directly,
// for every kind of demo resident.
func TestAdaptersAnswerLikeTheRegisters(t *testing.T) {
	d := demoRegisters(t)
	backends := map[string]node.Backend{ServiceResidence: ResidenceBackend(d.Residence()), ServiceVehicle: VehicleBackend(d.Vehicles())}
	for code, b := range TreasuryBackends(d.Treasury()) {
		backends[code] = b
	}
	l := &loop{backends: backends}
	res := Residence{C: l, Service: "KOMMUNE:110000000000:meldebehoerde/" + ServiceResidence}
	veh := Vehicles{C: l, Service: "KBA:zulassung/" + ServiceVehicle}
	ctx := context.Background()
	p := registers.Purpose{Procedure: "Bewohnerparkausweis", FileReference: "BP-2026-AAAAAAAA", Reason: "Prüfung", LegalBasis: "§ 34 BMG", Municipality: "110000000000"}
	seen := map[string]bool{}
	for _, r := range d.Residents() {
		if seen[r.Expect] || len(r.Vehicles) == 0 {
			continue
		}
		seen[r.Expect] = true
		at := registers.AddressRef{Street: r.Address.Street, HouseNumber: r.Address.HouseNumber, Postcode: r.Address.Postcode}
		want, err := d.CheckResidence(ctx, p, r.Person, at)
		if err != nil {
			t.Fatal(err)
		}
		got, err := res.CheckResidence(ctx, p, r.Person, at)
		if err != nil {
			t.Fatalf("%s: %v", r.Expect, err)
		}
		if got.Registered != want.Registered || got.Kind != want.Kind || got.Blocked != want.Blocked || got.NameMatch != want.NameMatch ||
			!got.Since.Equal(want.Since) || got.Source != want.Source || (got.MainResidence == nil) != (want.MainResidence == nil) {
			t.Errorf("%s: residence %+v, directly %+v", r.Expect, got, want)
		}
		plate := r.Vehicles[0].Plate.String()
		wv, _ := d.CheckVehicle(ctx, p, plate, r.Person)
		gv, err := veh.CheckVehicle(ctx, p, plate, r.Person)
		if err != nil {
			t.Fatalf("%s: %v", r.Expect, err)
		}
		wv.AnsweredAt, gv.AnsweredAt = time.Time{}, time.Time{}
		if gv != wv {
			t.Errorf("%s: vehicle %+v, directly %+v", r.Expect, gv, wv)
		}
	}
	if len(seen) < 6 {
		t.Fatalf("only %d kinds of residents compared", len(seen))
	}
	// The treasury: a receivable, its booking state, a refund — idempotent by key.
	kasse := Treasury{C: l, Provider: "KASSE:berlin"}
	rc, err := kasse.CreateReceivable(ctx, p, "key-1", 10200, "Bewohnerparkausweis BP-2026-AAAAAAAA")
	if err != nil || rc.Kassenzeichen == "" || rc.AmountCents != 10200 {
		t.Fatalf("receivable: %+v %v", rc, err)
	}
	if again, _ := kasse.CreateReceivable(ctx, p, "key-1", 10200, "Bewohnerparkausweis BP-2026-AAAAAAAA"); again.Kassenzeichen != rc.Kassenzeichen {
		t.Errorf("retried receivable: %s, want %s", again.Kassenzeichen, rc.Kassenzeichen)
	}
	if booked, _, err := kasse.Booked(ctx, rc.Kassenzeichen); err != nil || booked {
		t.Errorf("booked before payment: %v %v", booked, err)
	}
}

// What a register answers is checked: an unreachable node, nonsense or a
// contradiction is Unavailable (the check waits); a bad request is refused
// by the provider.
func TestAnswersAreValidated(t *testing.T) {
	ctx := context.Background()
	p := registers.Purpose{Procedure: "Bewohnerparkausweis", FileReference: "BP-1", Reason: "Prüfung", LegalBasis: "§ 34 BMG"}
	who := registers.Person{GivenNames: "Anna", FamilyName: "Muster", BirthDate: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	for name, tc := range map[string]struct {
		l *loop
	}{
		"node down":     {&loop{down: true}},
		"not JSON":      {&loop{answer: func(string) (int, []byte) { return 200, []byte("<html>") }}},
		"unknown field": {&loop{answer: func(string) (int, []byte) { return 200, []byte(`{"gemeldet":true,"art":"haupt","x":1}`) }}},
		"registered, no kind": {&loop{answer: func(string) (int, []byte) {
			return 200, []byte(`{"gemeldet":true,"art":"","quelle":"q","beantwortet":"2026-11-27T10:00:00Z"}`)
		}}},
		"unknown kind": {&loop{answer: func(string) (int, []byte) {
			return 200, []byte(`{"gemeldet":true,"art":"zweit","quelle":"q","beantwortet":"2026-11-27T10:00:00Z"}`)
		}}},
		"no source":  {&loop{answer: func(string) (int, []byte) { return 200, []byte(`{"gemeldet":false,"art":""}`) }}},
		"server 503": {&loop{answer: func(string) (int, []byte) { return 503, []byte("weg") }}},
	} {
		_, err := Residence{C: tc.l, Service: "KOMMUNE:1/" + ServiceResidence}.CheckResidence(ctx, p, who, registers.AddressRef{Street: "A", HouseNumber: "1", Postcode: "10115"})
		if !errs.Is(err, errs.Unavailable) {
			t.Errorf("%s: %v, want Unavailable", name, err)
		}
	}
	// A refusal (403: not allowed) is not "try later".
	_, err := Residence{C: &loop{answer: func(string) (int, []byte) { return 403, []byte("nicht erlaubt") }}, Service: "KOMMUNE:1/" + ServiceResidence}.
		CheckResidence(ctx, p, who, registers.AddressRef{})
	var ne *node.Error
	if !errors.As(err, &ne) || ne.Status != 403 || errs.Is(err, errs.Unavailable) {
		t.Errorf("403: %v", err)
	}
	// The provider refuses malformed requests with 400.
	b := ResidenceBackend(demoRegisters(t).Residence())
	for _, body := range []string{`{"person":{}}`, `{"zweck":{},"person":{"familienname":"M","geburtsdatum":"1.1.1980"},"anschrift":{}}`, `{"unbekannt":1}`, `[]`} {
		if status, _, err := b.Serve(ctx, message.Header{}, []byte(body)); status != 400 || err != nil {
			t.Errorf("body %s: %d %v, want 400", body, status, err)
		}
	}
}
