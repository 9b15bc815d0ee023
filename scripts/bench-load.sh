#!/usr/bin/env bash
# The load figures of BENCHMARKS.md (issue #6): with the open model of
# cmd/rathaus-load, the knee of `rathaus demo` on SQLite and on PostgreSQL
# (RATHAUS_DATABASE_URL on a throwaway cluster from scripts/with-postgres.sh):
#   1. citizens' mix: submit=1,status=4,zone=4 (one application to eight reads);
#   2. mostly reads: submit=1,status=20,zone=20 (status pages need receipts of the run).
# Each run raises the rate (from 50/s, x1.4 every STEP) until p99 > 500 ms or
# more than 1 % errors (503 refusals count); the knee is the last step within
# both. Results (JSON and an SVG chart per run) go to benchmarks/ next to
# BENCHMARKS.md. The server and the load tool share this machine's cores.
# Usage: scripts/bench-load.sh [STEP duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${BENCH_LOAD_INNER:-}" ]]; then
  export BENCH_LOAD_INNER=1
  exec scripts/with-postgres.sh "$0" "$@"
fi
step=${1:-10s}
out=benchmarks
mkdir -p "$out"
source scripts/demo-wait.sh
bench_work load
go build -o "$work/rathaus" ./cmd/rathaus
go build -o "$work/rathaus-load" ./cmd/rathaus-load

# knee ENGINE URL PID: the two step runs against a running demo.
knee() {
  local engine=$1 url=$2 pid=$3 mix name
  for mix in "citizens submit=1,status=4,zone=4" "reads submit=1,status=20,zone=20"; do
    name=${mix%% *}
    echo "## $engine, $name (${mix#* })"
    "$work/rathaus-load" step -base "$url" -rate 50 -step x1.4 -step-duration "$step" -max-p99 500ms -max-errors 1 \
      -max-rate 20000 -mix "${mix#* }" -pid "$pid" -out "$out/load-$engine-$name.json" | grep -E '^(step|knee)|  total|send lag|server'
  done
}

# demo_knee ENGINE PORT DATABASE_URL: a demo on PORT (SQLite when the URL
# is empty), its knees, then stopped.
demo_knee() {
  local engine=$1 url=http://127.0.0.1:$2 pid
  RATHAUS_DATABASE_URL=$3 "$work/rathaus" demo --data "$work/$engine" --listen "127.0.0.1:$2" --log-level warn >"$work/$engine.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_ready "$url"
  wait_seeded "$url"
  knee "$engine" "$url" "$pid"
  kill -TERM "$pid"; wait "$pid" || true
}

demo_knee sqlite 18192 ""
if [[ -n "${RATHAUS_TEST_POSTGRES:-}" ]]; then
  admin=$RATHAUS_TEST_POSTGRES
  db=$(echo "$admin" | sed -E "s#/postgres\?#/rathaus_bench_load?#")
  psql "$admin" -qc "DROP DATABASE IF EXISTS rathaus_bench_load" -c "CREATE DATABASE rathaus_bench_load"
  demo_knee postgres 18193 "$db"
else
  echo "no PostgreSQL: the PostgreSQL figures are skipped"
fi
