package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/schema"
	"opencode.de/rathaus/rathaus/internal/store"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory and returns
// it; the test's cleanup unmounts it (after the processes started later
// have been killed: cleanups run last in, first out). It needs root.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skipUnlessCI(t, "mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0750", size), "tmpfs", dir).CombinedOutput(); err != nil {
		skipUnlessCI(t, "mount -t tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s; unmounting lazily", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fill writes a ballast file until the file system is full and returns
// its size.
func fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xBA}, 64<<10)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The last pages: what a 64 KiB write did not fit.
	for {
		w, err := f.Write(chunk[:512])
		n += int64(w)
		if err != nil {
			break
		}
	}
	return n
}

// diskUsage says how full the file system of dir is and how large the
// database and its write-ahead log are.
func diskUsage(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err.Error()
	}
	size := func(name string) float64 {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return 0
		}
		return float64(fi.Size()) / (1 << 20)
	}
	return fmt.Sprintf("%.1f MiB free, rathaus.db %.1f MiB, -wal %.1f MiB", float64(st.Bavail)*float64(st.Bsize)/(1<<20),
		size("rathaus.db"), size("rathaus.db-wal"))
}

var (
	receiptCode = regexp.MustCompile(`class="rathaus-code">([^<]+)</strong>`)
	formKeyRand = func() string {
		var b [16]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
)

// submitOutcome is the outcome of one submission without retries.
type submitOutcome struct {
	key     string
	form    bool
	rec     receipt
	status  int // 0: no answer
	clean   bool
	summary string
}

// submitOnce submits r's application once, through the API or (form) the
// citizen's form, and judges the answer: a receipt, or a clean refusal
// (problem+json for the API, a German error page for the form, no
// internals in either).
func submitOnce(client *http.Client, base string, r demoResident, key string, form bool) submitOutcome {
	o := submitOutcome{key: key, form: form}
	var req *http.Request
	if form {
		v := url.Values{"given_names": {r.GivenNames}, "family_name": {r.FamilyName}, "birth_date": {r.BirthDate},
			"address": {r.Address}, "plate": {r.Plates[0]}, "relation": {"holder"}, "duration_months": {"24"},
			"no_own_space": {"ja"}, "email": {"test@example.org"}, "truthful": {"ja"}, "action": {"absenden"}, "idempotency_key": {key}}
		req, _ = http.NewRequest("POST", base+"/bewohnerparken/antrag", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest("POST", base+"/api/v1/municipalities/110000000000/parking/applications", bytes.NewReader(applicationBody(r)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := client.Do(req)
	if err != nil {
		o.summary = err.Error()
		return o
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		o.summary = err.Error()
		return o
	}
	o.status = res.StatusCode
	ct := res.Header.Get("Content-Type")
	o.summary = fmt.Sprintf("%d %s: %.300s", res.StatusCode, ct, body)
	switch {
	case form && res.StatusCode == 200:
		m := receiptCode.FindAllStringSubmatch(string(body), -1)
		if len(m) == 2 {
			o.rec = receipt{Reference: m[0][1], AccessCode: m[1][1]}
		}
	case !form && (res.StatusCode == 200 || res.StatusCode == 201):
		var rec struct {
			Reference  string `json:"reference"`
			AccessCode string `json:"access_code"`
		}
		json.Unmarshal(body, &rec)
		o.rec = receipt{Reference: rec.Reference, AccessCode: rec.AccessCode}
	case res.StatusCode >= 500 && form:
		o.clean = strings.HasPrefix(ct, "text/html") && bytes.Contains(body, []byte(`lang="de"`)) && !leaksInternals(string(body))
	case res.StatusCode >= 500:
		var p struct {
			Status int    `json:"status"`
			Title  string `json:"title"`
		}
		o.clean = ct == "application/problem+json" && json.Unmarshal(body, &p) == nil && p.Status == res.StatusCode && p.Title != "" &&
			!leaksInternals(string(body))
	}
	return o
}

// TestDiskFullUnderSQLite: the demo's data directory (SQLite and the
// Amtsnetz nodes' logs) is a small tmpfs; once it runs full, every
// submission is either acknowledged and stored, or refused cleanly (5xx
// as problem+json or as a German page) — never acknowledged and lost,
// and the process does not fall over. Once space is freed, submissions
// work again without a restart, the database is intact, and every
// acknowledged application is there, once, and reaches its decision.
func TestDiskFullUnderSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and mounts a tmpfs")
	}
	// The demo's data directory holds about 18 MB after the address
	// import (half of it the write-ahead log); the rest is ballast, and
	// after it is deleted, room for the applications refused meanwhile.
	tmpfsMiB := pick(64, 160)
	data := mountTmpfs(t, int64(tmpfsMiB)<<20)
	addr := freePort(t)
	p := startProc(t, []string{"demo", "--listen", addr, "--data", data, "--log-level", "warn", "--job-rescue-after", "5s"},
		[]string{"PATH=" + os.Getenv("PATH"), "RATHAUS_CLIENT_RATE=off"}, addr)
	eligible := eligibleResidents(t)
	client := &http.Client{Timeout: 60 * time.Second}

	var mu sync.Mutex
	acked := map[string]receipt{} // key → receipt
	type refusal struct {
		resident int
		form     bool
	}
	refused := map[string]refusal{} // key → what to submit again
	statuses := map[string]int{}    // per phase, way and status
	var problems []string
	// submit submits the application of resident i once under key and
	// books the outcome.
	submit := func(phase string, i int, key string, form bool) submitOutcome {
		o := submitOnce(client, p.base, eligible[i%len(eligible)], key, form)
		mu.Lock()
		defer mu.Unlock()
		way := "api"
		if form {
			way = "form"
		}
		statuses[fmt.Sprintf("%s %s %d", phase, way, o.status)]++
		switch {
		case o.rec.Reference != "":
			acked[key] = o.rec
			delete(refused, key)
		case o.status >= 500 && o.clean:
			refused[key] = refusal{i, form}
		default:
			problems = append(problems, fmt.Sprintf("%s %s %s: %s", phase, way, key, o.summary))
		}
		return o
	}
	// keyOf is the submission's Idempotency-Key; the form's is the hidden
	// field's random one (32 characters).
	keyOf := func(phase string, i int, form bool) string {
		if form {
			return formKeyRand()
		}
		return fmt.Sprintf("disk-%s-%d", phase, i)
	}

	before := pick(20, 100)
	for i := range before {
		if o := submit("before", i, keyOf("before", i, i%4 == 3), i%4 == 3); o.rec.Reference == "" {
			t.Fatalf("before the disk is full: %s", o.summary)
		}
	}
	if !outageLong() {
		// SQLite reuses its write-ahead log from the start after a
		// checkpoint: on a full disk the next thousand or so applications
		// still fit into the 7 MB it has, and only then is a commit
		// refused. The short form truncates the log first, so that the
		// full disk bites at once; the long form lets the log run out.
		db, err := store.Open(context.Background(), store.SQLiteURL(filepath.Join(data, "rathaus.db")), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var busy, frames, done int
		if err := db.Write().QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil || busy != 0 {
			t.Fatalf("wal_checkpoint(TRUNCATE) = busy %d, %v", busy, err)
		}
		db.Close()
	}
	ballast := filepath.Join(data, "ballast")
	t.Logf("before filling: %s", diskUsage(data))
	size := fill(t, ballast)
	fullAt := time.Now()

	// Submit from 4 clients at once, one in four through the form, until
	// the full disk has refused enough submissions; then hold it full for
	// a while (the background jobs fail meanwhile), at a citizen's pace.
	wantRefused, hold, maxFull := pick(20, 300), pick(3*time.Second, 60*time.Second), pick(40*time.Second, 5*time.Minute)
	var wg sync.WaitGroup
	var next int
	refusedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(refused) }
	for range 4 {
		wg.Go(func() {
			for p.alive() {
				el := time.Since(fullAt)
				if el > maxFull || (el > hold && refusedCount() >= wantRefused) {
					return
				}
				if refusedCount() >= wantRefused {
					time.Sleep(100 * time.Millisecond)
				}
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				submit("full", i, keyOf("full", i, i%4 == 3), i%4 == 3)
			}
		})
	}
	wg.Wait()
	fullFor := time.Since(fullAt)
	if !p.alive() {
		t.Fatalf("Rathaus exited with the disk full: %v\n%s", p.err, tail(p.out.String(), 4000))
	}
	nFull, ackedFull, refusedFull := next, len(acked)-before, len(refused)

	// Space again: no restart, submissions work, and the refused ones go
	// through when their clients try again with the same key (the form
	// keeps its key in a hidden field).
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	freedAt := time.Now()
	t.Logf("freed: %s", diskUsage(data))
	after := pick(20, 100)
	afterOK := 0
	for i := range after {
		form := i%4 == 3
		key := keyOf("after", i, form)
		// The first ones may still meet a batch that failed on the full
		// disk a moment ago: a client tries again (same key) for 10 s.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			o := submit("after", i, key, form)
			if o.rec.Reference != "" {
				afterOK++
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("after the space was freed: %s", o.summary)
				break
			}
		}
	}
	mu.Lock()
	retry := maps.Clone(refused)
	mu.Unlock()
	retried, replayed := 0, 0
	for key, r := range retry {
		// A replay (API: 200 instead of 201) means the refused
		// submission had been stored after all.
		o := submit("retry", r.resident, key, r.form)
		switch {
		case o.rec.Reference == "":
			t.Errorf("retry of refused %s after the space was freed: %s", key, o.summary)
		case o.status == 200 && !r.form:
			replayed++
		default:
			retried++
		}
	}

	// Every acknowledged application reaches its decision.
	decidedAt := time.Now()
	undecided := 0
	s := &server{base: p.base}
	deadline := time.Now().Add(pick(60*time.Second, 10*time.Minute))
	for key, rec := range acked {
		for {
			var a appView
			r := s.do(t, "GET", "/api/v1/parking/applications/"+rec.Reference, nil, map[string]string{"X-Access-Code": rec.AccessCode})
			if r.status == 200 {
				r.json(t, &a)
			}
			if a.Status == "approved" && a.Kassenzeichen != "" {
				break
			}
			if time.Now().After(deadline) {
				undecided++
				t.Errorf("%s (%s): %d %q, want approved", rec.Reference, key, r.status, a.Status)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	decideTook := time.Since(decidedAt)
	t.Logf("after the decisions: %s", diskUsage(data))
	if undecided > 0 {
		t.Logf("Rathaus log:\n%s", tail(p.out.String(), 6000))
	}

	// An orderly stop, then the database as the next start would find it.
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("rathaus demo stopped with %v:\n%s", p.err, tail(p.out.String(), 4000))
		}
	case <-time.After(40 * time.Second):
		t.Errorf("rathaus demo did not stop within 40 s of SIGINT")
	}
	ctx := context.Background()
	dbs, _ := filepath.Glob(filepath.Join(data, "*.db"))
	nodeDBs, _ := filepath.Glob(filepath.Join(data, "amtsnetz", "*.db"))
	for _, f := range append(dbs, nodeDBs...) {
		db, err := store.Open(ctx, store.SQLiteURL(f), store.Options{})
		if err != nil {
			t.Errorf("open %s: %v", f, err)
			continue
		}
		var res string
		if err := db.Read().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Errorf("PRAGMA integrity_check of %s = %q, %v; want ok", filepath.Base(f), res, err)
		}
		db.Close()
	}
	db, err := store.Open(ctx, store.SQLiteURL(filepath.Join(data, "rathaus.db")), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckCurrent(ctx, schema.Sets()...); err != nil {
		t.Error(err)
	}
	lg := tally(t, db, "%", acked)
	if undecided > 0 {
		t.Logf("check jobs: %s", jobStates(t, db, "parking.check"))
	}
	// Form submissions carry random keys: count them by reference.
	found, lost := 0, 0
	for key, rec := range acked {
		var n int
		if err := db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications WHERE reference = $1", rec.Reference).Scan(&n); err != nil {
			t.Fatal(err)
		}
		var k int
		db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications WHERE idempotency_key = $1", key).Scan(&k)
		switch {
		case n == 1 && k == 1:
			found++
		case n == 0:
			lost++
			t.Errorf("acknowledged %s (%s) is not stored", rec.Reference, key)
		default:
			lg.duplicated++
			t.Errorf("acknowledged %s (%s): %d rows with its reference, %d with its key", rec.Reference, key, n, k)
		}
	}
	var stored int
	db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications").Scan(&stored)

	t.Logf("tmpfs %d MiB, ballast %.1f MiB; full for %v: %d submissions, %d acknowledged, %d refused cleanly", tmpfsMiB, float64(size)/(1<<20),
		fullFor.Round(time.Millisecond), nFull, ackedFull, refusedFull)
	t.Logf("answers: %s", countText(statuses))
	t.Logf("after freeing: %d of %d new submissions acknowledged; %d refused ones went through on retry (%d of them replays: stored though refused); all decided %v later (%d undecided)",
		afterOK, after, retried+replayed, replayed, decideTook.Round(time.Millisecond), undecided)
	t.Logf("database: %d stored, %d acknowledged: %d found once, %d lost, %d duplicated (decisions, mails, jobs included); integrity_check ok for %d files; freed %v before the end",
		stored, len(acked), found, lost, lg.duplicated, len(dbs)+len(nodeDBs), time.Since(freedAt).Round(time.Millisecond))
	for _, pr := range problems {
		t.Errorf("answer: %s", pr)
	}
	for _, note := range lg.notes {
		t.Error(note)
	}
	if refusedFull == 0 {
		t.Errorf("the full disk refused no submission in %v (%d acknowledged): the test did not reach the disk-full path", fullFor, ackedFull)
	}
	if stored != len(acked) {
		t.Errorf("%d applications stored, %d acknowledged; want the same (none lost, none stored without an answer that was not retried)", stored, len(acked))
	}
}

func countText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s×%d, ", k, m[k])
	}
	return strings.TrimSuffix(b.String(), ", ")
}
