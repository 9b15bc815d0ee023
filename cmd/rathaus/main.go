// Command rathaus is the one binary of Rathaus: the demo, the production
// server and the operator's tools. It only wires packages together; what it
// wires is documented in the packages.
//
//	rathaus demo       everything in one process on an embedded SQLite file
//	rathaus serve      the production server (PostgreSQL or SQLite by URL)
//	rathaus migrate    apply database migrations
//	rathaus zones import --tenant ARS FILE.geojson
//	rathaus addresses import --tenant ARS FILE.csv
//	rathaus permit keygen [--out KEY.pem] [--public-out PUBKEY.pem]
//	rathaus permit verify --key PUBKEY.pem TOKEN
//	rathaus apikey create --role enforcement|casework --municipality ARS --name NAME
//	rathaus apikey list [--municipality ARS]
//	rathaus apikey revoke ID
//	rathaus audit verify [--key PUBKEY.pem]
//	rathaus version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	minProcs(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rathaus:", err)
		}
		os.Exit(1)
	}
}

// minGOMAXPROCS is the fewest Ps Rathaus runs with. On one CPU (a VM with
// one vCPU, a process pinned to one core by a cpuset or taskset) Go would
// run one P — for a cgroup CPU quota it already takes at least two — and a
// goroutine in a blocking file system call — SQLite's writes and
// fsyncs through modernc.org/sqlite's pure-Go libc — holds it until the
// runtime's monitor hands it off, while every other request waits: pinned
// to one core, the demo's knee was 1,012 requests/s with p99 227 ms at one P
// and 1,519/s with p99 40 ms at two (34 ms at four; BENCHMARKS.md, issue #6).
// More Ps than CPUs did not help on two CPUs (eight were slower), so the
// floor is two, as Go's own for CPU quotas.
const minGOMAXPROCS = 2

// minProcs raises GOMAXPROCS to minGOMAXPROCS unless the operator set
// GOMAXPROCS: then that holds.
func minProcs(getenv func(string) string) {
	if getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minGOMAXPROCS {
		runtime.GOMAXPROCS(minGOMAXPROCS)
	}
}

const usage = `Rathaus – Online-Dienste für Kommunen

Aufruf:
  rathaus demo      [--listen 127.0.0.1:8080] [--data rathaus-data]   Demo mit Berlin auf SQLite
  rathaus serve     [--database-url URL] [--listen :8080] …           Produktionsserver
  rathaus migrate   [--database-url URL]                              Datenbank-Migrationen anwenden
  rathaus zones import --tenant ARS [--valid-from JJJJ-MM-TT] [--name NAME] DATEI.geojson
  rathaus addresses import --tenant ARS DATEI.csv
  rathaus permit keygen [--out SCHLÜSSEL.pem] [--public-out ÖFFENTLICH.pem]
  rathaus permit verify --key SCHLÜSSEL.pem TOKEN                 QR-Code eines Ausweises offline prüfen
  rathaus apikey create --role enforcement|casework --municipality ARS --name NAME
  rathaus apikey list   [--municipality ARS]                       API-Schlüssel anzeigen (ohne Geheimnis)
  rathaus apikey revoke ID                                         API-Schlüssel widerrufen
  rathaus audit verify [--key ÖFFENTLICH.pem]                      Audit-Protokoll prüfen (Kette und Signaturen)
  rathaus pki init --dir DIR --name NAME                           Zertifizierungsstelle eines Amtsnetzes anlegen
  rathaus pki issue --dir DIR --member ID --org ORG --host H[,H]   Mitgliedszertifikat eines Knotens ausstellen
  rathaus pki directory --dir DIR --in BESCHREIBUNG.json --out V.jws  Amtsnetz-Verzeichnis signieren
  rathaus node --config KNOTEN.json                                Amtsnetz-Knoten einer Organisation betreiben
  rathaus log verify --database-url URL --cert KNOTEN.pem [--record N]  Nachrichtenprotokoll eines Knotens prüfen
  rathaus version

Jeder Schalter hat eine Umgebungsvariable (RATHAUS_…); "rathaus BEFEHL -h" zeigt sie.
`

// run is the whole program; tests call it with their own arguments,
// environment and output, on port 0 and a temporary database.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("kein Befehl angegeben")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return runServer(ctx, modeDemo, rest, getenv, stdout, stderr, nil)
	case "serve":
		return runServer(ctx, modeServe, rest, getenv, stdout, stderr, nil)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "zones":
		if len(rest) == 0 || rest[0] != "import" {
			return errors.New("erwartet: rathaus zones import --tenant ARS DATEI.geojson")
		}
		return runZonesImport(ctx, rest[1:], getenv, stdout, stderr)
	case "addresses":
		if len(rest) == 0 || rest[0] != "import" {
			return errors.New("erwartet: rathaus addresses import --tenant ARS DATEI.csv")
		}
		return runAddressesImport(ctx, rest[1:], getenv, stdout, stderr)
	case "audit":
		if len(rest) > 0 && rest[0] == "verify" {
			return runAuditVerify(ctx, rest[1:], getenv, stdout, stderr)
		}
		return errors.New("erwartet: " + auditUsage)
	case "permit":
		switch {
		case len(rest) > 0 && rest[0] == "verify":
			return runPermitVerify(rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "keygen":
			return runPermitKeygen(rest[1:], stdout, stderr)
		}
		return errors.New("erwartet: rathaus permit keygen [--out SCHLÜSSEL.pem] oder rathaus permit verify --key SCHLÜSSEL.pem TOKEN")
	case "apikey":
		switch {
		case len(rest) > 0 && rest[0] == "create":
			return runAPIKeyCreate(ctx, rest[1:], getenv, stdout, stderr)
		case len(rest) > 0 && rest[0] == "list":
			return runAPIKeyList(ctx, rest[1:], getenv, stdout, stderr)
		case len(rest) > 0 && rest[0] == "revoke":
			return runAPIKeyRevoke(ctx, rest[1:], getenv, stdout, stderr)
		}
		return errors.New("erwartet: " + apikeyCommands)
	case "pki":
		return runPKI(rest, stdout, stderr)
	case "node":
		return runNode(ctx, rest, stdout, stderr)
	case "log":
		if len(rest) > 0 && rest[0] == "verify" {
			return runLogVerify(ctx, rest[1:], getenv, stdout, stderr)
		}
		return errors.New("erwartet: " + logUsage)
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unbekannter Befehl %q", cmd)
}
