// Package config reads Rathaus's configuration from command-line flags and
// the environment, in that order of precedence, with every secret also
// readable from a file named by the variable's _FILE twin (for Kubernetes
// and Docker secrets). It validates the result as a whole and prints it with
// secrets redacted.
//
// It does not read configuration files and does not reload at run time.
package config

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"opencode.de/rathaus/rathaus/internal/documents"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/vault"
	"opencode.de/rathaus/rathaus/internal/web"
)

// Config is the effective configuration of one process.
type Config struct {
	DatabaseURL        string        // sqlite:PATH or postgres://…  (secret: may contain a password)
	DataDir            string        // where demo mode keeps its SQLite file
	Listen             string        // host:port
	PublicURL          string        // how users reach this server, for links and printed URLs
	LogFormat          string        // text or json
	LogLevel           string        // debug, info, warn, error
	TLSCert, TLSKey    string        // PEM files; both set: serve HTTPS
	TrustProxyTLS      bool          // a TLS-terminating proxy is in front: send HSTS
	BodyLimit          int64         // bytes per request body
	RequestTimeout     time.Duration // per request
	MaxInFlight        int64         // requests served at once (admission control)
	MaxConnections     int64         // connections open at once; beyond: 503 and close
	AdmissionWait      time.Duration // how long a request waits for a slot before 503
	ClientRate         string        // per-client limits on expensive requests (web.ParseClientRates)
	TrustedProxies     string        // CIDRs of proxies whose X-Forwarded-For names the client
	ShutdownTimeout    time.Duration // for in-flight requests on SIGTERM
	UnsafeNoDurability bool          // allow a database that may lose commits (tests only)
	AutoMigrate        bool          // apply migrations at start
	JobWorkers         int           // background job workers per replica
	JobRescueAfter     time.Duration // a job "running" this long in a dead process is taken over
	SMTPURL            string        // smtp://USER:PASSWORD@HOST:PORT (STARTTLS) or smtps://…; empty: e-mails stay in the outbox (secret)
	MailFrom           string        // sender of e-mails: "Name <address>"

	// Bewohnerparken in serve (the demo wires its own). Empty
	// ParkingRegisters: serve does not offer the service.
	ParkingRegisters    string // "", ParkingRegistersDemo or ParkingRegistersAmtsnetz
	AmtsnetzConfig      string // ParkingRegistersAmtsnetz: the member's Amtsnetz configuration file (JSON)
	ParkingMunicipality string // ARS of the municipality whose citizen pages this installation serves
	ParkingRulesDir     string // rule and fee JSON files; empty: the shipped ones
	ParkingSigningKey   string // PEM of the ECDSA P-256 key permits are signed with (secret)
	ParkingAuthority    string // issuing authority printed on permits
	ParkingPreviousKeys string // PEM public keys of earlier signing keys (key rotation)
	ParkingTargetDays   int64  // processing target of the workbench's queue, in working days
	PaymentProvider     string // PaymentProviderTest
	PaymentSecret       string // HMAC secret of the payment callbacks (secret)
	DocumentKeys        string // base64 AES-256 keys that seal citizens' documents, the sealing one first (secret)
	AuditSigningKey     string // PEM of the ECDSA P-256 key the audit log's checkpoints are signed with (secret)
	OIDCIssuer          string // staff sign-in: the identity provider's issuer URL
	OIDCClientID        string
	OIDCClientSecret    string // (secret)
	OIDCRoleClaim       string // claim with the roles (default rathaus_roles)
	OIDCARSClaim        string // claim with the municipality's ARS (default rathaus_ars)
	OIDCRoleMap         string // "GROUP=ROLE,…": the provider's values of the role claim → clerk, lead, admin
}

// The values of RATHAUS_PARKING_REGISTERS and RATHAUS_PAYMENT_PROVIDER.
const (
	// ParkingRegistersDemo are the synthetic registers of
	// internal/registers: invented people and vehicles at Berlin's demo
	// addresses, no real register query.
	ParkingRegistersDemo = "demo"
	// ParkingRegistersAmtsnetz: the registers are asked through the
	// Amtsnetz (RATHAUS_AMTSNETZ_CONFIG).
	ParkingRegistersAmtsnetz = "amtsnetz"
	// PaymentProviderTest is the clearly labelled test provider of
	// internal/payment: no money moves.
	PaymentProviderTest = "test"
)

// DemoRegistersMunicipality is the only municipality the demo registers
// know people in: Berlin (demo.Berlin.ARS; config does not import demo).
const DemoRegistersMunicipality = "110000000000"

// MinPaymentSecret is the shortest payment callback secret accepted, in
// bytes: as long as the HMAC-SHA256 output.
const MinPaymentSecret = 32

// ParkingEnabled reports whether serve offers Bewohnerparken.
func (c *Config) ParkingEnabled() bool { return c.ParkingRegisters != "" }

// An option binds a flag to an environment variable.
type option struct {
	flag, env, help string
	secret          secrecy
	set             func(string) error
	get             func() string
	fromFlag        bool
}

// secrecy says how an option's value is printed.
type secrecy uint8

const (
	public      secrecy = iota
	secretURL           // a URL or DSN: its password is replaced
	secretValue         // the whole value is replaced
)

// Mode selects the defaults: "demo" or "serve".
type Mode string

const (
	Demo  Mode = "demo"
	Serve Mode = "serve"
	Tool  Mode = "tool" // CLI subcommands such as migrate and import
)

// Defaults returns the defaults of a mode.
func Defaults(mode Mode) Config {
	c := Config{
		DataDir:           "rathaus-data",
		Listen:            "127.0.0.1:8080",
		LogFormat:         "json",
		LogLevel:          "info",
		BodyLimit:         1 << 20,
		ParkingTargetDays: 5,
		RequestTimeout:    30 * time.Second,
		MaxInFlight:       256,
		MaxConnections:    4096,
		AdmissionWait:     500 * time.Millisecond,
		ClientRate:        web.DefaultClientRate,
		ShutdownTimeout:   20 * time.Second,
		AutoMigrate:       true,
		JobWorkers:        16,
		JobRescueAfter:    15 * time.Minute,
	}
	if mode == Demo || mode == Tool {
		c.LogFormat = "text"
	}
	if mode == Serve {
		c.Listen = ":8080"
	}
	return c
}

func (c *Config) options() []*option {
	str := func(p *string) (func(string) error, func() string) {
		return func(v string) error { *p = v; return nil }, func() string { return *p }
	}
	boolean := func(p *bool) (func(string) error, func() string) {
		return func(v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%q ist kein Wahrheitswert (true/false)", v)
				}
				*p = b
				return nil
			}, func() string {
				return strconv.FormatBool(*p)
			}
	}
	dur := func(p *time.Duration) (func(string) error, func() string) {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q ist keine Dauer (z. B. 30s, 2m)", v)
			}
			*p = d
			return nil
		}, func() string { return p.String() }
	}
	integer := func(p *int64) (func(string) error, func() string) {
		return func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%q ist keine ganze Zahl", v)
			}
			*p = n
			return nil
		}, func() string { return strconv.FormatInt(*p, 10) }
	}
	var workers64 = int64(c.JobWorkers)
	o := func(flag, env, help string, secret secrecy, set func(string) error, get func() string) *option {
		return &option{flag: flag, env: env, help: help, secret: secret, set: set, get: get}
	}
	opts := []*option{}
	add := func(op *option) { opts = append(opts, op) }
	s, g := str(&c.DatabaseURL)
	add(o("database-url", "RATHAUS_DATABASE_URL", "database: sqlite:PATH or postgres://USER:PASSWORD@HOST/DB (default in demo: sqlite:DATA_DIR/rathaus.db)", secretURL, s, g))
	s, g = str(&c.DataDir)
	add(o("data", "RATHAUS_DATA_DIR", "data directory of the demo (SQLite file)", public, s, g))
	s, g = str(&c.Listen)
	add(o("listen", "RATHAUS_LISTEN", "listen address host:port (port 0: any free port)", public, s, g))
	s, g = str(&c.PublicURL)
	add(o("public-url", "RATHAUS_PUBLIC_URL", "URL under which users reach Rathaus (default derived from --listen)", public, s, g))
	s, g = str(&c.LogFormat)
	add(o("log-format", "RATHAUS_LOG_FORMAT", "log format: text or json", public, s, g))
	s, g = str(&c.LogLevel)
	add(o("log-level", "RATHAUS_LOG_LEVEL", "log level: debug, info, warn, error", public, s, g))
	s, g = str(&c.TLSCert)
	add(o("tls-cert", "RATHAUS_TLS_CERT", "PEM certificate chain file; with --tls-key serves HTTPS", public, s, g))
	s, g = str(&c.TLSKey)
	add(o("tls-key", "RATHAUS_TLS_KEY", "PEM private key file", public, s, g))
	s, g = boolean(&c.TrustProxyTLS)
	add(o("behind-tls-proxy", "RATHAUS_BEHIND_TLS_PROXY", "a TLS-terminating proxy is in front: send HSTS", public, s, g))
	s, g = integer(&c.BodyLimit)
	add(o("body-limit", "RATHAUS_BODY_LIMIT", "maximum request body in bytes", public, s, g))
	s, g = dur(&c.RequestTimeout)
	add(o("request-timeout", "RATHAUS_REQUEST_TIMEOUT", "maximum duration of one request", public, s, g))
	s, g = integer(&c.MaxInFlight)
	add(o("max-in-flight", "RATHAUS_MAX_IN_FLIGHT", "requests served at once; beyond it a request waits RATHAUS_ADMISSION_WAIT for a slot and is then answered 503 with Retry-After (admission control; health, metrics and static files always pass)", public, s, g))
	s, g = integer(&c.MaxConnections)
	add(o("max-connections", "RATHAUS_MAX_CONNECTIONS", "connections open at once; a connection beyond it gets 503 with Retry-After (on HTTPS: is closed) at once, so that memory stays bounded however many clients connect", public, s, g))
	s, g = dur(&c.AdmissionWait)
	add(o("admission-wait", "RATHAUS_ADMISSION_WAIT", "how long a request waits for a slot when RATHAUS_MAX_IN_FLIGHT requests are being served", public, s, g))
	s, g = str(&c.ClientRate)
	add(o("client-rate", "RATHAUS_CLIENT_RATE", `per-client limits on expensive requests: "off", or CLASS=N/PER[:BURST],… for the classes submit (applications), lookup (address → zone, permit verification) and upload (documents); classes not named keep their default (`+web.DefaultClientRate+`); over the limit: 429 with Retry-After; clients on loopback are not limited`, public, s, g))
	s, g = str(&c.TrustedProxies)
	add(o("trusted-proxies", "RATHAUS_TRUSTED_PROXIES", "comma-separated networks (CIDR) of the reverse proxies in front of Rathaus: only from them is X-Forwarded-For read to find the client of RATHAUS_CLIENT_RATE; default none (the peer is the client)", public, s, g))
	s, g = dur(&c.ShutdownTimeout)
	add(o("shutdown-timeout", "RATHAUS_SHUTDOWN_TIMEOUT", "time for in-flight requests on shutdown", public, s, g))
	s, g = boolean(&c.AutoMigrate)
	add(o("migrate", "RATHAUS_AUTO_MIGRATE", "apply database migrations at start", public, s, g))
	ws, wg := integer(&workers64)
	add(o("job-workers", "RATHAUS_JOB_WORKERS", "background job workers per replica", public, func(v string) error {
		if err := ws(v); err != nil {
			return err
		}
		c.JobWorkers = int(workers64)
		return nil
	}, wg))
	s, g = dur(&c.JobRescueAfter)
	add(o("job-rescue-after", "RATHAUS_JOB_RESCUE_AFTER", "after a crash, jobs left running are taken over after this time", public, s, g))
	s, g = str(&c.SMTPURL)
	add(o("smtp-url", "RATHAUS_SMTP_URL", "SMTP server for e-mails: smtp://USER:PASSWORD@HOST:587 (STARTTLS required) or smtps://USER:PASSWORD@HOST:465; unset: e-mails stay in the outbox", secretURL, s, g))
	s, g = str(&c.MailFrom)
	add(o("mail-from", "RATHAUS_MAIL_FROM", `sender of e-mails, e.g. "Stadt Musterstadt <noreply@musterstadt.de>" (required with --smtp-url)`, public, s, g))
	s, g = str(&c.ParkingRegisters)
	add(o("parking-registers", "RATHAUS_PARKING_REGISTERS", `registers Bewohnerparken checks applications against: "amtsnetz" (the offices' registers through their Amtsnetz nodes, RATHAUS_AMTSNETZ_CONFIG), "demo" (synthetic demo registers in process, Berlin only, no real register queries; not for production) or empty (serve does not offer Bewohnerparken)`, public, s, g))
	s, g = str(&c.AmtsnetzConfig)
	add(o("amtsnetz-config", "RATHAUS_AMTSNETZ_CONFIG", `with RATHAUS_PARKING_REGISTERS=amtsnetz: JSON file with Rathaus's Amtsnetz membership — member, cert, key, ca, directory {url, file, grace}, registers {residence, vehicles: service IDs; treasury: member ID}`, public, s, g))
	s, g = str(&c.ParkingMunicipality)
	add(o("parking-municipality", "RATHAUS_PARKING_MUNICIPALITY", "ARS (12 digits) of the municipality whose Bewohnerparken this installation offers; it must be in the database (rathaus zones import) and have a rule/fee configuration", public, s, g))
	s, g = str(&c.ParkingRulesDir)
	add(o("parking-rules", "RATHAUS_PARKING_RULES_DIR", "directory of rule/fee JSON files (format of internal/parking/rules/municipalities); default: the files shipped with Rathaus", public, s, g))
	s, g = str(&c.ParkingSigningKey)
	add(o("parking-signing-key", "RATHAUS_PARKING_SIGNING_KEY", "PEM of the ECDSA P-256 private key permits are signed with (create one with rathaus permit keygen); secret: prefer RATHAUS_PARKING_SIGNING_KEY_FILE", secretValue, s, g))
	s, g = str(&c.ParkingPreviousKeys)
	add(o("parking-previous-keys", "RATHAUS_PARKING_PREVIOUS_KEYS", "PEM public keys (one or more PUBLIC KEY blocks) of earlier permit signing keys: permits signed with them still verify, and they are published with the current key; for key rotation (prefer RATHAUS_PARKING_PREVIOUS_KEYS_FILE)", public, s, g))
	s, g = str(&c.ParkingAuthority)
	add(o("parking-authority", "RATHAUS_PARKING_AUTHORITY", `issuing authority printed on permits, e.g. "Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde"`, public, s, g))
	s, g = integer(&c.ParkingTargetDays)
	add(o("parking-target-days", "RATHAUS_PARKING_TARGET_DAYS", "processing target of the workbench's queue in working days: cases in review longer are marked overdue", public, s, g))
	s, g = str(&c.PaymentProvider)
	add(o("payment-provider", "RATHAUS_PAYMENT_PROVIDER", `payment provider of Bewohnerparken: "test" (test payment pages under /testzahlung, no money moves; not for production)`, public, s, g))
	s, g = str(&c.PaymentSecret)
	add(o("payment-secret", "RATHAUS_PAYMENT_SECRET", "secret (at least 32 bytes) that signs the payment provider's callbacks; prefer RATHAUS_PAYMENT_SECRET_FILE", secretValue, s, g))
	s, g = str(&c.DocumentKeys)
	add(o("document-keys", "RATHAUS_DOCUMENT_KEYS", "keys that encrypt the documents citizens upload (AES-256-GCM): base64 of 32 random bytes each (head -c 32 /dev/urandom | base64), comma-separated; the first encrypts, all decrypt (rotation: put a new key first, keep the old ones behind it); without it serve takes no uploads; prefer RATHAUS_DOCUMENT_KEYS_FILE", secretValue, s, g))
	s, g = str(&c.AuditSigningKey)
	add(o("audit-signing-key", "RATHAUS_AUDIT_SIGNING_KEY", "PEM of the ECDSA P-256 private key that signs the audit log's checkpoints (rathaus permit keygen makes one; keep it apart from the permit key); without it the log is protected by its hash chain only; prefer RATHAUS_AUDIT_SIGNING_KEY_FILE", secretValue, s, g))
	s, g = str(&c.OIDCIssuer)
	add(o("oidc-issuer", "RATHAUS_OIDC_ISSUER", "staff sign-in (workbench /sachbearbeitung): issuer URL of the OpenID Connect provider (https); its ID tokens carry rathaus_roles and rathaus_ars; unset: no staff sign-in (the demo embeds its own provider)", public, s, g))
	s, g = str(&c.OIDCClientID)
	add(o("oidc-client-id", "RATHAUS_OIDC_CLIENT_ID", "client id of Rathaus at the OpenID Connect provider (redirect URI: PUBLIC_URL/sachbearbeitung/anmeldung)", public, s, g))
	s, g = str(&c.OIDCClientSecret)
	add(o("oidc-client-secret", "RATHAUS_OIDC_CLIENT_SECRET", "client secret of Rathaus at the OpenID Connect provider; prefer RATHAUS_OIDC_CLIENT_SECRET_FILE", secretValue, s, g))
	s, g = str(&c.OIDCRoleClaim)
	add(o("oidc-role-claim", "RATHAUS_OIDC_ROLE_CLAIM", "ID-token claim with the staff member's roles or groups (string or array; default rathaus_roles)", public, s, g))
	s, g = str(&c.OIDCARSClaim)
	add(o("oidc-ars-claim", "RATHAUS_OIDC_ARS_CLAIM", "ID-token claim with the ARS of the staff member's municipality (default rathaus_ars)", public, s, g))
	s, g = str(&c.OIDCRoleMap)
	add(o("oidc-role-map", "RATHAUS_OIDC_ROLE_MAP", `maps the provider's values of the role claim to Rathaus roles, e.g. "parken-sb=clerk,parken-tl=lead,parken-admin=admin"; unset: the claim carries clerk, lead, admin`, public, s, g))
	s, g = boolean(&c.UnsafeNoDurability)
	add(o("unsafe-no-durability", "RATHAUS_UNSAFE_NO_DURABILITY", "DANGER: run on a database that may lose committed data (tests only)", public, s, g))
	return opts
}

// Load fills c (which holds the mode's defaults) from args and the
// environment; extra registers a command's own flags on the same flag set.
// It returns the remaining positional arguments. Precedence:
// flag, then VAR, then VAR_FILE, then the default; VAR and VAR_FILE together
// are an error.
func (c *Config) Load(name string, args []string, getenv func(string) string, stderr io.Writer, extra ...func(*flag.FlagSet)) ([]string, error) {
	opts := c.options()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, e := range extra {
		e(fs)
	}
	for _, op := range opts {
		op := op
		fs.Func(op.flag, op.help+" (env "+op.env+")", func(v string) error {
			op.fromFlag = true
			return op.set(v)
		})
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var problems []string
	for _, op := range opts {
		if op.fromFlag {
			continue
		}
		v, fileVar := getenv(op.env), getenv(op.env+"_FILE")
		switch {
		case v != "" && fileVar != "":
			problems = append(problems, fmt.Sprintf("%s und %s_FILE sind beide gesetzt: nur eins davon", op.env, op.env))
			continue
		case fileVar != "":
			b, err := os.ReadFile(fileVar)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s_FILE: %v", op.env, err))
				continue
			}
			v = strings.TrimRight(string(b), "\r\n")
		}
		if v == "" {
			continue
		}
		if err := op.set(v); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", op.env, err))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("ungültige Konfiguration:\n  " + strings.Join(problems, "\n  "))
	}
	return fs.Args(), nil
}

// Validate checks the configuration as a whole for a mode.
func (c *Config) Validate(mode Mode) error {
	var p []string
	if mode == Serve && c.DatabaseURL == "" {
		p = append(p, "RATHAUS_DATABASE_URL fehlt (sqlite:PFAD oder postgres://…)")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "sqlite:") &&
		!strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		p = append(p, fmt.Sprintf("RATHAUS_DATABASE_URL %q: erwartet sqlite:PFAD oder postgres://…", store.Redact(c.DatabaseURL)))
	}
	if c.AuditSigningKey != "" {
		if _, err := documents.ParsePrivateKeyPEM([]byte(c.AuditSigningKey)); err != nil {
			p = append(p, fmt.Sprintf("RATHAUS_AUDIT_SIGNING_KEY: kein privater ECDSA-Schlüssel auf P-256 im PEM-Format (%v)", err))
		}
	}
	if c.DocumentKeys != "" {
		if _, err := vault.Parse(c.DocumentKeys); err != nil {
			p = append(p, fmt.Sprintf("RATHAUS_DOCUMENT_KEYS: %v", err))
		}
	}
	if set := c.OIDCIssuer != "" || c.OIDCClientID != "" || c.OIDCClientSecret != ""; set {
		if c.OIDCIssuer == "" || c.OIDCClientID == "" || c.OIDCClientSecret == "" {
			p = append(p, "RATHAUS_OIDC_ISSUER, RATHAUS_OIDC_CLIENT_ID und RATHAUS_OIDC_CLIENT_SECRET gehören zusammen")
		} else if u, err := url.Parse(c.OIDCIssuer); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			p = append(p, fmt.Sprintf("RATHAUS_OIDC_ISSUER %q: erwartet eine https-URL (http nur für localhost)", c.OIDCIssuer))
		}
	}
	if _, err := c.RoleMap(); err != nil {
		p = append(p, err.Error())
	}
	if mode != Tool {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil {
			p = append(p, fmt.Sprintf("RATHAUS_LISTEN %q: erwartet host:port (%v)", c.Listen, err))
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			p = append(p, fmt.Sprintf("RATHAUS_LISTEN %q: ungültiger Port", c.Listen))
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p = append(p, fmt.Sprintf("RATHAUS_LOG_FORMAT %q: erlaubt sind text und json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("RATHAUS_LOG_LEVEL %q: erlaubt sind debug, info, warn, error", c.LogLevel))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		p = append(p, "RATHAUS_TLS_CERT und RATHAUS_TLS_KEY gehören zusammen")
	}
	if c.TLSCert != "" && c.TLSKey != "" {
		// Load the pair now: a broken certificate must stop the start, not
		// fail after "started" has been logged.
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			p = append(p, fmt.Sprintf("RATHAUS_TLS_CERT/RATHAUS_TLS_KEY: Zertifikat und Schlüssel lassen sich nicht laden: %v", err))
		}
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 100_000 {
		p = append(p, fmt.Sprintf("RATHAUS_MAX_IN_FLIGHT %d: erlaubt sind 1 bis 100000", c.MaxInFlight))
	}
	if c.MaxConnections < 16 || c.MaxConnections > 1_000_000 {
		p = append(p, fmt.Sprintf("RATHAUS_MAX_CONNECTIONS %d: erlaubt sind 16 bis 1000000", c.MaxConnections))
	}
	if c.AdmissionWait < 0 || c.AdmissionWait > time.Minute {
		p = append(p, fmt.Sprintf("RATHAUS_ADMISSION_WAIT %s: erlaubt sind 0 bis 1m", c.AdmissionWait))
	}
	if _, err := web.ParseClientRates(c.ClientRate); err != nil {
		p = append(p, fmt.Sprintf("RATHAUS_CLIENT_RATE %q: %v", c.ClientRate, err))
	}
	if _, err := web.ParseTrustedProxies(c.TrustedProxies); err != nil {
		p = append(p, fmt.Sprintf("RATHAUS_TRUSTED_PROXIES: %v", err))
	}
	if c.ParkingTargetDays < 1 || c.ParkingTargetDays > 60 {
		p = append(p, fmt.Sprintf("RATHAUS_PARKING_TARGET_DAYS %d: erlaubt sind 1 bis 60 Arbeitstage", c.ParkingTargetDays))
	}
	if c.BodyLimit < 1024 || c.BodyLimit > 1<<30 {
		p = append(p, fmt.Sprintf("RATHAUS_BODY_LIMIT %d: erlaubt sind 1024 bis 1073741824 Bytes", c.BodyLimit))
	}
	if c.RequestTimeout <= 0 || c.ShutdownTimeout <= 0 {
		p = append(p, "RATHAUS_REQUEST_TIMEOUT und RATHAUS_SHUTDOWN_TIMEOUT müssen positiv sein")
	}
	if c.JobRescueAfter < 2*time.Second || c.JobRescueAfter > 24*time.Hour {
		p = append(p, fmt.Sprintf("RATHAUS_JOB_RESCUE_AFTER %s: erlaubt sind 2s bis 24h", c.JobRescueAfter))
	}
	if c.JobWorkers < 1 || c.JobWorkers > 1000 {
		p = append(p, fmt.Sprintf("RATHAUS_JOB_WORKERS %d: erlaubt sind 1 bis 1000", c.JobWorkers))
	}
	if c.SMTPURL != "" {
		// The mail package reads the URL in full at start; this catches
		// what is plainly wrong, without quoting the password.
		u, err := url.Parse(c.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			p = append(p, fmt.Sprintf("RATHAUS_SMTP_URL %q: erwartet smtp://BENUTZER:PASSWORT@HOST:PORT (mit STARTTLS) oder smtps://…", store.Redact(c.SMTPURL)))
		}
		if c.MailFrom == "" {
			p = append(p, "RATHAUS_MAIL_FROM fehlt: ohne Absender verschickt Rathaus keine E-Mails")
		}
	}
	if c.MailFrom != "" {
		if _, err := mail.ParseAddress(c.MailFrom); err != nil {
			p = append(p, fmt.Sprintf("RATHAUS_MAIL_FROM %q: erwartet eine E-Mail-Adresse, z. B. \"Stadt Musterstadt <noreply@musterstadt.de>\"", c.MailFrom))
		}
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		p = append(p, fmt.Sprintf("RATHAUS_PUBLIC_URL %q: erwartet http(s)://…", c.PublicURL))
	}
	switch mode {
	case Serve:
		p = append(p, c.validateParking()...)
	case Demo:
		// The demo wires Bewohnerparken itself; silently ignoring an
		// operator's choice would be worse than refusing it.
		set := c.parkingOptionsSet()
		if c.ParkingRegisters != "" {
			set = append([]string{"RATHAUS_PARKING_REGISTERS"}, set...)
		}
		if len(set) > 0 {
			p = append(p, fmt.Sprintf("%s: gilt nur für rathaus serve; die Demo richtet Bewohnerparken selbst ein", strings.Join(set, ", ")))
		}
	}
	if len(p) > 0 {
		return errors.New("ungültige Konfiguration:\n  " + strings.Join(p, "\n  "))
	}
	return nil
}

// parkingOptionsSet names the Bewohnerparken options that have a value,
// other than RATHAUS_PARKING_REGISTERS.
func (c *Config) parkingOptionsSet() []string {
	var set []string
	for _, o := range []struct{ env, v string }{
		{"RATHAUS_PARKING_MUNICIPALITY", c.ParkingMunicipality},
		{"RATHAUS_PARKING_RULES_DIR", c.ParkingRulesDir},
		{"RATHAUS_PARKING_SIGNING_KEY", c.ParkingSigningKey},
		{"RATHAUS_PARKING_AUTHORITY", c.ParkingAuthority},
		{"RATHAUS_PARKING_PREVIOUS_KEYS", c.ParkingPreviousKeys},
		{"RATHAUS_PAYMENT_PROVIDER", c.PaymentProvider},
		{"RATHAUS_PAYMENT_SECRET", c.PaymentSecret},
	} {
		if o.v != "" {
			set = append(set, o.env)
		}
	}
	return set
}

// validateParking checks the Bewohnerparken options of serve. What needs
// the database or the rule files (is the municipality there, does it have
// rules) is checked when serve wires the service.
func (c *Config) validateParking() []string {
	var p []string
	switch c.ParkingRegisters {
	case "":
		if set := c.parkingOptionsSet(); len(set) > 0 {
			p = append(p, fmt.Sprintf("%s gesetzt, aber RATHAUS_PARKING_REGISTERS nicht: ohne Register bietet serve kein Bewohnerparken an (RATHAUS_PARKING_REGISTERS=demo oder die übrigen Optionen entfernen)", strings.Join(set, ", ")))
		}
		return p
	case ParkingRegistersDemo:
	case ParkingRegistersAmtsnetz:
		if c.AmtsnetzConfig == "" {
			p = append(p, "RATHAUS_AMTSNETZ_CONFIG fehlt: mit RATHAUS_PARKING_REGISTERS=amtsnetz die Datei mit Mitgliedschaft, Zertifikat und Registerdiensten")
		}
	default:
		return append(p, fmt.Sprintf("RATHAUS_PARKING_REGISTERS %q: erlaubt sind amtsnetz (die Register der Behörden über das Amtsnetz), demo (synthetische Demo-Register, nur Berlin, keine echten Registerabfragen) oder leer (kein Bewohnerparken)", c.ParkingRegisters))
	}
	switch {
	case c.ParkingMunicipality == "":
		p = append(p, "RATHAUS_PARKING_MUNICIPALITY fehlt: der Regionalschlüssel (ARS, 12 Ziffern) der Kommune, deren Bewohnerparken diese Installation anbietet")
	case !isARS(c.ParkingMunicipality):
		p = append(p, fmt.Sprintf("RATHAUS_PARKING_MUNICIPALITY %q: erwartet einen Regionalschlüssel (ARS) aus 12 Ziffern, z. B. 110000000000 für Berlin", c.ParkingMunicipality))
	case c.ParkingRegisters == ParkingRegistersDemo && c.ParkingMunicipality != DemoRegistersMunicipality:
		p = append(p, fmt.Sprintf("RATHAUS_PARKING_MUNICIPALITY %s: die Demo-Register (RATHAUS_PARKING_REGISTERS=demo) kennen nur die Demo-Bevölkerung von Berlin; erlaubt ist dann nur %s (Berlin)", c.ParkingMunicipality, DemoRegistersMunicipality))
	}
	if c.ParkingRulesDir != "" {
		if fi, err := os.Stat(c.ParkingRulesDir); err != nil {
			p = append(p, fmt.Sprintf("RATHAUS_PARKING_RULES_DIR %q: %v", c.ParkingRulesDir, err))
		} else if !fi.IsDir() {
			p = append(p, fmt.Sprintf("RATHAUS_PARKING_RULES_DIR %q: ist kein Verzeichnis", c.ParkingRulesDir))
		}
	}
	if c.ParkingSigningKey == "" {
		p = append(p, "RATHAUS_PARKING_SIGNING_KEY fehlt: der private Schlüssel (PEM, ECDSA P-256), mit dem Ausweise signiert werden; einen neuen erzeugt „rathaus permit keygen“")
	} else if _, err := documents.ParsePrivateKeyPEM([]byte(c.ParkingSigningKey)); err != nil {
		// The parser's messages name the problem (curve, block type),
		// never the key's bytes.
		p = append(p, fmt.Sprintf("RATHAUS_PARKING_SIGNING_KEY: kein privater ECDSA-Schlüssel auf P-256 im PEM-Format (%v)", err))
	}
	if c.ParkingPreviousKeys != "" {
		if _, err := documents.ParsePublicKeysPEM([]byte(c.ParkingPreviousKeys)); err != nil {
			p = append(p, fmt.Sprintf("RATHAUS_PARKING_PREVIOUS_KEYS: %v", err))
		}
	}
	if strings.TrimSpace(c.ParkingAuthority) == "" {
		p = append(p, "RATHAUS_PARKING_AUTHORITY fehlt: die ausstellende Behörde, die auf dem Ausweis steht, z. B. „Bezirksamt Mitte von Berlin – Straßenverkehrsbehörde“")
	}
	switch c.PaymentProvider {
	case PaymentProviderTest:
	case "":
		p = append(p, "RATHAUS_PAYMENT_PROVIDER fehlt: erlaubt ist test (Testzahlung, es fließt kein Geld); echte Zahlungsanbieter folgen")
	default:
		p = append(p, fmt.Sprintf("RATHAUS_PAYMENT_PROVIDER %q: erlaubt ist nur test (Testzahlung, es fließt kein Geld); echte Zahlungsanbieter folgen", c.PaymentProvider))
	}
	switch n := len(c.PaymentSecret); {
	case n == 0:
		p = append(p, fmt.Sprintf("RATHAUS_PAYMENT_SECRET fehlt: mindestens %d Bytes, mit denen die Rückmeldungen des Zahlungsanbieters signiert werden (z. B. openssl rand -base64 48)", MinPaymentSecret))
	case n < MinPaymentSecret:
		p = append(p, fmt.Sprintf("RATHAUS_PAYMENT_SECRET ist %d Bytes lang: erforderlich sind mindestens %d (z. B. openssl rand -base64 48)", n, MinPaymentSecret))
	}
	return p
}

// isARS checks the form of an Amtlicher Regionalschlüssel: 12 digits.
func isARS(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// DemoDatabaseURL returns the SQLite URL inside the data directory.
func (c *Config) DemoDatabaseURL() string {
	return store.SQLiteURL(filepath.Join(c.DataDir, "rathaus.db"))
}

// Redacted returns the configuration as sorted "ENV=value" lines with
// secrets replaced: the password of a URL, a key or secret as a whole.
func (c *Config) Redacted() []string {
	var lines []string
	for _, op := range c.options() {
		v := op.get()
		switch op.secret {
		case secretURL:
			v = store.Redact(v)
		case secretValue:
			if v != "" {
				v = "xxxxx"
			}
		}
		lines = append(lines, op.env+"="+v)
	}
	sort.Strings(lines)
	return lines
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RoleMap parses RATHAUS_OIDC_ROLE_MAP ("GROUP=ROLE,…"); nil when unset.
func (c *Config) RoleMap() (map[string]string, error) {
	if strings.TrimSpace(c.OIDCRoleMap) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, pair := range strings.Split(c.OIDCRoleMap, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(pair), "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || (to != "clerk" && to != "lead" && to != "admin") {
			return nil, fmt.Errorf("RATHAUS_OIDC_ROLE_MAP %q: erwartet GRUPPE=ROLLE, durch Kommas getrennt; Rollen sind clerk, lead und admin", pair)
		}
		m[from] = to
	}
	return m, nil
}
