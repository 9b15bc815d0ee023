// Command rathaus-load measures Rathaus's HTTP throughput and latency
// against a running server, through the surfaces citizens and devices use.
//
// It has three modes.
//
// # Closed model (no subcommand)
//
// A fixed number of connections (-c) each send one request of one kind
// (-kind) after the other for a fixed time (-d); it reports requests per
// second and latency percentiles. A slow answer holds its connection back,
// so this measures the most the server answers, not the latency a
// population of citizens would see.
//
//	rathaus-load -url http://127.0.0.1:8080 -c 32 -d 20s
//	rathaus-load -url http://127.0.0.1:8080 -c 16 -d 15s -kind submit
//	rathaus-load -url http://127.0.0.1:8080 -c 32 -d 15s -kind enforce -key-file rathaus-data/demo-api-keys.txt
//
// Kinds (-kind):
//
//	address  zone lookup by address, for real Berlin addresses of the demo data
//	point    zone lookup by lat/lon
//	submit   Bewohnerparken applications (POST …/parking/applications), each with a
//	         distinct Idempotency-Key, for eligible demo residents fetched from the
//	         server (GET /api/v1/demo/residents, so `rathaus demo` only); counts 201s
//	enforce  enforcement lookups (GET /api/v1/enforcement/permits) with the API
//	         key(s) from -key or -key-file; plates of permits it first issues
//	         through the API and the test payment provider (-permits), mixed with
//	         other demo plates (-valid-share); counts 200s
//
// -direct drives each connection from its worker goroutine instead of
// through http.Transport, which spends less CPU on the machine under test.
//
// # Open model: rathaus-load open
//
// Requests arrive at a constant rate, whatever the server answers:
// request i is due at start + i/rate and is sent then, however many are
// still outstanding. Its latency is taken from that due time, not from
// when it was sent, so a stall of the server (or of this tool) counts for
// every request that should have started during it — no coordinated
// omission. Only beyond -max-in-flight outstanding requests is a due
// request not sent; it is counted as client_overrun, never dropped.
//
//	rathaus-load open -rate 200 -duration 60s -mix submit=1,status=4,zone=4,enforce=4 \
//	    -key-file /tmp/demo/demo-api-keys.txt -base http://127.0.0.1:8080 -out results/run.json
//
// Kinds of the mix (-mix kind=weight,…):
//
//	submit      POST /api/v1/municipalities/{ars}/parking/applications: an eligible demo
//	            resident (GET /api/v1/demo/residents, `rathaus demo` only), a new
//	            Idempotency-Key each time
//	status      the citizen's status page of a receipt (Aktenzeichen and access code)
//	            of this run's submissions: POST /bewohnerparken/status once (303 with
//	            the page's cookie), then GET /bewohnerparken/status/{reference}
//	status-api  GET /api/v1/parking/applications/{reference} with X-Access-Code
//	zone        zone lookup by a real Berlin address of the demo data
//	point       zone lookup by lat/lon of a real address point
//	enforce     GET /api/v1/enforcement/permits for demo plates, half of them (-valid-share)
//	            of permits it first issues (-permits); needs -key or -key-file, and the
//	            server allows 1,000 lookups/s per key
//
// Status reads wait for the run's first receipt (the warm-up makes some);
// until then they are counted as skipped, neither sent nor an error.
//
// The report, per kind and in total: offered and achieved rate (successes
// answered before the step's end, per second); latency p50, p90, p99,
// p99.9 and max, kept in a log-linear histogram with at most 0.4 % error
// from 1 µs to 10 min; outcomes: 2xx, 3xx, 4xx by code ("4xx:429"), refused
// (503 with Retry-After: admission control), other 5xx by code, timeout,
// connection_error, client_overrun. Errors are all outcomes but 2xx and
// 3xx (and skipped); the latency covers every request sent, whatever its
// outcome, and "ok p99" (latency_ok_ms in the JSON) that of the admitted
// requests (2xx, 3xx) alone — what overload does to those who get in. The server's resource use comes from its Prometheus endpoint
// (-metrics, every second): RSS, CPU seconds, database connections in use,
// admission refusals; -pid PID reads RSS and CPU from /proc/PID instead.
//
// # Step model: rathaus-load step
//
// Open-model steps at a rising rate: from -rate, raised by -step (+50 adds
// 50/s, x1.25 multiplies by 1.25) every -step-duration, until a step's p99
// exceeds -max-p99 or its error rate (as above: every outcome but 2xx and
// 3xx, so 503 refusals count) exceeds -max-errors percent. The knee is the
// highest step that stayed within both.
//
//	rathaus-load step -rate 50 -step +50 -step-duration 20s -max-p99 500ms -max-errors 1 \
//	    -mix submit=1,status=4,zone=4 -base http://127.0.0.1:8080 -out results/step.json
//
// With -out FILE.json both write one JSON document (the configuration,
// every step's figures, the knee) and FILE.svg, a chart of offered rate
// against p50 and p99 latency and achieved throughput.
//
// It only targets the URL it is given; run it against loopback or a test
// system. Every mode stops by itself. submit, status and enforce write to
// the server's database (applications, audit rows): point them at a demo.
// Flags take one dash or two (-rate, --rate); -h lists each mode's flags.
package main
