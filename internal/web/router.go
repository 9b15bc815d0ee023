package web

import (
	"net/http"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Router is an http.ServeMux whose own answers — unknown path (404), wrong
// method (405) — come in the site's error format (problem+json under /api/,
// the German error page elsewhere) instead of ServeMux's plain text, and
// which tells the middleware outside it (RouteFrom) which pattern matched.
//
// Routes are registered with ServeMux patterns, method included:
//
//	rt.Handle("POST /antrag/{id}/absenden", pages.Page(h.submit))
type Router struct {
	mux     *http.ServeMux
	onError ErrorWriter
}

// NewRouter returns an empty Router that writes its 404 and 405 answers with
// onError (see Errors).
func NewRouter(onError ErrorWriter) *Router {
	if onError == nil {
		onError = WriteProblem
	}
	return &Router{mux: http.NewServeMux(), onError: onError}
}

// Handle registers h for pattern; it panics on a conflicting pattern, as
// ServeMux does.
func (rt *Router) Handle(pattern string, h http.Handler) { rt.mux.Handle(pattern, h) }

// HandleFunc registers f for pattern.
func (rt *Router) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	rt.mux.HandleFunc(pattern, f)
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.RequestURI == "*" { // OPTIONS * and friends: ServeMux answers them
		rt.mux.ServeHTTP(w, r)
		return
	}
	h, pattern := rt.mux.Handler(r)
	if pattern != "" {
		if s := stateOf(r.Context()); s != nil {
			s.pattern = pattern
		}
		// ServeHTTP matches again, which costs little and is what sets
		// r.Pattern and the path values for the handler.
		rt.mux.ServeHTTP(w, r)
		return
	}
	// No pattern: ServeMux would answer itself — 404, 405 with the Allow
	// header it computed, or a redirect to the cleaned path. Let it answer
	// into a recorder to learn which, then answer in our format.
	rec := &recorder{header: make(http.Header)}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		rt.onError(w, r, errs.E(errs.NotFound, ""))
	case http.StatusMethodNotAllowed:
		rt.onError(w, r, &errMethodNotAllowed{allow: rec.header.Get("Allow")})
	default:
		rec.replay(w)
	}
}

// recorder captures what a ServeMux-internal handler answers. It is not
// httptest.ResponseRecorder so that non-test code does not import httptest.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	rec.body = append(rec.body, p...)
	return len(p), nil
}

func (rec *recorder) replay(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body)
}
