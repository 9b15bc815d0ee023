package rules

import (
	"encoding/json"
	"time"
)

// The file format, for writing. Load reads the same field names (see
// load.go); FuzzLoad and TestEmbeddedRoundTrip keep the two in step:
// whatever loads, marshals and loads again to the same Config.

type configJSON struct {
	Note         string            `json:"_note,omitempty"`
	ARS          string            `json:"ars"`
	Municipality string            `json:"municipality"`
	Remedy       string            `json:"remedy,omitempty"`
	Rules        []ruleSetJSON     `json:"rules"`
	Fees         []feeScheduleJSON `json:"fees"`
}

type ruleSetJSON struct {
	Note                 string            `json:"_note,omitempty"`
	ValidFrom            string            `json:"valid_from"`
	LegalSource          string            `json:"legal_source"`
	ResidenceKinds       []string          `json:"residence_kinds"`
	MinDistanceFromMainM int               `json:"min_distance_from_main_m,omitempty"`
	VehiclesPerPermit    int               `json:"vehicles_per_permit"`
	PermitsPerPerson     int               `json:"permits_per_person"`
	MinAgeYears          int               `json:"min_age_years,omitempty"`
	GermanPlateOnly      bool              `json:"german_plate_only,omitempty"`
	VehicleClasses       []string          `json:"vehicle_classes,omitempty"`
	MaxLengthMM          int               `json:"max_length_mm,omitempty"`
	MaxMassKg            int               `json:"max_mass_kg,omitempty"`
	RequireNoOwnSpace    bool              `json:"require_no_own_space,omitempty"`
	AllowCompanyCar      bool              `json:"allow_company_car,omitempty"`
	AllowBorrowed        bool              `json:"allow_borrowed,omitempty"`
	AllowCarSharing      bool              `json:"allow_car_sharing,omitempty"`
	DurationsMonths      []int             `json:"durations_months"`
	RenewalWindowDays    int               `json:"renewal_window_days,omitempty"`
	Automation           *automationJSON   `json:"automation,omitempty"`
	RetentionMonths      int               `json:"retention_months"`
	Sources              map[string]string `json:"sources,omitempty"`
}

type automationJSON struct {
	Enabled    bool   `json:"enabled"`
	LegalBasis string `json:"legal_basis,omitempty"`
}

type feeScheduleJSON struct {
	Note             string          `json:"_note,omitempty"`
	ValidFrom        string          `json:"valid_from"`
	LegalSource      string          `json:"legal_source"`
	Tiers            []feeTierJSON   `json:"tiers"`
	ReplacementCents int64           `json:"replacement_cents,omitempty"`
	ChangeCents      int64           `json:"change_cents,omitempty"`
	ReissueCents     int64           `json:"reissue_cents,omitempty"`
	Reductions       []reductionJSON `json:"reductions,omitempty"`
	RefundRule       string          `json:"refund_rule,omitempty"`
}

type feeTierJSON struct {
	Note           string   `json:"_note,omitempty"`
	Name           string   `json:"name"`
	DurationMonths int      `json:"duration_months"`
	LengthMinMM    int      `json:"length_min_mm,omitempty"`
	LengthMaxMM    int      `json:"length_max_mm,omitempty"`
	MassMinKg      int      `json:"mass_min_kg,omitempty"`
	MassMaxKg      int      `json:"mass_max_kg,omitempty"`
	Fuels          []string `json:"fuels,omitempty"`
	AmountCents    int64    `json:"amount_cents"`
}

type reductionJSON struct {
	Note    string `json:"_note,omitempty"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Percent int    `json:"percent,omitempty"`
}

// MarshalJSON writes the configuration in the file format Load reads.
func (c Config) MarshalJSON() ([]byte, error) {
	out := configJSON{Note: c.Note, ARS: c.ARS, Municipality: c.Municipality, Remedy: c.Remedy,
		Rules: []ruleSetJSON{}, Fees: []feeScheduleJSON{}}
	for _, rs := range c.Rules {
		out.Rules = append(out.Rules, rs.toJSON())
	}
	for _, fs := range c.Fees {
		out.Fees = append(out.Fees, fs.toJSON())
	}
	return json.Marshal(out)
}

// MarshalJSON writes the rule set as it appears in the file format.
func (rs RuleSet) MarshalJSON() ([]byte, error) { return json.Marshal(rs.toJSON()) }

// MarshalJSON writes the fee schedule as it appears in the file format.
func (fs FeeSchedule) MarshalJSON() ([]byte, error) { return json.Marshal(fs.toJSON()) }

func (rs RuleSet) toJSON() ruleSetJSON {
	out := ruleSetJSON{
		Note: rs.Note, ValidFrom: fileDate(rs.ValidFrom), LegalSource: rs.LegalSource,
		ResidenceKinds: rs.ResidenceKinds, MinDistanceFromMainM: rs.MinDistanceFromMainM,
		VehiclesPerPermit: rs.VehiclesPerPermit, PermitsPerPerson: rs.PermitsPerPerson,
		MinAgeYears: rs.MinAgeYears, GermanPlateOnly: rs.GermanPlateOnly, VehicleClasses: rs.VehicleClasses,
		MaxLengthMM: rs.MaxLengthMM, MaxMassKg: rs.MaxMassKg, RequireNoOwnSpace: rs.RequireNoOwnSpace,
		AllowCompanyCar: rs.AllowCompanyCar, AllowBorrowed: rs.AllowBorrowed, AllowCarSharing: rs.AllowCarSharing,
		DurationsMonths: rs.DurationsMonths, RenewalWindowDays: rs.RenewalWindowDays,
		RetentionMonths: rs.RetentionMonths, Sources: rs.Sources,
	}
	if rs.Automation != (Automation{}) {
		out.Automation = &automationJSON{Enabled: rs.Automation.Enabled, LegalBasis: rs.Automation.LegalBasis}
	}
	return out
}

func (fs FeeSchedule) toJSON() feeScheduleJSON {
	out := feeScheduleJSON{
		Note: fs.Note, ValidFrom: fileDate(fs.ValidFrom), LegalSource: fs.LegalSource, Tiers: []feeTierJSON{},
		ReplacementCents: fs.ReplacementCents, ChangeCents: fs.ChangeCents, ReissueCents: fs.ReissueCents,
		RefundRule: fs.RefundRule,
	}
	for _, t := range fs.Tiers {
		out.Tiers = append(out.Tiers, feeTierJSON{
			Note: t.Note, Name: t.Name, DurationMonths: t.DurationMonths,
			LengthMinMM: t.LengthMinMM, LengthMaxMM: t.LengthMaxMM, MassMinKg: t.MassMinKg, MassMaxKg: t.MassMaxKg,
			Fuels: t.Fuels, AmountCents: t.AmountCents,
		})
	}
	for _, r := range fs.Reductions {
		out.Reductions = append(out.Reductions, reductionJSON{Note: r.Note, Name: r.Name, Kind: r.Kind, Percent: r.Percent})
	}
	return out
}

func fileDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}
