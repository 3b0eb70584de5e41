#!/usr/bin/env bash
# Debian packages the test suite needs: PostgreSQL server binaries (the SSL-only cluster
# test starts its own) and Chromium (browser tests, driven by pip's playwright with
# executable_path; no browser download), and wrk, the benchmarks' load generator.
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)
command -v runuser >/dev/null || missing+=(util-linux)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
