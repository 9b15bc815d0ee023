package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
)

// Registers in an office's own database (SQLite or PostgreSQL), for
// offices whose system has a database but no API: a table or view with
// the columns of the CSV exports (csvregister.go). The registration
// office's is read by birth date — CAST(geburtsdatum AS TEXT) is compared
// with JJJJ-MM-TT, so on a large PostgreSQL register an index on that
// expression (or a text column) keeps it fast — and matched by address
// and name in Rathaus's way; the vehicle register's by kennzeichen in the
// form "B-AB 1234" (a view can bring the office's form into it).

var tablePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// SQLResidence is a registration office answering from its database.
type SQLResidence struct {
	db    *store.DB
	table string
}

// NewSQLResidence opens the database at url and checks that table has the
// columns.
func NewSQLResidence(ctx context.Context, url, table string) (*SQLResidence, error) {
	if !tablePattern.MatchString(table) {
		return nil, fmt.Errorf("Tabellenname %q: nur Buchstaben, Ziffern und _ (optional schema.tabelle)", table)
	}
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		return nil, err
	}
	r := &SQLResidence{db: db, table: table}
	rows, err := db.Read().QueryContext(ctx, r.query()+" AND 1 = 0", "")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("Tabelle %s mit den Spalten %s: %w", table, strings.Join(residenceColumns, ", "), err)
	}
	rows.Close()
	return r, nil
}

func (r *SQLResidence) query() string {
	return `SELECT vornamen, familienname, CAST(geburtsdatum AS TEXT), strasse, hausnummer, postleitzahl, art,
		COALESCE(CAST(seit AS TEXT), ''), CAST(auskunftssperre AS TEXT) FROM ` + r.table + ` WHERE CAST(geburtsdatum AS TEXT) = $1`
}

// Close closes the database.
func (r *SQLResidence) Close() error { return r.db.Close() }

// CheckResidence implements registers.Residence.
func (r *SQLResidence) CheckResidence(ctx context.Context, p registers.Purpose, who registers.Person, at registers.AddressRef) (registers.ResidenceAnswer, error) {
	rows, err := r.db.Read().QueryContext(ctx, r.query(), who.BirthDate.Format(dateLayout))
	if err != nil {
		return registers.ResidenceAnswer{}, err
	}
	defer rows.Close()
	key, _ := addressKey(at.Street, at.HouseNumber)
	var here []csvResident
	for rows.Next() {
		row := make([]string, len(residenceColumns))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return registers.ResidenceAnswer{}, err
		}
		k, res, err := parseResidenceRow(row)
		if err != nil {
			return registers.ResidenceAnswer{}, fmt.Errorf("Melderegister %s: Eintrag unlesbar: %w", r.table, err)
		}
		if k == key {
			here = append(here, res)
		}
	}
	if err := rows.Err(); err != nil {
		return registers.ResidenceAnswer{}, err
	}
	return answerResidence(here, who, at, "Melderegister (Datenbank, "+r.table+")"), nil
}

// SQLVehicles is a vehicle register answering from its database.
type SQLVehicles struct {
	db    *store.DB
	table string
}

// NewSQLVehicles opens the database at url and checks that table has the
// columns.
func NewSQLVehicles(ctx context.Context, url, table string) (*SQLVehicles, error) {
	if !tablePattern.MatchString(table) {
		return nil, fmt.Errorf("Tabellenname %q: nur Buchstaben, Ziffern und _ (optional schema.tabelle)", table)
	}
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		return nil, err
	}
	v := &SQLVehicles{db: db, table: table}
	rows, err := db.Read().QueryContext(ctx, v.query()+" AND 1 = 0", "")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("Tabelle %s mit den Spalten %s: %w", table, strings.Join(vehicleColumns, ", "), err)
	}
	rows.Close()
	return v, nil
}

func (v *SQLVehicles) query() string {
	return `SELECT halter_vornamen, halter_familienname, CAST(halter_geburtsdatum AS TEXT), COALESCE(klasse, ''),
		COALESCE(CAST(laenge_mm AS TEXT), ''), COALESCE(CAST(breite_mm AS TEXT), ''), COALESCE(CAST(masse_kg AS TEXT), ''),
		COALESCE(kraftstoff, ''), CAST(ausser_betrieb AS TEXT) FROM ` + v.table + ` WHERE kennzeichen = $1`
}

// Close closes the database.
func (v *SQLVehicles) Close() error { return v.db.Close() }

// CheckVehicle implements registers.Vehicles.
func (v *SQLVehicles) CheckVehicle(ctx context.Context, p registers.Purpose, plate string, holder registers.Person) (registers.VehicleAnswer, error) {
	ans := registers.VehicleAnswer{AnsweredAt: time.Now().UTC(), Source: "Fahrzeugregister (Datenbank, " + v.table + ")"}
	pl, err := registers.ParsePlate(plate)
	if err != nil {
		return ans, nil
	}
	var given, family, birth, class, length, width, mass, fuel, off string
	err = v.db.Read().QueryRowContext(ctx, v.query(), pl.String()).Scan(&given, &family, &birth, &class, &length, &width, &mass, &fuel, &off)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ans, nil
		}
		return registers.VehicleAnswer{}, err
	}
	num := func(s string) int {
		if i := strings.IndexByte(s, '.'); i >= 0 {
			s = s[:i]
		}
		n, _ := strconv.Atoi(s)
		return max(n, 0)
	}
	ans.Found, ans.Class, ans.Fuel = true, class, fuel
	ans.LengthMM, ans.WidthMM, ans.MassKg = num(length), num(width), num(mass)
	switch strings.ToLower(strings.TrimSpace(off)) {
	case "ja", "true", "1", "t":
		ans.Decommissioned = true
	}
	if len(birth) > 10 {
		birth = birth[:10]
	}
	if b, err := time.Parse(dateLayout, birth); err == nil && b.Equal(holder.BirthDate) {
		ans.HolderMatch = registers.NamesMatch(holder, registers.Person{GivenNames: given, FamilyName: family, BirthDate: b})
		ans.HolderMatches = ans.HolderMatch.Automatic()
	}
	return ans, nil
}

// SQLBackend returns the node backend answering from the register of kind
// ("melderegister" or "fahrzeugregister") in table of the database at url.
func SQLBackend(ctx context.Context, kind, url, table string) (node.Backend, error) {
	switch kind {
	case "melderegister":
		r, err := NewSQLResidence(ctx, url, table)
		if err != nil {
			return nil, err
		}
		return ResidenceBackend(r), nil
	case "fahrzeugregister":
		v, err := NewSQLVehicles(ctx, url, table)
		if err != nil {
			return nil, err
		}
		return VehicleBackend(v), nil
	}
	return nil, ErrUnknownKind
}
