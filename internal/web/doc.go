// Package web is the shared HTTP plumbing of Rathaus: what every surface —
// citizen pages, case-worker pages, the JSON API — needs and no feature
// package should write again.
//
// It provides:
//
//   - Handlers that return errors (HandlerFunc), adapted by API (errors as
//     RFC 9457 application/problem+json) and Templates.Page (errors as the
//     German HTML error page). Status is the one mapping of errs.Kind to HTTP
//     status. Only Internal errors are logged as errors, with their full
//     text; users see a generic German message and the request id.
//
//   - Router, a ServeMux whose 404 and 405 answers come in the same formats,
//     and which reports the matched pattern to the middleware outside it.
//
//   - Middleware, composed once with Chain. A typical order, outermost first:
//
//     RequestID, AccessLog, Metrics.Middleware, SecurityHeaders, Recover,
//     ClientLimiter.Middleware, Admission, CrossOrigin, BodyLimit, Timeout
//     — then the Router.
//
//     RequestID first, so every log line and error page has the id;
//     AccessLog and metrics outside Recover, so a panic is logged and counted
//     as the 500 it is answered with; SecurityHeaders outside Recover, so
//     error answers carry the headers too.
//
//   - WriteJSON and a strict DecodeJSON; NewServer with timeouts; ConnLimit,
//     the listener that answers connections beyond a bound with a 503 before
//     they cost a goroutine (so memory stays bounded under a flood); Healthz,
//     Readyz; Metrics (Prometheus) with a registry others add to.
//
//   - Assets: the embedded KERN UX design system (static/kern, see its
//     SOURCE.md) and static/rathaus.css, served at content-hashed URLs with
//     immutable caching; Templates: html/template pages in the shared KERN UX
//     layout.
//
// It deliberately does not: authenticate or hold sessions (package identity);
// read X-Forwarded-For, except to find the client of a per-client limit
// behind a configured trusted proxy (ClientLimiter); answer CORS, compress
// dynamic responses or terminate TLS (the ingress does); translate (the
// German texts are in one table, messages.go, so a second language is a
// second table); trace (OpenTelemetry comes with
// its own middleware); or use JavaScript — every page works without it, and
// the Content-Security-Policy forbids inline scripts and styles.
package web
