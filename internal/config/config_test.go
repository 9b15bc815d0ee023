package config

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
