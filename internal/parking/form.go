package parking

import (
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/registers"
)

// Form is what the citizen submits, in the page's form and in the API's
// JSON body alike (the names are the same in both).
type Form struct {
	GivenNames          string   `json:"given_names"`
	FamilyName          string   `json:"family_name"`
	BirthDate           string   `json:"birth_date"` // YYYY-MM-DD (the page also accepts TT.MM.JJJJ)
	Address             string   `json:"address"`    // street and house number, optional postcode
	Plate               string   `json:"plate"`
	Relation            Relation `json:"relation"`
	DeclarationProvided bool     `json:"declaration_provided"` // employer's confirmation / Überlassungserklärung / contract at hand
	DurationMonths      int      `json:"duration_months"`
	NoOwnSpace          bool     `json:"no_own_space"`
	Email               string   `json:"email"`
	Truthful            bool     `json:"truthful"` // the applicant affirms the data is true
}

// Field limits: generous for real names, small enough to stop abuse.
const (
	maxNameLen  = 100
	maxEmailLen = 254
)

// validated is a form that passed validation, with parsed values.
type validated struct {
	Form
	birth time.Time
	plate registers.Plate
}

// validate checks every field and returns all problems at once, each
// naming its field, so the page can show every message next to its field.
// The rule set decides what is offered (durations, relations).
func validate(f Form, rs *rules.RuleSet, today time.Time) (validated, error) {
	v := validated{Form: f}
	var problems []error
	bad := func(field, format string, args ...any) {
		problems = append(problems, errs.Field(field, format, args...))
	}

	v.GivenNames = strings.Join(strings.Fields(f.GivenNames), " ")
	v.FamilyName = strings.Join(strings.Fields(f.FamilyName), " ")
	for _, n := range []struct{ field, value, what string }{
		{"given_names", v.GivenNames, "Vornamen"},
		{"family_name", v.FamilyName, "Familiennamen"},
	} {
		switch {
		case n.value == "":
			bad(n.field, "Bitte geben Sie Ihren %s an.", n.what)
		case utf8.RuneCountInString(n.value) > maxNameLen:
			bad(n.field, "Der %s ist zu lang (höchstens %d Zeichen).", n.what, maxNameLen)
		case !plausibleName(n.value):
			bad(n.field, "Der %s enthält Zeichen, die in Namen nicht vorkommen.", n.what)
		}
	}

	if birth, err := parseDate(f.BirthDate); err != nil {
		bad("birth_date", "Bitte geben Sie Ihr Geburtsdatum als TT.MM.JJJJ an.")
	} else if !birth.Before(today) || birth.Year() < today.Year()-130 {
		bad("birth_date", "Das Geburtsdatum %s ist nicht möglich.", birth.Format("02.01.2006"))
	} else {
		v.birth = birth
	}

	v.Address = strings.TrimSpace(f.Address)
	if v.Address == "" {
		bad("address", "Bitte geben Sie Straße und Hausnummer Ihrer Wohnung an.")
	}

	if p, err := registers.ParsePlate(f.Plate); err != nil {
		msg := errs.MessageOf(err)
		if msg == "" {
			msg = "Das Kennzeichen ist ungültig."
		}
		bad("plate", "%s", msg)
	} else {
		v.plate = p
		v.Plate = p.String()
	}

	switch f.Relation {
	case Holder:
	case CompanyCar, Borrowed, CarSharing:
		allowed := map[Relation]bool{CompanyCar: rs.AllowCompanyCar, Borrowed: rs.AllowBorrowed, CarSharing: rs.AllowCarSharing}
		if !allowed[f.Relation] {
			bad("relation", "Für %s kann in dieser Kommune kein Bewohnerparkausweis ausgestellt werden.", relationLabel(f.Relation))
		}
	case "":
		bad("relation", "Bitte geben Sie an, wie Ihnen das Fahrzeug zur Verfügung steht.")
	default:
		bad("relation", "Unbekannte Angabe %q.", string(f.Relation))
	}

	offered := false
	for _, d := range rs.DurationsMonths {
		offered = offered || d == f.DurationMonths
	}
	if !offered {
		bad("duration_months", "Bitte wählen Sie eine angebotene Laufzeit (%s Monate).", joinInts(rs.DurationsMonths))
	}
	if rs.RequireNoOwnSpace && !f.NoOwnSpace {
		bad("no_own_space", "Ein Bewohnerparkausweis setzt voraus, dass Sie keinen eigenen Stellplatz oder keine Garage haben. Bitte bestätigen Sie das.")
	}

	v.Email = strings.TrimSpace(f.Email)
	if v.Email == "" {
		bad("email", "Bitte geben Sie eine E-Mail-Adresse an, damit wir Sie über den Bescheid informieren können.")
	} else if a, err := mail.ParseAddress(v.Email); err != nil || a.Address != v.Email || len(v.Email) > maxEmailLen || !strings.Contains(v.Email[strings.LastIndex(v.Email, "@")+1:], ".") {
		bad("email", "Die E-Mail-Adresse %q ist ungültig.", v.Email)
	}
	if !f.Truthful {
		bad("truthful", "Bitte bestätigen Sie, dass Ihre Angaben richtig und vollständig sind.")
	}
	return v, errors.Join(problems...)
}

// plausibleName allows letters of any script, spaces, hyphens, apostrophes
// and dots ("Dr.", "O'Brien", "Anne-Marie"); digits and symbols are refused.
func plausibleName(s string) bool {
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\'' || r == '.' || r == '’':
		case r >= '0' && r <= '9':
			return false
		case r < 0x41:
			return false
		case strings.ContainsRune("<>[]{}|\\/@#$%^&*_=+~`\"!?;:", r):
			return false
		}
	}
	return true
}

// parseDate reads YYYY-MM-DD (HTML date inputs, the API) or TT.MM.JJJJ.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", "02.01.2006", "2.1.2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("no date")
}

func relationLabel(r Relation) string {
	switch r {
	case Holder:
		return "Fahrzeuge, deren Halterin oder Halter Sie sind"
	case CompanyCar:
		return "Firmenwagen"
	case Borrowed:
		return "überlassene Fahrzeuge"
	case CarSharing:
		return "Carsharing-Fahrzeuge"
	}
	return string(r)
}

func joinInts(ns []int) string {
	var b strings.Builder
	for i, n := range ns {
		if i > 0 {
			if i == len(ns)-1 {
				b.WriteString(" oder ")
			} else {
				b.WriteString(", ")
			}
		}
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
