package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/merkle"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
)

const logUsage = "rathaus log verify --database-url URL --cert KNOTEN.pem [--record N | --message NACHRICHTEN-ID]"

// runLogVerify checks an Amtsnetz node's message log (internal/amtsnetz/
// msglog): records without gaps and unchanged, every signed tree head
// with the node's certificate and against the records; with --record it
// also proves that record is under the latest signed head. It fails
// naming the first broken record or head.
func runLogVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var certFile, messageID string
	var record int64
	cfg, rest, err := loadToolConfig("log verify", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&certFile, "cert", "", "Mitgliedszertifikat des Knotens, der das Protokoll führt (PEM)")
		fs.Int64Var(&record, "record", 0, "diesen Eintrag zusätzlich gegen den neuesten signierten Baumkopf beweisen")
		fs.StringVar(&messageID, "message", "", "den Eintrag dieser Nachricht (Nachrichten-ID) zusätzlich beweisen")
	})
	if err != nil {
		return err
	}
	if len(rest) != 0 || certFile == "" {
		return errors.New("erwartet: " + logUsage)
	}
	b, err := os.ReadFile(certFile)
	if err != nil {
		return fmt.Errorf("--cert: %w", err)
	}
	cert, err := pki.ParseCertPEM(b)
	if err != nil {
		return fmt.Errorf("--cert: %w", err)
	}
	logger := newLogger(cfg, stderr)
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := msglog.Verify(ctx, db, cert.PublicKey)
	if err != nil {
		var p *msglog.Problem
		if errors.As(err, &p) {
			fmt.Fprintln(stdout, "NACHRICHTENPROTOKOLL BESCHÄDIGT:", p.What)
		}
		return err
	}
	id, _ := pki.MemberID(cert)
	fmt.Fprintf(stdout, "Nachrichtenprotokoll von %s intakt: %d Einträge (%d nach Ablauf der Aufbewahrung ohne Inhalt), %d signierte Baumköpfe, signiert bis Eintrag %d.\n",
		id, rep.Records, rep.Forgotten, rep.Heads, rep.SignedUpTo)
	if rep.Heads > 0 {
		fmt.Fprintf(stdout, "Neuester Baumkopf: Größe %d, Wurzel %s, %s\n", rep.Latest.Size, merkle.String(rep.Latest.Root), rep.Latest.At.Format("2006-01-02 15:04:05 MST"))
	}
	if messageID != "" {
		rs, err := msglog.Find(ctx, db, messageID)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if r.MessageID == messageID {
				record = r.Seq
				break
			}
		}
		if record == 0 {
			return fmt.Errorf("die Nachricht %s ist nicht in diesem Protokoll", messageID)
		}
	}
	if record == 0 {
		return nil
	}
	r, proof, head, err := msglog.Prove(ctx, db, cert.PublicKey, record)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Eintrag %d ist im signierten Baum der Größe %d enthalten (Beweis aus %d Hashes):\n  Nachricht %s, %s → %s, Zweck %q, Aktenzeichen %q, %s\n",
		r.Seq, head.Size, len(proof), r.MessageID, r.Client, r.Service, r.Purpose, r.Reference, r.At.Format("2006-01-02 15:04:05 MST"))
	if r.Forgotten {
		fmt.Fprintln(stdout, "  (Inhalt nach Ablauf der Aufbewahrung gelöscht; Zeitpunkt und Blatt-Hash sind belegt.)")
	}
	return nil
}
