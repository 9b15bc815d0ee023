package msglog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/merkle"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// BenchmarkVerify1M: rathaus log verify over 1,000,000 records (each
// record's leaf recomputed, the tree rebuilt, the signed head checked),
// and one inclusion proof in that tree: its size and the time to make and
// to check it. Run with -benchtime=1x.
func BenchmarkVerify1M(b *testing.B) {
	const total = 1_000_000
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, e, Migrations)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			l, err := Open(ctx, db, key, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			start := time.Now()
			for done := 0; done < total; done += 10_000 {
				items := make([]*pending, 10_000)
				for i := range items {
					n := done + i
					items[i] = &pending{r: Record{At: time.Unix(1_790_000_000+int64(n), 0).UTC(), Direction: Out, MessageID: fmt.Sprintf("msg-%012d", n),
						Client: "KOMMUNE:110000000000:parken", Service: "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen",
						Purpose: "Bewohnerparkausweis: Prüfung (§ 34 BMG)", Reference: fmt.Sprintf("BP-2026-%08d", n%100_000_000),
						Signature: "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZwIn0..c2lnbmF0dXJl", BodySHA256: "00"}}
				}
				if err := db.Transact(ctx, func(tx *sql.Tx) error { return l.write(ctx, tx, [][]*pending{items}) }); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := l.SignHead(ctx); err != nil {
				b.Fatal(err)
			}
			b.Logf("%d records written in %s", total, time.Since(start).Round(time.Second))
			b.ResetTimer()
			for range b.N {
				rep, err := Verify(ctx, db, key.Public())
				if err != nil || rep.Records != total {
					b.Fatalf("Verify: %+v %v", rep, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			t0 := time.Now()
			proof, err := l.InclusionProof(total/3, total)
			made := time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			root, _ := l.tree.Root(total)
			t1 := time.Now()
			if err := merkle.VerifyInclusion(l.tree.Leaf(total/3-1), total/3-1, total, proof, root); err != nil {
				b.Fatal(err)
			}
			b.Logf("inclusion proof in 1,000,000: %d hashes (%d bytes), made in %s, checked in %s", len(proof), 32*len(proof), made, time.Since(t1))
		})
	}
}
