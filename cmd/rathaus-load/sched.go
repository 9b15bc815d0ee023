package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The open model: requests start at a constant arrival rate, whatever the
// server answers.
//
// Request i of a step is due at start + i/rate. The dispatcher sends it at
// that time in a goroutine of its own, however many earlier requests are
// still waiting for their answer, and the latency is taken from the due
// time, not from when it was sent: a stall of the server, or of this tool,
// shows up in the latency of every request that should have started during
// it (no coordinated omission). Only when maxInFlight requests are
// outstanding is a due request not sent; it is counted as the outcome
// client_overrun.

// Outcome kinds beside the status classes ("2xx", "3xx", "4xx:429",
// "5xx:500").
const (
	outRefused    = "refused"          // 503 with Retry-After: the server's admission control (or a timeout) said no
	outTimeout    = "timeout"          // no answer within -timeout
	outConnError  = "connection_error" // connecting, sending or reading failed
	outOverrun    = "client_overrun"   // not sent: -max-in-flight requests were outstanding
	outSkipped    = "skipped"          // not sent: a status read before the run's first receipt
	outBuildError = "request_error"    // the tool could not make the request
)

// isOK says whether an outcome counts as success: 2xx and 3xx answers (the
// status page's lookup answers 303). Everything else that was due, except
// skipped, is an error — 4xx, refused, 5xx, timeouts, connection errors,
// client overruns.
func isOK(outcome string) bool { return outcome == "2xx" || outcome == "3xx" }

func outcomeOf(res *http.Response, err error) string {
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return outTimeout
		}
		return outConnError
	}
	c := res.StatusCode
	switch {
	case c >= 200 && c < 300:
		return "2xx"
	case c >= 300 && c < 400:
		return "3xx"
	case c >= 400 && c < 500:
		return fmt.Sprintf("4xx:%d", c)
	case c == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "":
		return outRefused
	case c >= 500 && c < 600:
		return fmt.Sprintf("5xx:%d", c)
	}
	return fmt.Sprintf("other:%d", c)
}

// kindStats are the figures of one kind of request in one step.
type kindStats struct {
	due        int64     // requests due (offered), sent or not
	lat        histogram // every answered request
	okLat      histogram // the admitted ones: 2xx and 3xx
	outcomes   map[string]int64
	okInWindow int64 // successes answered before the step's end: the throughput
}

// stepStats collects a step's figures from the request goroutines.
type stepStats struct {
	mu    sync.Mutex
	kinds []*kindStats
	lag   histogram // sent − due: how late this tool sent
}

func newStepStats(kinds int) *stepStats {
	s := &stepStats{}
	for range kinds {
		s.kinds = append(s.kinds, &kindStats{outcomes: map[string]int64{}})
	}
	return s
}

// unsent counts a due request that was not sent.
func (s *stepStats) unsent(k int, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds[k].due++
	s.kinds[k].outcomes[outcome]++
}

// answered counts a sent request: its latency from the due time, whether
// it counts towards the step's throughput, and how late it was sent.
func (s *stepStats) answered(k int, outcome string, lat, lag time.Duration, inWindow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := s.kinds[k]
	ks.due++
	ks.outcomes[outcome]++
	ks.lat.record(lat)
	if isOK(outcome) {
		ks.okLat.record(lat)
		if inWindow {
			ks.okInWindow++
		}
	}
	s.lag.record(lag)
}

// loader runs steps of the open model against one server.
type loader struct {
	client      *http.Client
	gen         *generator
	maxInFlight int64
	timeout     time.Duration
	inFlight    atomic.Int64
	// pause, if set, is called before request i of a step is sent: tests
	// stall this tool with it, as a GC pause or a descheduled process would.
	pause func(i int)
}

// newOpenClient is the HTTP client of the open model: by default no limit
// on connections (each outstanding request may hold one, as each
// citizen's browser does), many idle connections kept for reuse, no
// redirects followed (the status lookup's 303 is its answer). conns > 0
// caps the connections (-conns): requests beyond wait in this tool for
// one, and that wait is part of their latency (measured from the due
// time) — for overload runs on one machine, where opening and closing
// thousands of connections would cost the tool more than the server.
func newOpenClient(maxInFlight, conns int) *http.Client {
	idle := min(maxInFlight, 4096)
	if conns > 0 {
		idle = conns
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		MaxConnsPerHost:     max(conns, 0),
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// step offers rate requests per second for d and returns once every
// request it sent has its outcome (each within l.timeout). Successes
// answered before start+d count towards the throughput. When ctx ends,
// no further request is sent; those already sent still finish. It returns
// how long it offered load: d, or less when ctx ended.
func (l *loader) step(ctx context.Context, rate float64, d time.Duration, st *stepStats) (offered time.Duration) {
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	period := float64(time.Second) / rate
	start := time.Now()
	end := start.Add(d)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var wg sync.WaitGroup
	offered = d
dispatch:
	for i := 0; ; i++ {
		due := start.Add(time.Duration(float64(i) * period))
		if !due.Before(end) {
			break
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				offered = time.Since(start)
				break dispatch
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			offered = time.Since(start)
			break dispatch
		}
		if l.pause != nil {
			l.pause(i)
		}
		k := l.gen.pick(rnd)
		if !l.gen.ready(k) {
			st.unsent(k, outSkipped)
			continue
		}
		if l.inFlight.Load() >= l.maxInFlight {
			st.unsent(k, outOverrun)
			continue
		}
		l.inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.inFlight.Add(-1)
			l.do(k, due, end, st)
		}()
	}
	wg.Wait()
	return offered
}

// do sends one request due at due and records its outcome.
func (l *loader) do(k int, due, end time.Time, st *stepStats) {
	req, rc, err := l.gen.request(k)
	if err != nil {
		st.unsent(k, outBuildError)
		return
	}
	// Its own context, not the run's: a request already sent is always
	// seen through, so that stopping early does not turn it into an error.
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	sent := time.Now()
	res, err := l.client.Do(req.WithContext(ctx))
	if err == nil {
		var body []byte
		if l.gen.wantsBody(k) {
			body, err = io.ReadAll(io.LimitReader(res.Body, 1<<20))
		} else {
			_, err = io.Copy(io.Discard, res.Body)
		}
		res.Body.Close()
		if err == nil {
			l.gen.answered(k, rc, res, body)
		}
	}
	done := time.Now()
	st.answered(k, outcomeOf(res, err), done.Sub(due), sent.Sub(due), done.Before(end))
}
