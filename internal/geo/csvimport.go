package geo

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// CSVOptions says how ParseAddressesCSV reads a file.
type CSVOptions struct {
	Tenant string // ARS of the municipality, copied into every address
	Source string // where the file came from, copied into every address
	Comma  rune   // field separator; default ','
	// Progress, if set, is called with the number of data rows read so
	// far, every ProgressEvery rows (default 1000).
	Progress      func(rowsRead int)
	ProgressEvery int
}

// CSVStats counts what ParseAddressesCSV did with each row. Rows = Kept +
// every Skipped… counter + Duplicates.
type CSVStats struct {
	Rows int `json:"rows"` // data rows read, header excluded
	Kept int `json:"kept"` // addresses returned

	SkippedNoHouseNumber  int `json:"skipped_no_house_number"`
	SkippedNoStreet       int `json:"skipped_no_street"`
	SkippedBadHouseNumber int `json:"skipped_bad_house_number"` // e.g. "6 II", "54 Hof 1": no canonical form
	SkippedBadCoordinates int `json:"skipped_bad_coordinates"`  // missing, not a number, outside WGS84 or 0,0
	Duplicates            int `json:"duplicates"`               // same street, number and postcode as an earlier row; merged into it

	NoPostcode  int `json:"no_postcode"`  // kept without postcode
	BadPostcode int `json:"bad_postcode"` // kept, postcode dropped because it was not five digits
}

// Accepted header names, lower case. The first of each is what the
// messages name. OSM exports use the addr:* keys and "neighborhood"
// (added by a spatial join in the Berlin file).
var csvColumns = []struct {
	field    string
	names    []string
	required bool
}{
	{"street", []string{"addr:street", "street", "strasse", "straße"}, true},
	{"housenumber", []string{"addr:housenumber", "housenumber", "house_number", "hausnummer"}, true},
	{"postcode", []string{"addr:postcode", "postcode", "postal_code", "plz"}, false},
	{"lon", []string{"lon", "lng", "longitude"}, true},
	{"lat", []string{"lat", "latitude"}, true},
	{"district", []string{"neighborhood", "district", "bezirk"}, false},
}

// ParseAddressesCSV reads an address register from CSV with a header row
// and cleans it (see CSVStats for what is skipped and counted). It returns
// an errs.Invalid error with a German message for a file that is not CSV,
// lacks a required column or yields no address at all — an import of
// nothing would empty the register. The stats are valid up to the error.
//
// Postcodes written as numbers by a spreadsheet are repaired: "10559.0"
// becomes "10559", and four digits get back their leading zero ("1067" is
// Dresden's 01067), since no German postcode has four digits.
//
// Limiting the size of r is the caller's job.
func ParseAddressesCSV(r io.Reader, opts CSVOptions) ([]Address, CSVStats, error) {
	var st CSVStats
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 1000
	}
	cr := csv.NewReader(r)
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	cr.ReuseRecord = true

	head, err := cr.Read()
	if err == io.EOF {
		return nil, st, errs.E(errs.Invalid, "Die Datei ist leer.")
	}
	if err != nil {
		return nil, st, csvErr(err)
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	idx := map[string]int{}
	var missing []string
	for _, c := range csvColumns {
		idx[c.field] = -1
		for _, n := range c.names {
			if i, ok := col[n]; ok {
				idx[c.field] = i
				break
			}
		}
		if idx[c.field] < 0 && c.required {
			missing = append(missing, fmt.Sprintf("„%s“ (oder „%s“)", c.names[0], c.names[1]))
		}
	}
	if len(missing) > 0 {
		return nil, st, errs.E(errs.Invalid, "In der Kopfzeile fehlt die Spalte %s.", strings.Join(missing, ", die Spalte "))
	}
	field := func(rec []string, name string) string {
		if i := idx[name]; i >= 0 {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}

	var out []Address
	seen := map[[3]string]bool{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, st, csvErr(err)
		}
		st.Rows++
		if opts.Progress != nil && st.Rows%opts.ProgressEvery == 0 {
			opts.Progress(st.Rows)
		}

		number := field(rec, "housenumber")
		street := strings.Join(strings.Fields(field(rec, "street")), " ")
		if number == "" {
			st.SkippedNoHouseNumber++
			continue
		}
		sk := StreetKey(street)
		if sk == "" {
			st.SkippedNoStreet++
			continue
		}
		hn, err := HouseNumberKey(number)
		if err != nil {
			st.SkippedBadHouseNumber++
			continue
		}
		p, ok := parsePoint(field(rec, "lon"), field(rec, "lat"), cr.Comma)
		if !ok {
			st.SkippedBadCoordinates++
			continue
		}
		postcode, pcOK := cleanPostcode(field(rec, "postcode"))
		key := [3]string{sk, hn, postcode}
		if seen[key] {
			st.Duplicates++
			continue
		}
		seen[key] = true
		switch {
		case !pcOK:
			st.BadPostcode++
		case postcode == "":
			st.NoPostcode++
		}
		out = append(out, Address{
			Tenant:      opts.Tenant,
			Street:      street,
			HouseNumber: number,
			Postcode:    postcode,
			District:    field(rec, "district"),
			Point:       p,
			Source:      opts.Source,
		})
		st.Kept++
	}
	if st.Rows == 0 {
		return nil, st, errs.E(errs.Invalid, "Die Datei enthält nur die Kopfzeile, keine Adressen.")
	}
	if st.Kept == 0 {
		return nil, st, errs.E(errs.Invalid, "Keine der %d Zeilen enthält eine verwertbare Adresse (Straße, Hausnummer, Koordinaten).", st.Rows)
	}
	return out, st, nil
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read address file: %w", err)
	}
	var why string
	switch {
	case errors.Is(pe.Err, csv.ErrFieldCount):
		why = "die Zeile hat eine andere Anzahl von Feldern als die Kopfzeile"
	case errors.Is(pe.Err, csv.ErrQuote), errors.Is(pe.Err, csv.ErrBareQuote):
		why = "ein Anführungszeichen ist falsch gesetzt"
	default:
		why = "die Zeile ist kein gültiges CSV"
	}
	return errs.Wrap(errs.Invalid, err, "Die CSV-Datei ist in Zeile %d fehlerhaft: %s.", pe.StartLine, why)
}

// cleanPostcode returns the five-digit postcode, "" with ok for none, and
// ok false for something that cannot be one.
func cleanPostcode(s string) (string, bool) {
	if s == "" {
		return "", true
	}
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s[i+1:], "0") == "" {
		s = s[:i] // "10559.0": written by a spreadsheet or pandas as a float
	}
	if len(s) == 4 {
		s = "0" + s
	}
	if !validPostcode(s) {
		return "", false
	}
	return s, true
}

// parsePoint reads WGS84 coordinates. With ';' as separator the file is
// probably German-formatted, so a decimal comma is accepted.
func parsePoint(lon, lat string, comma rune) (Point, bool) {
	parse := func(s string) (float64, bool) {
		if comma != ',' && strings.Count(s, ",") == 1 && !strings.Contains(s, ".") {
			s = strings.Replace(s, ",", ".", 1)
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	x, ok1 := parse(lon)
	y, ok2 := parse(lat)
	if !ok1 || !ok2 || x < -180 || x > 180 || y < -90 || y > 90 || x == 0 && y == 0 {
		// 0,0 is where failed geocoding puts things, not an address.
		return Point{}, false
	}
	return Point{x, y}, true
}
