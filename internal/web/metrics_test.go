package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	s := newSite(t)
	s.get("/api/antraege/7")
	s.get("/api/antraege/8")
	s.get("/gibtsnicht/1")
	s.get("/gibtsnicht/2")
	s.do(httptest.NewRequest("BREW", "/hallo", nil))

	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "rathaus_test_jobs_total", Help: "test"})
	c.Add(3)
	if err := s.metrics.Register(c); err != nil {
		t.Fatal(err)
	}

	out := body(t, s.get("/metrics"))
	for _, want := range []string{
		`rathaus_http_request_duration_seconds_bucket{code="200",method="GET",route="GET /api/antraege/{id}",le="0.0005"}`,
		`rathaus_http_request_duration_seconds_count{code="200",method="GET",route="GET /api/antraege/{id}"} 2`,
		`rathaus_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 2`,
		`method="other"`,
		`rathaus_http_request_duration_seconds_bucket{code="200",method="GET",route="GET /api/antraege/{id}",le="5"}`,
		"rathaus_http_requests_in_flight 1", // the /metrics request itself
		"go_goroutines",
		"rathaus_test_jobs_total 3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, "/gibtsnicht") || strings.Contains(out, "BREW") {
		t.Error("unknown paths or methods became label values")
	}
}
