#!/usr/bin/env bash
# Starts throw-away PostgreSQL and Redis servers on loopback for the test suite and benchmarks.
#   source scripts/services.sh start   -> exports OPENFYP_TEST_POSTGRES_URL and OPENFYP_TEST_REDIS_URL
#   scripts/services.sh stop
# Installs the Debian packages first when they are missing and we are root (CI, fresh machines).
set -euo pipefail

SERVICES_DIR="${OPENFYP_SERVICES_DIR:-/tmp/openfyp-test-services}"
PG_PORT="${OPENFYP_TEST_PG_PORT:-54329}"
REDIS_PORT="${OPENFYP_TEST_REDIS_PORT:-63799}"

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  echo "$dir"
}

install_missing() {
  local need=()
  [ -n "$(pg_bin)" ] || need+=(postgresql)
  command -v redis-server >/dev/null || need+=(redis-server)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
      echo "missing Debian packages: ${need[*]} (run as root or install them)" >&2
      return 1
    fi
  fi
}

as_pg_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  install_missing
  local bin; bin=$(pg_bin)
  mkdir -p "$SERVICES_DIR"
  local pgdata="$SERVICES_DIR/pg"
  if ! as_pg_user "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    rm -rf "$pgdata"; mkdir -p "$pgdata"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$pgdata" "$SERVICES_DIR"
    as_pg_user "$bin/initdb" -D "$pgdata" -U openfyp --auth=trust -E UTF8 >/dev/null
    as_pg_user "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
      -o "-p $PG_PORT -k $pgdata -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  fi
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
      --dir "$SERVICES_DIR" --logfile "$SERVICES_DIR/redis.log" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  export OPENFYP_TEST_POSTGRES_URL="postgresql+psycopg://openfyp@127.0.0.1:$PG_PORT/postgres"
  export OPENFYP_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

stop() {
  local bin; bin=$(pg_bin)
  [ -d "$SERVICES_DIR/pg" ] && as_pg_user "$bin/pg_ctl" -D "$SERVICES_DIR/pg" -m fast stop >/dev/null 2>&1 || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: scripts/services.sh start|stop" >&2; exit 2 ;;
esac
