// Package tenant knows the municipalities (Kommunen) that run on a Rathaus
// installation. A municipality is keyed by its Amtlicher Regionalschlüssel
// (ARS, 12 digits: Land, Regierungsbezirk, Kreis, Gemeindeverband, Gemeinde);
// Berlin is 110000000000. Every piece of data a feature stores belongs to
// exactly one municipality, and every query names it.
//
// Later this package holds each municipality's settings and dated rule
// versions; it does not hold any feature's data.
package tenant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/store"
)

// Municipality is one tenant.
type Municipality struct {
	ARS  string `json:"ars"`
	Name string `json:"name"`
}

// Querier is what both *sql.DB and *sql.Tx offer for reads.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ValidateARS checks the form of an Amtlicher Regionalschlüssel.
func ValidateARS(ars string) error {
	if len(ars) != 12 {
		return errs.Field("ars", "Der Regionalschlüssel (ARS) hat 12 Ziffern, %q hat %d Zeichen.", ars, len(ars))
	}
	for _, c := range ars {
		if c < '0' || c > '9' {
			return errs.Field("ars", "Der Regionalschlüssel (ARS) besteht nur aus Ziffern: %q.", ars)
		}
	}
	return nil
}

// Ensure creates the municipality or updates its name, inside tx.
func Ensure(ctx context.Context, tx *sql.Tx, m Municipality) error {
	if err := ValidateARS(m.ARS); err != nil {
		return err
	}
	if m.Name == "" {
		return errs.Field("name", "Der Name der Kommune fehlt.")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO municipalities (ars, name, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (ars) DO UPDATE SET name = excluded.name`, m.ARS, m.Name, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("ensure municipality %s: %w", m.ARS, err)
	}
	return nil
}

// Get returns the municipality with the given ARS, or a NotFound error.
func Get(ctx context.Context, q Querier, ars string) (Municipality, error) {
	var m Municipality
	err := q.QueryRowContext(ctx, "SELECT ars, name FROM municipalities WHERE ars = $1", ars).Scan(&m.ARS, &m.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return m, errs.E(errs.NotFound, "Keine Kommune mit dem Regionalschlüssel %s.", ars)
	}
	if err != nil {
		return m, fmt.Errorf("get municipality %s: %w", ars, err)
	}
	return m, nil
}

// List returns all municipalities ordered by ARS.
func List(ctx context.Context, db *store.DB) ([]Municipality, error) {
	rows, err := db.Read().QueryContext(ctx, "SELECT ars, name FROM municipalities ORDER BY ars")
	if err != nil {
		return nil, fmt.Errorf("list municipalities: %w", err)
	}
	defer rows.Close()
	ms := []Municipality{}
	for rows.Next() {
		var m Municipality
		if err := rows.Scan(&m.ARS, &m.Name); err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}
