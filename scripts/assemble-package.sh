#!/usr/bin/env bash
# Wraps wasm-pack's output (target/wasm-pack) in the npm package files of pkg-template/ and
# writes the result to target/package/, the directory the reference server serves at /pkg/.
set -euo pipefail
cd "$(dirname "$0")/.."
src=target/wasm-pack
out=target/package
rm -rf "$out"
mkdir -p "$out"
for file in jobsocket.js jobsocket.d.ts jobsocket_bg.wasm jobsocket_bg.wasm.d.ts snippets; do
  cp -r "$src/$file" "$out/$file"
done
cp pkg-template/package.json pkg-template/README.md "$out/"
