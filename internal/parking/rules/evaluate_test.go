package rules

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testRules sets every limit, so that every rule applies.
func testRules() RuleSet {
	return RuleSet{
		ValidFrom:            day("2024-01-01"),
		LegalSource:          "Anordnung Testhausen",
		ResidenceKinds:       []string{ResidenceMain, ResidenceSecondary},
		MinDistanceFromMainM: 1000,
		VehiclesPerPermit:    1,
		PermitsPerPerson:     1,
		MinAgeYears:          18,
		GermanPlateOnly:      true,
		VehicleClasses:       []string{"M1", "N1"},
		MaxLengthMM:          5600,
		MaxMassKg:            3500,
		RequireNoOwnSpace:    true,
		AllowCompanyCar:      true,
		AllowBorrowed:        true,
		DurationsMonths:      []int{6, 12, 24},
		Automation:           Automation{Enabled: true, LegalBasis: "§ 35a VwVfG i. V. m. § 1 Testgesetz"},
		RetentionMonths:      24,
	}
}

// passingFacts pass every rule of testRules.
func passingFacts() Facts {
	return Facts{
		Day:                day("2026-03-10"),
		ApplicantBirthDate: day("1990-05-05"),
		Registered:         true, ResidenceKind: ResidenceMain, DistanceFromMainM: -1,
		ZoneIDs:      []string{"29"},
		VehicleFound: true, HolderMatches: true, Relation: RelationHolder,
		Plate: "B-RH 123", GermanPlate: true, VehicleClass: "M1", LengthMM: 4500, MassKg: 2000, Fuel: "petrol",
		NoOwnSpaceDeclared: true,
		DurationMonths:     12,
	}
}

func resultOf(o Outcome, rule string) (Result, bool) {
	for _, r := range o.Results {
		if r.Rule == rule {
			return r, true
		}
	}
	return Result{}, false
}

func TestEvaluateAllPass(t *testing.T) {
	rs := testRules()
	o := rs.Evaluate(passingFacts())
	if o.Verdict != Pass || !o.Automatic {
		t.Fatalf("verdict %s automatic %v, want pass and automatic:\n%+v", o.Verdict, o.Automatic, o.Results)
	}
	var rules []string
	for _, r := range o.Results {
		rules = append(rules, r.Rule)
		if r.Verdict != Pass || r.Reason == "" || r.Source == "" {
			t.Errorf("result %+v, want pass with a reason and a source", r)
		}
	}
	// The distance rule applies only to a Nebenwohnung.
	want := slices.DeleteFunc(RuleIDs(), func(id string) bool { return id == RuleResidenceDistance })
	if d := cmp.Diff(want, rules); d != "" {
		t.Errorf("rules checked (-want +got):\n%s", d)
	}
}

func TestEvaluateRules(t *testing.T) {
	tests := []struct {
		name    string
		rules   func(*RuleSet)
		facts   func(*Facts)
		rule    string
		verdict Verdict // of the rule; "" = the rule must not be listed
		reason  string  // part of the German reason
	}{
		// residence.registered — § 45 Abs. 1b Satz 1 Nr. 2a StVO, VwV-StVO Ziff. X
		{"registered", nil, nil, RuleResidenceRegistered, Pass, "gemeldet"},
		{"not registered", nil, func(f *Facts) { f.Registered = false }, RuleResidenceRegistered, Fail, "nicht gemeldet"},

		// residence.kind — § 21 BMG
		{"main residence", nil, nil, RuleResidenceKind, Pass, "Hauptwohnung; das genügt"},
		{"secondary allowed", nil, func(f *Facts) { f.ResidenceKind = ResidenceSecondary; f.DistanceFromMainM = 1500 }, RuleResidenceKind, Pass, "Nebenwohnung; das genügt"},
		{"secondary not allowed", func(r *RuleSet) { r.ResidenceKinds = []string{ResidenceMain} }, func(f *Facts) { f.ResidenceKind = ResidenceSecondary }, RuleResidenceKind, Fail, "nur für die Hauptwohnung"},
		{"kind unknown", nil, func(f *Facts) { f.ResidenceKind = "" }, RuleResidenceKind, Review, "nicht bekannt"},
		{"kind odd", nil, func(f *Facts) { f.ResidenceKind = "zweit" }, RuleResidenceKind, Review, "prüft die Sachbearbeitung"},
		{"kind skipped when not registered", nil, func(f *Facts) { f.Registered = false }, RuleResidenceKind, "", ""},

		// residence.distance_from_main — Nürnberg practice
		{"secondary far enough", nil, func(f *Facts) { f.ResidenceKind = ResidenceSecondary; f.DistanceFromMainM = 1000 }, RuleResidenceDistance, Pass, "mindestens 1.000 m"},
		{"secondary too close", nil, func(f *Facts) { f.ResidenceKind = ResidenceSecondary; f.DistanceFromMainM = 600 }, RuleResidenceDistance, Fail, "600 m von Ihrer Hauptwohnung"},
		{"secondary distance unknown", nil, func(f *Facts) { f.ResidenceKind = ResidenceSecondary; f.DistanceFromMainM = -1 }, RuleResidenceDistance, Review, "nicht bekannt"},
		{"no distance rule", func(r *RuleSet) { r.MinDistanceFromMainM = 0 }, func(f *Facts) { f.ResidenceKind = ResidenceSecondary; f.DistanceFromMainM = 10 }, RuleResidenceDistance, "", ""},
		{"distance not for main", nil, func(f *Facts) { f.DistanceFromMainM = 10 }, RuleResidenceDistance, "", ""},

		// residence.blocked — § 51 BMG
		{"not blocked", nil, nil, RuleResidenceBlocked, Pass, "keine Auskunftssperre"},
		{"blocked", nil, func(f *Facts) { f.ResidenceBlocked = true }, RuleResidenceBlocked, Review, "Auskunftssperre"},

		// zone.contains_address — § 45 Abs. 1b Satz 1 Nr. 2a StVO
		{"one zone", nil, nil, RuleZoneContainsAddress, Pass, "Bewohnerparkzone „29“"},
		{"same zone twice", nil, func(f *Facts) { f.ZoneIDs = []string{"29", "29"} }, RuleZoneContainsAddress, Pass, "„29“"},
		{"no zone", nil, func(f *Facts) { f.ZoneIDs = nil }, RuleZoneContainsAddress, Fail, "in keiner Bewohnerparkzone"},
		{"several zones", nil, func(f *Facts) { f.ZoneIDs = []string{"H1", "H2"} }, RuleZoneContainsAddress, Review, "mehreren Bewohnerparkzonen („H1“, „H2“)"},

		// age.minimum — § 12 VwVfG, §§ 187, 188 BGB
		{"adult", nil, nil, RuleAgeMinimum, Pass, "mindestens 18 Jahre"},
		{"the day before the 18th birthday", nil, func(f *Facts) { f.ApplicantBirthDate = day("2008-03-11") }, RuleAgeMinimum, Fail, "ab 18 Jahren"},
		{"on the 18th birthday", nil, func(f *Facts) { f.ApplicantBirthDate = day("2008-03-10") }, RuleAgeMinimum, Pass, ""},
		{"29 February, on 28 February", nil, func(f *Facts) { f.ApplicantBirthDate = day("2008-02-29"); f.Day = day("2026-02-28") }, RuleAgeMinimum, Fail, ""},
		{"29 February, on 1 March", nil, func(f *Facts) { f.ApplicantBirthDate = day("2008-02-29"); f.Day = day("2026-03-01") }, RuleAgeMinimum, Pass, ""},
		{"birth date unknown", nil, func(f *Facts) { f.ApplicantBirthDate = time.Time{} }, RuleAgeMinimum, Review, "Geburtsdatum"},
		{"no minimum age", func(r *RuleSet) { r.MinAgeYears = 0 }, func(f *Facts) { f.ApplicantBirthDate = day("2020-01-01") }, RuleAgeMinimum, "", ""},

		// vehicle.found — VwV-StVO Ziff. X
		{"vehicle found", nil, nil, RuleVehicleFound, Pass, "„B-RH 123“"},
		{"vehicle not found", nil, func(f *Facts) { f.VehicleFound = false }, RuleVehicleFound, Fail, "kein Fahrzeug eingetragen"},
		{"no plate given", nil, func(f *Facts) { f.VehicleFound = false; f.Plate = "" }, RuleVehicleFound, Fail, "(ohne Angabe)"},
		{"holder skipped without vehicle", nil, func(f *Facts) { f.VehicleFound = false }, RuleVehicleHolder, "", ""},
		{"class skipped without vehicle", nil, func(f *Facts) { f.VehicleFound = false }, RuleVehicleClass, "", ""},

		// vehicle.holder — VwV-StVO Ziff. X
		{"holder", nil, nil, RuleVehicleHolder, Pass, "Halterin oder Halter"},
		{"empty relation means holder", nil, func(f *Facts) { f.Relation = "" }, RuleVehicleHolder, Pass, "Halterin oder Halter"},
		{"not the holder", nil, func(f *Facts) { f.HolderMatches = false }, RuleVehicleHolder, Fail, "(Dienstwagen, Überlassung durch die Halterin oder den Halter)"},
		{"not the holder, no alternatives", func(r *RuleSet) { r.AllowBorrowed, r.AllowCompanyCar = false, false }, func(f *Facts) { f.HolderMatches = false }, RuleVehicleHolder, Fail, "nicht als Halterin oder Halter des Fahrzeugs eingetragen."},
		{"company car with confirmation", nil, func(f *Facts) {
			f.Relation, f.HolderMatches, f.DeclarationProvided = RelationCompanyCar, false, true
		}, RuleVehicleHolder, Review, "Bestätigung Ihres Arbeitgebers"},
		{"company car without confirmation", nil, func(f *Facts) { f.Relation, f.HolderMatches = RelationCompanyCar, false }, RuleVehicleHolder, Fail, "Die Bestätigung Ihres Arbeitgebers über die dauerhafte private Nutzung des Dienstwagens fehlt."},
		{"company car not allowed", func(r *RuleSet) { r.AllowCompanyCar = false }, func(f *Facts) {
			f.Relation, f.HolderMatches, f.DeclarationProvided = RelationCompanyCar, false, true
		}, RuleVehicleHolder, Fail, "Für Dienstwagen wird hier kein Bewohnerparkausweis erteilt"},
		{"borrowed with declaration", nil, func(f *Facts) {
			f.Relation, f.HolderMatches, f.DeclarationProvided = RelationBorrowed, false, true
		}, RuleVehicleHolder, Review, "Überlassungserklärung"},
		{"borrowed without declaration", nil, func(f *Facts) { f.Relation, f.HolderMatches = RelationBorrowed, false }, RuleVehicleHolder, Fail, "Überlassungserklärung der Halterin oder des Halters fehlt"},
		{"car sharing not allowed", nil, func(f *Facts) {
			f.Relation, f.HolderMatches, f.DeclarationProvided = RelationCarSharing, false, true
		}, RuleVehicleHolder, Fail, "Für Carsharing-Fahrzeuge wird hier kein"},
		{"car sharing allowed", func(r *RuleSet) { r.AllowCarSharing = true }, func(f *Facts) {
			f.Relation, f.HolderMatches, f.DeclarationProvided = RelationCarSharing, false, true
		}, RuleVehicleHolder, Review, "Carsharing-Vertrag liegt vor"},
		{"unknown relation", nil, func(f *Facts) { f.Relation = "leasing" }, RuleVehicleHolder, Review, "„leasing“ ist nicht vorgesehen"},

		// vehicle.decommissioned — § 3 Abs. 1, § 16 FZV
		{"in service", nil, nil, RuleVehicleDecommissioned, Pass, "zugelassen"},
		{"decommissioned", nil, func(f *Facts) { f.Decommissioned = true }, RuleVehicleDecommissioned, Fail, "außer Betrieb gesetzt"},

		// vehicle.class — municipality's discretion
		{"car", nil, nil, RuleVehicleClass, Pass, "M1 (Pkw)"},
		{"off-road car", nil, func(f *Facts) { f.VehicleClass = "M1G" }, RuleVehicleClass, Pass, "M1 (Pkw)"},
		{"motorcycle", nil, func(f *Facts) { f.VehicleClass = "L3e" }, RuleVehicleClass, Fail, "L3e (Kraftrad); ein Bewohnerparkausweis wird hier nur für M1 (Pkw), N1 (leichtes Nutzfahrzeug bis 3,5 t) erteilt"},
		{"class unknown", nil, func(f *Facts) { f.VehicleClass = "" }, RuleVehicleClass, Review, "nicht bekannt"},
		{"any class", func(r *RuleSet) { r.VehicleClasses = nil }, func(f *Facts) { f.VehicleClass = "N3" }, RuleVehicleClass, "", ""},

		// vehicle.length — municipality's discretion (Köln 5,6 m)
		{"length at the limit", nil, func(f *Facts) { f.LengthMM = 5600 }, RuleVehicleLength, Pass, "nicht länger als 5.600 mm"},
		{"too long", nil, func(f *Facts) { f.LengthMM = 5700 }, RuleVehicleLength, Fail, "5.700 mm lang"},
		{"length unknown", nil, func(f *Facts) { f.LengthMM = 0 }, RuleVehicleLength, Review, "Länge"},
		{"no length limit", func(r *RuleSet) { r.MaxLengthMM = 0 }, func(f *Facts) { f.LengthMM = 12000 }, RuleVehicleLength, "", ""},

		// vehicle.mass — municipality's discretion (Neubrandenburg 3,5 t)
		{"mass at the limit", nil, func(f *Facts) { f.MassKg = 3500 }, RuleVehicleMass, Pass, "3.500 kg"},
		{"too heavy", nil, func(f *Facts) { f.MassKg = 3600 }, RuleVehicleMass, Fail, "3.600 kg"},
		{"mass unknown", nil, func(f *Facts) { f.MassKg = 0 }, RuleVehicleMass, Review, "Gesamtmasse"},
		{"no mass limit", func(r *RuleSet) { r.MaxMassKg = 0 }, func(f *Facts) { f.MassKg = 40000 }, RuleVehicleMass, "", ""},

		// plate.german
		{"german plate", nil, nil, RulePlateGerman, Pass, "deutsches Kennzeichen"},
		{"foreign plate", nil, func(f *Facts) { f.GermanPlate = false }, RulePlateGerman, Fail, "nur für Fahrzeuge mit deutschem Kennzeichen"},
		{"any plate", func(r *RuleSet) { r.GermanPlateOnly = false }, func(f *Facts) { f.GermanPlate = false }, RulePlateGerman, "", ""},

		// declaration.no_own_space
		{"no own space declared", nil, nil, RuleNoOwnSpace, Pass, "kein eigener Stellplatz"},
		{"no declaration", nil, func(f *Facts) { f.NoOwnSpaceDeclared = false }, RuleNoOwnSpace, Fail, "Diese Erklärung fehlt"},
		{"own space irrelevant", func(r *RuleSet) { r.RequireNoOwnSpace = false }, func(f *Facts) { f.NoOwnSpaceDeclared = false }, RuleNoOwnSpace, "", ""},

		// duration.offered
		{"duration offered", nil, nil, RuleDurationOffered, Pass, "12 Monaten"},
		{"duration not offered", nil, func(f *Facts) { f.DurationMonths = 18 }, RuleDurationOffered, Fail, "18 Monaten wird nicht angeboten; möglich: 6, 12 oder 24 Monate"},
		{"no duration chosen", nil, func(f *Facts) { f.DurationMonths = 0 }, RuleDurationOffered, Fail, "nicht angeboten"},

		// permits.per_person — VwV-StVO Ziff. X
		{"first permit", nil, nil, RulePermitsPerPerson, Pass, ""},
		{"second permit", nil, func(f *Facts) { f.ActivePermitsOfPerson = 1 }, RulePermitsPerPerson, Fail, "bereits einen gültigen Bewohnerparkausweis; je Person wird hier nur ein Ausweis erteilt"},
		{"second permit allowed", func(r *RuleSet) { r.PermitsPerPerson = 2 }, func(f *Facts) { f.ActivePermitsOfPerson = 1 }, RulePermitsPerPerson, Pass, ""},
		{"limit unset in code means one", func(r *RuleSet) { r.PermitsPerPerson = 0 }, func(f *Facts) { f.ActivePermitsOfPerson = 1 }, RulePermitsPerPerson, Fail, "nur ein Ausweis"},
		{"third permit where two are allowed", func(r *RuleSet) { r.PermitsPerPerson = 2 }, func(f *Facts) { f.ActivePermitsOfPerson = 2 }, RulePermitsPerPerson, Fail, "bereits 2 gültige Bewohnerparkausweise; je Person werden hier höchstens 2 Ausweise erteilt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := testRules()
			if tt.rules != nil {
				tt.rules(&rs)
			}
			f := passingFacts()
			if tt.facts != nil {
				tt.facts(&f)
			}
			o := rs.Evaluate(f)
			r, listed := resultOf(o, tt.rule)
			if tt.verdict == "" {
				if listed {
					t.Fatalf("rule %s listed as %+v, want it left out", tt.rule, r)
				}
				return
			}
			if !listed {
				t.Fatalf("rule %s not listed in %+v", tt.rule, o.Results)
			}
			if r.Verdict != tt.verdict {
				t.Errorf("%s: got %s (%s), want %s", tt.rule, r.Verdict, r.Reason, tt.verdict)
			}
			if !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("%s: reason %q, want it to contain %q", tt.rule, r.Reason, tt.reason)
			}
			if r.Source == "" || r.Source != rs.SourceOf(tt.rule) {
				t.Errorf("%s: source %q, want %q", tt.rule, r.Source, rs.SourceOf(tt.rule))
			}
			// The overall verdict follows from the results, and only a clean
			// pass is automatic.
			want := Pass
			for _, r := range o.Results {
				if r.Verdict == Fail {
					want = Fail
					break
				}
				if r.Verdict == Review {
					want = Review
				}
			}
			if o.Verdict != want || o.Automatic != (want == Pass) {
				t.Errorf("outcome %s automatic %v, want %s automatic %v", o.Verdict, o.Automatic, want, want == Pass)
			}
			if tt.verdict != Pass && o.Verdict == Pass {
				t.Errorf("outcome pass although %s is %s", tt.rule, tt.verdict)
			}
		})
	}
}

func TestEvaluateAutomation(t *testing.T) {
	rs := testRules()
	rs.Automation = Automation{}
	if o := rs.Evaluate(passingFacts()); o.Verdict != Pass || o.Automatic {
		t.Errorf("without automation: %s automatic %v, want pass for a clerk's one click", o.Verdict, o.Automatic)
	}
	// A rule set built in code that skipped Load's check is still not automated.
	rs.Automation = Automation{Enabled: true}
	if o := rs.Evaluate(passingFacts()); o.Automatic {
		t.Error("automatic without a legal basis (§ 35a VwVfG)")
	}
}

func TestSourceOf(t *testing.T) {
	rs := testRules()
	if got := rs.SourceOf(RuleResidenceBlocked); got != "§ 51 BMG (Auskunftssperre)" {
		t.Errorf("blocked: %q", got)
	}
	if got := rs.SourceOf(RuleVehicleLength); !strings.HasSuffix(got, " i. V. m. Anordnung Testhausen") || !strings.Contains(got, "§ 45 Abs. 1b Satz 1 Nr. 2a StVO") {
		t.Errorf("length (municipal choice): %q", got)
	}
	if got := rs.SourceOf(RulePermitsPerPerson); strings.Contains(got, "Testhausen") || !strings.Contains(got, "VwV-StVO") {
		t.Errorf("permits per person (federal rule): %q", got)
	}
	rs.Sources = map[string]string{RuleVehicleLength: "Verfügung vom 1.3.2025"}
	if got := rs.SourceOf(RuleVehicleLength); got != "Verfügung vom 1.3.2025" {
		t.Errorf("override: %q", got)
	}
	for _, id := range RuleIDs() {
		if _, ok := defaultSources[id]; !ok {
			t.Errorf("rule %s has no default source", id)
		}
	}
	if len(defaultSources) != len(RuleIDs()) {
		t.Errorf("%d default sources for %d rules", len(defaultSources), len(RuleIDs()))
	}
}

// The shipped municipalities behave as their sources say.
func TestEvaluateEmbedded(t *testing.T) {
	cfgs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	at := func(ars, d string) *RuleSet {
		rs, err := cfgs[ars].RulesAt(day(d))
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	facts := func(change func(*Facts)) Facts {
		f := passingFacts()
		f.Day = day("2026-06-01")
		f.DurationMonths = 12
		if change != nil {
			change(&f)
		}
		return f
	}

	berlin := at("110000000000", "2026-06-01")
	if o := berlin.Evaluate(facts(func(f *Facts) { f.DurationMonths = 24 })); o.Verdict != Pass || !o.Automatic {
		t.Errorf("Berlin, clean case: %s automatic %v %+v", o.Verdict, o.Automatic, o.With(Fail))
	}
	if o := berlin.Evaluate(facts(func(f *Facts) { f.DurationMonths = 24; f.ResidenceKind = ResidenceSecondary })); o.Verdict != Fail {
		t.Errorf("Berlin, Nebenwohnung: %s, want fail (Hauptwohnung only)", o.Verdict)
	}
	if o := berlin.Evaluate(facts(func(f *Facts) { f.DurationMonths = 24; f.ResidenceBlocked = true })); o.Verdict != Review || o.Automatic {
		t.Errorf("Berlin, Auskunftssperre: %s automatic %v, want review by a clerk", o.Verdict, o.Automatic)
	}

	hamburg := at("020000000000", "2026-06-01")
	o := hamburg.Evaluate(facts(func(f *Facts) { f.ResidenceBlocked = true; f.ResidenceKind = ResidenceSecondary }))
	if r, _ := resultOf(o, RuleResidenceBlocked); o.Verdict != Review || o.Automatic || r.Source != "§ 51 BMG (Auskunftssperre)" {
		t.Errorf("Hamburg, Nebenwohnung with Auskunftssperre: %s automatic %v, %+v", o.Verdict, o.Automatic, r)
	}
	if r, _ := resultOf(o, RuleResidenceKind); r.Verdict != Pass {
		t.Errorf("Hamburg accepts a Nebenwohnung: %+v", r)
	}

	koeln := at("053150000000", "2026-06-01")
	o = koeln.Evaluate(facts(func(f *Facts) { f.LengthMM = 5700 }))
	if r, _ := resultOf(o, RuleVehicleLength); o.Verdict != Fail || !strings.Contains(r.Source, "Stadt Köln") {
		t.Errorf("Köln, 5,70 m: %s %+v", o.Verdict, r)
	}
}
