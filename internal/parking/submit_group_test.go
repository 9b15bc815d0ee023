package parking_test

import (
	"fmt"
	"sync"
	"testing"

	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// Concurrent submissions share commits (group commit) but keep their own
// outcomes: each new application is stored once, retries with the same
// Idempotency-Key get the same application, a key reused for another
// application is refused — and a refused one takes none of the others in
// its batch down with it.
func TestConcurrentSubmissionsKeepTheirOwnOutcome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := newFixture(t, db)
		rs := f.eligibleResidents()
		if len(rs) > 20 {
			rs = rs[:20]
		}
		type result struct {
			key string
			rec parking.Receipt
			err error
		}
		var (
			mu      sync.Mutex
			results []result
			wg      sync.WaitGroup
		)
		submit := func(form parking.Form, key string) {
			defer wg.Done()
			rec, err := f.svc.Submit(f.ctx, demo.Berlin.ARS, form, key)
			mu.Lock()
			results = append(results, result{key, rec, err})
			mu.Unlock()
		}
		for round := 0; round < 3; round++ {
			for i, r := range rs {
				wg.Add(1)
				form := f.form(r)
				key := fmt.Sprintf("key-%d", i)
				if round == 2 && i%2 == 1 {
					// The key of resident i-1 with resident i's application.
					key = fmt.Sprintf("key-%d", i-1)
				}
				go submit(form, key)
			}
			if round == 0 {
				wg.Wait() // every key names its application before the retries and the misuse
			}
		}
		wg.Wait()

		refs := map[string]string{} // key → reference
		var conflicts int
		for _, res := range results {
			if errs.Is(res.err, errs.Conflict) {
				conflicts++
				continue
			}
			if res.err != nil {
				t.Fatalf("submit %s: %v", res.key, res.err)
			}
			if prev, ok := refs[res.key]; ok && prev != res.rec.Reference {
				t.Errorf("key %s answered with %s and %s", res.key, prev, res.rec.Reference)
			}
			refs[res.key] = res.rec.Reference
		}
		// Round 2 reuses the keys of the even residents for the odd ones'
		// applications: refused.
		if want := len(rs) / 2; conflicts != want {
			t.Errorf("%d submissions refused as Conflict, want %d", conflicts, want)
		}
		var n int
		if err := db.Read().QueryRow(`SELECT count(*) FROM parking_applications`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(refs) {
			t.Errorf("%d applications stored, %d distinct keys answered", n, len(refs))
		}
		st := f.svc.SubmitStats()
		t.Logf("%d submissions in %d commits", st.Items, st.Batches)
		if n != len(rs) {
			t.Errorf("%d applications stored, want %d (one per resident)", n, len(rs))
		}
	}, sets...)
}
