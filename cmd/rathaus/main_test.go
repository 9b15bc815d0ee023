package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
	"opencode.de/rathaus/rathaus/internal/apidoc"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/site"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
	"opencode.de/rathaus/rathaus/internal/web"
)

// syncBuffer collects a server's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a running `rathaus demo` or `rathaus serve`.
type server struct {
	base   string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func() error
}

// start runs the server as main would, on port 0, and waits until it
// listens; the test's cleanup stops it.
func start(t *testing.T, m mode, args []string, env map[string]string) *server {
	t.Helper()
	s := launch(t, m, args, env)
	t.Cleanup(func() { s.stop() })
	return s
}

// launch starts a server that the caller must stop.
func launch(t *testing.T, m mode, args []string, env map[string]string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	up := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServer(ctx, m, append([]string{"--listen", "127.0.0.1:0"}, args...), func(k string) string { return env[k] },
			s.stdout, s.stderr, func(base string) { up <- base })
	}()
	select {
	case s.base = <-up:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr)
	case <-time.After(120 * time.Second):
		cancel()
		t.Fatalf("server did not start within 120 s\nstderr:\n%s", s.stderr)
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("server did not stop within 30 s")
			}
		})
		return stopErr
	}
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *server) do(t *testing.T, method, path string, body io.Reader, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

func (s *server) get(t *testing.T, path string) response { return s.do(t, "GET", path, nil, nil) }

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// The demo is started once for all tests that only read from it.
var (
	demoOnce sync.Once
	demoSrv  *server
	demoDir  string
)

func demoServer(t *testing.T) *server {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rathaus-demo-test")
		if err != nil {
			t.Fatal(err)
		}
		demoDir = dir
		// Started outside t's cleanup so that it outlives the first test
		// that asks; TestMain stops it.
		demoSrv = launch(t, modeDemo, []string{"--data", dir}, nil)
	})
	if demoSrv == nil {
		t.Fatal("demo server failed to start in an earlier test")
	}
	return demoSrv
}

// The rathaus binary, built once for the tests that run it as a process
// of its own (and removed after the run).
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func rathausBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "rathaus-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "rathaus")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if demoSrv != nil {
		demoSrv.stop()
		os.RemoveAll(demoDir)
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func TestDemoLoadsBerlin(t *testing.T) {
	s := demoServer(t)
	out := s.stdout.String()
	for _, want := range []string{"Parkzonen importiert", "Adressen übernommen", "/zonen", "/api/v1/openapi.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	var ms struct {
		Municipalities []struct{ ARS, Name string }
	}
	r := s.get(t, "/api/v1/municipalities")
	r.json(t, &ms)
	if len(ms.Municipalities) != 1 || ms.Municipalities[0].ARS != "110000000000" || ms.Municipalities[0].Name != "Berlin" {
		t.Errorf("municipalities = %+v, want Berlin 110000000000", ms)
	}
	var zs struct {
		Zones []struct {
			ID, Name, District string
			BBox               [4]float64
		}
	}
	s.get(t, "/api/v1/municipalities/110000000000/zones").json(t, &zs)
	want := len(mustParseDemoZones(t))
	if len(zs.Zones) != want {
		t.Errorf("zones listed = %d, want %d (all of the file)", len(zs.Zones), want)
	}
	if !slices.ContainsFunc(zs.Zones, func(z struct {
		ID, Name, District string
		BBox               [4]float64
	}) bool {
		return z.ID == "29" && z.Name == "Zone 29" && z.District == "Mitte"
	}) {
		t.Errorf("zone 29 (Mitte) missing from %+v", zs.Zones[:3])
	}
}

func mustParseDemoZones(t *testing.T) []geo.Zone {
	t.Helper()
	zones, err := geo.ParseZones(bytes.NewReader(demo.Zones()), geo.ParseOptions{Tenant: demo.Berlin.ARS, ValidFrom: demo.ZonesValidFrom})
	if err != nil {
		t.Fatal(err)
	}
	return zones
}

type lookup struct {
	Status  string
	Query   string
	Address *struct {
		Street, HouseNumber, Postcode, Label string
		Lat, Lon                             float64
	}
	Point       *struct{ Lat, Lon float64 }
	Zones       []struct{ ID, Name, District string }
	Candidates  []struct{ Label string }
	Suggestions []struct{ Label string }
}

func TestZoneLookupAPI(t *testing.T) {
	s := demoServer(t)
	zones := mustParseDemoZones(t)
	path := "/api/v1/municipalities/110000000000/zone-lookup?"
	for _, text := range []string{"Lehrter Str. 53, 10557", "lehrter strasse 53", "Lehrter Straße 53, 10557 Berlin", "LEHRTERSTR. 53"} {
		t.Run(text, func(t *testing.T) {
			r := s.get(t, path+url.Values{"address": {text}}.Encode())
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			// The answer holds the address asked for, usually a home.
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			var l lookup
			r.json(t, &l)
			if l.Status != "found" || l.Address == nil {
				t.Fatalf("lookup %q = %+v, want found", text, l)
			}
			if l.Address.Street != "Lehrter Straße" || l.Address.Postcode != "10557" {
				t.Errorf("matched %+v, want Lehrter Straße 53, 10557", *l.Address)
			}
			// The answer must agree with a brute-force test over all zones.
			var want []string
			for _, z := range geo.BruteForce(zones, geo.Point{Lon: l.Address.Lon, Lat: l.Address.Lat}) {
				want = append(want, z.ID)
			}
			var got []string
			for _, z := range l.Zones {
				got = append(got, z.ID)
			}
			if !slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("zones %v, want %v (non-empty)", got, want)
			}
		})
	}
	t.Run("coordinates", func(t *testing.T) {
		var l lookup
		s.get(t, path+"lat=52.5344684&lon=13.3585277").json(t, &l)
		// Lehrter Straße 53 lies in zone 75 (Mitte, Moabit).
		if l.Status != "point" || len(l.Zones) != 1 || l.Zones[0].ID != "75" {
			t.Errorf("point lookup = %+v, want zone 75", l)
		}
		s.get(t, path+"lat=52.40&lon=13.00").json(t, &l)
		if len(l.Zones) != 0 {
			t.Errorf("point outside Berlin's zones = %+v, want no zones", l.Zones)
		}
	})
	t.Run("house number range is one building", func(t *testing.T) {
		// 52, 53 and 54 are all 10557 and all in zone 75: found, not ambiguous.
		var l lookup
		s.get(t, path+url.Values{"address": {"Lehrter Str. 52-54"}}.Encode()).json(t, &l)
		if l.Status != "found" || l.Address == nil || l.Address.Label != "Lehrter Straße 52-54, 10557 Berlin" ||
			len(l.Zones) != 1 || l.Zones[0].ID != "75" || len(l.Candidates) != 0 {
			t.Errorf("lookup = %+v, want found Lehrter Straße 52-54, 10557 Berlin in zone 75", l)
		}
	})
	t.Run("postcode that does not fit is not guessed", func(t *testing.T) {
		// Alte Schönhauser Straße 8 has no postcode in the data and lies in
		// Mitte (zone 29); 14199 is Schmargendorf.
		var l lookup
		s.get(t, path+url.Values{"address": {"Alte Schönhauser Straße 8, 14199"}}.Encode()).json(t, &l)
		if l.Status != "not_found" || len(l.Zones) != 0 || len(l.Suggestions) == 0 || !strings.HasPrefix(l.Suggestions[0].Label, "Alte Schönhauser Straße 8,") {
			t.Errorf("lookup = %+v, want not_found suggesting Alte Schönhauser Straße 8", l)
		}
	})
	t.Run("unknown address gets suggestions", func(t *testing.T) {
		var l lookup
		s.get(t, path+url.Values{"address": {"Lehrter Strase 9999"}}.Encode()).json(t, &l)
		if l.Status != "not_found" || len(l.Suggestions) == 0 || len(l.Suggestions) > 5 {
			t.Fatalf("lookup = %+v, want not_found with 1..5 suggestions", l)
		}
		if !strings.Contains(l.Suggestions[0].Label, "Lehrter Straße") {
			t.Errorf("first suggestion %q, want one on Lehrter Straße", l.Suggestions[0].Label)
		}
	})
}

func TestAPIBadInput(t *testing.T) {
	s := demoServer(t)
	base := "/api/v1/municipalities/110000000000/zone-lookup"
	cases := []struct {
		method, path string
		status       int
		param        string
	}{
		{"GET", base, 400, "address"},
		{"GET", base + "?address=", 400, "address"},
		{"GET", base + "?address=" + strings.Repeat("a", 300), 400, "address"},
		{"GET", base + "?address=Lehrter+Str.", 400, "address"},
		{"GET", base + "?lat=abc&lon=13.4", 400, "lat"},
		{"GET", base + "?lat=52.5", 400, "lon"},
		{"GET", base + "?lat=95&lon=13.4", 400, "lat"},
		{"GET", base + "?lat=52.5&lon=NaN", 400, "lon"},
		{"GET", base + "?address=x+1&lat=52.5&lon=13.4", 400, "address"},
		{"GET", base + "?address=Lehrter+Str.+53&address=Lehrter+Str.+55", 400, "address"},
		{"GET", base + "?lat=52.5&lat=52.6&lon=13.4", 400, "lat"},
		{"GET", "/api/v1/municipalities/999999999999/zone-lookup?address=Lehrter+Str.+53", 404, ""},
		{"GET", "/api/v1/municipalities/berlin/zones", 404, ""},
		{"GET", "/api/v1/municipalities/110000000000/zones/does-not-exist", 404, ""},
		{"GET", "/api/v1/nothing-here", 404, ""},
		{"DELETE", "/api/v1/municipalities", 405, ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, nil, nil)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var p struct {
				Status int
				Title  string
				Errors []struct{ Parameter, Detail string }
			}
			r.json(t, &p)
			if p.Status != tc.status || p.Title == "" {
				t.Errorf("problem = %s", r.body)
			}
			if tc.param != "" && (len(p.Errors) == 0 || p.Errors[0].Parameter != tc.param || p.Errors[0].Detail == "") {
				t.Errorf("problem errors = %+v, want parameter %q with a detail", p.Errors, tc.param)
			}
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow header")
			}
		})
	}
	t.Run("API body over limit", func(t *testing.T) {
		// An API route answers 413 as problem+json, whether the size is
		// announced (the body limit answers before the handler) or turns
		// out while the handler reads the body (chunked).
		apiPath := "/api/v1/municipalities/110000000000/parking/applications"
		check := func(name string, r response) {
			t.Helper()
			var p struct{ Status int }
			if r.status != 413 || r.header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(r.body, &p) != nil || p.Status != 413 {
				t.Errorf("%s: %d %s %s, want 413 application/problem+json", name, r.status, r.header.Get("Content-Type"), r.body)
			}
		}
		big := `{"kennzeichen":"` + strings.Repeat("x", 2<<20) + `"}`
		check("Content-Length", s.do(t, "POST", apiPath, strings.NewReader(big), map[string]string{"Content-Type": "application/json"}))
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte(`{"kennzeichen":"`))
			for range 64 {
				pw.Write(bytes.Repeat([]byte("x"), 32<<10))
			}
			pw.Write([]byte(`"}`))
			pw.Close()
		}()
		check("chunked", s.do(t, "POST", apiPath, pr, map[string]string{"Content-Type": "application/json"}))
	})
	t.Run("body over limit", func(t *testing.T) {
		r := s.do(t, "POST", "/zonen", strings.NewReader("adresse="+strings.Repeat("x", 2<<20)),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.status != 413 {
			t.Errorf("status = %d, want 413", r.status)
		}
		// Without Content-Length (chunked), the limit bites while reading.
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte("adresse="))
			for range 64 {
				pw.Write(bytes.Repeat([]byte("x"), 32<<10))
			}
			pw.Close()
		}()
		r = s.do(t, "POST", "/zonen", pr, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if r.status != 413 {
			t.Errorf("chunked: status = %d, want 413", r.status)
		}
	})
}

func TestZonePage(t *testing.T) {
	s := demoServer(t)
	form := func(v url.Values, h map[string]string) response {
		hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		for k, x := range h {
			hdr[k] = x
		}
		return s.do(t, "POST", "/zonen", strings.NewReader(v.Encode()), hdr)
	}
	r := s.get(t, "/zonen")
	if r.status != 200 || !bytes.Contains(r.body, []byte("Wohne ich in einer Bewohnerparkzone?")) || !bytes.Contains(r.body, []byte(`lang="de"`)) {
		t.Fatalf("GET /zonen = %d\n%s", r.status, r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	if csp == "" || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("nosniff missing")
	}

	r = form(url.Values{"adresse": {"oranienburger strasse 13, 10178"}}, nil)
	body := string(r.body)
	if r.status != 200 || !strings.Contains(body, "Bewohnerparkzone 29") || !strings.Contains(body, "<svg") || !strings.Contains(body, "Mitte") {
		t.Errorf("POST /zonen = %d, want zone 29 in Mitte with a map:\n%s", r.status, body)
	}
	if !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
		t.Errorf("result page Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}

	r = form(url.Values{"adresse": {""}}, nil)
	if r.status != 422 || !strings.Contains(string(r.body), `aria-invalid="true"`) {
		t.Errorf("empty address: status %d, want 422 with the field marked invalid:\n%s", r.status, r.body)
	}
	r = form(url.Values{"adresse": {"Lehrter Straße"}}, nil)
	if r.status != 422 || !strings.Contains(string(r.body), `value="Lehrter Straße"`) {
		t.Errorf("address without number: status %d, want 422 keeping the input", r.status)
	}
	r = form(url.Values{"adresse": {"Lehrter Str. 53"}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if r.status != 403 {
		t.Errorf("cross-site POST: status %d, want 403", r.status)
	}
	r = s.get(t, "/gibt-es-nicht")
	if r.status != 404 || !strings.Contains(r.header.Get("Content-Type"), "text/html") || !bytes.Contains(r.body, []byte("kern-")) {
		t.Errorf("unknown page: %d %s, want German HTML 404", r.status, r.header.Get("Content-Type"))
	}
}

func TestOperations(t *testing.T) {
	s := demoServer(t)
	if r := s.get(t, "/healthz"); r.status != 200 {
		t.Errorf("/healthz = %d", r.status)
	}
	if r := s.get(t, "/readyz"); r.status != 200 {
		t.Errorf("/readyz = %d %s", r.status, r.body)
	}
	s.get(t, "/api/v1/municipalities/110000000000/zones/29")
	wants := []string{
		`rathaus_http_request_duration_seconds_bucket{code="200",method="GET",route="GET /api/v1/municipalities/{ars}/zones/{zone}"`,
		"rathaus_jobs{kind=\"geo.address_import\",state=\"completed\"} 1",
		"go_sql_open_connections",
		"rathaus_admission_refused_total 0",
	}
	// River marks a finished job completed shortly after it ends (its
	// completer writes in batches): the import's count may need a moment.
	var r response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = s.get(t, "/metrics")
		missing := 0
		for _, want := range wants {
			if !bytes.Contains(r.body, []byte(want)) {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range wants {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var f struct {
		Type     string
		ID       string
		Geometry struct {
			Type        string
			Coordinates [][][][2]float64
		}
		Properties map[string]any
	}
	r = s.get(t, "/api/v1/municipalities/110000000000/zones/29")
	r.json(t, &f)
	if r.header.Get("Content-Type") != "application/geo+json" || f.Type != "Feature" || f.ID != "29" ||
		f.Geometry.Type != "MultiPolygon" || len(f.Geometry.Coordinates) == 0 || f.Properties["district"] != "Mitte" {
		t.Errorf("zone 29 feature: %s %+v", r.header.Get("Content-Type"), f.Properties)
	}
}

// recorder collects the route patterns a server registers.
type recorder struct{ patterns []string }

func (r *recorder) Handle(pattern string, _ http.Handler) { r.patterns = append(r.patterns, pattern) }

func TestEveryAPIRouteIsDocumented(t *testing.T) {
	var rec recorder
	routes(&rec, nil, nil, web.NewMetrics(), surfaces{geo: &geo.Handler{}, site: &site.Handler{}, parking: &parking.Handler{}, demoRegs: &registers.Demo{}})
	var served []string
	for _, p := range rec.patterns {
		if strings.Contains(p, " /api/") {
			served = append(served, p)
		}
	}
	slices.Sort(served)
	documented, err := apidoc.Operations()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(served, documented) {
		t.Errorf("API routes and OpenAPI paths differ:\nserved:     %q\ndocumented: %q", served, documented)
	}
	if len(served) < 5 {
		t.Errorf("only %d API routes found", len(served))
	}
	if r := demoServer(t).get(t, "/api/v1/openapi.json"); r.status != 200 || !bytes.Contains(r.body, []byte(`"openapi": "3.1.0"`)) {
		t.Errorf("/api/v1/openapi.json = %d", r.status)
	}
}

func TestSecondStartReusesData(t *testing.T) {
	dir := t.TempDir()
	first := start(t, modeDemo, []string{"--data", dir}, nil)
	if !strings.Contains(first.stdout.String(), "Adressen übernommen") {
		t.Fatalf("first start did not import:\n%s", first.stdout)
	}
	if err := first.stop(); err != nil {
		t.Fatalf("first stop: %v", err)
	}
	second := start(t, modeDemo, []string{"--data", dir}, nil)
	out := second.stdout.String()
	if strings.Contains(out, "importiert") || strings.Contains(out, "übernommen") {
		t.Errorf("second start imported again:\n%s", out)
	}
	var l lookup
	second.get(t, "/api/v1/municipalities/110000000000/zone-lookup?address=Lehrter+Str.+53").json(t, &l)
	if l.Status != "found" {
		t.Errorf("after restart: %+v", l)
	}
	if err := second.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	if !strings.Contains(second.stderr.String(), "stopped") {
		t.Errorf("no orderly shutdown in the log:\n%s", second.stderr)
	}
}

func TestServeRefusesInvalidConfiguration(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve"}, func(string) string { return "" }, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "RATHAUS_DATABASE_URL fehlt") {
		t.Errorf("serve without database = %v, want refusal naming RATHAUS_DATABASE_URL", err)
	}
	err = run(context.Background(), []string{"serve", "--log-format", "xml"}, func(k string) string {
		return map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x.db"}[k]
	}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "RATHAUS_LOG_FORMAT") {
		t.Errorf("serve with bad log format = %v", err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &out, &errOut); err == nil {
		t.Error("unknown command accepted")
	}
	out.Reset()
	if err := run(context.Background(), []string{"version"}, nil, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "rathaus ") {
		t.Errorf("version = %q, %v", out.String(), err)
	}
}

// TestServeRedactsSecrets: serve prints its effective configuration before
// it connects; passwords in the database URL (user info or parameter) must
// not appear there, nor in the error when the database cannot be reached.
func TestServeRedactsSecrets(t *testing.T) {
	for _, dbURL := range []string{
		"postgres://rathaus:geheim-k7Qx2@127.0.0.1:1/rathaus?connect_timeout=2",
		"postgres://rathaus@127.0.0.1:1/rathaus?connect_timeout=2&password=geheim-k7Qx2",
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0"}, func(k string) string {
			return map[string]string{"RATHAUS_DATABASE_URL": dbURL}[k]
		}, &out, &errOut)
		if err == nil {
			t.Fatalf("serve on an unreachable database started")
		}
		if !strings.Contains(out.String(), "RATHAUS_DATABASE_URL=postgres://rathaus") {
			t.Errorf("serve did not print the database URL:\n%s", out.String())
		}
		for name, text := range map[string]string{"configuration": out.String(), "log": errOut.String(), "error": err.Error()} {
			if strings.Contains(text, "geheim") {
				t.Errorf("%s of serve with %s shows the password:\n%s", name, dbURL, text)
			}
		}
		if !strings.Contains(out.String(), "xxxxx") {
			t.Errorf("configuration does not show the password as redacted:\n%s", out.String())
		}
	}
}

// TestCLIOnEachEngine runs the operator's path: migrate, import zones and
// addresses with the CLI, then serve — on SQLite and on PostgreSQL.
func TestCLIOnEachEngine(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			dbURL := storetest.URL(t, e)
			// The configuration that serve prints must not show the
			// database password. The throwaway test cluster trusts local
			// connections and ignores a password; a server that needs one
			// has it in RATHAUS_TEST_POSTGRES already.
			secret := ""
			if e == store.Postgres {
				u, err := url.Parse(dbURL)
				if err != nil {
					t.Fatal(err)
				}
				pw, ok := u.User.Password()
				if !ok {
					pw = "geheim-k7Qx2"
					u.User = url.UserPassword(u.User.Username(), pw)
					dbURL = u.String()
				}
				secret = pw
			}
			env := map[string]string{"RATHAUS_DATABASE_URL": dbURL}
			getenv := func(k string) string { return env[k] }
			dir := t.TempDir()
			zonesFile := filepath.Join(dir, "zones.geojson")
			os.WriteFile(zonesFile, demo.Zones(), 0o644)
			addrFile := filepath.Join(dir, "addresses.csv")
			os.WriteFile(addrFile, demo.Addresses(), 0o644)
			ctx := context.Background()
			var out bytes.Buffer
			must := func(args ...string) string {
				t.Helper()
				out.Reset()
				var errOut bytes.Buffer
				if err := run(ctx, args, getenv, &out, &errOut); err != nil {
					t.Fatalf("rathaus %s: %v\n%s\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
				}
				return out.String()
			}
			// Tools refuse an unmigrated database.
			if err := run(ctx, []string{"zones", "import", "--tenant", "110000000000", "--name", "Berlin", zonesFile}, getenv, io.Discard, io.Discard); err == nil ||
				!strings.Contains(err.Error(), "rathaus migrate") {
				t.Errorf("import before migrate = %v, want a hint to run rathaus migrate", err)
			}
			must("migrate")
			if o := must("migrate"); !strings.Contains(o, "0 Migration(en)") {
				t.Errorf("second migrate: %s", o)
			}
			if o := must("zones", "import", "--tenant", "110000000000", "--name", "Berlin", "--valid-from", "2026-06-09", zonesFile); !strings.Contains(o, "Zonen für 110000000000 importiert") {
				t.Errorf("zones import: %s", o)
			}
			// A broken file imports nothing and names the feature.
			bad := filepath.Join(dir, "bad.geojson")
			os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"zone_id":"1"},"geometry":{"type":"Polygon","coordinates":[[[13.1,52.1],[13.2,52.1],[13.2,52.2],[13.1,52.2],[13.1,52.1]]]}},{"type":"Feature","properties":{"zone_id":"1"},"geometry":{"type":"Polygon","coordinates":[[[13.1,52.1],[13.2,52.1],[13.2,52.2],[13.1,52.1]]]}}]}`), 0o644)
			err := run(ctx, []string{"zones", "import", "--tenant", "110000000000", bad}, getenv, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "features[1]") || !strings.Contains(err.Error(), "kommt mehrfach vor") || !strings.Contains(err.Error(), "features[0]") {
				t.Errorf("import of a file with a duplicate zone id = %v, want an error naming features[1] as a duplicate of features[0]", err)
			}
			o := must("addresses", "import", "--tenant", "110000000000", addrFile)
			if !strings.Contains(o, "Zeilen gelesen") || !strings.Contains(o, "Fertig:") {
				t.Errorf("addresses import output lacks progress or result:\n%s", o)
			}
			s := start(t, modeServe, nil, env)
			if !strings.Contains(s.stdout.String(), "RATHAUS_DATABASE_URL=") {
				t.Errorf("serve did not print its configuration:\n%s", s.stdout)
			}
			var zs struct{ Zones []struct{ ID string } }
			s.get(t, "/api/v1/municipalities/110000000000/zones").json(t, &zs)
			if len(zs.Zones) != len(mustParseDemoZones(t)) {
				t.Errorf("after the failed import the zones are %d, want all of the first import", len(zs.Zones))
			}
			var l lookup
			s.get(t, "/api/v1/municipalities/110000000000/zone-lookup?address=Perleberger+Stra%C3%9Fe+61a").json(t, &l)
			if l.Status != "found" || len(l.Zones) != 1 {
				t.Errorf("lookup on %s: %+v", e, l)
			}
			if secret != "" {
				if strings.Contains(s.stdout.String(), secret) || strings.Contains(s.stderr.String(), secret) {
					t.Errorf("serve printed the database password:\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
				}
				if !strings.Contains(s.stdout.String(), ":xxxxx@") {
					t.Errorf("serve did not show the password as redacted:\n%s", s.stdout)
				}
			}
		})
	}
}

// rathaus pki: a CA, a member certificate that chains to it and names the
// member; nothing is overwritten; a bad member ID is refused.
func TestPKICommands(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"pki", "init", "--dir", dir, "--name", "Amtsnetz Test"}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("pki init: %v\n%s", err, errb.String())
	}
	if err := run(ctx, []string{"pki", "init", "--dir", dir, "--name", "Noch eins"}, func(string) string { return "" }, &out, &errb); err == nil ||
		!strings.Contains(err.Error(), "nie überschrieben") {
		t.Errorf("second init: %v", err)
	}
	if err := run(ctx, []string{"pki", "issue", "--dir", dir, "--member", "KOMMUNE:110000000000:meldebehoerde", "--org", "Bezirksamt Mitte",
		"--host", "melde.test,127.0.0.1"}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("pki issue: %v", err)
	}
	if err := run(ctx, []string{"pki", "issue", "--dir", dir, "--member", "kein gültiger name", "--org", "x", "--host", "x"},
		func(string) string { return "" }, &out, &errb); err == nil {
		t.Error("a bad member ID was issued")
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	certPEM, _ := os.ReadFile(filepath.Join(dir, "KOMMUNE_110000000000_meldebehoerde.pem"))
	ca, err := pki.ParseCertPEM(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "melde.test", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("member certificate does not chain to the CA: %v", err)
	}
	if id, err := pki.MemberID(cert); err != nil || id != "KOMMUNE:110000000000:meldebehoerde" {
		t.Errorf("member ID %q, %v", id, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "KOMMUNE_110000000000_meldebehoerde-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("member key file: %v %v", fi, err)
	}
}

// rathaus log verify: an intact node log with a record proved under the
// latest signed head; a changed record makes it fail, naming the record.
func TestLogVerifyCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ca, err := pki.NewCA("Amtsnetz Test", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Member{ID: "KOMMUNE:110000000000:meldebehoerde", Org: "Bezirksamt", Hosts: []string{"melde.test"}, Validity: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "knoten.pem")
	os.WriteFile(certFile, pki.CertPEM(cert), 0o644)
	url := "sqlite:" + filepath.Join(dir, "log.db")
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, msglog.Migrations); err != nil {
		t.Fatal(err)
	}
	l, err := msglog.Open(ctx, db, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		if _, err := l.Append(ctx, msglog.Record{Direction: msglog.In, MessageID: fmt.Sprintf("msg-%08d", i), Client: "KOMMUNE:110000000000:parken",
			Service: "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen", Purpose: "§ 34 BMG", Reference: "BP-2026-AAAAAAAA"}, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.SignHead(ctx); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"log", "verify", "--database-url", url, "--cert", certFile, "--record", "3"}, func(string) string { return "" }, &out, &errb); err != nil {
		t.Fatalf("log verify: %v\n%s%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "intakt: 5 Einträge") || !strings.Contains(out.String(), "Eintrag 3 ist im signierten Baum der Größe 5 enthalten") {
		t.Errorf("output:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"log", "verify", "--database-url", url, "--cert", certFile, "--message", "msg-00000004"}, func(string) string { return "" }, &out, &errb); err != nil ||
		!strings.Contains(out.String(), "Eintrag 4 ist im signierten Baum") {
		t.Errorf("log verify --message: %v\n%s", err, out.String())
	}
	if err := run(ctx, []string{"log", "verify", "--database-url", url, "--cert", certFile, "--message", "msg-gibtsnicht"}, func(string) string { return "" }, &out, &errb); err == nil {
		t.Error("an unknown message was proved")
	}
	db.Write().Exec(`UPDATE amtsnetz_log SET purpose = 'Neugier' WHERE seq = 2`)
	db.Close()
	out.Reset()
	if err := run(ctx, []string{"log", "verify", "--database-url", url, "--cert", certFile}, func(string) string { return "" }, &out, &errb); err == nil ||
		!strings.Contains(out.String(), "Eintrag 2 wurde verändert") {
		t.Errorf("tampered log: %v\n%s", err, out.String())
	}
}

// minProcs raises GOMAXPROCS to the floor unless the operator set it.
func TestMinProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	minProcs(func(string) string { return "1" })
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Errorf("GOMAXPROCS set by the operator: %d, want 1 kept", n)
	}
	minProcs(func(string) string { return "" })
	if n := runtime.GOMAXPROCS(0); n != minGOMAXPROCS {
		t.Errorf("GOMAXPROCS %d, want the floor %d", n, minGOMAXPROCS)
	}
}
