package geo

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/tenant"
	"opencode.de/rathaus/rathaus/internal/web"
)

// zonePageData is what templates/zonen.html shows.
type zonePageData struct {
	Municipality tenant.Municipality
	Input        string // what the user typed, kept on error
	FieldError   string // German message next to the field
	Searched     bool
	Status       string // found, ambiguous, not_found
	Address      string // normalised label of the match
	Zones        []*Zone
	Maps         []template.HTML // one SVG per zone, rendered server-side
	Candidates   []choice        // addresses to choose from (ambiguous: several postcodes)
	Suggestions  []choice        // close known addresses (not found)
}

// choice is an address offered as a one-click search.
type choice struct {
	Label string
	ARS   string
}

// zonePage answers "Wohne ich in einer Bewohnerparkzone?": GET shows the
// form, POST looks the address up. Input errors are shown next to the
// field, with the input kept; they are not error pages.
func (h *Handler) zonePage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := web.ParseForm(r); err != nil {
		return err
	}
	ars := r.FormValue("kommune")
	if ars == "" {
		ars = h.DefaultMunicipality
	}
	if ars == "" {
		ms, err := tenant.List(ctx, h.svc.db)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return errs.E(errs.NotFound, "Für diese Installation ist noch keine Kommune eingerichtet.")
		}
		ars = ms[0].ARS
	}
	m, err := h.svc.Municipality(ctx, ars)
	if err != nil {
		return err
	}
	data := zonePageData{Municipality: m}
	if r.Method != http.MethodPost {
		return h.pages.Render(w, r, http.StatusOK, "zonen.html", data)
	}
	data.Input = strings.TrimSpace(r.PostFormValue("adresse"))
	res, err := h.svc.LookupAddress(ctx, ars, data.Input)
	if errs.Is(err, errs.Invalid) {
		data.FieldError = errs.MessageOf(err)
		return h.pages.Render(w, r, http.StatusUnprocessableEntity, "zonen.html", data)
	}
	if err != nil {
		return err
	}
	data.Searched = true
	switch {
	case res.Found != nil:
		data.Status = "found"
		data.Address = Label(*res.Found, m.Name)
		data.Zones = res.Zones
		for i, z := range res.Zones {
			neighbours, err := h.svc.Neighbours(ctx, ars, z, 0.002)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			p := res.Markers[i] // the building's address inside this zone
			opts := MapOptions{Context: neighbours, IDPrefix: "zonemap-" + strconv.Itoa(i)}
			if err := RenderZoneMap(&buf, z, &p, opts); err != nil {
				return err
			}
			data.Maps = append(data.Maps, template.HTML(buf.String())) // our own SVG, escaped by RenderZoneMap
		}
	case len(res.Match.Addresses) > 1:
		data.Status = "ambiguous"
		for _, c := range res.Match.Addresses {
			data.Candidates = append(data.Candidates, choice{Label(c, ""), ars})
		}
	default:
		data.Status = "not_found"
		for _, s := range res.Match.Suggestions {
			data.Suggestions = append(data.Suggestions, choice{Label(s, ""), ars})
		}
	}
	return h.pages.Render(w, r, http.StatusOK, "zonen.html", data)
}
