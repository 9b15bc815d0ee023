package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The request kinds of the open model (-mix) and how each request is made.

// Request kinds of the mix.
const (
	kindSubmit    = "submit"     // POST …/parking/applications (JSON API), a new Idempotency-Key each
	kindStatus    = "status"     // the citizen's status page (HTML) of a receipt of this run
	kindStatusAPI = "status-api" // GET /api/v1/parking/applications/{ref} with X-Access-Code
	kindZone      = "zone"       // zone lookup by a real Berlin address
	kindPoint     = "point"      // zone lookup by lat/lon of a real address point
	kindEnforce   = "enforce"    // enforcement lookup of a demo plate with an API key
)

var mixKinds = []string{kindSubmit, kindStatus, kindStatusAPI, kindZone, kindPoint, kindEnforce}

// mixEntry is one kind of the mix with its weight.
type mixEntry struct {
	Kind   string  `json:"kind"`
	Weight float64 `json:"weight"`
}

// parseMix reads "submit=1,status=4,zone=4": kinds with relative weights.
func parseMix(s string) ([]mixEntry, error) {
	var out []mixEntry
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, w, ok := strings.Cut(part, "=")
		if !ok {
			w = "1"
		}
		k = strings.TrimSpace(k)
		if !slices.Contains(mixKinds, k) {
			return nil, fmt.Errorf("-mix: unknown kind %q (kinds: %s)", k, strings.Join(mixKinds, ", "))
		}
		if seen[k] {
			return nil, fmt.Errorf("-mix: %s given twice", k)
		}
		seen[k] = true
		f, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if err != nil || f < 0 || f > 1e6 {
			return nil, fmt.Errorf("-mix: weight of %s %q: want a number from 0 to 1000000", k, w)
		}
		if f > 0 {
			out = append(out, mixEntry{Kind: k, Weight: f})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-mix %q: no kind with a weight above 0", s)
	}
	if len(out) == 1 && (out[0].Kind == kindStatus || out[0].Kind == kindStatusAPI) {
		return nil, fmt.Errorf("-mix: %s reads receipts of this run's submissions: add submit", out[0].Kind)
	}
	if (seen[kindStatus] || seen[kindStatusAPI]) && !seen[kindSubmit] {
		return nil, fmt.Errorf("-mix: status and status-api read receipts of this run's submissions: add submit")
	}
	return out, nil
}

// receipt is what a submission returned: the Aktenzeichen (reference) and
// the access code printed on the Eingangsbestätigung, and once the status
// page was opened with them, the page's cookie.
type receipt struct {
	ref, code string

	mu       sync.Mutex
	cookie   string
	cookieAt time.Time
}

// statusCookieTTL is how long a status page cookie is used before the
// page is opened anew with reference and code; the server's session lasts
// 30 minutes (internal/parking statusSessionTTL).
const statusCookieTTL = 20 * time.Minute

// receipts keeps the latest receipts of this run, for status reads.
type receipts struct {
	mu   sync.Mutex
	ring []*receipt
	next int
	n    atomic.Int64
}

const maxReceipts = 4096

func (rs *receipts) add(r *receipt) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.ring) < maxReceipts {
		rs.ring = append(rs.ring, r)
	} else {
		rs.ring[rs.next] = r
		rs.next = (rs.next + 1) % maxReceipts
	}
	rs.n.Add(1)
}

func (rs *receipts) pick() *receipt {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.ring) == 0 {
		return nil
	}
	return rs.ring[rand.IntN(len(rs.ring))]
}

// generator makes the requests of the mix.
type generator struct {
	mix []mixEntry
	cum []float64 // cumulative weights

	base, ars string
	nonce     string
	seq       atomic.Int64 // Idempotency-Keys

	bodies     [][]byte // submissions of eligible demo residents
	zonePaths  []string
	pointPaths []string

	keys          []string // enforcement
	purpose       string
	valid, others []string // plates with and without a permit
	validShare    float64

	receipts receipts
}

// newGenerator fetches what the kinds of the mix need: demo residents for
// submissions and plates, permits for enforcement, address points for the
// zone lookups.
func newGenerator(ctx context.Context, o options, mix []mixEntry) (*generator, error) {
	g := &generator{mix: mix, base: o.base, ars: o.ars, nonce: o.idempotencyNonce, keys: o.keys, purpose: o.purpose}
	var total float64
	need := map[string]bool{}
	for _, m := range mix {
		total += m.Weight
		g.cum = append(g.cum, total)
		need[m.Kind] = true
	}
	var rs []resident
	if need[kindSubmit] || need[kindEnforce] {
		var err error
		if rs, err = fetchResidents(ctx, o); err != nil {
			return nil, err
		}
	}
	if need[kindSubmit] {
		var err error
		if g.bodies, err = submissionBodies(rs); err != nil {
			return nil, err
		}
	}
	if need[kindZone] {
		var err error
		if g.zonePaths, err = requestPaths(o.ars, "address"); err != nil {
			return nil, err
		}
	}
	if need[kindPoint] {
		var err error
		if g.pointPaths, err = requestPaths(o.ars, "point"); err != nil {
			return nil, err
		}
	}
	if need[kindEnforce] {
		if len(o.keys) == 0 {
			return nil, fmt.Errorf("-mix with enforce needs an API key with the enforcement role: -key or -key-file (rathaus demo writes demo-api-keys.txt into its data directory)")
		}
		var err error
		if g.valid, g.others, err = enforcementPlates(ctx, o, rs); err != nil {
			return nil, err
		}
		g.validShare = o.validShare
		if len(g.valid) == 0 {
			g.validShare = 0
		}
	}
	return g, nil
}

// pick draws a kind of the mix by weight; it returns the index into g.mix.
func (g *generator) pick(r *rand.Rand) int {
	x := r.Float64() * g.cum[len(g.cum)-1]
	for i, c := range g.cum {
		if x < c {
			return i
		}
	}
	return len(g.cum) - 1
}

// ready says whether a request of kind k can be made now: status reads
// wait for the run's first receipt.
func (g *generator) ready(k int) bool {
	switch g.mix[k].Kind {
	case kindStatus, kindStatusAPI:
		return g.receipts.n.Load() > 0
	}
	return true
}

// request makes a request of kind k. rc is the receipt a status request
// reads, for answered.
func (g *generator) request(k int) (req *http.Request, rc *receipt, err error) {
	switch g.mix[k].Kind {
	case kindSubmit:
		req, err = http.NewRequest(http.MethodPost, g.base+"/api/v1/municipalities/"+g.ars+"/parking/applications",
			bytes.NewReader(g.bodies[rand.IntN(len(g.bodies))]))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("rathaus-load-%s-%d", g.nonce, g.seq.Add(1)))
	case kindStatus:
		// A citizen opens the page with reference and code from the
		// Eingangsbestätigung (303 with the page's cookie), then reloads it.
		rc = g.receipts.pick()
		rc.mu.Lock()
		cookie := rc.cookie
		if time.Since(rc.cookieAt) > statusCookieTTL {
			cookie = ""
		}
		rc.mu.Unlock()
		if cookie == "" {
			form := url.Values{"reference": {rc.ref}, "access_code": {rc.code}}.Encode()
			req, err = http.NewRequest(http.MethodPost, g.base+"/bewohnerparken/status", strings.NewReader(form))
			if err != nil {
				return nil, nil, err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, err = http.NewRequest(http.MethodGet, g.base+"/bewohnerparken/status/"+rc.ref, nil)
			if err != nil {
				return nil, nil, err
			}
			req.Header.Set("Cookie", cookie)
		}
	case kindStatusAPI:
		rc = g.receipts.pick()
		req, err = http.NewRequest(http.MethodGet, g.base+"/api/v1/parking/applications/"+rc.ref, nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("X-Access-Code", rc.code)
	case kindZone:
		req, err = http.NewRequest(http.MethodGet, g.base+g.zonePaths[rand.IntN(len(g.zonePaths))], nil)
	case kindPoint:
		req, err = http.NewRequest(http.MethodGet, g.base+g.pointPaths[rand.IntN(len(g.pointPaths))], nil)
	case kindEnforce:
		plate := g.others[rand.IntN(len(g.others))]
		if g.validShare > 0 && rand.Float64() < g.validShare {
			plate = g.valid[rand.IntN(len(g.valid))]
		}
		req, err = http.NewRequest(http.MethodGet, g.base+"/api/v1/enforcement/permits?"+
			url.Values{"plate": {plate}, "purpose": {g.purpose}}.Encode(), nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+g.keys[rand.IntN(len(g.keys))])
	default:
		return nil, nil, fmt.Errorf("unknown kind %q", g.mix[k].Kind)
	}
	return req, rc, err
}

// wantsBody says whether answered needs the answer's body.
func (g *generator) wantsBody(k int) bool { return g.mix[k].Kind == kindSubmit }

// answered takes what later requests need from an answer: the receipt of
// a submission, the cookie of a status page.
func (g *generator) answered(k int, rc *receipt, res *http.Response, body []byte) {
	switch g.mix[k].Kind {
	case kindSubmit:
		if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
			return
		}
		var v struct {
			Reference  string `json:"reference"`
			AccessCode string `json:"access_code"`
		}
		if json.Unmarshal(body, &v) == nil && v.Reference != "" && v.AccessCode != "" {
			g.receipts.add(&receipt{ref: v.Reference, code: v.AccessCode})
		}
	case kindStatus:
		if res.StatusCode != http.StatusSeeOther {
			return
		}
		for _, c := range res.Cookies() {
			rc.mu.Lock()
			rc.cookie, rc.cookieAt = c.Name+"="+c.Value, time.Now()
			rc.mu.Unlock()
		}
	}
}
