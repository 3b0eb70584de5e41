#!/usr/bin/env bash
# `manage.py check --deploy` with the production settings, and no missing migrations.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export DJANGO_SETTINGS_MODULE=labelkeep.settings LABELKEEP_DATA_DIR="$tmp"
SECRET_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(64))')
export SECRET_KEY
.venv/bin/python -m labelkeep.manage check --deploy --fail-level WARNING
.venv/bin/python -m labelkeep.manage makemigrations --check --dry-run
