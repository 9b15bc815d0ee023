package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// An excerpt of what Rathaus's GET /metrics says (rathaus demo).
const metricsText = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 58
go_sql_in_use_connections{db_name="read"} 3
go_sql_in_use_connections{db_name="write"} 1
go_sql_max_open_connections{db_name="read"} 8
go_sql_wait_count_total{db_name="read"} 0
go_sql_wait_count_total{db_name="write"} 27
process_cpu_seconds_total 6.03
process_resident_memory_bytes 1.08572672e+08
rathaus_admission_refused_total 4
rathaus_http_request_duration_seconds_bucket{code="200",method="GET",route="GET /readyz",le="0.0005"} 0
rathaus_http_requests_in_flight 12
rathaus_jobs{kind="audit.checkpoint",state="completed"} 1
`

func TestParseMetrics(t *testing.T) {
	var s sample
	if err := parseMetrics(strings.NewReader(metricsText), &s); err != nil {
		t.Fatal(err)
	}
	if !s.hasProcess || s.source != "metrics" || s.rss != 108572672 || s.cpu != 6.03 {
		t.Errorf("process: %v %q rss %g cpu %g", s.hasProcess, s.source, s.rss, s.cpu)
	}
	if !s.hasDB || s.dbInUse["read"] != 3 || s.dbInUse["write"] != 1 || s.dbWaits != 27 {
		t.Errorf("db: in use %v, waits %g", s.dbInUse, s.dbWaits)
	}
	if s.goroutines != 58 || s.inFlight != 12 || !s.hasRefused || s.refusedTotal != 4 {
		t.Errorf("goroutines %g, in flight %g, refused %g", s.goroutines, s.inFlight, s.refusedTotal)
	}
	var none sample
	if err := parseMetrics(strings.NewReader("# nothing\nfoo 1\n"), &none); err != nil || none.hasProcess || none.hasDB {
		t.Errorf("metrics without process figures: %+v, %v", none, err)
	}
}

// /proc/PID/stat and status as Linux writes them; the command name may
// hold spaces and parentheses.
func TestSamplerReadsProc(t *testing.T) {
	dir := t.TempDir()
	pid := filepath.Join(dir, "4242")
	os.Mkdir(pid, 0o755)
	os.WriteFile(filepath.Join(pid, "stat"), []byte("4242 (rathaus (x) y) S 1 4242 4242 0 -1 4194560 12 0 0 0 250 130 0 0 20 0 12 0 100 200 300\n"), 0o644)
	os.WriteFile(filepath.Join(pid, "status"), []byte("Name:\trathaus\nVmPeak:\t 300000 kB\nVmRSS:\t  102400 kB\nThreads:\t12\n"), 0o644)
	s := newSampler("", 4242)
	s.procDir = dir
	var smp sample
	if err := s.fromProc(&smp); err != nil {
		t.Fatal(err)
	}
	if smp.rss != 100<<20 || smp.cpu != 3.8 || smp.source != "proc" {
		t.Errorf("rss %g, cpu %g s, source %q; want 104857600, 3.8 s (380 ticks), proc", smp.rss, smp.cpu, smp.source)
	}
	s.pid = 4243
	if err := s.fromProc(&smp); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

// The sampler over a step: RSS max and mean, CPU used between the first
// and last sample, DB connections, refusals during the step.
func TestSamplerSummarisesAStep(t *testing.T) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1) // 1, 2, 3
		fmt.Fprintf(w, "process_cpu_seconds_total %d\nprocess_resident_memory_bytes %d\n", 10+2*i, 100_000_000*i)
		fmt.Fprintf(w, "go_sql_in_use_connections{db_name=\"read\"} %d\ngo_sql_in_use_connections{db_name=\"write\"} 1\n", i)
		fmt.Fprintf(w, "rathaus_admission_refused_total %d\n", 5*i)
	}))
	defer s.Close()
	smp := newSampler(s.URL, 0)
	from := time.Now()
	for range 3 {
		smp.take()
		time.Sleep(10 * time.Millisecond)
	}
	u := smp.use(from, time.Now())
	if u == nil {
		t.Fatalf("no summary: %v", smp.err())
	}
	if u.Samples != 3 || u.RSSMaxMB != 300 || u.RSSMeanMB != 200 || u.CPUSeconds != 4 || u.Source != "metrics" {
		t.Errorf("samples %d, RSS max %g mean %g MB, CPU %g s, source %q; want 3, 300, 200, 4, metrics", u.Samples, u.RSSMaxMB, u.RSSMeanMB, u.CPUSeconds, u.Source)
	}
	if u.DBInUseMax != 4 || u.DBInUseMean != 3 || u.DBInUseMaxByPool["read"] != 3 || u.AdmissionRefused != 10 {
		t.Errorf("db in use max %g mean %g by pool %v, refused %g; want 4, 3, read 3, 10", u.DBInUseMax, u.DBInUseMean, u.DBInUseMaxByPool, u.AdmissionRefused)
	}
	if smp.use(time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)) != nil {
		t.Error("a summary of a window without samples")
	}
	bad := newSampler(s.URL+"/nothing-here\x7f", 0)
	bad.take()
	if bad.err() == nil {
		t.Error("no error for an unreachable metrics URL")
	}
}
