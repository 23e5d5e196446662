#!/usr/bin/env bash
# Quick start: installs openfyp into .venv, builds the demo catalog (first run only) and serves it at
# http://127.0.0.1:8000 on the embedded defaults (SQLite, local media folder, in-process jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OPENFYP_DATA_DIR="${OPENFYP_DATA_DIR:-$PWD/openfyp-data}"
if [ ! -f "$OPENFYP_DATA_DIR/demo.json" ]; then
  .venv/bin/openfyp demo
fi
exec .venv/bin/openfyp serve --host "${OPENFYP_HOST:-127.0.0.1}" --port "${OPENFYP_PORT:-8000}"
