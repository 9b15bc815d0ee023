package msglog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/merkle"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/vault"
)

func record(i int) Record {
	return Record{Direction: Out, MessageID: fmt.Sprintf("msg-%08d", i), Client: "KOMMUNE:110000000000:parken",
		Service: "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen", Purpose: "Bewohnerparken, § 34 BMG",
		Reference: fmt.Sprintf("BP-2026-%08d", i), Signature: "eyJhbGciOiJFUzI1NiJ9..sig"}
}

// fill appends n records and signs a head after every fourth.
func fill(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if _, err := l.Append(context.Background(), record(i), []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			if _, err := l.SignHead(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// openLog opens a log on db without a vault, signing with a new key; the
// test's cleanup closes it.
func openLog(t *testing.T, db *store.DB) (*Log, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l, err := Open(context.Background(), db, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l, key
}

func problem(t *testing.T, err error) *Problem {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("want a *Problem, got %v", err)
	}
	return p
}

// The log verifies, proves a record under the latest head, survives a
// restart and the end of retention; and each kind of tampering is named
// with the first record or head concerned.
func TestLogVerifiesAndDetectsTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		keys, _ := vault.Parse(vault.NewKey())
		l, err := Open(ctx, db, key, keys)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, l, 12)
		rep, err := Verify(ctx, db, key.Public())
		if err != nil || rep.Records != 12 || rep.Heads != 3 || rep.SignedUpTo != 12 {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
		r, proof, head, err := Prove(ctx, db, key.Public(), 5)
		if err != nil || r.MessageID != "msg-00000005" || head.Size != 12 || len(proof) == 0 {
			t.Fatalf("Prove(5) = %+v %d %v", r, len(proof), err)
		}
		if err := merkle.VerifyInclusion(r.Leaf(), 4, 12, proof, head.Root); err != nil {
			t.Errorf("the proof does not verify on its own: %v", err)
		}
		// Consistency of the first head with the latest.
		heads, _ := Heads(ctx, db)
		cp, _ := l.ConsistencyProof(heads[0].Size, heads[2].Size)
		if err := merkle.VerifyConsistency(int(heads[0].Size), int(heads[2].Size), heads[0].Root, heads[2].Root, cp); err != nil {
			t.Errorf("consistency 4→12: %v", err)
		}
		if b, err := l.Body(ctx, 3); err != nil || string(b) != `{"n":3}` {
			t.Errorf("body of 3: %q %v", b, err)
		}
		var raw []byte
		db.Read().QueryRow(`SELECT body FROM amtsnetz_log WHERE seq = 3`).Scan(&raw)
		if strings.Contains(string(raw), `"n":3`) {
			t.Error("body stored in the clear")
		}
		// A restart continues the same tree.
		l2, err := Open(ctx, db, key, keys)
		if err != nil || l2.Size() != 12 {
			t.Fatalf("reopen: %d %v", l2.Size(), err)
		}
		// Retention: the first six forgotten, the log still verifies.
		if n, err := Forget(ctx, db, heads[1].At.Add(-time.Nanosecond), time.Now()); err != nil || n == 0 {
			t.Fatalf("Forget = %d, %v", n, err)
		}
		if rep, err := Verify(ctx, db, key.Public()); err != nil || rep.Forgotten == 0 {
			t.Fatalf("after retention: %+v, %v", rep, err)
		}

		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Write().Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		}
		// 1. A changed record.
		exec(`UPDATE amtsnetz_log SET purpose = 'Neugier' WHERE seq = 10`)
		if p := problem(t, func() error { _, err := Verify(ctx, db, key.Public()); return err }()); p.Seq != 10 {
			t.Errorf("changed record: %+v", p)
		}
		// 2. Changed and its leaf hash recomputed: the heads catch it.
		var rec Record
		rows, _ := db.Read().Query(`SELECT ` + recordColumns + `, leaf_hash FROM amtsnetz_log WHERE seq = 10`)
		for rows.Next() {
			rec, _, _ = scanRecord(rows)
		}
		rows.Close()
		leaf := rec.Leaf()
		exec(`UPDATE amtsnetz_log SET leaf_hash = $1 WHERE seq = 10`, fmt.Sprintf("%x", leaf[:]))
		if p := problem(t, func() error { _, err := Verify(ctx, db, key.Public()); return err }()); p.Head != 12 {
			t.Errorf("recomputed leaf: %+v", p)
		}
		// 3. Reordered: two records swap places (content and leaf).
		db2 := storetest.Open(t, db.Engine, Migrations)
		l3, _ := Open(ctx, db2, key, nil)
		fill(t, l3, 8)
		exec2 := func(q string) {
			if _, err := db2.Write().Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		exec2(`UPDATE amtsnetz_log SET seq = 100 WHERE seq = 2`)
		exec2(`UPDATE amtsnetz_log SET seq = 2 WHERE seq = 3`)
		exec2(`UPDATE amtsnetz_log SET seq = 3 WHERE seq = 100`)
		if p := problem(t, func() error { _, err := Verify(ctx, db2, key.Public()); return err }()); p.Head != 4 {
			t.Errorf("reordered: %+v", p)
		}
		// 4. Deleted in the middle, 5. cut off at the end.
		db3 := storetest.Open(t, db.Engine, Migrations)
		l4, _ := Open(ctx, db3, key, nil)
		fill(t, l4, 8)
		db3.Write().Exec(`DELETE FROM amtsnetz_log WHERE seq = 8`)
		if p := problem(t, func() error { _, err := Verify(ctx, db3, key.Public()); return err }()); p.Seq != 8 || p.Head != 8 {
			t.Errorf("cut off: %+v", p)
		}
		db3.Write().Exec(`DELETE FROM amtsnetz_log WHERE seq = 5`)
		if p := problem(t, func() error { _, err := Verify(ctx, db3, key.Public()); return err }()); p.Seq != 5 {
			t.Errorf("deleted: %+v", p)
		}
		// 6. A head signed with another key.
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if p := problem(t, func() error { _, err := Verify(ctx, db2, other.Public()); return err }()); p.Head != 4 {
			t.Errorf("other key: %+v", p)
		}
	}, Migrations)
}

// AppendAll writes its records as consecutive ones in one transaction, or
// none of them; concurrent exchanges do not interleave with each other.
func TestAppendAllKeepsAnExchangeTogether(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, key := openLog(t, db)
		bad := record(0)
		bad.Direction = "sideways"
		if _, err := l.AppendAll(ctx, Entry{Record: record(0)}, Entry{Record: bad}); err == nil || l.Size() != 0 {
			t.Fatalf("a bad second record: %v, size %d — want an error and nothing written", err, l.Size())
		}
		const n = 40
		errc := make(chan error, n)
		for i := range n {
			go func() {
				req := record(i)
				resp := record(i)
				resp.Direction, resp.MessageID, resp.ReplyTo, resp.Status = In, req.MessageID+"-antwort", req.MessageID, 200
				rs, err := l.AppendAll(ctx, Entry{Record: req, Body: []byte(`{}`)}, Entry{Record: resp, Body: []byte(`{"ok":true}`)})
				if err == nil && (len(rs) != 2 || rs[1].Seq != rs[0].Seq+1) {
					err = fmt.Errorf("exchange %d got records %+v", i, rs)
				}
				errc <- err
			}()
		}
		for range n {
			if err := <-errc; err != nil {
				t.Error(err)
			}
		}
		if _, err := l.SignHead(ctx); err != nil {
			t.Fatal(err)
		}
		if rep, err := Verify(ctx, db, &key.PublicKey); err != nil || rep.Records != 2*n {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		for i := range n {
			rs, err := ByReference(ctx, db, record(i).Reference, 10)
			if err != nil || len(rs) != 2 || rs[1].Seq != rs[0].Seq+1 || rs[1].ReplyTo != rs[0].MessageID {
				t.Errorf("exchange %d in the log: %+v %v", i, rs, err)
			}
		}
	}, Migrations)
}

// ReceivedSince lists the requests received in the window, newest records
// first, and stops reading before it.
func TestReceivedSince(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, _ := openLog(t, db)
		clock := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		l.now = func() time.Time { return clock }
		in := func(i int) Record { r := record(i); r.Direction = In; return r }
		l.Append(ctx, in(1), nil) // 10:00, outside the window
		clock = clock.Add(20 * time.Minute)
		l.Append(ctx, in(2), nil)     // 10:20
		l.Append(ctx, record(3), nil) // an answer sent: not a received request
		clock = clock.Add(time.Minute)
		l.Append(ctx, in(4), nil) // 10:21
		got, err := l.ReceivedSince(ctx, time.Date(2026, 11, 27, 10, 15, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{in(4).Client + "\x00" + in(4).MessageID, in(2).Client + "\x00" + in(2).MessageID}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ReceivedSince = %q, want %q", got, want)
		}
	}, Migrations)
}
