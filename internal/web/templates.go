package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

// templateFiles holds the shared layout and the error page.
//
//go:embed templates/*.html
var templateFiles embed.FS

// Templates renders HTML pages: the shared layout (templates/layout.html:
// KERN UX header, skip link, main landmark, footer) around one page of a
// feature package, and the German error page.
//
// A page file defines two blocks:
//
//	{{define "title"}}Bewohnerparkausweis beantragen{{end}}
//	{{define "content"}}<h1 class="kern-heading-large">…</h1>…{{end}}
//
// and reaches its data as .Data; .RequestID and .Site are there too, and the
// function asset returns the hashed URL of a static file:
// {{asset "rathaus.css"}}. Files whose name starts with "_" are partials:
// parsed into every page of the same Templates, never rendered on their own.
type Templates struct {
	assets *Assets
	pages  map[string]*template.Template
	errorT *template.Template

	// SiteName returns the name shown in the header and the window title,
	// e.g. the municipality's. Default: "Rathaus". Set it before use.
	SiteName func(r *http.Request) string
}

// View is what a template executes with.
type View struct {
	Site      string // the name of the site (municipality)
	RequestID string // the request id, for support
	Data      any    // the handler's data
}

// errorData is the error page's .Data.
type errorData struct {
	Status   int
	Title    string
	Message  string
	Fields   []FieldError
	TextID   string
	TextHome string
	Variant  string // KERN alert variant: "danger" (server side), "info" (404, 405), "warning"
}

// NewTemplates parses the shared layout and error page plus the pages in
// pages that match patterns (fs.Glob patterns; "*.html" if none). A page is
// rendered by its file name without directory, e.g. "antrag.html". pages
// may be nil for a Templates that only renders error pages.
func NewTemplates(assets *Assets, pages fs.FS, patterns ...string) (*Templates, error) {
	if assets == nil {
		return nil, fmt.Errorf("web: NewTemplates: no assets")
	}
	funcs := template.FuncMap{"asset": assets.URL}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	t := &Templates{assets: assets, pages: make(map[string]*template.Template)}
	if t.errorT, err = parsePage(base, templateFiles, nil, "templates/error.html"); err != nil {
		return nil, err
	}
	if pages == nil {
		return t, nil
	}
	if len(patterns) == 0 {
		patterns = []string{"*.html"}
	}
	var files, partials []string
	seen := make(map[string]bool)
	for _, pat := range patterns {
		matches, err := fs.Glob(pages, pat)
		if err != nil {
			return nil, fmt.Errorf("web: pattern %q: %w", pat, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("web: pattern %q matches no file", pat)
		}
		for _, m := range matches {
			if seen[m] {
				continue
			}
			seen[m] = true
			if strings.HasPrefix(path.Base(m), "_") {
				partials = append(partials, m)
			} else {
				files = append(files, m)
			}
		}
	}
	sort.Strings(files)
	for _, f := range files {
		name := path.Base(f)
		if _, dup := t.pages[name]; dup {
			return nil, fmt.Errorf("web: two pages named %s", name)
		}
		if t.pages[name], err = parsePage(base, pages, partials, f); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func parsePage(base *template.Template, fsys fs.FS, partials []string, file string) (*template.Template, error) {
	t, err := base.Clone()
	if err != nil {
		return nil, err
	}
	if len(partials) > 0 {
		if t, err = t.ParseFS(fsys, partials...); err != nil {
			return nil, fmt.Errorf("web: parse partials for %s: %w", file, err)
		}
	}
	if t, err = t.ParseFS(fsys, file); err != nil {
		return nil, fmt.Errorf("web: parse page: %w", err)
	}
	for _, block := range []string{"title", "content"} {
		if t.Lookup(block) == nil {
			return nil, fmt.Errorf("web: page %s defines no %q block", file, block)
		}
	}
	return t, nil
}

// Render renders page name with data and sends it with status. The page is
// rendered into a buffer first: if the template fails, nothing has been
// sent, and the error (Internal) goes back to the caller — through Page, the
// error page replaces the half-rendered one.
//
// Pages are sent with Cache-Control: no-store unless the handler set a
// Cache-Control itself: most pages of a Fachverfahren show personal data,
// and a shared or back-button cache must not keep them. A page that is safe
// to cache says so explicitly.
func (t *Templates) Render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	tmpl, ok := t.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	return t.render(w, r, status, tmpl, data)
}

func (t *Templates) render(w http.ResponseWriter, r *http.Request, status int, tmpl *template.Template, data any) error {
	body, err := t.execute(t.site(r), RequestIDFrom(r.Context()), tmpl, data)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// execute renders tmpl in the layout for a site and request id.
func (t *Templates) execute(site, requestID string, tmpl *template.Template, data any) ([]byte, error) {
	var buf bytes.Buffer
	v := View{Site: site, RequestID: requestID, Data: data}
	if err := tmpl.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return nil, fmt.Errorf("web: render %s: %w", tmpl.Name(), err)
	}
	return buf.Bytes(), nil
}

func (t *Templates) site(r *http.Request) string {
	if t.SiteName != nil {
		if s := t.SiteName(r); s != "" {
			return s
		}
	}
	return "Rathaus"
}

// WriteError writes err as the German HTML error page: a heading and message
// for its kind (or the error's own errs message), the fields at fault for
// invalid input, and the request id to quote to support. Internal details
// never appear. It is an ErrorWriter.
func (t *Templates) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	f := classify(r, err)
	logFailure(r, f, err, "request failed")
	prepareError(w.Header(), f)
	if f.gone {
		w.WriteHeader(f.status())
		return
	}
	if rerr := t.render(w, r, f.info.status, t.errorT, newErrorData(f)); rerr != nil {
		// The error page itself failed (a bug in it): plain text, still
		// German, still with the request id.
		ctx := r.Context()
		loggerFrom(ctx).LogAttrs(ctx, slog.LevelError, "error page failed",
			slog.String("request_id", RequestIDFrom(ctx)), slog.String("error", rerr.Error()))
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.info.status)
		_, _ = w.Write([]byte(f.info.page + "\n\n" + f.detail + "\n\n" + textFallback + RequestIDFrom(ctx) + "\n"))
	}
}

// newErrorData is the error page's data for a failure.
func newErrorData(f failure) errorData {
	return errorData{
		Status:   f.info.status,
		Title:    f.info.page,
		Message:  f.detail,
		Fields:   f.fields,
		TextID:   textRequestID,
		TextHome: textHome,
		Variant:  alertVariant(f.info.status),
	}
}

func alertVariant(status int) string {
	switch {
	case status >= 500:
		return "danger"
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return "info"
	}
	return "warning"
}
