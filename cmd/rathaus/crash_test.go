package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"opencode.de/rathaus/rathaus/internal/schema"
	"opencode.de/rathaus/rathaus/internal/store"
)

// TestKillDuringChecksLosesNothing: applications acknowledged just before
// the process is killed with SIGKILL (no shutdown, no flush) all reach their
// decision after a restart, exactly once each.
func TestKillDuringChecksLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	addr := freePort(t)
	base := "http://" + addr
	data := filepath.Join(t.TempDir(), "data")
	// Jobs left "running" by the killed process are taken over after 4 s
	// (production default: 15 min).
	start := func() *proc {
		return startProc(t, []string{"demo", "--listen", addr, "--data", data, "--log-level", "warn", "--job-rescue-after", "4s"}, nil, addr)
	}
	first := start()
	s := &server{base: base}
	var eligible []demoResident
	for _, r := range residents(t, s) {
		if r.Expect == "berechtigt" && len(r.Plates) > 0 {
			eligible = append(eligible, r)
		}
	}
	const n = 60
	var mu sync.Mutex
	var receipts []receipt
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				body := applicationBody(eligible[i%len(eligible)])
				req, _ := http.NewRequest("POST", base+"/api/v1/municipalities/110000000000/parking/applications", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("crash-%d", i))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("submit %d: %v", i, err)
					continue
				}
				var rec struct {
					Reference  string `json:"reference"`
					AccessCode string `json:"access_code"`
				}
				json.NewDecoder(res.Body).Decode(&rec)
				res.Body.Close()
				if res.StatusCode != 201 {
					t.Errorf("submit %d: %d", i, res.StatusCode)
					continue
				}
				mu.Lock()
				receipts = append(receipts, receipt{Reference: rec.Reference, AccessCode: rec.AccessCode})
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	// SIGKILL right after the last acknowledgement.
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.exited

	// What the killed process left: some applications still undecided.
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLiteURL(filepath.Join(data, "rathaus.db")), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var undecided, stored int
	db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications WHERE status IN ('received', 'checking')").Scan(&undecided)
	db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications").Scan(&stored)
	db.Close()
	t.Logf("killed with %d of %d acknowledged applications undecided", undecided, len(receipts))
	if stored != len(receipts) {
		t.Fatalf("after the kill %d applications are stored, %d were acknowledged", stored, len(receipts))
	}

	start()
	for _, rec := range receipts {
		a := s.waitStatus(t, rec, "approved")
		if a.Status != "approved" {
			t.Errorf("%s: %s", rec.Reference, a.Status)
		}
	}
	// Exactly once: a retried submit after the restart finds its application.
	r, again := s.submit(t, applicationBody(eligible[0]), "crash-0")
	if r.status != 200 || again.Reference != receipts[indexOfKey(receipts, again.Reference)].Reference {
		t.Errorf("retry after restart: %d %+v", r.status, again)
	}
	db, err = store.Open(ctx, store.SQLiteURL(filepath.Join(data, "rathaus.db")), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckCurrent(ctx, schema.Sets()...); err != nil {
		t.Error(err)
	}
	db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications").Scan(&stored)
	if stored != n {
		t.Errorf("%d applications stored, want %d (no duplicates, none lost)", stored, n)
	}
}

func indexOfKey(rs []receipt, ref string) int {
	for i, r := range rs {
		if r.Reference == ref {
			return i
		}
	}
	return 0
}
