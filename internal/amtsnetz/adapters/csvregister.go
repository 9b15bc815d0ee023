package adapters

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/registers"
)

// Registers from CSV exports, for offices whose system has no API: the
// office exports its register (or the part the service needs) as CSV,
// the node answers from the latest export. The file is read again when it
// changes (its modification time); a file that does not read keeps the
// last good one in use and is reported. An answer says which export it
// came from and when that was written.
//
// Registration office (kind "melderegister"), header row required:
//
//	vornamen,familienname,geburtsdatum,strasse,hausnummer,postleitzahl,art,seit,auskunftssperre
//
// with geburtsdatum and seit as JJJJ-MM-TT, art "haupt" or "neben",
// auskunftssperre "ja" or "nein".
//
// Vehicle register (kind "fahrzeugregister"):
//
//	kennzeichen,halter_vornamen,halter_familienname,halter_geburtsdatum,klasse,laenge_mm,breite_mm,masse_kg,kraftstoff,ausser_betrieb

var residenceColumns = []string{"vornamen", "familienname", "geburtsdatum", "strasse", "hausnummer", "postleitzahl", "art", "seit", "auskunftssperre"}
var vehicleColumns = []string{"kennzeichen", "halter_vornamen", "halter_familienname", "halter_geburtsdatum", "klasse", "laenge_mm", "breite_mm", "masse_kg", "kraftstoff", "ausser_betrieb"}

// csvFile is a CSV export read again when it changes.
type csvFile struct {
	path    string
	columns []string
	parse   func(rows [][]string) (any, error)

	mu      sync.Mutex
	modTime time.Time
	data    any
	written time.Time
}

// current returns the parsed export, reading the file again if it changed.
func (f *csvFile) current() (any, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		if f.data != nil {
			return f.data, f.written, nil
		}
		return nil, time.Time{}, err
	}
	if f.data != nil && fi.ModTime().Equal(f.modTime) {
		return f.data, f.written, nil
	}
	data, err := f.read()
	if err != nil {
		if f.data != nil {
			return f.data, f.written, nil // the last good export stays in use
		}
		return nil, time.Time{}, err
	}
	f.data, f.modTime, f.written = data, fi.ModTime(), fi.ModTime()
	return f.data, f.written, nil
}

func (f *csvFile) read() (any, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	r := csv.NewReader(io.LimitReader(fh, 1<<30))
	r.FieldsPerRecord = len(f.columns)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: Kopfzeile: %w", f.path, err)
	}
	for i, c := range f.columns {
		if strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff")) != c {
			return nil, fmt.Errorf("%s: Spalte %d heißt %q, erwartet %q (Spalten: %s)", f.path, i+1, header[i], c, strings.Join(f.columns, ","))
		}
	}
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.path, err)
	}
	return f.parse(rows)
}

type csvResident struct {
	person   registers.Person
	postcode string
	kind     registers.ResidenceKind
	since    time.Time
	blocked  bool
}

// CSVResidence is a registration office answering from a CSV export.
type CSVResidence struct{ f *csvFile }

// NewCSVResidence reads the export at path (and checks it now).
func NewCSVResidence(path string) (*CSVResidence, error) {
	f := &csvFile{path: path, columns: residenceColumns, parse: func(rows [][]string) (any, error) {
		byAddress := map[string][]csvResident{}
		for i, row := range rows {
			key, res, err := parseResidenceRow(row)
			if err != nil {
				return nil, fmt.Errorf("Zeile %d: %w", i+2, err)
			}
			byAddress[key] = append(byAddress[key], res)
		}
		return byAddress, nil
	}}
	if _, _, err := f.current(); err != nil {
		return nil, err
	}
	return &CSVResidence{f: f}, nil
}

// parseResidenceRow reads one row of residenceColumns.
func parseResidenceRow(row []string) (string, csvResident, error) {
	birth, err := time.Parse(dateLayout, strings.TrimSpace(row[2]))
	if err != nil || strings.TrimSpace(row[1]) == "" {
		return "", csvResident{}, errors.New("familienname und geburtsdatum (JJJJ-MM-TT) sind nötig")
	}
	key, ok := addressKey(row[3], row[4])
	if !ok {
		return "", csvResident{}, fmt.Errorf("Anschrift %q %q unlesbar", row[3], row[4])
	}
	res := csvResident{person: registers.Person{GivenNames: strings.TrimSpace(row[0]), FamilyName: strings.TrimSpace(row[1]), BirthDate: birth},
		postcode: strings.TrimSpace(row[5])}
	switch strings.TrimSpace(row[6]) {
	case "haupt":
		res.kind = registers.Hauptwohnsitz
	case "neben":
		res.kind = registers.Nebenwohnsitz
	default:
		return "", csvResident{}, fmt.Errorf("art %q, erwartet haupt oder neben", row[6])
	}
	if s := strings.TrimSpace(row[7]); s != "" {
		if len(s) > 10 {
			s = s[:10] // a database's date with a time part
		}
		if res.since, err = time.Parse(dateLayout, s); err != nil {
			return "", csvResident{}, fmt.Errorf("seit %q ist kein Datum JJJJ-MM-TT", s)
		}
	}
	switch strings.ToLower(strings.TrimSpace(row[8])) {
	case "ja", "true", "1", "t":
		res.blocked = true
	case "nein", "", "false", "0", "f":
	default:
		return "", csvResident{}, fmt.Errorf("auskunftssperre %q, erwartet ja oder nein", row[8])
	}
	return key, res, nil
}

func addressKey(street, number string) (string, bool) {
	sk := geo.StreetKey(street)
	hn, err := geo.HouseNumberKey(number)
	if sk == "" || err != nil {
		return "", false
	}
	return sk + "|" + hn, true
}

// CheckResidence implements registers.Residence.
func (c *CSVResidence) CheckResidence(ctx context.Context, p registers.Purpose, who registers.Person, at registers.AddressRef) (registers.ResidenceAnswer, error) {
	data, written, err := c.f.current()
	if err != nil {
		return registers.ResidenceAnswer{}, err
	}
	source := "Melderegister (CSV-Export " + filepath.Base(c.f.path) + " vom " + written.Format("02.01.2006 15:04") + ")"
	key, _ := addressKey(at.Street, at.HouseNumber)
	return answerResidence(data.(map[string][]csvResident)[key], who, at, source), nil
}

// answerResidence answers from the register's entries at the address
// asked about.
func answerResidence(rs []csvResident, who registers.Person, at registers.AddressRef, source string) registers.ResidenceAnswer {
	ans := registers.ResidenceAnswer{Kind: registers.NotRegistered, AnsweredAt: time.Now().UTC(), Source: source}
	if _, ok := addressKey(at.Street, at.HouseNumber); !ok {
		return ans
	}
	var best *csvResident
	for i := range rs {
		r := &rs[i]
		if at.Postcode != "" && r.postcode != "" && r.postcode != strings.TrimSpace(at.Postcode) {
			continue
		}
		if !r.person.BirthDate.Equal(who.BirthDate) {
			continue
		}
		if m := registers.NamesMatch(who, r.person); m > ans.NameMatch {
			best, ans.NameMatch = r, m
		}
	}
	if best != nil {
		ans.Blocked = best.blocked
		if ans.NameMatch.Automatic() {
			ans.Registered, ans.Kind, ans.Since = true, best.kind, best.since
		}
	}
	return ans
}

type csvVehicle struct {
	holder registers.Person
	answer registers.VehicleAnswer
}

// CSVVehicles is a vehicle register answering from a CSV export.
type CSVVehicles struct{ f *csvFile }

// NewCSVVehicles reads the export at path (and checks it now).
func NewCSVVehicles(path string) (*CSVVehicles, error) {
	f := &csvFile{path: path, columns: vehicleColumns, parse: func(rows [][]string) (any, error) {
		byPlate := map[string]csvVehicle{}
		num := func(line int, name, s string) (int, error) {
			s = strings.TrimSpace(s)
			if s == "" {
				return 0, nil
			}
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("Zeile %d: %s %q ist keine Zahl ab 0", line, name, s)
			}
			return n, nil
		}
		for i, row := range rows {
			line := i + 2
			plate, err := registers.ParsePlate(row[0])
			if err != nil {
				return nil, fmt.Errorf("Zeile %d: Kennzeichen %q: %v", line, row[0], err)
			}
			birth, err := time.Parse(dateLayout, strings.TrimSpace(row[3]))
			if err != nil {
				return nil, fmt.Errorf("Zeile %d: halter_geburtsdatum %q ist kein Datum JJJJ-MM-TT", line, row[3])
			}
			v := csvVehicle{holder: registers.Person{GivenNames: strings.TrimSpace(row[1]), FamilyName: strings.TrimSpace(row[2]), BirthDate: birth},
				answer: registers.VehicleAnswer{Found: true, Class: strings.TrimSpace(row[4]), Fuel: strings.TrimSpace(row[8])}}
			if v.answer.LengthMM, err = num(line, "laenge_mm", row[5]); err != nil {
				return nil, err
			}
			if v.answer.WidthMM, err = num(line, "breite_mm", row[6]); err != nil {
				return nil, err
			}
			if v.answer.MassKg, err = num(line, "masse_kg", row[7]); err != nil {
				return nil, err
			}
			switch strings.TrimSpace(row[9]) {
			case "ja":
				v.answer.Decommissioned = true
			case "nein", "":
			default:
				return nil, fmt.Errorf("Zeile %d: ausser_betrieb %q, erwartet ja oder nein", line, row[9])
			}
			byPlate[plate.String()] = v
		}
		return byPlate, nil
	}}
	if _, _, err := f.current(); err != nil {
		return nil, err
	}
	return &CSVVehicles{f: f}, nil
}

// CheckVehicle implements registers.Vehicles.
func (c *CSVVehicles) CheckVehicle(ctx context.Context, p registers.Purpose, plate string, holder registers.Person) (registers.VehicleAnswer, error) {
	data, written, err := c.f.current()
	if err != nil {
		return registers.VehicleAnswer{}, err
	}
	source := "Fahrzeugregister (CSV-Export " + filepath.Base(c.f.path) + " vom " + written.Format("02.01.2006 15:04") + ")"
	pl, err := registers.ParsePlate(plate)
	if err != nil {
		return registers.VehicleAnswer{AnsweredAt: time.Now().UTC(), Source: source}, nil // an unreadable plate is not registered
	}
	v, ok := data.(map[string]csvVehicle)[pl.String()]
	if !ok {
		return registers.VehicleAnswer{AnsweredAt: time.Now().UTC(), Source: source}, nil
	}
	a := v.answer
	a.AnsweredAt, a.Source = time.Now().UTC(), source
	if v.holder.BirthDate.Equal(holder.BirthDate) {
		a.HolderMatch = registers.NamesMatch(holder, v.holder)
		a.HolderMatches = a.HolderMatch.Automatic()
	}
	return a, nil
}

// ErrUnknownKind: a CSV register of a kind there is no reader for.
var ErrUnknownKind = errors.New("unbekannte Art des CSV-Registers (erlaubt: melderegister, fahrzeugregister)")

// CSVBackend returns the node backend answering from the CSV export of
// kind ("melderegister" or "fahrzeugregister") at path.
func CSVBackend(kind, path string) (node.Backend, error) {
	switch kind {
	case "melderegister":
		r, err := NewCSVResidence(path)
		if err != nil {
			return nil, err
		}
		return ResidenceBackend(r), nil
	case "fahrzeugregister":
		v, err := NewCSVVehicles(path)
		if err != nil {
			return nil, err
		}
		return VehicleBackend(v), nil
	}
	return nil, ErrUnknownKind
}
