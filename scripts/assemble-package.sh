#!/usr/bin/env bash
# Wraps wasm-bindgen's output (target/wasm-pack) in the npm package files of pkg-template/ and
# writes the result to target/package/, the directory the reference server serves at /pkg/:
# the glue and the wasm, the package manifest (without its development-only fields), the
# README, and the TypeScript wrapper and React adapter compiled by tsc.
set -euo pipefail
cd "$(dirname "$0")/.."
src=target/wasm-pack
out=target/package
rm -rf "$out"
mkdir -p "$out"
for file in jobsocket.js jobsocket.d.ts jobsocket_bg.wasm jobsocket_bg.wasm.d.ts snippets; do
  cp -r "$src/$file" "$out/$file"
done
node -e '
  const manifest = JSON.parse(require("fs").readFileSync("pkg-template/package.json", "utf8"));
  delete manifest.devDependencies;
  delete manifest.scripts;
  require("fs").writeFileSync(process.argv[1], JSON.stringify(manifest, null, 2) + "\n");
' "$out/package.json"
cp pkg-template/README.md "$out/"
scripts/npm-ci.sh pkg-template
(cd pkg-template && node_modules/.bin/tsc -p tsconfig.json)
