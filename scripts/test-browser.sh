#!/usr/bin/env bash
# Runs the wasm-bindgen-test browser suite (tests/browser.rs) in headless Chromium and Firefox
# against a reference server started here on a free port. The server's address reaches the
# test at build time through JOBSOCKET_TEST_SERVER: a browser has no environment to read.
set -euo pipefail
cd "$(dirname "$0")/.."

server_bin=${SERVER_BIN:-target/debug/jobsocket-server}
browsers=${JOBSOCKET_BROWSERS:-chromium firefox}
pids=()
logs=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -f "${logs[@]}"' EXIT

# Starts a reference server on a free port with the given flags; prints its address.
start_server() {
  local log
  log=$(mktemp)
  logs+=("$log")
  "$server_bin" --port 0 --step-ms 20 "$@" >"$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do
    local address
    address=$(head -n 1 "$log" | sed -n 's/^listening on //p')
    if [[ -n "$address" ]]; then echo "$address"; return; fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "the reference server died" >&2; exit 1; }
    sleep 0.1
  done
  echo "the reference server printed no address" >&2
  exit 1
}

JOBSOCKET_TEST_SERVER=$(start_server --admin)
# A second server that wants a token, for the token tests.
JOBSOCKET_TEST_AUTH_SERVER=$(start_server --token s3cret)
export JOBSOCKET_TEST_SERVER JOBSOCKET_TEST_AUTH_SERVER
echo "[browser tests] reference servers at $JOBSOCKET_TEST_SERVER and $JOBSOCKET_TEST_AUTH_SERVER (token)"
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
