package parking

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/store"
)

// The SQL of the parking feature: one function per query, explicit Scan,
// helpers take the transaction they run in.

const dateLayout = "2006-01-02"

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// appRow is an application as stored.
type appRow struct {
	ID, Municipality, Reference, AccessCodeHash string
	IdempotencyKey                              sql.NullString
	RequestHash                                 string
	Status                                      Status
	AppliedOn                                   time.Time
	Data                                        string
	Plate, PersonHash, ZoneID                   string
	DurationMonths                              int
	FeeCents                                    sql.NullInt64
	Outcome, Kassenzeichen                      string
	CreatedAt, UpdatedAt                        time.Time
	RenewsPermit                                sql.NullString // the permit number a renewal renews
	Kind                                        Kind
	ReplacesPermit                              sql.NullString // the permit a change or reissue replaces
	Assignee, AssigneeName                      string         // who works on the case ("" nobody)
	AssignedAt                                  sql.NullTime
}

const appColumns = `id, municipality, reference, access_code_hash, idempotency_key, request_hash, status, applied_on,
	data, plate, person_hash, zone_id, duration_months, fee_cents, outcome, kassenzeichen, created_at, updated_at, renews_permit, kind, replaces_permit`

// appSelect is what scanApp reads: the inserted columns and the
// assignment.
const appSelect = appColumns + `, assignee, assignee_name, assigned_at`

func scanApp(row interface{ Scan(...any) error }) (appRow, error) {
	var a appRow
	err := row.Scan(&a.ID, &a.Municipality, &a.Reference, &a.AccessCodeHash, &a.IdempotencyKey, &a.RequestHash, &a.Status,
		&a.AppliedOn, &a.Data, &a.Plate, &a.PersonHash, &a.ZoneID, &a.DurationMonths, &a.FeeCents, &a.Outcome, &a.Kassenzeichen,
		&a.CreatedAt, &a.UpdatedAt, &a.RenewsPermit, &a.Kind, &a.ReplacesPermit, &a.Assignee, &a.AssigneeName, &a.AssignedAt)
	return a, err
}

func insertApplication(ctx context.Context, tx *sql.Tx, a appRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO parking_applications (`+appColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
		a.ID, a.Municipality, a.Reference, a.AccessCodeHash, a.IdempotencyKey, a.RequestHash, a.Status,
		a.AppliedOn.Format(dateLayout), a.Data, a.Plate, a.PersonHash, a.ZoneID, a.DurationMonths, a.FeeCents, a.Outcome,
		a.Kassenzeichen, a.CreatedAt, a.UpdatedAt, a.RenewsPermit, a.Kind, a.ReplacesPermit)
	if err != nil {
		if strings.Contains(err.Error(), "parking_applications_open_renewal") || strings.Contains(err.Error(), "parking_applications.renews_permit") {
			return errs.Wrap(errs.Conflict, err, "Für diesen Ausweis wurde inzwischen schon eine Verlängerung beantragt.")
		}
		if strings.Contains(err.Error(), "parking_applications_open_change") || strings.Contains(err.Error(), "parking_applications.replaces_permit") {
			return errs.Wrap(errs.Conflict, err, "Für diesen Ausweis wurde inzwischen schon eine Änderung oder ein Ersatz beantragt.")
		}
		return fmt.Errorf("insert application: %w", err)
	}
	return nil
}

// getApp loads an application by a column (id or reference). forUpdate
// locks the row on PostgreSQL; on SQLite the IMMEDIATE transaction already
// holds the only write lock.
func getApp(ctx context.Context, q querier, engine store.Engine, column, value string, forUpdate bool) (appRow, error) {
	if column != "id" && column != "reference" {
		panic("getApp: bad column " + column)
	}
	query := `SELECT ` + appSelect + ` FROM parking_applications WHERE ` + column + ` = $1`
	if forUpdate && engine == store.Postgres {
		query += " FOR UPDATE"
	}
	a, err := scanApp(q.QueryRowContext(ctx, query, value))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errs.E(errs.NotFound, "Den Antrag %s gibt es nicht.", value)
	}
	if err != nil {
		return a, fmt.Errorf("load application: %w", err)
	}
	a.AppliedOn = a.AppliedOn.UTC()
	return a, nil
}

func appByIdempotencyKey(ctx context.Context, q querier, ars, key string) (appRow, error) {
	a, err := scanApp(q.QueryRowContext(ctx, `SELECT `+appSelect+` FROM parking_applications
		WHERE municipality = $1 AND idempotency_key = $2`, ars, key))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errs.E(errs.NotFound, "kein Antrag zu diesem Schlüssel")
	}
	return a, err
}

// transition moves an application from → to and records the event. It
// fails with Conflict when the application is no longer in from (another
// actor was faster) or the state machine does not allow the step.
func transition(ctx context.Context, tx *sql.Tx, id string, from, to Status, actor, note string, now time.Time) error {
	if !CanTransition(from, to) {
		return errs.E(errs.Conflict, "Ein Antrag im Status „%s“ kann nicht in den Status „%s“ wechseln.", from.Label(), to.Label())
	}
	res, err := tx.ExecContext(ctx, `UPDATE parking_applications SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2`,
		id, from, to, now)
	if err != nil {
		return fmt.Errorf("transition %s→%s: %w", from, to, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errs.E(errs.Conflict, "Der Antrag wurde inzwischen bearbeitet; bitte laden Sie ihn neu.")
	}
	return addEvent(ctx, tx, id, from, to, actor, note, now)
}

func addEvent(ctx context.Context, tx *sql.Tx, id string, from, to Status, actor, note string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO parking_events (application_id, seq, at, actor, from_status, to_status, note)
		VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM parking_events WHERE application_id = $1), $2, $3, $4, $5, $6)`,
		id, now, actor, from, to, note)
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return nil
}

func events(ctx context.Context, q querier, id string) ([]Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, at, actor, from_status, to_status, note FROM parking_events
		WHERE application_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("load events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.Seq, &e.At, &e.By, &e.From, &e.To, &e.Note); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func setDecision(ctx context.Context, tx *sql.Tx, id string, outcome []byte, fee *int64, now time.Time) error {
	var f sql.NullInt64
	if fee != nil {
		f = sql.NullInt64{Int64: *fee, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `UPDATE parking_applications SET outcome = $2, fee_cents = $3, updated_at = $4, open_rules = $5 WHERE id = $1`,
		id, string(outcome), f, now, openRules(outcome))
	return err
}

// openRules lists the rules of a stored outcome whose result did not pass,
// as ",a,b," (the column open_rules; "" for none).
func openRules(outcome []byte) string {
	var d struct {
		Results []rules.Result `json:"results"`
	}
	if json.Unmarshal(outcome, &d) != nil {
		return ""
	}
	var ids []string
	for _, r := range d.Results {
		if r.Verdict != rules.Pass {
			ids = append(ids, r.Rule)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return "," + strings.Join(ids, ",") + ","
}

func setKassenzeichen(ctx context.Context, tx *sql.Tx, id, kz string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE parking_applications SET kassenzeichen = $2, updated_at = $3 WHERE id = $1 AND kassenzeichen = ''`, id, kz, now)
	return err
}

// AnyAssignee and Unassigned filter the queue by assignee; any other
// value is an actor.
const (
	AnyAssignee = ""         // the zero value: no filter
	Unassigned  = "\x00none" // not an actor: actors are "staff:…" or "clerk:…"
)

// queue lists applications of a municipality in a status, oldest first;
// assignee filters (AnyAssignee: all).
func queue(ctx context.Context, q querier, ars string, status Status, assignee string, limit int) ([]appRow, error) {
	return queueFiltered(ctx, q, ars, status, QueueFilter{Assignee: assignee}, limit)
}

// queueFiltered lists applications with status, filtered: by assignee, by
// zone (one of the address's zones), by a rule whose result is open
// (open_rules), oldest or newest first.
func queueFiltered(ctx context.Context, q querier, ars string, status Status, f QueueFilter, limit int) ([]appRow, error) {
	assignee := f.Assignee // as the query compares: '*' any, '' nobody
	switch f.Assignee {
	case AnyAssignee:
		assignee = "*"
	case Unassigned:
		assignee = ""
	}
	order := "created_at, id"
	if f.Newest {
		order = "created_at DESC, id DESC"
	}
	reason := ""
	if f.Reason != "" {
		reason = "%," + f.Reason + ",%"
	}
	rows, err := q.QueryContext(ctx, `SELECT `+appSelect+` FROM parking_applications
		WHERE municipality = $1 AND status = $2 AND ($3 = '*' OR assignee = $3)
		AND ($4 = '' OR (',' || zone_id || ',') LIKE ('%,' || $4 || ',%'))
		AND ($5 = '' OR open_rules LIKE $5)
		ORDER BY `+order+` LIMIT $6`, ars, status, assignee, f.Zone, reason, limit)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	defer rows.Close()
	var out []appRow
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// countActivePermits counts a person's active permits in force on any day
// from from to until, without except (the permit a renewal renews or a
// change replaces; "" for none).
func countActivePermits(ctx context.Context, q querier, ars, personHash string, from, until time.Time, except string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM parking_permits p JOIN parking_applications a ON a.id = p.application_id
		WHERE p.municipality = $1 AND a.person_hash = $2 AND p.status = 'active' AND p.valid_until >= $3 AND p.valid_from <= $4 AND p.number <> $5`,
		ars, personHash, from.Format(dateLayout), until.Format(dateLayout), except).Scan(&n)
	return n, err
}

// openRenewal returns the open renewal of a permit (not rejected or
// withdrawn); NotFound when there is none.
func openRenewal(ctx context.Context, q querier, permit string) (appRow, error) {
	a, err := scanApp(q.QueryRowContext(ctx, `SELECT `+appSelect+` FROM parking_applications
		WHERE renews_permit = $1 AND status NOT IN ('rejected', 'withdrawn')`, permit))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errs.E(errs.NotFound, "keine Verlängerung")
	}
	if err != nil {
		return a, fmt.Errorf("open renewal of %s: %w", permit, err)
	}
	return a, nil
}

// Payments.

type paymentRow struct {
	ID, ApplicationID, Provider string
	AmountCents                 int64
	Kassenzeichen, Status       string
	CreatedAt                   time.Time
}

func insertPayment(ctx context.Context, tx *sql.Tx, p paymentRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO parking_payments (id, application_id, provider, amount_cents, kassenzeichen, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, p.ID, p.ApplicationID, p.Provider, p.AmountCents, p.Kassenzeichen, p.Status, p.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	return nil
}

func getPayment(ctx context.Context, q querier, id string) (paymentRow, error) {
	var p paymentRow
	err := q.QueryRowContext(ctx, `SELECT id, application_id, provider, amount_cents, kassenzeichen, status, created_at
		FROM parking_payments WHERE id = $1`, id).Scan(&p.ID, &p.ApplicationID, &p.Provider, &p.AmountCents, &p.Kassenzeichen, &p.Status, &p.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return p, errs.E(errs.NotFound, "Die Zahlung %s gibt es nicht.", id)
	}
	return p, err
}

// setPaymentStatus moves a pending payment on; false when it was not pending.
func setPaymentStatus(ctx context.Context, tx *sql.Tx, id, status string, now time.Time) (bool, error) {
	paidAt := sql.NullTime{}
	if status == "paid" {
		paidAt = sql.NullTime{Time: now, Valid: true}
	}
	res, err := tx.ExecContext(ctx, `UPDATE parking_payments SET status = $2, updated_at = $3, paid_at = $4 WHERE id = $1 AND status = 'pending'`,
		id, status, now, paidAt)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// recordPaymentEvent stores a provider event once; false for a replay.
func recordPaymentEvent(ctx context.Context, tx *sql.Tx, provider, eventID, paymentID string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO payment_events (provider, event_id, payment_id, received_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (provider, event_id) DO NOTHING`, provider, eventID, paymentID, now)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Permits.

func insertPermit(ctx context.Context, tx *sql.Tx, applicationID string, p Permit) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO parking_permits (number, application_id, municipality, plate, zone_id, valid_from, valid_until, status, token, issued_at,
			term_fee_cents, term_from, term_months)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, p.Number, applicationID, p.Municipality, p.Plate, p.ZoneID,
		p.ValidFrom.Format(dateLayout), p.ValidUntil.Format(dateLayout), p.Status, p.Token, p.IssuedAt,
		p.TermFeeCents, p.TermFrom.Format(dateLayout), p.TermMonths)
	if err != nil {
		if strings.Contains(err.Error(), "parking_permits_no_overlap") {
			return errs.Wrap(errs.Conflict, err, "Für das Kennzeichen %s gibt es in diesem Zeitraum schon einen gültigen Bewohnerparkausweis.", p.Plate)
		}
		return fmt.Errorf("insert permit: %w", err)
	}
	return nil
}

const permitColumns = `number, municipality, plate, zone_id, valid_from, valid_until, status, token, issued_at,
	ended_on, end_reason, replaced_by, term_fee_cents, term_from, term_months`

func scanPermit(row interface{ Scan(...any) error }) (Permit, error) {
	var p Permit
	var ended, termFrom sql.NullTime
	var replacedBy sql.NullString
	var termFee, termMonths sql.NullInt64
	err := row.Scan(&p.Number, &p.Municipality, &p.Plate, &p.ZoneID, &p.ValidFrom, &p.ValidUntil, &p.Status, &p.Token, &p.IssuedAt,
		&ended, &p.EndReason, &replacedBy, &termFee, &termFrom, &termMonths)
	p.ValidFrom, p.ValidUntil = p.ValidFrom.UTC(), p.ValidUntil.UTC()
	if ended.Valid {
		p.EndedOn = ended.Time.UTC()
	}
	p.ReplacedBy, p.TermFeeCents, p.TermMonths = replacedBy.String, termFee.Int64, int(termMonths.Int64)
	// Permits issued before terms were recorded: the permit is its term.
	p.TermFrom = p.ValidFrom
	if termFrom.Valid {
		p.TermFrom = termFrom.Time.UTC()
	}
	return p, err
}

// endPermit ends an active permit today ("replaced" or "cancelled"); false
// when it was not active any more.
func endPermit(ctx context.Context, tx *sql.Tx, number, reason, replacedBy string, day time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE parking_permits SET status = 'revoked', ended_on = $2, end_reason = $3, replaced_by = $4
		WHERE number = $1 AND status = 'active'`, number, day.Format(dateLayout), reason, sql.NullString{String: replacedBy, Valid: replacedBy != ""})
	if err != nil {
		return false, fmt.Errorf("end permit: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// openChange returns the open change or reissue of a permit (not rejected
// or withdrawn, not yet issued); NotFound when there is none.
func openChange(ctx context.Context, q querier, permit string) (appRow, error) {
	a, err := scanApp(q.QueryRowContext(ctx, `SELECT `+appSelect+` FROM parking_applications
		WHERE replaces_permit = $1 AND status NOT IN ('rejected', 'withdrawn')`, permit))
	if errors.Is(err, sql.ErrNoRows) {
		return a, errs.E(errs.NotFound, "keine Änderung")
	}
	if err != nil {
		return a, fmt.Errorf("open change of %s: %w", permit, err)
	}
	return a, nil
}

// Refunds.

type refundRow struct {
	PermitNumber, ApplicationID string
	AmountCents                 int64
	Rule, Status, Booking       string
	CreatedAt                   time.Time
}

func insertRefund(ctx context.Context, tx *sql.Tx, r refundRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO parking_refunds (permit_number, application_id, amount_cents, rule, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'ordered', $5, $5)`, r.PermitNumber, r.ApplicationID, r.AmountCents, r.Rule, r.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert refund: %w", err)
	}
	return nil
}

func refundOfPermit(ctx context.Context, q querier, number string) (*refundRow, error) {
	var r refundRow
	err := q.QueryRowContext(ctx, `SELECT permit_number, application_id, amount_cents, rule, status, booking, created_at
		FROM parking_refunds WHERE permit_number = $1`, number).Scan(&r.PermitNumber, &r.ApplicationID, &r.AmountCents, &r.Rule, &r.Status, &r.Booking, &r.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load refund: %w", err)
	}
	return &r, nil
}

func permitOfApplication(ctx context.Context, q querier, applicationID string) (*Permit, error) {
	p, err := scanPermit(q.QueryRowContext(ctx, `SELECT `+permitColumns+` FROM parking_permits WHERE application_id = $1`, applicationID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // an application without a permit is normal, not an error
	}
	if err != nil {
		return nil, fmt.Errorf("load permit: %w", err)
	}
	return &p, nil
}

func permitByNumber(ctx context.Context, q querier, number string) (Permit, error) {
	p, err := scanPermit(q.QueryRowContext(ctx, `SELECT `+permitColumns+` FROM parking_permits WHERE number = $1`, number))
	if errors.Is(err, sql.ErrNoRows) {
		return p, errs.E(errs.NotFound, "Den Ausweis %s gibt es nicht.", number)
	}
	return p, err
}

// latestPermitEnd returns the last day of the plate's active permits, for
// appending a renewal; zero when there is none. (ORDER BY … LIMIT 1 rather
// than MAX(), whose result SQLite returns untyped.)
func latestPermitEnd(ctx context.Context, q querier, ars, plate string) (time.Time, error) {
	var t time.Time
	err := q.QueryRowContext(ctx, `SELECT valid_until FROM parking_permits WHERE municipality = $1 AND plate = $2 AND status = 'active'
		ORDER BY valid_until DESC LIMIT 1`, ars, plate).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("latest permit of plate: %w", err)
	}
	return t.UTC(), nil
}

// Installation secrets.

// secret returns the installation's secret of that name, creating it on
// first use (32 random bytes, hex).
func secret(ctx context.Context, db *store.DB, name string) ([]byte, error) {
	var v string
	err := db.Read().QueryRowContext(ctx, "SELECT value FROM installation_secrets WHERE name = $1", name).Scan(&v)
	if err == nil {
		return hex.DecodeString(v)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	var b [32]byte
	rand.Read(b[:])
	err = db.Transact(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO installation_secrets (name, value, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, hex.EncodeToString(b[:]), time.Now().UTC().Format(time.RFC3339))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", name, err)
	}
	if err := db.Read().QueryRowContext(ctx, "SELECT value FROM installation_secrets WHERE name = $1", name).Scan(&v); err != nil {
		return nil, err
	}
	return hex.DecodeString(v)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
