package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain composes middleware once, the first outermost:
// Chain(a, b, c)(h) serves a(b(c(h))).
func Chain(mw ...Middleware) Middleware {
	return func(h http.Handler) http.Handler {
		for i := len(mw) - 1; i >= 0; i-- {
			h = mw[i](h)
		}
		return h
	}
}

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// RequestID gives every request an id: the incoming X-Request-Id if it is
// sane (1–64 characters of A–Z a–z 0–9 - _), so a proxy's id can be followed
// through, else 32 random hex digits (128 bits). The id is echoed in the
// response header, shown on error pages and in problem+json, logged with
// every line about the request, and available as RequestIDFrom(ctx).
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, s := withState(r)
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		s.id = id
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r)
	})
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// panicError carries a recovered panic and its stack into the error log.
// Its text is never shown to a user (it is Internal).
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", e.value, e.stack) }

// Recover turns a panic in a handler into a 500 answer written by onError
// and one error-level log line with the panic value and the stack. The user
// sees the generic message and the request id only. If the handler had
// already started its response, the connection is aborted instead
// (http.ErrAbortHandler), so the client does not take a truncated answer for
// a complete one. http.ErrAbortHandler itself passes through untouched.
func Recover(onError ErrorWriter) Middleware {
	if onError == nil {
		onError = WriteProblem
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := wrap(w)
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				err := &panicError{value: v, stack: debug.Stack()}
				if rw.wroteHeader {
					logFailure(r, classify(r, err), err, "panic after the response had started")
					panic(http.ErrAbortHandler)
				}
				onError(rw, r, err)
			}()
			next.ServeHTTP(rw, r)
		})
	}
}

// AccessLog logs one line per request at info level with: method, route (the
// matched pattern or "unmatched"), path, status, bytes, duration_ms,
// request_id and remote.
//
// It deliberately leaves out the query string (it may hold addresses, names
// or licence plates), headers, cookies and bodies. "remote" is the peer
// address truncated to its network (IPv4 /24, IPv6 /48): an IP address is
// personal data (CJEU C-582/14, Breyer), and the network is enough to see
// abuse patterns. Behind a proxy it is the proxy's address; X-Forwarded-For
// is not read, because without a list of trusted proxies anyone can forge it.
// Full addresses, where the security concept requires them, belong in the
// proxy's or WAF's log with its own retention period.
//
// AccessLog also makes logger the one that the error writers of this package
// use for the request, so error lines go where access lines go.
func AccessLog(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			r, s := withState(r)
			s.logger = logger
			rw := wrap(w)
			defer func() {
				logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("method", r.Method),
					slog.String("route", routeLabel(r.Context())),
					slog.String("path", r.URL.Path),
					slog.Int("status", rw.statusCode()),
					slog.Int64("bytes", rw.bytes),
					slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
					slog.String("request_id", s.id),
					slog.String("remote", truncateAddr(r.RemoteAddr)),
				)
			}()
			next.ServeHTTP(rw, r)
		})
	}
}

// truncateAddr returns the network of a host:port address, "192.0.2.0/24"
// or "2001:db8:1::/48", or "" if it is not an IP address.
func truncateAddr(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// SecurityOptions configures SecurityHeaders.
type SecurityOptions struct {
	// HSTS sends Strict-Transport-Security on every response, also those that
	// arrived over plain HTTP. Set it when Rathaus runs behind a proxy or
	// ingress that terminates TLS (and so sees no TLS itself). Without it,
	// HSTS is sent only on requests that came over TLS.
	HSTS bool
}

// ContentSecurityPolicy is the policy every response carries. No inline
// scripts or styles (no 'unsafe-inline' anywhere): styles come from
// stylesheet files, scripts — where one is ever needed — from script files.
// img-src allows data: because KERN UX draws its icons as data: SVG images
// in CSS.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// permissionsPolicy switches off browser features no Rathaus page uses.
const permissionsPolicy = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"

// SecurityHeaders sets the security headers on every response (they are set
// before the handler runs, so error answers carry them too): CSP,
// X-Content-Type-Options, Referrer-Policy, Cross-Origin-Opener-Policy,
// Permissions-Policy and, over TLS or with opts.HSTS, Strict-Transport-Security
// for two years including subdomains.
func SecurityHeaders(opts SecurityOptions) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", ContentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", permissionsPolicy)
			if r.TLS != nil || opts.HSTS {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// NoStore marks responses as not to be stored by any cache (Cache-Control:
// no-store): for routes whose answers contain personal data. Use it around
// single routes or route groups of the API; HTML pages rendered with
// Templates.Render are no-store already unless the handler set a
// Cache-Control of its own.
func NoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// BodyLimit limits request bodies to n bytes. A request that announces a
// larger Content-Length is answered 413 at once by onError, without reading
// the body; a body that turns out larger while it is read (chunked
// encoding) makes the read fail with *http.MaxBytesError, which DecodeJSON
// and the error writers turn into 413.
//
// An inner BodyLimit can lower the limit for some routes, not raise it.
func BodyLimit(n int64, onError ErrorWriter) Middleware {
	return BodyLimitFunc(func(*http.Request) int64 { return n }, onError)
}

// BodyLimitFunc is BodyLimit with a limit per request: for routes whose
// bodies may be larger than the rest (file uploads), chosen before the
// request is routed.
func BodyLimitFunc(limit func(*http.Request) int64, onError ErrorWriter) Middleware {
	if onError == nil {
		onError = WriteProblem
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := limit(r)
			if r.ContentLength > n {
				onError(w, r, errs.E(errs.TooLarge, "Die gesendeten Daten sind zu groß (höchstens %s).", byteSize(n)))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Timeout gives every request a context deadline d from now. Database calls,
// register requests and other context-aware work then stop at the deadline,
// and the handler's context.DeadlineExceeded error is answered as 503
// (Unavailable, with Retry-After). Timeout does not cut off a handler that
// ignores its context and does not buffer responses (unlike
// http.TimeoutHandler): the server's WriteTimeout (see NewServer) is the hard
// stop.
func Timeout(d time.Duration) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// CrossOrigin rejects cross-origin state-changing requests (CSRF) with 403,
// written by onError, using the browser's Sec-Fetch-Site and Origin headers
// (see http.CrossOriginProtection). GET, HEAD and OPTIONS always pass. With
// cop nil, a default protection without trusted origins is used.
func CrossOrigin(cop *http.CrossOriginProtection, onError ErrorWriter) Middleware {
	if cop == nil {
		cop = http.NewCrossOriginProtection()
	}
	if onError == nil {
		onError = WriteProblem
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := cop.Check(r); err != nil {
				onError(w, r, errs.Wrap(errs.Forbidden, err, "Die Anfrage kam von einer anderen Website und wurde deshalb abgelehnt."))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Admission limits the requests being served at once to max (admission
// control): a request that finds every slot taken waits up to wait for
// one, and is otherwise answered at once by refuse with ErrOverloaded (503
// and Retry-After; problem+json, or the German page for browsers) instead
// of queueing without bound. exempt requests (health checks, metrics,
// static files) always pass. The number waiting is bounded too (max), so
// memory stays bounded under any load. Refusals are counted in refused and
// logged as a summary, at most one line every 10 s: under overload most
// requests are refused, and the refusals must cost little (refuse should be
// a Refusal writer; nil is Refusal without pages).
func Admission(max int, wait time.Duration, exempt func(*http.Request) bool, refused *atomic.Int64, refuse ErrorWriter) Middleware {
	if refuse == nil {
		refuse = Refusal(nil, nil, ErrOverloaded)
	}
	slots := make(chan struct{}, max)
	waiting := make(chan struct{}, max)
	summary := &refusalLog{every: 10 * time.Second, msg: "admission control refused requests (RATHAUS_MAX_IN_FLIGHT in flight)"}
	refuseOne := func(w http.ResponseWriter, r *http.Request) {
		if refused != nil {
			refused.Add(1)
		}
		summary.refused(r.Context(), slog.Int("max_in_flight", max))
		refuse(w, r, ErrOverloaded)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if exempt != nil && exempt(r) {
				next.ServeHTTP(w, r)
				return
			}
			select {
			case slots <- struct{}{}:
			default:
				select {
				case waiting <- struct{}{}:
				default:
					refuseOne(w, r) // the waiting room is full too
					return
				}
				t := time.NewTimer(wait)
				select {
				case slots <- struct{}{}:
					t.Stop()
					<-waiting
				case <-t.C:
					<-waiting
					refuseOne(w, r)
					return
				case <-r.Context().Done():
					t.Stop()
					<-waiting
					return
				}
			}
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		})
	}
}
