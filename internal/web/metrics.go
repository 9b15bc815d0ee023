package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the process's Prometheus registry with the HTTP metrics:
//
//	rathaus_http_request_duration_seconds{route, method, code}  histogram
//	rathaus_http_requests_in_flight                              gauge
//
// plus the Go runtime and process collectors. Other packages add theirs
// (database pool, job queue) with Register. Its own registry, not the
// global default one, so tests and several servers in one process do not
// collide.
type Metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// durationBuckets span 0.5 ms to 5 s: a page from memory, a database
// round trip, a register call over the Amtsnetz, and the slow tail.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// NewMetrics returns a registry with the HTTP, Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rathaus",
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "Time to answer an HTTP request, by matched route pattern (\"unmatched\" for unknown routes), method and status code.",
			Buckets:   durationBuckets,
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "rathaus",
			Subsystem: "http",
			Name:      "requests_in_flight",
			Help:      "HTTP requests being served.",
		}),
	}
	m.reg.MustRegister(
		m.duration,
		m.inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Register adds a collector, such as the database pool statistics or the
// job counts. It fails if the collector's metrics clash with registered ones.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Handler serves the registry in the Prometheus exposition format, for
// GET /metrics. Expose it to the monitoring network only (the Helm chart's
// NetworkPolicy), not to the internet.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Middleware observes every request. Place it outside Recover (so panics
// count as the 500 they are answered with) and outside the Router (whose
// matched pattern it reads after the handler returned).
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r, _ = withState(r)
		rw := wrap(w)
		m.inFlight.Inc()
		defer func() {
			m.inFlight.Dec()
			m.duration.WithLabelValues(routeLabel(r.Context()), methodLabel(r.Method), strconv.Itoa(rw.statusCode())).
				Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rw, r)
	})
}

// methodLabel keeps made-up methods from creating label values.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}
