package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/adapters"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/directory"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/node"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// The whole way with the commands an operator uses: a CA, two member
// certificates, a signed directory, and rathaus node serving the
// registration office's HTTP backend; a member calls it with node.Client
// and gets the backend's answer; the node's log verifies after shutdown.
func TestNodeCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := func(string) string { return "" }
	var out, errb bytes.Buffer
	do := func(args ...string) {
		t.Helper()
		if err := run(ctx, args, env, &out, &errb); err != nil {
			t.Fatalf("rathaus %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
	}
	ca := filepath.Join(dir, "ca")
	do("pki", "init", "--dir", ca, "--name", "Amtsnetz Test")
	do("pki", "issue", "--dir", ca, "--member", "KOMMUNE:110000000000:meldebehoerde", "--org", "Bezirksamt", "--host", "127.0.0.1")
	do("pki", "issue", "--dir", ca, "--member", "KOMMUNE:110000000000:parken", "--org", "Straßenverkehrsbehörde", "--host", "127.0.0.1")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := ln.Addr().String()
	ln.Close()

	var mu sync.Mutex
	var seen []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+r.Header.Get("Amtsnetz-Client")+" "+r.Header.Get("Amtsnetz-Purpose")+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"gemeldet":true}`)
	}))
	defer backend.Close()

	spec := map[string]any{"network": "Amtsnetz Test", "valid_days": 30,
		"members": []map[string]any{
			{"id": "KOMMUNE:110000000000:meldebehoerde", "org": "Bezirksamt", "address": "https://" + listen,
				"certificates": []string{filepath.Join(ca, "KOMMUNE_110000000000_meldebehoerde.pem")}},
			{"id": "KOMMUNE:110000000000:parken", "org": "Straßenverkehrsbehörde", "address": "https://127.0.0.1:1",
				"certificates": []string{filepath.Join(ca, "KOMMUNE_110000000000_parken.pem")}},
		},
		"services": []map[string]any{{"id": "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen", "title": "Wohnsitz prüfen",
			"clients": []string{"KOMMUNE:110000000000:parken"}},
			{"id": "KOMMUNE:110000000000:meldebehoerde/wohnsitz-aus-export", "title": "Wohnsitz prüfen (CSV-Export)",
				"clients": []string{"KOMMUNE:110000000000:parken"}},
			{"id": "KOMMUNE:110000000000:meldebehoerde/wohnsitz-aus-datenbank", "title": "Wohnsitz prüfen (Datenbank)",
				"clients": []string{"KOMMUNE:110000000000:parken"}}}}
	b, _ := json.Marshal(spec)
	os.WriteFile(filepath.Join(dir, "verzeichnis.json"), b, 0o600)
	dirFile := filepath.Join(dir, "verzeichnis.jws")
	do("pki", "directory", "--dir", ca, "--in", filepath.Join(dir, "verzeichnis.json"), "--out", dirFile)

	exportFile := filepath.Join(dir, "melderegister.csv")
	os.WriteFile(exportFile, []byte("vornamen,familienname,geburtsdatum,strasse,hausnummer,postleitzahl,art,seit,auskunftssperre\n"+
		"Anna,Muster,1980-01-01,Lehrter Straße,53,10557,haupt,2020-01-01,nein\n"), 0o600)
	officeDB := "sqlite:" + filepath.Join(dir, "meldeamt.db")
	odb, err := store.Open(ctx, officeDB, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE TABLE einwohner (vornamen TEXT, familienname TEXT, geburtsdatum TEXT, strasse TEXT, hausnummer TEXT,
		postleitzahl TEXT, art TEXT, seit TEXT, auskunftssperre TEXT)`,
		`INSERT INTO einwohner VALUES ('Anna', 'Muster', '1980-01-01', 'Lehrter Straße', '53', '10557', 'neben', '2020-01-01', 'nein')`} {
		if _, err := odb.Write().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	odb.Close()
	logURL := "sqlite:" + filepath.Join(dir, "knoten.db")
	cfg := map[string]any{"member": "KOMMUNE:110000000000:meldebehoerde",
		"cert": filepath.Join(ca, "KOMMUNE_110000000000_meldebehoerde.pem"), "key": filepath.Join(ca, "KOMMUNE_110000000000_meldebehoerde-key.pem"),
		"ca": filepath.Join(ca, "ca.pem"), "listen": listen,
		"directory": map[string]any{"file": dirFile, "grace": "1h"},
		"log":       map[string]any{"database_url": logURL, "retention_days": 90},
		"services": map[string]any{"wohnsitz-pruefen": map[string]any{"http": backend.URL},
			"wohnsitz-aus-export":    map[string]any{"csv": map[string]any{"kind": "melderegister", "file": exportFile}},
			"wohnsitz-aus-datenbank": map[string]any{"sql": map[string]any{"kind": "melderegister", "database_url": officeDB, "table": "einwohner"}}}}
	b, _ = json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "knoten.json")
	os.WriteFile(cfgFile, b, 0o600)

	nctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var nodeOut, nodeErr bytes.Buffer
	go func() { done <- run(nctx, []string{"node", "--config", cfgFile}, env, &nodeOut, &nodeErr) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", listen); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node did not listen: %s", nodeErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The consumer.
	read := func(name string) []byte { b, _ := os.ReadFile(filepath.Join(ca, name)); return b }
	cert, _ := pki.ParseCertPEM(read("KOMMUNE_110000000000_parken.pem"))
	key, _ := pki.ParseKeyPEM(read("KOMMUNE_110000000000_parken-key.pem"))
	caCert, _ := pki.ParseCertPEM(read("ca.pem"))
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	cache := &directory.Cache{File: dirFile, CA: caCert, Grace: time.Hour}
	if err := cache.Load(); err != nil {
		t.Fatal(err)
	}
	cdb := storetest.Open(t, "sqlite", msglog.Migrations)
	clog, _ := msglog.Open(ctx, cdb, key, nil)
	c := &node.Client{Identity: node.Identity{ID: "KOMMUNE:110000000000:parken", Cert: cert, Key: key}, Roots: roots, Directory: cache,
		Log: clog, Logger: slog.New(slog.DiscardHandler)}
	resp, err := c.Call(ctx, "KOMMUNE:110000000000:meldebehoerde/wohnsitz-pruefen", "Bewohnerparken, § 34 BMG", "BP-2026-AAAAAAAA", []byte(`{"person":"Muster"}`), true)
	if err != nil || string(resp) != `{"gemeldet":true}` {
		t.Fatalf("call through rathaus node: %s, %v\n%s", resp, err, nodeErr.String())
	}
	// The same office's register from its CSV export, through the adapters.
	res := adapters.Residence{C: c, Service: "KOMMUNE:110000000000:meldebehoerde/wohnsitz-aus-export"}
	birth, _ := time.Parse("2006-01-02", "1980-01-01")
	ans, err := res.CheckResidence(ctx, registers.Purpose{Procedure: "Bewohnerparkausweis", FileReference: "BP-2026-AAAAAAAA", Reason: "Prüfung",
		LegalBasis: "§ 34 BMG"}, registers.Person{GivenNames: "Anna", FamilyName: "Muster", BirthDate: birth},
		registers.AddressRef{Street: "Lehrter Str.", HouseNumber: "53", Postcode: "10557"})
	if err != nil || !ans.Registered || ans.Kind != registers.Hauptwohnsitz || !strings.Contains(ans.Source, "CSV-Export") {
		t.Errorf("residence from the CSV export: %+v %v", ans, err)
	}
	fromDB := adapters.Residence{C: c, Service: "KOMMUNE:110000000000:meldebehoerde/wohnsitz-aus-datenbank"}
	ans, err = fromDB.CheckResidence(ctx, registers.Purpose{Procedure: "Bewohnerparkausweis", FileReference: "BP-2026-AAAAAAAA", Reason: "Prüfung",
		LegalBasis: "§ 34 BMG"}, registers.Person{GivenNames: "Anna", FamilyName: "Muster", BirthDate: birth},
		registers.AddressRef{Street: "Lehrter Str.", HouseNumber: "53", Postcode: "10557"})
	if err != nil || !ans.Registered || ans.Kind != registers.Nebenwohnsitz || !strings.Contains(ans.Source, "Datenbank") {
		t.Errorf("residence from the office's database: %+v %v", ans, err)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0] != `/wohnsitz-pruefen KOMMUNE:110000000000:parken Bewohnerparken, § 34 BMG {"person":"Muster"}` {
		t.Errorf("backend saw %q", seen)
	}
	mu.Unlock()
	stop()
	if err := <-done; err != nil {
		t.Fatalf("node: %v", err)
	}
	out.Reset()
	do("log", "verify", "--database-url", logURL, "--cert", filepath.Join(ca, "KOMMUNE_110000000000_meldebehoerde.pem"), "--record", "1")
	if !strings.Contains(out.String(), "intakt: 6 Einträge") || !strings.Contains(out.String(), "Eintrag 1 ist im signierten Baum der Größe 6") {
		t.Errorf("log verify after shutdown:\n%s", out.String())
	}
	// Another member's certificate is refused, naming both.
	cfg["member"] = "KOMMUNE:110000000000:parken"
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfgFile, b, 0o600)
	if err := run(ctx, []string{"node", "--config", cfgFile}, env, &out, &errb); err == nil || !strings.Contains(err.Error(), "nennt das Mitglied") {
		t.Errorf("a node with another member's certificate: %v", err)
	}
	// A configuration with an unknown field or no services is refused.
	os.WriteFile(cfgFile, []byte(`{"member":"KOMMUNE:1","tippfehler":true}`), 0o600)
	if err := run(ctx, []string{"node", "--config", cfgFile}, env, &out, &errb); err == nil {
		t.Error("a broken node configuration was accepted")
	}
}
