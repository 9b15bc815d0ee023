package main

import (
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/documents"
)

// runPermitVerify checks a permit's QR token offline, with the
// municipality's public key (PEM file, as published at
// /api/v1/municipalities/{ars}/parking/keys). Revocation cannot be seen
// offline; the command says so.
func runPermitVerify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("permit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "öffentlicher Schlüssel der Kommune (PEM-Datei)")
	at := fs.String("at", "", "Prüfzeitpunkt JJJJ-MM-TT (Standard: heute)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || fs.NArg() != 1 {
		return errors.New("erwartet: rathaus permit verify --key SCHLÜSSEL.pem TOKEN")
	}
	pemBytes, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	pub, err := documents.ParsePublicKeyPEM(pemBytes)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	v, err := documents.NewVerifier(map[string]*ecdsa.PublicKey{documents.KeyID(pub): pub})
	if err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse("2006-01-02", *at); err != nil {
			return fmt.Errorf("--at %q: erwartet JJJJ-MM-TT", *at)
		}
		now = now.Add(12 * time.Hour)
	}
	token := strings.TrimSpace(fs.Arg(0))
	if i := strings.LastIndex(token, "/pruefen/"); i >= 0 { // a scanned URL
		token = token[i+len("/pruefen/"):]
	}
	c, err := v.Verify(token, now)
	if err != nil {
		fmt.Fprintln(stdout, "NICHT GÜLTIG: Signatur oder Inhalt ungültig")
		return err
	}
	status := documents.Status(c, now)
	fmt.Fprintf(stdout, "Ausweis %s – %s\n  Kennzeichen %s, Zone %s, gültig %s bis %s (Kommune %s)\n  Hinweis: einen Widerruf zeigt nur die Online-Prüfung.\n",
		c.Permit, strings.ToUpper(status), c.Plate, strings.Join(c.Zones, ", "), c.ValidFrom, c.ValidUntil, c.ARS)
	if status != documents.StatusValid {
		return fmt.Errorf("Ausweis nicht gültig: %s", status)
	}
	return nil
}
