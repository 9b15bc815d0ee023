package audit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fill appends n entries, one transaction each, and signs checkpoints
// after the entries named in at.
func fill(t testing.TB, db *store.DB, key *ecdsa.PrivateKey, n int, at ...int) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			_, err := audit.Append(ctx, tx, db.Engine, audit.Entry{Actor: fmt.Sprintf("clerk:key_%03d", i%7), Action: "view_case",
				Object: fmt.Sprintf("parking_application:app_%06d", i), Municipality: "110000000000", Origin: "127.0.0.1", Reason: "Prüfung"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range at {
			if c == i {
				if seq, err := audit.Checkpoint(ctx, db, key); err != nil || seq != int64(i) {
					t.Fatalf("Checkpoint after %d = %d, %v", i, seq, err)
				}
			}
		}
	}
}

func verify(t *testing.T, db *store.DB, pub *ecdsa.PublicKey) audit.Report {
	t.Helper()
	r, err := audit.Verify(context.Background(), db.Read(), pub)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIntactLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		key := newKey(t)
		if r := verify(t, db, &key.PublicKey); r.Broken != nil || r.Entries != 0 {
			t.Fatalf("empty log: %s", r)
		}
		if seq, err := audit.Checkpoint(context.Background(), db, key); err != nil || seq != 0 {
			t.Errorf("Checkpoint of an empty log = %d, %v; want nothing signed", seq, err)
		}
		fill(t, db, key, 30, 10, 25)
		if seq, err := audit.Checkpoint(context.Background(), db, key); err != nil || seq != 30 {
			t.Fatalf("Checkpoint = %d, %v", seq, err)
		}
		if seq, err := audit.Checkpoint(context.Background(), db, key); err != nil || seq != 0 {
			t.Errorf("second Checkpoint of the same head = %d, %v; want nothing new", seq, err)
		}
		r := verify(t, db, &key.PublicKey)
		if r.Broken != nil || r.Entries != 30 || r.LastSeq != 30 || r.Checkpoints != 3 || r.SignedUpTo != 30 {
			t.Fatalf("intact log: %+v", r)
		}
		if !strings.Contains(r.String(), "intakt: 30 Einträge, 3 Prüfpunkte; signiert bis zum letzten Eintrag") {
			t.Errorf("report = %q", r)
		}
		// Without a key the chain is still checked, and the report says
		// that the signatures were not.
		if r := verify(t, db, nil); r.Broken != nil || !strings.Contains(r.String(), "NICHT geprüft") {
			t.Errorf("report without key = %q", r)
		}
		// Entries read back as written.
		es, err := audit.Entries(context.Background(), db.Read(), 7, 2)
		if err != nil || len(es) != 2 || es[0].Seq != 7 || es[0].Object != "parking_application:app_000007" || es[1].PrevHash != es[0].Hash {
			t.Errorf("Entries(7, 2) = %+v, %v", es, err)
		}
	}, audit.Migrations)
}

// Every way of tampering with the stored log is found, at the first entry
// it concerns.
func TestTamperingIsDetected(t *testing.T) {
	type tamper struct {
		name    string
		sql     []string // run against a log of 40 entries, checkpoints after 10, 20 and 40
		wantSeq int64
		want    string // part of the problem
		rewrite bool   // recompute the chain after sql, as an attacker without the key would
	}
	for _, tt := range []tamper{
		{name: "altered field", sql: []string{`UPDATE audit_log SET actor = 'clerk:someone_else' WHERE seq = 15`}, wantSeq: 15, want: "verändert"},
		{name: "altered time", sql: []string{`UPDATE audit_log SET at = $1 WHERE seq = 3`}, wantSeq: 3, want: "verändert"},
		{name: "deleted entry", sql: []string{`DELETE FROM audit_log WHERE seq = 12`}, wantSeq: 12, want: "fehlt"},
		{name: "reordered entries", sql: []string{
			`UPDATE audit_log SET seq = -1 WHERE seq = 21`,
			`UPDATE audit_log SET seq = 21 WHERE seq = 22`,
			`UPDATE audit_log SET seq = 22 WHERE seq = -1`,
		}, wantSeq: 21, want: "verweist nicht"},
		{name: "cut-off tail", sql: []string{
			`DELETE FROM audit_log WHERE seq > 35`,
			`UPDATE audit_head SET seq = 35, hash = (SELECT hash FROM audit_log WHERE seq = 35)`,
		}, wantSeq: 40, want: "abgeschnitten"},
		{name: "cut-off tail, checkpoint removed too", sql: []string{
			`DELETE FROM audit_log WHERE seq > 35`,
			`DELETE FROM audit_checkpoints WHERE seq = 40`,
		}, wantSeq: 36, want: "Kopf"},
		{name: "deleted entry, chain recomputed", sql: []string{
			`DELETE FROM audit_log WHERE seq = 12`,
		}, rewrite: true, wantSeq: 20, want: "neu berechnet"},
		{name: "forged checkpoint", sql: []string{
			`UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit_log WHERE seq = 19) WHERE seq = 20`,
		}, wantSeq: 20, want: "Signatur"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				key := newKey(t)
				fill(t, db, key, 40, 10, 20, 40)
				for _, q := range tt.sql {
					var args []any
					if strings.Contains(q, "$1") {
						args = append(args, time.Now().UTC().Add(-time.Hour))
					}
					storetest.Exec(t, db, q, args...)
				}
				if tt.rewrite {
					rewriteChain(t, db)
					// The chain alone no longer shows it; the signed checkpoint does.
					if r := verify(t, db, nil); r.Broken == nil || r.Broken.Seq != 20 {
						t.Logf("without the key: %s", r)
					}
				}
				r := verify(t, db, &key.PublicKey)
				if r.Broken == nil || r.Broken.Seq != tt.wantSeq || !strings.Contains(r.Broken.Problem, tt.want) {
					t.Fatalf("Verify = %s; want a break at %d saying %q", r, tt.wantSeq, tt.want)
				}
				if !strings.Contains(r.String(), fmt.Sprintf("BESCHÄDIGT bei Eintrag %d", tt.wantSeq)) {
					t.Errorf("report = %q", r)
				}
			}, audit.Migrations)
		})
	}
	// A checkpoint of another key is not the installation's.
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		key, other := newKey(t), newKey(t)
		fill(t, db, other, 5, 5)
		if r := verify(t, db, &key.PublicKey); r.Broken == nil || !strings.Contains(r.Broken.Problem, "nicht mit diesem Schlüssel") {
			t.Errorf("checkpoint of another key: %s", r)
		}
	}, audit.Migrations)
}

// rewriteChain renumbers the entries 1, 2, 3, … and recomputes every
// hash and the head, as someone with database access but without the
// audit key would after deleting an entry.
func rewriteChain(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	es, err := audit.Entries(ctx, db.Read(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Exec(t, db, `DELETE FROM audit_log`)
	storetest.Exec(t, db, `UPDATE audit_head SET seq = 0, hash = $1`, strings.Repeat("0", 64))
	for _, e := range es {
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			_, err := audit.Append(ctx, tx, db.Engine, audit.Entry{At: e.At, Actor: e.Actor, Action: e.Action, Object: e.Object,
				Municipality: e.Municipality, Origin: e.Origin, Reason: e.Reason})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Concurrent appends get consecutive numbers and one chain.
func TestConcurrentAppends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 10 {
					err := db.Transact(ctx, func(tx *sql.Tx) error {
						_, err := audit.Append(ctx, tx, db.Engine, audit.Entry{Actor: fmt.Sprintf("clerk:%d", g), Action: "view_queue", Reason: fmt.Sprint(i)})
						return err
					})
					if err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if r := verify(t, db, nil); r.Broken != nil || r.Entries != 80 {
			t.Errorf("after concurrent appends: %s", r)
		}
	}, audit.Migrations)
}

// An entry rolled back with its transaction leaves no trace, and the next
// one takes its number.
func TestAppendRollsBackWithItsTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fill(t, db, newKey(t), 3)
		err := db.Transact(ctx, func(tx *sql.Tx) error {
			if _, err := audit.Append(ctx, tx, db.Engine, audit.Entry{Actor: "clerk:x", Action: "decide"}); err != nil {
				return err
			}
			return fmt.Errorf("the decision failed")
		})
		if err == nil {
			t.Fatal("want the transaction's error")
		}
		fill(t, db, newKey(t), 1)
		if r := verify(t, db, nil); r.Broken != nil || r.LastSeq != 4 {
			t.Errorf("after a rolled-back append: %s", r)
		}
		err = db.Transact(ctx, func(tx *sql.Tx) error {
			_, err := audit.Append(ctx, tx, db.Engine, audit.Entry{Action: "decide"})
			return err
		})
		if err == nil {
			t.Error("an entry without actor was appended")
		}
	}, audit.Migrations)
}
