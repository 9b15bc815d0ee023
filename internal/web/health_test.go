package web

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func TestHealthz(t *testing.T) {
	w := httptest.NewRecorder()
	Healthz(w, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != 200 || w.Body.String() != "ok\n" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("got %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name       string
		check      func(context.Context) error
		status     int
		bodyHas    string
		bodyHasnot string
	}{
		{"ready", func(context.Context) error { return nil }, 200, `{"status":"ok"}`, ""},
		{"plain error", func(context.Context) error { return errors.New("dial tcp 10.0.0.5:5432: connection refused") },
			503, "Der Dienst ist noch nicht bereit.", "10.0.0.5"},
		{"errs message", func(context.Context) error {
			return errs.Wrap(errs.Unavailable, errors.New("pq: too many connections"), "Die Datenbank ist nicht erreichbar.")
		}, 503, "Die Datenbank ist nicht erreichbar.", "pq:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Readyz(tt.check).ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if tt.status == 503 && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
			}
			if !strings.Contains(w.Body.String(), tt.bodyHas) {
				t.Errorf("body %s lacks %q", w.Body, tt.bodyHas)
			}
			if tt.bodyHasnot != "" && strings.Contains(w.Body.String(), tt.bodyHasnot) {
				t.Errorf("body %s shows %q", w.Body, tt.bodyHasnot)
			}
		})
	}
}
