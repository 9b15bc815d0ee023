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
	"errors"
	"fmt"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
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
// A second start finds everything and imports nothing. A start that was
// killed during the address import left that import unfinished; the next
// start waits for it (its job is still queued, or River retries it)
// instead of enqueuing a second one.
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
		return seedAddresses(ctx, svc, progress)
	}
	return nil
}

// demoStaleAfter is how long the demo waits for a sign of life of an
// import left over from an earlier start before it gives that import up and
// starts a new one. Importing the embedded addresses takes seconds, and a
// running import records a heartbeat every few seconds, so a minute of
// silence means that the process working it is gone — most
// likely the killed earlier start, whose job River would retry only after
// more than an hour (see geo.ImportStaleAfter). seedAddresses tells the
// user this duration in words.
const demoStaleAfter = time.Minute

func seedAddresses(ctx context.Context, svc *geo.Service, progress Progress) error {
	prev, unfinished, err := svc.UnfinishedImport(ctx, Berlin.ARS)
	if err != nil {
		return err
	}
	if unfinished {
		progress("Berlin: Der Adressimport %s vom letzten Start ist nicht fertig; es wird auf ihn gewartet (zeigt er eine Minute lang kein Lebenszeichen, wird er neu gestartet) …", prev.ID)
		run, err := wait(ctx, svc, prev.ID, progress, demoStaleAfter)
		if err == nil {
			progress("Berlin: %d Adressen übernommen (%s)", run.Stats.Kept, run.Stats.Summary())
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if err := svc.AbandonImport(ctx, prev.ID, "Aufgegeben: Der Prozess, der den Import bearbeitete, wurde beendet; die Demo hat einen neuen Import gestartet."); err != nil {
			return err
		}
		if errors.Is(err, geo.ErrImportStalled) {
			progress("Berlin: Der Adressimport %s kommt nicht voran; der Prozess, der ihn bearbeitete, wurde offenbar beendet. Er wird neu gestartet.", prev.ID)
		} else {
			progress("Berlin: %v. Der Adressimport wird neu gestartet.", err)
		}
	}
	id, err := svc.EnqueueAddressImport(ctx, Berlin.ARS, Addresses(), AddressesSource)
	if err != nil {
		return fmt.Errorf("enqueue demo addresses: %w", err)
	}
	run, err := wait(ctx, svc, id, progress, demoStaleAfter)
	if err != nil {
		return err
	}
	progress("Berlin: %d Adressen übernommen (%s)", run.Stats.Kept, run.Stats.Summary())
	return nil
}

// Wait follows an import until it is done or failed, reporting progress.
// It never waits without end: it returns an error when the import failed
// (also when its job ended without recording an outcome), when ctx ends,
// and when the import has shown no sign of life for geo.ImportStaleAfter
// (errors.Is geo.ErrImportStalled).
func Wait(ctx context.Context, svc *geo.Service, id string, progress Progress) (geo.ImportRun, error) {
	return wait(ctx, svc, id, progress, geo.ImportStaleAfter)
}

// waitPoll is how often wait looks at the import.
const waitPoll = 200 * time.Millisecond

func wait(ctx context.Context, svc *geo.Service, id string, progress Progress, staleAfter time.Duration) (geo.ImportRun, error) {
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	last, lastJob := -1, ""
	lastOK := time.Now()
	var p geo.ImportProgress
	for {
		np, err := svc.FollowImport(ctx, id)
		switch {
		case ctx.Err() != nil:
			return p.ImportRun, fmt.Errorf("Warten auf Adressimport %s abgebrochen: %w", id, ctx.Err())
		case errs.Is(err, errs.NotFound):
			return p.ImportRun, err
		case err != nil:
			// Another process on the same SQLite file may hold the writer
			// for a while: try again, but not for ever.
			if time.Since(lastOK) > staleAfter {
				return p.ImportRun, fmt.Errorf("Adressimport %s: Stand seit %s nicht lesbar: %w", id, time.Since(lastOK).Round(time.Second), err)
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
			continue
		}
		p, lastOK = np, time.Now()
		switch p.Status {
		case "done":
			return p.ImportRun, nil
		case "failed":
			return p.ImportRun, fmt.Errorf("Adressimport %s fehlgeschlagen: %s", id, p.Error)
		}
		if p.Job != lastJob && p.Job == "retryable" {
			progress("Adressimport %s: Versuch %d von %d gescheitert, ein weiterer folgt …", id, p.Attempt, p.MaxAttempts)
		}
		lastJob = p.Job
		if p.RowsRead != last && p.Status == "running" {
			progress("Adressimport %s: %d Zeilen gelesen …", id, p.RowsRead)
			last = p.RowsRead
		}
		if now := time.Now(); p.Stalled(now, staleAfter) {
			return p.ImportRun, fmt.Errorf("%w seit %s: %s (Status %s, Auftrag %s, Versuch %d von %d); vermutlich wurde der Prozess beendet, der ihn bearbeitete. River versucht den Auftrag später erneut",
				geo.ErrImportStalled, now.Sub(p.LastSign).Round(time.Second), id, p.Status, p.Job, p.Attempt, p.MaxAttempts)
		}
		select {
		case <-ctx.Done():
			return p.ImportRun, fmt.Errorf("Warten auf Adressimport %s abgebrochen: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

// AddressesInZones returns the demo addresses that lie in a parking zone:
// where the demo registers place their residents, so that everyone on the
// demo page can actually apply.
func AddressesInZones() ([]geo.Address, error) {
	zones, err := geo.ParseZones(bytes.NewReader(Zones()), geo.ParseOptions{Tenant: Berlin.ARS, ValidFrom: ZonesValidFrom, Source: ZonesSource})
	if err != nil {
		return nil, err
	}
	addrs, _, err := geo.ParseAddressesCSV(bytes.NewReader(Addresses()), geo.CSVOptions{Tenant: Berlin.ARS, Source: AddressesSource})
	if err != nil {
		return nil, err
	}
	ix := geo.NewIndex(zones)
	var in []geo.Address
	var buf []int
	for _, a := range addrs {
		if buf = ix.AppendLookup(buf[:0], a.Point); len(buf) > 0 {
			in = append(in, a)
		}
	}
	return in, nil
}
