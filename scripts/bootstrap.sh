#!/usr/bin/env bash
# Create .venv and install Labelkeep with pinned dependencies (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/pip install -q --upgrade "pip==25.2"
extras=${1:-}
.venv/bin/pip install -q -c requirements.lock -e ".${extras:+[$extras]}"
