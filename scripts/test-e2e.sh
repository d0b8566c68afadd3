#!/usr/bin/env bash
# Installs the end-to-end test dependencies when package-lock.json changed, then runs the
# suite with node's test runner. The tests start their own reference server on a free port.
set -euo pipefail
cd "$(dirname "$0")/../tests/e2e"
stamp=node_modules/.installed-lock
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
node --test --test-concurrency=1 --test-timeout=120000 ./*.test.mjs
