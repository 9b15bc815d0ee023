package parking

import (
	"net/http"
	"strings"

	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/web"
)

// The demo's pages: who lives in the demo municipality and what happens
// when they apply. Only `rathaus demo` mounts them; `serve` has neither.

type demoResidentJSON struct {
	GivenNames string   `json:"given_names"`
	FamilyName string   `json:"family_name"`
	BirthDate  string   `json:"birth_date"`
	Address    string   `json:"address"`
	Plates     []string `json:"plates"`
	Expect     string   `json:"expect"`
}

// demoResidents lists the first n residents of the demo population; the
// generator puts one of each kind of case at the start.
func demoResidents(d *registers.Demo, n int) []demoResidentJSON {
	out := []demoResidentJSON{}
	for i, r := range d.Residents() {
		if i >= n {
			break
		}
		j := demoResidentJSON{GivenNames: r.Person.GivenNames, FamilyName: r.Person.FamilyName,
			BirthDate: r.Person.BirthDate.Format("02.01.2006"), Address: r.Address.Street + " " + r.Address.HouseNumber + ", " + r.Address.Postcode,
			Plates: []string{}, Expect: r.Expect}
		for _, v := range r.Vehicles {
			j.Plates = append(j.Plates, v.Plate.String())
		}
		out = append(out, j)
	}
	return out
}

// DemoRoutes mounts /demo and GET /api/v1/demo/residents.
func (h *Handler) DemoRoutes(mux Mux, d *registers.Demo) {
	mux.Handle("GET /demo", h.pages.Page(func(w http.ResponseWriter, r *http.Request) error {
		return h.pages.Render(w, r, http.StatusOK, "demo.html", demoResidents(d, 40))
	}))
	// The demo's message log: what Rathaus asked the registers' nodes for a
	// case — metadata only (who, what, when, why), never a body.
	mux.Handle("GET /demo/amtsnetz", h.pages.Page(h.demoMessages))
	mux.Handle("GET /api/v1/demo/residents", web.API(func(w http.ResponseWriter, r *http.Request) error {
		return web.WriteJSON(w, http.StatusOK, map[string]any{
			"note":      "Synthetische Demo-Personen an echten Berliner Adressen – keine echten Daten.",
			"residents": demoResidents(d, 200),
		})
	}))
}

type demoMessagesData struct {
	Reference string
	Error     string
	Table     messageTable
	Searched  bool
}

func (h *Handler) demoMessages(w http.ResponseWriter, r *http.Request) error {
	d := demoMessagesData{Reference: strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("az")))}
	status := http.StatusOK
	switch {
	case d.Reference == "":
	case !referencePattern.MatchString(d.Reference):
		d.Error, status = "Bitte geben Sie ein Aktenzeichen wie BP-2026-7KQ4M2XD ein.", http.StatusUnprocessableEntity
	case h.Messages == nil:
		d.Error = "Diese Installation tauscht keine Nachrichten über das Amtsnetz aus."
	default:
		d.Searched = true
		ms, err := h.Messages(r.Context(), d.Reference)
		if err != nil {
			return err
		}
		d.Table = messageTable{Caption: "Nachrichten zum Antrag " + d.Reference, Rows: messageViews(ms)}
	}
	return h.pages.Render(w, r, status, "demo_amtsnetz.html", d)
}
