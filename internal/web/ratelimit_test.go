package web

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFakeClock() *fakeClock { return &fakeClock{time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)} }

// The bucket arithmetic: Burst at once, then one token per interval; a
// refusal says when the next one comes and takes none; classes and
// clients have buckets of their own.
func TestClientBucketArithmetic(t *testing.T) {
	clock := newFakeClock()
	var rates ClientRates
	rates[Submit] = Rate{N: 10, Per: time.Minute, Burst: 10}
	rates[Lookup] = Rate{N: 10, Per: time.Minute, Burst: 3}
	l := NewClientLimiter(ClientLimitOptions{Rates: rates, Now: clock.now})
	a, b := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.9")

	for i := range 10 {
		if ok, _ := l.Allow(Submit, a); !ok {
			t.Fatalf("submission %d of a full bucket refused", i+1)
		}
	}
	steps := []struct {
		advance   time.Duration
		class     ClientClass
		client    netip.Addr
		ok        bool
		retry     time.Duration
		situation string
	}{
		{0, Submit, a, false, 6 * time.Second, "11th at once"},
		{0, Submit, b, true, 0, "another client"},
		{0, Upload, a, true, 0, "an unlimited class"},
		{5 * time.Second, Submit, a, false, time.Second, "5 s later"},
		{999 * time.Millisecond, Submit, a, false, time.Millisecond, "1 ms before the token"},
		{time.Millisecond, Submit, a, true, 0, "6 s after the 10th"},
		{0, Submit, a, false, 6 * time.Second, "at once again"},
		{time.Hour, Submit, a, true, 0, "an hour later"},
		{0, Lookup, a, true, 0, "lookup 1 of a burst of 3"},
		{0, Lookup, a, true, 0, "lookup 2"},
		{0, Lookup, a, true, 0, "lookup 3"},
		{0, Lookup, a, false, 6 * time.Second, "lookup 4 beyond the burst"},
		{18 * time.Second, Lookup, a, true, 0, "18 s later: 3 tokens back"},
		{0, Lookup, a, true, 0, "the 2nd of them"},
		{0, Lookup, a, true, 0, "the 3rd"},
		{0, Lookup, a, false, 6 * time.Second, "not a 4th: the bucket holds 3"},
	}
	for _, s := range steps {
		clock.advance(s.advance)
		ok, retry := l.Allow(s.class, s.client)
		if ok != s.ok || retry != s.retry {
			t.Errorf("%s: got %v, retry %v; want %v, retry %v", s.situation, ok, retry, s.ok, s.retry)
		}
	}
}

// Buckets that have refilled are dropped as requests come; beyond
// MaxClients the least recently used bucket goes.
func TestClientLimiterForgets(t *testing.T) {
	clock := newFakeClock()
	var rates ClientRates
	rates[Submit] = Rate{N: 1, Per: time.Minute, Burst: 1}
	l := NewClientLimiter(ClientLimitOptions{Rates: rates, MaxClients: 3, Now: clock.now})
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
	for i := 1; i <= 4; i++ {
		l.Allow(Submit, ip(i))
	}
	if n := l.Len(); n != 3 {
		t.Errorf("%d buckets, want MaxClients 3", n)
	}
	if ok, _ := l.Allow(Submit, ip(4)); ok {
		t.Error("the most recent client was forgotten")
	}
	if ok, _ := l.Allow(Submit, ip(1)); !ok {
		t.Error("the least recent client is still limited; its bucket should have gone")
	}

	clock.advance(time.Minute) // every bucket is full again
	l.Allow(Submit, ip(9))
	l.Allow(Submit, ip(9))
	if n := l.Len(); n != 1 {
		t.Errorf("%d buckets after the others refilled, want 1", n)
	}
}

// However many clients come, the limiter holds at most MaxClients buckets,
// and they take little memory.
func TestClientLimiterMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million clients")
	}
	var rates ClientRates
	rates[Lookup] = Rate{N: 1, Per: time.Hour, Burst: 1} // nobody refills during the test
	l := NewClientLimiter(ClientLimitOptions{Rates: rates})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const clients = 1_000_000
	for i := range clients {
		l.Allow(Lookup, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := l.Len(); n != DefaultMaxClients {
		t.Errorf("%d buckets after %d clients, want %d", n, clients, DefaultMaxClients)
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d buckets: %.1f MB (%d bytes a bucket)", l.Len(), float64(grown)/1e6, grown/int64(l.Len()))
	if grown > 25<<20 {
		t.Errorf("the limiter holds %d MB after %d clients, want at most 25", grown>>20, clients)
	}
	runtime.KeepAlive(l)
}

// The client is the peer, unless the peer is a trusted proxy: then the
// rightmost address in X-Forwarded-For that is not itself a trusted proxy.
// IPv6 clients are grouped by /64.
func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, ::1")
	if err != nil {
		t.Fatal(err)
	}
	l := NewClientLimiter(ClientLimitOptions{TrustedProxies: trusted})
	tests := []struct {
		name   string
		peer   string
		xff    []string
		client string
	}{
		{"direct", "198.51.100.7:4711", nil, "198.51.100.7"},
		{"spoofed header from an untrusted peer", "198.51.100.7:4711", []string{"203.0.113.9"}, "198.51.100.7"},
		{"through a trusted proxy", "10.1.2.3:4711", []string{"203.0.113.9"}, "203.0.113.9"},
		{"through two trusted proxies", "10.1.2.3:4711", []string{"203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"header spoofed by the client, behind a trusted proxy", "10.1.2.3:4711", []string{"192.0.2.66, 203.0.113.9"}, "203.0.113.9"},
		{"several header lines", "10.1.2.3:4711", []string{"192.0.2.66", "203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"garbage before a trusted hop", "10.1.2.3:4711", []string{"unknown, 10.9.9.9"}, "10.9.9.9"},
		{"garbage", "10.1.2.3:4711", []string{"<script>"}, "10.1.2.3"},
		{"only trusted hops", "10.1.2.3:4711", []string{"10.7.7.7"}, "10.7.7.7"},
		{"with a port", "10.1.2.3:4711", []string{"203.0.113.9:5555"}, "203.0.113.9"},
		{"IPv6 proxy", "[::1]:4711", []string{"2001:db8:1:2:aaaa::1"}, "2001:db8:1:2::"},
		{"IPv6 grouped by /64", "[2001:db8:1:2:bbbb:cccc:dddd:eeee]:4711", nil, "2001:db8:1:2::"},
		{"another /64", "[2001:db8:1:3::1]:4711", nil, "2001:db8:1:3::"},
		{"IPv4-mapped IPv6", "[::ffff:198.51.100.7]:4711", nil, "198.51.100.7"},
		{"IPv4-mapped trusted proxy", "[::ffff:10.1.2.3]:4711", []string{"203.0.113.9"}, "203.0.113.9"},
		{"zone", "[fe80::1%eth0]:4711", nil, "fe80::"},
		{"not an IP address", "@", []string{"203.0.113.9"}, "invalid IP"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := l.Client(r).String(); got != tt.client {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.client)
		}
	}
	// Without trusted proxies, the header is never read.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:4711"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := NewClientLimiter(ClientLimitOptions{}).Client(r).String(); got != "10.1.2.3" {
		t.Errorf("no trusted proxies: got %s, want the peer", got)
	}
}

func TestParseClientRates(t *testing.T) {
	def := func(edit func(*ClientRates)) ClientRates {
		rs := ClientRates{Submit: {10, time.Minute, 10}, Lookup: {120, time.Minute, 120}, Upload: {10, time.Minute, 10}}
		edit(&rs)
		return rs
	}
	valid := []struct {
		in   string
		want ClientRates
	}{
		{DefaultClientRate, def(func(*ClientRates) {})},
		{"off", ClientRates{}},
		{" OFF ", ClientRates{}},
		{"0", ClientRates{}},
		{"submit=5/min", def(func(rs *ClientRates) { rs[Submit] = Rate{5, time.Minute, 5} })},
		{"lookup=300/min:50, upload=off", def(func(rs *ClientRates) { rs[Lookup] = Rate{300, time.Minute, 50}; rs[Upload] = Rate{} })},
		{"submit=2/s,lookup=0,upload=100/h", def(func(rs *ClientRates) {
			rs[Submit] = Rate{2, time.Second, 2}
			rs[Lookup] = Rate{}
			rs[Upload] = Rate{100, time.Hour, 100}
		})},
		{"submit=3/30s:1", def(func(rs *ClientRates) { rs[Submit] = Rate{3, 30 * time.Second, 1} })},
		{"submit=3/m", def(func(rs *ClientRates) { rs[Submit] = Rate{3, time.Minute, 3} })},
	}
	for _, tt := range valid {
		got, err := ParseClientRates(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseClientRates(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	invalid := []struct{ in, want string }{
		{"", "leer; erwartet off oder Grenzen wie submit=10/min,lookup=120/min,upload=10/min"},
		{"submit", `"submit": erwartet KLASSE=ANZAHL/ZEITRAUM, z. B. submit=10/min`},
		{"sumbit=10/min", `unbekannte Klasse "sumbit" (erlaubt sind submit, lookup, upload)`},
		{"submit=10/min,submit=5/min", "submit ist zweimal angegeben"},
		{"submit=10", `submit: "10": erwartet ANZAHL/ZEITRAUM wie 10/min, optional :GLEICHZEITIG wie 10/min:3, oder off`},
		{"submit=zehn/min", `submit: "zehn/min": die Anzahl muss eine ganze Zahl von 1 bis 1000000 sein`},
		{"submit=-1/min", `submit: "-1/min": die Anzahl muss eine ganze Zahl von 1 bis 1000000 sein`},
		{"submit=2000000/s", `submit: "2000000/s": die Anzahl muss eine ganze Zahl von 1 bis 1000000 sein`},
		{"submit=10/day", `submit: "10/day": der Zeitraum muss s, min, h oder eine Dauer von 1s bis 24h sein (z. B. 30s)`},
		{"submit=10/10ms", `submit: "10/10ms": der Zeitraum muss s, min, h oder eine Dauer von 1s bis 24h sein (z. B. 30s)`},
		{"submit=10/min:0", `submit: "10/min:0": die Zahl nach dem Doppelpunkt (wie viele auf einmal) muss eine ganze Zahl von 1 bis 1000000 sein`},
		{"lookup=10/min,", `"": erwartet KLASSE=ANZAHL/ZEITRAUM, z. B. submit=10/min`},
	}
	for _, tt := range invalid {
		_, err := ParseClientRates(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseClientRates(%q): got error %v, want %q", tt.in, err, tt.want)
		}
	}
	// What String prints, ParseClientRates reads back.
	for _, r := range []Rate{{10, time.Minute, 10}, {300, time.Minute, 50}, {3, 30 * time.Second, 1}, {100, time.Hour, 100}, {}} {
		got, err := parseRate(r.String())
		if err != nil || got != r {
			t.Errorf("parseRate(%q) = %v, %v; want %v", r.String(), got, err, r)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1,10.1.2.3/16,")
	want := "[10.0.0.0/8 192.0.2.7/32 fd00::/8 ::1/128 10.1.0.0/16]"
	if err != nil || fmt.Sprint(got) != want {
		t.Errorf("got %v, %v; want %s", got, err, want)
	}
	if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Errorf("empty: got %v, %v; want none", got, err)
	}
	for in, want := range map[string]string{
		"10.0.0.0/33":     `"10.0.0.0/33" ist kein Netz (CIDR wie 10.0.0.0/8) und keine IP-Adresse`,
		"proxy.intern":    `"proxy.intern" ist kein Netz (CIDR wie 10.0.0.0/8) und keine IP-Adresse`,
		"fe80::1%eth0":    `"fe80::1%eth0" ist kein Netz (CIDR wie 10.0.0.0/8) und keine IP-Adresse`,
		"0.0.0.0/0":       `"0.0.0.0/0" vertraut jedem Absender: dann könnte jeder X-Forwarded-For fälschen`,
		"::/0":            `"::/0" vertraut jedem Absender: dann könnte jeder X-Forwarded-For fälschen`,
		"::ffff:10.0.0.1": `"::ffff:10.0.0.1": IPv4-Netze bitte in IPv4-Schreibweise angeben`,
	} {
		if _, err := ParseTrustedProxies(in); err == nil || err.Error() != want {
			t.Errorf("ParseTrustedProxies(%q): got error %v, want %q", in, err, want)
		}
	}
}

// The routes as a server registers them; ClientRoutes must classify
// requests exactly as the Router routes them.
func TestClientRoutes(t *testing.T) {
	rt := NewRouter(nil)
	cr := NewClientRoutes(rt, map[string]ClientClass{
		"POST /antrag":          Submit,
		"GET /pruefen/{token}":  Lookup,
		"GET /fall/{reference}": Lookup,
		"POST /umbenannt":       Upload,
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	for _, p := range []string{"POST /antrag", "GET /antrag", "GET /pruefen/{token}", "GET /fall/{reference}", "GET /fall/bericht"} {
		cr.Handle(p, ok)
	}
	for _, tt := range []struct {
		method, path string
		want         ClientClass
	}{
		{"POST", "/antrag", Submit},
		{"GET", "/antrag", Unlimited},
		{"HEAD", "/pruefen/abc", Lookup},
		{"GET", "/fall/BP-1", Lookup},
		{"GET", "/fall/bericht", Unlimited}, // the more specific route wins, as in the Router
		{"DELETE", "/antrag", Unlimited},
		{"POST", "/nirgends", Unlimited},
		{"POST", "//antrag", Unlimited}, // a redirect to the clean path
	} {
		if got := cr.Class(httptest.NewRequest(tt.method, tt.path, nil)); got != tt.want {
			t.Errorf("%s %s: got %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
	if err := cr.Unregistered(); err == nil || err.Error() != "limited per client but not a route: POST /umbenannt" {
		t.Errorf("Unregistered() = %v, want it to name POST /umbenannt", err)
	}
	// The routes reached the router.
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, httptest.NewRequest("GET", "/fall/bericht", nil))
	if w.Code != 200 {
		t.Errorf("GET /fall/bericht through the router: %d", w.Code)
	}
}

// Over HTTP: the 11th submission gets 429 with the seconds until the next
// token in Retry-After, as the German error page for a browser and as
// problem+json for the API; other clients and other routes still pass;
// refusals are counted; the client's address is logged nowhere.
func TestClientLimitOverHTTP(t *testing.T) {
	clock := newFakeClock()
	onErr := Errors(sharedPages(t), nil)
	rates, err := ParseClientRates("submit=10/min,lookup=off")
	if err != nil {
		t.Fatal(err)
	}
	proxies, _ := ParseTrustedProxies("10.0.0.0/8")
	l := NewClientLimiter(ClientLimitOptions{Rates: rates, TrustedProxies: proxies, Now: clock.now})
	m := NewMetrics()
	if err := m.Register(l); err != nil {
		t.Fatal(err)
	}
	rt := NewRouter(onErr)
	cr := NewClientRoutes(rt, map[string]ClientClass{
		"POST /antrag":             Submit,
		"POST /api/antraege":       Submit,
		"POST /unterlagen":         Upload,
		"GET /api/adressabfrage":   Lookup,
		"GET /sachbearbeitung/":    Unlimited,
		"GET /api/sachbearbeitung": Unlimited,
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	for _, p := range []string{"POST /antrag", "POST /api/antraege", "POST /unterlagen", "GET /api/adressabfrage", "GET /sachbearbeitung/", "GET /api/sachbearbeitung"} {
		cr.Handle(p, ok)
	}
	cr.Handle("GET /metrics", m.Handler())
	logs := new(bytes.Buffer)
	h := Chain(RequestID, AccessLog(slog.New(slog.NewJSONHandler(logs, nil))), Recover(onErr), l.Middleware(cr.Class, onErr))(rt)

	do := func(method, path, client string) *http.Response {
		r := httptest.NewRequest(method, path, nil)
		r.RemoteAddr = "10.0.0.2:4711" // the ingress
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	const a, b = "198.51.100.7", "203.0.113.9"
	for i := range 10 {
		path := "/antrag"
		if i%2 == 1 {
			path = "/api/antraege"
		}
		if res := do("POST", path, a); res.StatusCode != http.StatusCreated {
			t.Fatalf("submission %d: %d", i+1, res.StatusCode)
		}
	}
	clock.advance(1500 * time.Millisecond)

	page := do("POST", "/antrag", a)
	body, _ := io.ReadAll(page.Body)
	if page.StatusCode != http.StatusTooManyRequests || page.Header.Get("Retry-After") != "5" {
		t.Errorf("11th submission (page): %d, Retry-After %q; want 429, 5", page.StatusCode, page.Header.Get("Retry-After"))
	}
	for _, want := range []string{"text/html", "Zu viele Anfragen", "Bitte versuchen Sie es in 5 Sekunden noch einmal.", "Ihre Eingaben sind nicht verloren"} {
		if !strings.Contains(page.Header.Get("Content-Type")+string(body), want) {
			t.Errorf("the German page lacks %q:\n%s", want, body)
		}
	}

	api := do("POST", "/api/antraege", a)
	body, _ = io.ReadAll(api.Body)
	if api.StatusCode != http.StatusTooManyRequests || api.Header.Get("Retry-After") != "5" || api.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("11th submission (API): %d, Retry-After %q, %s; want 429, 5, problem+json", api.StatusCode, api.Header.Get("Retry-After"), api.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(body), `"status":429`) || !strings.Contains(string(body), "in 5 Sekunden") {
		t.Errorf("problem: %s", body)
	}

	for _, tt := range []struct{ method, path, client, why string }{
		{"POST", "/antrag", b, "another client"},
		{"POST", "/unterlagen", a, "another class"},
		{"GET", "/api/adressabfrage", a, "a class that is off"},
		{"GET", "/sachbearbeitung/", a, "the workbench"},
		{"GET", "/api/sachbearbeitung", a, "an unlimited API route"},
	} {
		if res := do(tt.method, tt.path, tt.client); res.StatusCode != http.StatusCreated {
			t.Errorf("%s (%s %s): %d, want it to pass", tt.why, tt.method, tt.path, res.StatusCode)
		}
	}
	clock.advance(5 * time.Second)
	if res := do("POST", "/antrag", a); res.StatusCode != http.StatusCreated {
		t.Errorf("after Retry-After: %d, want the submission to pass", res.StatusCode)
	}

	res := do("GET", "/metrics", a)
	metrics, _ := io.ReadAll(res.Body)
	for _, want := range []string{`rathaus_client_limited_total{class="submit"} 2`, `rathaus_client_limited_total{class="lookup"} 0`,
		`rathaus_client_limited_total{class="upload"} 0`, "rathaus_client_limiter_buckets 3"} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(logs.String(), "198.51.100") || strings.Contains(logs.String(), "203.0.113") {
		t.Errorf("a client's address is in the log:\n%s", logs)
	}
}

type plainHandler struct{}

func (plainHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// With every class off the middleware is not there at all.
func TestClientLimitOff(t *testing.T) {
	h := NewClientLimiter(ClientLimitOptions{}).Middleware(func(*http.Request) ClientClass { return Submit }, nil)(plainHandler{})
	if _, ok := h.(plainHandler); !ok {
		t.Errorf("the middleware wraps the handler (%T) although every limit is off", h)
	}
}

func TestInGerman(t *testing.T) {
	for s, want := range map[int64]string{1: "in einer Sekunde", 6: "in 6 Sekunden", 119: "in 119 Sekunden", 120: "in 2 Minuten",
		121: "in 3 Minuten", 3600: "in 60 Minuten", 7200: "in 2 Stunden", 86400: "in 24 Stunden"} {
		if got := inGerman(s); got != want {
			t.Errorf("inGerman(%d) = %q, want %q", s, got, want)
		}
	}
}

// Clients on loopback are not limited; a client cannot escape its limit by
// sending X-Forwarded-For itself, and the first such header from a peer
// that is not a trusted proxy is logged once, without an address.
func TestClientLimitLoopbackAndUntrustedHeader(t *testing.T) {
	rates, _ := ParseClientRates("submit=1/min")
	l := NewClientLimiter(ClientLimitOptions{Rates: rates})
	logs := new(bytes.Buffer)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	h := Chain(RequestID, AccessLog(slog.New(slog.NewJSONHandler(logs, nil))),
		l.Middleware(func(*http.Request) ClientClass { return Submit }, nil))(ok)
	do := func(peer, xff string) int {
		r := httptest.NewRequest("POST", "/antrag", nil)
		r.RemoteAddr = peer
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for range 5 {
		for _, peer := range []string{"127.0.0.1:4711", "127.3.4.5:4711", "[::1]:4711"} {
			if code := do(peer, ""); code != http.StatusCreated {
				t.Fatalf("loopback client %s: %d", peer, code)
			}
		}
	}
	if n := l.Len(); n != 0 {
		t.Errorf("%d buckets for loopback clients, want none", n)
	}
	for i, want := range []int{http.StatusCreated, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		if code := do("198.51.100.7:4711", fmt.Sprintf("203.0.113.%d", i)); code != want {
			t.Errorf("request %d with its own X-Forwarded-For: %d, want %d", i+1, code, want)
		}
	}
	if n := strings.Count(logs.String(), "X-Forwarded-For from a peer that is not a trusted proxy is ignored"); n != 1 {
		t.Errorf("the warning about X-Forwarded-For was logged %d times, want once:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "198.51.100.7") || strings.Contains(logs.String(), "203.0.113") {
		t.Errorf("a client's address is in the log:\n%s", logs)
	}
}
