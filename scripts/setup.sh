#!/usr/bin/env bash
# Creates .venv and installs openfyp into it (with the test extras when given --test). Idempotent and quick
# when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.openfyp-installed
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
want="$(sha256sum pyproject.toml | cut -c1-16)$extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".$extras"
  echo "$want" > "$stamp"
fi
