package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// FeeSchedule is one version of a municipality's fees for the
// Bewohnerparkausweis. Since 2020 the Länder set them by ordinance or
// delegate that power (§ 6a Abs. 5a StVG); the fee must then be set by a
// Rechtsverordnung, not a Satzung, must not be reduced for social or climate
// reasons, and its tiers must be proportionate (BVerwG, Urteil vom
// 13.06.2023 – 9 CN 2.22). Load warns about each of these.
type FeeSchedule struct {
	ValidFrom   time.Time // a date (UTC midnight); in force until the next version starts
	LegalSource string    // the Rechtsverordnung (or, historically, what was applied)
	Note        string

	// Tiers price one permit by duration and, optionally, by vehicle length,
	// mass and fuel. No two tiers match the same vehicle and duration.
	Tiers []FeeTier

	ReplacementCents int64 // replacement after loss or damage; 0 = not set
	ChangeCents      int64 // change of vehicle or address; 0 = not set
	ReissueCents     int64 // any other reissue; 0 = not set

	// Reductions are recorded as the municipality configured them but never
	// applied: BVerwG 9 CN 2.22 held social reductions unlawful.
	Reductions []Reduction

	RefundRule string // RefundNone or RefundProRataMonths, on cancellation
}

// Refund rules on cancellation of a permit.
const (
	RefundNone          = "none"
	RefundProRataMonths = "pro_rata_months" // full months not yet begun are refunded
)

// FeeTier is one price. A bound of 0 means "no bound"; bounds are inclusive,
// so "over 1,800 kg" is MassMinKg 1801.
type FeeTier struct {
	Name           string // unique within the schedule; shown as Price.Tier
	DurationMonths int
	LengthMinMM    int
	LengthMaxMM    int
	MassMinKg      int // technically permissible maximum laden mass, as the vehicle register reports it
	MassMaxKg      int
	Fuels          []string // e.g. ["electric"]; empty = any; values as the vehicle register reports them (see fuels)
	AmountCents    int64
	Note           string
}

// Reduction is a configured reduction (kept for the record, see FeeSchedule).
type Reduction struct {
	Name    string
	Kind    string // "social", "disability", "climate", "other"
	Percent int    // 1–100; 0 = size not recorded
	Note    string
}

// fuels are the fuel values a tier may name: the vehicle register's words.
var fuels = []string{"petrol", "diesel", "electric", "hybrid", "lpg", "cng", "hydrogen", "other"}

var reductionKinds = []string{"social", "disability", "climate", "other"}

// Price is what one permit costs under a schedule.
type Price struct {
	AmountCents int64
	Tier        string    // FeeTier.Name
	Source      string    // the schedule's LegalSource
	ValidFrom   time.Time // of the schedule
}

// Price returns the fee for a permit of durationMonths for a vehicle of the
// given length, mass and fuel. Length, mass and fuel are only needed when a
// tier depends on them; pass 0 or "" when unknown. When no tier fits — the
// duration is not offered, the vehicle is over the longest tier (Köln: none
// over 5.6 m), or a needed vehicle fact is missing — the error is of kind
// errs.Invalid with a German message and the field at fault.
func (fs *FeeSchedule) Price(durationMonths, lengthMM, massKg int, fuel string) (Price, error) {
	var (
		durationOffered                bool
		needLength, needMass, needFuel bool
		// whether some tier of the duration accepts the vehicle's value
		lengthFits, massFits, fuelFits bool
	)
	for _, t := range fs.Tiers {
		if t.DurationMonths != durationMonths {
			continue
		}
		durationOffered = true
		okLength := !t.hasLength() || lengthMM > 0 && inRange(lengthMM, t.LengthMinMM, t.LengthMaxMM)
		okMass := !t.hasMass() || massKg > 0 && inRange(massKg, t.MassMinKg, t.MassMaxKg)
		okFuel := len(t.Fuels) == 0 || fuel != "" && slices.Contains(t.Fuels, fuel)
		if okLength && okMass && okFuel {
			return Price{AmountCents: t.AmountCents, Tier: t.Name, Source: fs.LegalSource, ValidFrom: fs.ValidFrom}, nil
		}
		needLength = needLength || t.hasLength() && lengthMM <= 0
		needMass = needMass || t.hasMass() && massKg <= 0
		needFuel = needFuel || len(t.Fuels) > 0 && fuel == ""
		lengthFits = lengthFits || okLength
		massFits = massFits || okMass
		fuelFits = fuelFits || okFuel
	}
	switch {
	case !durationOffered:
		return Price{}, errs.Field("duration_months", "Eine Laufzeit von %s wird nicht angeboten; möglich: %s.",
			months(durationMonths), monthsList(fs.durations()))
	case needLength:
		return Price{}, errs.Field("length_mm", "Für die Gebühr wird die Länge des Fahrzeugs benötigt.")
	case needMass:
		return Price{}, errs.Field("mass_kg", "Für die Gebühr wird die zulässige Gesamtmasse des Fahrzeugs benötigt.")
	case needFuel:
		return Price{}, errs.Field("fuel", "Für die Gebühr wird die Kraftstoffart des Fahrzeugs benötigt.")
	case !lengthFits:
		return Price{}, errs.Field("length_mm", "Für ein Fahrzeug von %s Länge sieht die Gebührenregelung keine Gebühr vor; ein Bewohnerparkausweis kann dafür nicht erteilt werden.",
			mm(lengthMM))
	case !massFits:
		return Price{}, errs.Field("mass_kg", "Für ein Fahrzeug mit %s zulässiger Gesamtmasse sieht die Gebührenregelung keine Gebühr vor.", kg(massKg))
	case !fuelFits:
		return Price{}, errs.Field("fuel", "Für die Kraftstoffart „%s“ sieht die Gebührenregelung keine Gebühr vor.", fuel)
	}
	return Price{}, errs.Field("vehicle", "Für dieses Fahrzeug (%s, %s, Kraftstoff „%s“) sieht die Gebührenregelung keine Gebühr vor.",
		mm(lengthMM), kg(massKg), fuel)
}

// durations returns the offered durations, ascending, without repeats.
func (fs *FeeSchedule) durations() []int {
	var ds []int
	for _, t := range fs.Tiers {
		ds = append(ds, t.DurationMonths)
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

func (t *FeeTier) hasLength() bool { return t.LengthMinMM > 0 || t.LengthMaxMM > 0 }
func (t *FeeTier) hasMass() bool   { return t.MassMinKg > 0 || t.MassMaxKg > 0 }

// inRange reports min <= v <= max, where a max of 0 is unbounded.
func inRange(v, min, max int) bool { return v >= min && (max == 0 || v <= max) }

// rangesOverlap reports whether [aMin,aMax] and [bMin,bMax] (max 0 =
// unbounded) share a value.
func rangesOverlap(aMin, aMax, bMin, bMax int) bool {
	return (aMax == 0 || bMin <= aMax) && (bMax == 0 || aMin <= bMax)
}

func fuelsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, f := range a {
		if slices.Contains(b, f) {
			return true
		}
	}
	return false
}

// overlaps reports whether one vehicle and duration would match both tiers.
func (t *FeeTier) overlaps(u *FeeTier) bool {
	return t.DurationMonths == u.DurationMonths &&
		rangesOverlap(t.LengthMinMM, t.LengthMaxMM, u.LengthMinMM, u.LengthMaxMM) &&
		rangesOverlap(t.MassMinKg, t.MassMaxKg, u.MassMinKg, u.MassMaxKg) &&
		fuelsOverlap(t.Fuels, u.Fuels)
}

// Formatting for German messages.

// euro formats cents as "1.234,56 €".
func euro(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%s,%02d €", sign, thousands(cents/100), cents%100)
}

func mm(v int) string { return thousands(int64(v)) + " mm" }
func kg(v int) string { return thousands(int64(v)) + " kg" }
func meters(v int) string {
	return thousands(int64(v)) + " m"
}

func months(n int) string {
	if n == 1 {
		return "1 Monat"
	}
	return strconv.Itoa(n) + " Monaten"
}

// monthsList renders [6 12 24] as "6, 12 oder 24 Monate".
func monthsList(ds []int) string {
	if len(ds) == 0 {
		return "keine"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = strconv.Itoa(d)
	}
	s := parts[0]
	if len(parts) > 1 {
		s = strings.Join(parts[:len(parts)-1], ", ") + " oder " + parts[len(parts)-1]
	}
	if len(ds) == 1 && ds[0] == 1 {
		return s + " Monat"
	}
	return s + " Monate"
}

// thousands groups digits the German way: 12345 → "12.345".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
