package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/config"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// The demo registers know people only in the demo municipality.
func TestServeDemoRegistersMunicipalityIsTheDemos(t *testing.T) {
	if config.DemoRegistersMunicipality != demo.Berlin.ARS {
		t.Errorf("config.DemoRegistersMunicipality = %s, want demo.Berlin.ARS %s", config.DemoRegistersMunicipality, demo.Berlin.ARS)
	}
}

// cli runs one rathaus command as main would.
type cli struct {
	t      *testing.T
	getenv func(string) string
}

func (c cli) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, c.getenv, &out, &errOut)
	return out.String(), errOut.String(), err
}

func (c cli) must(args ...string) (stdout, stderr string) {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("rathaus %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out, errOut
}

// TestServeParking is the operator's way to Bewohnerparken in serve, on
// each engine: a signing key from permit keygen, a database prepared with
// the CLI, an API key from apikey create, then serve with the parking
// options — and serve without them offers no Bewohnerparken.
func TestServeParking(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) { testServeParking(t, e) })
	}
}

func testServeParking(t *testing.T, e store.Engine) {
	dir := t.TempDir()
	env := map[string]string{"RATHAUS_DATABASE_URL": storetest.URL(t, e)}
	c := cli{t, func(k string) string { return env[k] }}

	// The signing key: private to a new file, public for the verifiers.
	keyFile, pubFile := filepath.Join(dir, "signing-key.pem"), filepath.Join(dir, "signing-key.pub.pem")
	c.must("permit", "keygen", "--out", keyFile, "--public-out", pubFile)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want mode 0600", err, fi.Mode())
	}
	keyPEM, _ := os.ReadFile(keyFile)
	key, err := documents.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		t.Fatalf("permit keygen wrote no usable private key: %v", err)
	}
	pubPEM, _ := os.ReadFile(pubFile)
	if pub, err := documents.ParsePublicKeyPEM(pubPEM); err != nil || !pub.Equal(&key.PublicKey) {
		t.Fatalf("public key file: %v, or it does not belong to the private key", err)
	}
	if _, _, err := c.run("permit", "keygen", "--out", keyFile); err == nil || !strings.Contains(err.Error(), "wird nicht überschrieben") {
		t.Errorf("keygen onto an existing key = %v, want a refusal", err)
	}
	if after, _ := os.ReadFile(keyFile); !bytes.Equal(after, keyPEM) {
		t.Errorf("keygen changed an existing key file")
	}

	const (
		secret    = "zahlungs-geheimnis-k7Qx2-0123456789abcdef"
		authority = "Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde"
	)
	parkingEnv := map[string]string{
		"RATHAUS_DATABASE_URL":             env["RATHAUS_DATABASE_URL"],
		"RATHAUS_PARKING_REGISTERS":        "demo",
		"RATHAUS_PARKING_MUNICIPALITY":     "110000000000",
		"RATHAUS_PARKING_SIGNING_KEY_FILE": keyFile,
		"RATHAUS_PARKING_AUTHORITY":        authority,
		"RATHAUS_PAYMENT_PROVIDER":         "test",
		"RATHAUS_PAYMENT_SECRET":           secret,
	}
	p := cli{t, func(k string) string { return parkingEnv[k] }}
	serveOnce := func() error {
		_, _, err := p.run("serve", "--listen", "127.0.0.1:0")
		return err
	}

	// Rules for other municipalities only: serve names the ones it has.
	rulesDir := filepath.Join(dir, "rules")
	os.Mkdir(rulesDir, 0o755)
	copyRules(t, rulesDir, "020000000000-hamburg.json")
	parkingEnv["RATHAUS_PARKING_RULES_DIR"] = rulesDir
	if err := serveOnce(); err == nil || !strings.Contains(err.Error(), "RATHAUS_PARKING_MUNICIPALITY 110000000000: keine Regel- und Gebührenkonfiguration in "+rulesDir+" (vorhanden: 020000000000)") {
		t.Errorf("serve without rules for its municipality = %v", err)
	}
	copyRules(t, rulesDir, "110000000000-berlin.json")

	// The municipality is not in the database yet: serve refuses and says
	// which commands bring it there.
	c.must("migrate")
	if err := serveOnce(); err == nil || !strings.Contains(err.Error(), "die Kommune ist nicht in der Datenbank") ||
		!strings.Contains(err.Error(), "rathaus zones import --tenant 110000000000 --name NAME") {
		t.Errorf("serve for a municipality that is not in the database = %v, want a refusal naming rathaus zones import", err)
	}
	zonesFile, addrFile := filepath.Join(dir, "zones.geojson"), filepath.Join(dir, "addresses.csv")
	os.WriteFile(zonesFile, demo.Zones(), 0o644)
	os.WriteFile(addrFile, demo.Addresses(), 0o644)
	c.must("zones", "import", "--tenant", "110000000000", "--name", "Berlin", zonesFile)
	c.must("addresses", "import", "--tenant", "110000000000", addrFile)

	// API keys: printed once, alone on stdout.
	if _, _, err := c.run("apikey", "create", "--role", "admin", "--municipality", "110000000000", "--name", "x"); err == nil || !strings.Contains(err.Error(), "erlaubt sind enforcement und casework") {
		t.Errorf("apikey create with an unknown role = %v", err)
	}
	if _, _, err := c.run("apikey", "create", "--role", "enforcement", "--municipality", "020000000000", "--name", "x"); err == nil || !strings.Contains(err.Error(), "Keine Kommune") {
		t.Errorf("apikey create for a municipality not in the database = %v", err)
	}
	if _, _, err := c.run("apikey", "create", "--role", "enforcement"); err == nil || !strings.Contains(err.Error(), apikeyUsage) {
		t.Errorf("apikey create without municipality and name = %v", err)
	}
	out, errOut := c.must("apikey", "create", "--role", "enforcement", "--municipality", "110000000000", "--name", "Scanfahrzeug 1")
	apiKey := strings.TrimSpace(out)
	if !strings.HasPrefix(apiKey, "key_") || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "nur dieses eine Mal") {
		t.Fatalf("apikey create printed %q and %q; want the key alone on stdout", out, errOut)
	}

	s := launch(t, modeServe, nil, parkingEnv)
	stopped := false
	defer func() {
		if !stopped {
			s.stop()
		}
	}()
	stdout, stderr := s.stdout.String(), s.stderr.String()
	for _, want := range []string{
		"ACHTUNG: Demo-Register", "keine echten Registerabfragen",
		"ACHTUNG: Testzahlung – es fließt kein Geld",
		"RATHAUS_PARKING_SIGNING_KEY=xxxxx", "RATHAUS_PAYMENT_SECRET=xxxxx", "RATHAUS_PARKING_REGISTERS=demo",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("serve's output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, `"level":"WARN","msg":"Bewohnerparken runs on the synthetic demo registers`) ||
		!strings.Contains(stderr, `"level":"WARN","msg":"Bewohnerparken uses the test payment provider`) {
		t.Errorf("serve does not warn in the log about demo registers and test payment:\n%s", stderr)
	}
	keyBody := strings.Split(string(keyPEM), "\n")[1]
	for name, text := range map[string]string{"stdout": stdout, "log": stderr} {
		if strings.Contains(text, keyBody) || strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, secret) {
			t.Errorf("serve's %s shows the signing key or the payment secret:\n%s", name, text)
		}
	}
	for path, want := range map[string]int{
		"/bewohnerparken":                 200,
		"/demo":                           404,
		"/api/v1/demo/residents":          404,
		"/demo/post":                      404,
		"/sachbearbeitung/bewohnerparken": 401,
	} {
		if r := s.get(t, path); r.status != want {
			t.Errorf("serve with Bewohnerparken: GET %s = %d, want %d", path, r.status, want)
		}
	}

	// A citizen applies through the API, pays on the test provider's
	// pages and gets a permit that verifies offline with the public key.
	var resident demoResident
	addrs, err := demo.AddressesInZones()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range registers.NewDemo(2026, addrs).Residents() {
		if r.Expect == registers.ExpectEligible && len(r.Vehicles) > 0 {
			resident = demoResident{GivenNames: r.Person.GivenNames, FamilyName: r.Person.FamilyName, BirthDate: r.Person.BirthDate.Format("02.01.2006"),
				Address: r.Address.Street + " " + r.Address.HouseNumber + ", " + r.Address.Postcode, Plates: []string{r.Vehicles[0].Plate.String()}}
			break
		}
	}
	r, rec := s.submit(t, applicationBody(resident), "serve-parking-1")
	if r.status != 201 || rec.Reference == "" {
		t.Fatalf("submit on serve = %d %s, want 201", r.status, r.body)
	}
	s.waitStatus(t, rec, "approved")
	r = s.do(t, "POST", "/api/v1/parking/applications/"+rec.Reference+"/payment", nil, map[string]string{"X-Access-Code": rec.AccessCode})
	var pay struct {
		RedirectURL string `json:"redirect_url"`
	}
	r.json(t, &pay)
	u, err := url.Parse(pay.RedirectURL)
	if r.status != 200 || err != nil || !strings.HasPrefix(u.Path, "/testzahlung/") {
		t.Fatalf("payment = %d %s, want a redirect to /testzahlung/", r.status, r.body)
	}
	if r := s.do(t, "POST", u.Path, strings.NewReader("outcome=paid"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != 303 {
		t.Fatalf("test payment = %d %s", r.status, r.body)
	}
	a := s.waitStatus(t, rec, "issued")
	if a.Permit == nil || a.Permit.Token == "" {
		t.Fatalf("issued without permit: %+v", a)
	}
	if out, _, err := c.run("permit", "verify", "--key", pubFile, a.Permit.Token); err != nil || !strings.Contains(out, a.Permit.Plate) {
		t.Errorf("permit verify with the keygen public key = %v\n%s", err, out)
	}
	otherPub := filepath.Join(dir, "other.pub.pem")
	c.must("permit", "keygen", "--out", filepath.Join(dir, "other.pem"), "--public-out", otherPub)
	if _, _, err := c.run("permit", "verify", "--key", otherPub, a.Permit.Token); err == nil {
		t.Errorf("permit verify with another key accepted the permit")
	}
	// Behind it stand neither real registers nor real money: the permit is
	// a specimen, and the verification page says so.
	if page := s.get(t, "/pruefen/"+a.Permit.Token); page.status != 200 || !bytes.Contains(page.body, []byte("Gültig (Demo-Ausweis)")) {
		t.Errorf("verification page = %d, want 200 saying Gültig (Demo-Ausweis)", page.status)
	}
	auth := map[string]string{"Authorization": "Bearer " + apiKey}
	r = s.do(t, "GET", "/api/v1/enforcement/permits?"+url.Values{"plate": {a.Permit.Plate}, "purpose": {"Test"}}.Encode(), nil, auth)
	var ans map[string]any
	r.json(t, &ans)
	if r.status != 200 || ans["valid"] != true {
		t.Errorf("enforcement with the apikey create key = %d %v", r.status, ans)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true

	// The operator lists keys (never secrets) and revokes one.
	keyID, keySecret, _ := strings.Cut(apiKey, ".")
	out, _ = c.must("apikey", "list", "--municipality", "110000000000")
	if !strings.Contains(out, keyID) || !strings.Contains(out, "Scanfahrzeug 1") || strings.Contains(out, keySecret) || !strings.Contains(out, "–") {
		t.Errorf("apikey list = %q, want the key's id and name, not revoked, without its secret", out)
	}
	if out, _ = c.must("apikey", "revoke", apiKey); !strings.Contains(out, keyID+` ("Scanfahrzeug 1", enforcement, 110000000000) widerrufen`) {
		t.Errorf("apikey revoke = %q", out)
	}
	if _, _, err := c.run("apikey", "revoke", keyID); err == nil || !strings.Contains(err.Error(), "ist seit") {
		t.Errorf("second revocation = %v, want an error saying since when", err)
	}
	if _, _, err := c.run("apikey", "revoke", "key_000000000000"); err == nil || !strings.Contains(err.Error(), "gibt es nicht") {
		t.Errorf("revocation of an unknown key = %v", err)
	}
	if out, _ = c.must("apikey", "list"); strings.Contains(out, "–") || !strings.Contains(out, keyID) {
		t.Errorf("apikey list after the revocation = %q, want a revocation time", out)
	}

	// Without the options serve offers no Bewohnerparken on the same
	// database, and says nothing about demo backends.
	plain := start(t, modeServe, nil, env)
	for _, path := range []string{"/bewohnerparken", "/testzahlung/x", "/demo", "/api/v1/demo/residents"} {
		if r := plain.get(t, path); r.status != 404 {
			t.Errorf("serve without Bewohnerparken: GET %s = %d, want 404", path, r.status)
		}
	}
	if strings.Contains(plain.stdout.String(), "ACHTUNG") {
		t.Errorf("serve without Bewohnerparken warns about demo backends:\n%s", plain.stdout)
	}
}

// copyRules copies a shipped rule file into dir.
func copyRules(t *testing.T, dir, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "parking", "rules", "municipalities", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// permit keygen without --out: the private key on stdout, the public key
// on stderr, each usable as it is.
func TestPermitKeygenToStdout(t *testing.T) {
	c := cli{t, func(string) string { return "" }}
	out, errOut := c.must("permit", "keygen")
	key, err := documents.ParsePrivateKeyPEM([]byte(out))
	if err != nil {
		t.Fatalf("stdout is no private key: %v\n%s", err, out)
	}
	pub, err := documents.ParsePublicKeyPEM([]byte(errOut))
	if err != nil || !pub.Equal(&key.PublicKey) {
		t.Fatalf("stderr is not the matching public key: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, documents.KeyID(pub)) {
		t.Errorf("stderr does not name the key id:\n%s", errOut)
	}
	if strings.Contains(errOut, "PRIVATE") {
		t.Errorf("the private key went to stderr")
	}
	if _, _, err := c.run("permit", "keygen", "extra"); err == nil {
		t.Errorf("permit keygen accepted an argument")
	}
	if _, _, err := c.run("permit"); err == nil || !strings.Contains(err.Error(), "permit keygen") {
		t.Errorf("permit without subcommand = %v", err)
	}
}
