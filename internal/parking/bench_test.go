package parking_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/tenant"
	"opencode.de/rathaus/rathaus/internal/web"
)

// Check-to-decision throughput of the job pipeline (BENCHMARKS.md, issue #3):
//
//	go test -run='^$' -bench=CheckToDecision -benchtime=1x ./internal/parking/
//	scripts/with-postgres.sh go test -run='^$' -bench=CheckToDecision -benchtime=1x ./internal/parking/
//
// Each round (b.N of them; -benchtime=1x: one) submits benchApplications
// applications of demo residents with Service.Submit while no worker runs
// (the timer is stopped), then starts a job client configured like
// `rathaus demo`/`serve` (poll interval 200 ms; 4 workers, the default of
// RATHAUS_JOB_WORKERS, then 16 and 64) and measures the time until every one
// of them is decided: approved with its Kassenzeichen posted, or in review.
// decided/s is the figure.

const benchApplications = 500

// benchFixture is the parking service of newFixture, built for a
// benchmark (newFixture needs a *testing.T): Berlin's zones, the addresses
// of the first residents of the demo population, demo registers, the mail
// outbox (no SMTP: messages stay in the outbox, as in the demo).
type benchFixture struct {
	db      *store.DB
	svc     *parking.Service
	geo     *geo.Service
	outbox  *mail.Outbox
	logger  *slog.Logger
	forms   []parking.Form
	decided int // applications decided so far, over all rounds
}

func newBenchFixture(b *testing.B, db *store.DB) *benchFixture {
	b.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	if _, err := jobs.Migrate(ctx, db, logger); err != nil {
		b.Fatal(err)
	}
	if err := db.Transact(ctx, func(tx *sql.Tx) error { return tenant.Ensure(ctx, tx, demo.Berlin) }); err != nil {
		b.Fatal(err)
	}
	addrs, err := demo.AddressesInZones()
	if err != nil {
		b.Fatal(err)
	}
	regs := registers.NewDemo(2026, addrs)
	geoSvc := geo.NewService(db, nil, logger)
	if _, err := geoSvc.ImportZones(ctx, demo.Berlin.ARS, bytes.NewReader(demo.Zones()), "test", demo.ZonesValidFrom); err != nil {
		b.Fatal(err)
	}
	configs, err := rules.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	key, _ := documents.GenerateKey()
	signer, _ := documents.NewSigner(key, documents.KeyID(&key.PublicKey))
	verifier, _ := documents.NewVerifier(map[string]*ecdsa.PublicKey{signer.KeyID(): &key.PublicKey})
	outbox, err := mail.New(db, mail.Options{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := parking.NewService(ctx, parking.Options{DB: db, Geo: geoSvc, Configs: configs, Signer: signer, Verifier: verifier,
		Payments: &recordingProvider{secret: []byte("test-secret")}, Mail: outbox, Logger: logger, BaseURL: "http://rathaus.test", Demo: true,
		Registers: parking.Registers{Residence: regs.Residence(), Vehicles: regs.Vehicles(), Treasury: regs.Treasury()}})
	if err != nil {
		b.Fatal(err)
	}
	f := &benchFixture{db: db, svc: svc, geo: geoSvc, outbox: outbox, logger: logger}

	// The address register: the addresses of the residents who apply.
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write([]string{"street", "housenumber", "postcode", "lon", "lat"})
	var residents []registers.DemoResident
	for _, r := range regs.Residents() {
		if len(r.Vehicles) == 0 {
			continue
		}
		if len(residents) == 2*benchApplications {
			break
		}
		residents = append(residents, r)
		a := r.Address
		cw.Write([]string{a.Street, a.HouseNumber, a.Postcode, fmt.Sprint(a.Point.Lon), fmt.Sprint(a.Point.Lat)})
	}
	cw.Flush()
	client := f.client(b, 1)
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	id, err := geoSvc.EnqueueAddressImport(ctx, demo.Berlin.ARS, buf.Bytes(), "bench.csv")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := demo.Wait(ctx, geoSvc, id, func(string, ...any) {}); err != nil {
		b.Fatal(err)
	}
	stopBenchJobs(client)

	// The forms: the first residents whose application the form accepts
	// (a minor's is refused at once and never reaches the checks).
	for _, r := range residents {
		form := parking.Form{
			GivenNames: r.Person.GivenNames, FamilyName: r.Person.FamilyName, BirthDate: r.Person.BirthDate.Format("2006-01-02"),
			Address: r.Address.Street + " " + r.Address.HouseNumber + ", " + r.Address.Postcode, Plate: r.Vehicles[0].Plate.String(),
			Relation: parking.Holder, DurationMonths: 24, NoOwnSpace: true, Email: "bench@example.org", Truthful: true,
		}
		if err := svc.Check(ctx, demo.Berlin.ARS, &form); errs.Is(err, errs.Invalid) {
			continue
		} else if err != nil {
			b.Fatal(err)
		}
		if f.forms = append(f.forms, form); len(f.forms) == benchApplications {
			break
		}
	}
	if len(f.forms) < benchApplications {
		b.Fatalf("only %d of the demo residents can apply", len(f.forms))
	}
	return f
}

// client is a job client as `rathaus demo` starts it (cmd/rathaus startJobs).
func (f *benchFixture) client(b *testing.B, workers int) *jobs.Client {
	w := river.NewWorkers()
	f.geo.Register(w)
	f.svc.Register(w)
	f.outbox.Register(w)
	c, err := jobs.New(f.db, w, f.logger, jobs.Options{MaxWorkers: workers, PollInterval: 200 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	f.geo.SetJobs(c)
	f.svc.SetJobs(c)
	f.outbox.SetJobs(c)
	return c
}

func stopBenchJobs(c *jobs.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.Stop(ctx)
}

// countDecided counts applications whose check job has done its work.
func (f *benchFixture) countDecided(ctx context.Context) (int, error) {
	var n int
	err := f.db.Read().QueryRowContext(ctx, `SELECT count(*) FROM parking_applications
		WHERE status IN ('review', 'rejected') OR (status = 'approved' AND kassenzeichen <> '')`).Scan(&n)
	return n, err
}

// submit submits the forms with no worker running and returns the job
// client that will work them off.
func (f *benchFixture) submit(b *testing.B, workers int) *jobs.Client {
	client := f.client(b, workers) // not started yet: Submit only enqueues
	for i, form := range f.forms {
		if _, err := f.svc.Submit(context.Background(), demo.Berlin.ARS, form, fmt.Sprintf("bench-%d-%d", f.decided, i)); err != nil {
			b.Fatal(err)
		}
	}
	return client
}

// completedJobs counts the jobs of every kind River has completed.
func (f *benchFixture) completedJobs(b *testing.B) int {
	var n int
	if err := f.db.Read().QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// decide starts the workers and returns once every submitted application
// is decided.
func (f *benchFixture) decide(b *testing.B, client *jobs.Client) {
	ctx := context.Background()
	want := f.decided + len(f.forms)
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, err := f.countDecided(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n >= want {
			f.decided = n
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d applications decided after 5 minutes", n-f.decided, len(f.forms))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func BenchmarkCheckToDecision(b *testing.B) {
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			f := newBenchFixture(b, storetest.Open(b, e, sets...))
			for _, workers := range []int{4, 16, 64} {
				b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
					jobsDone := 0
					for range b.N {
						b.StopTimer()
						client := f.submit(b, workers)
						before := f.completedJobs(b)
						b.StartTimer()
						f.decide(b, client)
						b.StopTimer()
						jobsDone += f.completedJobs(b) - before
						stopBenchJobs(client)
					}
					// ns/op is the time to decide one round of benchApplications;
					// jobs/s counts every kind of job the round completed (checks,
					// e-mails), for comparison with the workers' fetch rate.
					b.ReportMetric(float64(b.N*len(f.forms))/b.Elapsed().Seconds(), "decided/s")
					b.ReportMetric(float64(jobsDone)/b.Elapsed().Seconds(), "jobs/s")
				})
			}
		})
	}
}

// BenchmarkSubmit is the submission path without HTTP: Service.Submit from
// 16 and 64 goroutines at once (validation, address lookup, one transaction
// with the application, its first event, its check job and the receipt
// e-mail), no worker running, on a database that already holds
// benchApplications applications and has statistics. Every call is a new
// application (an Idempotency-Key of its own). submits/s is the figure, to
// hold against the durable-insert ceiling of BenchmarkDurableInsert in
// internal/store.
func BenchmarkSubmit(b *testing.B) {
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			f := newBenchFixture(b, storetest.Open(b, e, sets...))
			// A database in service: applications in the table and statistics
			// on it. (On a never-analysed PostgreSQL table the idempotency
			// lookup's cached plan reads every application of the
			// municipality; see BENCHMARKS.md.)
			f.submit(b, 1) // the client enqueues only: never started
			if _, err := f.db.Write().ExecContext(context.Background(), "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			// Keys count on across the calls of the sub-benchmarks (the
			// framework calls each with growing b.N): a repeated key would be
			// an idempotent replay, not a submission.
			var n atomic.Int64
			run := func(b *testing.B, clients int) {
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((clients + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					for pb.Next() {
						i := n.Add(1)
						key := fmt.Sprintf("bench-submit-%d", i)
						rec, err := f.svc.Submit(ctx, demo.Berlin.ARS, f.forms[i%int64(len(f.forms))], key)
						if err != nil || !rec.Created {
							b.Errorf("Submit = %+v, %v; want a new application", rec, err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submits/s")
			}
			for _, clients := range []int{16, 64} {
				b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { run(b, clients) })
			}
			// The other way of committing, for comparison: NewService groups
			// submissions on SQLite only.
			f.svc.GroupSubmissions = !f.svc.GroupSubmissions
			for _, clients := range []int{16, 64} {
				b.Run(fmt.Sprintf("group=%v/clients=%d", f.svc.GroupSubmissions, clients), func(b *testing.B) { run(b, clients) })
			}
		})
	}
}

// BenchmarkWorkbench: server time of the clerks' queue page and case page
// with 100,000 applications in the database (BENCHMARKS.md, issue #4;
// target p99 < 100 ms):
//
//	go test -run='^$' -bench='^BenchmarkWorkbench$' -benchtime=2000x ./internal/parking/
//	scripts/with-postgres.sh go test -run='^$' -bench='^BenchmarkWorkbench$' -benchtime=2000x ./internal/parking/
//
// 500 applications of demo residents go through the real pipeline (most
// approved, the rest in review); they are then copied in SQL to 100,000
// rows, of which every tenth copy keeps its status and the others are
// rejected (a backlog of ~1.5 % in review, as in a district that has fallen
// behind). Each request is a GET with a casework key over HTTP Basic auth
// through an httptest server, so it includes authentication, the audit
// entry and the casework_access row each page writes.
func BenchmarkWorkbench(b *testing.B) {
	const total = 100_000
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, e, sets...)
			f := newBenchFixture(b, db)
			client := f.submit(b, 16)
			f.decide(b, client)
			stopBenchJobs(client)
			const cols = `municipality, access_code_hash, request_hash, status, applied_on, data, plate, person_hash, zone_id,
				duration_months, fee_cents, outcome, open_rules, kassenzeichen, created_at, updated_at, kind`
			for k := 1; k < total/benchApplications; k++ {
				_, err := db.Write().ExecContext(ctx, `INSERT INTO parking_applications (id, reference, `+cols+`)
					SELECT id || '-' || `+fmt.Sprint(k)+`, reference || '-' || `+fmt.Sprint(k)+`, municipality, access_code_hash, request_hash,
						CASE WHEN `+fmt.Sprint(k%10)+` = 0 THEN status ELSE 'rejected' END, applied_on, data, plate, person_hash, zone_id,
						duration_months, fee_cents, outcome, open_rules, kassenzeichen, created_at, updated_at, kind
					FROM parking_applications WHERE id NOT LIKE '%-%'`)
				if err != nil {
					b.Fatal(err)
				}
			}
			if _, err := db.Write().ExecContext(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			var n, inReview int
			db.Read().QueryRow(`SELECT count(*), sum(CASE WHEN status = 'review' THEN 1 ELSE 0 END) FROM parking_applications`).Scan(&n, &inReview)
			var refs []string
			rows, err := db.Read().Query(`SELECT reference FROM parking_applications WHERE status = 'review' AND id NOT LIKE '%-%'`)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
				var r string
				rows.Scan(&r)
				refs = append(refs, r)
			}
			rows.Close()
			if n != total || len(refs) == 0 {
				b.Fatalf("%d applications, %d originals in review; want %d and some", n, len(refs), total)
			}
			b.Logf("%d applications, %d in review", n, inReview)

			assets, err := web.NewAssets()
			if err != nil {
				b.Fatal(err)
			}
			h, err := parking.NewHandler(f.svc, assets)
			if err != nil {
				b.Fatal(err)
			}
			mux := http.NewServeMux()
			h.Routes(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			key, err := f.svc.CreateAPIKey(ctx, demo.Berlin.ARS, parking.RoleCasework, "Lasttest")
			if err != nil {
				b.Fatal(err)
			}
			id, secret, _ := strings.Cut(key, ".")
			get := func(b *testing.B, path string) time.Duration {
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				req.SetBasicAuth(id, secret)
				start := time.Now()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				d := time.Since(start)
				if res.StatusCode != 200 {
					b.Fatalf("GET %s: %d", path, res.StatusCode)
				}
				return d
			}
			measure := func(b *testing.B, path func(i int) string) {
				get(b, path(0)) // warm
				ds := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := range b.N {
					ds = append(ds, get(b, path(i)))
				}
				b.StopTimer()
				slices.Sort(ds)
				b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
			}
			b.Run("queue", func(b *testing.B) {
				measure(b, func(int) string { return "/sachbearbeitung/bewohnerparken" })
			})
			b.Run("queue-filtered", func(b *testing.B) {
				measure(b, func(int) string { return "/sachbearbeitung/bewohnerparken?grund=residence.kind&reihenfolge=neueste" })
			})
			b.Run("case", func(b *testing.B) {
				measure(b, func(i int) string { return "/sachbearbeitung/bewohnerparken/" + refs[i%len(refs)] })
			})
		})
	}
}
