#!/usr/bin/env bash
# The end-to-end suite with node's test runner. The tests start their own reference server on
# a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/npm-ci.sh tests/e2e
cd tests/e2e
node --test --test-concurrency=1 --test-timeout=120000 ./*.test.mjs
