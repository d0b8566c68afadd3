#!/usr/bin/env bash
# Builds the demo (www-demo, React + Vite) on the packed jobsocket tarball, installed the way a
# user installs it, into www-demo/dist, which the reference server serves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/npm-ci.sh www-demo
tarball=$(ls "$PWD"/target/pkg/jobsocket-*.tgz)
cd www-demo
npm install --no-audit --no-fund --loglevel=error --no-save "$tarball"
node_modules/.bin/tsc --noEmit
node_modules/.bin/vite build --logLevel warn
# The React cases page in development mode, where StrictMode double-mounts (vite.config.ts).
NODE_ENV=development JOBSOCKET_REACT_CASES=1 node_modules/.bin/vite build --mode development --logLevel warn
