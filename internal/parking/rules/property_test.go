package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// Within every shipped schedule a longer vehicle never pays less.
func TestPropPriceMonotoneInLengthShipped(t *testing.T) {
	cfgs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var schedules []*FeeSchedule
	for _, c := range cfgs {
		for i := range c.Fees {
			schedules = append(schedules, &c.Fees[i])
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		fs := rapid.SampledFrom(schedules).Draw(t, "schedule")
		duration := rapid.SampledFrom(fs.durations()).Draw(t, "duration")
		mass := rapid.IntRange(1, 5000).Draw(t, "mass")
		fuel := rapid.SampledFrom(fuels).Draw(t, "fuel")
		a := rapid.IntRange(1, 8000).Draw(t, "shorter")
		b := rapid.IntRange(a, 8000).Draw(t, "longer")
		pa, errA := fs.Price(duration, a, mass, fuel)
		pb, errB := fs.Price(duration, b, mass, fuel)
		if errA == nil && errB == nil && pa.AmountCents > pb.AmountCents {
			t.Fatalf("%s: %d mm costs %d, %d mm costs %d", fs.LegalSource, a, pa.AmountCents, b, pb.AmountCents)
		}
	})
}

// lengthTiers draws a schedule that partitions the lengths 1..top (top 0:
// unbounded) into contiguous tiers with non-decreasing amounts, for one or
// two durations.
func lengthTiers(t *rapid.T) (tiers []FeeTier, top int) {
	durations := rapid.SliceOfNDistinct(rapid.IntRange(1, 36), 1, 2, rapid.ID[int]).Draw(t, "durations")
	n := rapid.IntRange(1, 5).Draw(t, "tiers")
	bounds := rapid.SliceOfNDistinct(rapid.IntRange(1, 9000), n-1, n-1, rapid.ID[int]).Draw(t, "bounds")
	slices.Sort(bounds)
	if rapid.Bool().Draw(t, "bounded") {
		top = rapid.IntRange(9001, 12000).Draw(t, "top")
	}
	for _, d := range durations {
		amount := int64(rapid.IntRange(1, 10000).Draw(t, "base"))
		lo := 0
		for i := range n {
			tier := FeeTier{Name: fmt.Sprintf("%d-%d", d, i), DurationMonths: d, LengthMinMM: lo, AmountCents: amount}
			if i < n-1 {
				tier.LengthMaxMM = bounds[i]
				lo = bounds[i] + 1
			} else {
				tier.LengthMaxMM = top
			}
			tiers = append(tiers, tier)
			amount += int64(rapid.IntRange(0, 5000).Draw(t, "step"))
		}
	}
	return tiers, top
}

// Price finds exactly the tier whose range holds the length, is monotone in
// length, and refuses lengths over the last tier; Load accepts such a
// schedule as free of overlaps.
func TestPropPriceGeneratedLengthTiers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tiers, top := lengthTiers(t)
		cfg := Config{ARS: "110000000000", Municipality: "Prop",
			Rules: []RuleSet{{ValidFrom: day("2024-01-01"), LegalSource: "A", ResidenceKinds: []string{"haupt"},
				DurationsMonths: []int{tiers[0].DurationMonths}, VehiclesPerPermit: 1, PermitsPerPerson: 1, RetentionMonths: 24}},
			Fees: []FeeSchedule{{ValidFrom: day("2024-01-01"), LegalSource: "V", Tiers: tiers, RefundRule: RefundNone}}}
		data, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		loaded, _, err := Load(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Load rejected a partition: %v", err)
		}
		fs := &loaded.Fees[0]
		d := rapid.SampledFrom(fs.durations()).Draw(t, "duration")
		a := rapid.IntRange(1, 13000).Draw(t, "a")
		b := rapid.IntRange(a, 13000).Draw(t, "b")
		pa, errA := fs.Price(d, a, 0, "")
		pb, errB := fs.Price(d, b, 0, "")
		for _, c := range []struct {
			length int
			p      Price
			err    error
		}{{a, pa, errA}, {b, pb, errB}} {
			if top > 0 && c.length > top {
				if c.err == nil || !strings.Contains(c.err.Error(), "length_mm") {
					t.Fatalf("%d mm over the top %d: %+v, %v", c.length, top, c.p, c.err)
				}
				continue
			}
			var want *FeeTier
			for i := range fs.Tiers {
				tt := &fs.Tiers[i]
				if tt.DurationMonths == d && c.length >= tt.LengthMinMM && (tt.LengthMaxMM == 0 || c.length <= tt.LengthMaxMM) {
					want = tt
				}
			}
			if c.err != nil || want == nil || c.p.Tier != want.Name || c.p.AmountCents != want.AmountCents {
				t.Fatalf("%d mm: got %+v, %v; want tier %+v", c.length, c.p, c.err, want)
			}
		}
		if errA == nil && errB == nil && pa.AmountCents > pb.AmountCents {
			t.Fatalf("%d mm costs %d, %d mm costs %d", a, pa.AmountCents, b, pb.AmountCents)
		}
	})
}

func drawRuleSet(t *rapid.T) RuleSet {
	rs := RuleSet{
		ValidFrom:            day("2024-01-01"),
		LegalSource:          "Anordnung",
		ResidenceKinds:       rapid.SliceOfNDistinct(rapid.SampledFrom(residenceKinds), 1, 2, rapid.ID[string]).Draw(t, "kinds"),
		MinDistanceFromMainM: rapid.SampledFrom([]int{0, 500, 1000}).Draw(t, "minDistance"),
		VehiclesPerPermit:    1,
		PermitsPerPerson:     rapid.IntRange(0, 3).Draw(t, "permitsPerPerson"),
		MinAgeYears:          rapid.SampledFrom([]int{0, 18}).Draw(t, "minAge"),
		GermanPlateOnly:      rapid.Bool().Draw(t, "germanOnly"),
		VehicleClasses:       rapid.SliceOfNDistinct(rapid.SampledFrom(vehicleClasses), 0, 3, rapid.ID[string]).Draw(t, "classes"),
		MaxLengthMM:          rapid.SampledFrom([]int{0, 5000, 5600}).Draw(t, "maxLength"),
		MaxMassKg:            rapid.SampledFrom([]int{0, 3500}).Draw(t, "maxMass"),
		RequireNoOwnSpace:    rapid.Bool().Draw(t, "noOwnSpace"),
		AllowCompanyCar:      rapid.Bool().Draw(t, "companyCar"),
		AllowBorrowed:        rapid.Bool().Draw(t, "borrowed"),
		AllowCarSharing:      rapid.Bool().Draw(t, "carSharing"),
		DurationsMonths:      rapid.SliceOfNDistinct(rapid.SampledFrom([]int{6, 12, 24}), 1, 3, rapid.ID[int]).Draw(t, "durations"),
		RetentionMonths:      24,
	}
	if rapid.Bool().Draw(t, "automation") {
		rs.Automation = Automation{Enabled: true, LegalBasis: rapid.SampledFrom([]string{"", "§ 35a VwVfG i. V. m. X"}).Draw(t, "basis")}
	}
	return rs
}

func drawFacts(t *rapid.T) Facts {
	return Facts{
		Day:                   day("2026-03-10"),
		ApplicantBirthDate:    rapid.SampledFrom([]time.Time{{}, day("1990-01-01"), day("2008-03-10"), day("2008-03-11"), day("2015-01-01")}).Draw(t, "birth"),
		Registered:            rapid.Bool().Draw(t, "registered"),
		ResidenceKind:         rapid.SampledFrom([]string{"", ResidenceMain, ResidenceSecondary, "x"}).Draw(t, "kind"),
		ResidenceBlocked:      rapid.Bool().Draw(t, "blocked"),
		DistanceFromMainM:     rapid.IntRange(-1, 2000).Draw(t, "distance"),
		ZoneIDs:               rapid.SliceOfN(rapid.SampledFrom([]string{"1", "2", "3"}), 0, 3).Draw(t, "zones"),
		VehicleFound:          rapid.Bool().Draw(t, "found"),
		HolderMatches:         rapid.Bool().Draw(t, "holderMatches"),
		Relation:              rapid.SampledFrom(append(slices.Clone(relations), "", "leasing")).Draw(t, "relation"),
		DeclarationProvided:   rapid.Bool().Draw(t, "declaration"),
		Plate:                 "B-X 1",
		GermanPlate:           rapid.Bool().Draw(t, "germanPlate"),
		VehicleClass:          rapid.SampledFrom(append(slices.Clone(vehicleClasses), "", "M1G")).Draw(t, "class"),
		LengthMM:              rapid.IntRange(0, 7000).Draw(t, "length"),
		MassKg:                rapid.IntRange(0, 5000).Draw(t, "mass"),
		Decommissioned:        rapid.Bool().Draw(t, "decommissioned"),
		NoOwnSpaceDeclared:    rapid.Bool().Draw(t, "noOwnSpaceDeclared"),
		DurationMonths:        rapid.SampledFrom([]int{0, 6, 12, 18, 24}).Draw(t, "duration"),
		ActivePermitsOfPerson: rapid.IntRange(0, 3).Draw(t, "active"),
	}
}

// Evaluate never passes when a single rule fails: checked against
// conditions stated here independently of the implementation.
func TestPropEvaluateNeverPassesOnFailure(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rs := drawRuleSet(t)
		f := drawFacts(t)
		o := rs.Evaluate(f)

		// The trace: known rules, in order, each once, with reason and source.
		last := -1
		for _, r := range o.Results {
			i := slices.Index(ruleIDs, r.Rule)
			if i <= last || r.Reason == "" || r.Source == "" || !slices.Contains([]Verdict{Pass, Fail, Review}, r.Verdict) {
				t.Fatalf("bad result %+v in %+v", r, o.Results)
			}
			last = i
		}
		// The verdict is the worst of the results.
		want := Pass
		for _, r := range o.Results {
			if r.Verdict == Fail {
				want = Fail
			} else if r.Verdict == Review && want == Pass {
				want = Review
			}
		}
		if o.Verdict != want {
			t.Fatalf("verdict %s, results say %s: %+v", o.Verdict, want, o.Results)
		}
		if o.Automatic != (o.Verdict == Pass && rs.Automation.Enabled && rs.Automation.LegalBasis != "") {
			t.Fatalf("automatic %v for %s with %+v", o.Automatic, o.Verdict, rs.Automation)
		}

		rel := f.Relation
		if rel == "" {
			rel = RelationHolder
		}
		mustFail := map[string]bool{
			"not registered":      !f.Registered,
			"kind not allowed":    f.Registered && (f.ResidenceKind == ResidenceMain || f.ResidenceKind == ResidenceSecondary) && !slices.Contains(rs.ResidenceKinds, f.ResidenceKind),
			"secondary too close": f.Registered && f.ResidenceKind == ResidenceSecondary && slices.Contains(rs.ResidenceKinds, ResidenceSecondary) && f.DistanceFromMainM >= 0 && f.DistanceFromMainM < rs.MinDistanceFromMainM,
			"no zone":             len(f.ZoneIDs) == 0,
			"too young":           rs.MinAgeYears > 0 && !f.ApplicantBirthDate.IsZero() && f.ApplicantBirthDate.AddDate(rs.MinAgeYears, 0, 0).After(f.Day),
			"no vehicle":          !f.VehicleFound,
			"not the holder":      f.VehicleFound && rel == RelationHolder && !f.HolderMatches,
			"relation refused": f.VehicleFound && (rel == RelationCompanyCar && !rs.AllowCompanyCar ||
				rel == RelationBorrowed && !rs.AllowBorrowed || rel == RelationCarSharing && !rs.AllowCarSharing),
			"declaration missing": f.VehicleFound && slices.Contains([]string{RelationCompanyCar, RelationBorrowed, RelationCarSharing}, rel) && !f.DeclarationProvided,
			"decommissioned":      f.VehicleFound && f.Decommissioned,
			"class":               f.VehicleFound && len(rs.VehicleClasses) > 0 && f.VehicleClass != "" && !slices.Contains(rs.VehicleClasses, strings.TrimSuffix(f.VehicleClass, "G")),
			"too long":            f.VehicleFound && rs.MaxLengthMM > 0 && f.LengthMM > rs.MaxLengthMM,
			"too heavy":           f.VehicleFound && rs.MaxMassKg > 0 && f.MassKg > rs.MaxMassKg,
			"foreign plate":       rs.GermanPlateOnly && !f.GermanPlate,
			"own space":           rs.RequireNoOwnSpace && !f.NoOwnSpaceDeclared,
			"duration":            !slices.Contains(rs.DurationsMonths, f.DurationMonths),
			"permits":             f.ActivePermitsOfPerson >= max(rs.PermitsPerPerson, 1),
		}
		for why, yes := range mustFail {
			if yes && o.Verdict != Fail {
				t.Fatalf("%s, yet the verdict is %s: %+v", why, o.Verdict, o.Results)
			}
		}
		mustNotPass := map[string]bool{
			"blocked":        f.ResidenceBlocked,
			"several zones":  len(slices.Compact(slices.Sorted(slices.Values(f.ZoneIDs)))) > 1,
			"clerk declares": f.VehicleFound && rel != RelationHolder,
		}
		for why, yes := range mustNotPass {
			if yes && o.Verdict == Pass {
				t.Fatalf("%s, yet the verdict is pass", why)
			}
		}
	})
}

// RulesAt and FeesAt pick the latest version whose ValidFrom is on or
// before the day's calendar date, whatever the order of the versions.
func TestPropVersionAt(t *testing.T) {
	base := day("2020-01-01")
	rapid.Check(t, func(t *rapid.T) {
		offsets := rapid.SliceOfNDistinct(rapid.IntRange(0, 2000), 1, 6, rapid.ID[int]).Draw(t, "offsets")
		c := &Config{ARS: "110000000000"}
		for _, o := range offsets {
			vf := base.AddDate(0, 0, o)
			c.Rules = append(c.Rules, RuleSet{ValidFrom: vf, LegalSource: fmt.Sprint(o)})
			c.Fees = append(c.Fees, FeeSchedule{ValidFrom: vf, LegalSource: fmt.Sprint(o)})
		}
		zone := time.FixedZone("x", rapid.IntRange(-12, 14).Draw(t, "zone")*3600)
		d := rapid.IntRange(-5, 2010).Draw(t, "day")
		minute := rapid.IntRange(0, 24*60-1).Draw(t, "minute")
		y, m, dd := base.AddDate(0, 0, d).Date()
		at := time.Date(y, m, dd, minute/60, minute%60, 0, 0, zone)

		want := -1
		for _, o := range offsets {
			if o <= d && o > want {
				want = o
			}
		}
		rs, errR := c.RulesAt(at)
		fs, errF := c.FeesAt(at)
		if want < 0 {
			if errR == nil || errF == nil {
				t.Fatalf("day %d before every version %v: got %v, %v", d, offsets, rs, fs)
			}
			return
		}
		if errR != nil || errF != nil || rs.LegalSource != fmt.Sprint(want) || fs.LegalSource != fmt.Sprint(want) {
			t.Fatalf("day %d, versions %v: got %v/%v (%v, %v), want %d", d, offsets, rs, fs, errR, errF, want)
		}
	})
}

func drawText(t *rapid.T, label string) string {
	return rapid.StringMatching(`[A-Za-zÄÖÜäöüß§0-9 .,/()"\\–-]{0,20}[A-Za-zÄÖÜäöüß§]`).Draw(t, label)
}

// Whatever valid configuration is built, it marshals to the file format
// and loads back unchanged — every field, not only those of the shipped files.
func TestPropMarshalLoadRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := &Config{
			ARS:          rapid.StringMatching(`[0-9]{12}`).Draw(t, "ars"),
			Municipality: drawText(t, "municipality"),
			Note:         rapid.SampledFrom([]string{"", "Hinweis"}).Draw(t, "note"),
		}
		days := rapid.SliceOfNDistinct(rapid.IntRange(0, 5000), 1, 3, rapid.ID[int]).Draw(t, "ruleDays")
		slices.Sort(days)
		for _, d := range days {
			rs := drawRuleSet(t)
			rs.ValidFrom = day("2015-01-01").AddDate(0, 0, d)
			rs.LegalSource = drawText(t, "legalSource")
			rs.PermitsPerPerson = max(rs.PermitsPerPerson, 1)
			rs.VehiclesPerPermit = rapid.IntRange(1, 10).Draw(t, "vehicles")
			rs.RenewalWindowDays = rapid.IntRange(0, 366).Draw(t, "renewal")
			rs.RetentionMonths = rapid.IntRange(1, 240).Draw(t, "retention")
			if len(rs.VehicleClasses) == 0 {
				rs.VehicleClasses = nil
			}
			if rs.Automation.LegalBasis == "" {
				rs.Automation.Enabled = false // would not load (§ 35a VwVfG)
			}
			if rapid.Bool().Draw(t, "sources") {
				rs.Sources = map[string]string{rapid.SampledFrom(ruleIDs).Draw(t, "rule"): drawText(t, "source")}
			}
			rs.Note = rapid.SampledFrom([]string{"", "Notiz"}).Draw(t, "ruleNote")
			c.Rules = append(c.Rules, rs)
		}
		days = rapid.SliceOfNDistinct(rapid.IntRange(0, 5000), 1, 3, rapid.ID[int]).Draw(t, "feeDays")
		slices.Sort(days)
		for _, d := range days {
			tiers, _ := lengthTiers(t)
			if rapid.Bool().Draw(t, "byFuelAndMass") {
				tiers = []FeeTier{
					{Name: "E", DurationMonths: 12, Fuels: []string{"electric"}, MassMaxKg: 2000, AmountCents: 100},
					{Name: "E+", DurationMonths: 12, Fuels: []string{"electric"}, MassMinKg: 2001, AmountCents: 150, Note: "schwer"},
					{Name: "V", DurationMonths: 12, Fuels: []string{"petrol", "diesel"}, AmountCents: 120},
				}
			}
			fs := FeeSchedule{
				ValidFrom:   day("2015-01-01").AddDate(0, 0, d),
				LegalSource: drawText(t, "feeSource"),
				Tiers:       tiers,
				RefundRule:  rapid.SampledFrom(refundRules).Draw(t, "refund"),
				Note:        rapid.SampledFrom([]string{"", "Notiz"}).Draw(t, "feeNote"),
			}
			fs.ReplacementCents = int64(rapid.IntRange(0, 5000).Draw(t, "replacement"))
			fs.ChangeCents = int64(rapid.IntRange(0, 5000).Draw(t, "change"))
			fs.ReissueCents = int64(rapid.IntRange(0, 5000).Draw(t, "reissue"))
			if rapid.Bool().Draw(t, "reduction") {
				fs.Reductions = []Reduction{{Name: drawText(t, "reductionName"), Kind: rapid.SampledFrom(reductionKinds).Draw(t, "kind"),
					Percent: rapid.IntRange(0, 100).Draw(t, "percent")}}
			}
			c.Fees = append(c.Fees, fs)
		}

		data, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, _, err := Load(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Load(Marshal(c)): %v\n%s", err, data)
		}
		if d := cmp.Diff(c, back); d != "" {
			t.Fatalf("round trip (-before +after):\n%s\n%s", d, data)
		}
	})
}
