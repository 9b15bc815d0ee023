// Package site serves the pages every public website of a German authority
// must have and links from every page footer: Impressum (§ 5 DDG, § 18
// Abs. 2 MStV), Datenschutzerklärung (Art. 13 DSGVO) and the Erklärung zur
// Barrierefreiheit (§ 12b BGG, § 7 BITV 2.0, or the Land's equivalent).
//
// The texts are drafts in templates/. What only the municipality can say —
// its name, address, representatives, data protection officer, retention
// periods, the competent authorities — is marked as a placeholder (a
// <mark> with "Platzhalter:"), and each page opens with a notice that it
// is a draft. A municipality replaces those parts before it goes live.
// What Rathaus itself does (what it logs, that it loads nothing from third
// parties, how its accessibility is tested) is stated as it is.
//
// The package renders text only: it stores nothing and knows no feature.
package site

import (
	"embed"
	"net/http"

	"opencode.de/rathaus/rathaus/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Handler serves the legal pages.
type Handler struct {
	pages *web.Templates
}

// NewHandler parses the pages' templates.
func NewHandler(assets *web.Assets) (*Handler, error) {
	pages, err := web.NewTemplates(assets, templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &Handler{pages: pages}, nil
}

// Pages exposes the templates, e.g. to set SiteName as for the other pages.
func (h *Handler) Pages() *web.Templates { return h.pages }

// Routes registers the three pages at the paths the layout's footer links to.
func (h *Handler) Routes(mux interface{ Handle(string, http.Handler) }) {
	for path, page := range map[string]string{
		"/impressum":        "impressum.html",
		"/datenschutz":      "datenschutz.html",
		"/barrierefreiheit": "barrierefreiheit.html",
	} {
		mux.Handle("GET "+path, h.pages.Page(h.static(page)))
	}
}

// static renders a page without data. The pages hold nothing personal, so
// caches may keep them for a while (Render sends no-store otherwise).
func (h *Handler) static(page string) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "public, max-age=300")
		return h.pages.Render(w, r, http.StatusOK, page, nil)
	}
}
