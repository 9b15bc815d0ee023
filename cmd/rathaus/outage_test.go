package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
)

// The outage tests of issue #6 run Rathaus as a process of its own and
// take away what it stands on: the PostgreSQL server, the disk under
// SQLite, the exclusiveness of one instance. Each asserts what a citizen
// was told against what the database holds afterwards: every application
// acknowledged is there exactly once and reaches its decision.
//
// By default they run in a short form that fits `make test`;
// RATHAUS_OUTAGE_LONG=1 runs the long form (more applications, longer and
// repeated outages) by hand. Their counts are logged (go test -v) for
// BENCHMARKS.md.

// outageLong reports whether the long form was asked for.
func outageLong() bool { return os.Getenv("RATHAUS_OUTAGE_LONG") == "1" }

// pick returns short or, in the long form, long.
func pick[T any](short, long T) T {
	if outageLong() {
		return long
	}
	return short
}

// eligibleResidents returns the demo residents whom the demo registers
// approve (serve offers no /api/v1/demo/residents).
func eligibleResidents(t *testing.T) []demoResident {
	t.Helper()
	addrs, err := demo.AddressesInZones()
	if err != nil {
		t.Fatal(err)
	}
	var eligible []demoResident
	for _, r := range registers.NewDemo(2026, addrs).Residents() {
		if r.Expect == registers.ExpectEligible && len(r.Vehicles) > 0 {
			eligible = append(eligible, demoResident{GivenNames: r.Person.GivenNames, FamilyName: r.Person.FamilyName,
				BirthDate: r.Person.BirthDate.Format("02.01.2006"),
				Address:   r.Address.Street + " " + r.Address.HouseNumber + ", " + r.Address.Postcode,
				Plates:    []string{r.Vehicles[0].Plate.String()}})
		}
	}
	if len(eligible) == 0 {
		t.Fatal("no eligible demo residents")
	}
	return eligible
}

// eligibleBodies returns n API bodies of applications the demo registers
// approve.
func eligibleBodies(t *testing.T, n int) [][]byte {
	t.Helper()
	eligible := eligibleResidents(t)
	out := make([][]byte, n)
	for i := range out {
		out[i] = applicationBody(eligible[i%len(eligible)])
	}
	return out
}

// seedServe does what an operator does before rathaus serve offers
// Bewohnerparken for Berlin: permit keygen (the key goes to dir), migrate,
// zones and addresses import into the database of dbURL. It returns the
// signing key's file.
func seedServe(t *testing.T, dir, dbURL string) string {
	t.Helper()
	c := cli{t, func(k string) string {
		if k == "RATHAUS_DATABASE_URL" {
			return dbURL
		}
		return ""
	}}
	keyFile := filepath.Join(dir, "signing-key.pem")
	c.must("permit", "keygen", "--out", keyFile)
	c.must("migrate")
	zonesFile, addrFile := filepath.Join(dir, "zones.geojson"), filepath.Join(dir, "addresses.csv")
	os.WriteFile(zonesFile, demo.Zones(), 0o644)
	os.WriteFile(addrFile, demo.Addresses(), 0o644)
	c.must("zones", "import", "--tenant", "110000000000", "--name", "Berlin", zonesFile)
	c.must("addresses", "import", "--tenant", "110000000000", addrFile)
	return keyFile
}

// prepareServe brings the database of dbURL to where rathaus serve offers
// Bewohnerparken for Berlin on the demo registers, as an operator would
// (permit keygen, migrate, zones and addresses import), and returns the
// environment of serve.
func prepareServe(t *testing.T, dbURL string) []string {
	t.Helper()
	keyFile := seedServe(t, t.TempDir(), dbURL)
	return []string{"RATHAUS_DATABASE_URL=" + dbURL, "RATHAUS_PARKING_REGISTERS=demo", "RATHAUS_PARKING_MUNICIPALITY=110000000000",
		"RATHAUS_PARKING_SIGNING_KEY_FILE=" + keyFile, "RATHAUS_PARKING_AUTHORITY=Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde",
		"RATHAUS_PAYMENT_PROVIDER=test", "RATHAUS_PAYMENT_SECRET=zahlungs-geheimnis-k7Qx2-0123456789abcdef",
		// Jobs left "running" when their process lost the database are
		// taken over after 5 s (production default: 15 min).
		"RATHAUS_JOB_RESCUE_AFTER=5s",
		// The clients here are many citizens, not one script.
		"RATHAUS_CLIENT_RATE=off"}
}

// proc is a rathaus process (the binary).
type proc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	base   string
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startProc runs the binary with args and env, listening on addr, and
// waits until /readyz answers 200; the test's cleanup kills it.
func startProc(t *testing.T, args, env []string, addr string) *proc {
	t.Helper()
	p := launchProc(t, args, env, addr)
	p.mustBeReady(t)
	return p
}

// launchProc starts the binary without waiting for it.
func launchProc(t *testing.T, args, env []string, addr string) *proc {
	t.Helper()
	return launchCmd(t, append([]string{rathausBinary(t)}, args...), env, addr)
}

// launchCmd starts argv (the binary, or e.g. taskset running it) without
// waiting for it; env nil: this process's environment.
func launchCmd(t *testing.T, argv, env []string, addr string) *proc {
	t.Helper()
	p := &proc{out: &syncBuffer{}, base: "http://" + addr, exited: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.exited })
	return p
}

func (p *proc) mustBeReady(t *testing.T) {
	t.Helper()
	if !p.waitReady(90 * time.Second) {
		t.Fatalf("%s not ready within 90 s (exited: %v):\n%s", strings.Join(p.cmd.Args, " "), !p.alive(), p.out)
	}
}

func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

var probeClient = &http.Client{Timeout: 5 * time.Second}

// readyz returns the status of /readyz, 0 when there was no answer.
func (p *proc) readyz() int {
	res, err := probeClient.Get(p.base + "/readyz")
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// waitReady waits until /readyz answers 200, or d passes, or the process
// ends.
func (p *proc) waitReady(d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline) && p.alive(); time.Sleep(100 * time.Millisecond) {
		if p.readyz() == 200 {
			return true
		}
	}
	return false
}

// load submits applications through the API from several clients at
// once. A client that gets no answer or a 5xx retries with the same
// Idempotency-Key until it gets 200 or 201 (or gives up at the deadline),
// as a careful program would: "acknowledged" is what a citizen was told.
type load struct {
	keyPrefix string
	bodies    [][]byte
	bases     []string

	acked    atomic.Int64
	mu       sync.Mutex
	receipts []receipt      // by index; Reference "" if never acknowledged
	answers  map[string]int // "201", "200", "503", …, "no answer"
	problems []string       // answers that are neither success, nor a clean 5xx, nor a retry
	done     chan struct{}
}

// startLoad starts workers clients that submit bodies (key prefix-i),
// application i to bases[i%len(bases)] and retries to the next base.
func startLoad(keyPrefix string, bodies [][]byte, bases []string, workers int, giveUp time.Time) *load {
	l := &load{keyPrefix: keyPrefix, bodies: bodies, bases: bases, receipts: make([]receipt, len(bodies)),
		answers: map[string]int{}, done: make(chan struct{})}
	work := make(chan int)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 60 * time.Second}
	for range workers {
		wg.Go(func() {
			for i := range work {
				l.submit(client, i, giveUp)
			}
		})
	}
	go func() {
		for i := range bodies {
			work <- i
		}
		close(work)
		wg.Wait()
		close(l.done)
	}()
	return l
}

func (l *load) key(i int) string { return fmt.Sprintf("%s-%d", l.keyPrefix, i) }

func (l *load) count(answer string) {
	l.mu.Lock()
	l.answers[answer]++
	l.mu.Unlock()
}

func (l *load) problem(format string, args ...any) {
	l.mu.Lock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *load) submit(client *http.Client, i int, giveUp time.Time) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if time.Now().After(giveUp) {
				l.problem("%s: no answer but errors until the deadline", l.key(i))
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
		base := l.bases[(i+attempt)%len(l.bases)]
		req, _ := http.NewRequest("POST", base+"/api/v1/municipalities/110000000000/parking/applications", bytes.NewReader(l.bodies[i]))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", l.key(i))
		res, err := client.Do(req)
		if err != nil {
			l.count("no answer")
			continue
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			l.count("no answer")
			continue
		}
		l.count(strconv.Itoa(res.StatusCode))
		switch {
		case res.StatusCode == 200 || res.StatusCode == 201:
			var rec struct {
				Reference  string `json:"reference"`
				AccessCode string `json:"access_code"`
			}
			if err := json.Unmarshal(body, &rec); err != nil || rec.Reference == "" || rec.AccessCode == "" {
				l.problem("%s: %d without a receipt: %s", l.key(i), res.StatusCode, body)
				return
			}
			l.mu.Lock()
			l.receipts[i] = receipt{Reference: rec.Reference, AccessCode: rec.AccessCode}
			l.mu.Unlock()
			l.acked.Add(1)
			return
		case res.StatusCode >= 500:
			// A clean refusal: problem+json with a German title and no
			// internals; the client tries again.
			var p struct {
				Status int    `json:"status"`
				Title  string `json:"title"`
				Detail string `json:"detail"`
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(body, &p) != nil ||
				p.Status != res.StatusCode || p.Title == "" || leaksInternals(string(body)) {
				l.problem("%s: %d %s: %.300s", l.key(i), res.StatusCode, ct, body)
			}
		default:
			l.problem("%s: %d: %.300s", l.key(i), res.StatusCode, body)
			return
		}
	}
}

// leaksInternals reports whether an answer shows what users must never
// see: SQL, driver or file system errors.
func leaksInternals(s string) bool {
	for _, bad := range []string{"SQLSTATE", "sqlite", "SQLITE", "pq:", "pgx", "dial tcp", "connection refused", "goroutine", ".go:", "database or disk is full", "no space left"} {
		if strings.Contains(s, bad) {
			return true
		}
	}
	return false
}

func (l *load) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(d):
		t.Fatalf("the clients did not finish within %v (%d of %d acknowledged)", d, l.acked.Load(), len(l.bodies))
	}
}

// waitAcked waits until n submissions are acknowledged.
func (l *load) waitAcked(t *testing.T, n int64, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); l.acked.Load() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d submissions acknowledged after %v", l.acked.Load(), n, d)
		}
	}
}

// acknowledged returns Idempotency-Key → receipt of every acknowledged
// submission.
func (l *load) acknowledged() map[string]receipt {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]receipt{}
	for i, r := range l.receipts {
		if r.Reference != "" {
			out[l.key(i)] = r
		}
	}
	return out
}

func (l *load) answerText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.answers))
	for k := range l.answers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s×%d ", k, l.answers[k])
	}
	return strings.TrimSpace(b.String())
}

// ledger is what the database holds about the submissions of one load.
type ledger struct {
	stored     int // applications with the load's keys
	found      int // acknowledged and stored under its key, with the acknowledged reference
	lost       int // acknowledged, but not stored (or under another reference)
	duplicated int // keys stored more than once, and decisions, mails, jobs made twice
	decided    int // approved with a Kassenzeichen (and perhaps paid since)
	notes      []string
}

func (lg ledger) String() string {
	return fmt.Sprintf("stored %d, found %d, lost %d, duplicated %d, decided %d", lg.stored, lg.found, lg.lost, lg.duplicated, lg.decided)
}

// tally compares the acknowledged submissions (key → receipt) with the
// database's applications whose Idempotency-Key is LIKE keys: each stored
// once under its key, each decided once (one approval event, one check
// job), each mail written once.
func tally(t *testing.T, db *store.DB, keys string, acked map[string]receipt) ledger {
	t.Helper()
	ctx := context.Background()
	var lg ledger
	q := func(query string, args ...any) *sql.Rows {
		t.Helper()
		rows, err := db.Read().QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return rows
	}
	byKey := map[string][]string{}
	apps := map[string]bool{} // ids of the load's applications
	rows := q(`SELECT id, idempotency_key, reference, status, kassenzeichen FROM parking_applications WHERE idempotency_key LIKE $1`, keys)
	for rows.Next() {
		var id, key, ref, status, kz string
		if err := rows.Scan(&id, &key, &ref, &status, &kz); err != nil {
			t.Fatal(err)
		}
		lg.stored++
		apps[id] = true
		byKey[key] = append(byKey[key], ref)
		if kz != "" && (status == "approved" || status == "awaiting_payment" || status == "issued") {
			lg.decided++
		}
	}
	rows.Close()
	for key, refs := range byKey {
		if len(refs) > 1 {
			lg.duplicated++
			lg.notes = append(lg.notes, fmt.Sprintf("key %s stored %d times", key, len(refs)))
		}
	}
	for key, rec := range acked {
		if slices.Contains(byKey[key], rec.Reference) {
			lg.found++
		} else {
			lg.lost++
			lg.notes = append(lg.notes, fmt.Sprintf("acknowledged %s (%s) not stored", rec.Reference, key))
		}
	}
	// Decisions, check jobs and mails: never two of one kind for one case.
	dup := func(what, query string) {
		t.Helper()
		rows := q(query)
		defer rows.Close()
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			if apps[id] || what == "mail" {
				lg.duplicated++
				lg.notes = append(lg.notes, fmt.Sprintf("%s for %s: %d times", what, id, n))
			}
		}
	}
	dup("event to approved", `SELECT application_id, count(*) FROM parking_events WHERE to_status = 'approved' GROUP BY application_id HAVING count(*) > 1`)
	dup("event to checking", `SELECT application_id, count(*) FROM parking_events WHERE to_status = 'checking' GROUP BY application_id HAVING count(*) > 1`)
	dup("mail", `SELECT reference || ' ' || subject, count(*) FROM mail_outbox GROUP BY reference, subject HAVING count(*) > 1`)
	arg := "args->>'application_id'"
	mailArg := "args->>'id'"
	if db.Engine == store.SQLite {
		arg, mailArg = "json_extract(args, '$.application_id')", "json_extract(args, '$.id')"
	}
	dup("check job", `SELECT `+arg+`, count(*) FROM river_job WHERE kind = 'parking.check' GROUP BY 1 HAVING count(*) > 1`)
	dup("mail", `SELECT 'send job of ' || (`+mailArg+`), count(*) FROM river_job WHERE kind = 'mail.send' GROUP BY 1 HAVING count(*) > 1`)
	// A check job given up (cancelled, discarded) leaves its case undecided.
	rows = q(`SELECT ` + arg + `, state FROM river_job WHERE kind = 'parking.check' AND state IN ('cancelled', 'discarded')`)
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			t.Fatal(err)
		}
		if apps[id] {
			lg.notes = append(lg.notes, fmt.Sprintf("check job of %s %s", id, state))
		}
	}
	rows.Close()
	return lg
}

// waitDecided polls the database until want applications whose
// Idempotency-Key is LIKE keys are approved with a Kassenzeichen, or d
// passes.
func waitDecided(db *store.DB, keys string, want int, d time.Duration) (int, time.Duration) {
	start := time.Now()
	var n int
	for {
		err := db.Read().QueryRowContext(context.Background(), `SELECT count(*) FROM parking_applications
			WHERE idempotency_key LIKE $1 AND status = 'approved' AND kassenzeichen <> ''`, keys).Scan(&n)
		if (err == nil && n >= want) || time.Since(start) > d {
			return n, time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkReceipts asks the API for each acknowledged application with its
// access code: the receipt a citizen holds must open it.
func checkReceipts(t *testing.T, bases []string, acked map[string]receipt, want string) (ok int) {
	t.Helper()
	i := 0
	for key, rec := range acked {
		s := &server{base: bases[i%len(bases)]}
		i++
		var a appView
		r := s.do(t, "GET", "/api/v1/parking/applications/"+rec.Reference, nil, map[string]string{"X-Access-Code": rec.AccessCode})
		if r.status == 200 {
			r.json(t, &a)
		}
		if r.status != 200 || a.Status != want {
			t.Errorf("%s (%s): %d %q, want 200 %q", rec.Reference, key, r.status, a.Status, want)
			continue
		}
		ok++
	}
	return ok
}

// waitRunningChecks waits until at least n check jobs are running (or d
// passes) and returns how many were: a kill then hits jobs in flight.
func waitRunningChecks(db *store.DB, n int, d time.Duration) int {
	var running int
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		err := db.Read().QueryRowContext(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'parking.check' AND state = 'running'`).Scan(&running)
		if err == nil && running >= n {
			break
		}
	}
	return running
}

// pgCluster is a throwaway PostgreSQL cluster of the test's own, which
// the test may kill: the shared cluster of scripts/with-postgres.sh is
// used by other tests at the same time.
type pgCluster struct {
	bin, dir, data, port string
	asPostgres           bool // root runs the server binaries as the postgres user
}

// pgBinDir finds the PostgreSQL server binaries as scripts/with-postgres.sh does.
func pgBinDir() string {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); fileExists(filepath.Join(d, "initdb")) {
			return d
		}
	}
	ds, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Sort(ds)
	for _, d := range slices.Backward(ds) {
		if fileExists(filepath.Join(d, "initdb")) {
			return d
		}
	}
	return ""
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

// skipUnlessCI skips the test, or under CI=true (which must run every
// test) fails it.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, but "+format, args...)
	}
	t.Skipf(format, args...)
}

func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		skipUnlessCI(t, "no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/*/bin): install postgresql-15")
	}
	dir, err := os.MkdirTemp("", "rathaus-outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{bin: bin, dir: dir, data: filepath.Join(dir, "data"), asPostgres: os.Geteuid() == 0}
	t.Cleanup(func() {
		c.run("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			skipUnlessCI(t, "running as root without a postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	_, c.port, _ = net.SplitHostPort(freePort(t))
	if out, err := c.run("initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.start(t)
	return c
}

func (c *pgCluster) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, prog)
	cmd := exec.Command(path, args...)
	if c.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return cmd.CombinedOutput()
}

// url is the URL of the cluster's database "postgres".
func (c *pgCluster) url() string {
	return "postgres://postgres@127.0.0.1:" + c.port + "/postgres?sslmode=disable"
}

// start starts the server on the cluster's data directory and port. After
// a kill the old server's backends may hold its shared memory for a
// moment: start tries again for 30 s.
func (c *pgCluster) start(t *testing.T) {
	t.Helper()
	var out []byte
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err = c.run("pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "-o",
			"-c listen_addresses=127.0.0.1 -c port="+c.port+" -c unix_socket_directories="+c.dir+" -c max_connections=200", "start")
		if err == nil {
			return
		}
	}
	log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	t.Fatalf("pg_ctl start: %v\n%s\nserver.log:\n%s", err, out, log)
}

// kill9 kills the postmaster with SIGKILL (no shutdown, no checkpoint) and
// waits until the port refuses connections.
func (c *pgCluster) kill9(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+c.port, time.Second)
		if err != nil {
			return
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("PostgreSQL still accepts connections 10 s after kill -9 of the postmaster")
		}
	}
}

// TestPostgresKilledUnderLoad: rathaus serve on PostgreSQL; clients
// submit applications, retrying with the same Idempotency-Key until they
// get an answer; the PostgreSQL server is killed with SIGKILL in the
// middle of it. While it is down, /readyz says 503; after it is started
// again (same data, same port), Rathaus recovers by itself, without a
// restart; every acknowledged application is stored exactly once and is
// decided exactly once.
func TestPostgresKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills a PostgreSQL server")
	}
	pg := newPGCluster(t)
	ctx := context.Background()
	admin, err := store.Open(ctx, pg.url(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Write().ExecContext(ctx, "CREATE DATABASE rathaus"); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	dbURL := strings.Replace(pg.url(), "/postgres?", "/rathaus?", 1)
	env := prepareServe(t, dbURL)
	db, err := store.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	addr := freePort(t)
	p := startProc(t, []string{"serve", "--listen", addr, "--log-level", "warn"}, env, addr)

	n, workers, outages, down := pick(150, 2000), pick(8, 16), pick(1, 3), pick(3*time.Second, 15*time.Second)
	const keyPrefix = "pg-outage"
	l := startLoad(keyPrefix, eligibleBodies(t, n), []string{p.base}, workers, time.Now().Add(pick(3*time.Minute, 15*time.Minute)))
	var readyDown, readyWhileDown, samples int
	var killedRunning []int // check jobs running at each kill
	var recoveries []time.Duration
	for k := range outages {
		// Kill in the middle of the load: after a share of the
		// acknowledgements, while checks are running.
		l.waitAcked(t, int64(n*(k+1)/(outages+1)), 2*time.Minute)
		running := waitRunningChecks(db, 3, 10*time.Second)
		pg.kill9(t)
		killedRunning = append(killedRunning, running)
		killedAt := time.Now()
		// Not ready while the database is down: a load balancer must stop
		// sending citizens here.
		saw503 := false
		for time.Since(killedAt) < down {
			code := p.readyz()
			samples++
			switch {
			case code == 200:
				readyWhileDown++
			case code == 503 && !saw503:
				saw503 = true
				readyDown++
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !saw503 {
			t.Errorf("outage %d: /readyz never answered 503 in the %v PostgreSQL was down", k+1, down)
		}
		pg.start(t)
		restarted := time.Now()
		if !p.waitReady(60 * time.Second) {
			t.Fatalf("outage %d: Rathaus not ready 60 s after PostgreSQL came back (alive: %v):\n%s", k+1, p.alive(), tail(p.out.String(), 4000))
		}
		recoveries = append(recoveries, time.Since(restarted).Round(time.Millisecond))
	}
	l.wait(t, pick(3*time.Minute, 15*time.Minute))
	if !p.alive() {
		t.Fatalf("Rathaus exited: %v\n%s", p.err, tail(p.out.String(), 4000))
	}
	acked := l.acknowledged()

	decided, took := waitDecided(db, keyPrefix+"-%", len(acked), pick(60*time.Second, 5*time.Minute))
	lg := tally(t, db, keyPrefix+"-%", acked)
	t.Logf("PostgreSQL killed %d× for %v under %d clients, with %v check jobs running: %d submissions, %d acknowledged; answers: %s",
		outages, down, workers, killedRunning, n, len(acked), l.answerText())
	t.Logf("/readyz while down: 503 in %d of %d outages, 200 in %d of %d samples; ready again %v after each restart", readyDown, outages, readyWhileDown, samples, recoveries)
	t.Logf("database: %s; all decided %v after the last submission (%d)", lg, took.Round(time.Millisecond), decided)
	for _, pr := range l.problems {
		t.Errorf("answer: %s", pr)
	}
	for _, note := range lg.notes {
		t.Error(note)
	}
	if readyWhileDown > 0 {
		t.Errorf("/readyz answered 200 %d times while PostgreSQL was down", readyWhileDown)
	}
	if len(acked) != n {
		t.Errorf("%d of %d submissions acknowledged, want all once PostgreSQL is back", len(acked), n)
	}
	if lg.stored != n || lg.found != len(acked) || lg.lost != 0 || lg.duplicated != 0 {
		t.Errorf("database: %s; want %d stored, all acknowledged found, none lost or duplicated", lg, n)
	}
	if decided != n {
		t.Errorf("%d of %d applications decided (approved with a Kassenzeichen) %v after the load", decided, n, took.Round(time.Second))
		t.Logf("check jobs: %s\nRathaus log:\n%s", jobStates(t, db, "parking.check"), tail(p.out.String(), 4000))
	}
	if ok := checkReceipts(t, []string{p.base}, acked, "approved"); ok != len(acked) {
		t.Errorf("%d of %d receipts open an approved application", ok, len(acked))
	}
}

// jobStates counts the River jobs of kind by state.
func jobStates(t *testing.T, db *store.DB, kind string) string {
	t.Helper()
	rows, err := db.Read().QueryContext(context.Background(), `SELECT state, count(*) FROM river_job WHERE kind = $1 GROUP BY state ORDER BY state`, kind)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		var c int
		rows.Scan(&s, &c)
		fmt.Fprintf(&b, "%s×%d ", s, c)
	}
	return strings.TrimSpace(b.String())
}

// tail returns the end of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
