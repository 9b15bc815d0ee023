package rules

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Config is one municipality's parking configuration: dated versions of the
// rule set and of the fee schedule. Load returns both slices ordered by
// ValidFrom, without two versions on the same day.
type Config struct {
	ARS          string // Amtlicher Regionalschlüssel, 12 digits
	Municipality string // name, e.g. "Freiburg im Breisgau"
	Note         string // the file's "_note": sources and assumptions, for people
	// Remedy is the Rechtsbehelfsbelehrung of the municipality's decisions
	// (Widerspruch or Klage depends on the Land; § 58 VwGO). Without it a
	// decision lets the one-year period of § 58 Abs. 2 VwGO run; Load warns.
	Remedy string
	Rules  []RuleSet
	Fees   []FeeSchedule
}

// Warning is something legally doubtful in a configuration that still loads:
// the municipality has to look at it, the software can run with it.
type Warning struct {
	Path    string // e.g. "fees[0].legal_source"
	Message string // German
}

func (w Warning) String() string { return w.Path + ": " + w.Message }

// Residence kinds (§ 21 BMG): Hauptwohnung and Nebenwohnung.
const (
	ResidenceMain      = "haupt"
	ResidenceSecondary = "neben"
)

// Relations between the applicant and the vehicle. The VwV-StVO zu § 45
// Ziff. X admits a vehicle held by the applicant or permanently used by them.
const (
	RelationHolder     = "holder"      // Halterin oder Halter
	RelationCompanyCar = "company_car" // Dienstwagen, with the employer's confirmation
	RelationBorrowed   = "borrowed"    // dauerhaft überlassen, with the holder's Überlassungserklärung
	RelationCarSharing = "car_sharing" // Carsharing, with the contract
)

// RuleSet is one version of a municipality's eligibility rules.
type RuleSet struct {
	ValidFrom   time.Time // a date (UTC midnight); in force until the next version starts
	LegalSource string    // e.g. "Anordnung der Straßenverkehrsbehörde … / VwV-StVO zu § 45"
	Note        string

	ResidenceKinds       []string // ResidenceMain, ResidenceSecondary
	MinDistanceFromMainM int      // for a Nebenwohnung, distance to the Hauptwohnung (Nürnberg 1000); 0 = none

	// VehiclesPerPermit is how many plates one permit may carry (München 3);
	// it shapes the form, Evaluate checks one vehicle at a time.
	VehiclesPerPermit int
	PermitsPerPerson  int
	MinAgeYears       int // 0 = none

	GermanPlateOnly bool
	VehicleClasses  []string // EU classes, e.g. ["M1","N1"]; empty = any
	MaxLengthMM     int      // 0 = no limit
	MaxMassKg       int      // technically permissible maximum laden mass; 0 = no limit

	RequireNoOwnSpace bool // applicant must declare having no garage or private space

	AllowCompanyCar, AllowBorrowed, AllowCarSharing bool

	DurationsMonths   []int // offered validities, e.g. [6,12,24]
	RenewalWindowDays int   // renewal possible this many days before expiry; 0 = not configured

	Automation Automation

	RetentionMonths int // storage limitation after the last permit ends (DSGVO Art. 5 Abs. 1 lit. e); default 24

	// Sources overrides the legal source of single rules, keyed by rule id
	// (e.g. "vehicle.length"); see RuleIDs.
	Sources map[string]string
}

// Automation says whether clear cases may be decided without a clerk. A
// fully automated Verwaltungsakt needs a legal provision that permits it
// (§ 35a VwVfG), so Enabled without LegalBasis does not load.
type Automation struct {
	Enabled    bool
	LegalBasis string
}

// RulesAt returns the rule version in force on day (its calendar date in its
// own location: pass a date, or a time in Europe/Berlin). Without one the
// error is of kind errs.NotFound.
func (c *Config) RulesAt(day time.Time) (*RuleSet, error) {
	i := versionAt(len(c.Rules), func(i int) time.Time { return c.Rules[i].ValidFrom }, day)
	if i < 0 {
		return nil, errs.E(errs.NotFound, "Für %s ist am %s keine Fassung der Regeln für den Bewohnerparkausweis in Kraft.",
			c.name(), germanDate(day))
	}
	return &c.Rules[i], nil
}

// FeesAt returns the fee schedule in force on day (see RulesAt). An
// application is priced by the schedule in force on the day it was made.
func (c *Config) FeesAt(day time.Time) (*FeeSchedule, error) {
	i := versionAt(len(c.Fees), func(i int) time.Time { return c.Fees[i].ValidFrom }, day)
	if i < 0 {
		return nil, errs.E(errs.NotFound, "Für %s ist am %s keine Gebührenregelung für den Bewohnerparkausweis in Kraft.",
			c.name(), germanDate(day))
	}
	return &c.Fees[i], nil
}

func (c *Config) name() string {
	if c.Municipality != "" {
		return c.Municipality
	}
	return c.ARS
}

// versionAt returns the index of the version with the latest ValidFrom on or
// before day, or -1. It does not rely on the order, so a Config built in code
// works too.
func versionAt(n int, validFrom func(int) time.Time, day time.Time) int {
	d := dateOf(day)
	best := -1
	for i := range n {
		vf := dateOf(validFrom(i))
		if vf.After(d) {
			continue
		}
		if best < 0 || vf.After(dateOf(validFrom(best))) {
			best = i
		}
	}
	return best
}

// dateOf is t's calendar date, in t's own location, as UTC midnight.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func germanDate(t time.Time) string { return t.Format("02.01.2006") }

//go:embed municipalities/*.json
var municipalityFiles embed.FS

// Embedded returns the configurations shipped with Rathaus, keyed by ARS.
// Each call parses the files anew, so callers may change what they get.
func Embedded() (map[string]*Config, error) {
	cfgs, _, err := loadEmbedded()
	return cfgs, err
}

// loadEmbedded also returns each file's warnings, keyed by ARS.
func loadEmbedded() (map[string]*Config, map[string][]Warning, error) {
	sub, err := fs.Sub(municipalityFiles, "municipalities")
	if err != nil {
		return nil, nil, err
	}
	return loadFS(sub, "municipalities")
}

// LoadDir reads every *.json file of dir as one municipality's rule and fee
// configuration, with the checks the shipped files pass: each file loads,
// its name starts with its ARS (so a copied file that kept the wrong key
// cannot silently replace another municipality), and no ARS comes twice.
// It returns the configurations and each file's warnings, keyed by ARS.
func LoadDir(dir string) (map[string]*Config, map[string][]Warning, error) {
	return loadFS(os.DirFS(dir), dir)
}

// loadFS loads the *.json files at the root of fsys; name is how errors
// call the directory.
func loadFS(fsys fs.FS, name string) (map[string]*Config, map[string][]Warning, error) {
	files, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%s: keine *.json-Dateien", name)
	}
	cfgs := map[string]*Config{}
	warnings := map[string][]Warning{}
	for _, file := range files {
		shown := path.Join(name, file)
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, nil, err
		}
		cfg, ws, err := Load(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", shown, err)
		}
		if !strings.HasPrefix(file, cfg.ARS) {
			return nil, nil, fmt.Errorf("%s: der Dateiname beginnt nicht mit dem Regionalschlüssel %s der Datei", shown, cfg.ARS)
		}
		if _, dup := cfgs[cfg.ARS]; dup {
			return nil, nil, fmt.Errorf("%s: Regionalschlüssel %s ist doppelt konfiguriert", shown, cfg.ARS)
		}
		cfgs[cfg.ARS] = cfg
		warnings[cfg.ARS] = ws
	}
	return cfgs, warnings, nil
}
