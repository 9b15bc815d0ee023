package web

import (
	"context"
	"log/slog"
	"net/http"
)

// requestState is what the middleware learns about a request while it passes
// through the chain. The outermost middleware that needs it puts a pointer into
// the context; inner layers fill it in (the Router writes the matched
// pattern), so outer layers (access log, metrics) can read it after the
// handler returned — the request they hold is not the one ServeMux updates.
//
// It is only touched by the goroutine serving the request.
type requestState struct {
	id      string       // request id, set by RequestID
	pattern string       // matched ServeMux pattern, set by Router; "" = unmatched
	logger  *slog.Logger // set by AccessLog; nil = slog.Default()
}

type stateKey struct{}

func stateOf(ctx context.Context) *requestState {
	s, _ := ctx.Value(stateKey{}).(*requestState)
	return s
}

// withState returns r carrying a request state, creating one if r has none.
func withState(r *http.Request) (*http.Request, *requestState) {
	if s := stateOf(r.Context()); s != nil {
		return r, s
	}
	s := &requestState{}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, s)), s
}

// RequestIDFrom returns the request id that the RequestID middleware assigned,
// or "" outside such a request. Jobs and outgoing calls started by a request
// may carry it on, so one id follows a case through the logs.
func RequestIDFrom(ctx context.Context) string {
	if s := stateOf(ctx); s != nil {
		return s.id
	}
	return ""
}

// RouteFrom returns the ServeMux pattern (such as "GET /antrag/{id}") that
// the Router matched for the request, or "" if none matched (yet). Inside a
// handler, r.Pattern says the same; RouteFrom is for middleware outside the
// Router, which only sees the request before dispatch.
func RouteFrom(ctx context.Context) string {
	if s := stateOf(ctx); s != nil {
		return s.pattern
	}
	return ""
}

// routeLabel is the route as logs and metrics show it: the pattern, or
// "unmatched" for everything the Router did not dispatch (unknown paths,
// wrong methods, redirects), so that scanners cannot blow up the number of
// label values.
func routeLabel(ctx context.Context) string {
	if p := RouteFrom(ctx); p != "" {
		return p
	}
	return "unmatched"
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if s := stateOf(ctx); s != nil && s.logger != nil {
		return s.logger
	}
	return slog.Default()
}
