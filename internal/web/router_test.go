package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRouterFallbacks(t *testing.T) {
	s := newSite(t)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		allow  string
		api    bool
	}{
		{"unknown API path", "GET", "/api/gibtsnicht?adresse=Hauptstr.+1", 404, "", true},
		{"unknown page", "GET", "/gibtsnicht?adresse=Hauptstr.+1", 404, "", false},
		{"wrong method API", "DELETE", "/api/antraege/7", 405, "GET, HEAD", true},
		{"wrong method API collection", "GET", "/api/antraege", 405, "POST", true},
		{"wrong method page", "POST", "/hallo", 405, "GET, HEAD", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.do(httptest.NewRequest(tt.method, tt.path, nil))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			id := resp.Header.Get(RequestIDHeader)
			if tt.api {
				p := decodeProblem(t, resp)
				if p.Status != tt.status || p.RequestID != id || strings.Contains(p.Instance, "?") {
					t.Errorf("problem = %+v", p)
				}
				wantType := ProblemTypeBase + "not-found"
				if tt.status == 405 {
					wantType = ProblemTypeBase + "method-not-allowed"
				}
				if p.Type != wantType {
					t.Errorf("type = %q, want %q", p.Type, wantType)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q, want HTML", ct)
			}
			b := body(t, resp)
			want := "Seite nicht gefunden"
			if tt.status == 405 {
				want = "Diese Adresse kann so nicht aufgerufen werden"
			}
			if err := contains(b, want, id); err != nil {
				t.Errorf("%v in error page", err)
			}
		})
	}
}

func TestRouterRedirectPassesThrough(t *testing.T) {
	s := newSite(t)
	resp := s.get("/api//antraege/7")
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/api/antraege/7" {
		t.Errorf("status %d Location %q, want 307 to the cleaned path", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestRouterReportsPattern(t *testing.T) {
	var inner, outer string
	rt := NewRouter(nil)
	rt.HandleFunc("GET /antrag/{id}", func(w http.ResponseWriter, r *http.Request) {
		inner = r.Pattern
		if r.PathValue("id") != "42" {
			t.Errorf("path value %q, want 42", r.PathValue("id"))
		}
	})
	h := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r, _ = withState(r)
			next.ServeHTTP(w, r)
			outer = RouteFrom(r.Context())
		})
	}(rt)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/antrag/42", nil))
	if inner != "GET /antrag/{id}" || outer != inner {
		t.Errorf("handler saw pattern %q, middleware %q; want both GET /antrag/{id}", inner, outer)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nichts", nil))
	if outer != "" {
		t.Errorf("unmatched request: RouteFrom = %q, want empty", outer)
	}
}
