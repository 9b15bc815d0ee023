package audit

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
)

// KeyID names a public key: the first 8 bytes of the SHA-256 of its DER
// encoding, in hex.
func KeyID(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:8])
}

// checkpointDigest is what a checkpoint's signature covers.
func checkpointDigest(seq int64, hash string, at time.Time) []byte {
	sum := sha256.Sum256([]byte("rathaus-audit-checkpoint-v1\x00" + strconv.FormatInt(seq, 10) + "\x00" + hash + "\x00" +
		strconv.FormatInt(at.UTC().UnixMicro(), 10)))
	return sum[:]
}

// Checkpoint signs the log's head with key and stores the signature,
// unless the head is empty or already signed. It returns the signed seq (0
// when nothing was signed).
func Checkpoint(ctx context.Context, db *store.DB, key *ecdsa.PrivateKey) (int64, error) {
	var signed int64
	err := db.Transact(ctx, func(tx *sql.Tx) error {
		lock := ""
		if db.Engine == store.Postgres {
			lock = " FOR UPDATE"
		}
		var seq int64
		var hash string
		if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+lock).Scan(&seq, &hash); err != nil {
			return fmt.Errorf("audit: read head: %w", err)
		}
		if seq == 0 {
			return nil
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_checkpoints WHERE seq = $1`, seq).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		sig, err := ecdsa.SignASN1(rand.Reader, key, checkpointDigest(seq, hash, at))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5)`,
			seq, hash, at, KeyID(&key.PublicKey), encodeSig(sig)); err != nil {
			return fmt.Errorf("audit: store checkpoint: %w", err)
		}
		signed = seq
		return nil
	})
	return signed, err
}

func encodeSig(sig []byte) string { return base64.StdEncoding.EncodeToString(sig) }

// Break is the first place where the log is not what was written.
type Break struct {
	Seq     int64  // the entry (or checkpoint) concerned
	Problem string // in German, for the operator
}

// Report is the outcome of Verify.
type Report struct {
	Entries     int64  // entries read
	LastSeq     int64  // the last entry's seq
	Checkpoints int    // checkpoints checked
	SignedUpTo  int64  // the highest seq a valid checkpoint covers (0: none)
	Unsigned    bool   // no key was given: checkpoints were matched against the chain, their signatures not checked
	Broken      *Break // nil: intact
}

// Verify reads the whole log in order and checks every entry's hash, every
// link, that no seq is missing, that the head names the last entry, and
// every checkpoint: its signature under pub (skipped when pub is nil) and
// that the entry it names has the hash it signed. It stops at the first
// break. An error is returned only when the database cannot be read.
func Verify(ctx context.Context, q querier, pub *ecdsa.PublicKey) (Report, error) {
	r := Report{Unsigned: pub == nil}
	type checkpoint struct {
		hash  string
		at    time.Time
		keyID string
		sig   string
		seen  bool
	}
	cps := map[int64]*checkpoint{}
	var order []int64
	rows, err := q.QueryContext(ctx, `SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq`)
	if err != nil {
		return r, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	for rows.Next() {
		var seq int64
		c := &checkpoint{}
		if err := rows.Scan(&seq, &c.hash, &c.at, &c.keyID, &c.sig); err != nil {
			rows.Close()
			return r, err
		}
		cps[seq] = c
		order = append(order, seq)
	}
	if err := rows.Close(); err != nil {
		return r, err
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	r.Checkpoints = len(order)
	// Signatures first: a checkpoint that is not the installation's says
	// nothing about the chain.
	if pub != nil {
		id := KeyID(pub)
		for _, seq := range order {
			c := cps[seq]
			sig, err := base64.StdEncoding.DecodeString(c.sig)
			if err != nil || c.keyID != id || !ecdsa.VerifyASN1(pub, checkpointDigest(seq, c.hash, c.at), sig) {
				r.Broken = &Break{Seq: seq, Problem: fmt.Sprintf("Die Signatur des Prüfpunkts bei Eintrag %d ist ungültig "+
					"(Schlüssel %s, erwartet %s): der Prüfpunkt wurde verändert oder nicht mit diesem Schlüssel erstellt.", seq, c.keyID, id)}
				return r, nil
			}
		}
	}

	rows, err = q.QueryContext(ctx, `SELECT seq, at, actor, action, object, municipality, origin, reason, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		return r, fmt.Errorf("audit: read log: %w", err)
	}
	defer rows.Close()
	prev := zeroHash
	var e Entry
	for rows.Next() {
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Object, &e.Municipality, &e.Origin, &e.Reason, &e.PrevHash, &e.Hash); err != nil {
			return r, err
		}
		want := r.LastSeq + 1
		switch {
		case e.Seq != want:
			r.Broken = &Break{Seq: want, Problem: fmt.Sprintf("Eintrag %d fehlt (nach Eintrag %d folgt %d): gelöscht.", want, r.LastSeq, e.Seq)}
		case e.PrevHash != prev:
			r.Broken = &Break{Seq: e.Seq, Problem: fmt.Sprintf("Eintrag %d verweist nicht auf Eintrag %d: Einträge wurden gelöscht, vertauscht oder eingefügt.", e.Seq, r.LastSeq)}
		case hashEntry(e) != e.Hash:
			r.Broken = &Break{Seq: e.Seq, Problem: fmt.Sprintf("Eintrag %d wurde verändert: sein Inhalt passt nicht zu seinem Hash.", e.Seq)}
		}
		if c := cps[e.Seq]; r.Broken == nil && c != nil {
			c.seen = true
			if c.hash != e.Hash {
				r.Broken = &Break{Seq: e.Seq, Problem: fmt.Sprintf("Eintrag %d hat nicht den Hash, den der Prüfpunkt signiert: "+
					"die Kette wurde bis hierher neu berechnet (Einträge verändert, gelöscht oder eingefügt).", e.Seq)}
			} else {
				r.SignedUpTo = e.Seq
			}
		}
		if r.Broken != nil {
			return r, nil
		}
		prev = e.Hash
		r.LastSeq = e.Seq
		r.Entries++
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	for _, seq := range order {
		if !cps[seq].seen {
			r.Broken = &Break{Seq: seq, Problem: fmt.Sprintf("Der Prüfpunkt bei Eintrag %d zeigt hinter den letzten Eintrag %d: "+
				"das Ende des Protokolls wurde abgeschnitten.", seq, r.LastSeq)}
			return r, nil
		}
	}
	seq, hash, err := Head(ctx, q)
	if err != nil {
		return r, fmt.Errorf("audit: read head: %w", err)
	}
	if seq != r.LastSeq || hash != prev {
		r.Broken = &Break{Seq: r.LastSeq + 1, Problem: fmt.Sprintf("Der Kopf des Protokolls nennt Eintrag %d, der letzte Eintrag ist %d: "+
			"Einträge am Ende wurden gelöscht, oder der Kopf wurde verändert.", seq, r.LastSeq)}
	}
	return r, nil
}

// String is the report in German, one paragraph.
func (r Report) String() string {
	if r.Broken != nil {
		return fmt.Sprintf("Audit-Protokoll BESCHÄDIGT bei Eintrag %d: %s (%s davor geprüft)", r.Broken.Seq, r.Broken.Problem, count(r.Entries, "Eintrag", "Einträge"))
	}
	s := fmt.Sprintf("Audit-Protokoll intakt: %s, %s", count(r.Entries, "Eintrag", "Einträge"), count(int64(r.Checkpoints), "Prüfpunkt", "Prüfpunkte"))
	switch {
	case r.Unsigned:
		s += "; Signaturen NICHT geprüft (kein öffentlicher Schlüssel angegeben)"
	case r.SignedUpTo == 0:
		s += "; kein signierter Prüfpunkt"
	case r.SignedUpTo < r.LastSeq:
		s += fmt.Sprintf("; signiert bis Eintrag %d, die %d Einträge danach nur durch die Kette gesichert", r.SignedUpTo, r.LastSeq-r.SignedUpTo)
	default:
		s += "; signiert bis zum letzten Eintrag"
	}
	return s + "."
}

func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// ErrBroken is what the CLI returns for a broken log.
var ErrBroken = errors.New("audit log broken")
