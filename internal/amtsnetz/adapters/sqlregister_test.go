package adapters

import (
	"context"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// The registers in an office's own database, on both engines: a DATE and
// BOOLEAN schema on PostgreSQL, text on SQLite.
func TestSQLRegisters(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, e)
			db, err := store.Open(ctx, url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			dateType, boolType, no, yes := "TEXT", "TEXT", "'nein'", "'ja'"
			if e == store.Postgres {
				dateType, boolType, no, yes = "DATE", "BOOLEAN", "false", "true"
			}
			for _, q := range []string{
				`CREATE TABLE einwohner (vornamen TEXT, familienname TEXT, geburtsdatum ` + dateType + `, strasse TEXT, hausnummer TEXT,
					postleitzahl TEXT, art TEXT, seit ` + dateType + `, auskunftssperre ` + boolType + `)`,
				`INSERT INTO einwohner VALUES ('Ursula', 'von der Leyen', '1958-10-08', 'Lehrter Straße', '53', '10557', 'haupt', '2001-04-01', ` + no + `)`,
				`INSERT INTO einwohner VALUES ('Jürgen', 'Müller', '1970-01-01', 'Lehrter Str.', '53', '10557', 'neben', NULL, ` + yes + `)`,
				`CREATE TABLE fahrzeuge (kennzeichen TEXT, halter_vornamen TEXT, halter_familienname TEXT, halter_geburtsdatum ` + dateType + `,
					klasse TEXT, laenge_mm INTEGER, breite_mm INTEGER, masse_kg INTEGER, kraftstoff TEXT, ausser_betrieb ` + boolType + `)`,
				`INSERT INTO fahrzeuge VALUES ('B-AB 1234', 'Ursula', 'von der Leyen', '1958-10-08', 'M1', 4500, 1800, 1900, 'petrol', ` + no + `)`,
			} {
				if _, err := db.Write().ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			p := registers.Purpose{Procedure: "Bewohnerparkausweis", Reason: "Prüfung", LegalBasis: "§ 34 BMG"}
			at := registers.AddressRef{Street: "Lehrter Str.", HouseNumber: "53", Postcode: "10557"}
			r, err := NewSQLResidence(ctx, url, "einwohner")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			a, err := r.CheckResidence(ctx, p, registers.Person{GivenNames: "Ursula von der", FamilyName: "Leyen", BirthDate: day("1958-10-08")}, at)
			if err != nil || !a.Registered || a.Kind != registers.Hauptwohnsitz || !a.Since.Equal(day("2001-04-01")) || a.Blocked {
				t.Errorf("Ursula: %+v %v", a, err)
			}
			a, err = r.CheckResidence(ctx, p, registers.Person{GivenNames: "Juergen", FamilyName: "Mueller", BirthDate: day("1970-01-01")}, at)
			if err != nil || !a.Registered || a.Kind != registers.Nebenwohnsitz || !a.Blocked || !a.Since.IsZero() {
				t.Errorf("Jürgen: %+v %v", a, err)
			}
			a, _ = r.CheckResidence(ctx, p, registers.Person{GivenNames: "Ursula", FamilyName: "von der Leyen", BirthDate: day("1958-10-08")},
				registers.AddressRef{Street: "Invalidenstraße", HouseNumber: "1", Postcode: "10115"})
			if a.Registered {
				t.Error("registered at another address")
			}
			if _, err := NewSQLResidence(ctx, url, "einwohner; DROP TABLE einwohner"); err == nil {
				t.Error("a table name with SQL in it was accepted")
			}
			if _, err := NewSQLResidence(ctx, url, "fahrzeuge"); err == nil {
				t.Error("a table without the columns was accepted")
			}
			b, err := SQLBackend(ctx, "fahrzeugregister", url, "fahrzeuge")
			if err != nil {
				t.Fatal(err)
			}
			status, body, err := b.Serve(ctx, message.Header{}, []byte(`{"zweck":{},"kennzeichen":"b-ab 1234","halter":{"vornamen":"Ursula","familienname":"von der Leyen","geburtsdatum":"1958-10-08"}}`))
			if err != nil || status != 200 || !strings.Contains(string(body), `"gefunden":true`) || !strings.Contains(string(body), `"halter_passt":true`) ||
				!strings.Contains(string(body), `"laenge_mm":4500`) {
				t.Errorf("vehicle: %d %s %v", status, body, err)
			}
			status, body, _ = b.Serve(ctx, message.Header{}, []byte(`{"zweck":{},"kennzeichen":"B-XY 1","halter":{"vornamen":"A","familienname":"B","geburtsdatum":"1990-01-01"}}`))
			if status != 200 || !strings.Contains(string(body), `"gefunden":false`) {
				t.Errorf("unknown plate: %d %s", status, body)
			}
		})
	}
}
