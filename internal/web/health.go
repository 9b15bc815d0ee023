package web

import (
	"context"
	"net/http"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// Healthz answers 200 "ok" (text/plain) as long as the process can serve
// HTTP at all: the liveness probe. It checks nothing else on purpose — a
// database outage must not make the orchestrator restart every replica.
func Healthz(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// Readyz returns the readiness probe: 200 {"status":"ok"} when check passes,
// else 503 problem+json. The problem's detail is the check error's errs
// message if it has one (so write checks that return, say,
// errs.Wrap(errs.Unavailable, err, "Datenbank nicht erreichbar")), else a
// generic one; the error itself is logged at warning level, not shown.
// check gets the request's context and should honour it.
func Readyz(check func(ctx context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if check != nil {
			if err := check(r.Context()); err != nil {
				// Whatever the check's kind, not ready is 503: the probe
				// understands status codes only.
				if errs.KindOf(err) != errs.Unavailable {
					msg := errs.MessageOf(err)
					if msg == "" {
						msg = "Der Dienst ist noch nicht bereit."
					}
					err = &errs.Error{Kind: errs.Unavailable, Message: msg, Err: err}
				}
				WriteProblem(w, r, err)
				return
			}
		}
		_ = WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}
