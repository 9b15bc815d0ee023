package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sharedPages are the layout and error page alone.
func sharedPages(t *testing.T) *Templates {
	t.Helper()
	assets, err := NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := NewTemplates(assets, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// Refusal writes the same answer as the ordinary error writers — the German
// page with this request's id for a browser, problem+json for the API, 503
// with Retry-After and no-store — from a page rendered once per site, and
// logs nothing itself.
func TestRefusal(t *testing.T) {
	pages := sharedPages(t)
	site := "Musterstadt"
	pages.SiteName = func(*http.Request) string { return site }
	var logged bytes.Buffer
	// The access log's own lines are Info; anything Refusal logged would be Warn.
	logger := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	refuse := Refusal(pages, nil, ErrOverloaded)
	serve := func(path, id string) *httptest.ResponseRecorder {
		h := RequestID(AccessLog(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			refuse(w, r, ErrOverloaded)
		})))
		r := httptest.NewRequest("POST", path, nil)
		r.Header.Set(RequestIDHeader, id)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for i, id := range []string{"anfrage-1", "anfrage-2"} {
		w := serve("/bewohnerparken/antrag", id)
		body := w.Body.String()
		if w.Code != 503 || w.Header().Get("Retry-After") == "" || w.Header().Get("Cache-Control") != "no-store" ||
			!strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("page %d: %d %v", i, w.Code, w.Header())
		}
		if !strings.Contains(body, id) || strings.Contains(body, refusalID) || !strings.Contains(body, "stark ausgelastet") || !strings.Contains(body, site) {
			t.Errorf("page %d without its request id %q, site or message:\n%s", i, id, body)
		}
		if got := w.Header().Get("Content-Length"); got != strconv.Itoa(len(body)) {
			t.Errorf("page %d: Content-Length %s, body %d bytes", i, got, len(body))
		}
		// The same bytes as the ordinary writer, but for nothing.
		ord := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/bewohnerparken/antrag", nil)
		r.Header.Set(RequestIDHeader, id)
		RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { pages.WriteError(w, r, ErrOverloaded) })).ServeHTTP(ord, r)
		if ord.Body.String() != body {
			t.Errorf("page %d differs from the ordinary error page", i)
		}
	}
	site = "Anderswo"
	if body := serve("/", "x").Body.String(); !strings.Contains(body, "Anderswo") {
		t.Error("a second site got the first site's page")
	}
	w := serve("/api/v1/municipalities/11000000/parking/applications", "api-1")
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != 503 || p.Status != 503 || p.RequestID != "api-1" ||
		p.Instance != "/api/v1/municipalities/11000000/parking/applications" || w.Header().Get("Content-Type") != "application/problem+json" ||
		w.Header().Get("Retry-After") == "" {
		t.Errorf("API refusal: %d %v %s (%v)", w.Code, w.Header(), w.Body, err)
	}
	if logged.Len() > 0 {
		t.Errorf("Refusal logged: %s", logged.String())
	}
	// A client that left while waiting for a slot gets the status alone.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := httptest.NewRecorder()
	refuse(gone, httptest.NewRequest("GET", "/bewohnerparken", nil).WithContext(ctx), ErrOverloaded)
	if gone.Code != statusClientClosed || gone.Body.Len() > 0 {
		t.Errorf("client gone: %d with %d bytes, want %d and no body", gone.Code, gone.Body.Len(), statusClientClosed)
	}
}

// refusalLog writes one line per interval with the count since the last.
func TestRefusalLog(t *testing.T) {
	var out bytes.Buffer
	r := httptest.NewRequest("GET", "/", nil)
	r, s := withState(r)
	s.logger = slog.New(slog.NewJSONHandler(&out, nil))
	l := &refusalLog{every: 50 * time.Millisecond, msg: "refused"}
	for range 100 {
		l.refused(r.Context())
	}
	time.Sleep(60 * time.Millisecond)
	l.refused(r.Context())
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["refused"] != float64(1) || lines[1]["refused"] != float64(100) {
		t.Errorf("want 2 lines, refused 1 then 100: %v", lines)
	}
}
