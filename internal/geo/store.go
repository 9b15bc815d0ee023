package geo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/paulmach/orb"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/tenant"
)

// The SQL of the geo feature. Every function takes the transaction or pool
// it runs on, so that callers compose them inside one transaction.

const dateLayout = "2006-01-02"

// multiPolygonJSON is a GeoJSON MultiPolygon geometry (orb's types encode
// as the nested coordinate arrays GeoJSON wants).
type multiPolygonJSON struct {
	Type        string           `json:"type"`
	Coordinates orb.MultiPolygon `json:"coordinates"`
}

// replaceZones makes zones the set in force from validFrom: versions that
// would start on or after validFrom are removed, versions in force on
// validFrom end there (valid_to is exclusive).
func replaceZones(ctx context.Context, tx *sql.Tx, ars string, zones []Zone, validFrom time.Time) error {
	day := validFrom.Format(dateLayout)
	if _, err := tx.ExecContext(ctx, "DELETE FROM zones WHERE municipality = $1 AND valid_from >= $2", ars, day); err != nil {
		return fmt.Errorf("delete superseded zones: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE zones SET valid_to = $2
		WHERE municipality = $1 AND valid_from < $2 AND (valid_to IS NULL OR valid_to > $2)`, ars, day); err != nil {
		return fmt.Errorf("end previous zones: %w", err)
	}
	now := time.Now().UTC()
	for _, z := range zones {
		geom, err := json.Marshal(multiPolygonJSON{Type: "MultiPolygon", Coordinates: z.Geometry})
		if err != nil {
			return fmt.Errorf("zone %s: encode geometry: %w", z.ID, err)
		}
		props := z.Properties
		if props == nil {
			props = map[string]any{}
		}
		pj, err := json.Marshal(props)
		if err != nil {
			return fmt.Errorf("zone %s: encode properties: %w", z.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO zones
			(municipality, zone_id, valid_from, valid_to, name, district, geometry, properties, source, imported_at)
			VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9)`,
			ars, z.ID, day, z.Name, z.District, string(geom), string(pj), z.Source, now); err != nil {
			return fmt.Errorf("insert zone %s: %w", z.ID, err)
		}
	}
	return bumpGeneration(ctx, tx, ars)
}

func bumpGeneration(ctx context.Context, tx *sql.Tx, ars string) error {
	res, err := tx.ExecContext(ctx, "UPDATE municipalities SET geo_generation = geo_generation + 1 WHERE ars = $1", ars)
	if err != nil {
		return fmt.Errorf("bump geo generation: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errs.E(errs.NotFound, "Keine Kommune mit dem Regionalschlüssel %s.", ars)
	}
	return nil
}

// generation returns the counter that changes whenever the municipality's
// zones or addresses change.
func generation(ctx context.Context, q tenant.Querier, ars string) (int64, error) {
	var g int64
	err := q.QueryRowContext(ctx, "SELECT geo_generation FROM municipalities WHERE ars = $1", ars).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errs.E(errs.NotFound, "Keine Kommune mit dem Regionalschlüssel %s.", ars)
	}
	if err != nil {
		return 0, fmt.Errorf("read geo generation of %s: %w", ars, err)
	}
	return g, nil
}

// zonesInForce returns the zones of a municipality in force on day, by zone id.
func zonesInForce(ctx context.Context, q tenant.Querier, ars string, day time.Time) ([]Zone, error) {
	d := day.Format(dateLayout)
	rows, err := q.QueryContext(ctx, `SELECT zone_id, valid_from, valid_to, name, district, geometry, properties, source
		FROM zones WHERE municipality = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2)
		ORDER BY zone_id`, ars, d)
	if err != nil {
		return nil, fmt.Errorf("query zones of %s: %w", ars, err)
	}
	defer rows.Close()
	var zones []Zone
	for rows.Next() {
		z := Zone{Tenant: ars}
		var validTo sql.NullTime
		var geom, props string
		if err := rows.Scan(&z.ID, &z.ValidFrom, &validTo, &z.Name, &z.District, &geom, &props, &z.Source); err != nil {
			return nil, fmt.Errorf("scan zone: %w", err)
		}
		z.ValidFrom = z.ValidFrom.UTC()
		if validTo.Valid {
			t := validTo.Time.UTC()
			z.ValidTo = &t
		}
		var g multiPolygonJSON
		if err := json.Unmarshal([]byte(geom), &g); err != nil {
			return nil, fmt.Errorf("zone %s: decode geometry: %w", z.ID, err)
		}
		if g.Type != "MultiPolygon" {
			return nil, fmt.Errorf("zone %s: stored geometry is %s", z.ID, g.Type)
		}
		z.Geometry = g.Coordinates
		if err := json.Unmarshal([]byte(props), &z.Properties); err != nil {
			return nil, fmt.Errorf("zone %s: decode properties: %w", z.ID, err)
		}
		zones = append(zones, z)
	}
	return zones, rows.Err()
}

// addressBatch is the number of rows per INSERT: large enough to amortise
// round trips, small enough to stay under SQLite's 32,766 parameters.
const addressBatch = 500

// replaceAddresses replaces the address register of a municipality.
func replaceAddresses(ctx context.Context, tx *sql.Tx, ars string, addrs []Address) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM addresses WHERE municipality = $1", ars); err != nil {
		return fmt.Errorf("delete addresses: %w", err)
	}
	const cols = 10
	for start := 0; start < len(addrs); start += addressBatch {
		batch := addrs[start:min(start+addressBatch, len(addrs))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO addresses
			(municipality, street_key, number_key, postcode, street, house_number, district, lon, lat, source) VALUES `)
		args := make([]any, 0, len(batch)*cols)
		for i, a := range batch {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(")
			for c := range cols {
				if c > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "$%d", i*cols+c+1)
			}
			sb.WriteString(")")
			numKey, err := HouseNumberKey(a.HouseNumber)
			if err != nil {
				return fmt.Errorf("address %s %s: %w", a.Street, a.HouseNumber, err)
			}
			args = append(args, ars, StreetKey(a.Street), numKey, a.Postcode, a.Street, a.HouseNumber, a.District, a.Point.Lon, a.Point.Lat, a.Source)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("insert addresses: %w", err)
		}
	}
	return bumpGeneration(ctx, tx, ars)
}

// addresses returns the address register of a municipality.
func addresses(ctx context.Context, q tenant.Querier, ars string) ([]Address, error) {
	rows, err := q.QueryContext(ctx, `SELECT street, house_number, postcode, district, lon, lat, source
		FROM addresses WHERE municipality = $1 ORDER BY street_key, number_key, postcode`, ars)
	if err != nil {
		return nil, fmt.Errorf("query addresses of %s: %w", ars, err)
	}
	defer rows.Close()
	var out []Address
	for rows.Next() {
		a := Address{Tenant: ars}
		if err := rows.Scan(&a.Street, &a.HouseNumber, &a.Postcode, &a.District, &a.Point.Lon, &a.Point.Lat, &a.Source); err != nil {
			return nil, fmt.Errorf("scan address: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// countAddresses returns how many address points a municipality has.
func countAddresses(ctx context.Context, q tenant.Querier, ars string) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM addresses WHERE municipality = $1", ars).Scan(&n); err != nil {
		return 0, fmt.Errorf("count addresses: %w", err)
	}
	return n, nil
}

// ImportRun is one address import: queued, running, done or failed.
type ImportRun struct {
	ID           string
	Municipality string
	Source       string
	Status       string
	RowsRead     int
	Stats        CSVStats
	Error        string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func insertImport(ctx context.Context, tx *sql.Tx, id, ars, source string, content []byte) error {
	now := time.Now().UTC()
	_, err := tx.ExecContext(ctx, `INSERT INTO imports (id, municipality, kind, source, content, status, created_at, updated_at)
		VALUES ($1, $2, 'addresses', $3, $4, 'queued', $5, $5)`, id, ars, source, content, now)
	if err != nil {
		return fmt.Errorf("insert import: %w", err)
	}
	return nil
}

func importContent(ctx context.Context, q tenant.Querier, id string) (ars, source string, content []byte, err error) {
	err = q.QueryRowContext(ctx, "SELECT municipality, source, content FROM imports WHERE id = $1", id).Scan(&ars, &source, &content)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil, errs.E(errs.NotFound, "Import %s gibt es nicht.", id)
	}
	return ars, source, content, err
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// updateImport records progress or the outcome of an import. The content is
// dropped once the import has finished: the register holds the result.
func updateImport(ctx context.Context, x execer, id, status string, rowsRead int, stats *CSVStats, msg string) error {
	sj := []byte("{}")
	if stats != nil {
		var err error
		if sj, err = json.Marshal(stats); err != nil {
			return err
		}
	}
	q := `UPDATE imports SET status = $2, rows_read = $3, stats = $4, error = $5, updated_at = $6 WHERE id = $1`
	if status == "done" || status == "failed" {
		q = `UPDATE imports SET status = $2, rows_read = $3, stats = $4, error = $5, updated_at = $6, content = $7 WHERE id = $1`
		_, err := x.ExecContext(ctx, q, id, status, rowsRead, string(sj), msg, time.Now().UTC(), []byte{})
		return err
	}
	_, err := x.ExecContext(ctx, q, id, status, rowsRead, string(sj), msg, time.Now().UTC())
	return err
}

// touchImport records that a running import is alive.
func touchImport(ctx context.Context, x execer, id string) error {
	_, err := x.ExecContext(ctx, "UPDATE imports SET updated_at = $2 WHERE id = $1 AND status = 'running'", id, time.Now().UTC())
	return err
}

// failImport records an unfinished import as failed with msg and reports
// whether it was unfinished; a finished import keeps its outcome.
func failImport(ctx context.Context, x execer, id, msg string) (bool, error) {
	res, err := x.ExecContext(ctx, `UPDATE imports SET status = 'failed', error = $2, updated_at = $3, content = $4
		WHERE id = $1 AND status IN ('queued', 'running')`, id, msg, time.Now().UTC(), []byte{})
	if err != nil {
		return false, fmt.Errorf("record import %s as failed: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// latestUnfinishedImport returns the id of the newest queued or running
// address import of a municipality, or "".
func latestUnfinishedImport(ctx context.Context, q tenant.Querier, ars string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM imports
		WHERE municipality = $1 AND kind = 'addresses' AND status IN ('queued', 'running')
		ORDER BY created_at DESC, id DESC LIMIT 1`, ars).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find unfinished import of %s: %w", ars, err)
	}
	return id, nil
}

func getImport(ctx context.Context, q tenant.Querier, id string) (ImportRun, error) {
	var r ImportRun
	var stats string
	err := q.QueryRowContext(ctx, `SELECT id, municipality, source, status, rows_read, stats, error, created_at, updated_at
		FROM imports WHERE id = $1`, id).Scan(&r.ID, &r.Municipality, &r.Source, &r.Status, &r.RowsRead, &stats, &r.Error, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errs.E(errs.NotFound, "Import %s gibt es nicht.", id)
	}
	if err != nil {
		return r, fmt.Errorf("get import %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(stats), &r.Stats); err != nil {
		return r, fmt.Errorf("import %s: decode stats: %w", id, err)
	}
	return r, nil
}

// Summary describes what an import did with the rows, in German, for the
// console and the log.
func (s CSVStats) Summary() string {
	parts := []string{fmt.Sprintf("%d Zeilen gelesen", s.Rows)}
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(s.SkippedNoHouseNumber, "ohne Hausnummer übersprungen")
	add(s.SkippedNoStreet, "ohne Straße übersprungen")
	add(s.SkippedBadHouseNumber, "mit unlesbarer Hausnummer übersprungen")
	add(s.SkippedBadCoordinates, "mit ungültigen Koordinaten übersprungen")
	add(s.Duplicates, "Dubletten zusammengeführt")
	add(s.NoPostcode, "ohne Postleitzahl")
	add(s.BadPostcode, "mit ungültiger Postleitzahl (verworfen)")
	return strings.Join(parts, ", ")
}
