package geo

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	// The time zone database in the binary: Rathaus counts legal dates in
	// Europe/Berlin, and minimal container images (distroless, scratch)
	// have no /usr/share/zoneinfo. Costs about 450 kB.
	_ "time/tzdata"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// Service answers zone and address questions for every municipality and
// imports their data.
//
// Lookups never touch the database on the hot path: each municipality has a
// snapshot (zones in force today, their Index, the Gazetteer) that is
// rebuilt when the municipality's geo_generation changes — checked at most
// once per RefreshInterval, so an import on one replica reaches all replicas
// within that interval — or when the date changes.
type Service struct {
	db     *store.DB
	jobs   *jobs.Client
	logger *slog.Logger
	now    func() time.Time

	// RefreshInterval bounds how stale a snapshot may be (default 1s).
	RefreshInterval time.Duration

	snaps sync.Map // ars → *tenantSnap
}

type tenantSnap struct {
	mu  sync.Mutex               // held while (re)loading
	cur atomic.Pointer[snapshot] // nil until first load
}

// snapshot is an immutable view of one municipality's geo data.
type snapshot struct {
	municipality tenant.Municipality
	generation   int64
	day          string
	zones        []Zone
	byID         map[string]*Zone
	index        *Index
	gazetteer    *Gazetteer
	addresses    int
	checked      atomic.Int64 // unix nanos of the last generation check
}

// NewService returns a Service. jobsClient may be nil for a process that
// does not enqueue imports.
func NewService(db *store.DB, jobsClient *jobs.Client, logger *slog.Logger) *Service {
	return &Service{db: db, jobs: jobsClient, logger: logger, now: time.Now, RefreshInterval: time.Second}
}

// SetJobs sets the client used to enqueue imports (jobs and service need
// each other: the client runs the service's worker).
func (s *Service) SetJobs(c *jobs.Client) { s.jobs = c }

func (s *Service) today() string { return s.now().In(berlinTZ).Format(dateLayout) }

// berlinTZ is the time zone legal dates in Germany are counted in. With
// time/tzdata linked in, loading it cannot fail; a fixed CET fallback would
// be an hour wrong for half the year, so failure is a panic at start.
var berlinTZ = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic("geo: time zone Europe/Berlin: " + err.Error())
	}
	return loc
}()

// snapshot returns the current snapshot of a municipality, loading or
// refreshing it when needed. Concurrent callers wait for one load.
func (s *Service) snapshot(ctx context.Context, ars string) (*snapshot, error) {
	v, _ := s.snaps.LoadOrStore(ars, &tenantSnap{})
	ts := v.(*tenantSnap)
	cur := ts.cur.Load()
	now := s.now()
	if cur != nil && cur.day == s.today() && now.UnixNano()-cur.checked.Load() < int64(s.RefreshInterval) {
		return cur, nil
	}
	if cur != nil && !ts.mu.TryLock() {
		return cur, nil // someone else is refreshing; the old view is good for a moment more
	} else if cur == nil {
		ts.mu.Lock()
	}
	defer ts.mu.Unlock()
	if c := ts.cur.Load(); c != nil && c != cur {
		return c, nil
	}
	gen, err := generation(ctx, s.db.Read(), ars)
	if err != nil {
		if cur != nil && !errs.Is(err, errs.NotFound) {
			s.logger.Warn("geo snapshot refresh failed; serving the previous one", "ars", ars, "err", err)
			return cur, nil
		}
		s.snaps.CompareAndDelete(ars, ts)
		return nil, err
	}
	if cur != nil && cur.generation == gen && cur.day == s.today() {
		cur.checked.Store(now.UnixNano())
		return cur, nil
	}
	snap, err := s.load(ctx, ars)
	if err != nil {
		if cur != nil {
			s.logger.Warn("geo snapshot reload failed; serving the previous one", "ars", ars, "err", err)
			return cur, nil
		}
		return nil, err
	}
	snap.checked.Store(now.UnixNano())
	ts.cur.Store(snap)
	return snap, nil
}

// load reads a consistent snapshot of one municipality.
func (s *Service) load(ctx context.Context, ars string) (*snapshot, error) {
	start := time.Now()
	snap := &snapshot{day: s.today()}
	day, _ := time.Parse(dateLayout, snap.day)
	tx, err := s.beginSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if snap.municipality, err = tenant.Get(ctx, tx, ars); err != nil {
		return nil, err
	}
	if snap.generation, err = generation(ctx, tx, ars); err != nil {
		return nil, err
	}
	if snap.zones, err = zonesInForce(ctx, tx, ars, day); err != nil {
		return nil, err
	}
	// The database orders ids as text ("1", "10", "100", "2"); people and
	// the Index read them as numbers.
	slices.SortStableFunc(snap.zones, func(a, b Zone) int { return CompareZoneIDs(a.ID, b.ID) })
	addrs, err := addresses(ctx, tx, ars)
	if err != nil {
		return nil, err
	}
	snap.byID = make(map[string]*Zone, len(snap.zones))
	for i := range snap.zones {
		snap.byID[snap.zones[i].ID] = &snap.zones[i]
	}
	snap.index = NewIndex(snap.zones)
	snap.gazetteer = NewGazetteer(addrs)
	snap.addresses = len(addrs)
	s.logger.Info("geo snapshot loaded", "ars", ars, "generation", snap.generation, "zones", len(snap.zones),
		"addresses", len(addrs), "took_ms", time.Since(start).Milliseconds())
	return snap, nil
}

// beginSnapshot begins the read-only transaction a snapshot is read in, so
// that generation, zones and addresses agree. On PostgreSQL it must be
// REPEATABLE READ: under the default READ COMMITTED every statement sees
// what committed before it, and an import committing between the reads
// would pair the old generation with the new addresses — a snapshot that
// is never reloaded. SQLite transactions are serializable anyway (in WAL
// mode a read transaction keeps the snapshot of its first read), and
// modernc.org/sqlite ignores the isolation level, so it gets none.
func (s *Service) beginSnapshot(ctx context.Context) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.db.Engine == store.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.Read().BeginTx(ctx, opts)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "Datenbank nicht erreichbar")
	}
	return tx, nil
}

// Warm loads the snapshot of every municipality, so that the first request
// after a start does not pay for it (and readiness means ready).
func (s *Service) Warm(ctx context.Context) error {
	ms, err := tenant.List(ctx, s.db)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if _, err := s.snapshot(ctx, m.ARS); err != nil {
			return fmt.Errorf("load geo data of %s: %w", m.ARS, err)
		}
	}
	return nil
}

// Municipality returns the municipality, or NotFound.
func (s *Service) Municipality(ctx context.Context, ars string) (tenant.Municipality, error) {
	if err := tenant.ValidateARS(ars); err != nil {
		return tenant.Municipality{}, errs.E(errs.NotFound, "Keine Kommune mit dem Regionalschlüssel %q.", ars)
	}
	snap, err := s.snapshot(ctx, ars)
	if err != nil {
		return tenant.Municipality{}, err
	}
	return snap.municipality, nil
}

// Zones returns the zones in force today, ordered by CompareZoneIDs.
func (s *Service) Zones(ctx context.Context, ars string) ([]Zone, error) {
	snap, err := s.snapshotFor(ctx, ars)
	if err != nil {
		return nil, err
	}
	return snap.zones, nil
}

// Zone returns one zone in force today.
func (s *Service) Zone(ctx context.Context, ars, id string) (*Zone, error) {
	snap, err := s.snapshotFor(ctx, ars)
	if err != nil {
		return nil, err
	}
	z, ok := snap.byID[id]
	if !ok {
		return nil, errs.E(errs.NotFound, "Die Kommune %s hat keine Zone %q.", ars, id)
	}
	return z, nil
}

// Neighbours returns the zones whose bounding box is within pad degrees of z's.
func (s *Service) Neighbours(ctx context.Context, ars string, z *Zone, pad float64) ([]*Zone, error) {
	snap, err := s.snapshotFor(ctx, ars)
	if err != nil {
		return nil, err
	}
	b := z.Geometry.Bound().Pad(pad)
	var out []*Zone
	for i := range snap.zones {
		o := &snap.zones[i]
		if o.ID != z.ID && o.Geometry.Bound().Intersects(b) {
			out = append(out, o)
		}
	}
	return out, nil
}

func (s *Service) snapshotFor(ctx context.Context, ars string) (*snapshot, error) {
	if err := tenant.ValidateARS(ars); err != nil {
		return nil, errs.E(errs.NotFound, "Keine Kommune mit dem Regionalschlüssel %q.", ars)
	}
	return s.snapshot(ctx, ars)
}

// ZonesAt returns the zones in force today that contain p (zero, one or several).
func (s *Service) ZonesAt(ctx context.Context, ars string, p Point) ([]*Zone, error) {
	snap, err := s.snapshotFor(ctx, ars)
	if err != nil {
		return nil, err
	}
	return snap.index.Lookup(p), nil
}

// AddressResult is the answer to an address lookup.
type AddressResult struct {
	Input string // the text as given
	Query AddressQuery
	Match Match
	// Found is the address or building the query names (see Match.Found),
	// nil when it names none or several candidates.
	Found *Address
	// Zones holds, when Found is set, every zone that contains one of the
	// matched addresses — a building across a zone border lies in several,
	// and so does an address where zones overlap — ordered by
	// CompareZoneIDs.
	Zones []*Zone
	// Markers holds, for each of Zones, the first matched address in it:
	// where a map of that zone marks the address.
	Markers []Point
}

// LookupAddress parses free text, matches it against the register and,
// when it names one address or one building (a range under one postcode),
// finds its zones. Ambiguous input is never guessed: the result lists the
// candidates.
func (s *Service) LookupAddress(ctx context.Context, ars, text string) (AddressResult, error) {
	snap, err := s.snapshotFor(ctx, ars)
	if err != nil {
		return AddressResult{}, err
	}
	q, err := ParseAddressQuery(text)
	if err != nil {
		return AddressResult{}, err
	}
	m, err := snap.gazetteer.Match(q)
	if err != nil {
		return AddressResult{}, err
	}
	res := AddressResult{Input: text, Query: q, Match: m}
	a, ok := m.Found()
	if !ok {
		return res, nil
	}
	res.Found = &a
	for _, b := range m.Addresses {
		for _, z := range snap.index.Lookup(b.Point) {
			if !slices.Contains(res.Zones, z) { // the Index returns its own *Zone, one per zone
				res.Zones = append(res.Zones, z)
				res.Markers = append(res.Markers, b.Point)
			}
		}
	}
	order := make([]int, len(res.Zones))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return CompareZoneIDs(res.Zones[i].ID, res.Zones[j].ID) })
	zones, markers := make([]*Zone, len(order)), make([]Point, len(order))
	for k, i := range order {
		zones[k], markers[k] = res.Zones[i], res.Markers[i]
	}
	res.Zones, res.Markers = zones, markers
	return res, nil
}

// Stats describes a municipality's geo data.
type Stats struct {
	Zones, Addresses int
	Generation       int64
}

// Stats returns counts of the current snapshot.
func (s *Service) Stats(ctx context.Context, ars string) (Stats, error) {
	snap, err := s.snapshotFor(ctx, ars)
	if err != nil {
		return Stats{}, err
	}
	return Stats{Zones: len(snap.zones), Addresses: snap.addresses, Generation: snap.generation}, nil
}

// ImportZones validates a GeoJSON FeatureCollection and makes it the
// municipality's zones from validFrom on, in one transaction: a file with
// any invalid feature imports nothing.
func (s *Service) ImportZones(ctx context.Context, ars string, r io.Reader, source string, validFrom time.Time) (int, error) {
	if err := tenant.ValidateARS(ars); err != nil {
		return 0, err
	}
	zones, err := ParseZones(r, ParseOptions{Tenant: ars, ValidFrom: validFrom, Source: source})
	if err != nil {
		return 0, err
	}
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		if _, err := tenant.Get(ctx, tx, ars); err != nil {
			return err
		}
		return replaceZones(ctx, tx, ars, zones, validFrom)
	})
	if err != nil {
		return 0, err
	}
	s.logger.Info("zones imported", "ars", ars, "zones", len(zones), "valid_from", validFrom.Format(dateLayout), "source", source)
	return len(zones), nil
}

// AddressImportArgs is the job that imports an address file stored in the
// imports table.
type AddressImportArgs struct {
	ImportID string `json:"import_id"`
}

// Kind implements river.JobArgs.
func (AddressImportArgs) Kind() string { return "geo.address_import" }

// InsertOpts keeps an import from being worked twice at the same time.
func (AddressImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EnqueueAddressImport stores the file and enqueues its import in one
// transaction, and returns the import id to follow with Import.
func (s *Service) EnqueueAddressImport(ctx context.Context, ars string, content []byte, source string) (string, error) {
	if s.jobs == nil {
		return "", fmt.Errorf("geo: no job client to enqueue imports")
	}
	if err := tenant.ValidateARS(ars); err != nil {
		return "", err
	}
	if len(content) == 0 {
		return "", errs.Field("file", "Die Adressdatei ist leer.")
	}
	var b [12]byte
	rand.Read(b[:])
	id := "imp_" + hex.EncodeToString(b[:])
	err := s.db.Transact(ctx, func(tx *sql.Tx) error {
		if _, err := tenant.Get(ctx, tx, ars); err != nil {
			return err
		}
		if err := insertImport(ctx, tx, id, ars, source, content); err != nil {
			return err
		}
		// The tag lets FollowImport find the job of an import.
		err := s.jobs.InsertTx(ctx, tx, AddressImportArgs{ImportID: id}, &river.InsertOpts{Tags: []string{id}})
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// Import returns the state of an address import.
func (s *Service) Import(ctx context.Context, id string) (ImportRun, error) {
	return getImport(ctx, s.db.Read(), id)
}

// UnfinishedImport returns the latest address import of a municipality
// that is queued or running, and false if there is none.
func (s *Service) UnfinishedImport(ctx context.Context, ars string) (ImportRun, bool, error) {
	id, err := latestUnfinishedImport(ctx, s.db.Read(), ars)
	if err != nil || id == "" {
		return ImportRun{}, false, err
	}
	run, err := getImport(ctx, s.db.Read(), id)
	return run, err == nil, err
}

// AbandonImport records an unfinished import as failed with msg (German,
// for the console), so that no one waits for it any more and a job that
// still comes to it does nothing. An import that finished meanwhile keeps
// its outcome.
func (s *Service) AbandonImport(ctx context.Context, id, msg string) error {
	_, err := failImport(ctx, s.db.Write(), id, msg)
	return err
}

// ImportStaleAfter is how long an unfinished import may go without a sign
// of life before ImportProgress.Stalled says so. Every attempt records
// "running" as it starts, then progress and a heartbeat (importHeartbeat),
// and no attempt lives longer than the job timeout (10 minutes,
// internal/jobs): longer silence means that no process works the import.
// (A follower in another process on the same SQLite file sees no
// heartbeat while the final transaction holds the single writer; hence
// the job timeout, not a few heartbeats.) River's rescuer retries such a
// job, but only an hour after the job timeout.
const ImportStaleAfter = 15 * time.Minute

// ErrImportStalled is returned by followers that give up on a stalled import.
var ErrImportStalled = errors.New("Adressimport ohne Lebenszeichen")

// ImportProgress is an import as someone waiting for it sees it.
type ImportProgress struct {
	ImportRun
	// Job is the state of the job that works the import ("available",
	// "running", "retryable", ...), "" when the Service has no job client.
	Job                  string
	Attempt, MaxAttempts int
	// LastSign is the latest sign of life: progress recorded in the
	// imports table, the start of the job's current attempt, or the time
	// its next attempt is scheduled for.
	LastSign time.Time
}

// Stalled reports whether the import is unfinished and has shown no sign
// of life for longer than after.
func (p ImportProgress) Stalled(now time.Time, after time.Duration) bool {
	return (p.Status == "queued" || p.Status == "running") && now.Sub(p.LastSign) > after
}

// FollowImport returns the state of an import and of its job, without
// waiting. An unfinished import whose job has ended or is gone cannot
// finish any more: FollowImport records it as failed and returns it so.
func (s *Service) FollowImport(ctx context.Context, id string) (ImportProgress, error) {
	run, err := getImport(ctx, s.db.Read(), id)
	if err != nil {
		return ImportProgress{}, err
	}
	p := ImportProgress{ImportRun: run, LastSign: run.UpdatedAt}
	if run.Status == "done" || run.Status == "failed" || s.jobs == nil {
		return p, nil
	}
	res, err := s.jobs.River.JobList(ctx, river.NewJobListParams().
		Kinds(AddressImportArgs{}.Kind()).TagsAll(id).OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(1))
	if err != nil {
		return p, fmt.Errorf("job of import %s: %w", id, err)
	}
	if len(res.Jobs) == 0 || res.Jobs[0].FinalizedAt != nil {
		// The job completed (then the import just finished: the worker
		// records the outcome before it returns), or was cancelled or
		// discarded without recording one. failImport changes only an
		// unfinished import, so re-reading tells which.
		msg := "Der Import wurde beendet, ohne ein Ergebnis zu speichern; sein Auftrag ist abgeschlossen oder verworfen."
		if len(res.Jobs) == 0 {
			msg = "Der Import hat keinen Auftrag mehr, der ihn bearbeiten könnte."
		}
		if _, err := failImport(ctx, s.db.Write(), id, msg); err != nil {
			return p, err
		}
		run, err := getImport(ctx, s.db.Read(), id)
		return ImportProgress{ImportRun: run, LastSign: run.UpdatedAt}, err
	}
	job := res.Jobs[0]
	p.Job, p.Attempt, p.MaxAttempts = string(job.State), job.Attempt, job.MaxAttempts
	if job.AttemptedAt != nil && job.AttemptedAt.After(p.LastSign) {
		p.LastSign = *job.AttemptedAt
	}
	if job.State != rivertype.JobStateRunning && job.ScheduledAt.After(p.LastSign) {
		p.LastSign = job.ScheduledAt
	}
	return p, nil
}

// AddressImportWorker works AddressImportArgs jobs.
type AddressImportWorker struct {
	river.WorkerDefaults[AddressImportArgs]
	Service *Service
}

// Timeout lets a large register import run longer than River's default.
func (w *AddressImportWorker) Timeout(*river.Job[AddressImportArgs]) time.Duration {
	return 10 * time.Minute
}

// progressEvery is how many rows pass between progress reports.
const progressEvery = 5000

// importHeartbeat is how often a running import records that it is alive,
// also while it is busy in its final transaction (on PostgreSQL; on SQLite
// the heartbeat waits for the single writer, and so does every follower in
// the same process).
const importHeartbeat = 10 * time.Second

// heartbeat records every importHeartbeat that the import is alive, until
// the returned stop is called.
func (s *Service) heartbeat(ctx context.Context, id string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(importHeartbeat)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := touchImport(ctx, s.db.Write(), id); err != nil && ctx.Err() == nil {
					s.logger.Warn("record import heartbeat", "import", id, "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Work parses the stored file (reporting progress to the log and the
// imports table), then replaces the register and marks the import done in
// one transaction. A file that cannot be parsed fails the import without
// touching the register. Other errors are returned for River to retry;
// after the last attempt the import is recorded as failed, so that it
// does not stay "running" for ever.
func (w *AddressImportWorker) Work(ctx context.Context, job *river.Job[AddressImportArgs]) (err error) {
	s := w.Service
	id := job.Args.ImportID
	log := s.logger.With("import", id, "job", job.ID, "attempt", job.Attempt)
	defer func() {
		var cancel *rivertype.JobCancelError
		if err == nil || errors.As(err, &cancel) || job.Attempt < job.MaxAttempts {
			return
		}
		log.Error("address import failed on its last attempt", "err", err)
		// ctx may be what ended the attempt (job timeout, shutdown).
		rctx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer done()
		msg := fmt.Sprintf("Der Import ist nach %d Versuchen gescheitert, die Adressen sind unverändert. Einzelheiten stehen im Protokoll (Import %s).", job.Attempt, id)
		if _, ferr := failImport(rctx, s.db.Write(), id, msg); ferr != nil {
			log.Error("record failed address import", "err", ferr)
		}
	}()
	run, err := getImport(ctx, s.db.Read(), id)
	if errs.Is(err, errs.NotFound) {
		return river.JobCancel(err) // nothing to import, now or later
	}
	if err != nil {
		return err // the database may answer the next attempt
	}
	if run.Status == "done" || run.Status == "failed" {
		return nil // a retried job after the outcome was recorded
	}
	ars, source, content, err := importContent(ctx, s.db.Read(), id)
	if err != nil {
		return err
	}
	log = log.With("ars", ars)
	log.Info("address import started", "source", source, "bytes", len(content))
	if err := updateImport(ctx, s.db.Write(), id, "running", 0, nil, ""); err != nil {
		return err
	}
	defer s.heartbeat(ctx, id)()
	addrs, stats, err := ParseAddressesCSV(bytes.NewReader(content), CSVOptions{
		Source:        source,
		Tenant:        ars,
		ProgressEvery: progressEvery,
		Progress: func(rows int) {
			log.Info("address import progress", "rows_read", rows)
			if err := updateImport(ctx, s.db.Write(), id, "running", rows, nil, ""); err != nil {
				log.Warn("record import progress", "err", err)
			}
		},
	})
	if err != nil {
		log.Warn("address import failed", "err", err)
		msg := errs.MessageOf(err)
		if msg == "" {
			msg = "Die Datei konnte nicht gelesen werden."
		}
		if uerr := updateImport(ctx, s.db.Write(), id, "failed", stats.Rows, &stats, msg); uerr != nil {
			return uerr
		}
		return river.JobCancel(err) // bad input does not get better by retrying
	}
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		if err := replaceAddresses(ctx, tx, ars, addrs); err != nil {
			return err
		}
		return updateImport(ctx, tx, id, "done", stats.Rows, &stats, "")
	})
	if err != nil {
		return err
	}
	log.Info("address import done", "rows_read", stats.Rows, "kept", stats.Kept)
	return nil
}

// Register adds the package's workers to workers.
func (s *Service) Register(workers *river.Workers) {
	river.AddWorker(workers, &AddressImportWorker{Service: s})
}
