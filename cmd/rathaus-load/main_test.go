package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// fakeRathaus answers the demo residents, counts submissions by
// Idempotency-Key and enforcement lookups by key, and serves the status
// page and API of the receipts it gave.
type fakeRathaus struct {
	mu      sync.Mutex
	keys    map[string]int // Idempotency-Key → submissions
	bodies  []map[string]any
	lookups map[string]int // Authorization → lookups
	plates  map[string]int
	codes   map[string]string // reference → access code, of receipts given
	// Status reads: opened with reference and code (lookup), read with the
	// page's cookie (page), through the API (api), and with a reference,
	// code or cookie that was never given (bad).
	lookupsByRef, pages, api, bad int
	zones                         int
	// submitDelay holds each submission's answer back this long.
	submitDelay atomic.Int64
}

func newFake(t *testing.T) (*fakeRathaus, *httptest.Server) {
	f := &fakeRathaus{keys: map[string]int{}, lookups: map[string]int{}, plates: map[string]int{}, codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/demo/residents", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"residents":[
			{"given_names":"Jan","family_name":"Kaiser","birth_date":"16.01.1958","address":"Wichertstraße 45, 10439","plates":["B-UY 7078"],"expect":"berechtigt"},
			{"given_names":"Ümit","family_name":"von Weiß","birth_date":"01.02.1990","address":"Lehrter Str. 53, 10557","plates":["B-AB 12"],"expect":"berechtigt"},
			{"given_names":"Kim","family_name":"Ohne","birth_date":"01.02.1990","address":"Lehrter Str. 53, 10557","plates":[],"expect":"kein Fahrzeug"},
			{"given_names":"Lea","family_name":"Klein","birth_date":"01.02.2012","address":"Lehrter Str. 53, 10557","plates":["B-CD 3"],"expect":"minderjährig"}]}`)
	})
	mux.HandleFunc("POST /api/v1/municipalities/{ars}/parking/applications", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad", 400)
			return
		}
		f.mu.Lock()
		f.keys[r.Header.Get("Idempotency-Key")]++
		f.bodies = append(f.bodies, body)
		ref, code := fmt.Sprintf("BP-2026-%08d", len(f.bodies)), fmt.Sprintf("C%d", len(f.bodies))
		f.codes[ref] = code
		f.mu.Unlock()
		time.Sleep(time.Duration(f.submitDelay.Load()))
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"reference":%q,"access_code":%q,"status":"received"}`, ref, code)
	})
	mux.HandleFunc("POST /bewohnerparken/status", func(w http.ResponseWriter, r *http.Request) {
		ref, code := r.PostFormValue("reference"), r.PostFormValue("access_code")
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.codes[ref] != code || code == "" {
			f.bad++
			w.WriteHeader(422)
			return
		}
		f.lookupsByRef++
		http.SetCookie(w, &http.Cookie{Name: "bp_zugang", Value: code + ".sig", Path: "/bewohnerparken/status/" + ref})
		http.Redirect(w, r, "/bewohnerparken/status/"+ref, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /bewohnerparken/status/{ref}", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("bp_zugang")
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil || c.Value != f.codes[r.PathValue("ref")]+".sig" {
			f.bad++
			io.WriteString(w, "<p>Zugangscode eingeben</p>")
			return
		}
		f.pages++
		io.WriteString(w, "<h1>Stand Ihres Antrags</h1>")
	})
	mux.HandleFunc("GET /api/v1/parking/applications/{ref}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if code := f.codes[r.PathValue("ref")]; code == "" || r.Header.Get("X-Access-Code") != code {
			f.bad++
			w.WriteHeader(404)
			return
		}
		f.api++
		io.WriteString(w, `{"status":"received"}`)
	})
	mux.HandleFunc("GET /api/v1/municipalities/{ars}/zone-lookup", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("address") == "" {
			http.Error(w, "address", 400)
			return
		}
		f.mu.Lock()
		f.zones++
		f.mu.Unlock()
		io.WriteString(w, `{"status":"found"}`)
	})
	mux.HandleFunc("GET /api/v1/enforcement/permits", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("purpose") == "" {
			http.Error(w, "purpose", 400)
			return
		}
		f.mu.Lock()
		f.lookups[r.Header.Get("Authorization")]++
		f.plates[r.URL.Query().Get("plate")]++
		f.mu.Unlock()
		io.WriteString(w, `{"valid":false}`)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return f, s
}

func TestSubmitSendsDistinctKeysForEligibleResidents(t *testing.T) {
	f, s := newFake(t)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-url", s.URL, "-kind", "submit", "-c", "4", "-d", "200ms", "-warmup", "100ms"}, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "acknowledged (201 Created)") {
		t.Errorf("output lacks the acknowledged line:\n%s", out.String())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) < 10 {
		t.Fatalf("only %d submissions", len(f.bodies))
	}
	for k, n := range f.keys {
		if k == "" || n != 1 {
			t.Fatalf("Idempotency-Key %q sent %d times: every submission must be a new application", k, n)
		}
	}
	for _, b := range f.bodies {
		if b["plate"] != "B-UY 7078" && b["plate"] != "B-AB 12" {
			t.Fatalf("submitted for a resident who is not eligible: %v", b)
		}
		if b["birth_date"] != "1958-01-16" && b["birth_date"] != "1990-02-01" {
			t.Fatalf("birth date not in ISO form: %v", b["birth_date"])
		}
	}
}

func TestEnforceSpreadsKeysAndLooksUpDemoPlates(t *testing.T) {
	f, s := newFake(t)
	file := filepath.Join(t.TempDir(), "keys.txt")
	os.WriteFile(file, []byte("enforcement=key_a.s1\ncasework=key_c.s3\n# comment\nkey_b.s2\n"), 0o600)
	var out bytes.Buffer
	err := run(t.Context(), []string{"-url", s.URL, "-kind", "enforce", "-key-file", file, "-permits", "0", "-c", "4", "-d", "200ms", "-warmup", "0s"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lookups) != 2 || f.lookups["Bearer key_a.s1"] == 0 || f.lookups["Bearer key_b.s2"] == 0 {
		t.Errorf("lookups by key %v, want both enforcement keys and not the casework key", f.lookups)
	}
	for p := range f.plates {
		if p != "B-UY 7078" && p != "B-AB 12" && p != "B-CD 3" {
			t.Errorf("looked up %q, not a demo plate", p)
		}
	}
}

func TestEnforceNeedsAKey(t *testing.T) {
	_, s := newFake(t)
	if err := run(t.Context(), []string{"-url", s.URL, "-kind", "enforce", "-d", "10ms"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-key") {
		t.Errorf("without a key: %v", err)
	}
}

func TestEnforceDirectSendsTheSameRequests(t *testing.T) {
	f, s := newFake(t)
	var out bytes.Buffer
	err := run(t.Context(), []string{"-url", s.URL, "-kind", "enforce", "-key", "key_a.s1", "-permits", "0", "-c", "3", "-d", "200ms", "-warmup", "0s", "-direct"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "3 direct connections") || !strings.Contains(out.String(), "acknowledged (200 OK)") {
		t.Errorf("output:\n%s", out.String())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lookups["Bearer key_a.s1"] < 10 || len(f.lookups) != 1 {
		t.Errorf("lookups by key %v, want many with key_a", f.lookups)
	}
	for p := range f.plates {
		if p != "B-UY 7078" && p != "B-AB 12" && p != "B-CD 3" {
			t.Errorf("looked up %q, not a demo plate", p)
		}
	}
}

func TestDirectNeedsPlainHTTP(t *testing.T) {
	if err := run(t.Context(), []string{"-url", "https://127.0.0.1:1", "-direct", "-d", "10ms"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "-direct") {
		t.Errorf("-direct with https: %v", err)
	}
}
