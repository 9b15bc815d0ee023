package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Input bombs (issue #6): each is refused with a 4xx within 100 ms, never
// a 5xx; 100 of each at once are all refused and grow the process's
// resident memory by less than bombRSSBound; slow-loris connections are
// cut at the header deadline and do not keep others from being served.
func TestInputBombs(t *testing.T) {
	s := demoServer(t)
	apiPath := "/api/v1/municipalities/110000000000/parking/applications"
	json := map[string]string{"Content-Type": "application/json"}
	bombs := []struct {
		name    string
		method  string
		path    string
		body    string
		header  map[string]string
		maxCode int
		chunked bool // no Content-Length: the limit must cut the stream
	}{
		{"body over the limit (declared)", "POST", apiPath, `{"a":"` + strings.Repeat("x", 2<<20) + `"}`, json, 499, false},
		{"body over the limit (chunked)", "POST", apiPath, `{"a":"` + strings.Repeat("x", 2<<20) + `"}`, json, 499, true},
		{"JSON nested 10,001 deep", "POST", apiPath, strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001),
			map[string]string{"Content-Type": "application/json"}, 499, false},
		{"JSON object nested 10,001 deep", "POST", apiPath, strings.Repeat(`{"a":`, 10_001) + "1" + strings.Repeat("}", 10_001),
			map[string]string{"Content-Type": "application/json"}, 499, false},
		{"XML with a DOCTYPE", "POST", apiPath, `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]><a>&lol;</a>`,
			map[string]string{"Content-Type": "application/xml"}, 499, false},
		{"form with 1,001 fields", "POST", "/zonen", strings.Repeat("x=1&", 1001) + "adresse=" + url.QueryEscape("Lehrter Str. 53"),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 499, false},
	}
	send := func(method, path, body string, header map[string]string, chunked bool) (int, error) {
		var rd io.Reader = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // hides the length: sent chunked
		}
		req, err := http.NewRequest(method, s.base+path, rd)
		if err != nil {
			return 0, err
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	before := residentBytes(t)
	for _, tc := range bombs {
		t.Run(tc.name, func(t *testing.T) {
			ok := func(code int) bool {
				if tc.name == "form with 1,001 fields" {
					return code > 0 && code < 500 // the extra fields are ignored
				}
				return code >= 400 && code <= tc.maxCode
			}
			// Refused within 100 ms: the fastest of three tries, so that
			// one pause of a busy test machine does not decide it.
			fastest := time.Hour
			for range 3 {
				start := time.Now()
				code, err := send(tc.method, tc.path, tc.body, tc.header, tc.chunked)
				fastest = min(fastest, time.Since(start))
				if err != nil || !ok(code) {
					t.Fatalf("%d %v, want 4xx", code, err)
				}
			}
			if fastest > 100*time.Millisecond {
				t.Errorf("refused after %s, want within 100 ms", fastest)
			}
			// 100 at once: all refused, none a 5xx.
			codes := make(chan int, 100)
			var wg sync.WaitGroup
			for range 100 {
				wg.Go(func() {
					code, err := send(tc.method, tc.path, tc.body, tc.header, tc.chunked)
					if err != nil {
						code = -1
					}
					codes <- code
				})
			}
			wg.Wait()
			close(codes)
			bad := map[int]int{}
			for c := range codes {
				if !ok(c) {
					bad[c]++
				}
			}
			if len(bad) > 0 {
				t.Errorf("of 100 concurrent attempts, these were not refused with a 4xx (status → count; -1 no answer): %v", bad)
			}
		})
	}
	// The server runs in this test's process: its resident memory is the
	// test's. Bodies are read through limits, never whole.
	if grown := residentBytes(t) - before; grown > bombRSSBound {
		t.Errorf("resident memory grew by %d MiB over the bombs, bound %d MiB", grown>>20, bombRSSBound>>20)
	} else {
		t.Logf("resident memory grew by %d MiB over %d bombs × 103 attempts", grown>>20, len(bombs))
	}
	t.Run("1 MiB of headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.base+"/zonen", nil)
		req.Header.Set("X-Bombe", strings.Repeat("a", 1<<20))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%d, want 431", res.StatusCode)
		}
	})
	t.Run("slow-loris", func(t *testing.T) {
		host := strings.TrimPrefix(s.base, "http://")
		var conns []net.Conn
		for range 100 {
			c, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte("GET /zonen HTTP/1.1\r\nHost: x\r\nX-Langsam: "))
			conns = append(conns, c)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		// Others are still served at once.
		start := time.Now()
		if r := s.get(t, "/healthz"); r.status != 200 || time.Since(start) > time.Second {
			t.Errorf("with 100 slow connections open: /healthz %d after %s", r.status, time.Since(start))
		}
		// And the slow ones are cut at the header deadline (5 s).
		conns[0].SetReadDeadline(time.Now().Add(10 * time.Second))
		start = time.Now()
		line, err := bufio.NewReader(conns[0]).ReadString('\n')
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("slow connection still open after %s (%q, %v)", took, line, err)
		}
	})
}

// bombRSSBound is how much the resident memory may grow over all bombs:
// 100 concurrent 2 MiB bodies read whole would be 200 MiB and more.
const bombRSSBound = 96 << 20

// residentBytes is this process's resident set size (VmRSS).
func residentBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}
