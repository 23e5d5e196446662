#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need (Python packages into .venv,
# Debian's chromium, PostgreSQL and Redis when missing and we are root), starts throw-away PostgreSQL and
# Redis servers on loopback, runs pytest against SQLite *and* PostgreSQL, and stops the servers.
# Extra arguments go to pytest, e.g.  scripts/test.sh tests/recsys -x
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing: apt-get install chromium (browser tests need it)" >&2
    exit 1
  fi
fi

# shellcheck source=scripts/services.sh
source scripts/services.sh start
trap 'bash scripts/services.sh stop' EXIT
export OPENFYP_REQUIRE_POSTGRES=1 OPENFYP_REQUIRE_REDIS=1 OPENFYP_REQUIRE_BROWSER=1

.venv/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadfile "$@"
