#!/usr/bin/env bash
# The npm package's own suites: the React hooks (vitest, jsdom), the type tests (tsc), and a
# user's view: the packed tarball installed into an empty project and imported in plain Node,
# with a server-side render of the hooks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/npm-ci.sh pkg-template
(
  cd pkg-template
  node_modules/.bin/vitest run
  node_modules/.bin/tsc -p tsconfig.test.json
  echo "types: 1 passed, 0 failed"
)
tarball=$(ls target/pkg/jobsocket-*.tgz)
project=$(mktemp -d)
trap 'rm -rf "$project"' EXIT
cp tests/node-import/package.json tests/node-import/package-lock.json tests/node-import/check.mjs "$project/"
(
  cd "$project"
  npm ci --no-audit --no-fund --loglevel=error
  npm install --no-audit --no-fund --loglevel=error --no-save "$OLDPWD/$tarball"
  node check.mjs
)
