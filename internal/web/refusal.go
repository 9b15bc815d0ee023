package web

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"opencode.de/rathaus/rathaus/internal/errs"
)

// ErrOverloaded is admission control's answer: 503 with Retry-After.
var ErrOverloaded = errs.E(errs.Unavailable, "Rathaus ist gerade stark ausgelastet. Bitte versuchen Sie es in einigen Sekunden noch einmal; Ihre Eingaben sind nicht verloren, wenn Sie die Seite erneut absenden.")

// Refusal returns an ErrorWriter for one fixed error that is answered so
// often that rendering and logging each answer would cost more than the
// work it protects: admission control's 503 under overload, when most
// requests are refused and each refusal takes CPU from the admitted ones
// (BENCHMARKS.md, issue #6). The German page is rendered once per site name
// with a stand-in for the request id and completed per request; the
// problem+json body is small and written as WriteProblem does. It does not
// log: the caller counts and logs a summary (Admission). With pages nil,
// every answer is problem+json.
func Refusal(pages *Templates, isAPI func(path string) bool, err error) ErrorWriter {
	if isAPI == nil {
		isAPI = IsAPIPath
	}
	f := classify(&http.Request{}, err)
	rf := &fixedError{pages: pages, isAPI: isAPI, err: err, f: f, bySite: map[string][][]byte{}}
	return rf.write
}

// refusalSites bounds the cache of rendered pages (one per site name; site
// names come from configuration, but a bound costs nothing).
const refusalSites = 64

// refusalID stands in for the request id in the cached page: letters and
// digits only, so html/template writes it unchanged.
const refusalID = "RathausRequestIDStandIn7f3c"

type fixedError struct {
	pages  *Templates
	isAPI  func(string) bool
	err    error   // the one error it answers
	f      failure // err classified once
	mu     sync.RWMutex
	bySite map[string][][]byte // the page split at each request id
}

func (rf *fixedError) write(w http.ResponseWriter, r *http.Request, _ error) {
	f := rf.f
	if r.Context().Err() != nil {
		f.gone = true // the client left while waiting for a slot
	}
	if f.gone || rf.pages == nil || rf.isAPI(r.URL.Path) {
		writeProblem(w, r, f) // for a client that left: the status alone
		return
	}
	parts, err := rf.page(r)
	if err != nil { // the error page itself failed: render the ordinary way
		rf.pages.WriteError(w, r, rf.err)
		return
	}
	id := RequestIDFrom(r.Context()) // [A-Za-z0-9_-] only (validRequestID): safe in HTML as is
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	n += (len(parts) - 1) * len(id)
	h := w.Header()
	prepareError(h, f)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(f.info.status)
	for i, p := range parts {
		if i > 0 {
			_, _ = w.Write([]byte(id))
		}
		_, _ = w.Write(p)
	}
}

// page returns the German refusal page of r's site, split at the request
// id, rendering it on first use.
func (rf *fixedError) page(r *http.Request) ([][]byte, error) {
	site := rf.pages.site(r)
	rf.mu.RLock()
	parts, ok := rf.bySite[site]
	rf.mu.RUnlock()
	if ok {
		return parts, nil
	}
	body, err := rf.pages.execute(site, refusalID, rf.pages.errorT, newErrorData(rf.f))
	if err != nil {
		return nil, err
	}
	parts = bytes.Split(body, []byte(refusalID))
	rf.mu.Lock()
	if len(rf.bySite) < refusalSites {
		rf.bySite[site] = parts
	}
	rf.mu.Unlock()
	return parts, nil
}

// refusalLog logs refusals as a summary, at most once per interval: under
// overload a line per refused request would itself be a load (and a flood
// in the log). The access log still has each request with its status.
type refusalLog struct {
	every time.Duration
	msg   string
	since atomic.Int64 // refused since the last line
	last  atomic.Int64 // when the last line was written: nanoseconds since start, plus one (0: never)
	start time.Time    // set by the first refusal; monotonic, so clock steps do not matter
	once  sync.Once
}

func (l *refusalLog) refused(ctx context.Context, attrs ...slog.Attr) {
	n := l.since.Add(1)
	l.once.Do(func() { l.start = time.Now() })
	now := int64(time.Since(l.start)) + 1
	last := l.last.Load()
	if (last != 0 && now-last < int64(l.every)) || !l.last.CompareAndSwap(last, now) {
		return
	}
	l.since.Add(-n)
	loggerFrom(ctx).LogAttrs(ctx, slog.LevelWarn, l.msg,
		append([]slog.Attr{slog.Int64("refused", n), slog.String("request_id", RequestIDFrom(ctx))}, attrs...)...)
}
