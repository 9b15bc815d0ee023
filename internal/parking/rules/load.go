package rules

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Limits that catch typos (an amount in euros instead of cents, a length in
// metres) long before they could be legal.
const (
	maxAmountCents = 10_000_000 // 100.000 €
	maxMM          = 100_000
	maxKg          = 100_000
	maxMonths      = 120
	maxProblems    = 20
)

var (
	residenceKinds = []string{ResidenceMain, ResidenceSecondary}
	relations      = []string{RelationHolder, RelationCompanyCar, RelationBorrowed, RelationCarSharing}
	refundRules    = []string{RefundNone, RefundProRataMonths}
	// vehicleClasses are the EU vehicle classes a rule set may name
	// (Art. 4 VO (EU) 2018/858 for M and N, Art. 4 VO (EU) Nr. 168/2013 for L).
	vehicleClasses = []string{"M1", "M2", "M3", "N1", "N2", "N3", "L1e", "L2e", "L3e", "L4e", "L5e", "L6e", "L7e"}
)

// Load reads one municipality's configuration (JSON, see the files in
// municipalities/). It is strict: unknown fields, fields given twice, wrong
// types, dates other than YYYY-MM-DD, amounts that are not whole cents and
// contradictory versions are errors of kind errs.Invalid whose field is the
// path of the value at fault ("fees[1].tiers[0].amount_cents") and whose
// message is German. Up to 20 problems are reported at once (errors.Join).
// A "_note" text is allowed on the file, on each version, tier and reduction.
//
// What loads but is legally doubtful comes back as warnings: fees set by a
// Satzung, reductions, tiers where a slightly larger vehicle pays at least
// double, and offered durations the fee schedule does not price.
func Load(r io.Reader) (*Config, []Warning, error) {
	root, err := parseTree(r)
	if err != nil {
		return nil, nil, err
	}
	l := &loader{}
	cfg := l.config(root)
	if len(l.problems) > 0 {
		return nil, nil, l.err()
	}
	l.crossCheck(cfg)
	return cfg, l.warnings, nil
}

type loader struct {
	problems []error
	dropped  int
	warnings []Warning
}

func (l *loader) fail(path, format string, args ...any) {
	if len(l.problems) >= maxProblems {
		l.dropped++
		return
	}
	l.problems = append(l.problems, errs.Field(path, format, args...))
}

func (l *loader) warn(path, format string, args ...any) {
	l.warnings = append(l.warnings, Warning{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) err() error {
	ps := l.problems
	if l.dropped > 0 {
		ps = append(ps, errs.E(errs.Invalid, "… und %d weitere Fehler.", l.dropped))
	}
	return errors.Join(ps...)
}

func (l *loader) config(root *node) *Config {
	o := l.object("", root)
	c := &Config{}
	c.Note = o.note()
	c.ARS = o.str("ars", true)
	if c.ARS != "" && !validARS(c.ARS) {
		l.fail("ars", "Der Regionalschlüssel (ARS) besteht aus genau 12 Ziffern, nicht %q.", c.ARS)
	}
	c.Municipality = o.str("municipality", true)
	c.Remedy = o.str("remedy", false)
	if c.Remedy == "" {
		l.warn("remedy", "Keine Rechtsbehelfsbelehrung (remedy): Bescheide ohne sie lassen die Jahresfrist des § 58 Abs. 2 VwGO laufen.")
	}
	items, path := o.list("rules", true)
	for i, n := range items {
		c.Rules = append(c.Rules, l.ruleSet(joinIndex(path, i), n))
	}
	items, path = o.list("fees", true)
	for i, n := range items {
		c.Fees = append(c.Fees, l.feeSchedule(joinIndex(path, i), n))
	}
	o.done()
	l.checkOrder("rules", len(c.Rules), func(i int) time.Time { return c.Rules[i].ValidFrom })
	l.checkOrder("fees", len(c.Fees), func(i int) time.Time { return c.Fees[i].ValidFrom })
	return c
}

// validARS checks the form of an Amtlicher Regionalschlüssel: 12 digits —
// Land (2), Regierungsbezirk (1), Kreis (2), Gemeindeverband (4), Gemeinde (3).
func validARS(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkOrder requires versions in ascending order of ValidFrom, no two on
// the same day: each version runs until the next one starts, so two
// versions starting together would leave open which one is in force.
func (l *loader) checkOrder(list string, n int, validFrom func(int) time.Time) {
	for i := 1; i < n; i++ {
		prev, cur := validFrom(i-1), validFrom(i)
		if prev.IsZero() || cur.IsZero() {
			continue // already reported
		}
		path := joinIndex(list, i) + ".valid_from"
		switch {
		case cur.Equal(prev):
			l.fail(path, "%s beginnt am selben Tag (%s) wie %s; je Tag darf nur eine Fassung beginnen.",
				joinIndex(list, i), germanDate(cur), joinIndex(list, i-1))
		case cur.Before(prev):
			l.fail(path, "Die Fassungen sind nach valid_from aufsteigend zu ordnen; %s (%s) beginnt vor %s (%s).",
				joinIndex(list, i), germanDate(cur), joinIndex(list, i-1), germanDate(prev))
		}
	}
}

func (l *loader) ruleSet(path string, n *node) RuleSet {
	o := l.object(path, n)
	var rs RuleSet
	rs.Note = o.note()
	rs.ValidFrom = o.date("valid_from")
	rs.LegalSource = o.str("legal_source", true)
	rs.ResidenceKinds = o.enumList("residence_kinds", residenceKinds, true)
	rs.MinDistanceFromMainM = o.integer("min_distance_from_main_m", 0, maxMM, 0)
	rs.VehiclesPerPermit = o.integer("vehicles_per_permit", 1, 10, 1)
	rs.PermitsPerPerson = o.integer("permits_per_person", 1, 10, 1)
	rs.MinAgeYears = o.integer("min_age_years", 0, 120, 0)
	rs.GermanPlateOnly = o.boolean("german_plate_only")
	rs.VehicleClasses = o.enumList("vehicle_classes", vehicleClasses, false)
	rs.MaxLengthMM = o.integer("max_length_mm", 0, maxMM, 0)
	rs.MaxMassKg = o.integer("max_mass_kg", 0, maxKg, 0)
	rs.RequireNoOwnSpace = o.boolean("require_no_own_space")
	rs.AllowCompanyCar = o.boolean("allow_company_car")
	rs.AllowBorrowed = o.boolean("allow_borrowed")
	rs.AllowCarSharing = o.boolean("allow_car_sharing")
	rs.DurationsMonths = o.intList("durations_months", 1, maxMonths)
	rs.RenewalWindowDays = o.integer("renewal_window_days", 0, 366, 0)
	if an, apath := o.field("automation"); an != nil {
		ao := l.object(apath, an)
		rs.Automation.Enabled = ao.boolean("enabled")
		rs.Automation.LegalBasis = ao.str("legal_basis", false)
		ao.done()
		// § 35a VwVfG: a Verwaltungsakt may be issued fully automatically
		// only where a legal provision permits it.
		if rs.Automation.Enabled && strings.TrimSpace(rs.Automation.LegalBasis) == "" {
			l.fail(joinKey(apath, "legal_basis"), "Vollautomatische Bescheide sind nur zulässig, wenn eine Rechtsvorschrift sie erlaubt (§ 35a VwVfG); die Rechtsgrundlage fehlt.")
		}
	}
	rs.RetentionMonths = o.integer("retention_months", 1, 240, 24)
	rs.Sources = o.sources("sources")
	o.done()

	if rs.MinDistanceFromMainM > 0 && len(rs.ResidenceKinds) > 0 && !slices.Contains(rs.ResidenceKinds, ResidenceSecondary) {
		l.warn(joinKey(path, "min_distance_from_main_m"), "Ein Mindestabstand zur Hauptwohnung wirkt nur, wenn Nebenwohnungen zugelassen sind (residence_kinds enthält „neben“ nicht).")
	}
	return rs
}

func (l *loader) feeSchedule(path string, n *node) FeeSchedule {
	o := l.object(path, n)
	var fs FeeSchedule
	fs.Note = o.note()
	fs.ValidFrom = o.date("valid_from")
	fs.LegalSource = o.str("legal_source", true)
	items, tpath := o.list("tiers", true)
	for i, n := range items {
		fs.Tiers = append(fs.Tiers, l.tier(joinIndex(tpath, i), n))
	}
	fs.ReplacementCents = int64(o.integer("replacement_cents", 1, maxAmountCents, 0))
	fs.ChangeCents = int64(o.integer("change_cents", 1, maxAmountCents, 0))
	fs.ReissueCents = int64(o.integer("reissue_cents", 1, maxAmountCents, 0))
	items, rpath := o.list("reductions", false)
	for i, n := range items {
		fs.Reductions = append(fs.Reductions, l.reduction(joinIndex(rpath, i), n))
	}
	fs.RefundRule = o.enum("refund_rule", refundRules, RefundNone)
	o.done()

	for j := range fs.Tiers {
		for i := range j {
			a, b := &fs.Tiers[i], &fs.Tiers[j]
			if a.Name != "" && a.Name == b.Name {
				l.fail(joinIndex(tpath, j)+".name", "Der Name „%s“ ist schon an %s vergeben.", b.Name, joinIndex(tpath, i))
			}
			if a.DurationMonths > 0 && a.overlaps(b) {
				l.fail(joinIndex(tpath, j), "Die Stufe „%s“ überschneidet sich mit %s („%s“): bei einer Laufzeit von %s fiele dasselbe Fahrzeug unter beide.",
					b.Name, joinIndex(tpath, i), a.Name, months(b.DurationMonths))
			}
		}
	}

	// BVerwG 9 CN 2.22: the fee must be set by Rechtsverordnung, not Satzung.
	if strings.Contains(strings.ToLower(fs.LegalSource), "satzung") {
		l.warn(joinKey(path, "legal_source"), "Die Gebühr ist als Satzung bezeichnet; Bewohnerparkgebühren sind durch Rechtsverordnung festzusetzen (§ 6a Abs. 5a StVG, BVerwG, Urteil vom 13.06.2023 – 9 CN 2.22).")
	}
	// BVerwG 9 CN 2.22: no reductions for social or climate reasons.
	for i, r := range fs.Reductions {
		l.warn(joinIndex(rpath, i), "„%s“: Bewohnerparkgebühren dürfen nicht aus sozialen oder klimapolitischen Gründen ermäßigt werden (BVerwG, Urteil vom 13.06.2023 – 9 CN 2.22); Rathaus wendet die Ermäßigung nicht an.", r.Name)
	}
	l.doublingWarnings(tpath, fs.Tiers)
	return fs
}

// neighbourPercent is how much larger (in per cent) the smallest vehicle of
// one tier may be than the largest of another for the two to count as
// neighbours. In Freiburg a car of 4,71 m (12 % longer than 4,20 m) paid
// double, which BVerwG 9 CN 2.22 held disproportionate; 20 % leaves a margin.
const neighbourPercent = 20

// doublingWarnings warns where a tier costs at least twice as much as a
// neighbouring tier of the same duration along length or mass.
func (l *loader) doublingWarnings(tpath string, tiers []FeeTier) {
	for j := range tiers {
		b := &tiers[j]
		for i := range tiers {
			a := &tiers[i]
			if i == j || a.DurationMonths != b.DurationMonths || !fuelsOverlap(a.Fuels, b.Fuels) ||
				a.AmountCents <= 0 || b.AmountCents < 2*a.AmountCents {
				continue
			}
			alongLength := rangesOverlap(a.MassMinKg, a.MassMaxKg, b.MassMinKg, b.MassMaxKg) &&
				neighbours(a.LengthMaxMM, b.LengthMinMM)
			alongMass := rangesOverlap(a.LengthMinMM, a.LengthMaxMM, b.LengthMinMM, b.LengthMaxMM) &&
				neighbours(a.MassMaxKg, b.MassMinKg)
			if !alongLength && !alongMass {
				continue
			}
			what := "Länge: " + mm(a.LengthMaxMM) + " → " + mm(b.LengthMinMM)
			if !alongLength {
				what = "Masse: " + kg(a.MassMaxKg) + " → " + kg(b.MassMinKg)
			}
			l.warn(joinIndex(tpath, j)+".amount_cents", "Die Stufe „%s“ (%s) kostet mindestens das Doppelte der Stufe „%s“ (%s), obwohl die Fahrzeuge kaum größer sind (%s). Eine solche Staffelung hielt das BVerwG (Urteil vom 13.06.2023 – 9 CN 2.22) für unverhältnismäßig.",
				b.Name, euro(b.AmountCents), a.Name, euro(a.AmountCents), what)
			break
		}
	}
}

// neighbours reports whether a tier ending at aMax and one starting at bMin
// lie close together: bMin is above aMax by at most neighbourPercent.
func neighbours(aMax, bMin int) bool {
	return aMax > 0 && bMin > aMax && int64(bMin)*100 <= int64(aMax)*(100+neighbourPercent)
}

func (l *loader) tier(path string, n *node) FeeTier {
	o := l.object(path, n)
	var t FeeTier
	t.Note = o.note()
	t.Name = o.str("name", true)
	t.DurationMonths = o.required("duration_months", 1, maxMonths)
	t.LengthMinMM = o.integer("length_min_mm", 0, maxMM, 0)
	t.LengthMaxMM = o.integer("length_max_mm", 0, maxMM, 0)
	t.MassMinKg = o.integer("mass_min_kg", 0, maxKg, 0)
	t.MassMaxKg = o.integer("mass_max_kg", 0, maxKg, 0)
	t.Fuels = o.enumList("fuels", fuels, false)
	t.AmountCents = int64(o.required("amount_cents", 1, maxAmountCents))
	o.done()
	if t.LengthMaxMM > 0 && t.LengthMinMM > t.LengthMaxMM {
		l.fail(joinKey(path, "length_min_mm"), "Die Mindestlänge (%s) ist größer als die Höchstlänge (%s).", mm(t.LengthMinMM), mm(t.LengthMaxMM))
	}
	if t.MassMaxKg > 0 && t.MassMinKg > t.MassMaxKg {
		l.fail(joinKey(path, "mass_min_kg"), "Die Mindestmasse (%s) ist größer als die Höchstmasse (%s).", kg(t.MassMinKg), kg(t.MassMaxKg))
	}
	return t
}

func (l *loader) reduction(path string, n *node) Reduction {
	o := l.object(path, n)
	var r Reduction
	r.Note = o.note()
	r.Name = o.str("name", true)
	if kn, kpath := o.field("kind"); kn != nil {
		r.Kind = l.enumValue(kpath, kn, reductionKinds)
	} else if kpath != "" {
		l.fail(kpath, "Das Feld fehlt (möglich: %s).", strings.Join(reductionKinds, ", "))
	}
	r.Percent = o.integer("percent", 1, 100, 0)
	o.done()
	return r
}

// crossCheck warns about offered durations that the fee schedule in force at
// the same time does not price, and about times with rules but no fees.
func (l *loader) crossCheck(c *Config) {
	end := func(vfs []time.Time, i int) time.Time {
		if i+1 < len(vfs) {
			return vfs[i+1]
		}
		return time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	var rv, fv []time.Time
	for _, r := range c.Rules {
		rv = append(rv, r.ValidFrom)
	}
	for _, f := range c.Fees {
		fv = append(fv, f.ValidFrom)
	}
	if len(rv) > 0 && len(fv) > 0 && fv[0].After(rv[0]) {
		l.warn("fees[0].valid_from", "Die Regeln gelten ab %s, die erste Gebührenregelung erst ab %s; Anträge dazwischen können nicht berechnet werden.",
			germanDate(rv[0]), germanDate(fv[0]))
	}
	for i, rs := range c.Rules {
		for j := range c.Fees {
			fs := &c.Fees[j]
			if !rv[i].Before(end(fv, j)) || !fv[j].Before(end(rv, i)) {
				continue // the two versions are never in force together
			}
			priced := fs.durations()
			for k, d := range rs.DurationsMonths {
				if !slices.Contains(priced, d) {
					l.warn(joinIndex(joinIndex("rules", i)+".durations_months", k), "Die Laufzeit von %s wird angeboten, aber die Gebührenregelung ab %s (fees[%d]) sieht dafür keine Gebühr vor.",
						months(d), germanDate(fs.ValidFrom), j)
				}
			}
		}
	}
}

// object reads the members of one JSON object and remembers which it used,
// so that done can reject the rest.
type object struct {
	l    *loader
	path string
	n    *node // nil when the value was not an object (already reported)
	used map[string]bool
}

func (l *loader) object(path string, n *node) *object {
	o := &object{l: l, path: path, used: map[string]bool{}}
	if n.kind != nodeObject {
		l.fail(path, "Hier wird ein Objekt {…} erwartet, nicht %s.", n.kind.german())
		return o
	}
	o.n = n
	return o
}

// field returns the member's value (nil when absent) and its path. The path
// is "" when a problem has already been reported for it (the member is null,
// or the object was not an object), so that callers do not add "missing".
func (o *object) field(key string) (*node, string) {
	o.used[key] = true
	path := joinKey(o.path, key)
	if o.n == nil {
		return nil, ""
	}
	for _, m := range o.n.members {
		if m.key == key {
			if m.value.kind == nodeNull {
				o.l.fail(path, "Der Wert null ist hier nicht erlaubt; das Feld weglassen oder einen Wert angeben.")
				return nil, ""
			}
			return m.value, path
		}
	}
	return nil, path
}

func (o *object) done() {
	if o.n == nil {
		return
	}
	for _, m := range o.n.members {
		if !o.used[m.key] {
			o.l.fail(joinKey(o.path, m.key), "Unbekanntes Feld „%s“.", m.key)
		}
	}
}

// note reads the optional "_note", a comment for people.
func (o *object) note() string { return o.str("_note", false) }

func (o *object) str(key string, required bool) string {
	n, path := o.field(key)
	if n == nil {
		if required && path != "" {
			o.l.fail(path, "Das Feld fehlt.")
		}
		return ""
	}
	if n.kind != nodeString {
		o.l.fail(path, "Hier wird ein Text erwartet, nicht %s.", n.kind.german())
		return ""
	}
	if required && strings.TrimSpace(n.str) == "" {
		o.l.fail(path, "Das Feld darf nicht leer sein.")
	}
	return n.str
}

func (o *object) boolean(key string) bool {
	n, path := o.field(key)
	if n == nil {
		return false
	}
	if n.kind != nodeBool {
		o.l.fail(path, "Hier wird true oder false erwartet, nicht %s.", n.kind.german())
		return false
	}
	return n.b
}

func (o *object) date(key string) time.Time {
	n, path := o.field(key)
	if n == nil {
		if path != "" {
			o.l.fail(path, "Das Datum fehlt (JJJJ-MM-TT).")
		}
		return time.Time{}
	}
	if n.kind != nodeString {
		o.l.fail(path, "Hier wird ein Datum als Text erwartet (JJJJ-MM-TT), nicht %s.", n.kind.german())
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, n.str)
	if err != nil || len(n.str) != len(time.DateOnly) {
		o.l.fail(path, "„%s“ ist kein gültiges Datum der Form JJJJ-MM-TT.", n.str)
		return time.Time{}
	}
	if t.Year() < 1950 || t.Year() > 2199 {
		o.l.fail(path, "Das Datum %s ist nicht plausibel.", germanDate(t))
		return time.Time{}
	}
	return t
}

// integer reads an optional whole number in [min, max]; def when absent.
func (o *object) integer(key string, min, max, def int) int {
	n, path := o.field(key)
	if n == nil {
		return def
	}
	v, _ := o.l.intValue(path, n, min, max)
	return v
}

// required reads a whole number in [min, max] that must be present.
func (o *object) required(key string, min, max int) int {
	n, path := o.field(key)
	if n == nil {
		if path != "" {
			o.l.fail(path, "Das Feld fehlt.")
		}
		return 0
	}
	v, _ := o.l.intValue(path, n, min, max)
	return v
}

func (l *loader) intValue(path string, n *node, min, max int) (int, bool) {
	if n.kind != nodeNumber {
		l.fail(path, "Hier wird eine ganze Zahl erwartet, nicht %s.", n.kind.german())
		return 0, false
	}
	s := n.num.String()
	if strings.ContainsAny(s, ".eE") {
		if strings.HasSuffix(path, "_cents") {
			l.fail(path, "Beträge werden in ganzen Cent angegeben (2040 für 20,40 €), nicht als %s.", s)
		} else {
			l.fail(path, "Hier wird eine ganze Zahl ohne Komma und Exponent erwartet, nicht %s.", s)
		}
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil || v > int64(max):
		l.fail(path, "Der Wert %s ist zu groß (höchstens %s).", s, thousands(int64(max)))
		return 0, false
	case v < int64(min) && min == 1:
		l.fail(path, "Der Wert muss größer als 0 sein, nicht %d.", v)
		return 0, false
	case v < int64(min):
		l.fail(path, "Der Wert muss mindestens %d sein, nicht %d.", min, v)
		return 0, false
	}
	return int(v), true
}

// list returns the items of an array member and its path.
func (o *object) list(key string, required bool) ([]*node, string) {
	n, path := o.field(key)
	if n == nil {
		if required && path != "" {
			o.l.fail(path, "Das Feld fehlt.")
		}
		return nil, path
	}
	if n.kind != nodeArray {
		o.l.fail(path, "Hier wird eine Liste […] erwartet, nicht %s.", n.kind.german())
		return nil, path
	}
	if required && len(n.items) == 0 {
		o.l.fail(path, "Die Liste darf nicht leer sein.")
	}
	return n.items, path
}

// intList reads a non-empty list of distinct whole numbers in [min, max].
func (o *object) intList(key string, min, max int) []int {
	items, path := o.list(key, true)
	var vs []int
	for i, n := range items {
		ipath := joinIndex(path, i)
		v, ok := o.l.intValue(ipath, n, min, max)
		if !ok {
			continue
		}
		if slices.Contains(vs, v) {
			o.l.fail(ipath, "Der Wert %d steht doppelt in der Liste.", v)
			continue
		}
		vs = append(vs, v)
	}
	return vs
}

// enum reads an optional text that must be one of allowed; def when absent.
func (o *object) enum(key string, allowed []string, def string) string {
	n, path := o.field(key)
	if n == nil {
		return def
	}
	return o.l.enumValue(path, n, allowed)
}

func (l *loader) enumValue(path string, n *node, allowed []string) string {
	if n.kind != nodeString {
		l.fail(path, "Hier wird ein Text erwartet (%s), nicht %s.", strings.Join(allowed, ", "), n.kind.german())
		return ""
	}
	if !slices.Contains(allowed, n.str) {
		l.fail(path, "„%s“ ist nicht vorgesehen; möglich: %s.", n.str, strings.Join(allowed, ", "))
		return ""
	}
	return n.str
}

// enumList reads a list of distinct values from allowed; nil when empty.
func (o *object) enumList(key string, allowed []string, required bool) []string {
	items, path := o.list(key, required)
	var vs []string
	for i, n := range items {
		ipath := joinIndex(path, i)
		v := o.l.enumValue(ipath, n, allowed)
		if v == "" {
			continue
		}
		if slices.Contains(vs, v) {
			o.l.fail(ipath, "„%s“ steht doppelt in der Liste.", v)
			continue
		}
		vs = append(vs, v)
	}
	return vs
}

// sources reads the per-rule overrides of legal sources; nil when empty.
func (o *object) sources(key string) map[string]string {
	n, path := o.field(key)
	if n == nil {
		return nil
	}
	so := o.l.object(path, n)
	if so.n == nil {
		return nil
	}
	var m map[string]string
	for _, mem := range so.n.members {
		if !slices.Contains(ruleIDs, mem.key) {
			so.used[mem.key] = true
			o.l.fail(joinKey(path, mem.key), "Eine Regel „%s“ gibt es nicht; möglich: %s.", mem.key, strings.Join(ruleIDs, ", "))
			continue
		}
		s := so.str(mem.key, true)
		if strings.TrimSpace(s) == "" {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[mem.key] = s
	}
	so.done()
	return m
}
