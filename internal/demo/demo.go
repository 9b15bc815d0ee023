// Package demo holds the demo municipality that `rathaus demo` loads on its
// first start: Berlin (ARS 110000000000) with its real parking zones and
// real address points, embedded in the binary so that the demo needs
// nothing but itself. Each dataset keeps its SOURCE.md (origin, licence,
// quirks) next to it in data/.
//
// The package only seeds; it does not run anything of its own.
package demo

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

//go:embed data/berlin-parkzonen/berlin.geojson data/berlin-osm-addresses/milieuschutz_urban_character_preservation_es_houselevel_cleaned.csv
var data embed.FS

// Berlin is the demo municipality.
var Berlin = tenant.Municipality{ARS: "110000000000", Name: "Berlin"}

const (
	zonesFile     = "data/berlin-parkzonen/berlin.geojson"
	addressesFile = "data/berlin-osm-addresses/milieuschutz_urban_character_preservation_es_houselevel_cleaned.csv"
	// ZonesSource and AddressesSource are recorded with every imported row.
	ZonesSource     = "Land Berlin, GDI Berlin WFS parkraumbewirtschaftung:parkzonen (dl-zero-de/2.0), Stand 2026-06-09"
	AddressesSource = "OpenStreetMap contributors (ODbL 1.0), Adresspunkte in Berliner Milieuschutzgebieten"
)

// ZonesValidFrom is the date of the zone snapshot.
var ZonesValidFrom = time.Date(2026, 6, 9, 0, 0, 0, 0, time.UTC)

// Zones returns the embedded Berlin zones GeoJSON.
func Zones() []byte { return mustRead(zonesFile) }

// Addresses returns the embedded Berlin address CSV.
func Addresses() []byte { return mustRead(addressesFile) }

func mustRead(name string) []byte {
	b, err := data.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return b
}

// Progress reports what seeding does, for the console.
type Progress func(format string, args ...any)

// Seed loads Berlin unless it is there already: the municipality, its zones
// (in one transaction) and its addresses (as a background job, waited for).
// A second start finds everything and imports nothing.
func Seed(ctx context.Context, db *store.DB, svc *geo.Service, progress Progress) error {
	err := db.Transact(ctx, func(tx *sql.Tx) error { return tenant.Ensure(ctx, tx, Berlin) })
	if err != nil {
		return err
	}
	stats, err := svc.Stats(ctx, Berlin.ARS)
	if err != nil {
		return err
	}
	if stats.Zones == 0 {
		n, err := svc.ImportZones(ctx, Berlin.ARS, bytes.NewReader(Zones()), ZonesSource, ZonesValidFrom)
		if err != nil {
			return fmt.Errorf("import demo zones: %w", err)
		}
		progress("Berlin: %d Parkzonen importiert", n)
	}
	if stats.Addresses == 0 {
		id, err := svc.EnqueueAddressImport(ctx, Berlin.ARS, Addresses(), AddressesSource)
		if err != nil {
			return fmt.Errorf("enqueue demo addresses: %w", err)
		}
		run, err := Wait(ctx, svc, id, progress)
		if err != nil {
			return err
		}
		progress("Berlin: %d Adressen übernommen (%s)", run.Stats.Kept, run.Stats.Summary())
	}
	return nil
}

// Wait follows an import until it is done or failed, reporting progress.
func Wait(ctx context.Context, svc *geo.Service, id string, progress Progress) (geo.ImportRun, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	last := -1
	for {
		run, err := svc.Import(ctx, id)
		if err != nil {
			return run, err
		}
		if run.RowsRead != last && run.Status == "running" {
			progress("Adressimport %s: %d Zeilen gelesen …", id, run.RowsRead)
			last = run.RowsRead
		}
		switch run.Status {
		case "done":
			return run, nil
		case "failed":
			return run, fmt.Errorf("Adressimport %s fehlgeschlagen: %s", id, run.Error)
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-tick.C:
		}
	}
}
