package geo

import (
	"embed"
	"net/http"

	"opencode.de/rathaus/rathaus/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Handler serves the geo feature over HTTP: the public JSON API under
// /api/v1/ and the page "Wohne ich in einer Bewohnerparkzone?" at /zonen.
type Handler struct {
	svc   *Service
	pages *web.Templates
	// DefaultMunicipality is the ARS the page uses when the request names
	// none; empty: the first municipality of the installation.
	DefaultMunicipality string
}

// NewHandler parses the feature's page templates.
func NewHandler(svc *Service, assets *web.Assets) (*Handler, error) {
	pages, err := web.NewTemplates(assets, templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &Handler{svc: svc, pages: pages}, nil
}

// Mux is where routes are registered (*web.Router, or a recorder in tests).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Routes registers every route of the geo feature. All routes of this
// surface are here, in one place.
func (h *Handler) Routes(mux Mux) {
	mux.Handle("GET /api/v1/municipalities/{ars}/zones", web.API(h.listZones))
	mux.Handle("GET /api/v1/municipalities/{ars}/zones/{zone}", web.API(h.getZone))
	// The answer repeats the address asked for, usually the user's home:
	// no cache may keep it.
	mux.Handle("GET /api/v1/municipalities/{ars}/zone-lookup", web.NoStore(web.API(h.zoneLookup)))

	h.ogcRoutes(mux) // OGC API – Features for GIS tools (ogc.go)

	mux.Handle("GET /zonen", h.pages.Page(h.zonePage))
	// The address travels in the body, not the URL: it is the user's home
	// address, which belongs neither in browser history nor in proxy logs.
	mux.Handle("POST /zonen", web.NoStore(h.pages.Page(h.zonePage)))
}

// Pages exposes the feature's templates (for the error pages of its routes).
func (h *Handler) Pages() *web.Templates { return h.pages }
