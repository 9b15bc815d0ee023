package parking

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/registers"
)

// Decision is the stored outcome of an application: the rule trace (each
// rule with its legal source), the fee, and who decided.
type Decision struct {
	Verdict   rules.Verdict  `json:"verdict"`
	Automatic bool           `json:"automatic"`
	By        string         `json:"by"`
	At        time.Time      `json:"at"`
	Results   []rules.Result `json:"results"`
	FeeCents  *int64         `json:"fee_cents,omitempty"`
	FeeTier   string         `json:"fee_tier,omitempty"`
	FeeSource string         `json:"fee_source,omitempty"`
	Reasons   string         `json:"reasons,omitempty"` // the clerk's own words
	Grounds   []string       `json:"grounds,omitempty"` // rules of the results a clerk's rejection rests on
	// FeeCorrections are the clerks' changes of the fee before approval.
	FeeCorrections []FeeCorrection `json:"fee_corrections,omitempty"`
	Checks         []CheckRecord   `json:"checks"`
	// Facts are what the rules were evaluated on (register answers and
	// form), kept to preview a new rule file on real cases
	// (PreviewRules); personal data, anonymised with the case.
	Facts *rules.Facts `json:"facts,omitempty"`
}

// CheckRecord says which register answered what, when, and why it was asked.
type CheckRecord struct {
	Register string    `json:"register"`
	Question string    `json:"question"`
	Answer   string    `json:"answer"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
}

// CheckArgs is the job that checks an application against the registers
// and decides it, or sends it to review; for an approved application it
// posts the fee to the treasury.
type CheckArgs struct {
	ApplicationID string `json:"application_id"`
}

// Kind implements river.JobArgs.
func (CheckArgs) Kind() string { return "parking.check" }

// InsertOpts: many attempts (NextRetry: at most 5 minutes apart, so 1,000
// attempts wait about three and a half days), so a register that is down
// for hours or a weekend delays the decision but never loses it.
func (CheckArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1000} }

// maxCheckBackoff caps the wait between two attempts of a check: once a
// register's node is back, waiting applications resume within minutes
// (River's default backoff grows with the fourth power of the attempt:
// after ten failures, hours).
const maxCheckBackoff = 5 * time.Minute

type checkWorker struct {
	river.WorkerDefaults[CheckArgs]
	s *Service
}

// NextRetry waits 2, 4, 8, … seconds after the attempts that failed, at
// most maxCheckBackoff.
func (w *checkWorker) NextRetry(job *river.Job[CheckArgs]) time.Time {
	d := maxCheckBackoff
	if n := job.Attempt; n < 9 {
		d = min(time.Duration(1<<n)*time.Second, maxCheckBackoff)
	}
	return time.Now().Add(d)
}

// Timeout bounds one attempt: the register calls have their own deadlines.
func (w *checkWorker) Timeout(*river.Job[CheckArgs]) time.Duration { return time.Minute }

func (w *checkWorker) Work(ctx context.Context, job *river.Job[CheckArgs]) error {
	return w.s.check(ctx, job.Args.ApplicationID)
}

func (s *Service) check(ctx context.Context, id string) error {
	row, err := getApp(ctx, s.db.Read(), s.db.Engine, "id", id, false)
	if errs.Is(err, errs.NotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		// The database did not answer (a restart, a lost connection): the
		// application is still there, so River tries again. Cancelling
		// here left it "eingegangen" for good.
		return err
	}
	switch {
	case row.Status == Received || row.Status == Checking:
		return s.checkAndDecide(ctx, row)
	case row.Status == Approved && row.Kassenzeichen == "":
		return s.postReceivable(ctx, row)
	}
	return nil // already past this step: a retried job does nothing twice
}

func (s *Service) purpose(row appRow) registers.Purpose {
	return registers.Purpose{
		Procedure:     "Bewohnerparkausweis",
		FileReference: row.Reference,
		Reason:        "Prüfung der Voraussetzungen für einen Bewohnerparkausweis (§ 45 Abs. 1b Satz 1 Nr. 2a StVO)",
		LegalBasis:    "§ 34 BMG",
		Municipality:  row.Municipality,
	}
}

func (s *Service) checkAndDecide(ctx context.Context, row appRow) error {
	now := s.now().UTC()
	if row.Status == Received {
		err := s.backgroundTransact(ctx, func(tx *sql.Tx) error {
			return transition(ctx, tx, row.ID, Received, Checking, "system", "Registerabfragen begonnen", now)
		})
		if err != nil && !errs.Is(err, errs.Conflict) {
			return err
		}
	}
	var sf storedForm
	if err := json.Unmarshal([]byte(row.Data), &sf); err != nil {
		return river.JobCancel(fmt.Errorf("decode application %s: %w", row.ID, err))
	}
	c, err := s.config(row.Municipality)
	if err != nil {
		return river.JobCancel(err)
	}
	rs, err := c.RulesAt(row.AppliedOn)
	if err != nil {
		return river.JobCancel(err)
	}
	fees, err := c.FeesAt(row.AppliedOn)
	if err != nil {
		return river.JobCancel(err)
	}
	if row.Kind == KindReissue {
		return s.finishCheck(ctx, row, sf, s.decideReissue(row, fees, now), Approved, now)
	}
	birth, _ := parseDate(sf.BirthDate)
	who := registers.Person{GivenNames: sf.GivenNames, FamilyName: sf.FamilyName, BirthDate: birth}
	p := s.purpose(row)

	// Ask the registers. If one does not answer, return the error: River
	// retries with backoff and the application stays "in Prüfung".
	res, err := s.registers.Residence.CheckResidence(ctx, p, who, registers.AddressRef{Street: sf.Street, HouseNumber: sf.HouseNumber, Postcode: sf.Postcode})
	if err != nil {
		s.logger.Warn("residence register did not answer; will retry", "reference", row.Reference, "err", errs.KindOf(err).String())
		return err
	}
	veh, err := s.registers.Vehicles.CheckVehicle(ctx, p, row.Plate, who)
	if err != nil {
		s.logger.Warn("vehicle register did not answer; will retry", "reference", row.Reference, "err", errs.KindOf(err).String())
		return err
	}
	// "One permit per resident" (§ 45 Abs. 1b StVO) counts the person's
	// permits in force during the term applied for: a renewal does not count
	// the permit it renews, a change not the permit it replaces; and the
	// term of a change is the rest of that permit's, so a renewal permit
	// that follows it (or the running permit a change of that renewal
	// permit follows) does not overlap.
	except := row.RenewsPermit.String
	from, until := row.AppliedOn, row.AppliedOn.AddDate(0, row.DurationMonths, -1)
	var replaced Permit
	if row.ReplacesPermit.Valid {
		except = row.ReplacesPermit.String
		if replaced, err = permitByNumber(ctx, s.db.Read(), except); err != nil {
			return err
		}
		from, until = row.AppliedOn, replaced.ValidUntil
		if replaced.ValidFrom.After(from) {
			from = replaced.ValidFrom
		}
	}
	active, err := countActivePermits(ctx, s.db.Read(), row.Municipality, row.PersonHash, from, until, except)
	if err != nil {
		return err
	}
	plate, _ := registers.ParsePlate(row.Plate)
	facts := rules.Facts{
		Day:                   row.AppliedOn,
		ApplicantBirthDate:    birth,
		Registered:            res.Registered,
		ResidenceKind:         string(res.Kind),
		ResidenceBlocked:      res.Blocked,
		DistanceFromMainM:     -1,
		ZoneIDs:               sf.ZoneIDs,
		VehicleFound:          veh.Found,
		HolderMatches:         veh.HolderMatches,
		Relation:              string(sf.Relation),
		DeclarationProvided:   sf.DeclarationProvided,
		Plate:                 row.Plate,
		GermanPlate:           plate.District != "",
		VehicleClass:          veh.Class,
		LengthMM:              veh.LengthMM,
		MassKg:                veh.MassKg,
		Fuel:                  veh.Fuel,
		Decommissioned:        veh.Decommissioned,
		NoOwnSpaceDeclared:    sf.NoOwnSpace,
		DurationMonths:        row.DurationMonths,
		ActivePermitsOfPerson: active,
	}
	out := rs.Evaluate(facts)
	d := Decision{Verdict: out.Verdict, Automatic: out.Automatic, At: now, Results: out.Results, Facts: &facts, Checks: []CheckRecord{
		{Register: res.Source, Question: "Wohnsitz der antragstellenden Person an der angegebenen Adresse?", Answer: residenceAnswer(res), At: res.AnsweredAt, Reason: p.Reason},
		{Register: veh.Source, Question: "Fahrzeugdaten und Halter zum Kennzeichen " + row.Plate + "?", Answer: vehicleAnswer(veh), At: veh.AnsweredAt, Reason: p.Reason},
	}}
	if price, err := fees.Price(row.DurationMonths, veh.LengthMM, veh.MassKg, veh.Fuel); err != nil {
		d.Results = append(d.Results, rules.Result{Rule: "fee.tier", Verdict: rules.Fail, Reason: errs.MessageOf(err), Source: fees.LegalSource})
		d.Verdict, d.Automatic = rules.Fail, false
	} else if row.Kind == KindChange {
		amount, tier := changeFee(fees, replaced, price.AmountCents, row.AppliedOn)
		d.FeeCents, d.FeeTier, d.FeeSource = &amount, tier, fees.LegalSource
	} else {
		amount := price.AmountCents
		d.FeeCents, d.FeeTier, d.FeeSource = &amount, price.Tier, price.Source
	}
	to := Review
	if d.Verdict == rules.Pass && d.Automatic {
		to = Approved
		d.By = "system: vollautomatischer Bescheid (" + rs.Automation.LegalBasis + ")"
	}
	return s.finishCheck(ctx, row, sf, d, to, now)
}

// finishCheck stores the outcome of the checks and moves the application
// on: to review, or approved — and issued at once when nothing is to pay.
func (s *Service) finishCheck(ctx context.Context, row appRow, sf storedForm, d Decision, to Status, now time.Time) error {
	free := to == Approved && d.FeeCents != nil && *d.FeeCents == 0
	err := s.backgroundTransact(ctx, func(tx *sql.Tx) error {
		if err := setDecision(ctx, tx, row.ID, mustJSON(d), d.FeeCents, now); err != nil {
			return err
		}
		note := "Prüfung abgeschlossen: " + summarise(d)
		if err := transition(ctx, tx, row.ID, Checking, to, "system", note, now); err != nil {
			return err
		}
		if free {
			row.Status = Approved
			return s.issue(ctx, tx, row, now, Approved)
		}
		if to == Approved {
			return s.sendMail(ctx, tx, s.approvedMail(sf.Email, row, *d.FeeCents))
		}
		return nil
	})
	if errs.Is(err, errs.Conflict) {
		return nil // decided or withdrawn meanwhile
	}
	if err != nil {
		return err
	}
	s.logger.Info("parking application checked", "reference", row.Reference, "to", string(to), "verdict", string(d.Verdict))
	if to == Approved && !free {
		row.Status = Approved
		return s.postReceivable(ctx, row)
	}
	return nil
}

func summarise(d Decision) string {
	var fails, reviews []string
	for _, r := range d.Results {
		switch r.Verdict {
		case rules.Fail:
			fails = append(fails, r.Rule)
		case rules.Review:
			reviews = append(reviews, r.Rule)
		}
	}
	switch {
	case len(fails) > 0:
		return "nicht erfüllt: " + strings.Join(fails, ", ")
	case len(reviews) > 0:
		return "zu prüfen: " + strings.Join(reviews, ", ")
	case d.Automatic:
		return "alle Voraussetzungen erfüllt, automatisch bewilligt"
	}
	return "alle Voraussetzungen erfüllt; Bewilligung durch die Sachbearbeitung"
}

func residenceAnswer(a registers.ResidenceAnswer) string {
	if !a.Registered {
		if a.NameMatch == registers.Partial {
			return "Name stimmt nur teilweise mit dem Melderegister überein (z. B. fehlender Vorname) – bitte prüfen"
		}
		return "nicht an dieser Adresse gemeldet"
	}
	s := "gemeldet mit "
	if a.Kind == registers.Nebenwohnsitz {
		s += "Nebenwohnsitz"
	} else {
		s += "Hauptwohnsitz"
	}
	if !a.Since.IsZero() {
		s += " seit " + a.Since.Format("02.01.2006")
	}
	if a.Blocked {
		s += "; Auskunftssperre eingetragen"
	}
	return s
}

func vehicleAnswer(v registers.VehicleAnswer) string {
	if !v.Found {
		return "Kennzeichen nicht zugelassen"
	}
	s := fmt.Sprintf("Klasse %s, Länge %d mm, zul. Gesamtmasse %d kg, %s", v.Class, v.LengthMM, v.MassKg, v.Fuel)
	if v.HolderMatches {
		s += "; Halter stimmt überein"
	} else if v.HolderMatch == registers.Partial {
		s += "; Halter stimmt nur teilweise überein – bitte prüfen"
	} else {
		s += "; Halter stimmt nicht überein"
	}
	if v.Decommissioned {
		s += "; außer Betrieb gesetzt"
	}
	return s
}

// postReceivable posts the fee to the treasury (Sollstellung) and records
// the Kassenzeichen. The call is idempotent by application id, so a retry
// after a crash gets the same Kassenzeichen.
func (s *Service) postReceivable(ctx context.Context, row appRow) error {
	if row.Kassenzeichen != "" {
		return nil
	}
	if !row.FeeCents.Valid {
		fresh, err := getApp(ctx, s.db.Read(), s.db.Engine, "id", row.ID, false)
		if err != nil {
			return err
		}
		row = fresh
	}
	if !row.FeeCents.Valid || row.FeeCents.Int64 <= 0 {
		return river.JobCancel(fmt.Errorf("application %s approved without a fee", row.Reference))
	}
	rec, err := s.registers.Treasury.CreateReceivable(ctx, s.purpose(row), row.ID, row.FeeCents.Int64, "Bewohnerparkausweis "+row.Reference)
	if err != nil {
		return err
	}
	return s.backgroundTransact(ctx, func(tx *sql.Tx) error {
		return setKassenzeichen(ctx, tx, row.ID, rec.Kassenzeichen, s.now().UTC())
	})
}

// ClerkDecision is a clerk's decision on an application in review.
type ClerkDecision struct {
	Approve bool
	// Reasons are the clerk's own words, required for a rejection (§ 39
	// VwVfG); they go into the Bescheid.
	Reasons string
	// Grounds name the check results (by rule) a rejection rests on: the
	// Bescheid lists exactly these with their legal source, not every
	// result that did not pass. Each must be one that did not pass.
	Grounds []string
	// Clerk is the actor recorded on the transition ("clerk:<key id>").
	Clerk string
	// Access, when set, is the clerk whose decision is recorded (audit
	// log; casework_access for a key) in its transaction, so there is no
	// decision without its record.
	Access *Clerk
	// Origin is where the decision came from (the client's address).
	Origin string
}

// Decide records a clerk's decision on an application in review: exactly
// one of two concurrent decisions wins; the other gets a Conflict saying
// what happened.
func (s *Service) Decide(ctx context.Context, ars, reference string, cd ClerkDecision) (Application, error) {
	approve, clerk := cd.Approve, cd.Clerk
	reasons := strings.TrimSpace(cd.Reasons)
	if !approve && reasons == "" {
		return Application{}, errs.Field("reasons", "Eine Ablehnung braucht eine Begründung (§ 39 VwVfG).")
	}
	if len(reasons) > 5000 {
		return Application{}, errs.Field("reasons", "Die Begründung ist zu lang (höchstens 5000 Zeichen).")
	}
	if approve && len(cd.Grounds) > 0 {
		return Application{}, errs.Field("grounds", "Gründe aus dem Prüfergebnis gibt es nur bei einer Ablehnung.")
	}
	now := s.now().UTC()
	var row appRow
	err := s.db.Transact(ctx, func(tx *sql.Tx) error {
		var err error
		row, err = getApp(ctx, tx, s.db.Engine, "reference", reference, true)
		if err != nil {
			return err
		}
		if row.Municipality != ars {
			return errs.E(errs.NotFound, "Den Antrag %s gibt es nicht.", reference)
		}
		if row.Status != Review {
			return errs.E(errs.Conflict, "Der Antrag ist nicht (mehr) in Prüfung, sondern „%s“.", row.Status.Label())
		}
		if row.Assignee != "" && row.Assignee != clerk {
			return errs.E(errs.Conflict, "Den Antrag bearbeitet %s (seit %s). Übernehmen Sie ihn, wenn Sie entscheiden wollen.",
				row.AssigneeName, berlinTime(row.AssignedAt.Time))
		}
		var d Decision
		if row.Outcome != "" {
			if err := json.Unmarshal([]byte(row.Outcome), &d); err != nil {
				return err
			}
		}
		grounds, err := groundsOf(&d, cd.Grounds)
		if err != nil {
			return err
		}
		if approve {
			var paid int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM parking_payments WHERE application_id = $1 AND status = 'paid'`, row.ID).Scan(&paid); err != nil {
				return err
			}
			if paid > 0 { // a paid change whose permit expired meanwhile (issue)
				return errs.E(errs.Conflict, "Die Gebühr ist bezahlt, aber der zu ersetzende Ausweis ist abgelaufen; eine Bewilligung ist so nicht möglich. "+
					"Bitte lehnen Sie den Antrag ab und veranlassen Sie die Erstattung.")
			}
		}
		if approve && d.FeeCents == nil {
			return errs.E(errs.Conflict, "Für diesen Antrag lässt sich keine Gebühr bestimmen (siehe Prüfergebnis); eine Bewilligung ist so nicht möglich.")
		}
		d.By, d.At, d.Reasons, d.Grounds, d.Automatic = clerk, now, reasons, grounds, false
		to := Rejected
		d.Verdict = rules.Fail
		if approve {
			to, d.Verdict = Approved, rules.Pass
		}
		if err := setDecision(ctx, tx, row.ID, mustJSON(d), d.FeeCents, now); err != nil {
			return err
		}
		if err := transition(ctx, tx, row.ID, Review, to, clerk, reasons, now); err != nil {
			return err
		}
		if cd.Access != nil {
			if err := s.insertAccess(ctx, tx, now, *cd.Access, row.ID, accessDecide, cd.Origin); err != nil {
				return err
			}
		}
		if !approve {
			return s.sendMail(ctx, tx, s.rejectedMail(emailOf(row), row, reasonsOf(&d)))
		}
		if *d.FeeCents == 0 { // a change or reissue that costs nothing
			row.Status = Approved
			return s.issue(ctx, tx, row, now, Approved)
		}
		if err := s.jobs.InsertTx(ctx, tx, CheckArgs{ApplicationID: row.ID}, nil); err != nil { // posts the fee
			return err
		}
		return s.sendMail(ctx, tx, s.approvedMail(emailOf(row), row, *d.FeeCents))
	})
	if err != nil {
		return Application{}, err
	}
	row, err = getApp(ctx, s.db.Read(), s.db.Engine, "id", row.ID, false)
	if err != nil {
		return Application{}, err
	}
	return s.load(ctx, row)
}

// groundsOf checks a rejection's grounds against the results that did not
// pass and returns them without repeats, in the results' order.
func groundsOf(d *Decision, picked []string) ([]string, error) {
	var out []string
	for _, g := range picked {
		ok := false
		for _, r := range d.Results {
			if r.Rule == g && r.Verdict != rules.Pass {
				ok = true
			}
		}
		if !ok {
			return nil, errs.Field("grounds", "„%s“ ist kein Prüfergebnis dieses Antrags, das nicht bestanden ist.", g)
		}
	}
	for _, r := range d.Results {
		if r.Verdict != rules.Pass && slices.Contains(picked, r.Rule) && !slices.Contains(out, r.Rule) {
			out = append(out, r.Rule)
		}
	}
	return out, nil
}

// Queue lists applications waiting for a clerk, oldest first, each with
// its events and permit.
func (s *Service) Queue(ctx context.Context, ars string, limit int) ([]Application, error) {
	rows, err := queue(ctx, s.db.Read(), ars, Review, AnyAssignee, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Application, 0, len(rows))
	for _, r := range rows {
		a, err := s.load(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// QueueFilter narrows the queue.
type QueueFilter struct {
	Assignee string // AnyAssignee (the zero value), Unassigned, or an actor
	Zone     string // a zone id: cases whose address lies in it
	Reason   string // a rule id: cases where its result is open (to review, or failed)
	Newest   bool   // newest first instead of oldest first
}

// QueueSummary lists applications waiting for a clerk, filtered, without
// their events and permit: what the queue page shows, in one query.
func (s *Service) QueueSummary(ctx context.Context, ars string, f QueueFilter, limit int) ([]Application, error) {
	rows, err := queueFiltered(ctx, s.db.Read(), ars, Review, f, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Application, 0, len(rows))
	for _, r := range rows {
		a, err := s.decode(r)
		if err != nil {
			return nil, err
		}
		if f.Reason != "" && !slices.ContainsFunc(openResults(a.Outcome), func(r resultView) bool { return r.Rule == f.Reason }) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}
