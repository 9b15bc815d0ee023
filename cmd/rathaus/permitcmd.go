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

// runPermitKeygen creates a new permit signing key (ECDSA P-256) for
// RATHAUS_PARKING_SIGNING_KEY: the private key as PKCS #8 PEM to --out
// (created with mode 0600, never overwritten) or to stdout; the public key
// as PEM to --public-out or to stderr, for offline verifiers (rathaus permit
// verify --key). Text before the PEM block on stderr does not disturb a
// PEM reader, so "2> public.pem" gives a usable file.
func runPermitKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("permit keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "Datei für den privaten Schlüssel (wird mit Modus 0600 neu angelegt, nie überschrieben; Standard: Standardausgabe)")
	pubOut := fs.String("public-out", "", "Datei für den öffentlichen Schlüssel (Standard: Standardfehlerausgabe)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("erwartet: rathaus permit keygen [--out SCHLÜSSEL.pem] [--public-out ÖFFENTLICH.pem]")
	}
	key, err := documents.GenerateKey()
	if err != nil {
		return err
	}
	private, err := documents.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	public, err := documents.MarshalPublicKeyPEM(&key.PublicKey)
	if err != nil {
		return err
	}
	if *out == "" {
		if _, err := stdout.Write(private); err != nil {
			return err
		}
	} else if err := writeNewFile(*out, private, 0o600); err != nil {
		return err
	}
	kid := documents.KeyID(&key.PublicKey)
	if *pubOut == "" {
		fmt.Fprintf(stderr, "Öffentlicher Schlüssel (kid %s) für die Offline-Prüfung mit rathaus permit verify --key:\n%s", kid, public)
		return nil
	}
	if err := os.WriteFile(*pubOut, public, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Öffentlicher Schlüssel (kid %s) in %s\n", kid, *pubOut)
	return nil
}

// writeNewFile creates file with mode perm and writes data to disk; an
// existing file is an error, so that a key is never replaced by accident.
func writeNewFile(file string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s gibt es schon; ein vorhandener Schlüssel wird nicht überschrieben", file)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
