package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
)

// The open and step modes: flags, the run of steps, the knee, the report.

// openConfig is what a run of the open model was asked to do; it is
// written into the report as it is.
type openConfig struct {
	Mode             string     `json:"mode"` // open or step
	Base             string     `json:"base"`
	ARS              string     `json:"ars"`
	Mix              []mixEntry `json:"mix"`
	Rate             float64    `json:"rate"` // open: the rate; step: the first step's
	Duration         string     `json:"duration"`
	Warmup           string     `json:"warmup"`
	MaxInFlight      int        `json:"max_in_flight"`
	Timeout          string     `json:"timeout"`
	Step             string     `json:"step,omitempty"`
	MaxP99           string     `json:"max_p99,omitempty"`
	MaxErrorsPercent float64    `json:"max_errors_percent,omitempty"`
	MaxRate          float64    `json:"max_rate,omitempty"`
	Metrics          string     `json:"metrics,omitempty"`
	PID              int        `json:"pid,omitempty"`
	EnforcementKeys  int        `json:"enforcement_keys,omitempty"` // how many; never the keys
	Permits          int        `json:"permits,omitempty"`
	ValidShare       float64    `json:"valid_share,omitempty"`
	// Definitions say how the figures are counted, for a reader of the
	// JSON without this source.
	Definitions map[string]string `json:"definitions"`
}

var definitions = map[string]string{
	"offered_rate":  "requests due per second: request i of a step is due at the step's start + i/rate, whatever the server answers",
	"latency_ms":    "from the time a request was due (not when it was sent) until its answer was read or it failed; over every request sent (any status, timeouts, connection errors); not over client_overrun or skipped",
	"achieved_rate": "successful answers (2xx, 3xx) that arrived before the step's end, per second of the step",
	"errors":        "every request due that was not answered 2xx or 3xx: 4xx (by code), refused (503 with Retry-After), 5xx, timeout, connection_error, client_overrun, request_error; skipped (a status read before the run's first receipt) is neither sent nor counted",
	"error_rate":    "errors / (due − skipped)",
	"knee":          "step mode: the highest step whose p99 stayed at or below max_p99 and whose error rate stayed at or below max_errors_percent",
	"send_lag_ms":   "how late this tool sent requests after their due time; a large lag means the tool, not the server, was the limit",
}

// stepSpec is how the rate rises from step to step: by add, or by factor.
type stepSpec struct {
	add, factor float64
}

// parseStep reads "+50" or "50" (add 50/s) and "x1.25", "*1.25" or
// "×1.25" (multiply by 1.25).
func parseStep(s string) (stepSpec, error) {
	s = strings.TrimSpace(s)
	for _, p := range []string{"x", "*", "×"} {
		if v, ok := strings.CutPrefix(s, p); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 1 || f > 100 {
				return stepSpec{}, fmt.Errorf("-step %q: a factor must be above 1 (e.g. x1.25)", s)
			}
			return stepSpec{factor: f}, nil
		}
	}
	f, err := strconv.ParseFloat(strings.TrimPrefix(s, "+"), 64)
	if err != nil || f <= 0 {
		return stepSpec{}, fmt.Errorf("-step %q: want +N (requests/s more each step) or xF (times F)", s)
	}
	return stepSpec{add: f}, nil
}

// next is the following step's rate, to 0.1/s (so that reports and charts
// show 3968.6, not 3968.573866270718).
func (s stepSpec) next(rate float64) float64 {
	if s.factor > 0 {
		return roundTo(rate*s.factor, 1)
	}
	return roundTo(rate+s.add, 1)
}

// latencyMS are the percentiles of a histogram in milliseconds.
type latencyMS struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// roundTo keeps digits decimals, for a readable report.
func roundTo(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func latencyOf(h *histogram) latencyMS {
	return latencyMS{P50: ms(h.quantile(0.5)), P90: ms(h.quantile(0.9)), P99: ms(h.quantile(0.99)),
		P999: ms(h.quantile(0.999)), Max: ms(h.max), Mean: ms(h.mean())}
}

// figures are the counts of a step, for one kind or all.
type figures struct {
	Due          int64            `json:"due"`
	OfferedRate  float64          `json:"offered_rate"`
	Sent         int64            `json:"sent"`
	OK           int64            `json:"ok"`
	Errors       int64            `json:"errors"`
	ErrorRate    float64          `json:"error_rate"`
	AchievedRate float64          `json:"achieved_rate"`
	Latency      latencyMS        `json:"latency_ms"`
	LatencyOK    latencyMS        `json:"latency_ok_ms"` // of the admitted requests (2xx, 3xx) only
	Outcomes     map[string]int64 `json:"outcomes"`
	lat          histogram
	okLat        histogram
	okInWindow   int64
}

func (f *figures) add(ks *kindStats) {
	f.Due += ks.due
	for o, n := range ks.outcomes {
		f.Outcomes[o] += n
		switch {
		case isOK(o):
			f.OK += n
		case o == outSkipped:
		default:
			f.Errors += n
		}
		if o != outSkipped && o != outOverrun && o != outBuildError {
			f.Sent += n
		}
	}
	f.okInWindow += ks.okInWindow
	f.lat.merge(&ks.lat)
	f.okLat.merge(&ks.okLat)
}

func (f *figures) finish(d time.Duration) {
	secs := d.Seconds()
	f.OfferedRate = roundTo(float64(f.Due)/secs, 2)
	f.AchievedRate = roundTo(float64(f.okInWindow)/secs, 2)
	if n := f.Due - f.Outcomes[outSkipped]; n > 0 {
		f.ErrorRate = roundTo(float64(f.Errors)/float64(n), 6)
	}
	f.Latency = latencyOf(&f.lat)
	f.LatencyOK = latencyOf(&f.okLat)
}

// stepReport is one step of the run.
type stepReport struct {
	Step         int                 `json:"step"`
	Rate         float64             `json:"rate"` // scheduled requests per second
	DurationS    float64             `json:"duration_s"`
	Total        *figures            `json:"total"`
	ByKind       map[string]*figures `json:"by_kind"`
	SendLagMS    latencyMS           `json:"send_lag_ms"`
	WithinLimits *bool               `json:"within_limits,omitempty"` // step mode; not for an interrupted step
	Exceeded     string              `json:"exceeded,omitempty"`      // which limit, step mode
	Interrupted  bool                `json:"interrupted,omitempty"`
	Server       *serverUse          `json:"server,omitempty"`
}

func newStepReport(n int, rate float64, d time.Duration, mix []mixEntry, st *stepStats) stepReport {
	r := stepReport{Step: n, Rate: rate, DurationS: roundTo(d.Seconds(), 3), Total: &figures{Outcomes: map[string]int64{}},
		ByKind: map[string]*figures{}, SendLagMS: latencyOf(&st.lag)}
	for k, ks := range st.kinds {
		f := &figures{Outcomes: map[string]int64{}}
		f.add(ks)
		f.finish(d)
		r.ByKind[mix[k].Kind] = f
		r.Total.add(ks)
	}
	r.Total.finish(d)
	return r
}

// kneeReport is the highest step within the limits.
type kneeReport struct {
	Step         int     `json:"step"`
	Rate         float64 `json:"rate"`
	AchievedRate float64 `json:"achieved_rate"`
	P99MS        float64 `json:"p99_ms"`
	ErrorRate    float64 `json:"error_rate"`
}

// runReport is the JSON document of -out.
type runReport struct {
	Tool     string       `json:"tool"`
	Started  time.Time    `json:"started"`
	Config   openConfig   `json:"config"`
	Steps    []stepReport `json:"steps"`
	Knee     *kneeReport  `json:"knee,omitempty"`
	Stopped  string       `json:"stopped"` // why the run ended
	Sampling string       `json:"server_sampling_error,omitempty"`
}

// runOpen is `rathaus-load open` and `rathaus-load step`.
func runOpen(ctx context.Context, mode string, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("rathaus-load "+mode, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage())
		fmt.Fprintf(fs.Output(), "\nFlags of rathaus-load %s:\n", mode)
		fs.PrintDefaults()
	}
	var base string
	fs.StringVar(&base, "base", "http://127.0.0.1:8080", "base `URL` of a running Rathaus (rathaus demo for submit, status and enforce)")
	fs.StringVar(&base, "url", "http://127.0.0.1:8080", "the same as -base")
	rate := fs.Float64("rate", 100, "requests per second (step: of the first step)")
	mixFlag := fs.String("mix", "submit=1,status=4,zone=4", "kinds of request with relative weights: "+strings.Join(mixKinds, ", "))
	warm := fs.Duration("warmup", 2*time.Second, "load at the (first) rate before measuring, not counted")
	conns := fs.Int("conns", 0, "connections to the server at most (0: as many as requests outstanding); requests beyond wait for one, and the wait counts in their latency")
	maxInFlight := fs.Int("max-in-flight", 10000, "outstanding requests at most; a request due beyond it is not sent but counted as client_overrun")
	timeout := fs.Duration("timeout", 10*time.Second, "a request without an answer after this long counts as timeout")
	outFile := fs.String("out", "", "write the report as JSON to this file and a chart as SVG next to it (FILE.svg)")
	metrics := fs.String("metrics", "/metrics", "the server's Prometheus endpoint, sampled every second (a path on -base or a URL; \"off\" for none)")
	pid := fs.Int("pid", 0, "the server's process ID on this machine: RSS and CPU from /proc/PID (for a server whose /metrics lacks them)")
	ars := fs.String("ars", demo.Berlin.ARS, "municipality (Amtlicher Regionalschlüssel)")
	key := fs.String("key", "", "enforce: API key (<id>.<secret>) with the enforcement role")
	keyFile := fs.String("key-file", "", "enforce: file with API keys (demo-api-keys.txt of the demo's data directory); requests spread over them")
	purpose := fs.String("purpose", "Lasttest (rathaus-load)", "enforce: purpose sent with each lookup")
	permits := fs.Int("permits", 20, "enforce: permits to issue first through the API and the test payment provider")
	validShare := fs.Float64("valid-share", 0.5, "enforce: share of lookups for plates with a permit")
	var dur, stepDur *time.Duration
	var stepFlag *string
	var maxP99 *time.Duration
	var maxErrors, maxRate *float64
	if mode == "open" {
		dur = fs.Duration("duration", 60*time.Second, "duration of the measurement")
	} else {
		stepFlag = fs.String("step", "+50", "rise of the rate from step to step: +N (requests/s) or xF (factor, e.g. x1.25)")
		stepDur = fs.Duration("step-duration", 20*time.Second, "duration of each step")
		maxP99 = fs.Duration("max-p99", 500*time.Millisecond, "a step whose p99 latency is above this is past the knee")
		maxErrors = fs.Float64("max-errors", 1, "a step whose error rate is above this many percent is past the knee")
		maxRate = fs.Float64("max-rate", 100000, "stop before a step would offer more than this many requests/s")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", mode, fs.Arg(0))
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-base %q: need http(s)://host:port", base)
	}
	base = strings.TrimRight(base, "/")
	mix, err := parseMix(*mixFlag)
	if err != nil {
		return err
	}
	if *rate <= 0 || *rate > 1e6 || *maxInFlight < 1 || *conns < 0 || *timeout <= 0 || *warm < 0 || *validShare < 0 || *validShare > 1 || *permits < 0 {
		return fmt.Errorf("-rate must be in (0, 1000000], -max-in-flight ≥ 1, -timeout > 0, -warmup ≥ 0, -permits ≥ 0, -valid-share in [0, 1]")
	}
	cfg := openConfig{Mode: mode, Base: base, ARS: *ars, Mix: mix, Rate: *rate, Warmup: warm.String(), MaxInFlight: *maxInFlight,
		Timeout: timeout.String(), PID: *pid, Definitions: definitions}
	var spec stepSpec
	d := time.Duration(0)
	if mode == "open" {
		d = *dur
		cfg.Duration = d.String()
	} else {
		if spec, err = parseStep(*stepFlag); err != nil {
			return err
		}
		if *maxP99 <= 0 || *maxErrors < 0 || *maxErrors > 100 || *maxRate < *rate {
			return fmt.Errorf("-max-p99 must be > 0, -max-errors in [0, 100], -max-rate ≥ -rate")
		}
		d = *stepDur
		cfg.Duration, cfg.Step, cfg.MaxP99, cfg.MaxErrorsPercent, cfg.MaxRate = d.String(), *stepFlag, maxP99.String(), *maxErrors, *maxRate
	}
	if d < 100*time.Millisecond {
		return fmt.Errorf("a step or run must last at least 100ms, not %s", d)
	}
	switch *metrics {
	case "off", "":
	default:
		cfg.Metrics = *metrics
		if strings.HasPrefix(*metrics, "/") {
			cfg.Metrics = base + *metrics
		}
	}

	o := options{base: base, ars: *ars, purpose: *purpose, permits: *permits, validShare: *validShare, log: out,
		client:           &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		idempotencyNonce: fmt.Sprintf("%x", rand.Uint64())}
	for _, m := range mix {
		if m.Kind == kindEnforce {
			if o.keys, err = loadKeys(*key, *keyFile); err != nil {
				return fmt.Errorf("-mix with enforce: %w", err)
			}
			cfg.EnforcementKeys, cfg.Permits, cfg.ValidShare = len(o.keys), *permits, *validShare
		}
	}
	gen, err := newGenerator(ctx, o, mix)
	if err != nil {
		return err
	}
	l := &loader{client: newOpenClient(*maxInFlight, *conns), gen: gen, maxInFlight: int64(*maxInFlight), timeout: *timeout}
	defer l.client.CloseIdleConnections()

	smp := newSampler(cfg.Metrics, *pid)
	sctx, stopSampling := context.WithCancel(context.Background())
	defer stopSampling()
	if smp.enabled() {
		smp.take()
		if err := smp.err(); err != nil {
			fmt.Fprintf(out, "rathaus-load: server resources: %v (the run goes on without them)\n", err)
		}
		go smp.run(sctx)
	}

	rep := runReport{Tool: "rathaus-load", Started: time.Now().UTC(), Config: cfg}
	fmt.Fprintf(out, "rathaus-load %s: %s, mix %s\n", mode, base, mixText(mix))
	if mode == "open" {
		fmt.Fprintf(out, "  %g requests/s for %s (after %s warm-up), at most %d in flight\n", *rate, d, *warm, *maxInFlight)
	} else {
		fmt.Fprintf(out, "  from %g requests/s, %s every %s, until p99 > %s or errors > %g %% (after %s warm-up)\n",
			*rate, *stepFlag, d, *maxP99, *maxErrors, *warm)
	}
	if *warm > 0 {
		l.step(ctx, *rate, *warm, newStepStats(len(mix)))
	}
	r := *rate
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			rep.Stopped = "interrupted"
			break
		}
		st := newStepStats(len(mix))
		t0 := time.Now()
		smp.take()
		offered := l.step(ctx, r, d, st)
		smp.take()
		sr := newStepReport(n, r, offered, mix, st)
		sr.Interrupted = ctx.Err() != nil
		sr.Server = smp.use(t0, time.Now())
		if mode == "open" {
			rep.Steps = append(rep.Steps, sr)
			printStep(out, sr, mix)
			rep.Stopped = "done"
			if sr.Interrupted {
				rep.Stopped = "interrupted"
			}
			break
		}
		var exceeded []string
		if p99 := sr.Total.Latency.P99; p99 > ms(*maxP99) {
			exceeded = append(exceeded, fmt.Sprintf("p99 %.1f ms > %s", p99, *maxP99))
		}
		if er := sr.Total.ErrorRate * 100; er > *maxErrors {
			exceeded = append(exceeded, fmt.Sprintf("errors %.2f %% > %g %%", er, *maxErrors))
		}
		within := len(exceeded) == 0
		if !sr.Interrupted { // a cut-short step is not judged
			sr.WithinLimits, sr.Exceeded = &within, strings.Join(exceeded, ", ")
		}
		rep.Steps = append(rep.Steps, sr)
		printStep(out, sr, mix)
		if sr.Interrupted {
			rep.Stopped = "interrupted"
			break
		}
		if !within {
			rep.Stopped = fmt.Sprintf("step %d at %g/s: %s", n, r, sr.Exceeded)
			break
		}
		rep.Knee = &kneeReport{Step: n, Rate: r, AchievedRate: sr.Total.AchievedRate, P99MS: sr.Total.Latency.P99, ErrorRate: sr.Total.ErrorRate}
		next := spec.next(r)
		if next > *maxRate {
			rep.Stopped = fmt.Sprintf("the next step (%g/s) would pass -max-rate %g/s; every step stayed within the limits, the knee lies higher", next, *maxRate)
			break
		}
		r = next
	}
	stopSampling()
	if err := smp.err(); err != nil {
		rep.Sampling = err.Error()
	}
	if mode == "step" {
		if rep.Knee != nil {
			fmt.Fprintf(out, "knee: %g requests/s offered (step %d): achieved %.1f/s, p99 %.1f ms, errors %.2f %% — stopped: %s\n",
				rep.Knee.Rate, rep.Knee.Step, rep.Knee.AchievedRate, rep.Knee.P99MS, rep.Knee.ErrorRate*100, rep.Stopped)
		} else if rep.Stopped == "interrupted" {
			fmt.Fprintln(out, "knee: not found, interrupted during the first step")
		} else {
			fmt.Fprintf(out, "knee: none, the first step already exceeded the limits — stopped: %s\n", rep.Stopped)
		}
	}
	if *outFile != "" {
		if err := writeReport(*outFile, rep); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s and %s\n", *outFile, svgPath(*outFile))
	}
	return nil
}

func mixText(mix []mixEntry) string {
	var parts []string
	for _, m := range mix {
		parts = append(parts, fmt.Sprintf("%s=%g", m.Kind, m.Weight))
	}
	return strings.Join(parts, ",")
}

// svgPath is the chart's file beside the JSON file.
func svgPath(jsonPath string) string {
	return strings.TrimSuffix(jsonPath, filepath.Ext(jsonPath)) + ".svg"
}

func writeReport(path string, rep runReport) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	f, err := os.Create(svgPath(path))
	if err != nil {
		return err
	}
	if err := writeChart(f, rep); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printStep writes a step's figures for a person: the totals, each kind,
// the outcomes and the server's resource use.
func printStep(w io.Writer, s stepReport, mix []mixEntry) {
	t := s.Total
	verdict := ""
	if s.WithinLimits != nil {
		verdict = "  within the limits"
		if !*s.WithinLimits {
			verdict = "  EXCEEDED: " + s.Exceeded
		}
	}
	if s.Interrupted {
		verdict += "  (interrupted)"
	}
	fmt.Fprintf(w, "step %d: %g/s offered for %gs: achieved %.1f/s, errors %.2f %% (%d of %d)%s\n",
		s.Step, s.Rate, s.DurationS, t.AchievedRate, t.ErrorRate*100, t.Errors, t.Due-t.Outcomes[outSkipped], verdict)
	fmt.Fprintf(w, "  %-10s %9s %9s  %9s %9s %9s %9s %9s %9s  %s\n", "kind", "offered/s", "ok/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
		"ok p99", "outcomes")
	line := func(name string, f *figures) {
		l := f.Latency
		fmt.Fprintf(w, "  %-10s %9.1f %9.1f  %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f  %s\n", name, f.OfferedRate, f.AchievedRate,
			l.P50, l.P90, l.P99, l.P999, l.Max, f.LatencyOK.P99, outcomesText(f.Outcomes))
	}
	for _, m := range mix {
		line(m.Kind, s.ByKind[m.Kind])
	}
	line("total", t)
	fmt.Fprintf(w, "  send lag (this tool): p99 %.2f ms, max %.2f ms\n", s.SendLagMS.P99, s.SendLagMS.Max)
	if lagTooLarge(s) {
		fmt.Fprintf(w, "  WARNING: this tool sent requests late (p99 %.1f ms after their due time): the latencies include that; "+
			"the machine, not only the server, was short of CPU\n", s.SendLagMS.P99)
	}
	if u := s.Server; u != nil {
		fmt.Fprintf(w, "  server (%s, %d samples): RSS max %.0f MB, mean %.0f MB; CPU %.1f s (%.2f cores)",
			u.Source, u.Samples, u.RSSMaxMB, u.RSSMeanMB, u.CPUSeconds, u.CPUCores)
		if u.hasDB {
			fmt.Fprintf(w, "; DB connections in use max %.0f, mean %.1f; waits %.0f", u.DBInUseMax, u.DBInUseMean, u.DBWaits)
		}
		if u.AdmissionRefused > 0 {
			fmt.Fprintf(w, "; admission refused %.0f", u.AdmissionRefused)
		}
		fmt.Fprintln(w)
	}
}

// lagTooLarge says whether this tool's own lateness makes up a good part
// of the latencies: a p99 send lag above 10 ms and above a tenth of the
// p99 latency.
func lagTooLarge(s stepReport) bool {
	return s.SendLagMS.P99 > 10 && s.SendLagMS.P99 > s.Total.Latency.P99/10
}

// outcomesText lists outcomes by count, the largest first.
func outcomesText(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
