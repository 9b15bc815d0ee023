#!/usr/bin/env bash
# Runs a command with RATHAUS_TEST_POSTGRES pointing at a PostgreSQL server.
#
# - If RATHAUS_TEST_POSTGRES is already set, the command runs against it.
# - Otherwise, when PostgreSQL server binaries are installed (pg_config
#   --bindir, or /usr/lib/postgresql/*/bin), a throwaway cluster is created in
#   a temporary directory, started on a free loopback port, and removed after
#   the command, whatever its outcome.
# - Otherwise the command runs without PostgreSQL; under CI=true that is an
#   error, because CI must prove both engines.
#
# The throwaway cluster keeps fsync and synchronous_commit on: Rathaus
# refuses to run on a database without them, and the tests check that.
set -euo pipefail

if [[ -n "${RATHAUS_TEST_POSTGRES:-}" ]]; then
  exec "$@"
fi

bindir=""
if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
  bindir=$(pg_config --bindir)
else
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" ]] && bindir=$d
  done
fi

if [[ -z "$bindir" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "with-postgres: no PostgreSQL server binaries found and CI=true: install postgresql-15" >&2
    exit 1
  fi
  echo "with-postgres: no PostgreSQL server binaries found; running without PostgreSQL (SQLite only)" >&2
  exec "$@"
fi

run_as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

tmp=$(mktemp -d /tmp/rathaus-pg.XXXXXX)
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$tmp"; fi
port=$(python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
)

cleanup() {
  run_as_pg "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

run_as_pg "$bindir/initdb" -D "$tmp/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; exit 1; }
run_as_pg "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$tmp -c max_connections=200" start >/dev/null \
  || { cat "$tmp/server.log" >&2; exit 1; }

export RATHAUS_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "with-postgres: throwaway PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
