#!/usr/bin/env bash
# The npm package's own suites: the React hooks (vitest, jsdom), the type tests (tsc), and a
# user's view: the packed tarball installed into an empty project, imported in plain Node
# (with a server-side render of the hooks) and bundled by webpack 5.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/npm-ci.sh pkg-template
(
  cd pkg-template
  node_modules/.bin/vitest run
  node_modules/.bin/tsc -p tsconfig.test.json
  echo "types: 1 passed, 0 failed"
  # The README's React tour and dialect configurations are the files the type check just
  # compiled.
  node -e '
    const fs = require("fs");
    const readme = fs.readFileSync("../README.md", "utf8");
    for (const file of ["test/tour.tsx", "test/dialects.ts"]) {
      if (!readme.includes(fs.readFileSync(file, "utf8"))) {
        console.error(`README.md does not contain pkg-template/${file} verbatim`);
        process.exit(1);
      }
    }
    console.log("readme tour and dialects: 2 passed, 0 failed");
  ' 
)
tarball=$(ls target/pkg/jobsocket-*.tgz)
project=$(mktemp -d)
trap 'rm -rf "$project"' EXIT
cp -r tests/node-import/. "$project/"
rm -rf "$project/node_modules" "$project/dist"
(
  cd "$project"
  npm ci --no-audit --no-fund --loglevel=silent 2>/dev/null || npm install --no-audit --no-fund --loglevel=error
  npm install --no-audit --no-fund --loglevel=error --no-save "$OLDPWD/$tarball"
  node check.mjs
  node_modules/.bin/webpack --config webpack.config.cjs >/dev/null
  node check-webpack.mjs
)
