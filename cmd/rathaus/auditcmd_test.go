package main

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/audit"
	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// rathaus audit verify reports an intact log with its signatures, says
// when it could not check them, and fails naming the first broken entry.
func TestAuditVerifyCommand(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			url := storetest.URL(t, e)
			c := cli{t, func(k string) string { return map[string]string{"RATHAUS_DATABASE_URL": url}[k] }}
			c.must("migrate")
			keyFile, pubFile := filepath.Join(dir, "audit-key.pem"), filepath.Join(dir, "audit-key.pub.pem")
			c.must("permit", "keygen", "--out", keyFile, "--public-out", pubFile)
			keyPEM, _ := os.ReadFile(keyFile)
			key, err := documents.ParsePrivateKeyPEM(keyPEM)
			if err != nil {
				t.Fatal(err)
			}

			db, err := store.Open(ctx, url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := range 5 {
				err := db.Transact(ctx, func(tx *sql.Tx) error {
					_, err := audit.Append(ctx, tx, db.Engine, audit.Entry{Actor: "clerk:key_1", Action: "parking.view_case", Object: "parking_application:app_" + string(rune('a'+i))})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if _, err := audit.Checkpoint(ctx, db, key); err != nil {
				t.Fatal(err)
			}

			out, _ := c.must("audit", "verify", "--key", pubFile)
			if !strings.Contains(out, "intakt: 5 Einträge, 1 Prüfpunkt; signiert bis zum letzten Eintrag") {
				t.Errorf("audit verify --key = %q", out)
			}
			if out, _ = c.must("audit", "verify"); !strings.Contains(out, "Signaturen NICHT geprüft") {
				t.Errorf("audit verify without a key = %q, want it to say the signatures were not checked", out)
			}
			if _, _, err := c.run("audit", "verify", "--key", filepath.Join(dir, "missing.pem")); err == nil {
				t.Error("audit verify with a missing key file succeeded")
			}

			storetest.Exec(t, db, `UPDATE audit_log SET object = 'parking_application:app_x' WHERE seq = 3`)
			out, _, err = c.run("audit", "verify", "--key", pubFile)
			if !errors.Is(err, audit.ErrBroken) || !strings.Contains(out, "BESCHÄDIGT bei Eintrag 3") {
				t.Errorf("audit verify of a changed log = %q, %v; want a failure naming entry 3", out, err)
			}
			if _, _, err := c.run("audit", "check"); err == nil || !strings.Contains(err.Error(), auditUsage) {
				t.Errorf("audit with an unknown subcommand = %v", err)
			}
		})
	}
}
