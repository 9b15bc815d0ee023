package geo

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func TestParseAddressesCSVBerlin(t *testing.T) {
	f, err := os.Open(berlinAddressesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var progress []int
	addrs, st, err := ParseAddressesCSV(f, CSVOptions{Tenant: "110000000000", Source: "osm", Progress: func(n int) { progress = append(progress, n) }})
	if err != nil {
		t.Fatalf("ParseAddressesCSV: %v", err)
	}
	t.Logf("%+v", st)

	// Facts from SOURCE.md.
	if st.Rows != 31310 {
		t.Errorf("Rows = %d, want 31310", st.Rows)
	}
	if st.SkippedNoHouseNumber != 278 {
		t.Errorf("SkippedNoHouseNumber = %d, want 278", st.SkippedNoHouseNumber)
	}
	if st.NoPostcode > 908 || st.NoPostcode == 0 {
		t.Errorf("NoPostcode = %d, want between 1 and the 908 rows without one", st.NoPostcode)
	}
	if st.Duplicates == 0 {
		t.Errorf("Duplicates = 0, want the repeated OSM objects merged")
	}
	skipped := st.SkippedNoHouseNumber + st.SkippedNoStreet + st.SkippedBadHouseNumber + st.SkippedBadCoordinates
	if st.Kept+skipped+st.Duplicates != st.Rows || st.Kept != len(addrs) {
		t.Errorf("stats do not add up: %+v, %d addresses", st, len(addrs))
	}

	seen := map[[3]string]bool{}
	for _, a := range addrs {
		if a.Postcode != "" && !validPostcode(a.Postcode) {
			t.Errorf("%s %s: postcode %q, want five digits or empty", a.Street, a.HouseNumber, a.Postcode)
		}
		hn, err := HouseNumberKey(a.HouseNumber)
		if err != nil {
			t.Errorf("%s %q: house number kept but %v", a.Street, a.HouseNumber, err)
		}
		k := [3]string{StreetKey(a.Street), hn, a.Postcode}
		if seen[k] {
			t.Errorf("duplicate after merge: %q", k)
		}
		seen[k] = true
		if a.District == "" || a.Tenant != "110000000000" || a.Source != "osm" {
			t.Errorf("%+v: want district, tenant and source set", a)
		}
	}
	if len(progress) != 31 || progress[0] != 1000 || progress[30] != 31000 {
		t.Errorf("progress calls %v, want every 1000 rows up to 31000", progress)
	}
}

func TestParseAddressesCSV(t *testing.T) {
	tests := []struct {
		name  string
		input string
		opts  CSVOptions
		want  []Address
		stats CSVStats
	}{
		{
			name: "plain header, cleaning",
			input: "street,housenumber,postcode,lon,lat,district\n" +
				"Lehrter Straße,53,10557.0,13.3585,52.5345,Mitte\n" +
				"Lehrter Str.,53,10557,13.3586,52.5346,Mitte\n" + // same address again
				"Lehrter Straße,53,10115,13.3585,52.5345,Mitte\n" + // another postcode: kept
				"Lehrter Straße,,10557,13.3585,52.5345,Mitte\n" +
				",12,10557,13.3585,52.5345,Mitte\n" +
				"Lehrter Straße,6 II,10557,13.3585,52.5345,Mitte\n" +
				"Lehrter Straße,54,10557,NaN,52.5345,Mitte\n" +
				"Lehrter Straße,55,10557,13.3585,95,Mitte\n" +
				"Lehrter Straße,56,10557,0,0,Mitte\n" +
				"Lehrter Straße,57,10557,,52.5,Mitte\n" +
				"Lehrter Straße,58,1067,13.3585,52.5345,Mitte\n" + // lost leading zero
				"Lehrter Straße,59,ABCDE,13.3585,52.5345,Mitte\n" +
				"  Lehrter   Straße ,60a,,13.3585,52.5345,\n",
			want: []Address{
				{Street: "Lehrter Straße", HouseNumber: "53", Postcode: "10557", District: "Mitte", Point: Point{13.3585, 52.5345}},
				{Street: "Lehrter Straße", HouseNumber: "53", Postcode: "10115", District: "Mitte", Point: Point{13.3585, 52.5345}},
				{Street: "Lehrter Straße", HouseNumber: "58", Postcode: "01067", District: "Mitte", Point: Point{13.3585, 52.5345}},
				{Street: "Lehrter Straße", HouseNumber: "59", Postcode: "", District: "Mitte", Point: Point{13.3585, 52.5345}},
				{Street: "Lehrter Straße", HouseNumber: "60a", Postcode: "", Point: Point{13.3585, 52.5345}},
			},
			stats: CSVStats{Rows: 13, Kept: 5, SkippedNoHouseNumber: 1, SkippedNoStreet: 1, SkippedBadHouseNumber: 1,
				SkippedBadCoordinates: 4, Duplicates: 1, NoPostcode: 1, BadPostcode: 1},
		},
		{
			name:  "OSM header with quoted commas and a BOM",
			input: "\ufeffaddr:housenumber,addr:street,addr:postcode,milieuschutz_zone,neighborhood,lon,lat\n61A,Perleberger Straße,10559.0,\"Waldstraße, Moabit\",Mitte,13.3536389,52.5336632\n",
			want:  []Address{{Street: "Perleberger Straße", HouseNumber: "61A", Postcode: "10559", District: "Mitte", Point: Point{13.3536389, 52.5336632}, Tenant: "t", Source: "s"}},
			opts:  CSVOptions{Tenant: "t", Source: "s"},
			stats: CSVStats{Rows: 1, Kept: 1},
		},
		{
			name:  "house_number, no postcode column",
			input: "Street,House_Number,Lon,Lat\nAm Zirkus,1,13.38,52.52\n",
			want:  []Address{{Street: "Am Zirkus", HouseNumber: "1", Point: Point{13.38, 52.52}}},
			stats: CSVStats{Rows: 1, Kept: 1, NoPostcode: 1},
		},
		{
			name:  "semicolons and decimal commas",
			input: "strasse;hausnummer;plz;lon;lat\nAm Zirkus;1;10117;13,38;52,52\n",
			opts:  CSVOptions{Comma: ';'},
			want:  []Address{{Street: "Am Zirkus", HouseNumber: "1", Postcode: "10117", Point: Point{13.38, 52.52}}},
			stats: CSVStats{Rows: 1, Kept: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st, err := ParseAddressesCSV(strings.NewReader(tt.input), tt.opts)
			if err != nil {
				t.Fatalf("ParseAddressesCSV: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.stats, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAddressesCSVErrors(t *testing.T) {
	tests := []struct {
		name, input, msg string
		rows             int
	}{
		{"empty", "", "Die Datei ist leer.", 0},
		{"missing columns", "street,postcode,lon\nA,1,2\n", "In der Kopfzeile fehlt die Spalte „addr:housenumber“ (oder „housenumber“), die Spalte „lat“ (oder „latitude“).", 0},
		{"header only", "street,housenumber,lon,lat\n", "Die Datei enthält nur die Kopfzeile, keine Adressen.", 0},
		{"nothing usable", "street,housenumber,lon,lat\nA,,1,1\n,1,1,1\n", "Keine der 2 Zeilen enthält eine verwertbare Adresse (Straße, Hausnummer, Koordinaten).", 2},
		{"field count", "street,housenumber,lon,lat\nA,1,13,52\nB,2,13\n", "Die CSV-Datei ist in Zeile 3 fehlerhaft: die Zeile hat eine andere Anzahl von Feldern als die Kopfzeile.", 1},
		{"bad quote", "street,housenumber,lon,lat\nA,1,13,52\nA,1,13,52\n\"B,2,13,52\n", "Die CSV-Datei ist in Zeile 4 fehlerhaft: ein Anführungszeichen ist falsch gesetzt.", 2},
		{"bare quote", "street,housenumber,lon,lat\nA\"x,1,13,52\n", "Die CSV-Datei ist in Zeile 2 fehlerhaft: ein Anführungszeichen ist falsch gesetzt.", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addrs, st, err := ParseAddressesCSV(strings.NewReader(tt.input), CSVOptions{})
			if err == nil {
				t.Fatalf("got %d addresses, no error; want %q", len(addrs), tt.msg)
			}
			if addrs != nil {
				t.Errorf("got %d addresses with the error, want none", len(addrs))
			}
			if got := errs.MessageOf(err); got != tt.msg || errs.KindOf(err) != errs.Invalid {
				t.Errorf("got %v %q, want invalid %q", errs.KindOf(err), got, tt.msg)
			}
			if st.Rows != tt.rows {
				t.Errorf("Rows = %d, want %d", st.Rows, tt.rows)
			}
		})
	}
}

func TestCleanPostcode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"10559", "10559", true},
		{"10559.0", "10559", true},
		{"10559.00", "10559", true},
		{"1067", "01067", true},
		{"1067.0", "01067", true},
		{"", "", true},
		{"10559.5", "", false},
		{"00123", "", false},
		{"105590", "", false},
		{"D-10559", "", false},
		{".0", "", false},
	}
	for _, tt := range tests {
		if got, ok := cleanPostcode(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("cleanPostcode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkParseAddressesCSVBerlin(b *testing.B) {
	data, err := os.ReadFile(berlinAddressesFile)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := ParseAddressesCSV(strings.NewReader(string(data)), CSVOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseAddressesCSV: no panic; errors are Invalid; what is kept obeys
// the cleaning rules the database and the Gazetteer rely on.
func FuzzParseAddressesCSV(f *testing.F) {
	f.Add("addr:housenumber,addr:street,addr:postcode,neighborhood,lon,lat\n61A,Perleberger Straße,10559.0,Mitte,13.3536389,52.5336632\n")
	f.Add("street,housenumber,lon,lat\nA,1,13,52\n\"B,2,13,52\n")
	f.Fuzz(func(t *testing.T, data string) {
		addrs, st, err := ParseAddressesCSV(strings.NewReader(data), CSVOptions{})
		if err != nil {
			if errs.KindOf(err) != errs.Invalid || errs.MessageOf(err) == "" || addrs != nil {
				t.Fatalf("got %v (kind %v) with %d addresses, want invalid with a message and none", err, errs.KindOf(err), len(addrs))
			}
			return
		}
		skipped := st.SkippedNoHouseNumber + st.SkippedNoStreet + st.SkippedBadHouseNumber + st.SkippedBadCoordinates
		if st.Kept != len(addrs) || st.Kept+skipped+st.Duplicates != st.Rows || st.Kept == 0 {
			t.Fatalf("stats %+v do not add up for %d addresses", st, len(addrs))
		}
		seen := map[[3]string]bool{}
		for _, a := range addrs {
			hn, err := HouseNumberKey(a.HouseNumber)
			k := [3]string{StreetKey(a.Street), hn, a.Postcode}
			if err != nil || k[0] == "" || a.Postcode != "" && !validPostcode(a.Postcode) || seen[k] {
				t.Fatalf("kept %+v (house number: %v, duplicate: %v)", a, err, seen[k])
			}
			seen[k] = true
			if !(a.Point.Lon >= -180 && a.Point.Lon <= 180 && a.Point.Lat >= -90 && a.Point.Lat <= 90) {
				t.Fatalf("kept %+v with coordinates outside WGS84", a)
			}
		}
	})
}
