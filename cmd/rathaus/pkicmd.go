package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/directory"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
)

// The trust of an Amtsnetz from the command line (internal/amtsnetz/pki):
// the operator makes the root CA once and issues each member's node its
// certificate. Keys are written with mode 0600 and never overwritten.

const pkiUsage = "rathaus pki init --dir VERZEICHNIS --name NAME  oder  rathaus pki issue --dir VERZEICHNIS --member KLASSE:KENNUNG --org ORGANISATION --host NAME[,NAME…]"

func runPKI(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("erwartet: " + pkiUsage)
	}
	switch args[0] {
	case "init":
		return runPKIInit(args[1:], stdout, stderr)
	case "issue":
		return runPKIIssue(args[1:], stdout, stderr)
	case "directory":
		return runPKIDirectory(args[1:], stdout, stderr)
	}
	return errors.New("erwartet: " + pkiUsage)
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s gibt es schon; vorhandene Schlüssel und Zertifikate werden nie überschrieben", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func runPKIInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pki init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "Verzeichnis der Zertifizierungsstelle (ca.pem, ca-key.pem)")
	name := fs.String("name", "", `Name des Amtsnetzes, z. B. "Amtsnetz Berlin"`)
	years := fs.Int("years", 10, "Gültigkeit in Jahren")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *name == "" || fs.NArg() != 0 {
		return errors.New("erwartet: rathaus pki init --dir VERZEICHNIS --name NAME [--years 10]")
	}
	if *years < 1 || *years > 20 {
		return errors.New("--years: 1 bis 20")
	}
	ca, err := pki.NewCA(*name, time.Now(), time.Duration(*years)*365*24*time.Hour)
	if err != nil {
		return err
	}
	keyPEM, err := pki.KeyPEM(ca.Key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(*dir, "ca-key.pem"), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(*dir, "ca.pem"), pki.CertPEM(ca.Cert), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Zertifizierungsstelle %q angelegt: %s (an alle Mitglieder verteilen), %s (geheim halten, am besten offline)\n  SHA-256: %s, gültig bis %s\n",
		*name, filepath.Join(*dir, "ca.pem"), filepath.Join(*dir, "ca-key.pem"), pki.Fingerprint(ca.Cert), ca.Cert.NotAfter.Format("2006-01-02"))
	return nil
}

func runPKIIssue(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pki issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "Verzeichnis der Zertifizierungsstelle")
	member := fs.String("member", "", "Mitglieds-ID KLASSE:KENNUNG[:teilsystem], z. B. KOMMUNE:110000000000:meldebehoerde")
	org := fs.String("org", "", "Name der Organisation")
	hosts := fs.String("host", "", "Hostnamen und IP-Adressen des Knotens, durch Komma getrennt")
	out := fs.String("out", "", "Zielverzeichnis (Standard: --dir)")
	days := fs.Int("days", 365, "Gültigkeit in Tagen (höchstens 1095)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *member == "" || *org == "" || *hosts == "" || fs.NArg() != 0 {
		return errors.New("erwartet: " + pkiUsage)
	}
	ca, err := loadCADir(*dir)
	if err != nil {
		return err
	}
	cert, key, err := ca.Issue(pki.Member{ID: *member, Org: *org, Hosts: strings.Split(*hosts, ","),
		Validity: time.Duration(*days) * 24 * time.Hour}, time.Now())
	if err != nil {
		return err
	}
	if *out == "" {
		*out = *dir
	}
	base := filepath.Join(*out, strings.ReplaceAll(*member, ":", "_"))
	mk, err := pki.KeyPEM(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	if err := writeNew(base+"-key.pem", mk, 0o600); err != nil {
		return err
	}
	if err := writeNew(base+".pem", pki.CertPEM(cert), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Mitglied %s (%s): %s, %s\n  SHA-256: %s, gültig bis %s\n", *member, *org, base+".pem", base+"-key.pem",
		pki.Fingerprint(cert), cert.NotAfter.Format("2006-01-02"))
	return nil
}

// directorySpec is the operator's description of the directory: members
// with their certificates as files, services with their clients.
type directorySpec struct {
	Network   string `json:"network"`
	ValidDays int    `json:"valid_days"`
	Members   []struct {
		ID           string   `json:"id"`
		Org          string   `json:"org"`
		Address      string   `json:"address"`
		Certificates []string `json:"certificates"` // PEM files
	} `json:"members"`
	Services []directory.Service `json:"services"`
}

// runPKIDirectory signs a directory from its description with the CA.
func runPKIDirectory(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pki directory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "Verzeichnis der Zertifizierungsstelle")
	in := fs.String("in", "", "Beschreibung des Amtsnetz-Verzeichnisses (JSON)")
	out := fs.String("out", "", "signiertes Verzeichnis (JWS), das die Knoten abrufen")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *in == "" || *out == "" || fs.NArg() != 0 {
		return errors.New("erwartet: rathaus pki directory --dir VERZEICHNIS --in BESCHREIBUNG.json --out VERZEICHNIS.jws")
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var spec directorySpec
	if err := dec.Decode(&spec); err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if spec.ValidDays < 1 || spec.ValidDays > 365 {
		return errors.New("valid_days: 1 bis 365")
	}
	ca, err := loadCADir(*dir)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	d := &directory.Directory{Network: spec.Network, Version: now.UnixNano(), Issued: now, Until: now.AddDate(0, 0, spec.ValidDays), Services: spec.Services}
	for _, m := range spec.Members {
		dm := directory.Member{ID: m.ID, Org: m.Org, Address: m.Address}
		for _, f := range m.Certificates {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			c, err := pki.ParseCertPEM(b)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if id, err := pki.MemberID(c); err != nil || id != m.ID {
				return fmt.Errorf("%s nennt das Mitglied %q, nicht %q", f, id, m.ID)
			}
			dm.Certificates = append(dm.Certificates, pki.Fingerprint(c))
		}
		d.Members = append(d.Members, dm)
	}
	signed, err := directory.Sign(d, ca)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, signed, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Verzeichnis %q Version %d signiert: %s (%d Mitglieder, %d Dienste, gültig bis %s)\n",
		d.Network, d.Version, *out, len(d.Members), len(d.Services), d.Until.Format("2006-01-02"))
	return nil
}

// loadCADir reads the CA of an Amtsnetz from its directory (ca.pem,
// ca-key.pem).
func loadCADir(dir string) (*pki.CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return nil, err
	}
	return pki.LoadCA(certPEM, keyPEM)
}
