package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The server's resource use during a run, sampled every second from its
// Prometheus endpoint (GET /metrics; Rathaus exports the process, Go
// runtime and database pool collectors there) and, with -pid, from
// /proc/PID of a server on this machine.

// sample is one reading; has* say which figures it holds.
type sample struct {
	at time.Time

	hasProcess   bool
	source       string  // of rss and cpu: "metrics" or "proc"
	rss          float64 // bytes
	cpu          float64 // seconds, user + system, since the process started
	hasDB        bool
	dbInUse      map[string]float64 // go_sql_in_use_connections by pool (db_name: read, write)
	dbWaits      float64            // go_sql_wait_count_total, all pools
	goroutines   float64
	inFlight     float64 // rathaus_http_requests_in_flight
	hasRefused   bool
	refusedTotal float64 // rathaus_admission_refused_total
}

// sampler takes samples from the metrics URL and /proc/PID.
type sampler struct {
	client  *http.Client
	url     string // "" for none
	pid     int    // 0 for none
	clkTck  float64
	procDir string // /proc, replaced in tests

	mu      sync.Mutex
	samples []sample
	lastErr error
}

func newSampler(metricsURL string, pid int) *sampler {
	return &sampler{client: &http.Client{Timeout: 2 * time.Second}, url: metricsURL, pid: pid,
		// USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux
		// architecture Go runs on.
		clkTck: 100, procDir: "/proc"}
}

// run samples every second until ctx ends.
func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.take()
		}
	}
}

func (s *sampler) enabled() bool { return s.url != "" || s.pid != 0 }

// take reads one sample now and keeps it.
func (s *sampler) take() {
	if !s.enabled() {
		return
	}
	smp := sample{at: time.Now()}
	var errs []string
	if s.url != "" {
		if err := s.fromMetrics(&smp); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if s.pid != 0 {
		if err := s.fromProc(&smp); err != nil {
			errs = append(errs, err.Error())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, smp)
	if len(errs) > 0 {
		s.lastErr = fmt.Errorf("%s", strings.Join(errs, "; "))
	}
}

func (s *sampler) fromMetrics(smp *sample) error {
	res, err := s.client.Get(s.url)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, res.Body)
		return fmt.Errorf("metrics: GET %s: %d", s.url, res.StatusCode)
	}
	return parseMetrics(res.Body, smp)
}

// parseMetrics reads the figures of a sample from the Prometheus text
// format: lines "name{labels} value [timestamp]", comments with '#'.
func parseMetrics(r io.Reader, smp *sample) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var rss, cpu bool
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, value, ok := metricLine(line)
		if !ok {
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			smp.rss, rss = value, true
		case "process_cpu_seconds_total":
			smp.cpu, cpu = value, true
		case "go_sql_in_use_connections":
			if smp.dbInUse == nil {
				smp.dbInUse = map[string]float64{}
			}
			smp.dbInUse[labelValue(labels, "db_name")] += value
			smp.hasDB = true
		case "go_sql_wait_count_total":
			smp.dbWaits += value
		case "go_goroutines":
			smp.goroutines = value
		case "rathaus_http_requests_in_flight":
			smp.inFlight = value
		case "rathaus_admission_refused_total":
			smp.refusedTotal, smp.hasRefused = value, true
		}
	}
	if rss && cpu {
		smp.hasProcess, smp.source = true, "metrics"
	}
	return sc.Err()
}

// metricLine splits a sample line of the text format.
func metricLine(line string) (name, labels string, value float64, ok bool) {
	rest := line
	if i := strings.IndexAny(line, "{ "); i < 0 {
		return "", "", 0, false
	} else if line[i] == '{' {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", "", 0, false
		}
		name, labels, rest = line[:i], line[i+1:j], strings.TrimSpace(line[j+1:])
	} else {
		name, rest = line[:i], strings.TrimSpace(line[i+1:])
	}
	v, _, _ := strings.Cut(rest, " ")
	f, err := strconv.ParseFloat(v, 64)
	return name, labels, f, err == nil
}

// labelValue returns the value of label key in `a="x",b="y"` (no escapes
// needed for the labels read here).
func labelValue(labels, key string) string {
	for l := range strings.SplitSeq(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if ok && k == key {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// fromProc reads RSS and CPU time of s.pid: /proc/PID/status (VmRSS, kB)
// and /proc/PID/stat (utime and stime, fields 14 and 15, in clock ticks).
// They replace the /metrics figures: with -pid the server may be a
// process that does not export them.
func (s *sampler) fromProc(smp *sample) error {
	dir := fmt.Sprintf("%s/%d/", s.procDir, s.pid)
	stat, err := os.ReadFile(dir + "stat")
	if err != nil {
		return fmt.Errorf("-pid: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return fmt.Errorf("-pid: %sstat: no command name", dir)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return fmt.Errorf("-pid: %sstat: %d fields", dir, len(f))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("-pid: %sstat: utime %q stime %q", dir, f[11], f[12])
	}
	status, err := os.ReadFile(dir + "status")
	if err != nil {
		return fmt.Errorf("-pid: %w", err)
	}
	for l := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return fmt.Errorf("-pid: VmRSS %q", v)
			}
			smp.rss, smp.cpu, smp.hasProcess, smp.source = kb*1024, (utime+stime)/s.clkTck, true, "proc"
			return nil
		}
	}
	return fmt.Errorf("-pid: %sstatus has no VmRSS", dir)
}

// serverUse is the server's resource use over a step, for the report.
type serverUse struct {
	Source      string  `json:"source,omitempty"` // where RSS and CPU came from: "metrics" (GET /metrics) or "proc" (-pid)
	Samples     int     `json:"samples"`
	RSSMaxMB    float64 `json:"rss_max_mb,omitempty"`
	RSSMeanMB   float64 `json:"rss_mean_mb,omitempty"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	CPUCores    float64 `json:"cpu_cores"` // CPU seconds per second of the step
	DBInUseMax  float64 `json:"db_connections_in_use_max"`
	DBInUseMean float64 `json:"db_connections_in_use_mean"`
	// DBInUseMaxByPool: go_sql_in_use_connections by db_name (read, write).
	DBInUseMaxByPool map[string]float64 `json:"db_connections_in_use_max_by_pool,omitempty"`
	DBWaits          float64            `json:"db_connection_waits"` // waits for a free connection during the step
	GoroutinesMax    float64            `json:"goroutines_max,omitempty"`
	InFlightMax      float64            `json:"server_requests_in_flight_max,omitempty"`
	AdmissionRefused float64            `json:"admission_refused"` // rathaus_admission_refused_total during the step
	hasDB            bool
}

// use summarises the samples taken from `from` to `to`, both included;
// nil when none of them has process figures.
func (s *sampler) use(from, to time.Time) *serverUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	var in []sample
	for _, smp := range s.samples {
		if !smp.at.Before(from) && !smp.at.After(to) && (smp.hasProcess || smp.hasDB) {
			in = append(in, smp)
		}
	}
	if len(in) == 0 {
		return nil
	}
	// The ticker's samples and the ones taken at a step's start and end
	// may be appended out of order.
	slices.SortFunc(in, func(a, b sample) int { return a.at.Compare(b.at) })
	u := &serverUse{Samples: len(in), DBInUseMaxByPool: map[string]float64{}}
	var first, last *sample
	var nRSS, nDB int
	for i := range in {
		smp := &in[i]
		if smp.hasProcess {
			if first == nil {
				first = smp
			}
			last = smp
			u.Source = smp.source
			u.RSSMaxMB = max(u.RSSMaxMB, smp.rss/1e6)
			u.RSSMeanMB += smp.rss / 1e6
			nRSS++
		}
		if smp.hasDB {
			var total float64
			for pool, n := range smp.dbInUse {
				total += n
				u.DBInUseMaxByPool[pool] = max(u.DBInUseMaxByPool[pool], n)
			}
			u.DBInUseMax = max(u.DBInUseMax, total)
			u.DBInUseMean += total
			nDB++
			u.hasDB = true
		}
		u.GoroutinesMax = max(u.GoroutinesMax, smp.goroutines)
		u.InFlightMax = max(u.InFlightMax, smp.inFlight)
	}
	if nRSS > 0 {
		u.RSSMeanMB /= float64(nRSS)
		u.CPUSeconds = last.cpu - first.cpu
		if d := last.at.Sub(first.at).Seconds(); d > 0 {
			u.CPUCores = u.CPUSeconds / d
		}
	}
	if nDB > 0 {
		u.DBInUseMean /= float64(nDB)
	}
	if a, b := in[0], in[len(in)-1]; a.hasRefused && b.hasRefused {
		u.AdmissionRefused = b.refusedTotal - a.refusedTotal
	}
	u.DBWaits = in[len(in)-1].dbWaits - in[0].dbWaits
	for _, f := range []*float64{&u.RSSMaxMB, &u.RSSMeanMB, &u.CPUSeconds, &u.CPUCores, &u.DBInUseMean} {
		*f = roundTo(*f, 3)
	}
	return u
}

// err is the latest sampling error, if any.
func (s *sampler) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}
