#!/usr/bin/env bash
# Installs a directory's npm dependencies exactly as its package-lock.json says, only when the
# lock changed since the last install (a stamp in node_modules records it).
set -euo pipefail
dir=${1:?usage: scripts/npm-ci.sh DIR}
cd "$dir"
stamp=node_modules/.installed-lock
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
