package web

import (
	"net/http"
)

// HandlerFunc is an HTTP handler that returns its error instead of writing
// it. Return errs-kinded errors (errs.E, errs.Field, errs.Wrap); anything
// else is Internal: logged with its full text, shown to the user as a generic
// message with the request id.
//
// A handler that has already started its response must not return an error
// for it: the status is sent. Such an error is only logged.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// API adapts fn for the JSON API: errors become application/problem+json.
func API(fn HandlerFunc) http.Handler {
	return adapt(fn, WriteProblem)
}

// Page adapts fn for an HTML page: errors become the German error page
// (layout, message, request id).
func (t *Templates) Page(fn HandlerFunc) http.Handler {
	return adapt(fn, t.WriteError)
}

func adapt(fn HandlerFunc, onError ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := wrap(w)
		err := fn(rw, r)
		if err == nil {
			return
		}
		if rw.wroteHeader {
			f := classify(r, err)
			logFailure(r, f, err, "handler failed after the response had started")
			return
		}
		onError(rw, r, err)
	})
}
