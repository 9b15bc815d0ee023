package node

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"opencode.de/rathaus/rathaus/internal/amtsnetz/message"
	"opencode.de/rathaus/rathaus/internal/amtsnetz/pki"
	"opencode.de/rathaus/rathaus/internal/store"
	"opencode.de/rathaus/rathaus/internal/store/storetest"
)

// BenchmarkRoundTrip measures request/response round trips between two
// nodes over mutual TLS on this machine: "signed+logged" is the Amtsnetz
// call (Client.Call → Provider: sign, log at both ends, verify both
// ways); "plain" is the same TLS connection and backend without signing
// and logging, the baseline. 16 concurrent callers (8 per core;
// RATHAUS_BENCH_PER_CORE=32 gives 64).
func BenchmarkRoundTrip(b *testing.B) {
	for _, e := range storetest.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			n := setupBench(b, e)
			body := []byte(`{"person":{"vornamen":"Anna","familienname":"Muster","geburtsdatum":"1980-01-01"},"anschrift":{"strasse":"Lehrter Str.","hausnummer":"53"}}`)
			b.Run("signed+logged", func(b *testing.B) {
				c := n.client(b)
				c.Attempts, c.Threshold = 1, 1<<30
				var failed atomic.Int64
				b.SetParallelism(perCore()) // 2 cores × 8 = 16 callers by default
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := c.Call(context.Background(), wohnen, "Bewohnerparken, § 34 BMG", "BP-2026-AAAAAAAA", body, false); err != nil {
							failed.Add(1)
						}
					}
				})
				b.StopTimer()
				if f := failed.Load(); f > 0 {
					b.Fatalf("%d calls failed", f)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			})
			b.Run("plain", func(b *testing.B) {
				hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientTLS(n.consumer.TLSCertificate(), n.roots, "127.0.0.1"),
					MaxIdleConnsPerHost: 64}}
				var failed atomic.Int64
				b.SetParallelism(perCore())
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						res, err := hc.Post("https://"+n.plainAddr+"/plain", "application/json", bytes.NewReader(body))
						if err != nil {
							failed.Add(1)
							continue
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				})
				b.StopTimer()
				if f := failed.Load(); f > 0 {
					b.Fatalf("%d calls failed", f)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			})
		})
	}
}

// benchNet is net3 plus a plain mTLS server with the same backend.
type benchNet struct {
	*net3
	plainAddr string
}

func setupBench(b *testing.B, e store.Engine) *benchNet {
	n := setup(b, e)
	backend := n.srv.Handler.(*Provider).Backends["wohnsitz-pruefen"]
	plain := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		status, resp, err := backend.Serve(r.Context(), message.Header{}, body)
		if err != nil {
			status = 502
		}
		w.WriteHeader(status)
		w.Write(resp)
	}), TLSConfig: n.provider.ServerTLS(n.roots), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go plain.ServeTLS(ln, "", "")
	b.Cleanup(func() { plain.Close() })
	return &benchNet{net3: n, plainAddr: ln.Addr().String()}
}

// perCore is the callers per core: RATHAUS_BENCH_PER_CORE, default 8.
func perCore() int {
	if v, err := strconv.Atoi(os.Getenv("RATHAUS_BENCH_PER_CORE")); err == nil && v > 0 {
		return v
	}
	return 8
}
