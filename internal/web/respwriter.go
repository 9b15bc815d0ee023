package web

import "net/http"

// responseWriter remembers the status and size of a response for the access
// log, metrics and error handling. Unwrap lets http.ResponseController reach
// the server's writer (deadlines, flushing, hijacking).
//
// A chain wraps the writer once: wrap reuses a *responseWriter it is given.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func wrap(w http.ResponseWriter) *responseWriter {
	if rw, ok := w.(*responseWriter); ok {
		return rw
	}
	return &responseWriter{ResponseWriter: w}
}

func (rw *responseWriter) WriteHeader(code int) {
	// 1xx other than 101 are informational (e.g. 103 Early Hints) and may
	// precede the real status.
	if !rw.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rw.status = code
		rw.wroteHeader = true
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.status = http.StatusOK
		rw.wroteHeader = true
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// Flush keeps streaming handlers that assert http.Flusher working.
func (rw *responseWriter) Flush() {
	if !rw.wroteHeader {
		rw.status = http.StatusOK
		rw.wroteHeader = true
	}
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// statusCode is the status the client got; a handler that wrote nothing
// answers 200, which net/http sends for it.
func (rw *responseWriter) statusCode() int {
	if !rw.wroteHeader {
		return http.StatusOK
	}
	return rw.status
}
