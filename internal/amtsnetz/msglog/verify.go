package msglog

import (
	"context"
	"crypto"
	"fmt"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/merkle"
	"opencode.de/rathaus/rathaus/internal/store"
)

// Report is what Verify found in an intact log.
type Report struct {
	Records    int64 // records in the log
	Forgotten  int64 // of them, past their retention (content cleared)
	Heads      int   // signed heads, all verified
	SignedUpTo int64 // the size of the latest head: records after it are not yet under a signature
	Latest     Head
}

// Problem is the first thing Verify found wrong.
type Problem struct {
	Seq  int64 // the record concerned, 0 for none
	Head int64 // the head concerned (its size), 0 for none
	What string
}

func (p *Problem) Error() string { return p.What }

// Verify checks a log: records numbered without gaps, every record's
// content against its leaf hash, every head's signature with the node's
// public key and its root against the records. It returns the first
// problem as a *Problem.
func Verify(ctx context.Context, db *store.DB, pub crypto.PublicKey) (Report, error) {
	var rep Report
	var tree merkle.Tree
	rows, err := db.Read().QueryContext(ctx, `SELECT `+recordColumns+`, leaf_hash FROM amtsnetz_log ORDER BY seq`)
	if err != nil {
		return rep, err
	}
	defer rows.Close()
	for rows.Next() {
		r, leafHex, err := scanRecord(rows)
		if err != nil {
			return rep, err
		}
		want := int64(tree.Size()) + 1
		if r.Seq != want {
			return rep, &Problem{Seq: want, What: fmt.Sprintf("Eintrag %d fehlt (nach %d folgt %d)", want, want-1, r.Seq)}
		}
		leaf, err := parseHash(leafHex)
		if err != nil {
			return rep, &Problem{Seq: r.Seq, What: fmt.Sprintf("Eintrag %d: Blatt-Hash unlesbar", r.Seq)}
		}
		if r.Forgotten {
			rep.Forgotten++
		} else if r.Leaf() != leaf {
			return rep, &Problem{Seq: r.Seq, What: fmt.Sprintf("Eintrag %d wurde verändert: sein Inhalt passt nicht zu seinem Blatt-Hash", r.Seq)}
		}
		tree.Append(leaf)
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}
	rep.Records = int64(tree.Size())
	heads, err := Heads(ctx, db)
	if err != nil {
		return rep, err
	}
	for i, h := range heads {
		if err := VerifyHead(pub, h); err != nil {
			return rep, &Problem{Head: h.Size, What: fmt.Sprintf("Baumkopf %d: %v", h.Size, err)}
		}
		if h.Size > rep.Records {
			return rep, &Problem{Head: h.Size, Seq: rep.Records + 1,
				What: fmt.Sprintf("Baumkopf %d zeigt über das Ende des Protokolls (%d Einträge): Einträge ab %d fehlen", h.Size, rep.Records, rep.Records+1)}
		}
		root, _ := tree.Root(int(h.Size))
		if root != h.Root {
			return rep, &Problem{Head: h.Size, What: fmt.Sprintf("Baumkopf %d passt nicht zu den Einträgen 1–%d: einer wurde verändert, gelöscht oder umgestellt", h.Size, h.Size)}
		}
		if i > 0 && h.At.Before(heads[i-1].At) {
			return rep, &Problem{Head: h.Size, What: fmt.Sprintf("Baumkopf %d ist älter als der kleinere Baumkopf %d", h.Size, heads[i-1].Size)}
		}
		rep.Heads++
		rep.SignedUpTo, rep.Latest = h.Size, h
	}
	return rep, nil
}

// Prove checks that record seq is under the latest head: its leaf hash
// and the inclusion proof against the head's signed root. It returns the
// record and the proof.
func Prove(ctx context.Context, db *store.DB, pub crypto.PublicKey, seq int64) (Record, []merkle.Hash, Head, error) {
	rep, err := Verify(ctx, db, pub)
	if err != nil {
		return Record{}, nil, Head{}, err
	}
	if rep.Heads == 0 || seq < 1 || seq > rep.SignedUpTo {
		return Record{}, nil, Head{}, fmt.Errorf("Eintrag %d liegt unter keinem signierten Baumkopf (signiert bis %d)", seq, rep.SignedUpTo)
	}
	row := db.Read().QueryRowContext(ctx, `SELECT `+recordColumns+`, leaf_hash FROM amtsnetz_log WHERE seq = $1`, seq)
	r, leafHex, err := scanRecord(row)
	if err != nil {
		return Record{}, nil, Head{}, err
	}
	leaf, _ := parseHash(leafHex)
	// The tree again (Verify checked it): the proof from the leaves.
	var tree merkle.Tree
	lrows, err := db.Read().QueryContext(ctx, `SELECT leaf_hash FROM amtsnetz_log WHERE seq <= $1 ORDER BY seq`, rep.SignedUpTo)
	if err != nil {
		return Record{}, nil, Head{}, err
	}
	defer lrows.Close()
	for lrows.Next() {
		var s string
		if err := lrows.Scan(&s); err != nil {
			return Record{}, nil, Head{}, err
		}
		h, _ := parseHash(s)
		tree.Append(h)
	}
	proof, err := tree.InclusionProof(int(seq-1), int(rep.SignedUpTo))
	if err != nil {
		return Record{}, nil, Head{}, err
	}
	if err := merkle.VerifyInclusion(leaf, int(seq-1), int(rep.SignedUpTo), proof, rep.Latest.Root); err != nil {
		return Record{}, nil, Head{}, err
	}
	return r, proof, rep.Latest, nil
}
