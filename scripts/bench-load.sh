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
work=$(mktemp -d /tmp/rathaus-bench-load.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/rathaus" ./cmd/rathaus
go build -o "$work/rathaus-load" ./cmd/rathaus-load

source scripts/demo-wait.sh
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

"$work/rathaus" demo --data "$work/sqlite" --listen 127.0.0.1:18192 --log-level warn >"$work/sqlite.log" 2>&1 &
pids+=($!)
sqlite_pid=$!
wait_ready http://127.0.0.1:18192
wait_seeded http://127.0.0.1:18192
knee sqlite http://127.0.0.1:18192 "$sqlite_pid"
kill -TERM "$sqlite_pid"; wait "$sqlite_pid" || true

if [[ -n "${RATHAUS_TEST_POSTGRES:-}" ]]; then
  admin=$RATHAUS_TEST_POSTGRES
  db=$(echo "$admin" | sed -E "s#/postgres\?#/rathaus_bench_load?#")
  psql "$admin" -qc "DROP DATABASE IF EXISTS rathaus_bench_load" -c "CREATE DATABASE rathaus_bench_load"
  RATHAUS_DATABASE_URL=$db "$work/rathaus" demo --data "$work/pg" --listen 127.0.0.1:18193 --log-level warn >"$work/pg.log" 2>&1 &
  pids+=($!)
  pg_pid=$!
  wait_ready http://127.0.0.1:18193
  wait_seeded http://127.0.0.1:18193
  knee postgres http://127.0.0.1:18193 "$pg_pid"
  kill -TERM "$pg_pid"; wait "$pg_pid" || true
else
  echo "no PostgreSQL: the PostgreSQL figures are skipped"
fi
