#!/usr/bin/env bash
# The npm package's own suites: the React hooks (vitest, jsdom) and the type tests (tsc). A
# user's view of the packed tarball (plain Node, bundlers, frameworks) is
# scripts/test-frameworks.sh.
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
