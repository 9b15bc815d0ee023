// Package jobs runs Rathaus's background work with River on both storage
// engines: riversqlite on SQLite, River's database/sql driver on PostgreSQL
// (pgx underneath). Both take the same *sql.Tx, so a feature enqueues a job
// in the same transaction as the state the job continues: when the
// transaction commits, the job exists; when it rolls back, it does not.
//
// Jobs are claimed from the database, so any number of replicas work the
// same queue without coordination of their own. On PostgreSQL the client
// polls (no LISTEN/NOTIFY connection is held); that adds at most
// FetchPollInterval of latency, which background work here can afford.
//
// The package knows no feature: features register their workers with
// river.AddWorker on the *river.Workers passed to New.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"opencode.de/rathaus/rathaus/internal/store"
)

// Client is River bound to one database.
type Client struct {
	River  *river.Client[*sql.Tx]
	db     *store.DB
	logger *slog.Logger
}

// Options tune New.
type Options struct {
	// MaxWorkers per replica for the default queue (default 4).
	MaxWorkers int
	// PollInterval is how often idle workers look for new jobs (default 1s).
	PollInterval time.Duration
	// InsertOnly builds a client that can enqueue but does not work jobs.
	InsertOnly bool
	// Periodic are jobs River enqueues on a schedule (only the elected
	// leader among the replicas enqueues them).
	Periodic []*river.PeriodicJob
	// RescueAfter is how long a job may stay "running" before another
	// worker takes it over, because the process that ran it died (default
	// 15 min). Jobs time out after half of it unless their worker sets its
	// own timeout. Rathaus's jobs are idempotent, so a job taken over from
	// a slow (not dead) process does no harm beyond the work done twice.
	RescueAfter time.Duration
}

func driver(db *store.DB) riverdriver.Driver[*sql.Tx] {
	if db.Engine == store.SQLite {
		// The write pool has one connection: River shares SQLite's single
		// writer with the application instead of fighting it with SQLITE_BUSY.
		return riversqlite.New(db.Write())
	}
	return riverdatabasesql.New(db.Write())
}

// New returns a client whose workers are workers (nil for an insert-only
// client).
func New(db *store.DB, workers *river.Workers, logger *slog.Logger, opts Options) (*Client, error) {
	if opts.MaxWorkers <= 0 {
		opts.MaxWorkers = 4
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = 15 * time.Minute
	}
	cfg := &river.Config{
		Logger:            logger.With("component", "jobs"),
		FetchPollInterval: opts.PollInterval,
		// A producer fetches at most once per cooldown, and at most as many
		// jobs as it has free workers: River's 100 ms capped 4 workers at
		// ~40 jobs/s (BENCHMARKS.md). 20 ms costs an idle-free database one
		// small query more per 20 ms only while jobs are waiting.
		FetchCooldown:               min(20*time.Millisecond, opts.PollInterval),
		CompletedJobRetentionPeriod: 7 * 24 * time.Hour,
		JobTimeout:                  opts.RescueAfter / 2,
		// A job whose process died is picked up again after this; River's
		// default (JobTimeout + 1 h) would leave an application undecided
		// for an hour after a crash.
		RescueStuckJobsAfter: opts.RescueAfter,
	}
	if !opts.InsertOnly {
		if workers == nil {
			workers = river.NewWorkers()
		}
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.MaxWorkers}}
		cfg.PeriodicJobs = opts.Periodic
	}
	rc, err := river.NewClient(driver(db), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return &Client{River: rc, db: db, logger: logger}, nil
}

// Start starts working jobs; it returns at once.
func (c *Client) Start(ctx context.Context) error { return c.River.Start(ctx) }

// Stop lets running jobs finish until ctx ends, then cancels them.
func (c *Client) Stop(ctx context.Context) error {
	err := c.River.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// Out of time: cancel the running jobs (they are retried later,
		// their state is in the database) and wait briefly for them to notice.
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.River.StopAndCancel(cctx)
	}
	return err
}

// InsertTx enqueues a job in tx: it exists only if tx commits.
func (c *Client) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	return c.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: args, InsertOpts: opts}})
}

// InsertManyTx enqueues jobs in tx with one statement. It does not read
// the inserted rows back (River's "fast" insert): no caller needs them, and
// on SQLite, where every job insert runs on the single writer, that saves
// a tenth to a quarter of a submission's time (BENCHMARKS.md).
func (c *Client) InsertManyTx(ctx context.Context, tx *sql.Tx, jobs []river.InsertManyParams) error {
	if len(jobs) == 0 {
		return nil
	}
	if _, err := c.River.InsertManyFastTx(ctx, tx, jobs); err != nil {
		return fmt.Errorf("enqueue %s: %w", jobs[0].Args.Kind(), err)
	}
	return nil
}

// Migrate brings River's own tables up to date. It runs after the store's
// migrations (rathaus migrate does both).
func Migrate(ctx context.Context, db *store.DB, logger *slog.Logger) (applied int, err error) {
	m, err := rivermigrate.New(driver(db), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return 0, fmt.Errorf("river migrator: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("river migrate: %w", err)
	}
	return len(res.Versions), nil
}

// CheckCurrent returns an error unless River's tables are up to date.
func CheckCurrent(ctx context.Context, db *store.DB) error {
	m, err := rivermigrate.New(driver(db), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("river validate: %w", err)
	}
	if !res.OK {
		return fmt.Errorf("job tables not current (%s): run 'rathaus migrate'", strings.Join(res.Messages, "; "))
	}
	return nil
}

// Collector exports job counts by state and kind as a Prometheus gauge,
// read from the database at scrape time.
func Collector(db *store.DB) prometheus.Collector {
	return &collector{db: db, desc: prometheus.NewDesc("rathaus_jobs",
		"Background jobs in the database by kind and state.", []string{"kind", "state"}, nil)}
}

type collector struct {
	db   *store.DB
	desc *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.db.Read().QueryContext(ctx, "SELECT kind, state, count(*) FROM river_job GROUP BY kind, state")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var n float64
		if err := rows.Scan(&kind, &state, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, n, kind, state)
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
	}
}
