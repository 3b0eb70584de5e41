#!/usr/bin/env bash
# Second README command: install everything, run the gates, then the whole suite on
# SQLite and on the PostgreSQL server at 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
scripts/install-system-deps.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== lint"
ruff check labelkeep tests bench
ruff format --check labelkeep tests bench
echo "== types"
mypy labelkeep tests bench
echo "== django checks"
scripts/check-deploy.sh

echo "== tests on SQLite"
pytest -n 2 -p no:cacheprovider "$@"

echo "== tests on PostgreSQL"
DATABASE_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
  pytest -n 2 -p no:cacheprovider "$@"
