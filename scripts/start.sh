#!/usr/bin/env bash
# First README command: install, then serve HTTPS with SQLite, a self-signed certificate
# and an in-process job worker. Extra arguments go to `labelkeep start`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/labelkeep start "$@"
