package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "rathaus-load:", err)
		os.Exit(1)
	}
}

// run dispatches to a mode: open, step, or without a subcommand the
// closed model. ctx ends a run early (Ctrl-C); what was measured until
// then is still reported.
func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	if len(args) > 0 && (args[0] == "open" || args[0] == "step") {
		return runOpen(ctx, args[0], args[1:], out, errOut)
	}
	return runClosed(ctx, args, out, errOut)
}

// target is one kind of request.
type target struct {
	// what describes the requests for the header line.
	what string
	// request returns the next request of worker w.
	request func(r *rand.Rand, w int) (*http.Request, error)
	// ack is the status of an acknowledged answer; 0 counts every answer
	// (the zone lookups, where 400 for odd house numbers is a valid answer).
	ack int
}

// options are the flags a target is built from.
type options struct {
	base, ars, kind  string
	keys             []string
	purpose          string
	permits          int
	validShare       float64
	conc             int
	client           *http.Client
	log              io.Writer
	idempotencyNonce string
}

// runClosed is the closed model: -c connections, each sending its next
// request when the previous one is answered.
func runClosed(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("rathaus-load", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage())
		fmt.Fprintln(fs.Output(), "\nFlags of the closed model (rathaus-load without a subcommand):")
		fs.PrintDefaults()
	}
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of a running Rathaus")
	conc := fs.Int("c", 32, "concurrent connections")
	dur := fs.Duration("d", 10*time.Second, "duration of the measurement")
	warm := fs.Duration("warmup", 2*time.Second, "warm-up before measuring")
	maxReq := fs.Int("n", 5_000_000, "stop after this many requests")
	kind := fs.String("kind", "address", "request kind: address, point (zone lookups), submit (parking applications), enforce (enforcement lookups)")
	ars := fs.String("ars", demo.Berlin.ARS, "municipality")
	key := fs.String("key", "", "enforce: API key (<id>.<secret>) with the enforcement role")
	keyFile := fs.String("key-file", "", "enforce: file with API keys, one per line, bare or as enforcement=KEY (demo-api-keys.txt); several keys are spread over the connections")
	purpose := fs.String("purpose", "Lasttest (rathaus-load)", "enforce: purpose sent with each lookup")
	permits := fs.Int("permits", 20, "enforce: permits to issue first through the API and the test payment provider (0: look up demo plates only)")
	validShare := fs.Float64("valid-share", 0.5, "enforce: share of lookups for plates with a permit")
	direct := fs.Bool("direct", false, "each worker drives its own keep-alive connection without http.Transport's goroutines: less CPU for the load tool on the server's machine (http only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("-url %q: need http(s)://host:port", *base)
	}
	if *conc < 1 || *validShare < 0 || *validShare > 1 || *permits < 0 {
		return fmt.Errorf("-c must be ≥ 1, -permits ≥ 0, -valid-share in [0, 1]")
	}
	if *direct && u.Scheme != "http" {
		return fmt.Errorf("-direct: plain http:// only")
	}
	tr := &http.Transport{MaxIdleConns: *conc, MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	o := options{base: strings.TrimRight(*base, "/"), ars: *ars, kind: *kind, purpose: *purpose, permits: *permits,
		validShare: *validShare, conc: *conc, client: client, log: out,
		idempotencyNonce: fmt.Sprintf("%x", rand.Uint64())}
	if *kind == "enforce" {
		if o.keys, err = loadKeys(*key, *keyFile); err != nil {
			return err
		}
	}
	tgt, err := newTarget(ctx, o)
	if err != nil {
		return err
	}

	var sent atomic.Int64
	measure := func(d time.Duration, record bool) (res result) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var mu sync.Mutex
		var wg sync.WaitGroup
		var errs atomic.Int64
		res.statuses = map[int]int64{}
		start := time.Now()
		for w := range *conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 42))
				do := client.Do
				if *direct {
					dc := newDirectConn(u.Host, client.Timeout)
					defer dc.close()
					do = dc.Do
				}
				local := make([]time.Duration, 0, 1<<16)
				statuses := map[int]int64{}
				buf := make([]byte, 32<<10)
				for ctx.Err() == nil && sent.Add(1) <= int64(*maxReq) {
					req, err := tgt.request(r, w)
					if err != nil {
						errs.Add(1)
						continue
					}
					t0 := time.Now()
					res, err := do(req)
					if err != nil {
						if ctx.Err() == nil {
							errs.Add(1)
						}
						continue
					}
					for {
						if _, err := res.Body.Read(buf); err != nil {
							break
						}
					}
					res.Body.Close()
					statuses[res.StatusCode]++
					if record && (tgt.ack == 0 || res.StatusCode == tgt.ack) {
						local = append(local, time.Since(t0))
					}
				}
				mu.Lock()
				res.lat = append(res.lat, local...)
				for s, n := range statuses {
					res.statuses[s] += n
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		res.errors, res.elapsed = errs.Load(), time.Since(start)
		return res
	}
	how := "connections"
	if *direct {
		how = "direct connections"
	}
	fmt.Fprintf(out, "rathaus-load: %s, %d %s, %s (after %s warm-up), %s\n", *base, *conc, how, *dur, *warm, tgt.what)
	if *warm > 0 {
		measure(*warm, false)
	}
	sent.Store(0)
	res := measure(*dur, true)
	if len(res.lat) == 0 {
		return fmt.Errorf("no request succeeded (%d transport errors, answers %s)", res.errors, res.statusText())
	}
	lat := res.lat
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	secs := res.elapsed.Seconds()
	if tgt.ack == 0 {
		total := res.total()
		fmt.Fprintf(out, "requests: %d in %.1fs = %.0f req/s; transport errors %d, non-200 answers %d (e.g. 400 for house numbers like \"6 II\")\n",
			total, secs, float64(total)/secs, res.errors, total-res.statuses[200])
		fmt.Fprintf(out, "latency: p50 %s  p90 %s  p99 %s  max %s\n", round(pct(0.50)), round(pct(0.90)), round(pct(0.99)), round(lat[len(lat)-1]))
	} else {
		fmt.Fprintf(out, "requests: %d in %.1fs; answers %s; transport errors %d\n", res.total(), secs, res.statusText(), res.errors)
		fmt.Fprintf(out, "acknowledged (%d %s): %d = %.0f/s\n", tgt.ack, http.StatusText(tgt.ack), len(lat), float64(len(lat))/secs)
		fmt.Fprintf(out, "latency of acknowledged: p50 %s  p90 %s  p99 %s  max %s\n", round(pct(0.50)), round(pct(0.90)), round(pct(0.99)), round(lat[len(lat)-1]))
	}
	if res.errors > 0 {
		return fmt.Errorf("%d requests failed", res.errors)
	}
	return nil
}

type result struct {
	lat      []time.Duration // of recorded (acknowledged) answers
	statuses map[int]int64
	errors   int64
	elapsed  time.Duration
}

func (r result) total() int64 {
	var n int64
	for _, c := range r.statuses {
		n += c
	}
	return n
}

func (r result) statusText() string {
	var codes []int
	for c := range r.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", r.statuses[c], c))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

func newTarget(ctx context.Context, o options) (target, error) {
	switch o.kind {
	case "address", "point":
		paths, err := requestPaths(o.ars, o.kind)
		if err != nil {
			return target{}, err
		}
		return target{
			what: fmt.Sprintf("%d distinct %s requests", len(paths), o.kind),
			request: func(r *rand.Rand, _ int) (*http.Request, error) {
				return http.NewRequest(http.MethodGet, o.base+paths[r.IntN(len(paths))], nil)
			},
		}, nil
	case "submit":
		return submitTarget(ctx, o)
	case "enforce":
		return enforceTarget(ctx, o)
	}
	return target{}, fmt.Errorf("-kind %q: want address, point, submit or enforce", o.kind)
}
