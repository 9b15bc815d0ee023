package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/adapters"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/registers"
)

// registerBackend is an office's own system behind its node: the demo
// registers over plain HTTP, as rathaus node forwards to it.
func registerBackend(t *testing.T, regs *registers.Demo) *httptest.Server {
	backends := map[string]node.Backend{adapters.ServiceResidence: adapters.ResidenceBackend(regs.Residence()),
		adapters.ServiceVehicle: adapters.VehicleBackend(regs.Vehicles())}
	for code, b := range adapters.TreasuryBackends(regs.Treasury()) {
		backends[code] = b
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := backends[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		status, resp, err := b.Serve(r.Context(), message.Header{Client: r.Header.Get("Amtsnetz-Client"), Purpose: r.Header.Get("Amtsnetz-Purpose")}, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runningNode is a rathaus node process of its own (the binary), killed
// with SIGKILL and started again with the same configuration.
type runningNode struct {
	t      *testing.T
	bin    string
	config string
	listen string
	cmd    *exec.Cmd
	out    *syncBuffer
}

func (n *runningNode) start() {
	n.t.Helper()
	n.out = &syncBuffer{}
	n.cmd = exec.Command(n.bin, "node", "--config", n.config)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", n.listen); err == nil {
			c.Close()
			return
		}
		if n.cmd.ProcessState != nil || time.Now().After(deadline) {
			n.t.Fatalf("node %s did not listen:\n%s", n.config, n.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the process at once (SIGKILL: no shutdown, no final head).
func (n *runningNode) kill() {
	n.cmd.Process.Kill()
	n.cmd.Wait()
}

// TestServeOverAmtsnetz is the topology of issue #5 in separate
// processes: rathaus serve asks the registration office, the vehicle
// register and the treasury through their own rathaus node processes
// (the binary, each in front of its office's HTTP system), configured
// only with the operator's commands.
// An application is decided over the Amtsnetz; the registration office's
// node is killed (SIGKILL) — the next application waits "in Prüfung" and
// nothing is decided; after the node's restart it completes on its own,
// nothing is lost, and the node's log still verifies.
func TestServeOverAmtsnetz(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs node processes")
	}
	bin := rathausBinary(t)
	ctx := context.Background()
	dir := t.TempDir()
	env := func(string) string { return "" }
	must := func(args ...string) {
		t.Helper()
		if err := run(ctx, args, env, io.Discard, io.Discard); err != nil {
			t.Fatalf("rathaus %s: %v", strings.Join(args, " "), err)
		}
	}
	ca := filepath.Join(dir, "ca")
	must("pki", "init", "--dir", ca, "--name", "Amtsnetz Test")
	members := map[string]string{"parken": "KOMMUNE:110000000000:parken", "melde": "KOMMUNE:110000000000:meldebehoerde",
		"kfz": "LAND:11:kfz", "kasse": "KOMMUNE:110000000000:kasse"}
	for _, id := range members {
		must("pki", "issue", "--dir", ca, "--member", id, "--org", "Test "+id, "--host", "127.0.0.1")
	}
	certOf := func(id string) string { return filepath.Join(ca, strings.ReplaceAll(id, ":", "_")+".pem") }
	keyOf := func(id string) string { return filepath.Join(ca, strings.ReplaceAll(id, ":", "_")+"-key.pem") }

	addrs, err := demo.AddressesInZones()
	if err != nil {
		t.Fatal(err)
	}
	regs := registers.NewDemo(2026, addrs)
	backend := registerBackend(t, regs)

	services := map[string][]string{"melde": {adapters.ServiceResidence}, "kfz": {adapters.ServiceVehicle},
		"kasse": {adapters.ServiceReceivable, adapters.ServiceBooked, adapters.ServiceRefund}}
	listen := map[string]string{}
	var specMembers []map[string]any
	var specServices []map[string]any
	for name, id := range members {
		address := "https://127.0.0.1:1"
		if name != "parken" {
			listen[name] = freePort(t)
			address = "https://" + listen[name]
		}
		specMembers = append(specMembers, map[string]any{"id": id, "org": "Test", "address": address, "certificates": []string{certOf(id)}})
		for _, code := range services[name] {
			specServices = append(specServices, map[string]any{"id": id + "/" + code, "title": code, "clients": []string{members["parken"]}})
		}
	}
	writeJSON := func(name string, v any) string {
		b, _ := json.Marshal(v)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	spec := writeJSON("verzeichnis.json", map[string]any{"network": "Amtsnetz Test", "valid_days": 30, "members": specMembers, "services": specServices})
	dirFile := filepath.Join(dir, "verzeichnis.jws")
	must("pki", "directory", "--dir", ca, "--in", spec, "--out", dirFile)

	nodes := map[string]*runningNode{}
	for _, name := range []string{"melde", "kfz", "kasse"} {
		id := members[name]
		svc := map[string]any{}
		for _, code := range services[name] {
			svc[code] = map[string]any{"http": backend.URL}
		}
		cfg := writeJSON(name+".json", map[string]any{"member": id, "cert": certOf(id), "key": keyOf(id), "ca": filepath.Join(ca, "ca.pem"),
			"listen": listen[name], "directory": map[string]any{"file": dirFile}, "log": map[string]any{"database_url": "sqlite:" + filepath.Join(dir, name+".db")},
			"services": svc})
		nodes[name] = &runningNode{t: t, bin: bin, config: cfg, listen: listen[name]}
		nodes[name].start()
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.kill()
		}
	})

	// Rathaus serve, configured like TestServeParking but with the Amtsnetz.
	member := writeJSON("rathaus-amtsnetz.json", map[string]any{"member": members["parken"], "cert": certOf(members["parken"]),
		"key": keyOf(members["parken"]), "ca": filepath.Join(ca, "ca.pem"), "directory": map[string]any{"file": dirFile},
		"registers": map[string]any{"residence": members["melde"] + "/" + adapters.ServiceResidence,
			"vehicles": members["kfz"] + "/" + adapters.ServiceVehicle, "treasury": members["kasse"]}})
	dbURL := "sqlite:" + filepath.Join(dir, "rathaus.db")
	keyFile := seedServe(t, dir, dbURL)
	// Rathaus is a process of its own too.
	addr := freePort(t)
	serveCmd := exec.Command(bin, "serve", "--listen", addr, "--log-level", "warn")
	serveCmd.Env = []string{"RATHAUS_DATABASE_URL=" + dbURL, "RATHAUS_PARKING_REGISTERS=amtsnetz", "RATHAUS_AMTSNETZ_CONFIG=" + member,
		"RATHAUS_PARKING_MUNICIPALITY=110000000000", "RATHAUS_PARKING_SIGNING_KEY_FILE=" + keyFile,
		"RATHAUS_PARKING_AUTHORITY=Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde", "RATHAUS_PAYMENT_PROVIDER=test",
		"RATHAUS_PAYMENT_SECRET=zahlungs-geheimnis-k7Qx2-0123456789abcdef", "RATHAUS_JOB_RESCUE_AFTER=5s"}
	serveOut := &syncBuffer{}
	serveCmd.Stdout, serveCmd.Stderr = serveOut, serveOut
	if err := serveCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serveCmd.Process.Kill(); serveCmd.Wait() })
	s := &server{base: "http://" + addr}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if res, err := http.Get(s.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready:\n%s", serveOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var eligible []registers.DemoResident
	for _, r := range regs.Residents() {
		if r.Expect == registers.ExpectEligible && len(r.Vehicles) > 0 {
			eligible = append(eligible, r)
		}
	}
	body := func(r registers.DemoResident) []byte {
		b, _ := json.Marshal(map[string]any{"given_names": r.Person.GivenNames, "family_name": r.Person.FamilyName,
			"birth_date": r.Person.BirthDate.Format("2006-01-02"), "address": r.Address.Street + " " + r.Address.HouseNumber + ", " + r.Address.Postcode,
			"plate": r.Vehicles[0].Plate.String(), "relation": "holder", "duration_months": 24, "no_own_space": true,
			"email": "test@example.org", "truthful": true})
		return b
	}
	r, first := s.submit(t, body(eligible[0]), "topology-1")
	if r.status != 201 {
		t.Fatalf("submit over the Amtsnetz: %d %s", r.status, r.body)
	}
	s.waitStatus(t, first, "approved")

	// The registration office's node goes down for a while (3 s; 30 s with
	// RATHAUS_OUTAGE_LONG=1); the applications of that time wait, and none
	// is decided on missing data.
	down, during := pick(3*time.Second, 30*time.Second), pick(3, 20)
	nodes["melde"].kill()
	wentDown := time.Now()
	var waiting []receipt
	for i := range during {
		r, rc := s.submit(t, body(eligible[1+i%(len(eligible)-1)]), fmt.Sprintf("topology-down-%d", i))
		if r.status != 201 {
			t.Fatalf("submit %d with the node down: %d %s", i, r.status, r.body)
		}
		waiting = append(waiting, rc)
		time.Sleep(down / time.Duration(2*during))
	}
	time.Sleep(time.Until(wentDown.Add(down)))
	decided := 0
	for _, rc := range waiting {
		var app struct{ Status string }
		s.do(t, "GET", "/api/v1/parking/applications/"+rc.Reference, nil, map[string]string{"X-Access-Code": rc.AccessCode}).json(t, &app)
		if app.Status != "received" && app.Status != "checking" {
			decided++
			t.Errorf("with the registration office down for %s an application is %q, want still in Prüfung", time.Since(wentDown).Round(time.Second), app.Status)
		}
	}
	// Back: they complete by themselves.
	nodes["melde"].start()
	cameBack := time.Now()
	for _, rc := range waiting {
		s.waitStatus(t, rc, "approved")
	}
	t.Logf("registration office's node down %s: %d applications acknowledged meanwhile, %d decided while it was down, all %d approved %s after its restart",
		down, len(waiting), decided, len(waiting), time.Since(cameBack).Round(100*time.Millisecond))
	// The killed node's log is intact: records without gaps, and the heads
	// it signed before the kill fit them.
	var out strings.Builder
	if err := run(ctx, []string{"log", "verify", "--database-url", "sqlite:" + filepath.Join(dir, "melde.db"), "--cert", certOf(members["melde"])},
		env, &out, io.Discard); err != nil {
		t.Errorf("log of the killed node: %v\n%s", err, out.String())
	}
}
