package geo

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// The contract tests of the geo feature's storage: each runs on SQLite and,
// when RATHAUS_TEST_POSTGRES is set, on PostgreSQL.

const testARS = "110000000000"

func sqMP(x, y, d float64) orb.MultiPolygon {
	return orb.MultiPolygon{{{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}}}
}

func day(s string) time.Time {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func setup(t *testing.T, db *store.DB) (*Service, context.Context) {
	t.Helper()
	ctx := context.Background()
	if err := db.Transact(ctx, func(tx *sql.Tx) error {
		return tenant.Ensure(ctx, tx, tenant.Municipality{ARS: testARS, Name: "Berlin"})
	}); err != nil {
		t.Fatal(err)
	}
	svc := NewService(db, nil, slog.New(slog.DiscardHandler))
	svc.RefreshInterval = 0 // every call checks the generation
	return svc, ctx
}

func TestZoneVersionsByDate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, ctx := setup(t, db)
		v1 := []Zone{{ID: "1", Name: "Zone 1", District: "Mitte", Geometry: sqMP(13.0, 52.0, 0.1), Source: "v1", Properties: map[string]any{"gebuehr": 2.0}},
			{ID: "2", Name: "Zone 2", Geometry: sqMP(13.2, 52.0, 0.1), Source: "v1"}}
		v2 := []Zone{{ID: "1", Name: "Zone 1 neu", Geometry: sqMP(13.0, 52.0, 0.2), Source: "v2"}}
		for _, step := range []struct {
			zones []Zone
			from  string
		}{{v1, "2024-01-01"}, {v2, "2025-01-01"}} {
			if err := db.Transact(ctx, func(tx *sql.Tx) error {
				return replaceZones(ctx, tx, testARS, step.zones, day(step.from))
			}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			on    string
			want  []string // id:source
			until string   // valid_to of zone 1, "" when open
		}{
			{"2023-12-31", nil, ""},
			{"2024-01-01", []string{"1:v1", "2:v1"}, "2025-01-01"},
			{"2024-12-31", []string{"1:v1", "2:v1"}, "2025-01-01"},
			{"2025-01-01", []string{"1:v2"}, ""},
			{"2030-06-01", []string{"1:v2"}, ""},
		} {
			zones, err := zonesInForce(ctx, db.Read(), testARS, day(tc.on))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, z := range zones {
				got = append(got, z.ID+":"+z.Source)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("zones in force on %s = %v, want %v", tc.on, got, tc.want)
				continue
			}
			if len(zones) == 0 {
				continue
			}
			z := zones[0]
			gotUntil := ""
			if z.ValidTo != nil {
				gotUntil = z.ValidTo.Format(dateLayout)
			}
			if gotUntil != tc.until {
				t.Errorf("on %s zone 1 valid_to = %q, want %q", tc.on, gotUntil, tc.until)
			}
		}
		// Geometry and properties survive the round trip.
		zones, _ := zonesInForce(ctx, db.Read(), testARS, day("2024-06-01"))
		if !orb.Equal(zones[0].Geometry, v1[0].Geometry) || zones[0].Properties["gebuehr"] != 2.0 || zones[0].District != "Mitte" {
			t.Errorf("round trip: %+v", zones[0])
		}
		if !zones[0].ValidFrom.Equal(day("2024-01-01")) {
			t.Errorf("valid_from = %v", zones[0].ValidFrom)
		}
		// Re-importing for the same date replaces that version instead of adding one.
		if err := db.Transact(ctx, func(tx *sql.Tx) error { return replaceZones(ctx, tx, testARS, v2, day("2025-01-01")) }); err != nil {
			t.Fatal(err)
		}
		var n int
		db.Read().QueryRowContext(ctx, "SELECT count(*) FROM zones WHERE municipality = $1", testARS).Scan(&n)
		if n != 3 {
			t.Errorf("rows after re-import = %d, want 3 (two of v1, one of v2)", n)
		}
		// Zones for an unknown municipality are refused.
		err := db.Transact(ctx, func(tx *sql.Tx) error { return replaceZones(ctx, tx, "999999999999", v1, day("2024-01-01")) })
		if err == nil {
			t.Error("zones for an unknown municipality were stored")
		}
		_ = svc
	}, tenant.Migrations, Migrations)
}

func TestImportZonesIsAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, ctx := setup(t, db)
		good := `{"type":"FeatureCollection","features":[
			{"type":"Feature","properties":{"zone_id":"7","name":"Zone 7","bezirk":"Mitte"},"geometry":{"type":"Polygon","coordinates":[[[13.0,52.0],[13.1,52.0],[13.1,52.1],[13.0,52.1],[13.0,52.0]]]}}]}`
		n, err := svc.ImportZones(ctx, testARS, strings.NewReader(good), "good.geojson", day("2024-01-01"))
		if err != nil || n != 1 {
			t.Fatalf("ImportZones = %d, %v", n, err)
		}
		gen0, _ := generation(ctx, db.Read(), testARS)
		bad := strings.Replace(good, `]}}]}`, `]}},
			{"type":"Feature","properties":{"zone_id":"8"},"geometry":{"type":"Polygon","coordinates":[[[13.0,52.0],[13.1,52.1],[13.1,52.0],[13.0,52.1],[13.0,52.0]]]}}]}`, 1)
		_, err = svc.ImportZones(ctx, testARS, strings.NewReader(bad), "bad.geojson", day("2025-01-01"))
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "8") {
			t.Fatalf("bad import error = %v, want Invalid naming zone 8", err)
		}
		gen1, _ := generation(ctx, db.Read(), testARS)
		zones, _ := svc.Zones(ctx, testARS)
		if gen1 != gen0 || len(zones) != 1 || zones[0].ID != "7" {
			t.Errorf("after a failed import: generation %d→%d, zones %d; want unchanged", gen0, gen1, len(zones))
		}
		if _, err := svc.ImportZones(ctx, "051110000000", strings.NewReader(good), "x", day("2024-01-01")); !errs.Is(err, errs.NotFound) {
			t.Errorf("import for unknown municipality = %v, want NotFound", err)
		}
	}, tenant.Migrations, Migrations)
}

func TestAddressImportJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, ctx := setup(t, db)
		if _, err := jobs.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		workers := river.NewWorkers()
		svc.Register(workers)
		client, err := jobs.New(db, workers, slog.New(slog.DiscardHandler), jobs.Options{PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		svc.SetJobs(client)
		if err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			client.Stop(c)
		})
		wait := func(id string) ImportRun {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				run, err := svc.Import(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if run.Status == "done" || run.Status == "failed" {
					return run
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Fatalf("import %s did not finish", id)
			return ImportRun{}
		}
		csv := "addr:housenumber,addr:street,addr:postcode,lon,lat\n53,Lehrter Straße,10557.0,13.3585277,52.5344684\n,Lehrter Straße,10557,13.35,52.53\n53,Lehrter Straße,10557,13.3585277,52.5344684\n"
		id, err := svc.EnqueueAddressImport(ctx, testARS, []byte(csv), "test.csv")
		if err != nil {
			t.Fatal(err)
		}
		run := wait(id)
		if run.Status != "done" || run.Stats.Kept != 1 || run.Stats.SkippedNoHouseNumber != 1 || run.Stats.Duplicates != 1 || run.Stats.Rows != 3 {
			t.Fatalf("import run = %+v", run)
		}
		res, err := svc.LookupAddress(ctx, testARS, "Lehrter Str. 53")
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := res.Match.Unique(); !ok || a.Postcode != "10557" {
			t.Errorf("lookup after import = %+v", res.Match)
		}
		// A file without the required columns fails the import and keeps the register.
		id, err = svc.EnqueueAddressImport(ctx, testARS, []byte("foo,bar\n1,2\n"), "broken.csv")
		if err != nil {
			t.Fatal(err)
		}
		if run := wait(id); run.Status != "failed" || run.Error == "" {
			t.Errorf("broken import = %+v, want failed with a message", run)
		}
		if n, _ := countAddresses(ctx, db.Read(), testARS); n != 1 {
			t.Errorf("addresses after failed import = %d, want 1", n)
		}
		if _, err := svc.EnqueueAddressImport(ctx, testARS, nil, "empty.csv"); !errs.Is(err, errs.Invalid) {
			t.Errorf("empty file = %v, want Invalid", err)
		}
		if _, err := svc.Import(ctx, "imp_nope"); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown import = %v, want NotFound", err)
		}
	}, tenant.Migrations, Migrations)
}

func TestEnqueueRollsBackWithItsTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		_, ctx := setup(t, db)
		if _, err := jobs.Migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		client, err := jobs.New(db, nil, slog.New(slog.DiscardHandler), jobs.Options{InsertOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		boom := io.ErrUnexpectedEOF
		err = db.Transact(ctx, func(tx *sql.Tx) error {
			if err := insertImport(ctx, tx, "imp_rollback", testARS, "x.csv", []byte("x")); err != nil {
				return err
			}
			if err := client.InsertTx(ctx, tx, AddressImportArgs{ImportID: "imp_rollback"}, nil); err != nil {
				return err
			}
			return boom
		})
		if err != boom {
			t.Fatalf("Transact = %v", err)
		}
		var jobsN, importsN int
		db.Read().QueryRowContext(ctx, "SELECT count(*) FROM river_job").Scan(&jobsN)
		db.Read().QueryRowContext(ctx, "SELECT count(*) FROM imports").Scan(&importsN)
		if jobsN != 0 || importsN != 0 {
			t.Errorf("after rollback: %d jobs, %d imports; want none", jobsN, importsN)
		}
	}, tenant.Migrations, Migrations)
}

func TestSnapshotFollowsImports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, ctx := setup(t, db)
		now := day("2024-06-01").Add(12 * time.Hour)
		svc.now = func() time.Time { return now }
		svc.RefreshInterval = time.Hour
		zone := func(id string, x float64) string {
			return `{"type":"Feature","properties":{"zone_id":"` + id + `"},"geometry":{"type":"Polygon","coordinates":[[[` +
				ftoa(x) + `,52.0],[` + ftoa(x+0.1) + `,52.0],[` + ftoa(x+0.1) + `,52.1],[` + ftoa(x) + `,52.1],[` + ftoa(x) + `,52.0]]]}}`
		}
		fc := func(fs ...string) io.Reader {
			return strings.NewReader(`{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`)
		}
		if _, err := svc.ImportZones(ctx, testARS, fc(zone("A", 13.0)), "a", day("2024-01-01")); err != nil {
			t.Fatal(err)
		}
		p := Point{Lon: 13.05, Lat: 52.05}
		if zs, _ := svc.ZonesAt(ctx, testARS, p); len(zs) != 1 || zs[0].ID != "A" {
			t.Fatalf("ZonesAt = %v", zs)
		}
		// A new version from tomorrow: today's answer stays until the date changes.
		if _, err := svc.ImportZones(ctx, testARS, fc(zone("B", 13.0), zone("C", 13.02)), "b", day("2024-06-02")); err != nil {
			t.Fatal(err)
		}
		if zs, _ := svc.ZonesAt(ctx, testARS, p); len(zs) != 1 || zs[0].ID != "A" {
			t.Errorf("before the new version's date: %v, want A", ids(zs))
		}
		now = now.Add(24 * time.Hour)
		zs, _ := svc.ZonesAt(ctx, testARS, p)
		if got := ids(zs); got != "B,C" {
			t.Errorf("on the new version's date: %s, want B,C (overlapping zones both answer)", got)
		}
		if _, err := svc.ZonesAt(ctx, "999999999999", p); !errs.Is(err, errs.NotFound) {
			t.Errorf("unknown municipality: %v", err)
		}
	}, tenant.Migrations, Migrations)
}

func ids(zs []*Zone) string {
	var s []string
	for _, z := range zs {
		s = append(s, z.ID)
	}
	return strings.Join(s, ",")
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
