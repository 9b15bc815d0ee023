package audit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// BenchmarkVerify: how fast `rathaus audit verify` checks a log of
// RATHAUS_BENCH_AUDIT_ENTRIES entries (default 1,000,000) with a signed
// checkpoint every 10,000. Target (issue #4): 1,000,000 entries in < 60 s.
//
//	go test -run='^$' -bench='^BenchmarkVerify$' -benchtime=1x ./internal/audit/
//	scripts/with-postgres.sh go test -run='^$' -bench='^BenchmarkVerify$' -benchtime=1x ./internal/audit/
func BenchmarkVerify(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("RATHAUS_BENCH_AUDIT_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			db := storetest.Open(b, e, Migrations)
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			bulkFill(b, db, key, n, 10_000)
			b.Logf("%d entries written in %s", n, time.Since(start).Round(time.Second))
			b.ResetTimer()
			for range b.N {
				r, err := Verify(context.Background(), db.Read(), &key.PublicKey)
				if err != nil || r.Broken != nil || r.Entries != int64(n) {
					b.Fatalf("Verify = %s, %v", r, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e6/float64(n), "s/1M-entries")
		})
	}
}

// bulkFill writes n chained entries, 2,000 per transaction (Append's one
// transaction per entry would take longer than the benchmark), and a
// signed checkpoint every cp entries.
func bulkFill(b *testing.B, db *store.DB, key *ecdsa.PrivateKey, n, cp int) {
	ctx := context.Background()
	const rows = 2000
	prev := zeroHash
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	for first := 1; first <= n; first += rows {
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			var cps []Entry
			var e Entry
			for seq := first; seq < first+rows && seq <= n; seq++ {
				e = Entry{Seq: int64(seq), At: at.Add(time.Duration(seq) * time.Second), Actor: fmt.Sprintf("clerk:key_%012d", seq%97),
					Action: "parking.view_case", Object: fmt.Sprintf("parking_application:app_%020d", seq), Municipality: "110000000000",
					Origin: "10.0.0.7", Reason: "Sachbearbeitung Bewohnerparken", PrevHash: prev}
				e.Hash = hashEntry(e)
				prev = e.Hash
				if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor, action, object, municipality, origin, reason, prev_hash, hash)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
					e.Seq, e.At, e.Actor, e.Action, e.Object, e.Municipality, e.Origin, e.Reason, e.PrevHash, e.Hash); err != nil {
					return err
				}
				if seq%cp == 0 || seq == n {
					cps = append(cps, e)
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, e.Seq, e.Hash); err != nil {
				return err
			}
			for _, e := range cps {
				cat := e.At.Add(time.Millisecond)
				sig, err := ecdsa.SignASN1(rand.Reader, key, checkpointDigest(e.Seq, e.Hash, cat))
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5)`,
					e.Seq, e.Hash, cat, KeyID(&key.PublicKey), encodeSig(sig)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
