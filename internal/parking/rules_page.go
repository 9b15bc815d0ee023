package parking

import (
	"bytes"
	"crypto/hmac"
	"fmt"
	"io"
	"net/http"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/identity"
	"opencode.de/rathaus/rathaus/internal/parking/rules"
	"opencode.de/rathaus/rathaus/internal/web"
)

// The Fachadministration's page of rules and fees: the versions in force,
// and a check of a new rule/fee file — every error with its path, the
// legal warnings (fee tiers, social reductions, missing
// Rechtsbehelfsbelehrung), what would change against the version in force
// on the new file's dates, and its effect on a sample of recent
// applications (PreviewRules). A file that passes can then be put in
// force (rules_activate.go: only versions from tomorrow on). Every check
// and activation is an entry of the audit log.

// maxRulesFile bounds an uploaded rule file.
const maxRulesFile = 256 << 10

type rulesData struct {
	Clerk, Municipality, CSRF, Token string
	Current                          []versionView
	Checked                          bool
	Problems                         []string
	Warnings                         []string
	Changes                          []string
	Error                            string
	// Preview of the file's effect, and its activation.
	Preview            *previewView
	DraftID            string   // the checked file, kept for activation
	ActivationProblems []string // why it cannot be put in force
	Activated          bool     // just put in force
}

type previewView struct {
	Day                   string
	Sample, Same, Skipped int
	FeeBefore, FeeAfter   string
	Changes               []PreviewChange
	More                  int // changes not listed
}

type versionView struct {
	Kind, From, Source string
	Lines              []string
}

func feeLines(f rules.FeeSchedule) []string {
	var out []string
	for _, t := range f.Tiers {
		out = append(out, fmt.Sprintf("%s: %s", t.Name, FormatCents(t.AmountCents)))
	}
	if f.ChangeCents > 0 {
		out = append(out, "Änderung: "+FormatCents(f.ChangeCents))
	}
	if f.ReplacementCents > 0 {
		out = append(out, "Ersatz: "+FormatCents(f.ReplacementCents))
	}
	return out
}

func ruleLines(r rules.RuleSet) []string {
	auto := "nein"
	if r.Automation.Enabled {
		auto = "ja (" + r.Automation.LegalBasis + ")"
	}
	var months []string
	for _, m := range r.DurationsMonths {
		months = append(months, fmt.Sprint(m))
	}
	return []string{
		"Wohnsitz: " + strings.Join(r.ResidenceKinds, ", "),
		"Laufzeiten (Monate): " + strings.Join(months, ", "),
		fmt.Sprintf("Ausweise je Person: %d, Fahrzeuge je Ausweis: %d", r.PermitsPerPerson, r.VehiclesPerPermit),
		"Vollautomatischer Bescheid: " + auto,
	}
}

func (h *Handler) rulesData(c Clerk) (rulesData, error) {
	cfg, err := h.svc.config(c.Municipality)
	if err != nil {
		return rulesData{}, err
	}
	d := rulesData{Clerk: c.Name, Municipality: cfg.Municipality, CSRF: c.csrf, Token: h.decisionToken(c.Actor, "rules")}
	for _, r := range cfg.Rules {
		d.Current = append(d.Current, versionView{Kind: "Regeln", From: germanDay(r.ValidFrom), Source: r.LegalSource, Lines: ruleLines(r)})
	}
	for _, f := range cfg.Fees {
		d.Current = append(d.Current, versionView{Kind: "Gebühren", From: germanDay(f.ValidFrom), Source: f.LegalSource, Lines: feeLines(f)})
	}
	return d, nil
}

func (h *Handler) adminRules(w http.ResponseWriter, r *http.Request, c Clerk) error {
	d, err := h.rulesData(c)
	if err != nil {
		return err
	}
	d.Activated = r.URL.Query().Get("in-kraft") == "1"
	return h.pages.Render(w, r, http.StatusOK, "regeln.html", d)
}

// adminRulesCheck checks an uploaded rule file against the municipality's
// configuration in force.
func (h *Handler) adminRulesCheck(w http.ResponseWriter, r *http.Request, c Clerk) error {
	d, err := h.rulesData(c)
	if err != nil {
		return err
	}
	if err := r.ParseMultipartForm(maxRulesFile); err != nil {
		d.Error = "Die Datei konnte nicht gelesen werden (höchstens 256 KiB, als Formular-Upload)."
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "regeln.html", d)
	}
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(d.Token)) {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder gehört zu einer anderen Anmeldung. Bitte laden Sie die Seite neu.")
	}
	file, hdr, err := r.FormFile("datei")
	if err != nil {
		d.Error = "Bitte wählen Sie eine Regel- und Gebührendatei (JSON) aus."
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "regeln.html", d)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxRulesFile+1))
	if err != nil || len(data) > maxRulesFile {
		d.Error = "Die Datei ist zu groß (höchstens 256 KiB)."
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "regeln.html", d)
	}
	d.Checked = true
	newCfg, warnings, err := rules.Load(bytes.NewReader(data))
	status := http.StatusOK
	if err != nil {
		status = http.StatusUnprocessableEntity
		for _, fe := range web.FieldErrors(err) {
			d.Problems = append(d.Problems, fe.Parameter+": "+fe.Detail)
		}
		if len(d.Problems) == 0 {
			d.Problems = []string{errs.MessageOf(err)}
		}
	} else {
		cur, _ := h.svc.config(c.Municipality)
		if newCfg.ARS != c.Municipality {
			status = http.StatusUnprocessableEntity
			d.Problems = append(d.Problems, fmt.Sprintf("ars: Die Datei gehört zur Kommune %s, Sie arbeiten für %s.", newCfg.ARS, c.Municipality))
		}
		for _, w := range warnings {
			d.Warnings = append(d.Warnings, w.String())
		}
		d.Changes = rulesChanges(cur, newCfg)
		if status == http.StatusOK {
			p, err := h.svc.PreviewRules(r.Context(), c.Municipality, newCfg)
			if err != nil {
				return err
			}
			d.Preview = &previewView{Day: germanDay(p.Day), Sample: p.Sample, Same: p.Same, Skipped: p.Skipped,
				FeeBefore: FormatCents(p.FeeBefore), FeeAfter: FormatCents(p.FeeAfter), Changes: p.Changes[:min(len(p.Changes), 50)],
				More: max(len(p.Changes)-50, 0)}
			d.ActivationProblems = activationProblems(cur, newCfg, h.svc.today())
			if len(d.ActivationProblems) == 0 {
				if d.DraftID, err = h.svc.SaveRulesDraft(r.Context(), c, data); err != nil {
					return err
				}
			}
		}
	}
	if err := h.svc.recordAccess(r.Context(), c, "", accessRulesCheck, clientAddr(r)); err != nil {
		return err
	}
	h.svc.logger.Info("audit: rule file checked", "actor", c.Actor, "bytes", len(data), "file", hdr.Filename != "", "problems", len(d.Problems))
	return h.pages.Render(w, r, status, "regeln.html", d)
}

// rulesChanges says what the new file changes against the configuration
// in force, version by version (by the day each starts).
func rulesChanges(cur, next *rules.Config) []string {
	var out []string
	for _, r := range next.Rules {
		old, err := cur.RulesAt(r.ValidFrom)
		if err != nil {
			out = append(out, fmt.Sprintf("Regeln ab %s: neu (bisher keine).", germanDay(r.ValidFrom)))
			continue
		}
		a, b := ruleLines(*old), ruleLines(r)
		for i := range b {
			if a[i] != b[i] {
				out = append(out, fmt.Sprintf("Regeln ab %s: %s (bisher: %s).", germanDay(r.ValidFrom), b[i], a[i]))
			}
		}
	}
	for _, f := range next.Fees {
		old, err := cur.FeesAt(f.ValidFrom)
		if err != nil {
			out = append(out, fmt.Sprintf("Gebühren ab %s: neu (bisher keine).", germanDay(f.ValidFrom)))
			continue
		}
		if a, b := strings.Join(feeLines(*old), "; "), strings.Join(feeLines(f), "; "); a != b {
			out = append(out, fmt.Sprintf("Gebühren ab %s: %s (bisher: %s).", germanDay(f.ValidFrom), b, a))
		}
	}
	if cur.Remedy != next.Remedy {
		out = append(out, "Rechtsbehelfsbelehrung geändert.")
	}
	if len(out) == 0 {
		out = append(out, "Keine Änderung gegenüber den geltenden Regeln und Gebühren.")
	}
	return out
}

// admin is a page for the Fachadministration (role admin).
func (h *Handler) admin(fn clerkHandler) web.HandlerFunc {
	return h.staffOnly(fn, identity.RoleAdmin, "Die Regelverwaltung gibt es nur mit der Anmeldung für Beschäftigte (Rolle Fachadministration).")
}

// adminRulesActivate puts a checked file in force.
func (h *Handler) adminRulesActivate(w http.ResponseWriter, r *http.Request, c Clerk) error {
	if err := web.ParseForm(r); err != nil {
		return err
	}
	d, err := h.rulesData(c)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(r.PostFormValue("token")), []byte(d.Token)) {
		return errs.E(errs.Forbidden, "Das Formular ist ungültig oder gehört zu einer anderen Anmeldung. Bitte laden Sie die Seite neu.")
	}
	if _, err := h.svc.ActivateRules(r.Context(), c, r.PostFormValue("datei_id"), clientAddr(r)); err != nil {
		if !errs.Is(err, errs.Conflict) && !errs.Is(err, errs.NotFound) && !errs.Is(err, errs.Invalid) {
			return err
		}
		d.Error = errs.MessageOf(err)
		return h.pages.Render(w, r, http.StatusConflict, "regeln.html", d)
	}
	http.Redirect(w, r, "/sachbearbeitung/bewohnerparken/regeln?in-kraft=1", http.StatusSeeOther)
	return nil
}
