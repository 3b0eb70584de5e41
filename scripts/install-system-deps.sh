#!/usr/bin/env bash
# System packages the test suite needs (PostgreSQL server binaries for the SSL test).
set -euo pipefail
missing=()
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi
