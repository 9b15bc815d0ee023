package parking

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/payment"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/vault"
)

// Registers are the offices the service asks.
type Registers struct {
	Residence registers.Residence
	Vehicles  registers.Vehicles
	Treasury  registers.Treasury
}

// Service runs the Fachverfahren.
type Service struct {
	db        *store.DB
	jobs      *jobs.Client
	geo       *geo.Service
	registers Registers
	configs   map[string]*rules.Config // by ARS; replaced as a whole under configMu (rules_activate.go)
	configMu  sync.RWMutex
	// rulesLoadedAt: when activated rule files were last looked for (unix
	// ns); rulesRefreshing: a look is under way.
	rulesLoadedAt   atomic.Int64
	rulesRefreshing atomic.Bool
	signer          *documents.Signer
	verifier        *documents.Verifier
	payments        payment.Provider
	mail            *mail.Outbox
	logger          *slog.Logger
	now             func() time.Time

	// BaseURL is how citizens reach this server (links in permits, payment
	// return and callback URLs).
	BaseURL string
	// Authority names the issuing authority on permits, by ARS.
	Authority map[string]string
	// Demo marks permits as specimens ("MUSTER") and the verification page
	// as a demo's.
	Demo bool
	// PublicOutbox: every e-mail is shown on a public page (the demo's
	// /demo/post); the form warns not to enter a real address.
	PublicOutbox bool
	// PaymentTimeout releases an application whose payment never completes.
	PaymentTimeout time.Duration
	// GroupSubmissions commits concurrent submissions together through one
	// writer (store.Group). NewService sets it for SQLite, which has one
	// writer anyway and pays a log sync per commit; on PostgreSQL
	// concurrent transactions on their own connections are faster (its
	// WAL flush already serves several commits; BENCHMARKS.md).
	GroupSubmissions bool
	// TargetWorkingDays is the processing target of the queue: cases in
	// review longer are marked overdue (RATHAUS_PARKING_TARGET_DAYS).
	TargetWorkingDays int

	previousKeys []*ecdsa.PublicKey // earlier signing keys (Options.PreviousKeys)

	hmacKey []byte         // installation secret for access codes and person hashes
	vault   *vault.Keyring // seals uploaded documents (SetVault); nil: no uploads
	limiter *limiter       // enforcement lookups per API key

	submitOnce  sync.Once
	submitGroup *store.Group[*submission]
	lastSubmit  atomic.Int64  // unix nanoseconds of the latest submission (backgroundTransact)
	background  chan struct{} // the one background write slot while submissions come in
	gateOnce    sync.Once
	gate        *apiGate // verified API keys and the enforcement audit writer (Service.enforcement)
}

// Options wires a Service.
type Options struct {
	DB        *store.DB
	Geo       *geo.Service
	Registers Registers
	Configs   map[string]*rules.Config
	Signer    *documents.Signer
	Verifier  *documents.Verifier // must accept Signer's key and PreviousKeys
	// PreviousKeys are the public keys of earlier signing keys: their
	// permits still verify and the keys are published with the current
	// one (key rotation, RATHAUS_PARKING_PREVIOUS_KEYS).
	PreviousKeys []*ecdsa.PublicKey
	Payments     payment.Provider
	// Mail is the outbox the service's e-mails go to (receipt, decision,
	// permit, reminders); each is enqueued in the transaction of its cause.
	Mail    *mail.Outbox
	Logger  *slog.Logger
	BaseURL string
	Demo    bool
	// PublicOutbox: see Service.PublicOutbox.
	PublicOutbox bool
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// NewService returns a Service; SetJobs must be called before use.
func NewService(ctx context.Context, o Options) (*Service, error) {
	if o.Mail == nil {
		return nil, errors.New("parking: no mail outbox (Options.Mail)")
	}
	key, err := secret(ctx, o.DB, "parking-hmac")
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{db: o.DB, geo: o.Geo, registers: o.Registers, configs: o.Configs, signer: o.Signer, verifier: o.Verifier, previousKeys: o.PreviousKeys,
		payments: o.Payments, mail: o.Mail, logger: o.Logger, now: o.Now, BaseURL: strings.TrimRight(o.BaseURL, "/"), Demo: o.Demo,
		PublicOutbox:   o.PublicOutbox,
		PaymentTimeout: 30 * time.Minute, hmacKey: key, Authority: map[string]string{}, GroupSubmissions: o.DB.Engine == store.SQLite,
		background: make(chan struct{}, 1), TargetWorkingDays: DefaultTargetWorkingDays,
		limiter: &limiter{Rate: 1000, Burst: 2000}}
	if n, err := s.RehashPersons(ctx); err != nil {
		return nil, fmt.Errorf("parking: person hashes: %w", err)
	} else if n > 0 && o.Logger != nil {
		o.Logger.Info("parking: person hashes recomputed", "applications", n)
	}
	// Rule files activated in the workbench replace the deployed ones.
	if n, err := s.LoadActivatedRules(ctx); err != nil {
		return nil, fmt.Errorf("parking: activated rules: %w", err)
	} else if n > 0 && o.Logger != nil {
		o.Logger.Info("parking rules from the workbench in force", "municipalities", n)
	}
	return s, nil
}

// SetJobs sets the job client (the client runs this service's workers).
func (s *Service) SetJobs(c *jobs.Client) { s.jobs = c }

// Register adds the service's workers.
func (s *Service) Register(w *river.Workers) {
	river.AddWorker(w, &checkWorker{s: s})
	river.AddWorker(w, &paymentTimeoutWorker{s: s})
	river.AddWorker(w, &retentionWorker{s: s})
	river.AddWorker(w, &reminderWorker{s: s})
	river.AddWorker(w, &refundWorker{s: s})
	river.AddWorker(w, &infoRequestWorker{s: s})
}

// berlin is the time zone legal dates are counted in.
var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}()

// today is the legal date now, as UTC midnight.
func (s *Service) today() time.Time {
	y, m, d := s.now().In(berlin).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (s *Service) config(ars string) (*rules.Config, error) {
	s.refreshRules()
	c, ok := s.allConfigs()[ars]
	if !ok {
		return nil, errs.E(errs.NotFound, "Die Kommune %s bietet den Bewohnerparkausweis hier nicht an.", ars)
	}
	return c, nil
}

// Offer is what a municipality offers today: for the start page.
type Offer struct {
	Municipality string
	ARS          string
	Rules        *rules.RuleSet
	Fees         *rules.FeeSchedule
}

// Offer returns the rules and fees in force today.
func (s *Service) Offer(ars string) (Offer, error) {
	c, err := s.config(ars)
	if err != nil {
		return Offer{}, err
	}
	rs, err := c.RulesAt(s.today())
	if err != nil {
		return Offer{}, err
	}
	fs, err := c.FeesAt(s.today())
	if err != nil {
		return Offer{}, err
	}
	return Offer{Municipality: c.Municipality, ARS: ars, Rules: rs, Fees: fs}, nil
}

// Receipt is what the citizen gets right after submitting.
type Receipt struct {
	Reference  string
	AccessCode string
	Status     Status
	Created    bool // false when an idempotent retry found the earlier application
}

// Submit validates and stores an application and enqueues its checks, in
// one transaction. idempotencyKey (the API's Idempotency-Key header, the
// form's hidden field) makes a retried or double-clicked submit return the
// same application; the same key with another request is a Conflict.
func (s *Service) Submit(ctx context.Context, ars string, f Form, idempotencyKey string) (Receipt, error) {
	return s.submit(ctx, ars, f, idempotencyKey, nil)
}

// submit stores an application: a first one when ren is nil, otherwise a
// renewal, change or reissue of ren.permit.
func (s *Service) submit(ctx context.Context, ars string, f Form, idempotencyKey string, ren *basis) (Receipt, error) {
	if len(idempotencyKey) > 200 {
		return Receipt{}, errs.Field("Idempotency-Key", "Der Schlüssel ist zu lang (höchstens 200 Zeichen).")
	}
	today := s.today()
	v, stored, err := s.resolve(ctx, ars, f, today)
	if err != nil {
		return Receipt{}, err
	}
	personHash := s.personHash(v.GivenNames, v.FamilyName, v.birth)
	zoneIDs := stored.ZoneIDs
	data := mustJSON(stored)
	// A renewal hashes the permit it renews too: the same key cannot stand
	// for a new application and a renewal.
	hashed := ars + "\x00"
	if ren != nil {
		if err := ren.check(v, stored, personHash); err != nil {
			return Receipt{}, err
		}
		hashed = ars + "\x00" + string(ren.kind) + ":" + ren.permit.Number + "\x00"
	}
	reqHash := sha256.Sum256(append([]byte(hashed), data...))

	now := s.now().UTC()
	var b [10]byte
	rand.Read(b[:])
	row := appRow{
		ID:             "app_" + hex.EncodeToString(b[:]),
		Municipality:   ars,
		Reference:      newReference(today),
		RequestHash:    hex.EncodeToString(reqHash[:]),
		Status:         Received,
		AppliedOn:      today,
		Data:           string(data),
		Plate:          v.Plate,
		PersonHash:     personHash,
		ZoneID:         strings.Join(zoneIDs, ","),
		DurationMonths: v.DurationMonths,
		CreatedAt:      now,
		UpdatedAt:      now,
		Kind:           KindNew,
	}
	code := s.accessCode(row.ID)
	row.AccessCodeHash = hashCode(code)
	if idempotencyKey != "" {
		row.IdempotencyKey = sql.NullString{String: idempotencyKey, Valid: true}
	}
	note := ""
	if ren != nil {
		row.Kind = ren.kind
		switch ren.kind {
		case KindRenewal:
			row.RenewsPermit = sql.NullString{String: ren.permit.Number, Valid: true}
			note = "Verlängerung des Ausweises " + ren.permit.Number
		default:
			row.ReplacesPermit = sql.NullString{String: ren.permit.Number, Valid: true}
			note = ren.kind.Label() + " des Ausweises " + ren.permit.Number
		}
	}
	it := &submission{row: row, ren: ren, note: note, mail: s.receiptMail(ars, v.Email, row.Reference, ren)}
	s.lastSubmit.Store(time.Now().UnixNano()) // machine time: the rush is about load, not legal dates
	if s.GroupSubmissions {
		err = s.submissions().Add(ctx, it)
	} else {
		err = s.db.Transact(ctx, func(tx *sql.Tx) error { return s.writeSubmissions(ctx, tx, []*submission{it}) })
	}
	if err == nil {
		err = it.err
	}
	row = it.row
	if errors.Is(err, errReplay) {
		if row.RequestHash != hex.EncodeToString(reqHash[:]) {
			return Receipt{}, errs.E(errs.Conflict, "Dieser Idempotency-Key wurde schon für einen anderen Antrag verwendet.")
		}
		return Receipt{Reference: row.Reference, AccessCode: s.accessCode(row.ID), Status: row.Status}, nil
	}
	if err != nil && idempotencyKey != "" && !errs.Is(err, errs.Conflict) && isUniqueViolation(err) {
		// Two identical submits raced; the other one won. Answer with it.
		return s.submit(ctx, ars, f, idempotencyKey, ren)
	}
	if err != nil {
		return Receipt{}, err
	}
	s.logger.Info("parking application received", "reference", row.Reference, "ars", ars, "kind", string(row.Kind))
	return Receipt{Reference: row.Reference, AccessCode: code, Status: Received, Created: true}, nil
}

var errReplay = errors.New("idempotent replay")

// rushWindow: for this long after a submission, background writes yield
// to submissions (backgroundTransact).
const rushWindow = 200 * time.Millisecond

// backgroundTransact runs a write of the job pipeline (checks, decisions,
// the Kassenzeichen). On SQLite every write waits for the one write
// connection, and the pipeline's many small transactions would take most
// of its turns from the submissions; so while submissions come in (within
// rushWindow of the latest), only one background transaction at a time
// waits for the connection beside them. Applications are acknowledged
// first and checked as the rush allows; the checks catch up after it
// (BENCHMARKS.md). On PostgreSQL, with a pool of connections, writes do
// not queue on one connection and nothing waits here.
func (s *Service) backgroundTransact(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.GroupSubmissions && time.Duration(time.Now().UnixNano()-s.lastSubmit.Load()) < rushWindow {
		select {
		case s.background <- struct{}{}:
			defer func() { <-s.background }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.db.Transact(ctx, fn)
}

// submission is one application on its way into the database.
type submission struct {
	row  appRow
	ren  *basis
	note string
	mail mail.Message
	err  error // this submission's own outcome within its batch
	jobs []river.InsertManyParams
}

// submissions commits concurrent submissions together (group commit,
// store.Group): a durable commit costs one sync of the log whether it holds
// one application or dozens, so under load many share it. A caller returns
// only after its application is committed, as before. Within a batch each
// submission runs in a savepoint of its own: one that fails (a replayed
// Idempotency-Key, an open renewal) is rolled back alone and gets its own
// error; the others are committed.
func (s *Service) submissions() *store.Group[*submission] {
	s.submitOnce.Do(func() {
		s.submitGroup = store.NewGroup(s.db, s.writeSubmissions, store.GroupOptions{MaxBatch: 64})
	})
	return s.submitGroup
}

// SubmitStats counts the commits of submissions: Items per Batches is how
// many applications share a commit.
func (s *Service) SubmitStats() store.GroupStats { return s.submissions().Stats() }

// writeSubmissions writes a batch; the check and e-mail jobs of the
// submissions that succeeded are enqueued together, with one statement, at
// the end (River's insert has a large fixed cost per call).
func (s *Service) writeSubmissions(ctx context.Context, tx *sql.Tx, items []*submission) error {
	var jobs []river.InsertManyParams
	if len(items) == 1 {
		// Alone in its transaction: its error rolls the transaction back.
		it := items[0]
		if it.err = s.writeSubmission(ctx, tx, it); it.err != nil {
			if errors.Is(it.err, errReplay) {
				return nil
			}
			return it.err
		}
		return s.jobs.InsertManyTx(ctx, tx, it.jobs)
	}
	for _, it := range items {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT submission"); err != nil {
			return err
		}
		if it.err = s.writeSubmission(ctx, tx, it); it.err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT submission"); err != nil {
				return err
			}
		} else {
			jobs = append(jobs, it.jobs...)
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT submission"); err != nil {
			return err
		}
	}
	return s.jobs.InsertManyTx(ctx, tx, jobs)
}

// writeSubmission stores one application with its first event and its
// receipt e-mail, and leaves their jobs (checks, sending) in it.jobs for
// writeSubmissions to enqueue. A known Idempotency-Key answers errReplay
// with it.row set to the earlier application.
func (s *Service) writeSubmission(ctx context.Context, tx *sql.Tx, it *submission) error {
	row := it.row
	if row.IdempotencyKey.Valid {
		prev, err := appByIdempotencyKey(ctx, tx, row.Municipality, row.IdempotencyKey.String)
		if err == nil {
			it.row = prev
			return errReplay
		}
		if !errs.Is(err, errs.NotFound) {
			return err
		}
	}
	if it.ren != nil {
		if err := it.ren.refuseOpen(ctx, tx, s.db.Engine); err != nil {
			return err
		}
	}
	if err := insertApplication(ctx, tx, row); err != nil {
		return err
	}
	if err := addEvent(ctx, tx, row.ID, "", Received, "citizen", it.note, row.CreatedAt); err != nil {
		return err
	}
	it.jobs = append(it.jobs[:0], river.InsertManyParams{Args: CheckArgs{ApplicationID: row.ID}})
	if it.mail.To == "" {
		return nil
	}
	_, job, err := s.mail.Store(ctx, tx, it.mail)
	if err != nil {
		return fmt.Errorf("mail for %s: %w", it.mail.Reference, err)
	}
	it.jobs = append(it.jobs, job)
	return nil
}

// Check validates a form as Submit would, without storing anything, and
// completes f's address with the register's spelling (for the summary).
func (s *Service) Check(ctx context.Context, ars string, f *Form) error {
	v, _, err := s.resolve(ctx, ars, *f, s.today())
	if err != nil {
		return err
	}
	f.Address, f.Plate = v.Address, v.Plate
	return nil
}

// resolve validates the form against the rules in force and resolves the
// address against the register: it must be known, unambiguous and in a
// zone — telling the citizen now saves an application that cannot succeed.
func (s *Service) resolve(ctx context.Context, ars string, f Form, today time.Time) (validated, storedForm, error) {
	c, err := s.config(ars)
	if err != nil {
		return validated{}, storedForm{}, err
	}
	rs, err := c.RulesAt(today)
	if err != nil {
		return validated{}, storedForm{}, err
	}
	v, verr := validate(f, rs, today)
	if v.Address == "" {
		return v, storedForm{}, verr
	}
	res, err := s.geo.LookupAddress(ctx, ars, v.Address)
	if errs.Is(err, errs.Invalid) {
		return v, storedForm{}, errors.Join(verr, errs.Field("address", "%s", errs.MessageOf(err)))
	}
	if err != nil {
		return v, storedForm{}, err
	}
	var addr geo.Address
	ok := res.Found != nil
	if ok {
		addr = *res.Found
	}
	var aerr error
	switch {
	case !ok && len(res.Match.Addresses) > 1:
		var labels []string
		for _, a := range res.Match.Addresses {
			labels = append(labels, geo.Label(a, ""))
		}
		aerr = errs.Field("address", "Die Adresse ist mehrdeutig. Bitte geben Sie die Postleitzahl an: %s.", strings.Join(labels, "; "))
	case !ok:
		msg := "Diese Adresse ist uns nicht bekannt. Bitte prüfen Sie Straße und Hausnummer."
		if len(res.Match.Suggestions) > 0 {
			msg += " Meinten Sie: " + geo.Label(res.Match.Suggestions[0], "") + "?"
		}
		aerr = errs.Field("address", "%s", msg)
	case len(res.Zones) == 0:
		aerr = errs.Field("address", "%s liegt in keiner Bewohnerparkzone; dort kann kein Bewohnerparkausweis ausgestellt werden.", geo.Label(addr, ""))
	}
	if err := errors.Join(verr, aerr); err != nil {
		return v, storedForm{}, err
	}
	v.Address = geo.Label(addr, "")
	var zoneIDs []string
	for _, z := range res.Zones {
		zoneIDs = append(zoneIDs, z.ID)
	}
	return v, storedForm{Form: v.Form, Street: addr.Street, HouseNumber: addr.HouseNumber, Postcode: addr.Postcode, ZoneIDs: zoneIDs}, nil
}

func isUniqueViolation(err error) bool {
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}

// storedForm is the form as stored: validated and with the matched address.
type storedForm struct {
	Form
	Street      string   `json:"street"`
	HouseNumber string   `json:"house_number"`
	Postcode    string   `json:"postcode"`
	ZoneIDs     []string `json:"zone_ids"`
}

// crockford is Crockford's base32 alphabet: no I, L, O, U — easy to read
// aloud and type.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// newReference returns an Aktenzeichen like "BP-2026-7KQ4M2XD": random, so
// that it reveals nothing about volumes and cannot be guessed.
func newReference(day time.Time) string {
	var b [5]byte
	rand.Read(b[:])
	return fmt.Sprintf("BP-%d-%s", day.Year(), crockford.EncodeToString(b[:]))
}

// accessCode derives the status-page code of an application (10 base32
// characters, 50 bits) from the installation secret, so that an idempotent
// retry can show it again without it being stored.
func (s *Service) accessCode(id string) string {
	m := hmac.New(sha256.New, s.hmacKey)
	m.Write([]byte("access-code\x00" + id))
	return crockford.EncodeToString(m.Sum(nil))[:10]
}

func hashCode(code string) string {
	h := sha256.Sum256([]byte(normaliseCode(code)))
	return hex.EncodeToString(h[:])
}

// normaliseCode accepts what people type: lower case, spaces, hyphens, and
// the letters Crockford maps to digits.
func normaliseCode(c string) string {
	c = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(c))
	return strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(c)
}

// personHashPrefix marks the current form of person_hash: keyed over
// registers.PersonKey, so name particles written with the given names or
// with the family name ("Ursula von der" / "Leyen", "Ursula" / "von der
// Leyen") give one person. Hashes of the earlier form (NormalizeName of
// each field on its own, no prefix) are recomputed from the stored form by
// RehashPersons at start.
const personHashPrefix = "p2:"

// personHash identifies a person across applications without a person
// table: keyed hash of the person's name key and birth date.
func (s *Service) personHash(given, family string, birth time.Time) string {
	m := hmac.New(sha256.New, s.hmacKey)
	fmt.Fprintf(m, "person2\x00%s\x00%s", registers.PersonKey(given, family), birth.Format(dateLayout))
	return personHashPrefix + hex.EncodeToString(m.Sum(nil))
}

// RehashPersons recomputes the person hashes of the earlier form from the
// stored forms (anonymised cases have none and keep none) and returns how
// many it changed. It is idempotent; NewService runs it.
func (s *Service) RehashPersons(ctx context.Context) (int, error) {
	type old struct{ id, data string }
	total := 0
	for {
		rows, err := s.db.Read().QueryContext(ctx, `SELECT id, data FROM parking_applications
			WHERE person_hash <> '' AND person_hash NOT LIKE 'p2:%' ORDER BY id LIMIT 500`)
		if err != nil {
			return total, err
		}
		var batch []old
		for rows.Next() {
			var o old
			if err := rows.Scan(&o.id, &o.data); err != nil {
				rows.Close()
				return total, err
			}
			batch = append(batch, o)
		}
		if err := rows.Close(); err != nil {
			return total, err
		}
		if len(batch) == 0 {
			return total, nil
		}
		err = s.db.Transact(ctx, func(tx *sql.Tx) error {
			for _, o := range batch {
				var sf storedForm
				h := ""
				if json.Unmarshal([]byte(o.data), &sf) == nil && sf.FamilyName != "" {
					birth, _ := parseDate(sf.BirthDate)
					h = s.personHash(sf.GivenNames, sf.FamilyName, birth)
				}
				if h == "" {
					h = personHashPrefix + "unbekannt-" + o.id // unreadable form: a hash of its own, never shared
				}
				if _, err := tx.ExecContext(ctx, `UPDATE parking_applications SET person_hash = $1 WHERE id = $2`, h, o.id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(batch)
	}
}

// Get returns an application for the citizen who holds its access code.
// A wrong code answers NotFound, exactly like an unknown reference, so the
// answer does not tell which references exist.
func (s *Service) Get(ctx context.Context, reference, code string) (Application, error) {
	row, err := s.authorised(ctx, reference, code)
	if err != nil {
		return Application{}, err
	}
	return s.load(ctx, row)
}

// authorised returns the application the access code opens; NotFound
// otherwise (see Get).
func (s *Service) authorised(ctx context.Context, reference, code string) (appRow, error) {
	row, err := getApp(ctx, s.db.Read(), s.db.Engine, "reference", strings.ToUpper(strings.TrimSpace(reference)), false)
	if err == nil && !hmac.Equal([]byte(row.AccessCodeHash), []byte(hashCode(code))) {
		err = errs.E(errs.NotFound, "Antrag nicht gefunden.")
	}
	if err != nil {
		return appRow{}, errs.E(errs.NotFound, "Zu diesem Aktenzeichen und Zugangscode gibt es keinen Antrag.")
	}
	return row, nil
}

// load completes an application row with its history and permit.
func (s *Service) load(ctx context.Context, row appRow) (Application, error) {
	a, err := s.decode(row)
	if err != nil {
		return a, err
	}
	if a.Events, err = events(ctx, s.db.Read(), row.ID); err != nil {
		return a, err
	}
	if a.Permit, err = permitOfApplication(ctx, s.db.Read(), row.ID); err != nil {
		return a, err
	}
	return a, nil
}

// decode is an application as stored, without its events and permit.
func (s *Service) decode(row appRow) (Application, error) {
	var sf storedForm
	if err := json.Unmarshal([]byte(row.Data), &sf); err != nil {
		return Application{}, fmt.Errorf("decode application %s: %w", row.ID, err)
	}
	a := Application{ID: row.ID, Municipality: row.Municipality, Reference: row.Reference, Status: row.Status,
		AppliedOn: row.AppliedOn, Form: sf.Form, Plate: row.Plate, ZoneID: row.ZoneID, DurationMonths: row.DurationMonths,
		Kassenzeichen: row.Kassenzeichen, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt, RenewsPermit: row.RenewsPermit.String,
		Kind: row.Kind, ReplacesPermit: row.ReplacesPermit.String, Assignee: row.Assignee, AssigneeName: row.AssigneeName}
	if row.AssignedAt.Valid {
		a.AssignedAt = row.AssignedAt.Time
	}
	if row.FeeCents.Valid {
		f := row.FeeCents.Int64
		a.FeeCents = &f
	}
	if row.Outcome != "" {
		var d Decision
		if err := json.Unmarshal([]byte(row.Outcome), &d); err != nil {
			return a, fmt.Errorf("decode outcome of %s: %w", row.ID, err)
		}
		a.Outcome = &d
	}
	return a, nil
}
