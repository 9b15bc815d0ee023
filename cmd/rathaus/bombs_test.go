package main

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Input bombs (issue #6): each is refused with a 4xx, quickly, never a 5xx;
// slow-loris connections are cut at the header deadline and do not keep
// others from being served.
func TestInputBombs(t *testing.T) {
	s := demoServer(t)
	apiPath := "/api/v1/municipalities/110000000000/parking/applications"
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		body    string
		header  map[string]string
		maxCode int
	}{
		{"JSON nested 10,001 deep", "POST", apiPath, strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001),
			map[string]string{"Content-Type": "application/json"}, 499},
		{"JSON object nested 10,001 deep", "POST", apiPath, strings.Repeat(`{"a":`, 10_001) + "1" + strings.Repeat("}", 10_001),
			map[string]string{"Content-Type": "application/json"}, 499},
		{"XML with a DOCTYPE", "POST", apiPath, `<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]><a>&lol;</a>`,
			map[string]string{"Content-Type": "application/xml"}, 499},
		{"form with 1,001 fields", "POST", "/zonen", strings.Repeat("x=1&", 1001) + "adresse=" + url.QueryEscape("Lehrter Str. 53"),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 499},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			r := s.do(t, tc.method, tc.path, strings.NewReader(tc.body), tc.header)
			took := time.Since(start)
			if tc.name == "form with 1,001 fields" {
				if r.status >= 500 {
					t.Errorf("%d, want no 5xx", r.status)
				}
			} else if r.status < 400 || r.status > tc.maxCode {
				t.Errorf("%d, want 4xx", r.status)
			}
			if took > time.Second {
				t.Errorf("took %s", took)
			}
		})
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
