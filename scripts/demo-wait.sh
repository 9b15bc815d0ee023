# Shell functions for the benchmark scripts (sourced, not run): a work
# directory that is cleaned up with everything started in it, and waiting
# for a `rathaus demo` to be ready for load.

# bench_work NAME: sets $work to a new temporary directory and pids=() for
# the processes the script starts; on exit each of them gets SIGTERM, is
# waited for, and $work is removed.
bench_work() {
  work=$(mktemp -d "/tmp/rathaus-bench-$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

# wait_ready URL: until /readyz answers 200 (at most 60 s).
wait_ready() {
  for _ in $(seq 1 1200); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.05; done
  echo "$1 not ready" >&2; return 1
}

# wait_seeded URL: until the first demo resident's address is found. On
# PostgreSQL /readyz answers a few hundred milliseconds before the seeded
# addresses reach the lookup (a submission then gets "Adresse unbekannt").
wait_seeded() {
  local a
  a=$(curl -sf "$1/api/v1/demo/residents" | grep -o '"address":"[^"]*"' | awk -F'"' 'NR == 1 {print $4}')
  for _ in $(seq 1 600); do
    curl -sfG "$1/api/v1/municipalities/110000000000/zone-lookup" --data-urlencode "address=$a" | grep -q '"status":"found"' && return 0
    sleep 0.05
  done
  echo "$1: address register not loaded" >&2; return 1
}
