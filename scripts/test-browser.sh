#!/usr/bin/env bash
# Runs the wasm-bindgen-test browser suite (tests/browser.rs) in headless Chromium and Firefox
# against a reference server started here on a free port. The server's address reaches the
# test at build time through JOBSOCKET_TEST_SERVER: a browser has no environment to read.
set -euo pipefail
cd "$(dirname "$0")/.."

server_bin=${SERVER_BIN:-target/debug/jobsocket-server}
browsers=${JOBSOCKET_BROWSERS:-chromium firefox}
log=$(mktemp)
"$server_bin" --port 0 --step-ms 20 --admin >"$log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 100); do
  address=$(head -n 1 "$log" | sed -n 's/^listening on //p')
  [[ -n "$address" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "the reference server died" >&2; exit 1; }
  sleep 0.1
done
[[ -n "${address:-}" ]] || { echo "the reference server printed no address" >&2; exit 1; }
echo "[browser tests] reference server at $address"
export JOBSOCKET_TEST_SERVER=$address
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-60}

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
for browser in $browsers; do
  case $browser in
    chromium)
      echo "[browser tests] headless Chromium"
      wasm-pack test --headless --chrome --mode no-install --chromedriver "$(command -v chromedriver)" -- --test browser
      ;;
    firefox)
      echo "[browser tests] headless Firefox"
      wasm-pack test --headless --firefox --mode no-install --geckodriver "$cargo_bin/geckodriver" -- --test browser
      ;;
    *) echo "unknown browser $browser" >&2; exit 2 ;;
  esac
done
