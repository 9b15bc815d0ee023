package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"opencode.de/rathaus/rathaus/internal/errs"
	"opencode.de/rathaus/rathaus/internal/store"
)

// Status returns the HTTP status code for an error kind. It is the one
// mapping of kinds to status codes in Rathaus:
//
//	Invalid 400, Unauthenticated 401, Forbidden 403, NotFound 404,
//	Conflict 409, TooLarge 413, TooMany 429 (+ Retry-After), Internal 500, Unavailable 503 (+ Retry-After).
//
// Unknown kinds are Internal.
func Status(k errs.Kind) int {
	if info, ok := kinds[k]; ok {
		return info.status
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem details object as Rathaus writes it
// (media type application/problem+json).
//
// Extension members: "request_id" (always; the id to quote to support) and,
// for invalid input, "errors": one entry per field or parameter at fault.
// The entries name it "parameter" whether it came from the query, the path,
// a form or a JSON body, so clients handle one shape.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// FieldError names one input at fault and says, in German, what is wrong.
type FieldError struct {
	Parameter string `json:"parameter"`
	Detail    string `json:"detail"`
}

// FieldErrors returns the Invalid errors in err's tree that name a field, in
// order, looking through wrapping and errors.Join. A handler can join several
// errs.Field errors to report every wrong field at once.
func FieldErrors(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
			return
		case *errs.Error:
			if e.Kind == errs.Invalid && e.Field != "" {
				detail := e.Message
				if detail == "" {
					detail = kinds[errs.Invalid].detail
				}
				out = append(out, FieldError{Parameter: e.Field, Detail: detail})
				return
			}
		}
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range e.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// errMethodNotAllowed is what the Router reports for a known path requested
// with a method it does not serve.
type errMethodNotAllowed struct{ allow string }

func (e *errMethodNotAllowed) Error() string { return "method not allowed; allowed: " + e.allow }

// failure is an error as this package answers it.
type failure struct {
	kind   errs.Kind
	info   problemInfo
	detail string       // safe to show
	fields []FieldError // Invalid only
	allow  string       // 405 only
	gone   bool         // the client closed the request; nobody reads the answer
}

// classify decides how to answer err. Errors without an errs.Kind are
// Internal, except three causes the standard library reports in its own
// types: a body over the limit (TooLarge), the request's deadline
// (Unavailable: try again later) and a client that hung up; and a database
// that went away mid-request (a lost connection, a server shutting down, a
// full disk: store.Unavailable), which is Unavailable as when it cannot be
// reached at all.
func classify(r *http.Request, err error) failure {
	var mna *errMethodNotAllowed
	if errors.As(err, &mna) {
		return failure{kind: errs.Invalid, info: methodNotAllowed, detail: methodNotAllowed.detail, allow: mna.allow}
	}
	k := errs.Internal
	var e *errs.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		k = e.Kind
	case errors.As(err, &mbe):
		k = errs.TooLarge
	case errors.Is(err, context.DeadlineExceeded):
		k = errs.Unavailable
	}
	if k == errs.Internal && store.Unavailable(err) {
		k = errs.Unavailable
	}
	info, ok := kinds[k]
	if !ok {
		k, info = errs.Internal, kinds[errs.Internal]
	}
	f := failure{kind: k, info: info, detail: errs.MessageOf(err)}
	if f.detail == "" || k == errs.Internal {
		f.detail = info.detail
	}
	if k == errs.Invalid {
		f.fields = FieldErrors(err)
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		f.gone = true
	}
	return f
}

func (f failure) status() int {
	if f.gone {
		return statusClientClosed
	}
	return f.info.status
}

// logFailure logs what an operator must see: Internal errors at error level
// with the full error text (never shown to the user), Unavailable at warning
// level (a register or node is down, or a request ran out of time). Other
// kinds are the client's business and appear in the access log only.
func logFailure(r *http.Request, f failure, err error, msg string) {
	ctx := r.Context()
	var level slog.Level
	switch {
	case f.gone:
		level, msg = slog.LevelInfo, "client closed request"
	case f.kind == errs.Internal:
		level = slog.LevelError
	case f.kind == errs.Unavailable:
		level = slog.LevelWarn
	default:
		return
	}
	loggerFrom(ctx).LogAttrs(ctx, level, msg,
		slog.String("request_id", RequestIDFrom(ctx)),
		slog.String("method", r.Method),
		slog.String("route", routeLabel(ctx)),
		slog.String("path", r.URL.Path),
		slog.Int("status", f.status()),
		slog.String("error", err.Error()),
	)
}

// ErrorWriter writes err as the response to r: status, headers and a body the
// client understands. It also logs what needs logging. Middleware that must
// answer with an error (Recover, BodyLimit, Router, CrossOrigin) takes one.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// IsAPIPath reports whether a path belongs to the JSON API: /api and
// everything below it.
func IsAPIPath(path string) bool {
	return path == "/api" || strings.HasPrefix(path, "/api/")
}

// Errors returns the ErrorWriter for a whole site: problem+json for paths
// where isAPI is true (IsAPIPath if nil), the German HTML error page of pages
// everywhere else. With pages nil, every error is problem+json.
func Errors(pages *Templates, isAPI func(path string) bool) ErrorWriter {
	if isAPI == nil {
		isAPI = IsAPIPath
	}
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if pages == nil || isAPI(r.URL.Path) {
			WriteProblem(w, r, err)
			return
		}
		pages.WriteError(w, r, err)
	}
}

// WriteProblem writes err as RFC 9457 application/problem+json. It is an
// ErrorWriter.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	f := classify(r, err)
	logFailure(r, f, err, "request failed")
	writeProblem(w, r, f)
}

func writeProblem(w http.ResponseWriter, r *http.Request, f failure) {
	prepareError(w.Header(), f)
	if f.gone {
		w.WriteHeader(f.status())
		return
	}
	p := Problem{
		Type:      ProblemTypeBase + f.info.slug,
		Title:     f.info.title,
		Status:    f.info.status,
		Detail:    f.detail,
		Instance:  r.URL.EscapedPath(),
		RequestID: RequestIDFrom(r.Context()),
		Errors:    f.fields,
	}
	body, err := json.Marshal(p)
	if err != nil { // strings and ints only; cannot happen
		panic(err)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(f.info.status)
	_, _ = w.Write(body)
}

// prepareError sets the headers every error response has and removes those a
// failed handler may have set for the answer it did not give.
func prepareError(h http.Header, f failure) {
	for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Disposition", "Content-Range", "ETag", "Last-Modified", "Location"} {
		h.Del(k)
	}
	// Error answers carry a request id and may echo input: never cache them.
	h.Set("Cache-Control", "no-store")
	switch f.info.status {
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", retryAfterSeconds)
	case http.StatusTooManyRequests:
		h.Set("Retry-After", "1")
	}
	if f.allow != "" {
		h.Set("Allow", f.allow)
	}
}
