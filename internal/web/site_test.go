package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// testPages are the pages of a pretend feature package.
var testPages = fstest.MapFS{
	"hallo.html": {Data: []byte(`{{define "title"}}Hallo{{end}}
{{define "content"}}<h1 class="kern-heading-large">Hallo {{.Data.Name}}</h1>{{template "gruss" .}}{{end}}`)},
	"_gruss.html": {Data: []byte(`{{define "gruss"}}<p class="kern-body">Vorgang {{.RequestID}}</p>{{end}}`)},
	"kaputt.html": {Data: []byte(`{{define "title"}}Kaputt{{end}}
{{define "content"}}<p class="kern-body">ANFANG-DER-SEITE</p>{{.Data.Fail}}{{end}}`)},
}

// failing is page data whose Fail method fails halfway through rendering.
type failing struct{}

func (failing) Fail() (string, error) { return "", errors.New("template data exploded") }

// site is the whole stack as cmd would wire it, with a captured log.
type site struct {
	handler http.Handler
	pages   *Templates
	assets  *Assets
	metrics *Metrics
	logs    *bytes.Buffer
}

const testBodyLimit = 1024

func newSite(t *testing.T) *site {
	t.Helper()
	assets, err := NewAssets()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := NewTemplates(assets, testPages, "*.html")
	if err != nil {
		t.Fatal(err)
	}
	pages.SiteName = func(*http.Request) string { return "Musterstadt" }
	logs := new(bytes.Buffer)
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewMetrics()
	onErr := Errors(pages, nil)

	rt := NewRouter(onErr)
	rt.Handle("GET /hallo", pages.Page(func(w http.ResponseWriter, r *http.Request) error {
		return pages.Render(w, r, http.StatusOK, "hallo.html", map[string]string{"Name": "Welt"})
	}))
	rt.Handle("GET /kaputt", pages.Page(func(w http.ResponseWriter, r *http.Request) error {
		return pages.Render(w, r, http.StatusOK, "kaputt.html", failing{})
	}))
	rt.Handle("GET /seite/{fall}", pages.Page(func(w http.ResponseWriter, r *http.Request) error {
		return testError(r.PathValue("fall"))
	}))
	rt.Handle("POST /formular", pages.Page(func(w http.ResponseWriter, r *http.Request) error {
		if err := r.ParseForm(); err != nil {
			return err
		}
		return errs.Field("plz", "Bitte geben Sie eine fünfstellige Postleitzahl an.")
	}))
	rt.Handle("GET /panik", pages.Page(func(w http.ResponseWriter, r *http.Request) error {
		panic("page panic: secret-internal-detail")
	}))
	rt.Handle("GET /api/antraege/{id}", API(func(w http.ResponseWriter, r *http.Request) error {
		if err := testError(r.PathValue("id")); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
	}))
	rt.Handle("POST /api/antraege", API(func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Kennzeichen string `json:"kennzeichen"`
		}
		if err := DecodeJSON(r, &in); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusCreated, in)
	}))
	rt.Handle("GET /api/panik", API(func(w http.ResponseWriter, r *http.Request) error {
		panic("api panic: secret-internal-detail")
	}))
	rt.Handle("GET /api/halb", API(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("[1,2,"))
		panic("after the first bytes")
	}))
	rt.Handle("GET /api/langsam", API(func(w http.ResponseWriter, r *http.Request) error {
		<-r.Context().Done() // a register that does not answer
		return fmt.Errorf("ask register: %w", r.Context().Err())
	}))
	rt.Handle("GET "+StaticPrefix, assets)
	rt.HandleFunc("GET /healthz", Healthz)
	rt.Handle("GET /metrics", m.Handler())

	h := Chain(
		RequestID,
		AccessLog(logger),
		m.Middleware,
		SecurityHeaders(SecurityOptions{}),
		Recover(onErr),
		CrossOrigin(nil, onErr),
		BodyLimit(testBodyLimit, onErr),
		Timeout(200*time.Millisecond),
	)(rt)
	return &site{handler: h, pages: pages, assets: assets, metrics: m, logs: logs}
}

// testError returns the error a test path segment names.
func testError(name string) error {
	switch name {
	case "intern":
		return fmt.Errorf("load application 17: %w", errors.New("pq: password authentication failed for user rathaus at 10.0.0.5"))
	case "fehlt":
		return errs.E(errs.NotFound, "Den Antrag gibt es nicht.")
	case "ungueltig":
		return errors.Join(
			errs.Field("kennzeichen", "Bitte geben Sie ein Kennzeichen an."),
			errs.Field("zone", "Diese Parkzone gibt es nicht."),
		)
	case "konflikt":
		return errs.E(errs.Conflict, "Der Antrag wurde bereits abgesendet.")
	case "verboten":
		return errs.E(errs.Forbidden, "")
	case "anmelden":
		return errs.E(errs.Unauthenticated, "")
	case "weg":
		return errs.Wrap(errs.Unavailable, errors.New("dial tcp 10.1.2.3:443: i/o timeout"), "Die Meldebehörde antwortet gerade nicht.")
	case "gross":
		return errs.E(errs.TooLarge, "")
	}
	return nil // any other id: found
}

// do sends r through the whole stack.
func (s *site) do(r *http.Request) *http.Response {
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, r)
	return w.Result()
}

func (s *site) get(path string) *http.Response {
	return s.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// logLines parses the JSON log.
func (s *site) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.logs.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeProblem(t *testing.T, resp *http.Response) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p Problem
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	return p
}

func contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("missing %q", sub)
		}
	}
	return nil
}
