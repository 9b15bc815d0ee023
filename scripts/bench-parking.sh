#!/usr/bin/env bash
# Measures the Bewohnerparken figures of BENCHMARKS.md (issue #3) on this machine:
#   1. submissions over HTTP (POST …/parking/applications → stored, 201) at 16
#      and 64 clients, on SQLite (`rathaus demo`) and PostgreSQL (`rathaus demo`
#      with RATHAUS_DATABASE_URL pointing at a throwaway cluster);
#   2. beside them the ceiling of durable single-row inserts at the same
#      concurrency: pgbench with a one-insert script, and the Go benchmark
#      BenchmarkDurableInsert (internal/store) through store.DB.Transact;
#      also batched inserts (BenchmarkDurableInsertBatched) and Service.Submit
#      without HTTP (BenchmarkSubmit, internal/parking);
#   3. check-to-decision throughput of the job pipeline (BenchmarkCheckToDecision);
#   4. enforcement lookups over HTTP, with the demo's one key (rate-limited
#      to 1,000/s per key) and with 16 keys (16 devices), the latter also with
#      rathaus-load -direct (less CPU for the load tool on the shared cores);
#      beside them Authenticate+Enforce without HTTP (BenchmarkEnforce) and
#      the group commit of internal/store (BenchmarkGroupCommit);
#   5. permit PDF + signed QR, signing and verification (internal/documents).
# Servers listen on 127.0.0.1:18190 (SQLite) and :18191 (PostgreSQL); the
# load tool stops by itself; everything started here is stopped on exit.
# Without PostgreSQL server binaries the PostgreSQL halves are skipped.
# Usage: scripts/bench-parking.sh [enforce|submit] [duration per HTTP run, default 15s]
#   enforce: only the enforcement figures (4.), on both engines;
#   submit: only the submissions over HTTP (1.), on both engines.
set -euo pipefail
cd "$(dirname "$0")/.."

# Run everything inside one throwaway PostgreSQL cluster (scripts/with-postgres.sh
# runs the command directly when RATHAUS_TEST_POSTGRES is already set, or
# without PostgreSQL when no server binaries are installed).
if [[ -z "${BENCH_PARKING_INNER:-}" ]]; then
  export BENCH_PARKING_INNER=1
  exec scripts/with-postgres.sh "$0" "$@"
fi

only=""
if [[ "${1:-}" == enforce || "${1:-}" == submit ]]; then
  only=$1
  shift
fi
dur=${1:-15s}
source scripts/demo-wait.sh
bench_work parking
t_start=$(date +%s)

go build -o "$work/rathaus" ./cmd/rathaus
go build -o "$work/rathaus-load" ./cmd/rathaus-load
load="$work/rathaus-load"
summary="$work/summary"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

# ack FILE: "N/s p50 X p99 Y" from a rathaus-load output.
ack() {
  awk '/^acknowledged/ {r=$(NF)} /^latency of acknowledged/ {p50=$5; p99=$9} /^cpu:/ {cpu=$3 " % busy, server " $8 " cores"}
       END {printf "%s, p50 %s, p99 %s (cpu: machine %s)", r, p50, p99, cpu}' "$1"
}
ack_rate() { awk '/^acknowledged/ {sub("/s", "", $NF); print $NF}' "$1"; }

# loadrun OUT ARGS...: runs rathaus-load, and after it prints how busy the
# machine's cores were and how many of them the server ($server_pid) used.
loadrun() {
  local out=$1 t0 t1 s0 s1 tk
  shift
  tk=$(getconf CLK_TCK)
  t0=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
  s0=$(awk '{print $14+$15}' "/proc/$server_pid/stat")
  local start=$(date +%s%N)
  "$load" "$@" | tee "$out"
  local el=$(( $(date +%s%N) - start ))
  t1=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
  s1=$(awk '{print $14+$15}' "/proc/$server_pid/stat")
  awk -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" -v tk="$tk" -v el="$el" 'BEGIN {
    split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]
    printf "cpu: machine %.0f %% busy, server process %.2f cores (incl. warm-up)\n", 100 * busy / (busy + idle), (s1 - s0) / tk / (el / 1e9)
  }' | tee -a "$out"
}

# Bench keys: n enforcement keys (one per scan car) written straight into
# the demo's database beside the demo's own key, which only `rathaus demo`
# creates. $1: SQL runner (reads SQL on stdin), $2: key file to write,
# $3: SQL expression for created_at.
add_bench_keys() {
  local run=$1 file=$2 created=$3 secret hash i
  secret=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  hash=$(printf %s "$secret" | sha256sum | cut -d' ' -f1)
  : >"$file"
  for i in $(seq -w 1 16); do
    echo "INSERT INTO api_keys (id, municipality, role, name, secret_hash, created_at)
          SELECT 'key_bench$i', municipality, 'enforcement', 'Lasttest $i', '$hash', $created
          FROM api_keys WHERE role = 'enforcement' AND id NOT LIKE 'key_bench%' LIMIT 1;"
    echo "enforcement=key_bench$i.$secret" >>"$file"
  done | $run
}

# http_figures NAME URL DATADIR SQL-RUNNER CREATED-AT-EXPR: the HTTP runs
# against a running demo.
http_figures() {
  local name=$1 url=$2 data=$3 run=$4 created=$5
  [[ $only == submit ]] && { submission_figures "$name" "$url" "$run"; return 0; }
  echo
  echo "### Enforcement lookups ($name), the demo's one API key (limited to 1,000/s per key)"
  loadrun "$work/$name-enforce1" -url "$url" -kind enforce -key-file "$data/demo-api-keys.txt" -c 32 -d 5s -warmup 1s
  echo
  echo "### Enforcement lookups ($name), 16 API keys, 32 connections"
  add_bench_keys "$run" "$work/keys16" "$created"
  # The 20 permits of the first run are found again (same Idempotency-Keys), not issued anew.
  loadrun "$work/$name-enforce16" -url "$url" -kind enforce -key-file "$work/keys16" -c 32 -d "$dur"
  echo
  echo "### Enforcement lookups ($name), 16 API keys, 32 direct connections (rathaus-load -direct)"
  loadrun "$work/$name-enforce16d" -url "$url" -kind enforce -key-file "$work/keys16" -c 32 -d "$dur" -direct
  echo
  echo "### The permit query's plan ($name)"
  plan "$name" "$run"
  note "$name: enforcement, 1 key:   $(ack "$work/$name-enforce1")   (answers $(sed -n 's/^requests: .*; answers \(.*\); transport.*/\1/p' "$work/$name-enforce1"))"
  note "$name: enforcement, 16 keys: $(ack "$work/$name-enforce16")"
  note "$name: enforcement, 16 keys, -direct: $(ack "$work/$name-enforce16d")"
  [[ -z $only ]] || return 0
  submission_figures "$name" "$url" "$run"
}

# submission_figures NAME URL SQL-RUNNER: submissions at 16 and 64 clients
# (on PostgreSQL also after ANALYZE), with their summary lines.
submission_figures() {
  local name=$1 url=$2 run=$3
  submissions "$name" "$url" "$run" ""
  if [[ $name == postgres ]]; then
    # On the fresh database the idempotency lookup's cached generic plan
    # scans all applications of the municipality (BENCHMARKS.md); once the
    # table has statistics (autovacuum's first ANALYZE) it uses the unique index.
    echo
    echo "### ANALYZE (what autovacuum does within its first minutes)"
    echo "ANALYZE;" | $run
    submissions "$name" "$url" "$run" "-analyzed"
  fi
  local f k
  for f in "$work/$name"-submit*; do
    k=${f##*-submit}
    note "$name: submissions, ${k%%-*} clients${k#${k%%-*}}: $(ack "$f")"
  done
}

# plan NAME SQL-RUNNER: the plan of the enforcement's permit query
# (internal/parking permitsInForce) for a plate with a permit.
plan() {
  local name=$1 run=$2 q plate
  plate=$(echo "SELECT plate FROM parking_permits LIMIT 1;" | $run)
  q="SELECT zone_id, valid_until FROM parking_permits WHERE municipality = '110000000000'
     AND plate = '$plate' AND status = 'active'
     AND valid_from <= '$(date +%F)' AND valid_until >= '$(date +%F)' ORDER BY valid_until DESC"
  if [[ $name == sqlite ]]; then
    echo "EXPLAIN QUERY PLAN $q;" | $run
  else
    echo "EXPLAIN $q;" | $run
  fi
}

# submissions NAME URL SQL-RUNNER SUFFIX: submissions at 16 and 64 clients.
submissions() {
  local name=$1 url=$2 run=$3 suffix=$4 c
  for c in 16 64; do
    echo
    echo "### Submissions ($name$suffix), $c clients"
    loadrun "$work/$name-submit$c$suffix" -url "$url" -kind submit -c "$c" -d "$dur"
    echo "applications by status right after the run (the check jobs work them off meanwhile):"
    echo "SELECT status, count(*) FROM parking_applications GROUP BY status ORDER BY status;" | $run | tr '\n' ' '
    echo
  done
}

echo "# Bewohnerparken benchmarks — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(go version | awk '{print $3}')"
echo
echo "## SQLite: rathaus demo on 127.0.0.1:18190"
sqlite_url=http://127.0.0.1:18190
"$work/rathaus" demo --data "$work/sqlite" --listen 127.0.0.1:18190 >"$work/sqlite.log" 2>&1 &
pids+=($!)
sqlite_pid=$!
server_pid=$sqlite_pid
wait_ready "$sqlite_url"
wait_seeded "$sqlite_url"
if command -v sqlite3 >/dev/null; then
  sqlrun_sqlite() { sqlite3 -cmd ".timeout 10000" "$work/sqlite/rathaus.db"; }
  http_figures sqlite "$sqlite_url" "$work/sqlite" sqlrun_sqlite created_at
else
  echo "sqlite3 not installed: SQLite HTTP figures skipped"
fi
kill -TERM "$sqlite_pid"; wait "$sqlite_pid" || true

if [[ -n "${RATHAUS_TEST_POSTGRES:-}" ]]; then
  admin=$RATHAUS_TEST_POSTGRES
  dburl() { echo "$admin" | sed -E "s#/postgres\?#/$1?#"; }
  echo
  echo "## PostgreSQL: rathaus demo with RATHAUS_DATABASE_URL on 127.0.0.1:18191"
  for db in rathaus_bench_demo rathaus_bench_pgbench; do
    psql "$admin" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  done
  echo "PostgreSQL $(psql "$admin" -Atc 'SHOW server_version'): fsync=$(psql "$admin" -Atc 'SHOW fsync'), synchronous_commit=$(psql "$admin" -Atc 'SHOW synchronous_commit')"
  pg_url=http://127.0.0.1:18191
  RATHAUS_DATABASE_URL=$(dburl rathaus_bench_demo) "$work/rathaus" demo --data "$work/pg" --listen 127.0.0.1:18191 >"$work/pg.log" 2>&1 &
  pids+=($!)
  pg_pid=$!
  server_pid=$pg_pid
  wait_ready "$pg_url"
  wait_seeded "$pg_url"
  sqlrun_pg() { psql "$(dburl rathaus_bench_demo)" -qAt -F'|' -v ON_ERROR_STOP=1; }
  http_figures postgres "$pg_url" "$work/pg" sqlrun_pg "now()"
  kill -TERM "$pg_pid"; wait "$pg_pid" || true
else
  echo
  echo "## PostgreSQL: skipped (no server binaries)"
fi

if [[ $only == submit ]]; then
  echo
  echo "## Summary ($(( $(date +%s) - t_start )) s)"
  cat "$summary"
  exit 0
fi
if [[ -n $only ]]; then
  echo
  echo "## Go benchmarks: enforcement without HTTP, group commit"
  go test -run='^$' -bench='^BenchmarkEnforce$' -benchtime=3s ./internal/parking/ | tee "$work/enforcego" | grep '^Benchmark'
  go test -run='^$' -bench='^Benchmark(GroupCommit|DurableInsert)$' -benchtime=3s ./internal/store/ | tee "$work/group" | grep '^Benchmark'
  metric() { awk -v b="$2" -v u="$3" 'index($1, b) == 1 { for (i = 2; i < NF; i++) if ($(i+1) == u) { printf "%.0f", $i; exit } }' "$1"; }
  for e in sqlite postgres; do
    v=$(metric "$work/enforcego" "BenchmarkEnforce/$e-" lookups/s)
    [[ -n "$v" ]] && note "$e: Authenticate+Enforce without HTTP, 32 goroutines: $v lookups/s, $(metric "$work/enforcego" "BenchmarkEnforce/$e-" rows/commit) rows/commit"
    for c in 16 64; do
      for k in tx insert; do
        v=$(metric "$work/group" "BenchmarkGroupCommit/$e/kind=$k/clients=$c-" inserts/s)
        [[ -n "$v" ]] && note "$e: group commit ($k), $c clients: $v rows/s ($(metric "$work/group" "BenchmarkGroupCommit/$e/kind=$k/clients=$c-" rows/commit) rows/commit)"
      done
      note "$e: one commit per row, $c clients: $(metric "$work/group" "BenchmarkDurableInsert/$e/clients=$c-" inserts/s)/s"
    done
  done
  echo
  echo "## Summary ($(( $(date +%s) - t_start )) s)"
  cat "$summary"
  exit 0
fi

if [[ -n "${RATHAUS_TEST_POSTGRES:-}" ]]; then
  pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)
  echo
  echo "## PostgreSQL ceiling: pgbench, one INSERT per transaction"
  pgdb=$(dburl rathaus_bench_pgbench)
  psql "$pgdb" -qc "CREATE TABLE bench_insert (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, reference TEXT NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL, created_at TIMESTAMP NOT NULL)"
  data=$(printf '{"given_names":"Jan","family_name":"Kaiser","birth_date":"1958-01-16","address":"Wichertstraße 45, 10439","plate":"B-UY 7078","relation":"holder","duration_months":24,"no_own_space":true,"email":"test@example.org","truthful":true,"street":"Wichertstraße","house_number":"45","postcode":"10439","zone_ids":["29"],"x":"%0100d"}' 0)
  cat >"$work/insert.sql" <<EOF
\set n random(1, 99999999)
INSERT INTO bench_insert (reference, status, data, created_at) VALUES ('BP-2026-' || :n, 'received', '$data', now());
EOF
  for c in 16 64; do
    "$pgbench" -n -c "$c" -j 2 -T 15 -f "$work/insert.sql" "$pgdb" 2>&1 | tee "$work/pgbench$c" | grep -E "^(number of clients|latency average|tps)"
    note "postgres: pgbench one-insert ceiling, $c clients: $(awk '/^tps/ {printf "%.0f/s", $3}' "$work/pgbench$c")"
  done
fi

echo
echo "## Go benchmarks"
echo "### Durable inserts through store.DB.Transact: one row per transaction (the ceiling), batched, through store.Group; submissions and enforcement lookups without HTTP"
go test -run='^$' -bench='^Benchmark(DurableInsert(Batched)?|GroupCommit)$' -benchtime=3s ./internal/store/ | tee "$work/insert" | grep '^Benchmark'
go test -run='^$' -bench='^Benchmark(Submit|Enforce)$' -benchtime=3s ./internal/parking/ | tee "$work/submitgo" | grep '^Benchmark'
echo "### Check-to-decision throughput of the job pipeline (500 applications per engine and worker count)"
go test -run='^$' -bench='^BenchmarkCheckToDecision$' -benchtime=1x ./internal/parking/ | tee "$work/pipeline" | grep '^Benchmark'
echo "### Permit PDF with signed QR, token signing and verification (one goroutine)"
go test -run='^$' -bench='^Benchmark(Sign|Verify|RenderPermitPDF)$' -benchmem -count=3 ./internal/documents/ | tee "$work/documents" | grep '^Benchmark'

metric() { awk -v b="$2" -v u="$3" 'index($1, b) == 1 { for (i = 2; i < NF; i++) if ($(i+1) == u) { printf "%.0f", $i; exit } }' "$1"; }
for e in sqlite postgres; do
  for c in 16 64; do
    ceil=$(metric "$work/insert" "BenchmarkDurableInsert/$e/clients=$c-" inserts/s)
    [[ -n "$ceil" ]] || continue
    note "$e: Go durable-insert ceiling, $c clients: $ceil/s; Submit without HTTP: $(metric "$work/submitgo" "BenchmarkSubmit/$e/clients=$c-" submits/s)/s"
    ref=$ceil
    [[ $e == postgres && -f "$work/pgbench$c" ]] && ref=$(awk '/^tps/ {printf "%.0f", $3}' "$work/pgbench$c")
    for f in "$work/$e-submit$c" "$work/$e-submit$c-analyzed"; do
      [[ -f "$f" ]] || continue
      rate=$(ack_rate "$f")
      note "$e: submissions over HTTP at $c clients${f##*-submit$c} = $rate/s = $(awk -v a="$rate" -v b="$ref" 'BEGIN {printf "%.0f", 100*a/b}') % of the ceiling ($ref/s)"
    done
  done
  for r in 16 64; do
    v=$(metric "$work/insert" "BenchmarkDurableInsertBatched/$e/rows=$r-" rows/s)
    [[ -n "$v" ]] && note "$e: durable inserts, $r rows per transaction (group commit): $v rows/s"
  done
  for c in 16 64; do
    for k in tx insert; do
      v=$(metric "$work/insert" "BenchmarkGroupCommit/$e/kind=$k/clients=$c-" inserts/s)
      [[ -n "$v" ]] && note "$e: store.Group ($k), $c clients: $v rows/s ($(metric "$work/insert" "BenchmarkGroupCommit/$e/kind=$k/clients=$c-" rows/commit) rows/commit)"
    done
  done
  v=$(metric "$work/submitgo" "BenchmarkEnforce/$e-" lookups/s)
  [[ -n "$v" ]] && note "$e: Authenticate+Enforce without HTTP, 32 goroutines: $v lookups/s"
  for w in 4 16 64; do
    v=$(metric "$work/pipeline" "BenchmarkCheckToDecision/$e/workers=$w-" decided/s)
    [[ -n "$v" ]] && note "$e: check-to-decision, $w workers: $v decided/s"
  done
done
for b in RenderPermitPDF Sign Verify; do
  ns=$(awk -v b="Benchmark$b-" 'index($1, b) == 1 {print $3}' "$work/documents" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  note "documents: $b median $ns ns/op = $(awk -v ns="$ns" 'BEGIN {printf "%.0f", 1e9/ns}')/s on one core"
done

echo
echo "## Summary ($(( $(date +%s) - t_start )) s)"
cat "$summary"
