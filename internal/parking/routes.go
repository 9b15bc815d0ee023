package parking

import (
	"context"
	"embed"
	"net/http"
	"time"

	"opencode.de/rathaus/rathaus/internal/identity"
	"opencode.de/rathaus/rathaus/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Handler serves the parking feature over HTTP.
type Handler struct {
	svc   *Service
	pages *web.Templates
	// DefaultMunicipality is the ARS of the citizen pages (one municipality
	// per installation's public pages for now).
	DefaultMunicipality string
	// Staff is the workbench's sign-in: when set, the clerks' pages need a
	// staff session (role clerk or lead) instead of a casework key.
	Staff *identity.RP
	// Messages, when set, lists the Amtsnetz messages exchanged for a case
	// (by its Aktenzeichen): the case page shows who was asked what, when
	// and why.
	Messages func(ctx context.Context, reference string) ([]MessageRecord, error)
}

// MessageRecord is one message of the case's exchange with other offices.
type MessageRecord struct {
	At        time.Time
	Sent      bool   // sent by Rathaus (a request); false: received (an answer)
	Service   string // PROVIDER/service
	Purpose   string
	Status    int // HTTP status of an answer
	MessageID string
}

// NewHandler parses the feature's templates.
func NewHandler(svc *Service, assets *web.Assets) (*Handler, error) {
	pages, err := web.NewTemplates(assets, templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &Handler{svc: svc, pages: pages}, nil
}

// Pages exposes the templates (the demo sets the site name on them).
func (h *Handler) Pages() *web.Templates { return h.pages }

// Mux is where routes are registered.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Routes registers every route of the parking feature.
func (h *Handler) Routes(mux Mux) {
	// Citizens. Pages with personal data are not cached (web.Templates
	// renders no-store by default).
	mux.Handle("GET /bewohnerparken", h.pages.Page(h.startPage))
	mux.Handle("GET /bewohnerparken/antrag", h.pages.Page(h.formPage))
	mux.Handle("POST /bewohnerparken/antrag", h.pages.Page(h.formPost))
	mux.Handle("GET /bewohnerparken/status", h.pages.Page(h.lookupPage))
	mux.Handle("POST /bewohnerparken/status", h.pages.Page(h.lookupPost))
	mux.Handle("GET /bewohnerparken/status/{reference}", h.pages.Page(h.statusPage))
	mux.Handle("POST /bewohnerparken/status/{reference}", h.pages.Page(h.statusPost))
	mux.Handle("POST /bewohnerparken/status/{reference}/bezahlen", h.pages.Page(h.payPost))
	mux.Handle("POST /bewohnerparken/status/{reference}/unterlagen", h.pages.Page(h.uploadPost))
	mux.Handle("GET /bewohnerparken/status/{reference}/ausweis.pdf", h.pages.Page(h.permitPDF))
	mux.Handle("GET /bewohnerparken/status/{reference}/bescheid.pdf", h.pages.Page(h.decisionPDF))
	mux.Handle("GET /bewohnerparken/status/{reference}/verlaengern", h.pages.Page(h.renewPage))
	mux.Handle("POST /bewohnerparken/status/{reference}/verlaengern", h.pages.Page(h.renewPost))
	mux.Handle("GET /bewohnerparken/status/{reference}/aendern", h.pages.Page(h.changePage))
	mux.Handle("POST /bewohnerparken/status/{reference}/aendern", h.pages.Page(h.changePost))
	mux.Handle("GET /bewohnerparken/status/{reference}/ersatz", h.pages.Page(h.reissuePage))
	mux.Handle("POST /bewohnerparken/status/{reference}/ersatz", h.pages.Page(h.reissuePost))
	mux.Handle("GET /bewohnerparken/status/{reference}/rueckgabe", h.pages.Page(h.cancelPage))
	mux.Handle("POST /bewohnerparken/status/{reference}/rueckgabe", h.pages.Page(h.cancelPost))
	mux.Handle("GET /pruefen/{token}", h.pages.Page(h.verifyPage))

	// Clerks: signed in with a casework API key over HTTP Basic auth
	// (queue_page.go); every answer is no-store.
	mux.Handle("GET /sachbearbeitung/bewohnerparken", h.pages.Page(h.clerk(h.clerkQueue)))
	mux.Handle("GET /sachbearbeitung/bewohnerparken/{reference}", h.pages.Page(h.clerk(h.clerkCase)))
	mux.Handle("GET /sachbearbeitung/bewohnerparken/berichte", h.pages.Page(h.lead(h.clerkReport)))
	mux.Handle("GET /sachbearbeitung/bewohnerparken/regeln", h.pages.Page(h.admin(h.adminRules)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/regeln", h.pages.Page(h.admin(h.adminRulesCheck)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/regeln/inkraftsetzen", h.pages.Page(h.admin(h.adminRulesActivate)))
	mux.Handle("GET /sachbearbeitung/bewohnerparken/zonen", h.pages.Page(h.admin(h.adminZones)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/zonen", h.pages.Page(h.admin(h.adminZonesCheck)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/zonen/uebernehmen", h.pages.Page(h.admin(h.adminZonesImport)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/{reference}/entscheidung", h.pages.Page(h.clerk(h.clerkDecide)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/{reference}/bearbeitung", h.pages.Page(h.clerk(h.clerkAssign)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/{reference}/uebergabe", h.pages.Page(h.clerk(h.clerkHandOver)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/{reference}/notiz", h.pages.Page(h.clerk(h.clerkNote)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/{reference}/gebuehr", h.pages.Page(h.clerk(h.clerkFee)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/{reference}/nachforderung", h.pages.Page(h.clerk(h.clerkRequestInfo)))
	mux.Handle("GET /sachbearbeitung/bewohnerparken/{reference}/unterlagen/{id}", h.pages.Page(h.clerk(h.clerkDocument)))
	mux.Handle("GET /sachbearbeitung/bewohnerparken/{reference}/unterlagen/{id}/inhalt", h.pages.Page(h.clerk(h.clerkDocumentContent)))
	mux.Handle("POST /sachbearbeitung/bewohnerparken/sammelbewilligung", h.pages.Page(h.clerk(h.clerkBulkApprove)))

	// Programs.
	mux.Handle("POST /api/v1/municipalities/{ars}/parking/applications", web.API(h.apiSubmit))
	mux.Handle("GET /api/v1/parking/applications/{reference}", web.API(h.apiGet))
	mux.Handle("POST /api/v1/parking/applications/{reference}/payment", web.API(h.apiStartPayment))
	mux.Handle("POST /api/v1/parking/applications/{reference}/renewal", web.API(h.apiRenew))
	mux.Handle("POST /api/v1/parking/applications/{reference}/change", web.API(h.apiChange))
	mux.Handle("POST /api/v1/parking/applications/{reference}/reissue", web.API(h.apiReissue))
	mux.Handle("GET /api/v1/parking/applications/{reference}/cancellation", web.API(h.apiCancellationQuote))
	mux.Handle("POST /api/v1/parking/applications/{reference}/cancellation", web.API(h.apiCancel))
	mux.Handle("POST /api/v1/payments/{provider}/callback", web.API(h.apiPaymentCallback))
	mux.Handle("GET /api/v1/enforcement/permits", web.API(h.apiEnforcement))
	mux.Handle("GET /api/v1/municipalities/{ars}/parking/queue", web.API(h.apiQueue))
	mux.Handle("POST /api/v1/parking/applications/{reference}/decision", web.API(h.apiDecide))
	mux.Handle("GET /api/v1/municipalities/{ars}/parking/keys", web.API(h.apiKeys))
}
