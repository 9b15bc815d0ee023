#!/usr/bin/env bash
# Measures the HTTP figures of BENCHMARKS.md on this machine:
#   - cold start of `rathaus demo` on an existing data directory to /readyz OK
#   - resident memory idle after loading Berlin, and after the load test
#   - address → zone over HTTP at 32 connections (cmd/rathaus-load), on SQLite
#     and, when PostgreSQL server binaries are installed, on PostgreSQL.
# Everything runs on loopback; the load tool stops by itself.
# Usage: scripts/bench-http.sh [duration, default 20s]
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-20s}
work=$(mktemp -d /tmp/rathaus-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/rathaus" ./cmd/rathaus
go build -o "$work/rathaus-load" ./cmd/rathaus-load
port=18181
url="http://127.0.0.1:$port"

rss() { awk '/VmRSS/ {printf "%.1f MB", $2/1024}' "/proc/$1/status"; }
wait_ready() {
  for _ in $(seq 1 600); do curl -sf "$url/readyz" >/dev/null && return 0; sleep 0.05; done
  echo "not ready" >&2; return 1
}
now_ms() { date +%s%3N; }

echo "## SQLite (rathaus demo)"
"$work/rathaus" demo --data "$work/data" --listen "127.0.0.1:$port" --log-level warn >"$work/first.out" 2>&1 &
pid=$!
wait_ready
kill -TERM $pid; wait $pid || true
for i in 1 2 3 4 5; do
  t0=$(now_ms)
  "$work/rathaus" demo --data "$work/data" --listen "127.0.0.1:$port" >"$work/demo.out" 2>&1 &
  pid=$!
  wait_ready
  t1=$(now_ms)
  echo "cold start $i (existing data dir → /readyz OK): $((t1 - t0)) ms"
  if [ $i -lt 5 ]; then kill -TERM $pid; wait $pid || true; fi
done
# The first lookup loads the snapshot; then the process is idle.
curl -sf "$url/api/v1/municipalities/110000000000/zone-lookup?address=Lehrter+Str.+53" >/dev/null
sleep 2
echo "RSS idle after loading Berlin: $(rss $pid)"
"$work/rathaus-load" -url "$url" -c 32 -d "$dur"
"$work/rathaus-load" -url "$url" -c 32 -d "$dur" -kind point
echo "RSS after the load test: $(rss $pid)"
kill -TERM $pid; wait $pid || true

echo
echo "## PostgreSQL (rathaus serve)"
scripts/with-postgres.sh bash -c '
  set -euo pipefail
  [ -n "${RATHAUS_TEST_POSTGRES:-}" ] || { echo "no PostgreSQL: skipped"; exit 0; }
  db=$(echo "$RATHAUS_TEST_POSTGRES" | sed -E "s#/postgres\?#/rathaus_bench?#")
  psql "$RATHAUS_TEST_POSTGRES" -qc "CREATE DATABASE rathaus_bench"
  export RATHAUS_DATABASE_URL="$db"
  "'"$work"'/rathaus" migrate
  "'"$work"'/rathaus" zones import --tenant 110000000000 --name Berlin --valid-from 2026-06-09 internal/demo/data/berlin-parkzonen/berlin.geojson
  "'"$work"'/rathaus" addresses import --tenant 110000000000 internal/demo/data/berlin-osm-addresses/*.csv | tail -1
  "'"$work"'/rathaus" serve --listen 127.0.0.1:'"$port"' >"'"$work"'/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -sf '"$url"'/readyz >/dev/null && break; sleep 0.05; done
  curl -sf "'"$url"'/api/v1/municipalities/110000000000/zone-lookup?address=Lehrter+Str.+53" >/dev/null
  sleep 2
  echo "RSS idle (serve on PostgreSQL): $(awk "/VmRSS/ {printf \"%.1f MB\", \$2/1024}" /proc/$pid/status)"
  "'"$work"'/rathaus-load" -url '"$url"' -c 32 -d '"$dur"'
  echo "RSS after the load test: $(awk "/VmRSS/ {printf \"%.1f MB\", \$2/1024}" /proc/$pid/status)"
  kill -TERM $pid; wait $pid || true
'
