#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the service tests, from the distribution's packages.
#
#   source scripts/ci_postgres.sh        # installs if needed, starts, exports DEEPCREDIT_TEST_PG_URL
#   eval "$(bash scripts/ci_postgres.sh)" # the same from a subshell (prints the export line)
#   bash scripts/ci_postgres.sh stop      # stops it
#
# Installs the `postgresql` package with apt-get when no server binaries are present (needs root, as on
# CI), creates a cluster in $DEEPCREDIT_PG_DIR (default /tmp/deepcredit-pg) owned by the `postgres` user
# when run as root (initdb refuses root), listening only on 127.0.0.1:$DEEPCREDIT_PG_PORT (default 54329)
# with trust authentication: a test database that nothing off this machine can reach. Idempotent: an
# already running cluster on that port is reused. On failure it says why on stderr and exports nothing
# (sourced, it still returns 0: the PostgreSQL test cases then skip and say so).

_dc_pg_main() {
  local dir="${DEEPCREDIT_PG_DIR:-/tmp/deepcredit-pg}" port="${DEEPCREDIT_PG_PORT:-54329}"
  local db="deepcredit_test" bin run=()
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); fi

  if [ "${1:-start}" = stop ]; then
    [ -n "$bin" ] && [ -d "$dir/data" ] && "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2
    return 0
  fi

  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "ci_postgres: PostgreSQL is not installed and this is not root: cannot apt-get install it" >&2
      return 1
    fi
    echo "ci_postgres: installing postgresql from the distribution's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; } >&2 || {
      echo "ci_postgres: apt-get install postgresql failed" >&2; return 1; }
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  fi

  if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      "${run[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 || {
        echo "ci_postgres: initdb failed (see $dir/initdb.log)" >&2; return 1; }
    fi
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >&2 || {
      echo "ci_postgres: the server did not start (see $dir/server.log)" >&2; return 1; }
  fi
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" \
      | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db" || { echo "ci_postgres: createdb failed" >&2; return 1; }
  fi
  export DEEPCREDIT_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/$db"
  echo "ci_postgres: PostgreSQL ready at $DEEPCREDIT_TEST_PG_URL" >&2
  echo "export DEEPCREDIT_TEST_PG_URL=$DEEPCREDIT_TEST_PG_URL"
}

_dc_pg() {  # the caller's shell options (set -euo pipefail in CI) must neither break nor leak into this
  local flags=$- pipefail=0 rc
  [[ -o pipefail ]] && pipefail=1
  set +e +u +o pipefail
  _dc_pg_main "$@"
  rc=$?
  [[ $flags == *e* ]] && set -e
  [[ $flags == *u* ]] && set -u
  [[ $pipefail == 1 ]] && set -o pipefail
  return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  _dc_pg "$@"
  exit $?
else
  # sourced: never fail the caller; without a server the PostgreSQL tests skip, and the reason is above
  _dc_pg "$@" >/dev/null || true
fi
