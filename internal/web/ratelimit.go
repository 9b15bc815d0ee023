package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Per-client limits on expensive requests (issue #6). Admission control
// (Admission) protects the server from everybody at once; these limits
// keep one client from taking more than its share of the requests that
// cost the most — applications, address lookups, permit verifications,
// document uploads — so that a script hammering the form does not use up
// what the citizens behind it need.
//
// A client is its IP address, IPv6 grouped by /64 (one household or host
// gets a /64, and rotating addresses within it is free). Clients on
// loopback are not limited: they are the machine itself — tools, load
// tests, benchmarks, or a local proxy not (yet) in the trusted list, behind
// which every citizen would otherwise share one limit. The address is
// personal data (CJEU C-582/14, Breyer): it is held in memory only, for as
// long as the client's bucket is not yet full again, in at most
// MaxClients buckets, and never logged, persisted or shown.

// ClientClass is a kind of expensive request, limited per client.
type ClientClass uint8

const (
	Unlimited ClientClass = iota // not limited per client
	Submit                       // a citizen submits an application
	Lookup                       // an unauthenticated lookup (address → zone, permit verification)
	Upload                       // a citizen uploads documents
	numClientClasses
)

var clientClassNames = [numClientClasses]string{Unlimited: "unlimited", Submit: "submit", Lookup: "lookup", Upload: "upload"}

func (c ClientClass) String() string {
	if c < numClientClasses {
		return clientClassNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Rate is a token bucket: Burst tokens at most, refilled at N per Per. The
// zero Rate is no limit.
type Rate struct {
	N     int
	Per   time.Duration
	Burst int
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.N == 0 }

// interval is the time one token takes to come back.
func (r Rate) interval() time.Duration { return r.Per / time.Duration(r.N) }

// String gives r in the syntax ParseClientRates reads.
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	var per string
	switch r.Per {
	case time.Second:
		per = "s"
	case time.Minute:
		per = "min"
	case time.Hour:
		per = "h"
	default:
		per = r.Per.String()
	}
	s := strconv.Itoa(r.N) + "/" + per
	if r.Burst != r.N {
		s += ":" + strconv.Itoa(r.Burst)
	}
	return s
}

// ClientRates are the limits of the classes, indexed by ClientClass.
type ClientRates [numClientClasses]Rate

// Off reports whether no class is limited.
func (rs ClientRates) Off() bool {
	for _, r := range rs {
		if !r.Off() {
			return false
		}
	}
	return true
}

// DefaultClientRate is the limit of serve when RATHAUS_CLIENT_RATE is not
// set: ten applications or uploads and 120 lookups a minute per client —
// far more than a person at a browser sends, far less than a script.
const DefaultClientRate = "submit=10/min,lookup=120/min,upload=10/min"

// Limits on the syntax, so that no value makes the arithmetic overflow or
// a token come back in less than a microsecond.
const (
	maxRateCount = 1_000_000
	maxRatePer   = 24 * time.Hour
)

// ParseClientRates reads a per-client limit (RATHAUS_CLIENT_RATE): "off"
// (or "0") for none, or a comma-separated list of CLASS=N/PER[:BURST], CLASS
// one of submit, lookup, upload; PER s, min, h or a duration such as 30s;
// BURST how many at once (default N). A class may be "off" on its own;
// classes not named keep their limit of DefaultClientRate. Example:
// "submit=10/min,lookup=300/min:50".
func ParseClientRates(s string) (ClientRates, error) {
	rs, err := parseRateList(DefaultClientRate, ClientRates{})
	if err != nil {
		panic(err) // DefaultClientRate is a constant; a test reads it
	}
	return parseRateList(s, rs)
}

func parseRateList(s string, rs ClientRates) (ClientRates, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return rs, fmt.Errorf("leer; erwartet off oder Grenzen wie %s", DefaultClientRate)
	}
	if strings.EqualFold(s, "off") || s == "0" {
		return ClientRates{}, nil
	}
	var seen [numClientClasses]bool
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		name, spec, ok := strings.Cut(item, "=")
		if !ok {
			return rs, fmt.Errorf("%q: erwartet KLASSE=ANZAHL/ZEITRAUM, z. B. submit=10/min", item)
		}
		name = strings.TrimSpace(name)
		c := Unlimited
		for i := Submit; i < numClientClasses; i++ {
			if clientClassNames[i] == name {
				c = i
			}
		}
		if c == Unlimited {
			return rs, fmt.Errorf("unbekannte Klasse %q (erlaubt sind submit, lookup, upload)", name)
		}
		if seen[c] {
			return rs, fmt.Errorf("%s ist zweimal angegeben", name)
		}
		seen[c] = true
		r, err := parseRate(spec)
		if err != nil {
			return rs, fmt.Errorf("%s: %w", name, err)
		}
		rs[c] = r
	}
	return rs, nil
}

func parseRate(spec string) (Rate, error) {
	spec = strings.TrimSpace(spec)
	if strings.EqualFold(spec, "off") || spec == "0" {
		return Rate{}, nil
	}
	main, burst, hasBurst := strings.Cut(spec, ":")
	count, per, ok := strings.Cut(main, "/")
	if !ok {
		return Rate{}, fmt.Errorf("%q: erwartet ANZAHL/ZEITRAUM wie 10/min, optional :GLEICHZEITIG wie 10/min:3, oder off", spec)
	}
	var r Rate
	var err error
	if r.N, err = strconv.Atoi(count); err != nil || r.N < 1 || r.N > maxRateCount {
		return Rate{}, fmt.Errorf("%q: die Anzahl muss eine ganze Zahl von 1 bis %d sein", spec, maxRateCount)
	}
	switch per {
	case "s", "sec":
		r.Per = time.Second
	case "m", "min":
		r.Per = time.Minute
	case "h":
		r.Per = time.Hour
	default:
		d, err := time.ParseDuration(per)
		if err != nil || d < time.Second || d > maxRatePer {
			return Rate{}, fmt.Errorf("%q: der Zeitraum muss s, min, h oder eine Dauer von 1s bis 24h sein (z. B. 30s)", spec)
		}
		r.Per = d
	}
	r.Burst = r.N
	if hasBurst {
		if r.Burst, err = strconv.Atoi(burst); err != nil || r.Burst < 1 || r.Burst > maxRateCount {
			return Rate{}, fmt.Errorf("%q: die Zahl nach dem Doppelpunkt (wie viele auf einmal) muss eine ganze Zahl von 1 bis %d sein", spec, maxRateCount)
		}
	}
	return r, nil
}

// ParseTrustedProxies reads RATHAUS_TRUSTED_PROXIES: comma-separated
// networks (CIDR, such as 10.0.0.0/8 or fd00::/8) or single addresses of the
// proxies in front of Rathaus. Empty: none.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(item, "/") {
			p, err = netip.ParsePrefix(item)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(item); err == nil && a.Zone() != "" {
				err = errors.New("zone")
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		switch {
		case err != nil:
			return nil, fmt.Errorf("%q ist kein Netz (CIDR wie 10.0.0.0/8) und keine IP-Adresse", item)
		case p.Addr().Is4In6():
			return nil, fmt.Errorf("%q: IPv4-Netze bitte in IPv4-Schreibweise angeben", item)
		case p.Bits() == 0:
			return nil, fmt.Errorf("%q vertraut jedem Absender: dann könnte jeder X-Forwarded-For fälschen", item)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// DefaultMaxClients bounds the buckets a ClientLimiter keeps. At about
// 190 bytes a bucket (map entry included; measured), that is at most about
// 20 MB.
const DefaultMaxClients = 100_000

// ClientLimitOptions configure a ClientLimiter.
type ClientLimitOptions struct {
	Rates ClientRates
	// TrustedProxies are the peers whose X-Forwarded-For is believed. From
	// any other peer the header is ignored: anyone can send it.
	TrustedProxies []netip.Prefix
	// MaxClients bounds the buckets kept (DefaultMaxClients if 0).
	MaxClients int
	// Now is the clock (time.Now if nil); tests inject one.
	Now func() time.Time
}

// ClientLimiter limits each client to its ClientRates: one token bucket
// per client and class. A bucket is kept as the time at which it is full
// again (GCRA, the token bucket written as a single time): a request at t
// is admitted if that time is at most (Burst-1)·interval after t, and moves
// it one interval further; else the client may come back when it is.
//
// Memory is bounded: a bucket that has refilled is the same as none and is
// dropped (buckets are kept in order of last use, and each request drops up
// to two full ones from the least recent end), and beyond MaxClients the
// least recently used bucket goes, full or not. A client with more
// addresses than that can get round the limit — but then it has that many
// addresses anyway; admission control still bounds the server's load.
//
// ClientLimiter is a prometheus.Collector of rathaus_client_limited_total
// {class} (requests refused) and rathaus_client_limiter_buckets.
type ClientLimiter struct {
	rates   ClientRates
	trusted []netip.Prefix
	max     int
	now     func() time.Time
	epoch   time.Time

	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	lru     bucket // sentinel of a ring: lru.next is the most recently used bucket, lru.prev the least

	limited                  [numClientClasses]atomic.Int64
	warned                   atomic.Bool // about X-Forwarded-For from an untrusted peer
	descLimited, descBuckets *prometheus.Desc
}

type bucketKey struct {
	client netip.Addr
	class  ClientClass
}

type bucket struct {
	key        bucketKey
	full       time.Duration // since the limiter's epoch: from then on the bucket is full
	prev, next *bucket
}

// NewClientLimiter returns a limiter with the options o.
func NewClientLimiter(o ClientLimitOptions) *ClientLimiter {
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxClients
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &ClientLimiter{
		rates: o.Rates, trusted: o.TrustedProxies, max: o.MaxClients, now: o.Now, epoch: o.Now(),
		buckets: map[bucketKey]*bucket{},
		descLimited: prometheus.NewDesc("rathaus_client_limited_total",
			"Requests answered 429 because their client had used up its limit for the class (RATHAUS_CLIENT_RATE).", []string{"class"}, nil),
		descBuckets: prometheus.NewDesc("rathaus_client_limiter_buckets",
			"Clients whose per-client limit bucket is not full (held in memory only).", nil, nil),
	}
	l.lru.next, l.lru.prev = &l.lru, &l.lru
	return l
}

// Allow takes a token of class from client's bucket. If there is none, it
// says how long until there is.
func (l *ClientLimiter) Allow(class ClientClass, client netip.Addr) (ok bool, retryAfter time.Duration) {
	if class >= numClientClasses || l.rates[class].Off() {
		return true, 0
	}
	rate := l.rates[class]
	interval := rate.interval()
	tolerance := interval * time.Duration(rate.Burst-1)
	now := l.now().Sub(l.epoch)
	k := bucketKey{client, class}

	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[k]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.drop(l.lru.prev)
		}
		b = &bucket{key: k, full: now}
		l.buckets[k] = b
	} else {
		b.prev.next, b.next.prev = b.next, b.prev
	}
	b.prev, b.next = &l.lru, l.lru.next
	l.lru.next.prev = b
	l.lru.next = b

	full := max(b.full, now)
	if full-now > tolerance {
		ok, retryAfter = false, full-tolerance-now
	} else {
		ok, b.full = true, full+interval
	}
	// b now ends after now, so it is not among those dropped.
	for range 2 {
		idle := l.lru.prev
		if idle == &l.lru || idle.full > now {
			break
		}
		l.drop(idle)
	}
	return ok, retryAfter
}

func (l *ClientLimiter) drop(b *bucket) {
	b.prev.next, b.next.prev = b.next, b.prev
	delete(l.buckets, b.key)
}

// Len is the number of buckets held.
func (l *ClientLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// Describe implements prometheus.Collector.
func (l *ClientLimiter) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.descLimited
	ch <- l.descBuckets
}

// Collect implements prometheus.Collector.
func (l *ClientLimiter) Collect(ch chan<- prometheus.Metric) {
	for c := Submit; c < numClientClasses; c++ {
		ch <- prometheus.MustNewConstMetric(l.descLimited, prometheus.CounterValue, float64(l.limited[c].Load()), c.String())
	}
	ch <- prometheus.MustNewConstMetric(l.descBuckets, prometheus.GaugeValue, float64(l.Len()))
}

// Client returns the client a request is counted against: the peer's
// address or, when the peer is a trusted proxy, the address its
// X-Forwarded-For names — read from the right, past every trusted proxy,
// so that a client cannot choose its address by sending the header itself.
// IPv4-mapped IPv6 addresses count as IPv4; IPv6 addresses are grouped by
// /64. A peer that is not an IP address (the zero Addr) is one client.
func (l *ClientLimiter) Client(r *http.Request) netip.Addr {
	client, _ := l.client(r)
	return client
}

// client is Client, and whether r carried an X-Forwarded-For that was
// ignored because the peer is not a trusted proxy.
func (l *ClientLimiter) client(r *http.Request) (client netip.Addr, ignored bool) {
	peer := parseHop(r.RemoteAddr)
	xff := r.Header.Values("X-Forwarded-For")
	if !l.isTrusted(peer) {
		return group(peer), len(xff) > 0
	}
	client = peer
hops:
	for i := len(xff) - 1; i >= 0; i-- {
		list := strings.Split(xff[i], ",")
		for j := len(list) - 1; j >= 0; j-- {
			a := parseHop(strings.TrimSpace(list[j]))
			if !a.IsValid() {
				break hops // garbage: the last address a trusted proxy vouched for stands
			}
			client = a
			if !l.isTrusted(a) {
				break hops
			}
		}
	}
	return group(client), false
}

// group returns the address a client is counted under: IPv6 addresses
// (other than loopback) by their /64.
func group(a netip.Addr) netip.Addr {
	if a.Is6() && !a.IsLoopback() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// parseHop reads an address as RemoteAddr or a proxy header gives it:
// with or without a port, IPv4-mapped IPv6 as IPv4, without a zone. It
// returns the zero Addr for anything else.
func parseHop(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func (l *ClientLimiter) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Middleware limits the requests that classify puts in a class to the
// class's rate per client (Client); clients on loopback pass. A request
// over the limit is answered by
// onError with 429 Too Many Requests (errs.TooMany: problem+json for the
// API, the German error page for browsers) and a Retry-After of the seconds
// until the client's next token, and counted in
// rathaus_client_limited_total. Neither the address nor anything derived
// from it is logged. With every class off, Middleware returns the handler
// unchanged. The first X-Forwarded-For from a peer that is not a trusted
// proxy is logged as a warning (without an address): it is the sign of a
// proxy missing from RATHAUS_TRUSTED_PROXIES.
//
// Place it before Admission: a client over its limit is refused at once,
// without waiting for a slot.
func (l *ClientLimiter) Middleware(classify func(*http.Request) ClientClass, onError ErrorWriter) Middleware {
	if onError == nil {
		onError = WriteProblem
	}
	return func(next http.Handler) http.Handler {
		if l.rates.Off() {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := classify(r)
			if c == Unlimited {
				next.ServeHTTP(w, r)
				return
			}
			client, ignored := l.client(r)
			if ignored && l.warned.CompareAndSwap(false, true) {
				loggerFrom(r.Context()).LogAttrs(r.Context(), slog.LevelWarn, "X-Forwarded-For from a peer that is not a trusted proxy is ignored: "+
					"if a proxy is in front of Rathaus, list it in RATHAUS_TRUSTED_PROXIES, or all its clients share one per-client limit (none on loopback)",
					slog.String("request_id", RequestIDFrom(r.Context())))
			}
			if client.IsLoopback() {
				next.ServeHTTP(w, r)
				return
			}
			ok, wait := l.Allow(c, client)
			if ok {
				next.ServeHTTP(w, r)
				return
			}
			l.limited[c].Add(1)
			seconds := max(1, int64((wait+time.Second-1)/time.Second))
			onError(&retryAfterWriter{w, strconv.FormatInt(seconds, 10)}, r, errs.E(errs.TooMany, "%s", refusal(c, seconds)))
		})
	}
}

// refusal is what a limited client reads.
func refusal(c ClientClass, seconds int64) string {
	msg := "Von Ihrem Internetanschluss kamen in kurzer Zeit sehr viele Anfragen dieser Art. Bitte versuchen Sie es " + inGerman(seconds) + " noch einmal."
	if c == Submit || c == Upload {
		msg += " Ihre Eingaben sind nicht verloren, wenn Sie die Seite dann erneut absenden."
	}
	return msg
}

// inGerman says "in 5 Sekunden", "in einer Minute" and so on, rounding up.
func inGerman(seconds int64) string {
	unit := func(n int64, one, many string) string {
		if n == 1 {
			return "in " + one
		}
		return fmt.Sprintf("in %d %s", n, many)
	}
	switch {
	case seconds < 120:
		return unit(seconds, "einer Sekunde", "Sekunden")
	case seconds < 120*60:
		return unit((seconds+59)/60, "einer Minute", "Minuten")
	}
	return unit((seconds+3599)/3600, "einer Stunde", "Stunden")
}

// retryAfterWriter sets Retry-After when the error answer's 429 status is
// written: the error writers set a fixed one second for 429 (right for the
// short per-key limits), a bucket knows when its next token comes.
type retryAfterWriter struct {
	http.ResponseWriter
	seconds string
}

func (w *retryAfterWriter) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", w.seconds)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ClientRoutes classifies requests by the route the Router will choose for
// them. It stands in for the Router while the routes are registered
// (Handle passes each on) and keeps a ServeMux of the same patterns, so a
// request is matched exactly as the Router matches it — before routing,
// where the limit belongs.
type ClientRoutes struct {
	next    Mux
	mux     *http.ServeMux
	classes map[string]ClientClass
	seen    map[string]bool
}

// NewClientRoutes returns a ClientRoutes that registers routes on next and
// puts the patterns in classes (written exactly as registered, such as
// "POST /zonen") in their class; every other route is Unlimited.
func NewClientRoutes(next Mux, classes map[string]ClientClass) *ClientRoutes {
	return &ClientRoutes{next: next, mux: http.NewServeMux(), classes: classes, seen: map[string]bool{}}
}

// Mux is where routes are registered: a Router, or a ClientRoutes in
// front of one.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// classHandler marks a pattern's class in ClientRoutes' ServeMux.
type classHandler ClientClass

func (classHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Handle registers h for pattern on the router and notes the pattern's class.
func (cr *ClientRoutes) Handle(pattern string, h http.Handler) {
	cr.next.Handle(pattern, h)
	cr.mux.Handle(pattern, classHandler(cr.classes[pattern]))
	cr.seen[pattern] = true
}

// Class is the class of the route r goes to (Unlimited for unknown paths,
// wrong methods and redirects).
func (cr *ClientRoutes) Class(r *http.Request) ClientClass {
	if h, _ := cr.mux.Handler(r); h != nil {
		if c, ok := h.(classHandler); ok {
			return ClientClass(c)
		}
	}
	return Unlimited
}

// Unregistered is an error naming the classified patterns no route was
// registered for (a renamed route would otherwise lose its limit
// silently), or nil.
func (cr *ClientRoutes) Unregistered() error {
	var missing []string
	for p := range cr.classes {
		if !cr.seen[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return errors.New("limited per client but not a route: " + strings.Join(missing, ", "))
	}
	return nil
}
