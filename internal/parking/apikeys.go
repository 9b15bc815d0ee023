package parking

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// APIKeyInfo is what an operator sees of a key: never its secret.
type APIKeyInfo struct {
	APIKey
	Created time.Time
	Revoked *time.Time // nil while the key works
}

// ListAPIKeys lists the keys of municipality ars (all municipalities when
// ars is ""), oldest first.
func (s *Service) ListAPIKeys(ctx context.Context, ars string) ([]APIKeyInfo, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT id, municipality, role, name, created_at, revoked_at FROM api_keys
		WHERE $1 = '' OR municipality = $1 ORDER BY created_at, id`, ars)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIKeyInfo
	for rows.Next() {
		var k APIKeyInfo
		var revoked sql.NullTime
		if err := rows.Scan(&k.ID, &k.Municipality, &k.Role, &k.Name, &k.Created, &revoked); err != nil {
			return nil, err
		}
		if revoked.Valid {
			t := revoked.Time
			k.Revoked = &t
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey revokes key id (the part before the dot). Every replica
// refuses it within KeyCacheTTL; this one at once. Revoking a revoked key
// is a Conflict, an unknown one NotFound. The key's row stays: the access
// and lookup logs name it.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) (APIKeyInfo, error) {
	var k APIKeyInfo
	now := s.now().UTC()
	err := s.db.Transact(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT id, municipality, role, name, created_at, revoked_at FROM api_keys WHERE id = $1`, id).
			Scan(&k.ID, &k.Municipality, &k.Role, &k.Name, &k.Created, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(errs.NotFound, "Einen API-Schlüssel %q gibt es nicht.", id)
		}
		if err != nil {
			return err
		}
		if revoked.Valid {
			return errs.E(errs.Conflict, "Der API-Schlüssel %s ist seit %s widerrufen.", id, revoked.Time.In(berlin).Format("02.01.2006 15:04"))
		}
		k.Revoked = &now
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, now, id)
		return err
	})
	if err != nil {
		return APIKeyInfo{}, err
	}
	s.enforcement().keys.drop(id)
	s.logger.Info("audit: API key revoked", "key_id", id, "municipality", k.Municipality, "role", k.Role)
	return k, nil
}
