package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
)

// TestKillDuringConcurrentSubmissions is crash test 1 of issue #6: many
// citizens submit at once (200; 1,000 with RATHAUS_OUTAGE_LONG=1), each
// client retrying with the same Idempotency-Key until it gets an answer;
// the server is killed with SIGKILL while they do and started again.
// Afterwards every submission exists exactly once, every client holds the
// receipt of that one application, and each reaches its decision.
func TestKillDuringConcurrentSubmissions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	n := pick(200, 1000)
	addr := freePort(t)
	base := "http://" + addr
	data := filepath.Join(t.TempDir(), "data")
	start := func() *proc {
		return startProc(t, []string{"demo", "--listen", addr, "--data", data, "--log-level", "warn", "--job-rescue-after", "4s"}, nil, addr)
	}
	server1 := start()
	var eligible []demoResident
	for _, r := range residents(t, &server{base: base}) {
		if r.Expect == "berechtigt" && len(r.Plates) > 0 {
			eligible = append(eligible, r)
		}
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	type result struct {
		receipt
		status   int // of the answer that ended the retries: 201 first time, 200 a repeat
		attempts int
	}
	results := make([]result, n)
	var acked atomic.Int64
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			body := applicationBody(eligible[i%len(eligible)])
			key := fmt.Sprintf("kill-retry-%04d", i)
			for attempt := 1; ; attempt++ {
				req, _ := http.NewRequest("POST", base+"/api/v1/municipalities/110000000000/parking/applications", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", key)
				res, err := client.Do(req)
				if err == nil {
					var rec struct {
						Reference  string `json:"reference"`
						AccessCode string `json:"access_code"`
					}
					json.NewDecoder(res.Body).Decode(&rec)
					res.Body.Close()
					if res.StatusCode == 201 || res.StatusCode == 200 {
						results[i] = result{receipt{Reference: rec.Reference, AccessCode: rec.AccessCode}, res.StatusCode, attempt}
						acked.Add(1)
						return
					}
					if res.StatusCode != http.StatusServiceUnavailable && res.StatusCode != http.StatusTooManyRequests {
						t.Errorf("submission %d: %d — neither an answer nor a reason to retry", i, res.StatusCode)
						return
					}
				}
				if attempt > 600 {
					t.Errorf("submission %d: no answer after %d attempts (%v)", i, attempt, err)
					return
				}
				time.Sleep(time.Duration(50+i%100) * time.Millisecond)
			}
		})
	}
	close(gate)
	// Kill while they are coming in: after a quarter is acknowledged.
	for acked.Load() < int64(n/4) {
		time.Sleep(5 * time.Millisecond)
	}
	server1.cmd.Process.Kill()
	<-server1.exited
	killedAt := acked.Load()
	start()
	wg.Wait()

	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLiteURL(filepath.Join(data, "rathaus.db")), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored, distinct int
	db.Read().QueryRowContext(ctx, "SELECT count(*), count(DISTINCT reference) FROM parking_applications").Scan(&stored, &distinct)
	refs := map[string]bool{}
	var first, repeats, retried int
	for i, r := range results {
		if r.Reference == "" {
			continue // reported above
		}
		if refs[r.Reference] {
			t.Errorf("two clients hold receipt %s", r.Reference)
		}
		refs[r.Reference] = true
		var found int
		db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications WHERE reference = $1", r.Reference).Scan(&found)
		if found != 1 {
			t.Errorf("submission %d: receipt %s, %d applications with it", i, r.Reference, found)
		}
		switch {
		case r.status == 201:
			first++
		default:
			repeats++
		}
		if r.attempts > 1 {
			retried++
		}
	}
	if stored != n || distinct != n || len(refs) != n {
		t.Errorf("%d submissions: %d applications stored (%d distinct), %d receipts — want exactly one each", n, stored, distinct, len(refs))
	}
	// Each reaches its decision.
	var undecided int
	for deadline := time.Now().Add(180 * time.Second); ; {
		db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications WHERE status IN ('received', 'checking')").Scan(&undecided)
		if undecided == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if undecided > 0 {
		t.Errorf("%d applications still undecided 3 minutes after the restart", undecided)
	}
	t.Logf("%d concurrent submissions, killed after %d acknowledgements: %d acknowledged (%d with 201, %d with 200 for a repeat of an earlier one), %d needed more than one attempt; stored %d, duplicated %d, lost %d; undecided at the end %d",
		n, killedAt, len(refs), first, repeats, retried, stored, stored-distinct, n-stored, undecided)
}
