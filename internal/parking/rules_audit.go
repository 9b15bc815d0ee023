package parking

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/store"
)

// RecordRulesInForce writes an audit entry for each municipality whose
// rule and fee configuration differs from the one last recorded: the
// SHA-256 of the configuration and its versions. Rule files are deployed
// with the installation, not edited in Rathaus; this makes every change
// that reaches a running Rathaus part of the tamper-evident log (who
// changed a file is the deployment's record). It returns how many
// entries it wrote.
func (s *Service) RecordRulesInForce(ctx context.Context, actor, origin string) (int, error) {
	configs := s.allConfigs()
	arss := make([]string, 0, len(configs))
	for ars := range configs {
		arss = append(arss, ars)
	}
	slices.Sort(arss)
	written := 0
	for _, ars := range arss {
		cfg := configs[ars]
		data, err := cfg.MarshalJSON()
		if err != nil {
			return written, err
		}
		sum := sha256.Sum256(data)
		digest := "sha256:" + hex.EncodeToString(sum[:])
		err = s.db.Transact(ctx, func(tx *sql.Tx) error {
			if s.db.Engine == store.Postgres {
				// Replicas that start at once would each read "not yet
				// recorded" before the other commits, and record it twice:
				// the audit head's lock, taken before the read, orders them.
				if _, err := tx.ExecContext(ctx, `SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE`); err != nil {
					return err
				}
			}
			var last string
			err := tx.QueryRowContext(ctx, `SELECT reason FROM audit_log WHERE action = 'parking.rules_in_force' AND municipality = $1
				ORDER BY seq DESC LIMIT 1`, ars).Scan(&last)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			if strings.HasPrefix(last, digest) {
				return nil
			}
			var versions []string
			for _, r := range cfg.Rules {
				versions = append(versions, "Regeln ab "+germanDay(r.ValidFrom))
			}
			for _, f := range cfg.Fees {
				versions = append(versions, "Gebühren ab "+germanDay(f.ValidFrom))
			}
			_, err = audit.Append(ctx, tx, s.db.Engine, audit.Entry{Actor: actor, Action: "parking.rules_in_force", Object: "parking_rules:" + ars,
				Municipality: ars, Origin: origin, Reason: fmt.Sprintf("%s (%s)", digest, strings.Join(versions, ", "))})
			if err == nil {
				written++
			}
			return err
		})
		if err != nil {
			return written, fmt.Errorf("record rules of %s: %w", ars, err)
		}
	}
	return written, nil
}
