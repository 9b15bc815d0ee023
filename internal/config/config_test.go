package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"opencode.de/rathaus/rathaus/internal/documents"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedenceFlagEnvFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "db-url")
	os.WriteFile(secret, []byte("postgres://app:s3cret@db/rathaus\n"), 0o600)

	c := Defaults(Serve)
	rest, err := c.Load("serve", []string{"--listen", "127.0.0.1:9000", "extra"}, env(map[string]string{
		"RATHAUS_LISTEN":            "0.0.0.0:1",
		"RATHAUS_DATABASE_URL_FILE": secret,
		"RATHAUS_LOG_LEVEL":         "debug",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" {
		t.Errorf("Listen = %q, want the flag's value", c.Listen)
	}
	if c.DatabaseURL != "postgres://app:s3cret@db/rathaus" {
		t.Errorf("DatabaseURL = %q, want the _FILE content without newline", c.DatabaseURL)
	}
	if c.LogLevel != "debug" || c.LogFormat != "json" {
		t.Errorf("LogLevel, LogFormat = %q, %q; want debug from env, json default", c.LogLevel, c.LogFormat)
	}
	if !slices.Equal(rest, []string{"extra"}) {
		t.Errorf("rest = %v", rest)
	}
	if err := c.Validate(Serve); err != nil {
		t.Errorf("Validate: %v", err)
	}
	dump := strings.Join(c.Redacted(), "\n")
	if strings.Contains(dump, "s3cret") || !strings.Contains(dump, "RATHAUS_DATABASE_URL=postgres://app:xxxxx@db/rathaus") {
		t.Errorf("Redacted dump leaks or lacks the database URL:\n%s", dump)
	}
}

func TestLoadAndValidateErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"env and file", nil, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x", "RATHAUS_DATABASE_URL_FILE": "/x"}, "beide gesetzt"},
		{"missing file", nil, map[string]string{"RATHAUS_DATABASE_URL_FILE": "/does/not/exist"}, "RATHAUS_DATABASE_URL_FILE"},
		{"bad duration", nil, map[string]string{"RATHAUS_REQUEST_TIMEOUT": "soon"}, "keine Dauer"},
		{"bad bool", []string{"--migrate=vielleicht"}, nil, "vielleicht"},
		{"no database", nil, nil, "RATHAUS_DATABASE_URL fehlt"},
		{"mysql", nil, map[string]string{"RATHAUS_DATABASE_URL": "mysql://x"}, "erwartet sqlite"},
		{"bad listen", []string{"--listen", "8080"}, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x"}, "RATHAUS_LISTEN"},
		{"bad log format", nil, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x", "RATHAUS_LOG_FORMAT": "xml"}, "RATHAUS_LOG_FORMAT"},
		{"half tls", nil, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x", "RATHAUS_TLS_CERT": "/c.pem"}, "gehören zusammen"},
		{"junk certificate", nil, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x", "RATHAUS_TLS_CERT": "config_test.go", "RATHAUS_TLS_KEY": "config_test.go"}, "lassen sich nicht laden"},
		{"tiny body limit", nil, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x", "RATHAUS_BODY_LIMIT": "10"}, "RATHAUS_BODY_LIMIT"},
		{"smtp without sender", nil, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x", "RATHAUS_SMTP_URL": "smtp://u:p@mail.example.org:587"}, "RATHAUS_MAIL_FROM fehlt"},
		{"smtp over http", nil, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x", "RATHAUS_SMTP_URL": "http://u:p@mail.example.org", "RATHAUS_MAIL_FROM": "a@example.org"}, "RATHAUS_SMTP_URL"},
		{"bad sender", nil, map[string]string{"RATHAUS_DATABASE_URL": "sqlite:x", "RATHAUS_MAIL_FROM": "Rathaus"}, "RATHAUS_MAIL_FROM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults(Serve)
			_, err := c.Load("serve", tc.args, env(tc.env), io.Discard)
			if err == nil {
				err = c.Validate(Serve)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// The SMTP password is a secret: readable from a _FILE, never printed, not
// even in the error about a malformed URL.
func TestSMTPPasswordStaysSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "smtp-url")
	os.WriteFile(file, []byte("smtp://rathaus:p4ssw0rt@mail.example.org:587\n"), 0o600)
	c := Defaults(Serve)
	_, err := c.Load("serve", nil, env(map[string]string{
		"RATHAUS_DATABASE_URL":  "sqlite:x",
		"RATHAUS_SMTP_URL_FILE": file,
		"RATHAUS_MAIL_FROM":     "Stadt Musterstadt <noreply@musterstadt.example>",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(Serve); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	dump := strings.Join(c.Redacted(), "\n")
	if strings.Contains(dump, "p4ssw0rt") || !strings.Contains(dump, "RATHAUS_SMTP_URL=smtp://rathaus:xxxxx@mail.example.org:587") {
		t.Errorf("Redacted dump leaks or lacks the SMTP URL:\n%s", dump)
	}
	c.SMTPURL = "smtp://rathaus:p4ssw0rt@mail.example.org:587/%zz"
	if err := c.Validate(Serve); err == nil || strings.Contains(err.Error(), "p4ssw0rt") {
		t.Errorf("Validate of a malformed SMTP URL = %v; want an error without the password", err)
	}
}

// signingKeyPEM returns a new PKCS #8 PEM private key on curve.
func signingKeyPEM(t *testing.T, curve elliptic.Curve) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

const paymentSecret = "zahlungs-geheimnis-0123456789abcdefghij"

// parkingEnv is a complete serve configuration with Bewohnerparken on.
func parkingEnv(t *testing.T) map[string]string {
	return map[string]string{
		"RATHAUS_DATABASE_URL":         "sqlite:x",
		"RATHAUS_PARKING_REGISTERS":    "demo",
		"RATHAUS_PARKING_MUNICIPALITY": "110000000000",
		"RATHAUS_PARKING_SIGNING_KEY":  signingKeyPEM(t, elliptic.P256()),
		"RATHAUS_PARKING_AUTHORITY":    "Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde",
		"RATHAUS_PAYMENT_PROVIDER":     "test",
		"RATHAUS_PAYMENT_SECRET":       paymentSecret,
	}
}

func TestParkingOptions(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing-key.pem")
	secretFile := filepath.Join(dir, "payment-secret")
	os.WriteFile(secretFile, []byte(paymentSecret+"\n"), 0o600)
	p384 := signingKeyPEM(t, elliptic.P384())
	junk := "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"
	cases := []struct {
		name   string
		mode   Mode
		change map[string]string // "" deletes the variable
		want   string            // "": valid
	}{
		{"complete", Serve, nil, ""},
		{"own rules directory", Serve, map[string]string{"RATHAUS_PARKING_RULES_DIR": dir}, ""},
		{"key and secret from files", Serve, map[string]string{"RATHAUS_PARKING_SIGNING_KEY": "", "RATHAUS_PARKING_SIGNING_KEY_FILE": keyFile,
			"RATHAUS_PAYMENT_SECRET": "", "RATHAUS_PAYMENT_SECRET_FILE": secretFile}, ""},
		{"parking off", Serve, map[string]string{"RATHAUS_PARKING_REGISTERS": "", "RATHAUS_PARKING_MUNICIPALITY": "", "RATHAUS_PARKING_SIGNING_KEY": "",
			"RATHAUS_PARKING_AUTHORITY": "", "RATHAUS_PAYMENT_PROVIDER": "", "RATHAUS_PAYMENT_SECRET": ""}, ""},
		{"Amtsnetz registers without their configuration", Serve, map[string]string{"RATHAUS_PARKING_REGISTERS": "amtsnetz"},
			`RATHAUS_AMTSNETZ_CONFIG fehlt`},
		{"Amtsnetz registers", Serve, map[string]string{"RATHAUS_PARKING_REGISTERS": "amtsnetz", "RATHAUS_AMTSNETZ_CONFIG": "/etc/rathaus/amtsnetz.json"}, ""},
		{"document keys not base64", Serve, map[string]string{"RATHAUS_DOCUMENT_KEYS": "kein-base64!"}, `RATHAUS_DOCUMENT_KEYS: Schlüssel 1 ist kein Base64`},
		{"document key too short", Serve, map[string]string{"RATHAUS_DOCUMENT_KEYS": "c2hvcnQ="}, `RATHAUS_DOCUMENT_KEYS: Schlüssel 1 hat 5 Bytes, erwartet sind 32`},
		{"previous signing keys not PEM", Serve, map[string]string{"RATHAUS_PARKING_PREVIOUS_KEYS": "kein PEM"}, `RATHAUS_PARKING_PREVIOUS_KEYS: no PEM public key found`},
		{"max in flight zero", Serve, map[string]string{"RATHAUS_MAX_IN_FLIGHT": "0"}, `RATHAUS_MAX_IN_FLIGHT 0: erlaubt sind 1 bis 100000`},
		{"max connections too few", Serve, map[string]string{"RATHAUS_MAX_CONNECTIONS": "8"}, `RATHAUS_MAX_CONNECTIONS 8: erlaubt sind 16 bis 1000000`},
		{"admission wait too long", Serve, map[string]string{"RATHAUS_ADMISSION_WAIT": "2m"}, `RATHAUS_ADMISSION_WAIT 2m0s: erlaubt sind 0 bis 1m`},
		{"admission wait negative", Serve, map[string]string{"RATHAUS_ADMISSION_WAIT": "-1s"}, `RATHAUS_ADMISSION_WAIT -1s: erlaubt sind 0 bis 1m`},
		{"admission wait no unit", Serve, map[string]string{"RATHAUS_ADMISSION_WAIT": "500"}, `RATHAUS_ADMISSION_WAIT`},
		{"registers typo", Serve, map[string]string{"RATHAUS_PARKING_REGISTERS": "Demo"}, `RATHAUS_PARKING_REGISTERS "Demo": erlaubt sind amtsnetz`},
		{"options without registers", Serve, map[string]string{"RATHAUS_PARKING_REGISTERS": ""},
			"RATHAUS_PARKING_MUNICIPALITY, RATHAUS_PARKING_SIGNING_KEY, RATHAUS_PARKING_AUTHORITY, RATHAUS_PAYMENT_PROVIDER, RATHAUS_PAYMENT_SECRET gesetzt, aber RATHAUS_PARKING_REGISTERS nicht"},
		{"no municipality", Serve, map[string]string{"RATHAUS_PARKING_MUNICIPALITY": ""}, "RATHAUS_PARKING_MUNICIPALITY fehlt: der Regionalschlüssel (ARS, 12 Ziffern)"},
		{"short municipality", Serve, map[string]string{"RATHAUS_PARKING_MUNICIPALITY": "11000000000"}, `RATHAUS_PARKING_MUNICIPALITY "11000000000": erwartet einen Regionalschlüssel (ARS) aus 12 Ziffern`},
		{"Hamburg on demo registers", Serve, map[string]string{"RATHAUS_PARKING_MUNICIPALITY": "020000000000"},
			"RATHAUS_PARKING_MUNICIPALITY 020000000000: die Demo-Register (RATHAUS_PARKING_REGISTERS=demo) kennen nur die Demo-Bevölkerung von Berlin; erlaubt ist dann nur 110000000000"},
		{"missing rules directory", Serve, map[string]string{"RATHAUS_PARKING_RULES_DIR": filepath.Join(dir, "fehlt")}, "RATHAUS_PARKING_RULES_DIR"},
		{"rules directory is a file", Serve, map[string]string{"RATHAUS_PARKING_RULES_DIR": secretFile}, "ist kein Verzeichnis"},
		{"no signing key", Serve, map[string]string{"RATHAUS_PARKING_SIGNING_KEY": ""}, "RATHAUS_PARKING_SIGNING_KEY fehlt: der private Schlüssel (PEM, ECDSA P-256), mit dem Ausweise signiert werden; einen neuen erzeugt „rathaus permit keygen“"},
		{"signing key not PEM", Serve, map[string]string{"RATHAUS_PARKING_SIGNING_KEY": "geheim"}, "RATHAUS_PARKING_SIGNING_KEY: kein privater ECDSA-Schlüssel auf P-256 im PEM-Format"},
		{"signing key broken", Serve, map[string]string{"RATHAUS_PARKING_SIGNING_KEY": junk}, "RATHAUS_PARKING_SIGNING_KEY: kein privater ECDSA-Schlüssel auf P-256 im PEM-Format"},
		{"signing key on P-384", Serve, map[string]string{"RATHAUS_PARKING_SIGNING_KEY": p384}, "want P-256"},
		{"public key", Serve, map[string]string{"RATHAUS_PARKING_SIGNING_KEY": publicKeyPEM(t)}, "RATHAUS_PARKING_SIGNING_KEY: kein privater ECDSA-Schlüssel"},
		{"no authority", Serve, map[string]string{"RATHAUS_PARKING_AUTHORITY": " "}, "RATHAUS_PARKING_AUTHORITY fehlt: die ausstellende Behörde"},
		{"no payment provider", Serve, map[string]string{"RATHAUS_PAYMENT_PROVIDER": ""}, "RATHAUS_PAYMENT_PROVIDER fehlt: erlaubt ist test (Testzahlung, es fließt kein Geld)"},
		{"real payment provider", Serve, map[string]string{"RATHAUS_PAYMENT_PROVIDER": "epaybl"}, `RATHAUS_PAYMENT_PROVIDER "epaybl": erlaubt ist nur test`},
		{"no payment secret", Serve, map[string]string{"RATHAUS_PAYMENT_SECRET": ""}, "RATHAUS_PAYMENT_SECRET fehlt: mindestens 32 Bytes"},
		{"short payment secret", Serve, map[string]string{"RATHAUS_PAYMENT_SECRET": "kurz-0123456789"}, "RATHAUS_PAYMENT_SECRET ist 15 Bytes lang: erforderlich sind mindestens 32"},
		{"staff sign-in", Serve, map[string]string{"RATHAUS_OIDC_ISSUER": "https://idp.example/realms/berlin", "RATHAUS_OIDC_CLIENT_ID": "rathaus",
			"RATHAUS_OIDC_CLIENT_SECRET": "oidc-geheimnis-0123456789"}, ""},
		{"staff sign-in against localhost", Serve, map[string]string{"RATHAUS_OIDC_ISSUER": "http://127.0.0.1:8081/realms/test", "RATHAUS_OIDC_CLIENT_ID": "rathaus",
			"RATHAUS_OIDC_CLIENT_SECRET": "oidc-geheimnis-0123456789"}, ""},
		{"staff sign-in over http", Serve, map[string]string{"RATHAUS_OIDC_ISSUER": "http://idp.example", "RATHAUS_OIDC_CLIENT_ID": "rathaus",
			"RATHAUS_OIDC_CLIENT_SECRET": "oidc-geheimnis-0123456789"}, `RATHAUS_OIDC_ISSUER "http://idp.example": erwartet eine https-URL`},
		{"staff sign-in without secret", Serve, map[string]string{"RATHAUS_OIDC_ISSUER": "https://idp.example", "RATHAUS_OIDC_CLIENT_ID": "rathaus"},
			"RATHAUS_OIDC_ISSUER, RATHAUS_OIDC_CLIENT_ID und RATHAUS_OIDC_CLIENT_SECRET gehören zusammen"},
		{"role map", Serve, map[string]string{"RATHAUS_OIDC_ROLE_MAP": "parken-sb=clerk, parken-tl=lead"}, ""},
		{"role map to an unknown role", Serve, map[string]string{"RATHAUS_OIDC_ROLE_MAP": "parken-sb=clerk,chef=boss"}, `RATHAUS_OIDC_ROLE_MAP "chef=boss": erwartet GRUPPE=ROLLE`},
		{"audit key broken", Serve, map[string]string{"RATHAUS_AUDIT_SIGNING_KEY": junk}, "RATHAUS_AUDIT_SIGNING_KEY: kein privater ECDSA-Schlüssel"},
		{"demo mode", Demo, map[string]string{"RATHAUS_DATABASE_URL": "", "RATHAUS_PARKING_MUNICIPALITY": "", "RATHAUS_PARKING_SIGNING_KEY": "", "RATHAUS_PARKING_AUTHORITY": "",
			"RATHAUS_PAYMENT_PROVIDER": ""}, "RATHAUS_PARKING_REGISTERS, RATHAUS_PAYMENT_SECRET: gilt nur für rathaus serve; die Demo richtet Bewohnerparken selbst ein"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := parkingEnv(t)
			os.WriteFile(keyFile, []byte(e["RATHAUS_PARKING_SIGNING_KEY"]), 0o600)
			maps.Copy(e, tc.change)
			maps.DeleteFunc(e, func(_, v string) bool { return v == "" })
			c := Defaults(tc.mode)
			_, err := c.Load(string(tc.mode), nil, env(e), io.Discard)
			if err == nil {
				err = c.Validate(tc.mode)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			case err != nil:
				for _, secret := range []string{"c2VjcmV0LWtleS1ieXRlcw", "kurz-0123456789", paymentSecret, "oidc-geheimnis-0123456789"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("the error shows a secret: %v", err)
					}
				}
			}
			if tc.want == "" && tc.mode == Serve && c.ParkingEnabled() != (e["RATHAUS_PARKING_REGISTERS"] != "") {
				t.Errorf("ParkingEnabled = %v with RATHAUS_PARKING_REGISTERS=%q", c.ParkingEnabled(), e["RATHAUS_PARKING_REGISTERS"])
			}
		})
	}
}

func publicKeyPEM(t *testing.T) string {
	t.Helper()
	key, err := documents.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := documents.MarshalPublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The signing key and the payment secret are secrets: the printed
// configuration shows that they are set, not what they are.
func TestParkingSecretsRedacted(t *testing.T) {
	e := parkingEnv(t)
	c := Defaults(Serve)
	if _, err := c.Load("serve", nil, env(e), io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(Serve); err != nil {
		t.Fatal(err)
	}
	if c.ParkingSigningKey != e["RATHAUS_PARKING_SIGNING_KEY"] || c.PaymentSecret != paymentSecret {
		t.Fatalf("signing key or payment secret not loaded")
	}
	dump := strings.Join(c.Redacted(), "\n")
	for _, want := range []string{"RATHAUS_PARKING_SIGNING_KEY=xxxxx\n", "RATHAUS_PAYMENT_SECRET=xxxxx\n", "RATHAUS_PARKING_REGISTERS=demo\n",
		"RATHAUS_PARKING_MUNICIPALITY=110000000000\n", "RATHAUS_PAYMENT_PROVIDER=test\n", "RATHAUS_PARKING_RULES_DIR=\n"} {
		if !strings.Contains(dump, want) {
			t.Errorf("configuration lacks %q:\n%s", strings.TrimSpace(want), dump)
		}
	}
	body := strings.Split(e["RATHAUS_PARKING_SIGNING_KEY"], "\n")[1]
	if strings.Contains(dump, "PRIVATE KEY") || strings.Contains(dump, body) || strings.Contains(dump, paymentSecret) {
		t.Errorf("configuration shows the signing key or the payment secret:\n%s", dump)
	}
	// Unset secrets print empty, so that an operator sees what is missing.
	off := Defaults(Serve)
	if dump := strings.Join(off.Redacted(), "\n"); !strings.Contains(dump, "RATHAUS_PAYMENT_SECRET=\n") || !strings.Contains(dump, "RATHAUS_PARKING_SIGNING_KEY=\n") {
		t.Errorf("unset secrets not shown as empty:\n%s", dump)
	}
}
