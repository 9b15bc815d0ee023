package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runReportOf runs rathaus-load with args and -out, and returns the report.
func runReportOf(t *testing.T, args ...string) (runReport, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "run.json")
	var out bytes.Buffer
	if err := run(t.Context(), append(args, "-out", file, "-metrics", "off"), &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep runReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	if _, err := os.Stat(svgPath(file)); err != nil {
		t.Errorf("no chart beside the report: %v", err)
	}
	return rep, out.String()
}

// A server that freezes for one second once, as in a long GC pause or a
// lock held too long. The open model keeps sending at its rate during the
// freeze, and each request due during it waits until the freeze ends, so
// about a third of the 300 requests of 3 s take between 1 s and 0 s —
// spread evenly, because their due times are. A tool that measured from
// the send time of a next request after the previous answer (coordinated
// omission) would record one slow request and a fast p90.
func TestOpenKeepsSendingThroughAServerStall(t *testing.T) {
	t.Parallel()
	var (
		mu         sync.Mutex
		n          int
		stallUntil time.Time
		inFlight   atomic.Int64
		maxIn      atomic.Int64
	)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxIn.Load(); c > m && !maxIn.CompareAndSwap(m, c); m = maxIn.Load() {
		}
		mu.Lock()
		n++
		if n == 50 { // about 0.5 s into the run
			stallUntil = time.Now().Add(time.Second)
		}
		until := stallUntil
		mu.Unlock()
		time.Sleep(time.Until(until))
		io.WriteString(w, `{"status":"found"}`)
	}))
	defer s.Close()

	rep, out := runReportOf(t, "open", "-base", s.URL, "-rate", "100", "-duration", "3s", "-warmup", "0s", "-mix", "zone=1")
	st := rep.Steps[0].Total
	if st.Due < 299 || st.Due > 301 {
		t.Errorf("%d requests due in 3 s at 100/s, want 300: the rate must not depend on the answers", st.Due)
	}
	if st.Errors != 0 || st.Outcomes["2xx"] != st.Due {
		t.Errorf("outcomes %v, want every request answered 2xx", st.Outcomes)
	}
	// The requests due in the stall were sent during it, not after it.
	if m := maxIn.Load(); m < 80 {
		t.Errorf("at most %d requests at the server at once, want about 100: requests due during the stall must be sent then", m)
	}
	l := st.Latency
	// A third of the latencies spread evenly over (0, 1 s]: the share above
	// L is (1 s − L)/3, so p99 ≈ 970 ms and p90 ≈ 700 ms; p50 stays fast.
	if l.Max < 950 || l.Max > 1300 {
		t.Errorf("max %.1f ms, want the stall of about 1 s", l.Max)
	}
	if l.P99 < 900 || l.P99 > 1100 {
		t.Errorf("p99 %.1f ms, want about 970 ms", l.P99)
	}
	if l.P90 < 580 || l.P90 > 820 {
		t.Errorf("p90 %.1f ms, want about 700 ms: the requests due during the stall must count from their due time", l.P90)
	}
	if l.P50 > 100 {
		t.Errorf("p50 %.1f ms, want fast answers outside the stall", l.P50)
	}
	if t.Failed() {
		t.Log(out)
	}
}

// This tool itself stalls for a second (as in a GC pause of the load
// generator): the requests due meanwhile go out late, in a burst, to a
// fast server. Their latency counts from their due time, so the stall
// shows as it would to the citizens who came during it; counted from the
// send, they would all look fast.
func TestOpenCountsAStallOfTheToolFromTheDueTime(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"found"}`)
	}))
	defer s.Close()
	paths, err := requestPaths("110000000000", "address")
	if err != nil {
		t.Fatal(err)
	}
	g := &generator{mix: []mixEntry{{Kind: kindZone, Weight: 1}}, cum: []float64{1}, base: s.URL, zonePaths: paths}
	l := &loader{client: newOpenClient(100, 0), gen: g, maxInFlight: 10000, timeout: 5 * time.Second,
		pause: func(i int) {
			if i == 50 {
				time.Sleep(time.Second)
			}
		}}
	st := newStepStats(1)
	l.step(t.Context(), 100, 3*time.Second, st)
	ks := st.kinds[0]
	if ks.due < 299 || ks.due > 301 || ks.outcomes["2xx"] != ks.due {
		t.Fatalf("%d due, outcomes %v: want 300, all answered", ks.due, ks.outcomes)
	}
	p50, p90, p99 := ks.lat.quantile(0.5), ks.lat.quantile(0.9), ks.lat.quantile(0.99)
	if p99 < 900*time.Millisecond || p90 < 580*time.Millisecond || p90 > 820*time.Millisecond || p50 > 100*time.Millisecond {
		t.Errorf("p50 %v, p90 %v, p99 %v; want about 0, 700 ms and 970 ms", p50, p90, p99)
	}
	if lag := st.lag.quantile(0.99); lag < 900*time.Millisecond {
		t.Errorf("send lag p99 %v, want the stall of about 1 s", lag)
	}
}

// At most -max-in-flight requests are outstanding; a request due beyond
// that is counted as client_overrun, and every request due is accounted
// for.
func TestOpenCountsClientOverrun(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
	}))
	defer s.Close()
	rep, _ := runReportOf(t, "open", "-base", s.URL, "-rate", "100", "-duration", "500ms", "-warmup", "0s", "-mix", "zone=1", "-max-in-flight", "5")
	st := rep.Steps[0].Total
	var sum int64
	for _, n := range st.Outcomes {
		sum += n
	}
	if st.Due < 49 || st.Due > 51 || sum != st.Due {
		t.Errorf("%d due, outcomes %v (sum %d): want 50 due, each with an outcome", st.Due, st.Outcomes, sum)
	}
	// 5 in flight for 300 ms each: about 10 of the 50 are sent.
	if st.Sent > 15 || st.Outcomes[outOverrun] < 35 || st.Outcomes[outOverrun]+st.Outcomes["2xx"] != st.Due {
		t.Errorf("sent %d, outcomes %v: want about 10 sent and the rest client_overrun", st.Sent, st.Outcomes)
	}
	if st.ErrorRate < 0.6 {
		t.Errorf("error rate %.2f: client_overrun must count as an error", st.ErrorRate)
	}
}

// A server that serves 10 requests at once, each in 20 ms (500/s); a
// request beyond them waits up to 20 ms for a slot and is then refused
// with 503 and Retry-After, as Rathaus's admission control does
// (RATHAUS_MAX_IN_FLIGHT, RATHAUS_ADMISSION_WAIT). Constant arrivals keep
// rate × 20 ms requests in service, so 300 and 400/s (6 and 8) pass — the
// wait absorbs bunches of requests sent late on a busy machine — 600/s
// (12) is refused about one time in six, and 500/s is on the edge: the
// knee is 300, 400 or 500.
func TestStepFindsTheKneeOfACapacityLimit(t *testing.T) {
	sem := make(chan struct{}, 10)
	var refused atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait := time.NewTimer(20 * time.Millisecond)
		defer wait.Stop()
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			time.Sleep(20 * time.Millisecond)
			io.WriteString(w, `{"status":"found"}`)
		case <-wait.C:
			refused.Add(1)
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer s.Close()
	rep, out := runReportOf(t, "step", "-base", s.URL, "-rate", "100", "-step", "+100", "-step-duration", "500ms",
		"-max-errors", "1", "-max-p99", "500ms", "-warmup", "0s", "-mix", "zone=1", "-max-rate", "1000")
	if rep.Knee == nil {
		t.Fatalf("no knee; stopped: %s\n%s", rep.Stopped, out)
	}
	t.Logf("knee %g/s; stopped: %s", rep.Knee.Rate, rep.Stopped)
	if rep.Knee.Rate < 300 || rep.Knee.Rate > 500 {
		t.Errorf("knee at %g/s, want 300 to 500/s (capacity 500/s)\n%s", rep.Knee.Rate, out)
	}
	last := rep.Steps[len(rep.Steps)-1]
	if last.WithinLimits == nil || *last.WithinLimits || last.Rate != rep.Knee.Rate+100 {
		t.Errorf("last step %g/s within limits %v; want the step after the knee, past them", last.Rate, last.WithinLimits)
	}
	if last.Total.Outcomes[outRefused] == 0 || !strings.Contains(last.Exceeded, "errors") {
		t.Errorf("last step: outcomes %v, exceeded %q; want refusals counted as errors", last.Total.Outcomes, last.Exceeded)
	}
	for _, st := range rep.Steps[:len(rep.Steps)-1] {
		if !*st.WithinLimits || st.Total.ErrorRate > 0.01 {
			t.Errorf("step %g/s before the knee: within %v, error rate %.3f", st.Rate, *st.WithinLimits, st.Total.ErrorRate)
		}
	}
	if refused.Load() == 0 {
		t.Error("the server never refused")
	}
}

// A server that serves one request at a time in 5 ms (200/s) and queues
// the rest: beyond 200/s no request fails, but the queue, and with it
// p99, grows without bound. The p99 limit finds the knee.
func TestStepFindsTheKneeOfAQueue(t *testing.T) {
	var mu sync.Mutex
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		time.Sleep(5 * time.Millisecond)
		mu.Unlock()
	}))
	defer s.Close()
	rep, out := runReportOf(t, "step", "-base", s.URL, "-rate", "50", "-step", "x1.5", "-step-duration", "500ms",
		"-max-errors", "1", "-max-p99", "60ms", "-warmup", "0s", "-mix", "zone=1")
	if rep.Knee == nil {
		t.Fatalf("no knee; stopped: %s\n%s", rep.Stopped, out)
	}
	// Steps 50, 75, 112.5, 168.75, 253.1: the last is above capacity.
	t.Logf("knee %g/s; stopped: %s", rep.Knee.Rate, rep.Stopped)
	if rep.Knee.Rate < 75 || rep.Knee.Rate > 169 {
		t.Errorf("knee at %g/s, want 75 to 168.75/s (capacity 200/s)\n%s", rep.Knee.Rate, out)
	}
	last := rep.Steps[len(rep.Steps)-1]
	if !strings.Contains(last.Exceeded, "p99") || last.Total.Errors != 0 {
		t.Errorf("last step %g/s: exceeded %q, %d errors; want the p99 limit, no errors", last.Rate, last.Exceeded, last.Total.Errors)
	}
}

// The mix on (a fake of) the demo: submissions of eligible residents with
// distinct Idempotency-Keys; status reads only of this run's receipts,
// through the page (lookup, then the cookie) and the API; enforcement
// lookups of demo plates.
func TestOpenMixUsesReceiptsOfTheRun(t *testing.T) {
	f, s := newFake(t)
	rep, out := runReportOf(t, "open", "-base", s.URL, "-rate", "200", "-duration", "1s", "-warmup", "200ms",
		"-mix", "submit=2,status=4,status-api=1,zone=1,enforce=1", "-key", "key_a.s1", "-permits", "0")
	st := rep.Steps[0]
	if st.Total.Errors != 0 {
		t.Errorf("errors: %v\n%s", st.Total.Outcomes, out)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, n := range f.keys {
		if !strings.HasPrefix(k, "rathaus-load-") || n != 1 {
			t.Fatalf("Idempotency-Key %q sent %d times", k, n)
		}
	}
	if f.bad != 0 {
		t.Errorf("%d status reads with a reference, code or cookie the server never gave", f.bad)
	}
	if f.lookupsByRef == 0 || f.pages == 0 || f.api == 0 || f.zones == 0 {
		t.Errorf("status lookups %d, pages %d, API reads %d, zone lookups %d: want each", f.lookupsByRef, f.pages, f.api, f.zones)
	}
	if got := st.ByKind[kindStatus].Outcomes; got["3xx"] == 0 || got["2xx"] == 0 {
		t.Errorf("status outcomes %v, want 303s (opening) and 200s (reading)", got)
	}
	for p := range f.plates {
		if p != "B-UY 7078" && p != "B-AB 12" && p != "B-CD 3" {
			t.Errorf("looked up %q, not a demo plate", p)
		}
	}
	if len(f.plates) == 0 {
		t.Error("no enforcement lookups")
	}
}

// Without a warm-up the first status reads come before any receipt: they
// are skipped, neither sent nor errors.
func TestOpenSkipsStatusBeforeTheFirstReceipt(t *testing.T) {
	f, s := newFake(t)
	// The first receipt comes 50 ms after its submission: every status
	// read due until then is skipped, whichever kind the run draws first.
	f.submitDelay.Store(int64(50 * time.Millisecond))
	rep, _ := runReportOf(t, "open", "-base", s.URL, "-rate", "100", "-duration", "300ms", "-warmup", "0s", "-mix", "submit=1,status=50")
	st := rep.Steps[0]
	if st.ByKind[kindStatus].Outcomes[outSkipped] == 0 {
		t.Errorf("status outcomes %v, want some skipped before the first receipt", st.ByKind[kindStatus].Outcomes)
	}
	if st.Total.Errors != 0 || st.Total.ErrorRate != 0 {
		t.Errorf("errors %d (rate %g), want none: skipped is no error", st.Total.Errors, st.Total.ErrorRate)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bad != 0 {
		t.Errorf("%d status reads without a receipt", f.bad)
	}
}

// Ctrl-C ends a run early; the report covers the time until then.
func TestOpenReportsAnInterruptedRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var n atomic.Int64
	var interrupted time.Time
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 50 { // 0.5 s into the step
			interrupted = time.Now()
			cancel()
		}
	}))
	defer s.Close()
	file := filepath.Join(t.TempDir(), "run.json")
	err := run(ctx, []string{"step", "-base", s.URL, "-rate", "100", "-step-duration", "5s", "-warmup", "0s", "-mix", "zone=1", "-metrics", "off", "-out", file}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(interrupted); d > time.Second {
		t.Errorf("ended %v after the interruption", d)
	}
	var rep runReport
	b, _ := os.ReadFile(file)
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Stopped != "interrupted" || len(rep.Steps) != 1 || !rep.Steps[0].Interrupted || rep.Knee != nil {
		t.Fatalf("stopped %q, %d steps, knee %v; want one interrupted step and no knee", rep.Stopped, len(rep.Steps), rep.Knee)
	}
	if st := rep.Steps[0]; st.DurationS < 0.4 || st.DurationS > 0.6 || st.Total.OfferedRate < 90 || st.Total.OfferedRate > 110 {
		t.Errorf("duration %gs, offered %g/s; want about 0.5 s at 100/s", st.DurationS, st.Total.OfferedRate)
	}
}

func TestOutcomeOf(t *testing.T) {
	with := func(code int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	for _, c := range []struct {
		res  *http.Response
		err  error
		want string
		ok   bool
	}{
		{with(200, ""), nil, "2xx", true},
		{with(201, ""), nil, "2xx", true},
		{with(303, ""), nil, "3xx", true},
		{with(404, ""), nil, "4xx:404", false},
		{with(429, "1"), nil, "4xx:429", false},
		{with(503, "30"), nil, outRefused, false},
		{with(503, ""), nil, "5xx:503", false},
		{with(500, ""), nil, "5xx:500", false},
		{nil, context.DeadlineExceeded, outTimeout, false},
		{nil, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, outConnError, false},
	} {
		got := outcomeOf(c.res, c.err)
		if got != c.want || isOK(got) != c.ok {
			t.Errorf("outcome of %v/%v = %q (ok %v), want %q (ok %v)", c.res, c.err, got, isOK(got), c.want, c.ok)
		}
	}
}

func TestParseMixAndStep(t *testing.T) {
	m, err := parseMix("submit=1, status=4,zone=4,enforce=4,point=0")
	if err != nil || len(m) != 4 || m[1] != (mixEntry{Kind: "status", Weight: 4}) {
		t.Errorf("parseMix: %v, %v", m, err)
	}
	for _, bad := range []string{"", "zone=0", "walk=1", "zone=1,zone=2", "status=1", "zone=1,status-api=1", "zone=-1", "zone=x"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q): no error", bad)
		}
	}
	for in, want := range map[string]float64{"+50": 250, "50": 250, "x1.25": 250, "*1.5": 300, "×2": 400} {
		s, err := parseStep(in)
		if err != nil || s.next(200) != want {
			t.Errorf("parseStep(%q).next(200) = %g, %v; want %g", in, s.next(200), err, want)
		}
	}
	for _, bad := range []string{"", "x1", "x0.5", "-5", "+0", "fast"} {
		if _, err := parseStep(bad); err == nil {
			t.Errorf("parseStep(%q): no error", bad)
		}
	}
}

func TestOpenFlagsAndHelp(t *testing.T) {
	var errOut bytes.Buffer
	if err := run(t.Context(), []string{"step", "-h"}, io.Discard, &errOut); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("step -h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Command rathaus-load", "rathaus-load step", "no coordinated\nomission", "-max-p99", "-step-duration"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("step -h lacks %q", want)
		}
	}
	errOut.Reset()
	if err := run(t.Context(), []string{"-h"}, io.Discard, &errOut); !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "rathaus-load open") || !strings.Contains(errOut.String(), "-kind") {
		t.Errorf("-h: %v\n%s", err, errOut.String())
	}
	_, s := newFake(t)
	for _, args := range [][]string{
		{"open", "-base", s.URL, "-mix", "enforce=1", "-duration", "100ms"}, // no key
		{"open", "-base", "ftp://x", "-duration", "100ms"},
		{"open", "-base", s.URL, "-rate", "0"},
		{"step", "-base", s.URL, "-step", "x0.9"},
		{"step", "-base", s.URL, "-max-rate", "10", "-rate", "20"},
		{"open", "-base", s.URL, "extra"},
	} {
		if err := run(t.Context(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// The admitted requests' latency leaves out refusals and errors.
func TestLatencyOfAdmittedOnly(t *testing.T) {
	st := newStepStats(1)
	st.answered(0, "2xx", 10*time.Millisecond, 0, true)
	st.answered(0, "2xx", 20*time.Millisecond, 0, true)
	st.answered(0, "refused", 900*time.Millisecond, 0, true)
	r := newStepReport(1, 3, time.Second, []mixEntry{{Kind: "zone"}}, st)
	if got := r.Total.LatencyOK.Max; got < 19.9 || got > 20.1 {
		t.Errorf("admitted max = %v ms, want 20", got)
	}
	if got := r.Total.Latency.Max; got < 890 {
		t.Errorf("all max = %v ms, want 900", got)
	}
}
