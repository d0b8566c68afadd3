#!/usr/bin/env bash
# The React adapter in every setup a user has, from the packed tarball (target/pkg, `make
# pack`; JOBSOCKET_TARBALL=path picks another): tiny apps in tests/frameworks/ (Next.js app
# router, Vite dev server and production build, webpack 5, plain Node, a user's own Vitest
# suite), each installed from its package-lock.json like a user's (only when the lock changed)
# plus the tarball with `npm install --no-save`, then built and run by node's test runner
# against the reference server (`make server demo-build`) in Chromium. node runs in a process
# group of its own, so every server and browser the tests start is stopped with it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/processes.sh

tarball=${JOBSOCKET_TARBALL:-$(ls "$PWD"/target/pkg/jobsocket-*.tgz 2>/dev/null | head -n 1)}
if [[ ! -f $tarball ]]; then
  echo "no jobsocket tarball in target/pkg: run make pack first" >&2
  exit 1
fi
tarball=$(realpath "$tarball")
apps=(next-app vite-app webpack-app node-app vitest-app)

# The installs are mostly waiting on the registry: all at once. tests/e2e gives playwright-core
# (tests/e2e/support.mjs launches Chromium).
installs=()
for dir in tests/e2e "${apps[@]/#/tests/frameworks/}"; do
  start_group scripts/npm-ci.sh "$dir"
  installs+=("$STARTED_PID")
done
status=0
for pid in "${installs[@]}"; do wait "$pid" || status=$?; done
[[ $status -eq 0 ]] || { echo "installing the apps' dependencies failed" >&2; exit "$status"; }

# The tarball afresh in every app: a new build of the same version must not be taken for the
# one already there, so the old copy goes first.
installs=()
for app in "${apps[@]}"; do
  rm -rf "tests/frameworks/$app/node_modules/jobsocket"
  start_group bash -c 'cd "$1" && npm install --no-audit --no-fund --loglevel=error --no-save "$2" >/dev/null' \
    install "tests/frameworks/$app" "$tarball"
  installs+=("$STARTED_PID")
done
for pid in "${installs[@]}"; do wait "$pid" || status=$?; done
[[ $status -eq 0 ]] || { echo "installing $tarball into the apps failed" >&2; exit "$status"; }

# Three test files at once: their builds and their waits on the browser overlap (about 30 s
# warm on 2 cores, against 60 s one at a time); more gains nothing there.
cd tests/frameworks
run_group node --test --test-concurrency="${JOBSOCKET_FRAMEWORK_JOBS:-3}" --test-timeout=180000 ./*.test.mjs
