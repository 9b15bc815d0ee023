package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opencode.de/rathaus/rathaus/internal/errs"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		kind errs.Kind
		want int
	}{
		{errs.Internal, 500},
		{errs.Invalid, 400},
		{errs.NotFound, 404},
		{errs.Conflict, 409},
		{errs.Forbidden, 403},
		{errs.Unauthenticated, 401},
		{errs.Unavailable, 503},
		{errs.TooLarge, 413},
		{errs.TooMany, 429},
		{errs.Kind(200), 500},
	}
	for _, tt := range tests {
		if got := Status(tt.kind); got != tt.want {
			t.Errorf("Status(%v) = %d, want %d", tt.kind, got, tt.want)
		}
	}
}

// Every kind the errs package defines has an entry with German texts.
func TestKindsTableComplete(t *testing.T) {
	for k := errs.Internal; k <= errs.TooMany; k++ {
		info, ok := kinds[k]
		if !ok {
			t.Errorf("kind %v has no entry", k)
			continue
		}
		if info.slug == "" || info.title == "" || info.page == "" || info.detail == "" {
			t.Errorf("kind %v: incomplete entry %+v", k, info)
		}
	}
}

func TestClassify(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"plain error is internal", errors.New("boom"), 500},
		{"wrapped kind", fmt.Errorf("ctx: %w", errs.E(errs.Conflict, "x")), 409},
		{"max bytes", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503},
		{"explicit kind wins over deadline", errs.Wrap(errs.NotFound, context.DeadlineExceeded, "x"), 404},
	}
	for _, tt := range tests {
		if got := classify(r, tt.err).status(); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := classify(r.WithContext(ctx), fmt.Errorf("query: %w", context.Canceled))
	if !gone.gone || gone.status() != statusClientClosed {
		t.Errorf("client gone: %+v, want gone with status %d", gone, statusClientClosed)
	}
}

func TestProblemJSON(t *testing.T) {
	s := newSite(t)
	tests := []struct {
		id         string
		want       Problem // RequestID and Instance filled in below
		retryAfter string
	}{
		{"fehlt", Problem{Type: ProblemTypeBase + "not-found", Title: "Nicht gefunden", Status: 404, Detail: "Den Antrag gibt es nicht."}, ""},
		{"intern", Problem{Type: ProblemTypeBase + "internal", Title: "Interner Fehler", Status: 500, Detail: kinds[errs.Internal].detail}, ""},
		{"ungueltig", Problem{Type: ProblemTypeBase + "invalid", Title: "Ungültige Eingabe", Status: 400, Detail: "Bitte geben Sie ein Kennzeichen an.",
			Errors: []FieldError{
				{Parameter: "kennzeichen", Detail: "Bitte geben Sie ein Kennzeichen an."},
				{Parameter: "zone", Detail: "Diese Parkzone gibt es nicht."},
			}}, ""},
		{"konflikt", Problem{Type: ProblemTypeBase + "conflict", Title: "Konflikt mit dem aktuellen Stand", Status: 409, Detail: "Der Antrag wurde bereits abgesendet."}, ""},
		{"verboten", Problem{Type: ProblemTypeBase + "forbidden", Title: "Keine Berechtigung", Status: 403, Detail: kinds[errs.Forbidden].detail}, ""},
		{"anmelden", Problem{Type: ProblemTypeBase + "unauthenticated", Title: "Anmeldung erforderlich", Status: 401, Detail: kinds[errs.Unauthenticated].detail}, ""},
		{"weg", Problem{Type: ProblemTypeBase + "unavailable", Title: "Dienst vorübergehend nicht erreichbar", Status: 503, Detail: "Die Meldebehörde antwortet gerade nicht."}, "30"},
		{"gross", Problem{Type: ProblemTypeBase + "too-large", Title: "Anfrage zu groß", Status: 413, Detail: kinds[errs.TooLarge].detail}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			resp := s.get("/api/antraege/" + tt.id + "?kennzeichen=B-XY-123")
			if resp.StatusCode != tt.want.Status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want.Status)
			}
			p := decodeProblem(t, resp)
			want := tt.want
			want.Instance = "/api/antraege/" + tt.id // no query string
			want.RequestID = resp.Header.Get(RequestIDHeader)
			if want.RequestID == "" {
				t.Fatal("no request id header")
			}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("problem mismatch (-want +got):\n%s", diff)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

func TestInternalErrorLoggedNotShown(t *testing.T) {
	s := newSite(t)
	resp := s.get("/api/antraege/intern")
	b := body(t, resp)
	if strings.Contains(b, "pq:") || strings.Contains(b, "10.0.0.5") {
		t.Errorf("internal error text reached the client: %s", b)
	}
	id := resp.Header.Get(RequestIDHeader)
	var errorLines int
	for _, l := range s.logLines(t) {
		if l["level"] != "ERROR" {
			continue
		}
		errorLines++
		if l["request_id"] != id || l["route"] != "GET /api/antraege/{id}" ||
			!strings.Contains(fmt.Sprint(l["error"]), "pq: password authentication failed") {
			t.Errorf("error log line = %v, want request id %s, route and the real error", l, id)
		}
	}
	if errorLines != 1 {
		t.Errorf("%d error log lines, want 1", errorLines)
	}
}

func TestOnlyInternalLoggedAsError(t *testing.T) {
	s := newSite(t)
	for _, id := range []string{"fehlt", "ungueltig", "konflikt", "verboten", "anmelden", "gross", "weg"} {
		s.get("/api/antraege/" + id)
	}
	for _, l := range s.logLines(t) {
		if l["level"] == "ERROR" {
			t.Errorf("logged at error level: %v", l)
		}
	}
	// Unavailable is worth a warning: a register is down.
	var warned bool
	for _, l := range s.logLines(t) {
		if l["level"] == "WARN" && strings.Contains(fmt.Sprint(l["error"]), "i/o timeout") {
			warned = true
		}
	}
	if !warned {
		t.Error("Unavailable not logged at warning level")
	}
}

func TestErrorPage(t *testing.T) {
	s := newSite(t)
	tests := []struct {
		fall   string
		status int
		want   []string
		never  []string
	}{
		{"fehlt", 404, []string{"Seite nicht gefunden", "Den Antrag gibt es nicht.", "kern-alert--info"}, nil},
		{"intern", 500, []string{"Ein interner Fehler ist aufgetreten", kinds[errs.Internal].detail, "kern-alert--danger"}, []string{"pq:", "10.0.0.5", "load application"}},
		{"ungueltig", 400, []string{"Ungültige Eingabe", "kennzeichen:", "Diese Parkzone gibt es nicht."}, nil},
		{"weg", 503, []string{"Dienst vorübergehend nicht erreichbar", "Die Meldebehörde antwortet gerade nicht."}, []string{"i/o timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.fall, func(t *testing.T) {
			resp := s.get("/seite/" + tt.fall)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			b := body(t, resp)
			id := resp.Header.Get(RequestIDHeader)
			if err := contains(b, append(tt.want, `<html lang="de">`, "Vorgangsnummer für den Support:", id, "Musterstadt")...); err != nil {
				t.Errorf("%v in\n%s", err, b)
			}
			for _, n := range tt.never {
				if strings.Contains(b, n) {
					t.Errorf("page shows %q", n)
				}
			}
		})
	}
}
