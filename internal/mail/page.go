package mail

import (
	"embed"
	"net/http"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Handler serves the demo's outbox page. Only `rathaus demo` mounts it: it
// shows every message with its address and text, which a real installation
// shows to nobody.
type Handler struct {
	outbox *Outbox
	pages  *web.Templates
}

// NewHandler parses the page's template.
func NewHandler(o *Outbox, assets *web.Assets) (*Handler, error) {
	pages, err := web.NewTemplates(assets, templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &Handler{outbox: o, pages: pages}, nil
}

// Pages exposes the templates (the demo sets the site name on them).
func (h *Handler) Pages() *web.Templates { return h.pages }

// DemoRoutes mounts GET /demo/post.
func (h *Handler) DemoRoutes(mux interface{ Handle(string, http.Handler) }) {
	mux.Handle("GET /demo/post", h.pages.Page(h.postPage))
}

// pageLimit is how many messages the page shows.
const pageLimit = 100

type postData struct {
	Sending  bool
	Messages []messageView
}

type messageView struct {
	ID, To, Subject, Time, Status, Note, Reference string
	Paragraphs                                     [][]string // the body: paragraphs of lines
}

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return loc
}()

func (h *Handler) postPage(w http.ResponseWriter, r *http.Request) error {
	msgs, err := h.outbox.List(r.Context(), pageLimit)
	if err != nil {
		return err
	}
	d := postData{Sending: h.outbox.Sending()}
	for _, m := range msgs {
		v := messageView{ID: m.ID, To: m.To, Subject: m.Subject, Time: m.CreatedAt.In(berlin).Format("02.01.2006 15:04"),
			Status: m.Status.Label(), Reference: m.Reference}
		if m.Status != Kept {
			v.Note = m.Note
		}
		for _, p := range strings.Split(strings.TrimSpace(m.Body), "\n\n") {
			v.Paragraphs = append(v.Paragraphs, strings.Split(p, "\n"))
		}
		d.Messages = append(d.Messages, v)
	}
	return h.pages.Render(w, r, http.StatusOK, "post.html", d)
}
