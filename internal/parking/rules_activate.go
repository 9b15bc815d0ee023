package parking

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
)

// Rule and fee files from the workbench. The Fachadministration uploads a
// new file, sees its errors and legal warnings, what it changes and its
// effect on a sample of recent applications (PreviewRules), and then
// activates it. An activated file replaces the municipality's deployed
// configuration; the newest activated file wins, on every replica (each
// looks for a newer one at most a minute after its last look).
//
// What is in force cannot be changed this way: every version that began
// on or before today must be in the new file unchanged, and what the file
// adds begins tomorrow or later — an application is priced and decided by
// the rules of its day, and those of a past day stay what they were. (A
// mistake in a version in force is corrected by a new version from
// tomorrow, or by the operator's deployment.) Checks and activations are
// entries of the audit log with the file's SHA-256.

// rulesRefreshEvery is how often a replica looks for newly activated files.
const rulesRefreshEvery = time.Minute

// setConfig puts cfg in force for its municipality.
func (s *Service) setConfig(cfg *rules.Config) {
	s.configMu.Lock()
	defer s.configMu.Unlock()
	next := maps.Clone(s.configs)
	next[cfg.ARS] = cfg
	s.configs = next
}

// allConfigs returns the configurations in force, by ARS; the map is
// replaced, never changed, by setConfig, so the caller may range over it
// (and must not write to it).
func (s *Service) allConfigs() map[string]*rules.Config {
	s.configMu.RLock()
	defer s.configMu.RUnlock()
	return s.configs
}

// RuleUpload is a checked rule file kept for activation.
type RuleUpload struct {
	ID, Municipality, SHA256 string
	CheckedBy, ActivatedBy   string
	CheckedAt, ActivatedAt   time.Time
	content                  string
}

// SaveRulesDraft keeps a rule file that passed its check, for activation;
// it returns its ID.
func (s *Service) SaveRulesDraft(ctx context.Context, c Clerk, data []byte) (string, error) {
	var b [10]byte
	rand.Read(b[:])
	id := "rul_" + hex.EncodeToString(b[:])
	sum := sha256.Sum256(data)
	_, err := s.db.Write().ExecContext(ctx, `INSERT INTO parking_rule_uploads (id, municipality, content, sha256, checked_by, checked_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, c.Municipality, string(data), hex.EncodeToString(sum[:]), c.Actor, s.now().UTC())
	return id, err
}

// activationProblems says why next may not replace cur on today; nil when
// it may.
func activationProblems(cur, next *rules.Config, today time.Time) []string {
	var out []string
	if next.ARS != cur.ARS {
		return []string{fmt.Sprintf("Die Datei gehört zur Kommune %s, nicht zu %s.", next.ARS, cur.ARS)}
	}
	begun := func(validFrom time.Time) bool { return !validFrom.After(today) }
	asJSON := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	// Versions in force or past: the same in both, one for one.
	var curRules, nextRules, curFees, nextFees []string
	for _, r := range cur.Rules {
		if begun(r.ValidFrom) {
			curRules = append(curRules, asJSON(r))
		}
	}
	for _, r := range next.Rules {
		if begun(r.ValidFrom) {
			nextRules = append(nextRules, asJSON(r))
		}
	}
	for _, f := range cur.Fees {
		if begun(f.ValidFrom) {
			curFees = append(curFees, asJSON(f))
		}
	}
	for _, f := range next.Fees {
		if begun(f.ValidFrom) {
			nextFees = append(nextFees, asJSON(f))
		}
	}
	if !slices.Equal(curRules, nextRules) {
		out = append(out, "Die Regelversionen, die bis heute begonnen haben, müssen in der Datei unverändert bleiben; neue Versionen beginnen frühestens morgen.")
	}
	if !slices.Equal(curFees, nextFees) {
		out = append(out, "Die Gebührenversionen, die bis heute begonnen haben, müssen in der Datei unverändert bleiben; neue Versionen beginnen frühestens morgen.")
	}
	if len(out) == 0 && asJSON(cur) == asJSON(next) {
		out = append(out, "Die Datei ändert nichts gegenüber den geltenden Regeln und Gebühren.")
	}
	return out
}

// ActivateRules puts the checked file id of c's municipality in force.
func (s *Service) ActivateRules(ctx context.Context, c Clerk, id, origin string) (*rules.Config, error) {
	var content, sum string
	var activated sql.NullTime
	err := s.db.Read().QueryRowContext(ctx, `SELECT content, sha256, activated_at FROM parking_rule_uploads WHERE id = $1 AND municipality = $2`,
		id, c.Municipality).Scan(&content, &sum, &activated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "Diese geprüfte Datei gibt es nicht (mehr). Bitte prüfen Sie die Datei erneut.")
	}
	if err != nil {
		return nil, err
	}
	if activated.Valid {
		return nil, errs.E(errs.Conflict, "Diese Datei ist bereits in Kraft gesetzt.")
	}
	next, _, err := rules.Load(strings.NewReader(content))
	if err != nil {
		return nil, err
	}
	cur, err := s.config(c.Municipality)
	if err != nil {
		return nil, err
	}
	if p := activationProblems(cur, next, s.today()); len(p) > 0 {
		return nil, errs.E(errs.Conflict, "%s", strings.Join(p, " "))
	}
	now := s.now().UTC()
	err = s.db.Transact(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE parking_rule_uploads SET activated_by = $2, activated_at = $3 WHERE id = $1 AND activated_at IS NULL`,
			id, c.Actor, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.E(errs.Conflict, "Diese Datei ist bereits in Kraft gesetzt.")
		}
		_, err = audit.Append(ctx, tx, s.db.Engine, audit.Entry{At: now, Actor: c.Actor, Action: "parking.rules_activated",
			Object: "parking_rules:" + c.Municipality, Municipality: c.Municipality, Origin: origin, Reason: "sha256:" + sum})
		return err
	})
	if err != nil {
		return nil, err
	}
	s.setConfig(next)
	s.logger.Info("parking rules activated", "municipality", c.Municipality, "upload", id, "actor", c.Actor)
	return next, nil
}

// LoadActivatedRules puts the newest activated file of each municipality
// the service offers in force (at start, and then RefreshRules). It
// returns how many municipalities' rules it replaced.
func (s *Service) LoadActivatedRules(ctx context.Context) (int, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT u.municipality, u.id, u.content FROM parking_rule_uploads u
		WHERE u.activated_at = (SELECT MAX(v.activated_at) FROM parking_rule_uploads v WHERE v.municipality = u.municipality)`)
	if err != nil {
		return 0, err
	}
	type upload struct{ ars, id, content string }
	var ups []upload
	for rows.Next() {
		var u upload
		if err := rows.Scan(&u.ars, &u.id, &u.content); err != nil {
			rows.Close()
			return 0, err
		}
		ups = append(ups, u)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	n := 0
	cur := s.allConfigs()
	for _, u := range ups {
		old, offered := cur[u.ars]
		if !offered {
			continue
		}
		cfg, _, err := rules.Load(strings.NewReader(u.content))
		if err != nil {
			// A file that loaded when it was activated and no longer does
			// (a stricter Rathaus): the deployed rules stay, loudly.
			s.logger.Error("activated parking rules no longer load; the deployed ones stay in force", "municipality", u.ars, "upload", u.id, "err", err)
			continue
		}
		a, _ := json.Marshal(old)
		b, _ := json.Marshal(cfg)
		if !bytes.Equal(a, b) {
			s.setConfig(cfg)
			n++
		}
	}
	s.rulesLoadedAt.Store(s.now().UnixNano())
	return n, nil
}

// refreshRules looks for newly activated files when the last look is
// older than rulesRefreshEvery, in the background; config calls it.
func (s *Service) refreshRules() {
	last := s.rulesLoadedAt.Load()
	if last == 0 || s.now().UnixNano()-last < int64(rulesRefreshEvery) || !s.rulesRefreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.rulesRefreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if n, err := s.LoadActivatedRules(ctx); err != nil {
			s.logger.Warn("looking for activated parking rules failed", "err", err)
		} else if n > 0 {
			s.logger.Info("activated parking rules loaded", "municipalities", n)
		}
	}()
}

// RulesPreview is the effect of a new configuration on recent applications.
type RulesPreview struct {
	Day       time.Time // the day the comparison is made for
	Sample    int       // applications compared
	Same      int       // same verdict and fee
	Changes   []PreviewChange
	FeeBefore int64 // sum of the fees under the rules in force, cents
	FeeAfter  int64 // and under the new file
	Skipped   int   // recent applications without stored facts (decided before facts were kept) or of kinds not compared
}

// PreviewChange is an application that the new file would decide or price
// otherwise.
type PreviewChange struct {
	Reference           string
	Before, After       string // verdict (German)
	FeeBefore, FeeAfter string
	Rules               []string // the requirements whose result changes
}

// previewSample is how many recent applications a preview compares.
const previewSample = 200

var verdictWords = map[rules.Verdict]string{rules.Pass: "bewilligungsfähig", rules.Fail: "abzulehnen", rules.Review: "zu prüfen"}

// PreviewRules compares, for the most recent applications of the
// municipality, the rules and fees in force with those of next on the day
// next's newest version begins (today when it adds none): the same facts
// (register answers, form) evaluated twice. First applications and
// renewals are compared; changes and reissues are priced otherwise and
// left out.
func (s *Service) PreviewRules(ctx context.Context, ars string, next *rules.Config) (RulesPreview, error) {
	cur, err := s.config(ars)
	if err != nil {
		return RulesPreview{}, err
	}
	day := s.today()
	for _, r := range next.Rules {
		if r.ValidFrom.After(day) {
			day = r.ValidFrom
		}
	}
	for _, f := range next.Fees {
		if f.ValidFrom.After(day) {
			day = f.ValidFrom
		}
	}
	out := RulesPreview{Day: day}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT reference, kind, outcome FROM parking_applications
		WHERE municipality = $1 AND anonymised_at IS NULL AND outcome <> '' ORDER BY created_at DESC LIMIT $2`, ars, previewSample)
	if err != nil {
		return out, err
	}
	type sample struct {
		ref  string
		kind Kind
		d    Decision
	}
	var samples []sample
	for rows.Next() {
		var sm sample
		var outcome string
		if err := rows.Scan(&sm.ref, &sm.kind, &outcome); err != nil {
			rows.Close()
			return out, err
		}
		if json.Unmarshal([]byte(outcome), &sm.d) != nil || sm.d.Facts == nil || (sm.kind != KindNew && sm.kind != KindRenewal) {
			out.Skipped++
			continue
		}
		samples = append(samples, sm)
	}
	if err := rows.Close(); err != nil {
		return out, err
	}
	type result struct {
		verdict rules.Verdict
		fee     int64 // -1: none
		results map[string]rules.Verdict
	}
	eval := func(c *rules.Config, f rules.Facts) result {
		r := result{fee: -1, results: map[string]rules.Verdict{}}
		rs, err := c.RulesAt(f.Day)
		if err != nil {
			r.verdict = rules.Fail
			return r
		}
		o := rs.Evaluate(f)
		r.verdict = o.Verdict
		for _, x := range o.Results {
			r.results[x.Rule] = x.Verdict
		}
		if fees, err := c.FeesAt(f.Day); err == nil {
			if p, err := fees.Price(f.DurationMonths, f.LengthMM, f.MassKg, f.Fuel); err == nil {
				r.fee = p.AmountCents
			} else {
				r.verdict, r.results["fee.tier"] = rules.Fail, rules.Fail
			}
		}
		return r
	}
	feeWord := func(c int64) string {
		if c < 0 {
			return "keine"
		}
		return FormatCents(c)
	}
	for _, sm := range samples {
		f := *sm.d.Facts
		f.Day = day
		a, b := eval(cur, f), eval(next, f)
		out.Sample++
		out.FeeBefore += max(a.fee, 0)
		out.FeeAfter += max(b.fee, 0)
		if a.verdict == b.verdict && a.fee == b.fee {
			out.Same++
			continue
		}
		ch := PreviewChange{Reference: sm.ref, Before: verdictWords[a.verdict], After: verdictWords[b.verdict],
			FeeBefore: feeWord(a.fee), FeeAfter: feeWord(b.fee)}
		for _, id := range slices.Sorted(maps.Keys(b.results)) {
			if a.results[id] != b.results[id] {
				ch.Rules = append(ch.Rules, ruleLabel(id))
			}
		}
		out.Changes = append(out.Changes, ch)
	}
	return out, nil
}
