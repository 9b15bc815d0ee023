package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// The Bewohnerparken kinds: submissions and enforcement lookups.

// resident is an entry of GET /api/v1/demo/residents.
type resident struct {
	GivenNames string   `json:"given_names"`
	FamilyName string   `json:"family_name"`
	BirthDate  string   `json:"birth_date"` // 02.01.2006
	Address    string   `json:"address"`
	Plates     []string `json:"plates"`
	Expect     string   `json:"expect"`
}

// eligible is what the demo says of residents whose application is approved.
const eligible = "berechtigt"

func fetchResidents(ctx context.Context, o options) ([]resident, error) {
	var out struct{ Residents []resident }
	status, body, err := call(ctx, o.client, http.MethodGet, o.base+"/api/v1/demo/residents", nil, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/demo/residents: %d (only `rathaus demo` has the demo residents)", status)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("demo residents: %w", err)
	}
	return out.Residents, nil
}

// applicationBody is the JSON an API client posts for r: holder of the
// first vehicle, 24 months, the declarations given.
func applicationBody(r resident) ([]byte, error) {
	d, err := time.Parse("02.01.2006", r.BirthDate)
	if err != nil {
		return nil, fmt.Errorf("birth date of %s %s: %w", r.GivenNames, r.FamilyName, err)
	}
	return json.Marshal(map[string]any{
		"given_names": r.GivenNames, "family_name": r.FamilyName, "birth_date": d.Format("2006-01-02"),
		"address": r.Address, "plate": r.Plates[0], "relation": "holder", "duration_months": 24,
		"no_own_space": true, "email": "lasttest@example.org", "truthful": true,
	})
}

func eligibleResidents(rs []resident) []resident {
	var out []resident
	for _, r := range rs {
		if r.Expect == eligible && len(r.Plates) > 0 {
			out = append(out, r)
		}
	}
	return out
}

func (o options) applicationsURL() string {
	return o.base + "/api/v1/municipalities/" + o.ars + "/parking/applications"
}

// submitTarget posts applications of random eligible demo residents, each
// with an Idempotency-Key of its own: every request is a new application
// (the same person may apply many times; the checks send repeats to review).
func submitTarget(ctx context.Context, o options) (target, error) {
	rs, err := fetchResidents(ctx, o)
	if err != nil {
		return target{}, err
	}
	bodies, err := submissionBodies(rs)
	if err != nil {
		return target{}, err
	}
	endpoint := o.applicationsURL()
	var n atomic.Int64 // keys stay distinct across warm-up and measurement
	return target{
		what: fmt.Sprintf("POST applications of %d eligible demo residents, each with its own Idempotency-Key", len(bodies)),
		ack:  http.StatusCreated,
		request: func(r *rand.Rand, _ int) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(bodies[r.IntN(len(bodies))]))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprintf("rathaus-load-%s-%d", o.idempotencyNonce, n.Add(1)))
			return req, nil
		},
	}, nil
}

// submissionBodies are the applications of the eligible residents among
// rs, one body each.
func submissionBodies(rs []resident) ([][]byte, error) {
	var bodies [][]byte
	for _, r := range eligibleResidents(rs) {
		b, err := applicationBody(r)
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, b)
	}
	if len(bodies) == 0 {
		return nil, fmt.Errorf("no eligible resident among the %d demo residents", len(rs))
	}
	return bodies, nil
}

// loadKeys reads API keys from -key and -key-file: bare keys or
// "enforcement=KEY" lines; other roles' lines ("casework=…") and comments
// are skipped.
func loadKeys(key, file string) ([]string, error) {
	var keys []string
	if key != "" {
		keys = append(keys, key)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if role, v, ok := strings.Cut(l, "="); ok {
				if role != "enforcement" {
					continue
				}
				l = v
			}
			keys = append(keys, l)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("-kind enforce needs an API key with the enforcement role: -key or -key-file")
	}
	return keys, nil
}

// enforceTarget looks up plates with the enforcement API: a share
// (-valid-share) of plates that hold a permit, issued first, the rest demo
// plates without one. Both take the same path (authenticate, rate limit,
// permit query, audit row); only the answer differs.
func enforceTarget(ctx context.Context, o options) (target, error) {
	rs, err := fetchResidents(ctx, o)
	if err != nil {
		return target{}, err
	}
	valid, others, err := enforcementPlates(ctx, o, rs)
	if err != nil {
		return target{}, err
	}
	share := o.validShare
	if len(valid) == 0 {
		share = 0
	}
	endpoint := o.base + "/api/v1/enforcement/permits?"
	keys := o.keys
	// Each worker keeps its request per plate and sends it again (a request
	// may be reused once its answer's body is closed): the load tool shares
	// the server's cores, and building requests is its own work, not the
	// server's.
	reqs := make([]map[string]*http.Request, o.conc)
	return target{
		what: fmt.Sprintf("GET enforcement lookups with %d API key(s): %.0f %% for %d plates with a permit, the rest for %d demo plates without",
			len(keys), share*100, len(valid), len(others)),
		ack: http.StatusOK,
		request: func(r *rand.Rand, w int) (*http.Request, error) {
			plate := others[r.IntN(len(others))]
			if share > 0 && r.Float64() < share {
				plate = valid[r.IntN(len(valid))]
			}
			if reqs[w] == nil {
				reqs[w] = map[string]*http.Request{}
			}
			if req, ok := reqs[w][plate]; ok {
				return req, nil
			}
			req, err := http.NewRequest(http.MethodGet, endpoint+url.Values{"plate": {plate}, "purpose": {o.purpose}}.Encode(), nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+keys[w%len(keys)])
			reqs[w][plate] = req
			return req, nil
		},
	}, nil
}

// enforcementPlates returns the plates to look up: valid, those of
// permits it first issues (o.permits, issuePermits), and others, the demo
// residents' plates without one.
func enforcementPlates(ctx context.Context, o options, rs []resident) (valid, others []string, err error) {
	valid, err = issuePermits(ctx, o, eligibleResidents(rs), o.permits)
	if err != nil {
		return nil, nil, err
	}
	isValid := map[string]bool{}
	for _, p := range valid {
		isValid[p] = true
	}
	for _, r := range rs {
		for _, p := range r.Plates {
			if !isValid[p] {
				others = append(others, p)
			}
		}
	}
	if len(others) == 0 {
		return nil, nil, fmt.Errorf("no demo plates")
	}
	return valid, others, nil
}

// issuePermits takes up to n eligible residents through the citizen's way
// (submit, automatic approval, payment with the test provider) and returns
// the plates that hold a permit. The Idempotency-Key is derived from the
// plate, so a second run against the same server finds the same
// applications instead of applying again.
func issuePermits(ctx context.Context, o options, rs []resident, n int) ([]string, error) {
	if n == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	type app struct {
		ref, code, plate string
		done             bool
	}
	var apps []*app
	for _, r := range rs[:min(n, len(rs))] {
		body, err := applicationBody(r)
		if err != nil {
			return nil, err
		}
		status, resp, err := call(ctx, o.client, http.MethodPost, o.applicationsURL(), bytes.NewReader(body),
			map[string]string{"Content-Type": "application/json", "Idempotency-Key": "rathaus-load-permit-" + r.Plates[0]})
		if err != nil {
			return nil, err
		}
		if status != http.StatusCreated && status != http.StatusOK {
			return nil, fmt.Errorf("submit for %s: %d %s", r.Plates[0], status, resp)
		}
		var rec struct {
			Reference  string `json:"reference"`
			AccessCode string `json:"access_code"`
		}
		if err := json.Unmarshal(resp, &rec); err != nil {
			return nil, err
		}
		apps = append(apps, &app{ref: rec.Reference, code: rec.AccessCode, plate: r.Plates[0]})
	}
	var plates []string
	paid := map[string]bool{}
	for pending := len(apps); pending > 0; {
		for _, a := range apps {
			if a.done {
				continue
			}
			st, err := applicationStatus(ctx, o, a.ref, a.code)
			if err != nil {
				return nil, err
			}
			switch {
			case st.Status == "issued" && st.Permit != nil:
				plates = append(plates, st.Permit.Plate)
				a.done = true
			case st.Status == "approved" && st.Kassenzeichen != "" && !paid[a.ref], st.Status == "awaiting_payment" && !paid[a.ref]:
				if err := pay(ctx, o, a.ref, a.code); err != nil {
					return nil, err
				}
				paid[a.ref] = true
			case st.Status == "review" || st.Status == "rejected" || st.Status == "withdrawn" || st.Status == "expired":
				a.done = true // e.g. already holds a permit from an earlier run under another key
			}
			if a.done {
				pending--
			}
		}
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("issuing permits: %d of %d applications not finished in time", pending, len(apps))
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Fprintf(o.log, "rathaus-load: %d permits issued through the API and the test payment provider\n", len(plates))
	return plates, nil
}

type applicationView struct {
	Status        string `json:"status"`
	Kassenzeichen string `json:"kassenzeichen"`
	Permit        *struct {
		Plate string `json:"plate"`
	} `json:"permit"`
}

func applicationStatus(ctx context.Context, o options, ref, code string) (applicationView, error) {
	var v applicationView
	status, body, err := call(ctx, o.client, http.MethodGet, o.base+"/api/v1/parking/applications/"+ref, nil, map[string]string{"X-Access-Code": code})
	if err != nil {
		return v, err
	}
	if status != http.StatusOK {
		return v, fmt.Errorf("GET application %s: %d %s", ref, status, body)
	}
	return v, json.Unmarshal(body, &v)
}

// pay starts the payment and presses the test provider's "pay" button.
func pay(ctx context.Context, o options, ref, code string) error {
	status, body, err := call(ctx, o.client, http.MethodPost, o.base+"/api/v1/parking/applications/"+ref+"/payment", nil, map[string]string{"X-Access-Code": code})
	if err != nil {
		return err
	}
	var p struct {
		RedirectURL string `json:"redirect_url"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &p) != nil {
		return fmt.Errorf("start payment of %s: %d %s", ref, status, body)
	}
	u, err := url.Parse(p.RedirectURL)
	if err != nil || !strings.HasPrefix(u.Path, "/testzahlung/") {
		return fmt.Errorf("payment of %s: redirect to %q is not the test provider", ref, p.RedirectURL)
	}
	status, body, err = call(ctx, o.client, http.MethodPost, o.base+u.Path, strings.NewReader("outcome=paid"),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if err != nil {
		return err
	}
	if status != http.StatusSeeOther {
		return fmt.Errorf("test payment of %s: %d %s", ref, status, body)
	}
	return nil
}

func call(ctx context.Context, c *http.Client, method, u string, body io.Reader, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, b, err
}
