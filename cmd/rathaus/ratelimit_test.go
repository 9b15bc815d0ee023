package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/site"
	"opencode.de/rathaus/rathaus/internal/web"
)

// behind sends every request as a proxy would that forwards for client.
type behind struct{ client string }

func (b behind) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", b.client)
	return http.DefaultTransport.RoundTrip(r)
}

// TestClientRateLimit goes through the real router and middleware: the
// test stands in for a trusted proxy on loopback and forwards for two
// citizens. The 11th application in a minute from one of them is refused
// (problem+json for the API, the German page for the form), the other
// still gets through, and signed-in staff from the same address are not
// limited.
func TestClientRateLimit(t *testing.T) {
	s := start(t, modeDemo, []string{"--data", t.TempDir()}, map[string]string{
		"RATHAUS_CLIENT_RATE":     "submit=10/min",
		"RATHAUS_TRUSTED_PROXIES": "127.0.0.1",
	})
	var eligible []demoResident
	for _, r := range residents(t, s) {
		if r.Expect == "berechtigt" && len(r.Plates) > 0 {
			eligible = append(eligible, r)
		}
	}
	a := &http.Client{Transport: behind{"198.51.100.7"}}
	b := &http.Client{Transport: behind{"2001:db8:77:1::5"}}
	submit := func(c *http.Client, i int) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", s.base+"/api/v1/municipalities/110000000000/parking/applications", bytes.NewReader(applicationBody(eligible[i%len(eligible)])))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("ratelimit-%d", i))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	for i := range 10 {
		if res := submit(a, i); res.StatusCode != http.StatusCreated {
			body, _ := io.ReadAll(res.Body)
			t.Fatalf("application %d: %d %s", i+1, res.StatusCode, body)
		}
	}

	res := submit(a, 10)
	body, _ := io.ReadAll(res.Body)
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != http.StatusTooManyRequests || retry < 1 || retry > 6 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("11th application: %d, Retry-After %q, %s; want 429, 1–6 s, problem+json", res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Content-Type"))
	}
	if !bytes.Contains(body, []byte(`"title":"Zu viele Anfragen"`)) {
		t.Errorf("problem: %s", body)
	}

	form := url.Values{"action": {"absenden"}, "vornamen": {"Erika"}}
	res, err := a.PostForm(s.base+"/bewohnerparken/antrag", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(body, []byte("Zu viele Anfragen")) || !bytes.Contains(body, []byte("Bitte versuchen Sie es in")) {
		t.Errorf("the form from the limited client: %d %s, want 429 and the German page:\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	if res := submit(b, 11); res.StatusCode != http.StatusCreated {
		t.Errorf("another client's application: %d, want 201", res.StatusCode)
	}

	// Staff behind the same address: sign in at the development provider,
	// open the queue.
	m := regexp.MustCompile(`Benutzer sachbearbeitung +Passwort (\S+)`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatal("the demo prints no staff accounts")
	}
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Transport: behind{"198.51.100.7"}}
	res, err = staff.Get(s.base + "/sachbearbeitung")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	login := url.Values{"username": {"sachbearbeitung"}, "password": {m[1]}}
	for _, f := range regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`).FindAllStringSubmatch(string(page), -1) {
		login.Set(f[1], strings.ReplaceAll(f[2], "&amp;", "&"))
	}
	if res, err = staff.PostForm(s.base+"/dev-idp/authorize", login); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for range 3 {
		res, err = staff.Get(s.base + "/sachbearbeitung/bewohnerparken")
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/sachbearbeitung/bewohnerparken" {
			t.Fatalf("the queue for signed-in staff of the limited address: %d at %s", res.StatusCode, res.Request.URL)
		}
	}

	metrics := s.get(t, "/metrics").body
	for _, want := range []string{`rathaus_client_limited_total{class="submit"} 2`, `rathaus_client_limited_total{class="lookup"} 0`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, addr := range []string{"198.51.100.7", "2001:db8:77:1"} {
		if strings.Contains(s.stderr.String(), addr) || strings.Contains(s.stdout.String(), addr) {
			t.Errorf("the log shows the client address %s", addr)
		}
	}
}

// Every route limited per client is a route the server has: a renamed one
// would otherwise lose its limit without a word.
func TestClientLimitedRoutesExist(t *testing.T) {
	var rec recorder
	limited := web.NewClientRoutes(&rec, clientLimitedRoutes)
	routes(limited, nil, nil, web.NewMetrics(), surfaces{geo: &geo.Handler{}, site: &site.Handler{}, parking: &parking.Handler{}, demoRegs: &registers.Demo{}})
	if err := limited.Unregistered(); err != nil {
		t.Error(err)
	}
	for p, want := range map[string]web.ClientClass{
		"POST /bewohnerparken/antrag":                                   web.Submit,
		"GET /bewohnerparken/antrag":                                    web.Unlimited,
		"POST /api/v1/municipalities/110000000000/parking/applications": web.Submit,
		"POST /zonen": web.Lookup,
		"GET /api/v1/municipalities/110000000000/zone-lookup?address=x": web.Lookup,
		"GET /pruefen/abc": web.Lookup,
		"POST /bewohnerparken/status/BP-2026-7KQ4M2XD/unterlagen":     web.Upload,
		"GET /bewohnerparken/status/BP-2026-7KQ4M2XD":                 web.Unlimited,
		"GET /api/v1/enforcement/permits?plate=B-AB123":               web.Unlimited,
		"POST /sachbearbeitung/bewohnerparken/BP-2026-7KQ4M2XD/notiz": web.Unlimited,
		"GET /healthz": web.Unlimited,
	} {
		method, target, _ := strings.Cut(p, " ")
		req, _ := http.NewRequest(method, "http://rathaus.test"+target, nil)
		if got := limited.Class(req); got != want {
			t.Errorf("%s: class %v, want %v", p, got, want)
		}
	}
}

// An invalid limit or proxy list stops the start with the reason.
func TestServeRefusesInvalidClientLimits(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "rathaus.db")
	for env, want := range map[[2]string]string{
		{"RATHAUS_CLIENT_RATE", "submit=zehn/min"}: `RATHAUS_CLIENT_RATE "submit=zehn/min": submit: "zehn/min": die Anzahl muss eine ganze Zahl von 1 bis 1000000 sein`,
		{"RATHAUS_CLIENT_RATE", "lookup=10/min:0"}: `RATHAUS_CLIENT_RATE "lookup=10/min:0": lookup: "10/min:0": die Zahl nach dem Doppelpunkt (wie viele auf einmal) muss eine ganze Zahl von 1 bis 1000000 sein`,
		{"RATHAUS_CLIENT_RATE", "uploads=off"}:     `RATHAUS_CLIENT_RATE "uploads=off": unbekannte Klasse "uploads" (erlaubt sind submit, lookup, upload)`,
		{"RATHAUS_TRUSTED_PROXIES", "0.0.0.0/0"}:   `RATHAUS_TRUSTED_PROXIES: "0.0.0.0/0" vertraut jedem Absender: dann könnte jeder X-Forwarded-For fälschen`,
		{"RATHAUS_TRUSTED_PROXIES", "ingress"}:     `RATHAUS_TRUSTED_PROXIES: "ingress" ist kein Netz (CIDR wie 10.0.0.0/8) und keine IP-Adresse`,
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0"}, func(k string) string {
			return map[string]string{"RATHAUS_DATABASE_URL": db, env[0]: env[1]}[k]
		}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("serve with %s=%s: %v, want a refusal with\n%s", env[0], env[1], err, want)
		}
	}
}
