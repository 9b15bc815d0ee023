// Command rathaus-load measures Rathaus's HTTP throughput and latency: it
// sends zone-lookup requests for real Berlin addresses (taken from the demo
// data) from a fixed number of concurrent connections for a fixed time and
// reports requests per second and latency percentiles.
//
//	go run ./cmd/rathaus-load -url http://127.0.0.1:8080 -c 32 -d 20s
//
// It only targets the URL it is given; run it against loopback. Requests
// are bounded by -d and -n; it stops by itself.
package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"opencode.de/rathaus/rathaus/internal/demo"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rathaus-load:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("rathaus-load", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of a running Rathaus")
	conc := fs.Int("c", 32, "concurrent connections")
	dur := fs.Duration("d", 10*time.Second, "duration of the measurement")
	warm := fs.Duration("warmup", 2*time.Second, "warm-up before measuring")
	maxReq := fs.Int("n", 5_000_000, "stop after this many requests")
	kind := fs.String("kind", "address", "request kind: address (zone lookup by address) or point (by lat/lon)")
	ars := fs.String("ars", demo.Berlin.ARS, "municipality")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("-url %q: need http(s)://host:port", *base)
	}
	paths, err := requestPaths(*ars, *kind)
	if err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConns: *conc, MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var sent atomic.Int64
	measure := func(d time.Duration, record bool) (lat []time.Duration, errors, non200 int64, elapsed time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var mu sync.Mutex
		var wg sync.WaitGroup
		var errs, bad atomic.Int64
		start := time.Now()
		for w := range *conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 42))
				local := make([]time.Duration, 0, 1<<16)
				buf := make([]byte, 32<<10)
				for ctx.Err() == nil && sent.Add(1) <= int64(*maxReq) {
					p := paths[r.IntN(len(paths))]
					t0 := time.Now()
					res, err := client.Get(*base + p)
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
					if res.StatusCode != 200 {
						bad.Add(1)
					}
					if record {
						local = append(local, time.Since(t0))
					}
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return lat, errs.Load(), bad.Load(), time.Since(start)
	}
	fmt.Fprintf(out, "rathaus-load: %s, %d connections, %s (after %s warm-up), %d distinct %s requests\n",
		*base, *conc, *dur, *warm, len(paths), *kind)
	if *warm > 0 {
		measure(*warm, false)
	}
	sent.Store(0)
	lat, errors, non200, elapsed := measure(*dur, true)
	if len(lat) == 0 {
		return fmt.Errorf("no request succeeded (%d errors)", errors)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	fmt.Fprintf(out, "requests: %d in %.1fs = %.0f req/s; transport errors %d, non-200 answers %d (e.g. 400 for house numbers like \"6 II\")\n", len(lat), elapsed.Seconds(), float64(len(lat))/elapsed.Seconds(), errors, non200)
	fmt.Fprintf(out, "latency: p50 %s  p90 %s  p99 %s  max %s\n", round(pct(0.50)), round(pct(0.90)), round(pct(0.99)), round(lat[len(lat)-1]))
	if errors > 0 {
		return fmt.Errorf("%d requests failed", errors)
	}
	return nil
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

// requestPaths builds lookup URLs from the real address points of the demo:
// each as the register spells it and in a variant a user would type.
func requestPaths(ars, kind string) ([]string, error) {
	r := csv.NewReader(bytes.NewReader(demo.Addresses()))
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	var paths []string
	prefix := "/api/v1/municipalities/" + ars + "/zone-lookup?"
	for i, row := range rows {
		if i == 0 || len(row) < 10 || row[0] == "" || row[1] == "" {
			continue
		}
		number, street, postcode, lon, lat := row[0], row[1], strings.TrimSuffix(row[2], ".0"), row[8], row[9]
		switch kind {
		case "point":
			paths = append(paths, prefix+url.Values{"lat": {lat}, "lon": {lon}}.Encode())
		default:
			text := street + " " + number
			if postcode != "" {
				text += ", " + postcode
			}
			if i%2 == 0 {
				text = strings.ToLower(strings.Replace(text, "straße", "str.", 1))
			}
			paths = append(paths, prefix+url.Values{"address": {text}}.Encode())
		}
		if len(paths) >= 5000 {
			break
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no addresses in the demo data")
	}
	return paths, nil
}
