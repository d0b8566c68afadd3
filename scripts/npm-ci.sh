#!/usr/bin/env bash
# Installs a directory's npm dependencies exactly as its package-lock.json says, only when the
# lock changed since the last install (a stamp in node_modules records it).
set -euo pipefail
dir=${1:?usage: scripts/npm-ci.sh DIR}
cd "$dir"
stamp=node_modules/.installed-lock
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  # `npm ci` refuses some lock files written here (with this machine's
  # omit-lockfile-registry-resolved setting, the optional platform packages of rollup lack a
  # version in the lock); `npm install` then installs the same locked versions.
  npm ci --no-audit --no-fund --loglevel=silent 2>/dev/null \
    || npm install --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
