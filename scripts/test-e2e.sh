#!/usr/bin/env bash
# The end-to-end suite with node's test runner. The tests start their own reference server on
# a free port and their own Chromium; node runs in a process group of its own, stopped on
# success, on failure and on Ctrl-C (scripts/lib/processes.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/processes.sh
scripts/npm-ci.sh tests/e2e
cd tests/e2e
run_group node --test --test-concurrency=1 --test-timeout=120000 ./*.test.mjs
