package adapters

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/registers"
)

const residenceCSV = "vornamen,familienname,geburtsdatum,strasse,hausnummer,postleitzahl,art,seit,auskunftssperre\n" +
	"Ursula,von der Leyen,1958-10-08,Lehrter Straße,53,10557,haupt,2001-04-01,nein\n" +
	"Jürgen,Müller,1970-01-01,Lehrter Str.,53,10557,neben,2010-05-01,ja\n"

const vehicleCSV = "kennzeichen,halter_vornamen,halter_familienname,halter_geburtsdatum,klasse,laenge_mm,breite_mm,masse_kg,kraftstoff,ausser_betrieb\n" +
	"B-AB 1234,Ursula,von der Leyen,1958-10-08,M1,4500,1800,1900,petrol,nein\n"

func day(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }

func TestCSVRegisters(t *testing.T) {
	dir := t.TempDir()
	res, veh := filepath.Join(dir, "melde.csv"), filepath.Join(dir, "kfz.csv")
	os.WriteFile(res, []byte(residenceCSV), 0o600)
	os.WriteFile(veh, []byte(vehicleCSV), 0o600)
	r, err := NewCSVResidence(res)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := registers.Purpose{Procedure: "Bewohnerparkausweis", Reason: "Prüfung", LegalBasis: "§ 34 BMG"}
	at := registers.AddressRef{Street: "Lehrter Str.", HouseNumber: "53", Postcode: "10557"}
	// The particles with the given names still find her; ü as ue too.
	a, err := r.CheckResidence(ctx, p, registers.Person{GivenNames: "Ursula von der", FamilyName: "Leyen", BirthDate: day("1958-10-08")}, at)
	if err != nil || !a.Registered || a.Kind != registers.Hauptwohnsitz || !a.Since.Equal(day("2001-04-01")) || !strings.Contains(a.Source, "melde.csv") {
		t.Errorf("Ursula: %+v %v", a, err)
	}
	a, _ = r.CheckResidence(ctx, p, registers.Person{GivenNames: "Juergen", FamilyName: "Mueller", BirthDate: day("1970-01-01")}, at)
	if !a.Registered || a.Kind != registers.Nebenwohnsitz || !a.Blocked {
		t.Errorf("Jürgen: %+v", a)
	}
	a, _ = r.CheckResidence(ctx, p, registers.Person{GivenNames: "Ursula", FamilyName: "von der Leyen", BirthDate: day("1958-10-09")}, at)
	if a.Registered {
		t.Error("another birth date registered")
	}
	// A changed export is read again; a broken one keeps the last good.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(res, []byte(strings.Replace(residenceCSV, "haupt,2001", "neben,2001", 1)), 0o600)
	os.Chtimes(res, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	a, _ = r.CheckResidence(ctx, p, registers.Person{GivenNames: "Ursula", FamilyName: "von der Leyen", BirthDate: day("1958-10-08")}, at)
	if a.Kind != registers.Nebenwohnsitz {
		t.Errorf("after the new export: %s", a.Kind)
	}
	os.WriteFile(res, []byte("kaputt"), 0o600)
	os.Chtimes(res, time.Now().Add(2*time.Minute), time.Now().Add(2*time.Minute))
	if a, err := r.CheckResidence(ctx, p, registers.Person{GivenNames: "Ursula", FamilyName: "von der Leyen", BirthDate: day("1958-10-08")}, at); err != nil || !a.Registered {
		t.Errorf("with a broken new export: %+v %v (want the last good one)", a, err)
	}

	v, err := NewCSVVehicles(veh)
	if err != nil {
		t.Fatal(err)
	}
	va, _ := v.CheckVehicle(ctx, p, "b ab 1234", registers.Person{GivenNames: "Ursula", FamilyName: "von der Leyen", BirthDate: day("1958-10-08")})
	if !va.Found || !va.HolderMatches || va.LengthMM != 4500 || va.Class != "M1" {
		t.Errorf("vehicle: %+v", va)
	}
	if va, _ := v.CheckVehicle(ctx, p, "B-XY 1", registers.Person{}); va.Found {
		t.Error("an unknown plate was found")
	}
	// Bad exports are refused at start, naming the line.
	for name, content := range map[string]string{
		"header":    "name,geburtsdatum\nx,y\n",
		"kind":      strings.Replace(residenceCSV, "haupt", "zweit", 1),
		"birth":     strings.Replace(residenceCSV, "1958-10-08", "08.10.1958", 1),
		"columns":   residenceCSV + "a,b\n",
		"sperre":    strings.Replace(residenceCSV, ",nein\n", ",vielleicht\n", 1),
		"no street": strings.Replace(residenceCSV, "Lehrter Straße", "", 1),
	} {
		f := filepath.Join(dir, name+".csv")
		os.WriteFile(f, []byte(content), 0o600)
		if _, err := NewCSVResidence(f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := CSVBackend("kasse", res); err == nil {
		t.Error("an unknown CSV kind was accepted")
	}
	// Through the backend, as a node serves it.
	b, err := CSVBackend("fahrzeugregister", veh)
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := b.Serve(ctx, message.Header{}, []byte(`{"zweck":{},"kennzeichen":"B-AB 1234","halter":{"vornamen":"Ursula","familienname":"von der Leyen","geburtsdatum":"1958-10-08"}}`))
	if err != nil || status != 200 || !strings.Contains(string(body), `"gefunden":true`) {
		t.Errorf("backend: %d %s %v", status, body, err)
	}
}
