package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
)

// overloadConfig is the admission configuration the overload test runs
// with — the one README recommends for a node with two cores.
var overloadConfig = []string{"RATHAUS_MAX_IN_FLIGHT=32", "RATHAUS_ADMISSION_WAIT=20ms", "RATHAUS_MAX_CONNECTIONS=4096"}

// overloadRSSBound is what the server's resident memory must stay under
// during the overload.
const overloadRSSBound = 400 // MB

// loadReport is the part of rathaus-load's JSON report the test reads.
type loadReport struct {
	Steps []struct {
		Rate  float64                 `json:"rate"`
		Total loadFigures             `json:"total"`
		Kind  map[string]*loadFigures `json:"by_kind"`
		Lag   struct {
			P99 float64 `json:"p99"`
		} `json:"send_lag_ms"`
		Server *struct {
			RSSMaxMB float64 `json:"rss_max_mb"`
		} `json:"server"`
	} `json:"steps"`
	Knee *struct {
		Rate float64 `json:"rate"`
	} `json:"knee"`
}

type loadFigures struct {
	Sent     int64            `json:"sent"`
	OK       int64            `json:"ok"`
	Errors   int64            `json:"errors"`
	Outcomes map[string]int64 `json:"outcomes"`
	Latency  struct {
		P99 float64 `json:"p99"`
	} `json:"latency_ms"`
	LatencyOK struct {
		P99 float64 `json:"p99"`
	} `json:"latency_ok_ms"`
}

// TestOverload: the demo at ten times the rate it sustains (its knee,
// found first with rathaus-load step). Rathaus must keep serving: what it
// cannot take it refuses at once with 503 + Retry-After, never another
// 5xx; its resident memory stays under overloadRSSBound; /healthz answers
// within 5 s throughout; it is back to normal right after; every
// acknowledged submission is stored. The admitted requests' p99 is held
// against the normal p99 (at most twice) in the long form, when the load
// tool itself kept up — on two cores shared by server and load tool it
// does not (BENCHMARKS.md), and the test says so. 10 s of overload; 60 s
// with RATHAUS_OUTAGE_LONG=1.
func TestOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads the binary")
	}
	over, long := pick(10*time.Second, 60*time.Second), outageLong()
	bin := rathausBinary(t)
	dir := t.TempDir()
	loadBin := filepath.Join(dir, "rathaus-load")
	if out, err := exec.Command("go", "build", "-o", loadBin, "../rathaus-load").CombinedOutput(); err != nil {
		t.Fatalf("build rathaus-load: %v\n%s", err, out)
	}
	// Server and load tool on cores of their own where there are two.
	pin := func(cpu int, args ...string) []string { return args }
	if _, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
		pin = func(cpu int, args ...string) []string {
			return append([]string{"taskset", "-c", strconv.Itoa(cpu)}, args...)
		}
	}
	addr := freePort(t)
	base := "http://" + addr
	data := filepath.Join(dir, "data")
	demoProc := launchCmd(t, pin(0, bin, "demo", "--listen", addr, "--data", data, "--log-level", "warn"),
		append(os.Environ(), overloadConfig...), addr)
	demoProc.mustBeReady(t)
	srv := demoProc.cmd
	// The address register answers a moment after /readyz.
	residents(t, &server{base: base})
	time.Sleep(2 * time.Second)

	pid := strconv.Itoa(srv.Process.Pid) // taskset execs the program: the same PID
	var submitted, submitAcked int64
	load := func(name string, args ...string) loadReport {
		t.Helper()
		out := filepath.Join(dir, name+".json")
		a := pin(1, append([]string{loadBin}, args...)...)
		// No warm-up: every submission sent is in the report.
		a = append(a, "-base", base, "-mix", "submit=1,status=1", "-pid", pid, "-metrics", "off", "-warmup", "0s", "-out", out)
		cmd := exec.Command(a[0], a[1:]...)
		var text bytes.Buffer
		cmd.Stdout, cmd.Stderr = &text, &text
		if err := cmd.Run(); err != nil {
			t.Fatalf("rathaus-load %s: %v\n%s", name, err, text.String())
		}
		t.Logf("rathaus-load %s:\n%s", name, text.String())
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var rep loadReport
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("report of %s: %v", name, err)
		}
		for _, s := range rep.Steps {
			if k := s.Kind["submit"]; k != nil {
				submitted += k.Sent
				submitAcked += k.Outcomes["2xx"]
			}
		}
		return rep
	}
	// What the server answered wrongly: any 4xx or 5xx but the 503
	// refusal, and connections it broke. Timeouts and client_overrun are
	// the load tool's queue (it waits for one of its connections) on a
	// machine it shares with the server: reported, not the server's fault.
	badOutcomes := func(f loadFigures) map[string]int64 {
		bad := map[string]int64{}
		for o, n := range f.Outcomes {
			if strings.HasPrefix(o, "4xx") || strings.HasPrefix(o, "5xx") || o == "connection_error" {
				bad[o] = n
			}
		}
		return bad
	}

	knee := load("knee", "step", "-rate", "20", "-step", "x1.5", "-step-duration", "3s", "-max-p99", "300ms", "-max-errors", "1", "-max-rate", "20000")
	rate := 20.0 // a machine so busy that not even 20/s stay within 300 ms: overload from there
	if knee.Knee != nil {
		rate = knee.Knee.Rate
	}
	normal := load("normal", "open", "-rate", fmt.Sprint(rate), "-duration", "8s")
	np99 := normal.Steps[0].Total.LatencyOK.P99

	// Ten times that, with /healthz asked every 200 ms meanwhile.
	var healthMu sync.Mutex
	var slowest time.Duration
	var unhealthy []string
	stop := make(chan struct{})
	var hw sync.WaitGroup
	hw.Go(func() {
		hc := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			start := time.Now()
			res, err := hc.Get(base + "/healthz")
			took := time.Since(start)
			healthMu.Lock()
			slowest = max(slowest, took)
			if err != nil {
				unhealthy = append(unhealthy, err.Error())
			} else {
				res.Body.Close()
				// A new connection beyond RATHAUS_MAX_CONNECTIONS is refused
				// before its request is read, health check or not.
				if res.StatusCode != 200 && res.StatusCode != http.StatusServiceUnavailable {
					unhealthy = append(unhealthy, res.Status)
				}
			}
			healthMu.Unlock()
		}
	})
	// At most 200 connections (the server takes 256): on one machine, a
	// new connection for every request would cost the load tool more
	// than the server; the wait for a connection is in the latency.
	heavy := load("overload", "open", "-rate", fmt.Sprint(10*rate), "-duration", over.String(), "-max-in-flight", "20000", "-conns", "2000")
	close(stop)
	hw.Wait()
	o := heavy.Steps[0]
	if bad := badOutcomes(o.Total); len(bad) > 0 {
		t.Errorf("at 10x the knee, outcomes other than success and 503 refusals: %v", bad)
	}
	if !demoProc.alive() {
		t.Fatalf("the server exited under overload:\n%s", demoProc.out)
	}
	var rss float64
	if o.Server == nil || o.Server.RSSMaxMB == 0 {
		t.Errorf("no RSS sampled from /proc/%s", pid)
	} else if rss = o.Server.RSSMaxMB; rss > overloadRSSBound {
		t.Errorf("RSS %.0f MB under overload, bound %d MB", rss, overloadRSSBound)
	}
	healthMu.Lock()
	// /healthz is exempt from admission but shares the one core with
	// thousands of connection goroutines: before refusals were cheap
	// (web.Refusal) it took more than 5 s (BENCHMARKS.md).
	if len(unhealthy) > 0 || slowest > 5*time.Second {
		t.Errorf("/healthz under overload: slowest %s, failures %v", slowest, unhealthy)
	}
	healthMu.Unlock()
	// The admitted requests' p99 against the normal one is judged in the
	// long form only: on the two cores of a CI machine shared with other
	// tests, the load tool and the server's own refusals (see
	// BENCHMARKS.md) it is a figure of the machine's load as much as of
	// Rathaus.
	ap99 := o.Total.LatencyOK.P99
	switch {
	case o.Lag.P99 > np99/2:
		t.Logf("admitted p99 %.1f ms against %.1f ms normal NOT judged: the load tool sent late itself (p99 %.1f ms) — "+
			"on this machine it could not offer 10x the knee", ap99, np99, o.Lag.P99)
	case ap99 > 2*np99 && long:
		t.Errorf("admitted p99 %.1f ms at 10x the knee, more than twice the normal %.1f ms", ap99, np99)
	case ap99 > 2*np99:
		t.Logf("admitted p99 %.1f ms at 10x the knee, more than twice the normal %.1f ms (judged in the long form)", ap99, np99)
	}
	// Back to normal at once.
	after := load("after", "open", "-rate", fmt.Sprint(rate/2), "-duration", "4s")
	if a := after.Steps[0].Total; len(badOutcomes(a)) > 0 || a.Errors*20 > a.Sent {
		t.Errorf("after the overload, at half the knee: %d errors of %d %v", a.Errors, a.Sent, a.Outcomes)
	}

	// Every acknowledged submission is stored (none twice: each had its
	// own Idempotency-Key).
	srv.Process.Kill()
	<-demoProc.exited
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLiteURL(filepath.Join(data, "rathaus.db")), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored int64
	db.Read().QueryRowContext(ctx, "SELECT count(*) FROM parking_applications").Scan(&stored)
	if stored < submitAcked || stored > submitted {
		t.Errorf("%d applications stored; %d submissions acknowledged of %d sent", stored, submitAcked, submitted)
	}
	t.Logf("knee %.0f/s (p99 %.1f ms admitted); at %.0f/s for %s: %d answered, %d refused (503), %d timed out and %d not sent in the load tool, admitted p99 %.1f ms, tool send lag p99 %.1f ms, server RSS max %.0f MB, /healthz slowest %s; submissions: %d sent, %d acknowledged, %d stored",
		rate, np99, 10*rate, over, o.Total.OK, o.Total.Outcomes["refused"], o.Total.Outcomes["timeout"], o.Total.Outcomes["client_overrun"], ap99, o.Lag.P99, rss, slowest, submitted, submitAcked, stored)
}
