package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Facts are what the application knows about one application, gathered by
// the caller from the registers and the form. Evaluate reads nothing else.
type Facts struct {
	Day                time.Time // the day of the application; ages are computed on it
	ApplicantBirthDate time.Time // zero = unknown

	Registered        bool   // registered at the address (registration office)
	ResidenceKind     string // ResidenceMain or ResidenceSecondary
	ResidenceBlocked  bool   // Auskunftssperre (§ 51 BMG)
	DistanceFromMainM int    // Nebenwohnung to Hauptwohnung in metres; -1 = unknown

	ZoneIDs []string // zones of the address: none, one or several (zones may overlap)

	VehicleFound  bool   // the plate is registered (vehicle register)
	HolderMatches bool   // the applicant is the registered holder
	Relation      string // RelationHolder (default when empty), RelationCompanyCar, RelationBorrowed, RelationCarSharing
	// DeclarationProvided: the employer's confirmation, the holder's
	// Überlassungserklärung or the car-sharing contract is attached.
	DeclarationProvided bool

	Plate          string
	GermanPlate    bool
	VehicleClass   string // EU class, e.g. "M1"; an off-road suffix ("M1G") is ignored
	LengthMM       int    // 0 = unknown
	MassKg         int    // technically permissible maximum laden mass; 0 = unknown
	Fuel           string
	Decommissioned bool // außer Betrieb gesetzt

	NoOwnSpaceDeclared bool // the applicant declares having no garage or private space

	DurationMonths int

	// ActivePermitsOfPerson counts the applicant's permits valid on Day,
	// without the one being renewed or changed by this application.
	ActivePermitsOfPerson int
}

// Verdict is the result of one rule or of a whole evaluation.
type Verdict string

const (
	Pass   Verdict = "pass"
	Fail   Verdict = "fail"
	Review Verdict = "review" // a clerk has to look at it
)

// Result is the outcome of one rule.
type Result struct {
	Rule    string // rule id, e.g. "residence.kind"
	Verdict Verdict
	Reason  string // German, addressed to the citizen, readable for the clerk
	Source  string // legal source of the rule
}

// Outcome is the outcome of all rules for one application.
type Outcome struct {
	Verdict   Verdict // Fail if any rule fails; else Review if any needs review; else Pass
	Results   []Result
	Automatic bool // Pass and the rule set allows automated decisions (§ 35a VwVfG)
}

// With returns the results with the given verdict, e.g. With(Fail) for the
// reasons of a refusal.
func (o Outcome) With(v Verdict) []Result {
	var rs []Result
	for _, r := range o.Results {
		if r.Verdict == v {
			rs = append(rs, r)
		}
	}
	return rs
}

// Rule ids, in the order Evaluate checks them.
const (
	RuleResidenceRegistered   = "residence.registered"
	RuleResidenceKind         = "residence.kind"
	RuleResidenceDistance     = "residence.distance_from_main"
	RuleResidenceBlocked      = "residence.blocked"
	RuleZoneContainsAddress   = "zone.contains_address"
	RuleAgeMinimum            = "age.minimum"
	RuleVehicleFound          = "vehicle.found"
	RuleVehicleHolder         = "vehicle.holder"
	RuleVehicleDecommissioned = "vehicle.decommissioned"
	RuleVehicleClass          = "vehicle.class"
	RuleVehicleLength         = "vehicle.length"
	RuleVehicleMass           = "vehicle.mass"
	RulePlateGerman           = "plate.german"
	RuleNoOwnSpace            = "declaration.no_own_space"
	RuleDurationOffered       = "duration.offered"
	RulePermitsPerPerson      = "permits.per_person"
)

var ruleIDs = []string{
	RuleResidenceRegistered, RuleResidenceKind, RuleResidenceDistance, RuleResidenceBlocked,
	RuleZoneContainsAddress, RuleAgeMinimum,
	RuleVehicleFound, RuleVehicleHolder, RuleVehicleDecommissioned, RuleVehicleClass, RuleVehicleLength, RuleVehicleMass,
	RulePlateGerman, RuleNoOwnSpace, RuleDurationOffered, RulePermitsPerPerson,
}

// RuleIDs returns the ids of all rules, in the order Evaluate checks them.
func RuleIDs() []string { return slices.Clone(ruleIDs) }

const vwv = "VwV-StVO zu § 45 Abs. 1b Satz 1 Nr. 2a Ziff. X"

// defaultSources are the legal sources of the rules unless a municipality
// overrides one in RuleSet.Sources. Where the rule is the municipality's
// choice (marked local), the rule set's own LegalSource is appended.
var defaultSources = map[string]struct {
	source string
	local  bool
}{
	RuleResidenceRegistered:   {"§ 45 Abs. 1b Satz 1 Nr. 2a StVO; " + vwv + " (Bewohner ist, wer im Bereich meldebehördlich registriert ist und dort tatsächlich wohnt)", false},
	RuleResidenceKind:         {"§ 21 BMG (Haupt- und Nebenwohnung); " + vwv, true},
	RuleResidenceDistance:     {"§ 21 BMG; Ermessen der Straßenverkehrsbehörde nach § 45 Abs. 1b Satz 1 Nr. 2a StVO", true},
	RuleResidenceBlocked:      {"§ 51 BMG (Auskunftssperre)", false},
	RuleZoneContainsAddress:   {"§ 45 Abs. 1b Satz 1 Nr. 2a StVO; " + vwv + " (Bewohnerparkbereich)", true},
	RuleAgeMinimum:            {"§ 12 Abs. 1 Nr. 1 VwVfG (Handlungsfähigkeit); §§ 187 Abs. 2, 188 Abs. 2 BGB (Berechnung des Lebensalters)", false},
	RuleVehicleFound:          {vwv + " (Parkausweis für ein bestimmtes Kraftfahrzeug); § 3 Abs. 1 FZV", false},
	RuleVehicleHolder:         {vwv + " (auf den Bewohner als Halter zugelassenes oder nachweislich von ihm dauerhaft genutztes Kraftfahrzeug)", true},
	RuleVehicleDecommissioned: {"§ 3 Abs. 1, § 16 FZV (Außerbetriebsetzung); " + vwv, false},
	RuleVehicleClass:          {"Ermessen der Straßenverkehrsbehörde nach § 45 Abs. 1b Satz 1 Nr. 2a StVO; Fahrzeugklassen nach Art. 4 VO (EU) 2018/858 und VO (EU) Nr. 168/2013", true},
	RuleVehicleLength:         {"Ermessen der Straßenverkehrsbehörde nach § 45 Abs. 1b Satz 1 Nr. 2a StVO", true},
	RuleVehicleMass:           {"Ermessen der Straßenverkehrsbehörde nach § 45 Abs. 1b Satz 1 Nr. 2a StVO", true},
	RulePlateGerman:           {"Ermessen der Straßenverkehrsbehörde nach § 45 Abs. 1b Satz 1 Nr. 2a StVO", true},
	RuleNoOwnSpace:            {"Ermessen der Straßenverkehrsbehörde nach § 45 Abs. 1b Satz 1 Nr. 2a StVO (Vorrang für Bewohner ohne eigenen Stellplatz)", true},
	RuleDurationOffered:       {"Gültigkeitsdauer nach Festlegung der Kommune", true},
	RulePermitsPerPerson:      {vwv + " (jeder Bewohner erhält nur einen Parkausweis)", false},
}

// SourceOf returns the legal source the rule set cites for a rule.
func (rs *RuleSet) SourceOf(rule string) string {
	if s := rs.Sources[rule]; s != "" {
		return s
	}
	d := defaultSources[rule]
	if d.local && rs.LegalSource != "" {
		return d.source + " i. V. m. " + rs.LegalSource
	}
	return d.source
}

// Evaluate checks the facts of one application against the rule set. The
// results list every rule that applies under this rule set (a limit the
// municipality did not set is not listed) and whose facts exist: when the
// person is not registered, or no vehicle was found, the rules that would
// need those facts are left out — the application fails anyway, and one
// clear reason serves the citizen better than five derived ones.
func (rs *RuleSet) Evaluate(f Facts) Outcome {
	e := evaluation{rs: rs}

	// Residence: § 45 Abs. 1b Satz 1 Nr. 2a StVO, VwV-StVO Ziff. X.
	if f.Registered {
		e.add(RuleResidenceRegistered, Pass, "Sie sind unter der Antragsanschrift gemeldet.")
		e.residenceKind(f)
	} else {
		e.add(RuleResidenceRegistered, Fail, "Sie sind unter der Antragsanschrift nicht gemeldet. Einen Bewohnerparkausweis erhält, wer im Bewohnerparkgebiet gemeldet ist und dort tatsächlich wohnt.")
	}
	// § 51 BMG: with an Auskunftssperre a clerk handles the case, never
	// automation (Hamburg accepts no online application for such cases).
	if f.ResidenceBlocked {
		e.add(RuleResidenceBlocked, Review, "Für Ihre Meldedaten besteht eine Auskunftssperre. Ihr Antrag wird deshalb nicht automatisch, sondern von einer Sachbearbeiterin oder einem Sachbearbeiter bearbeitet.")
	} else {
		e.add(RuleResidenceBlocked, Pass, "Für Ihre Meldedaten besteht keine Auskunftssperre.")
	}
	e.zone(f)
	e.age(f)

	// Vehicle: VwV-StVO Ziff. X — a permit is issued for one vehicle held by
	// the resident or permanently used by them.
	if f.VehicleFound {
		e.add(RuleVehicleFound, Pass, fmt.Sprintf("Das Fahrzeug %s ist im Fahrzeugregister eingetragen.", plate(f.Plate)))
		e.holder(f)
		e.vehicle(f)
	} else {
		e.add(RuleVehicleFound, Fail, fmt.Sprintf("Zum Kennzeichen %s ist im Fahrzeugregister kein Fahrzeug eingetragen. Bitte prüfen Sie das Kennzeichen.", plate(f.Plate)))
	}
	if rs.GermanPlateOnly {
		if f.GermanPlate {
			e.add(RulePlateGerman, Pass, "Das Fahrzeug hat ein deutsches Kennzeichen.")
		} else {
			e.add(RulePlateGerman, Fail, "Ein Bewohnerparkausweis wird hier nur für Fahrzeuge mit deutschem Kennzeichen erteilt.")
		}
	}
	if rs.RequireNoOwnSpace {
		if f.NoOwnSpaceDeclared {
			e.add(RuleNoOwnSpace, Pass, "Sie haben erklärt, dass Ihnen kein eigener Stellplatz und keine Garage zur Verfügung steht.")
		} else {
			e.add(RuleNoOwnSpace, Fail, "Ein Bewohnerparkausweis wird hier nur erteilt, wenn Ihnen kein eigener Stellplatz und keine Garage zur Verfügung steht. Diese Erklärung fehlt im Antrag.")
		}
	}

	if slices.Contains(rs.DurationsMonths, f.DurationMonths) {
		e.add(RuleDurationOffered, Pass, fmt.Sprintf("Die gewählte Laufzeit von %s wird angeboten.", months(f.DurationMonths)))
	} else {
		ds := slices.Clone(rs.DurationsMonths)
		slices.Sort(ds)
		e.add(RuleDurationOffered, Fail, fmt.Sprintf("Eine Laufzeit von %s wird nicht angeboten; möglich: %s.", months(f.DurationMonths), monthsList(ds)))
	}

	// VwV-StVO Ziff. X: each resident gets one permit (unless the
	// municipality allows more).
	limit := max(rs.PermitsPerPerson, 1) // a RuleSet built in code may leave it 0
	if f.ActivePermitsOfPerson < limit {
		e.add(RulePermitsPerPerson, Pass, "Die Höchstzahl gültiger Bewohnerparkausweise je Person ist nicht erreicht.")
	} else {
		have := "einen gültigen Bewohnerparkausweis"
		if f.ActivePermitsOfPerson > 1 {
			have = fmt.Sprintf("%d gültige Bewohnerparkausweise", f.ActivePermitsOfPerson)
		}
		allowed := "wird hier nur ein Ausweis erteilt"
		if limit > 1 {
			allowed = fmt.Sprintf("werden hier höchstens %d Ausweise erteilt", limit)
		}
		e.add(RulePermitsPerPerson, Fail, fmt.Sprintf("Sie haben bereits %s; je Person %s. Für ein anderes Fahrzeug ändern Sie bitte Ihren bestehenden Ausweis.", have, allowed))
	}

	o := Outcome{Verdict: Pass, Results: e.results}
	for _, r := range e.results {
		switch r.Verdict {
		case Fail:
			o.Verdict = Fail
		case Review:
			if o.Verdict == Pass {
				o.Verdict = Review
			}
		case Pass:
		default: // cannot happen; never let an unknown verdict pass
			o.Verdict = Fail
		}
	}
	o.Automatic = o.Verdict == Pass && rs.Automation.Enabled && strings.TrimSpace(rs.Automation.LegalBasis) != ""
	return o
}

type evaluation struct {
	rs      *RuleSet
	results []Result
}

func (e *evaluation) add(rule string, v Verdict, reason string) {
	e.results = append(e.results, Result{Rule: rule, Verdict: v, Reason: reason, Source: e.rs.SourceOf(rule)})
}

// residenceKind: § 21 BMG distinguishes Haupt- and Nebenwohnung; whether a
// Nebenwohnung suffices is the municipality's decision (VwV-StVO Ziff. X).
func (e *evaluation) residenceKind(f Facts) {
	rs := e.rs
	switch {
	case f.ResidenceKind != ResidenceMain && f.ResidenceKind != ResidenceSecondary:
		e.add(RuleResidenceKind, Review, "Ob die Antragsanschrift Ihre Haupt- oder Nebenwohnung ist, ist nicht bekannt; das prüft die Sachbearbeitung.")
		return
	case slices.Contains(rs.ResidenceKinds, f.ResidenceKind):
		e.add(RuleResidenceKind, Pass, fmt.Sprintf("Die Antragsanschrift ist Ihre %s; das genügt.", residenceName(f.ResidenceKind)))
	default:
		e.add(RuleResidenceKind, Fail, fmt.Sprintf("Die Antragsanschrift ist Ihre %s. Hier wird ein Bewohnerparkausweis nur für die %s erteilt.",
			residenceName(f.ResidenceKind), residenceNames(rs.ResidenceKinds)))
		return
	}
	// Nürnberg: a Nebenwohnung counts only at least 1 km from the Hauptwohnung.
	if f.ResidenceKind != ResidenceSecondary || rs.MinDistanceFromMainM <= 0 {
		return
	}
	switch {
	case f.DistanceFromMainM < 0:
		e.add(RuleResidenceDistance, Review, fmt.Sprintf("Die Entfernung Ihrer Nebenwohnung zur Hauptwohnung ist nicht bekannt (verlangt sind mindestens %s); das prüft die Sachbearbeitung.", meters(rs.MinDistanceFromMainM)))
	case f.DistanceFromMainM < rs.MinDistanceFromMainM:
		e.add(RuleResidenceDistance, Fail, fmt.Sprintf("Ihre Nebenwohnung liegt %s von Ihrer Hauptwohnung entfernt; für eine Nebenwohnung verlangt sind mindestens %s.", meters(f.DistanceFromMainM), meters(rs.MinDistanceFromMainM)))
	default:
		e.add(RuleResidenceDistance, Pass, fmt.Sprintf("Ihre Nebenwohnung liegt mindestens %s von Ihrer Hauptwohnung entfernt.", meters(rs.MinDistanceFromMainM)))
	}
}

// zone: § 45 Abs. 1b Satz 1 Nr. 2a StVO — the address must lie in a
// Bewohnerparkbereich; where zones overlap the authority decides which.
func (e *evaluation) zone(f Facts) {
	var zones []string
	for _, z := range f.ZoneIDs {
		if z != "" && !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	switch len(zones) {
	case 0:
		e.add(RuleZoneContainsAddress, Fail, "Die Antragsanschrift liegt in keiner Bewohnerparkzone.")
	case 1:
		e.add(RuleZoneContainsAddress, Pass, fmt.Sprintf("Die Antragsanschrift liegt in der Bewohnerparkzone „%s“.", zones[0]))
	default:
		e.add(RuleZoneContainsAddress, Review, fmt.Sprintf("Die Antragsanschrift liegt in mehreren Bewohnerparkzonen (%s); welche Zone der Ausweis erhält, legt die Sachbearbeitung fest.",
			"„"+strings.Join(zones, "“, „")+"“"))
	}
}

// age: § 12 Abs. 1 Nr. 1 VwVfG. The age is counted by §§ 187 Abs. 2 Satz 2,
// 188 Abs. 2 BGB: one is n years old from the start of the n-th birthday;
// someone born on 29 February is, in other years, from 1 March.
func (e *evaluation) age(f Facts) {
	min := e.rs.MinAgeYears
	if min <= 0 {
		return
	}
	if f.ApplicantBirthDate.IsZero() || f.Day.IsZero() {
		e.add(RuleAgeMinimum, Review, "Ihr Geburtsdatum ist nicht bekannt; das Mindestalter prüft die Sachbearbeitung.")
		return
	}
	if !reachedAge(f.ApplicantBirthDate, f.Day, min) {
		e.add(RuleAgeMinimum, Fail, fmt.Sprintf("Einen Bewohnerparkausweis können hier Personen ab %d Jahren beantragen.", min))
		return
	}
	e.add(RuleAgeMinimum, Pass, fmt.Sprintf("Sie sind mindestens %d Jahre alt.", min))
}

// reachedAge reports whether someone born on birth is at least years old on
// day. time.AddDate normalises 29 February to 1 March, as § 188 BGB counts.
func reachedAge(birth, day time.Time, years int) bool {
	b := dateOf(birth)
	return !dateOf(day).Before(b.AddDate(years, 0, 0))
}

// holder: VwV-StVO Ziff. X — held by the applicant, or permanently at their
// disposal. The declaration for a company car, borrowed car or car-sharing is
// checked by a clerk; which of them count is the municipality's choice.
func (e *evaluation) holder(f Facts) {
	rs := e.rs
	rel := f.Relation
	if rel == "" {
		rel = RelationHolder
	}
	var allowed bool
	var what, declaration string
	switch rel {
	case RelationHolder:
		if f.HolderMatches {
			e.add(RuleVehicleHolder, Pass, "Sie sind als Halterin oder Halter des Fahrzeugs eingetragen.")
			return
		}
		reason := "Sie sind nicht als Halterin oder Halter des Fahrzeugs eingetragen."
		if alt := rs.otherRelations(); alt != "" {
			reason += " Steht Ihnen das Fahrzeug dauerhaft zur Verfügung (" + alt + "), geben Sie das bitte im Antrag an und fügen Sie die Erklärung bei."
		}
		e.add(RuleVehicleHolder, Fail, reason)
		return
	case RelationCompanyCar:
		allowed, what, declaration = rs.AllowCompanyCar, "Dienstwagen", "Bestätigung Ihres Arbeitgebers über die dauerhafte private Nutzung des Dienstwagens"
	case RelationBorrowed:
		allowed, what, declaration = rs.AllowBorrowed, "dauerhaft überlassene Fahrzeuge", "Überlassungserklärung der Halterin oder des Halters"
	case RelationCarSharing:
		allowed, what, declaration = rs.AllowCarSharing, "Carsharing-Fahrzeuge", "Carsharing-Vertrag"
	default:
		e.add(RuleVehicleHolder, Review, fmt.Sprintf("Das angegebene Nutzungsverhältnis „%s“ ist nicht vorgesehen; das prüft die Sachbearbeitung.", f.Relation))
		return
	}
	switch {
	case !allowed:
		e.add(RuleVehicleHolder, Fail, fmt.Sprintf("Für %s wird hier kein Bewohnerparkausweis erteilt; das Fahrzeug muss auf Sie zugelassen sein.", what))
	case !f.DeclarationProvided:
		e.add(RuleVehicleHolder, Fail, fmt.Sprintf("Die %s fehlt. Bitte reichen Sie sie mit dem Antrag ein.", declaration))
	default:
		e.add(RuleVehicleHolder, Review, fmt.Sprintf("Die %s liegt vor und wird von der Sachbearbeitung geprüft.", declaration))
	}
}

// otherRelations names the relations besides holding the car that the
// municipality accepts, for a helpful refusal.
func (rs *RuleSet) otherRelations() string {
	var alt []string
	if rs.AllowCompanyCar {
		alt = append(alt, "Dienstwagen")
	}
	if rs.AllowBorrowed {
		alt = append(alt, "Überlassung durch die Halterin oder den Halter")
	}
	if rs.AllowCarSharing {
		alt = append(alt, "Carsharing")
	}
	return strings.Join(alt, ", ")
}

// vehicle checks what the vehicle register says about the vehicle.
func (e *evaluation) vehicle(f Facts) {
	rs := e.rs
	// § 3 Abs. 1, § 16 FZV: a vehicle außer Betrieb gesetzt may not be used
	// on public roads, so it cannot park there either.
	if f.Decommissioned {
		e.add(RuleVehicleDecommissioned, Fail, fmt.Sprintf("Das Fahrzeug %s ist außer Betrieb gesetzt.", plate(f.Plate)))
	} else {
		e.add(RuleVehicleDecommissioned, Pass, "Das Fahrzeug ist zum Verkehr zugelassen.")
	}
	// Vehicle classes: the municipality's discretion (Menden: cars only).
	if len(rs.VehicleClasses) > 0 {
		class := strings.TrimSuffix(f.VehicleClass, "G") // "M1G": off-road variant of M1 (VO (EU) 2018/858 Anhang I)
		switch {
		case class == "":
			e.add(RuleVehicleClass, Review, "Die Fahrzeugklasse ist nicht bekannt; das prüft die Sachbearbeitung.")
		case slices.Contains(rs.VehicleClasses, class):
			e.add(RuleVehicleClass, Pass, fmt.Sprintf("Das Fahrzeug gehört zur Fahrzeugklasse %s.", className(class)))
		default:
			var names []string
			for _, c := range rs.VehicleClasses {
				names = append(names, className(c))
			}
			e.add(RuleVehicleClass, Fail, fmt.Sprintf("Das Fahrzeug gehört zur Fahrzeugklasse %s; ein Bewohnerparkausweis wird hier nur für %s erteilt.",
				className(class), strings.Join(names, ", ")))
		}
	}
	// Length: the municipality's discretion (Köln: none over 5,6 m).
	if rs.MaxLengthMM > 0 {
		switch {
		case f.LengthMM <= 0:
			e.add(RuleVehicleLength, Review, "Die Länge des Fahrzeugs ist nicht bekannt; das prüft die Sachbearbeitung.")
		case f.LengthMM > rs.MaxLengthMM:
			e.add(RuleVehicleLength, Fail, fmt.Sprintf("Das Fahrzeug ist %s lang; ein Bewohnerparkausweis wird hier nur für Fahrzeuge bis %s Länge erteilt.", mm(f.LengthMM), mm(rs.MaxLengthMM)))
		default:
			e.add(RuleVehicleLength, Pass, fmt.Sprintf("Das Fahrzeug ist nicht länger als %s.", mm(rs.MaxLengthMM)))
		}
	}
	// Mass: the municipality's discretion (Neubrandenburg: up to 3,5 t).
	if rs.MaxMassKg > 0 {
		switch {
		case f.MassKg <= 0:
			e.add(RuleVehicleMass, Review, "Die zulässige Gesamtmasse des Fahrzeugs ist nicht bekannt; das prüft die Sachbearbeitung.")
		case f.MassKg > rs.MaxMassKg:
			e.add(RuleVehicleMass, Fail, fmt.Sprintf("Das Fahrzeug hat eine zulässige Gesamtmasse von %s; ein Bewohnerparkausweis wird hier nur bis %s erteilt.", kg(f.MassKg), kg(rs.MaxMassKg)))
		default:
			e.add(RuleVehicleMass, Pass, fmt.Sprintf("Die zulässige Gesamtmasse liegt nicht über %s.", kg(rs.MaxMassKg)))
		}
	}
}

func plate(p string) string {
	if strings.TrimSpace(p) == "" {
		return "(ohne Angabe)"
	}
	return "„" + p + "“"
}

func residenceName(kind string) string {
	switch kind {
	case ResidenceMain:
		return "Hauptwohnung"
	case ResidenceSecondary:
		return "Nebenwohnung"
	}
	return kind
}

func residenceNames(kinds []string) string {
	var names []string
	for _, k := range kinds {
		names = append(names, residenceName(k))
	}
	return strings.Join(names, " oder ")
}

var classNames = map[string]string{
	"M1": "Pkw", "M2": "Kleinbus", "M3": "Bus",
	"N1": "leichtes Nutzfahrzeug bis 3,5 t", "N2": "Lkw bis 12 t", "N3": "Lkw über 12 t",
	"L1e": "Kleinkraftrad", "L2e": "dreirädriges Kleinkraftfahrzeug", "L3e": "Kraftrad",
	"L4e": "Kraftrad mit Beiwagen", "L5e": "dreirädriges Kraftfahrzeug", "L6e": "leichtes vierrädriges Kraftfahrzeug",
	"L7e": "schweres vierrädriges Kraftfahrzeug",
}

func className(c string) string {
	if n, ok := classNames[c]; ok {
		return c + " (" + n + ")"
	}
	return c
}
