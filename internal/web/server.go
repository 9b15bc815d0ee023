package web

import (
	"log/slog"
	"net/http"
	"time"
)

// ServerOptions configures NewServer. Zero fields take the defaults below.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading the request line and headers
	// (default 5 s): the defence against slowloris clients.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included
	// (default 30 s: a form or a 1 MiB JSON body on a slow mobile link).
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to the
	// end of the response (default 60 s). It is the hard stop for a handler;
	// keep it above the Timeout middleware's deadline (30 s is a good value)
	// so that a request that runs out of time can still be answered 503.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for the next
	// request (default 120 s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the size of the request headers (default 64 KiB;
	// session cookies of identity providers can be large).
	MaxHeaderBytes int
	// Logger receives the server's own errors (TLS handshakes, broken
	// connections) at warning level; default slog.Default().
	Logger *slog.Logger
}

// NewServer returns an *http.Server for addr and h with the timeouts of opts.
// An http.Server without timeouts lets one slow client hold a connection and
// a goroutine forever; this helper exists so that no Rathaus binary starts
// one. The caller runs it (ListenAndServe or Serve) and shuts it down
// (Shutdown with a deadline).
func NewServer(addr string, h http.Handler, opts ServerOptions) *http.Server {
	def := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = 64 << 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: def(opts.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       def(opts.ReadTimeout, 30*time.Second),
		WriteTimeout:      def(opts.WriteTimeout, 60*time.Second),
		IdleTimeout:       def(opts.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
}
