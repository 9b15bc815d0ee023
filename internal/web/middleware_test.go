package web

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRequestID(t *testing.T) {
	s := newSite(t)
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"none", "", false},
		{"sane", "proxy-4711_abc", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"65 chars", strings.Repeat("a", 65), false},
		{"space", "abc def", false},
		{"log injection", "abc\n{\"level\":\"ERROR\"}", false},
		{"unicode", "äöü", false},
		{"dots", "a.b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/antraege/fehlt", nil)
			if tt.incoming != "" {
				r.Header.Set(RequestIDHeader, tt.incoming)
			}
			resp := s.do(r)
			got := resp.Header.Get(RequestIDHeader)
			if tt.keep && got != tt.incoming {
				t.Errorf("id %q, want the incoming %q", got, tt.incoming)
			}
			if !tt.keep && !generated.MatchString(got) {
				t.Errorf("id %q, want 32 generated hex digits", got)
			}
			if p := decodeProblem(t, resp); p.RequestID != got {
				t.Errorf("problem request_id %q, header %q", p.RequestID, got)
			}
		})
	}
	a, b := s.get("/healthz").Header.Get(RequestIDHeader), s.get("/healthz").Header.Get(RequestIDHeader)
	if a == b {
		t.Errorf("two requests got the same id %q", a)
	}
}

func TestRequestIDFromInHandler(t *testing.T) {
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestIDFrom(r.Context())
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set(RequestIDHeader, "abc-123")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen != "abc-123" {
		t.Errorf("RequestIDFrom = %q, want abc-123", seen)
	}
}

func TestRecover(t *testing.T) {
	s := newSite(t)

	resp := s.get("/api/panik")
	if resp.StatusCode != 500 {
		t.Fatalf("API panic: status %d, want 500", resp.StatusCode)
	}
	p := decodeProblem(t, resp)
	if p.Type != ProblemTypeBase+"internal" || strings.Contains(p.Detail, "secret") {
		t.Errorf("API panic problem = %+v", p)
	}

	resp = s.get("/panik")
	b := body(t, resp)
	if resp.StatusCode != 500 || !strings.Contains(b, "Ein interner Fehler ist aufgetreten") {
		t.Errorf("page panic: status %d, body %s", resp.StatusCode, b)
	}
	if strings.Contains(b, "secret-internal-detail") || strings.Contains(b, "goroutine") {
		t.Errorf("page panic shows internals:\n%s", b)
	}

	var panics int
	for _, l := range s.logLines(t) {
		if l["level"] != "ERROR" {
			continue
		}
		panics++
		e := fmt.Sprint(l["error"])
		if !strings.Contains(e, "secret-internal-detail") || !strings.Contains(e, "goroutine") || l["request_id"] == "" {
			t.Errorf("panic log line without value, stack or request id: %v", l)
		}
	}
	if panics != 2 {
		t.Errorf("%d error log lines, want 2 (one per panic)", panics)
	}
	for _, l := range s.logLines(t) {
		if l["msg"] == "request" && l["status"] != float64(500) && strings.Contains(fmt.Sprint(l["path"]), "panik") {
			t.Errorf("access log has status %v for a panic, want 500", l["status"])
		}
	}
}

func TestRecoverAfterResponseStarted(t *testing.T) {
	s := newSite(t)
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler so the server drops the connection", v)
		}
	}()
	s.get("/api/halb")
}

func TestSecurityHeaders(t *testing.T) {
	s := newSite(t)
	want := map[string]string{
		"Content-Security-Policy":    ContentSecurityPolicy,
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin",
		"Permissions-Policy":         permissionsPolicy,
	}
	for _, path := range []string{"/hallo", "/api/antraege/7", "/gibtsnicht", "/api/gibtsnicht", "/api/panik", "/panik", "/seite/intern", "/healthz"} {
		resp := s.get(path)
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s (status %d): %s = %q, want %q", path, resp.StatusCode, k, got, v)
			}
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s over plain HTTP: HSTS %q, want none", path, got)
		}
	}
	for _, directive := range []string{"default-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(ContentSecurityPolicy, directive) {
			t.Errorf("CSP lacks %q", directive)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") {
		t.Errorf("CSP allows something unsafe: %s", ContentSecurityPolicy)
	}
}

func TestHSTS(t *testing.T) {
	const hsts = "max-age=63072000; includeSubDomains"
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tests := []struct {
		name string
		opts SecurityOptions
		tls  bool
		want string
	}{
		{"plain", SecurityOptions{}, false, ""},
		{"tls", SecurityOptions{}, true, hsts},
		{"behind TLS proxy", SecurityOptions{HSTS: true}, false, hsts},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		SecurityHeaders(tt.opts)(ok).ServeHTTP(w, r)
		if got := w.Header().Get("Strict-Transport-Security"); got != tt.want {
			t.Errorf("%s: HSTS %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	s := newSite(t)
	big := `{"kennzeichen":"` + strings.Repeat("X", testBodyLimit) + `"}`
	tests := []struct {
		name    string
		path    string
		ctype   string
		body    string
		chunked bool
		status  int
		api     bool
	}{
		{"API small", "/api/antraege", "application/json", `{"kennzeichen":"B-XY-123"}`, false, 201, true},
		{"API over limit, Content-Length", "/api/antraege", "application/json", big, false, 413, true},
		{"API over limit, chunked", "/api/antraege", "application/json", big, true, 413, true},
		{"form over limit, Content-Length", "/formular", "application/x-www-form-urlencoded", "plz=" + strings.Repeat("1", testBodyLimit), false, 413, false},
		{"form over limit, chunked", "/formular", "application/x-www-form-urlencoded", "plz=" + strings.Repeat("1", testBodyLimit), true, 413, false},
		{"form small", "/formular", "application/x-www-form-urlencoded", "plz=123", false, 400, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rd io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				rd = io.MultiReader(rd) // hides the length: no Content-Length
			}
			r := httptest.NewRequest("POST", tt.path, rd)
			r.Header.Set("Content-Type", tt.ctype)
			if tt.chunked {
				r.ContentLength = -1
			}
			resp := s.do(r)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body(t, resp))
			}
			if tt.status == 413 {
				if tt.api {
					if p := decodeProblem(t, resp); p.Type != ProblemTypeBase+"too-large" {
						t.Errorf("problem type %q", p.Type)
					}
				} else if b := body(t, resp); !strings.Contains(b, "Die gesendeten Daten sind zu groß") {
					t.Errorf("page does not say the data was too large:\n%s", b)
				}
			}
		})
	}
}

// An announced oversized body is refused before the handler runs.
func TestBodyLimitBeforeHandler(t *testing.T) {
	called := false
	h := BodyLimit(10, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	r := httptest.NewRequest("POST", "/api/x", bytes.NewReader(make([]byte, 11)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 413 || called {
		t.Errorf("status %d, handler called %v; want 413 without calling the handler", w.Code, called)
	}
}

func TestTimeout(t *testing.T) {
	s := newSite(t)
	start := time.Now()
	resp := s.get("/api/langsam")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v; the 200 ms deadline did not reach the handler", d)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("status %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestAccessLog(t *testing.T) {
	s := newSite(t)
	r := httptest.NewRequest("GET", "/api/antraege/7?adresse=Musterweg+12&name=Erika", nil)
	r.RemoteAddr = "203.0.113.77:51234"
	s.do(r)
	s.get("/gibtsnicht/%C3%A4?plz=12345")

	var lines []map[string]any
	for _, l := range s.logLines(t) {
		if l["msg"] == "request" {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2: %s", len(lines), s.logs)
	}
	l := lines[0]
	want := map[string]any{
		"level": "INFO", "method": "GET", "route": "GET /api/antraege/{id}", "path": "/api/antraege/7",
		"status": float64(200), "remote": "203.0.113.0/24",
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("access log %s = %v, want %v", k, l[k], v)
		}
	}
	for _, k := range []string{"bytes", "duration_ms", "request_id"} {
		if _, ok := l[k]; !ok {
			t.Errorf("access log has no %s", k)
		}
	}
	if lines[1]["route"] != "unmatched" || lines[1]["status"] != float64(404) {
		t.Errorf("unknown route logged as %v", lines[1])
	}
	for _, secret := range []string{"Musterweg", "Erika", "12345", "203.0.113.77", "adresse="} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, s.logs)
		}
	}
}

func TestTruncateAddr(t *testing.T) {
	tests := map[string]string{
		"203.0.113.77:51234":        "203.0.113.0/24",
		"[2001:db8:abcd:12::1]:443": "2001:db8:abcd::/48",
		"[::ffff:198.51.100.9]:80":  "198.51.100.0/24",
		"[fe80::1%eth0]:80":         "fe80::/48",
		"pipe":                      "",
		"":                          "",
		"198.51.100.200":            "198.51.100.0/24",
	}
	for in, want := range tests {
		if got := truncateAddr(in); got != want {
			t.Errorf("truncateAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCrossOrigin(t *testing.T) {
	s := newSite(t)
	r := httptest.NewRequest("POST", "/api/antraege", strings.NewReader(`{"kennzeichen":"B-XY-123"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	resp := s.do(r)
	if resp.StatusCode != 403 {
		t.Fatalf("cross-site POST: status %d, want 403", resp.StatusCode)
	}
	if p := decodeProblem(t, resp); p.Type != ProblemTypeBase+"forbidden" {
		t.Errorf("problem type %q", p.Type)
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Body = io.NopCloser(strings.NewReader(`{"kennzeichen":"B-XY-123"}`))
	if resp := s.do(r); resp.StatusCode != 201 {
		t.Errorf("same-origin POST: status %d, want 201", resp.StatusCode)
	}
}

func TestNoStore(t *testing.T) {
	w := httptest.NewRecorder()
	NoStore(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = WriteJSON(w, 200, map[string]string{"name": "Erika Mustermann"})
	})).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	Chain(mw("a"), mw("b"), mw("c"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		order = append(order, "h")
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := strings.Join(order, ""); got != "abch" {
		t.Errorf("order %q, want abch", got)
	}
}

func TestNewServerTimeouts(t *testing.T) {
	srv := NewServer(":0", http.NotFoundHandler(), ServerOptions{WriteTimeout: 90 * time.Second})
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 || srv.ErrorLog == nil {
		t.Errorf("server without timeouts or error log: %+v", srv)
	}
	if srv.WriteTimeout != 90*time.Second {
		t.Errorf("WriteTimeout %v, want the option's 90s", srv.WriteTimeout)
	}
}

// Admission: beyond the slots and the waiting time, requests get 503 with
// Retry-After at once; exempt requests pass; a freed slot admits the next.
func TestAdmission(t *testing.T) {
	release := make(chan struct{})
	var refused atomic.Int64
	h := Admission(2, 50*time.Millisecond, func(r *http.Request) bool { return r.URL.Path == "/healthz" }, &refused, nil)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/langsam" {
				<-release
			}
			w.WriteHeader(200)
		}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); http.Get(srv.URL + "/langsam") }()
	}
	time.Sleep(100 * time.Millisecond) // both slots taken
	start := time.Now()
	res, err := http.Get(srv.URL + "/schnell")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || time.Since(start) > 500*time.Millisecond {
		t.Errorf("third request: %d, Retry-After %q, after %s; want 503 quickly", res.StatusCode, res.Header.Get("Retry-After"), time.Since(start))
	}
	if res, _ := http.Get(srv.URL + "/healthz"); res == nil || res.StatusCode != 200 {
		t.Error("an exempt request was refused")
	}
	close(release)
	wg.Wait()
	if res, _ := http.Get(srv.URL + "/schnell"); res == nil || res.StatusCode != 200 {
		t.Error("after the slow requests ended the next was refused")
	}
	if refused.Load() != 1 {
		t.Errorf("%d refusals counted, want 1", refused.Load())
	}
}
