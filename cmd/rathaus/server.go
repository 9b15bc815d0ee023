package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/msglog"
	"opencode.de/rathaus/rathaus/internal/audit"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"

	"opencode.de/rathaus/rathaus/internal/apidoc"
	"opencode.de/rathaus/rathaus/internal/config"
	"opencode.de/rathaus/rathaus/internal/demo"
	"opencode.de/rathaus/rathaus/internal/geo"
	"opencode.de/rathaus/rathaus/internal/identity"
	"opencode.de/rathaus/rathaus/internal/jobs"
	"opencode.de/rathaus/rathaus/internal/mail"
	"opencode.de/rathaus/rathaus/internal/parking"
	"opencode.de/rathaus/rathaus/internal/registers"
	"opencode.de/rathaus/rathaus/internal/site"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/tenant"
	"opencode.de/rathaus/rathaus/internal/web"
)

type mode int

const (
	modeDemo mode = iota
	modeServe
)

// started is called once the server listens, with its base URL; tests use
// it to learn the port chosen for ":0".
type started func(baseURL string)

func runServer(ctx context.Context, m mode, args []string, getenv func(string) string, stdout, stderr io.Writer, onStart started) error {
	cmode := config.Serve
	name := "serve"
	if m == modeDemo {
		cmode, name = config.Demo, "demo"
	}
	cfg := config.Defaults(cmode)
	rest, err := cfg.Load(name, args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unerwartete Argumente: %q", rest)
	}
	if m == modeDemo && cfg.DatabaseURL == "" {
		cfg.DatabaseURL = cfg.DemoDatabaseURL()
	}
	if err := cfg.Validate(cmode); err != nil {
		return err
	}
	logger := newLogger(&cfg, stderr)
	if m == modeServe {
		fmt.Fprintln(stdout, "Rathaus – wirksame Konfiguration:")
		for _, l := range cfg.Redacted() {
			fmt.Fprintln(stdout, "  "+l)
		}
	}
	startAt := time.Now()

	db, err := openStore(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close() // last: after HTTP and jobs have stopped

	if cfg.AutoMigrate {
		if n, err := migrateAll(ctx, db, logger); err != nil {
			return err
		} else if n > 0 {
			logger.Info("database migrated", "applied", n)
		}
	}
	if err := checkSchema(ctx, db); err != nil {
		return err
	}

	// Listen before wiring the features: the payment provider and the
	// permits need the server's own URL, which port 0 only tells now.
	tcp, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	ln := web.NewConnLimit(tcp, int(cfg.MaxConnections), cfg.TLSCert == "")
	serving := false
	defer func() {
		if !serving {
			ln.Close()
		}
	}()
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	base := cfg.PublicURL
	if base == "" {
		base = scheme + "://" + displayAddr(ln.Addr().String())
	}
	base = strings.TrimRight(base, "/")

	svc := geo.NewService(db, nil, logger)
	outbox, err := newOutbox(&cfg, db, logger)
	if err != nil {
		return err
	}
	// Bewohnerparken: the demo always offers it on its own backends; serve
	// only when the operator configured it (RATHAUS_PARKING_*).
	var park *parkingFeature
	deps := parkingDeps{db: db, geo: svc, outbox: outbox, logger: logger, base: base}
	switch {
	case m == modeDemo:
		if park, err = newParkingDemo(ctx, &cfg, deps); err != nil {
			return err
		}
	case cfg.ParkingEnabled():
		if park, err = newParkingServe(ctx, &cfg, deps, stdout); err != nil {
			return err
		}
	}
	if park != nil {
		// Deferred here, so it runs after HTTP and jobs have stopped (their
		// defers come later) and before the database closes: the writers
		// that commit submissions and audit rows together drain first.
		defer park.svc.Close()
		defer park.net.Close()    // the demo's register nodes, before the service's writers drain
		defer park.member.Close() // serve's Amtsnetz membership: signs its log's head
	}
	registrars := []func(*river.Workers){svc.Register, outbox.Register}
	periodic := outbox.PeriodicJobs()
	signer, err := auditSigner(m, &cfg, db, logger, stdout)
	if err != nil {
		return err
	}
	if signer != nil {
		registrars = append(registrars, signer.Register)
		periodic = append(periodic, signer.PeriodicJobs()...)
		// At shutdown, after HTTP and jobs have stopped (their defers come
		// later): sign what was appended since the last checkpoint.
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if seq, err := audit.Checkpoint(ctx, db, signer.Key); err != nil {
				logger.Warn("audit checkpoint at shutdown", "err", err)
			} else if seq > 0 {
				logger.Info("audit checkpoint signed", "seq", seq)
			}
		}()
	}
	if park != nil {
		registrars = append(registrars, park.svc.Register)
		periodic = append(periodic, park.svc.PeriodicJobs()...)
	}
	jobClient, err := startJobs(ctx, db, logger, &cfg, cfg.JobWorkers, periodic, registrars...)
	if err != nil {
		return err
	}
	svc.SetJobs(jobClient)
	outbox.SetJobs(jobClient)
	if park != nil {
		park.svc.SetJobs(jobClient)
	}
	stopJobs := func(ctx context.Context) {
		if err := jobClient.Stop(ctx); err != nil {
			logger.Warn("stop jobs", "err", err)
		}
	}
	jobsStopped := false
	defer func() {
		if !jobsStopped {
			stopCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			stopJobs(stopCtx)
		}
	}()

	if m == modeDemo {
		say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
		if err := demo.Seed(ctx, db, svc, say); err != nil {
			return fmt.Errorf("Demo-Daten laden: %w", err)
		}
		if err := park.seed(ctx, say); err != nil {
			return fmt.Errorf("Demo-Daten laden: %w", err)
		}
	}

	if err := svc.Warm(ctx); err != nil {
		return err
	}
	staffSignIn := newSignIn(m, &cfg, db, logger, base)
	handler, err := newHandler(&cfg, db, svc, park, staffSignIn, logger, m, ln)
	if err != nil {
		return err
	}
	srv := web.NewServer(cfg.Listen, handler, web.ServerOptions{Logger: logger, WriteTimeout: cfg.RequestTimeout + 30*time.Second})
	if cfg.TLSCert != "" {
		srv.TLSConfig = tlsConfig()
	}
	serving = true
	serveErr := make(chan error, 1)
	go func() {
		var err error
		if cfg.TLSCert != "" {
			err = srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			err = srv.Serve(ln)
		}
		serveErr <- err
	}()
	logger.Info("rathaus started", "mode", name, "url", base, "db", db.String(), "startup_ms", time.Since(startAt).Milliseconds())
	if m == modeDemo {
		fmt.Fprintf(stdout, `
Rathaus-Demo läuft (Daten in %s). Öffnen Sie:
  %s/zonen                  Wohne ich in einer Bewohnerparkzone?
  %s/api/v1/municipalities/110000000000/zone-lookup?address=Lehrter+Str.+53,+10557
  %s/api/v1/openapi.json    API-Beschreibung (OpenAPI 3.1)
  %s/readyz  %s/metrics
Bewohnerparkausweis (Demo):
  %s/bewohnerparken         Antrag stellen
  %s/demo                   Demo-Einwohnerinnen und -Einwohner zum Ausprobieren
  %s/demo/post              Postausgang: die E-Mails der Demo
%s%s%sBeenden mit Strg+C.
`, cfg.DataDir, base, base, base, base, base, base, base, base, park.clerkText(base), park.keysText(), staffSignIn.text(base))
	}
	if onStart != nil {
		onStart(base)
	}

	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	// Shutdown order: HTTP (finish in-flight requests within the deadline),
	// then jobs, then the database (deferred above).
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	// One deadline for the whole shutdown, so that it fits the platform's
	// grace period (Kubernetes: 30 s by default; keep RATHAUS_SHUTDOWN_TIMEOUT below).
	shCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil {
		logger.Warn("http shutdown", "err", err)
		srv.Close()
	}
	stopJobs(shCtx)
	jobsStopped = true
	logger.Info("stopped")
	return nil
}

// tlsConfig follows BSI TR-02102-2: TLS 1.2 and 1.3 only, and for 1.2 only
// ECDHE with AES-GCM (TLS 1.3 suites are not configurable in Go; run with
// GODEBUG=fips140=on to drop ChaCha20 there as well).
func tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.CurveP256, tls.CurveP384, tls.X25519},
	}
}

func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// newHandler builds the whole HTTP surface: all routes, then the middleware
// chain, composed once.
func newHandler(cfg *config.Config, db *store.DB, svc *geo.Service, park *parkingFeature, staffSignIn *signIn, logger *slog.Logger, m mode, conns *web.ConnLimit) (http.Handler, error) {
	assets, err := web.NewAssets()
	if err != nil {
		return nil, err
	}
	geoHandler, err := geo.NewHandler(svc, assets)
	if err != nil {
		return nil, err
	}
	pages := geoHandler.Pages()
	if m == modeDemo {
		geoHandler.DefaultMunicipality = demo.Berlin.ARS
		// The demo says what it is on every page: real zones, but no real service.
		pages.SiteName = func(*http.Request) string { return "Berlin (Demo)" }
	}
	onError := web.Errors(pages, nil)

	metrics := web.NewMetrics()
	var refused atomic.Int64 // requests refused by admission control
	if err := metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rathaus_admission_refused_total",
		Help: "Requests answered 503 because RATHAUS_MAX_IN_FLIGHT requests were being served (admission control)."},
		func() float64 { return float64(refused.Load()) })); err != nil {
		return nil, err
	}
	if conns != nil {
		if err := errors.Join(
			metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "rathaus_connections_refused_total",
				Help: "Connections answered 503 and closed because RATHAUS_MAX_CONNECTIONS were open."},
				func() float64 { return float64(conns.Refused()) })),
			metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rathaus_connections_open",
				Help: "HTTP connections open."}, func() float64 { return float64(conns.Open()) })),
		); err != nil {
			return nil, err
		}
	}
	clientRates, err := web.ParseClientRates(cfg.ClientRate)
	if err != nil {
		return nil, fmt.Errorf("RATHAUS_CLIENT_RATE: %w", err)
	}
	proxies, err := web.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("RATHAUS_TRUSTED_PROXIES: %w", err)
	}
	limiter := web.NewClientLimiter(web.ClientLimitOptions{Rates: clientRates, TrustedProxies: proxies})
	if err := errors.Join(
		metrics.Register(limiter),
		metrics.Register(collectors.NewDBStatsCollector(db.Read(), "read")),
		metrics.Register(jobs.Collector(db)),
	); err != nil {
		return nil, err
	}
	if db.Write() != db.Read() {
		if err := metrics.Register(collectors.NewDBStatsCollector(db.Write(), "write")); err != nil {
			return nil, err
		}
	}

	sf := surfaces{geo: geoHandler}
	if sf.site, err = site.NewHandler(assets); err != nil {
		return nil, err
	}
	if park != nil {
		if sf.parking, err = parking.NewHandler(park.svc, assets); err != nil {
			return nil, err
		}
		sf.parking.DefaultMunicipality = park.municipality
		sf.parking.Messages = func(ctx context.Context, reference string) ([]parking.MessageRecord, error) {
			rs, err := msglog.ByReference(ctx, db, reference, 200)
			out := make([]parking.MessageRecord, 0, len(rs))
			for _, r := range rs {
				out = append(out, parking.MessageRecord{At: r.At, Sent: r.Direction == msglog.Out, Service: r.Service, Purpose: r.Purpose,
					Status: r.Status, MessageID: r.MessageID})
			}
			return out, err
		}
		if park.provider != nil {
			css := func() string { u, _ := assets.URL("kern/kern.min.css"); return u }
			sf.testPayment = park.provider.Handler(css)
		}
		// serve never shows the demo population or the outbox, even on
		// the demo registers.
		if m == modeDemo {
			sf.demoRegs = park.regs
			if sf.post, err = mail.NewHandler(park.outbox, assets); err != nil {
				return nil, err
			}
		}
	}
	if m == modeDemo {
		sf.site.Pages().SiteName = pages.SiteName
		if sf.parking != nil {
			sf.parking.Pages().SiteName = pages.SiteName
		}
		if sf.post != nil {
			sf.post.Pages().SiteName = pages.SiteName
		}
	}
	if sf.staff, sf.devIDP, err = staffSignIn.handlers(assets, pages.SiteName); err != nil {
		return nil, err
	}
	if sf.parking != nil {
		sf.parking.Staff = sf.staff // nil: the clerks' pages take the casework key (serve without staff sign-in)
	}
	mux := web.NewRouter(onError)
	limited := web.NewClientRoutes(mux, clientLimitedRoutes)
	routes(limited, db, assets, metrics, sf)

	chain := web.Chain(
		web.RequestID,
		web.AccessLog(logger),
		metrics.Middleware,
		web.SecurityHeaders(web.SecurityOptions{HSTS: cfg.TrustProxyTLS}),
		web.Recover(onError),
		limiter.Middleware(limited.Class, onError),
		web.Admission(int(cfg.MaxInFlight), cfg.AdmissionWait, func(r *http.Request) bool {
			p := r.URL.Path
			return p == "/healthz" || p == "/readyz" || p == "/metrics" || strings.HasPrefix(p, "/static/")
		}, &refused, web.Refusal(pages, nil, web.ErrOverloaded)),
		web.CrossOrigin(nil, onError),
		web.BodyLimitFunc(func(r *http.Request) int64 {
			if sf.parking != nil {
				return max(cfg.BodyLimit, parking.BodyLimit(r)) // file uploads
			}
			return cfg.BodyLimit
		}, onError),
		web.Timeout(cfg.RequestTimeout),
	)
	return chain(mux), nil
}

// clientLimitedRoutes are the expensive routes anyone can call, limited
// per client by RATHAUS_CLIENT_RATE (web.ClientLimiter): a citizen's
// application, the unauthenticated lookups and the document upload. Not
// limited: the workbench and the casework and enforcement API (signed-in
// staff or an API key; enforcement has its own limit per key), the pages
// and API a citizen opens with Aktenzeichen and access code, the payment
// provider's callbacks, zones and OGC API (open data), health, metrics and
// static files. Every POST of the form counts, the check before the
// summary too.
var clientLimitedRoutes = map[string]web.ClientClass{
	"POST /bewohnerparken/antrag":                            web.Submit,
	"POST /api/v1/municipalities/{ars}/parking/applications": web.Submit,
	"POST /zonen": web.Lookup,
	"GET /api/v1/municipalities/{ars}/zone-lookup":       web.Lookup,
	"GET /pruefen/{token}":                               web.Lookup,
	"POST /bewohnerparken/status/{reference}/unterlagen": web.Upload,
}

// surfaces are the HTTP handlers of the features; nil ones are not served.
type surfaces struct {
	geo         *geo.Handler
	site        *site.Handler
	parking     *parking.Handler
	demoRegs    *registers.Demo       // demo only: /demo and /api/v1/demo/residents
	testPayment http.Handler          // the test payment provider's pages, when it is the provider
	post        *mail.Handler         // demo only: /demo/post, the outbox
	staff       *identity.RP          // staff sign-in of the workbench, when configured (always in the demo)
	devIDP      *identity.DevProvider // demo only: the development OpenID provider
}

// routes registers every route of the server, in one place: the
// platform's here, each feature's in its own routes.go.
func routes(mux geo.Mux, db *store.DB, assets *web.Assets, metrics *web.Metrics, sf surfaces) {
	mux.Handle("GET /healthz", http.HandlerFunc(web.Healthz))
	mux.Handle("GET /readyz", web.Readyz(func(ctx context.Context) error {
		if err := db.Ping(ctx); err != nil {
			return err
		}
		return checkSchema(ctx, db)
	}))
	mux.Handle("GET /metrics", metrics.Handler())
	mux.Handle("GET /static/", assets)
	mux.Handle("GET /api/v1/openapi.json", apidoc.Handler())
	mux.Handle("GET /api/v1/municipalities", web.API(func(w http.ResponseWriter, r *http.Request) error {
		ms, err := tenant.List(r.Context(), db)
		if err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, map[string]any{"municipalities": ms})
	}))
	mux.Handle("GET /{$}", http.RedirectHandler("/zonen", http.StatusSeeOther))
	sf.geo.Routes(mux)
	sf.site.Routes(mux)
	if sf.parking != nil {
		sf.parking.Routes(mux)
		if sf.demoRegs != nil {
			sf.parking.DemoRoutes(mux, sf.demoRegs)
		}
	}
	if sf.post != nil {
		sf.post.DemoRoutes(mux)
	}
	if sf.testPayment != nil {
		mux.Handle("/testzahlung/", sf.testPayment)
	}
	if sf.staff != nil {
		sf.staff.Routes(mux)
	}
	if sf.devIDP != nil {
		sf.devIDP.Routes(mux)
	}
}

// newOutbox returns the e-mail outbox: messages go to the SMTP server of
// RATHAUS_SMTP_URL, or stay in the database when it is not set.
func newOutbox(cfg *config.Config, db *store.DB, logger *slog.Logger) (*mail.Outbox, error) {
	o := mail.Options{From: cfg.MailFrom, Logger: logger}
	if cfg.SMTPURL != "" {
		smtp, err := mail.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("RATHAUS_SMTP_URL: %w", err)
		}
		o.SMTP = smtp
	}
	return mail.New(db, o)
}
