package rules

import (
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func embeddedConfig(t *testing.T, ars string) *Config {
	t.Helper()
	cfgs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	c := cfgs[ars]
	if c == nil {
		t.Fatalf("no embedded configuration for %s", ars)
	}
	return c
}

// An application is priced by the version in force on the day it was made:
// Freiburg's void Satzung, the transition after BVerwG 9 CN 2.22, and the
// Rechtsverordnung from 1 December 2023.
func TestPriceFreiburgByDay(t *testing.T) {
	freiburg := embeddedConfig(t, "083110000000")
	tests := []struct {
		day      string
		lengthMM int
		cents    int64
		tier     string
		source   string
	}{
		{"2023-01-15", 4200, 24000, "bis 4,20 m", "Bewohnerparkgebührensatzung"},
		{"2023-01-15", 4201, 36000, "4,21 bis 4,70 m", "Bewohnerparkgebührensatzung"},
		{"2023-01-15", 4701, 48000, "ab 4,71 m", "Bewohnerparkgebührensatzung"},
		{"2023-11-30", 4500, 3000, "12 Monate", "GebOSt"},
		{"2023-12-01", 4500, 20000, "12 Monate", "Rechtsverordnung"},
		{"2023-12-01", 6000, 20000, "12 Monate", "Rechtsverordnung"}, // flat: length does not matter
	}
	for _, tt := range tests {
		fs, err := freiburg.FeesAt(day(tt.day))
		if err != nil {
			t.Fatal(err)
		}
		p, err := fs.Price(12, tt.lengthMM, 1500, "petrol")
		if err != nil {
			t.Errorf("%s, %d mm: %v", tt.day, tt.lengthMM, err)
			continue
		}
		if p.AmountCents != tt.cents || p.Tier != tt.tier || !strings.Contains(p.Source, tt.source) || !p.ValidFrom.Equal(fs.ValidFrom) {
			t.Errorf("%s, %d mm: got %+v, want %d cents in tier %q from %q", tt.day, tt.lengthMM, p, tt.cents, tt.tier, tt.source)
		}
	}
	before, _ := freiburg.FeesAt(day("2023-11-30"))
	after, _ := freiburg.FeesAt(day("2023-12-01"))
	p1, _ := before.Price(12, 4500, 0, "")
	p2, _ := after.Price(12, 4500, 0, "")
	if p1.AmountCents == p2.AmountCents {
		t.Errorf("30.11.2023 and 01.12.2023 priced alike (%d cents)", p1.AmountCents)
	}
}

func TestPrice(t *testing.T) {
	tests := []struct {
		ars      string
		day      string
		duration int
		lengthMM int
		massKg   int
		fuel     string
		cents    int64  // 0: an error is expected
		field    string // of the error
		message  string // part of the error's message
	}{
		{"110000000000", "2026-01-01", 24, 0, 0, "", 2040, "", ""},
		{"110000000000", "2026-01-01", 12, 4500, 1500, "petrol", 0, "duration_months", "Laufzeit von 12 Monaten wird nicht angeboten; möglich: 24 Monate"},
		{"020000000000", "2026-01-01", 12, 0, 0, "", 6500, "", ""},

		// Köln by length; none over 5,60 m.
		{"053150000000", "2025-03-01", 12, 3500, 0, "", 10000, "", ""},
		{"053150000000", "2025-03-01", 12, 4109, 0, "", 10000, "", ""},
		{"053150000000", "2025-03-01", 12, 4110, 0, "", 11000, "", ""},
		{"053150000000", "2025-03-01", 12, 4709, 0, "", 11000, "", ""},
		{"053150000000", "2025-03-01", 12, 4710, 0, "", 12000, "", ""},
		{"053150000000", "2025-03-01", 12, 5600, 0, "", 12000, "", ""},
		{"053150000000", "2025-03-01", 12, 5601, 0, "", 0, "length_mm", "5.601 mm Länge"},
		{"053150000000", "2025-03-01", 12, 0, 0, "", 0, "length_mm", "wird die Länge des Fahrzeugs benötigt"},
		{"053150000000", "2025-03-01", 6, 4000, 0, "", 0, "duration_months", "6 Monaten wird nicht angeboten"},

		// Tübingen by fuel and mass.
		{"084160041041", "2026-01-01", 12, 0, 1800, "petrol", 24000, "", ""},
		{"084160041041", "2026-01-01", 12, 0, 1801, "diesel", 30000, "", ""},
		{"084160041041", "2026-01-01", 12, 0, 1801, "hybrid", 30000, "", ""},
		{"084160041041", "2026-01-01", 12, 0, 2000, "electric", 24000, "", ""},
		{"084160041041", "2026-01-01", 12, 0, 2001, "electric", 30000, "", ""},
		{"084160041041", "2026-01-01", 12, 0, 1500, "", 0, "fuel", "Kraftstoffart"},
		{"084160041041", "2026-01-01", 12, 0, 0, "petrol", 0, "mass_kg", "Gesamtmasse"},
		{"084160041041", "2026-01-01", 12, 0, 1500, "hydrogen", 0, "fuel", "„hydrogen“"},
	}
	for _, tt := range tests {
		c := embeddedConfig(t, tt.ars)
		fs, err := c.FeesAt(day(tt.day))
		if err != nil {
			t.Fatal(err)
		}
		p, err := fs.Price(tt.duration, tt.lengthMM, tt.massKg, tt.fuel)
		name := c.Municipality + " " + tt.day
		if tt.cents == 0 {
			if err == nil {
				t.Errorf("%s Price(%d, %d, %d, %q) = %+v, want an error", name, tt.duration, tt.lengthMM, tt.massKg, tt.fuel, p)
				continue
			}
			if errs.KindOf(err) != errs.Invalid || errs.FieldOf(err) != tt.field || !strings.Contains(errs.MessageOf(err), tt.message) {
				t.Errorf("%s Price(%d, %d, %d, %q): got %v (kind %v, field %q), want invalid on %q containing %q",
					name, tt.duration, tt.lengthMM, tt.massKg, tt.fuel, err, errs.KindOf(err), errs.FieldOf(err), tt.field, tt.message)
			}
			continue
		}
		if err != nil || p.AmountCents != tt.cents {
			t.Errorf("%s Price(%d, %d, %d, %q) = %+v, %v; want %d cents", name, tt.duration, tt.lengthMM, tt.massKg, tt.fuel, p, err, tt.cents)
		}
	}
}

func TestPriceMixedMiss(t *testing.T) {
	fs := &FeeSchedule{Tiers: []FeeTier{
		{Name: "kurz, leicht", DurationMonths: 12, LengthMaxMM: 4000, MassMaxKg: 1500, AmountCents: 100},
		{Name: "lang, schwer", DurationMonths: 12, LengthMinMM: 4001, MassMinKg: 1501, AmountCents: 200},
	}}
	// Short but heavy: each tier misses on a different fact.
	_, err := fs.Price(12, 3000, 2000, "petrol")
	if errs.KindOf(err) != errs.Invalid || errs.FieldOf(err) != "vehicle" || !strings.Contains(errs.MessageOf(err), "3.000 mm, 2.000 kg") {
		t.Errorf("got %v (field %q), want invalid on vehicle naming length and mass", err, errs.FieldOf(err))
	}
}

func TestFormatting(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{euro(2040), "20,40 €"},
		{euro(123456789), "1.234.567,89 €"},
		{euro(5), "0,05 €"},
		{euro(-150), "-1,50 €"},
		{mm(5600), "5.600 mm"},
		{kg(999), "999 kg"},
		{monthsList([]int{12}), "12 Monate"},
		{monthsList([]int{6, 12, 24}), "6, 12 oder 24 Monate"},
		{months(1), "1 Monat"},
		{thousands(-1234567), "-1.234.567"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
