#!/usr/bin/env bash
# Runs the wasm-bindgen-test browser suites (tests/browser.rs, tests/browser_dialects.rs,
# tests/browser_socket_io_cluster.rs; JOBSOCKET_BROWSER_TESTS names fewer) in headless Chromium
# and Firefox against reference servers started here on free ports. The servers' addresses
# reach the tests at build time through JOBSOCKET_TEST_SERVER and JOBSOCKET_TEST_AUTH_SERVER,
# and the admin key through JOBSOCKET_TEST_ADMIN_KEY: a browser has no environment to read.
# Each test works in a fault scope of its own on the shared server.
#
# The test page comes from wasm-bindgen-test-runner's own server, on a random port of
# 127.0.0.1, and calls the reference servers cross-origin: they run with
# --unsafe-test-origin for that origin (sockets, the API and the admin API), which no real
# deployment should.
#
# Every server, WebDriver and browser runs in a process group of its own and is stopped on
# success, on failure and on Ctrl-C (scripts/lib/processes.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/processes.sh

server_bin=${SERVER_BIN:-target/debug/jobsocket-server}
browsers=${JOBSOCKET_BROWSERS:-chromium firefox}
# The test files (tests/NAME.rs) to run; all of them unless named.
test_files=${JOBSOCKET_BROWSER_TESTS:-browser browser_dialects browser_socket_io_cluster}
test_args=()
for file in $test_files; do test_args+=(--test "$file"); done
logs=$(mktemp -d)
at_exit 'rm -rf "$logs"'

# Starts "$@" (a server that prints `listening on ADDRESS` first) in a group of its own; leaves
# its address in SERVER_ADDRESS. Not run in $(…): the group must be recorded in this shell to
# be stopped.
start_listening() {
  local what=$1 log
  shift
  log=$(mktemp "$logs/server.XXXX")
  start_group "$@" >"$log" 2>&1
  local pid=$STARTED_PID
  for _ in $(seq 1 100); do
    SERVER_ADDRESS=$(head -n 1 "$log" | sed -n 's/^listening on //p')
    [[ -n "$SERVER_ADDRESS" ]] && return
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "the $what died" >&2; exit 1; }
    sleep 0.1
  done
  echo "the $what printed no address" >&2
  exit 1
}

# A reference server on a free port with the given flags.
start_server() {
  start_listening "reference server" "$server_bin" --port 0 --step-ms 20 "$@"
}

test_origins=(--unsafe-test-origin 'http://127.0.0.1:*' --unsafe-test-origin 'http://localhost:*')
# The admin key reaches the server through its environment, not a flag that `ps` shows.
JOBSOCKET_TEST_ADMIN_KEY=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export JOBSOCKET_ADMIN_KEY=$JOBSOCKET_TEST_ADMIN_KEY
start_server --admin "${test_origins[@]}"
unset JOBSOCKET_ADMIN_KEY
JOBSOCKET_TEST_SERVER=$SERVER_ADDRESS
# A second server that wants a token, for the token tests.
start_server --token s3cret "${test_origins[@]}"
JOBSOCKET_TEST_AUTH_SERVER=$SERVER_ADDRESS
export JOBSOCKET_TEST_SERVER JOBSOCKET_TEST_AUTH_SERVER JOBSOCKET_TEST_ADMIN_KEY
echo "[browser tests] reference servers at $JOBSOCKET_TEST_SERVER and $JOBSOCKET_TEST_AUTH_SERVER (token)"

# The servers of the other dialects (socket.io 4.8, phase-7's and story-007's `ws` servers),
# for tests/browser_dialects.rs; and two more socket.io instances joined by the Redis adapter on
# Debian's redis-server (free port, no persistence; its group is stopped on exit like the
# others), for tests/browser_socket_io_cluster.rs.
scripts/npm-ci.sh tests/e2e
start_listening "redis-server" node tests/e2e/redis.mjs
redis_url=$SERVER_ADDRESS
echo "[browser tests] redis at $redis_url"
start_listening "dialect servers" node tests/e2e/dialect-servers.mjs --redis "$redis_url"
JOBSOCKET_TEST_DIALECTS=$SERVER_ADDRESS
export JOBSOCKET_TEST_DIALECTS
echo "[browser tests] dialect servers at $JOBSOCKET_TEST_DIALECTS"
# The runner's limit is for the whole suite, not one test: each test gives up on its own,
# with a message, well before this, so a failing suite still reports every test by name.
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
for browser in $browsers; do
  case $browser in
    chromium)
      echo "[browser tests] headless Chromium"
      run_group wasm-pack test --headless --chrome --mode no-install \
        --chromedriver "$(command -v chromedriver)" -- "${test_args[@]}"
      ;;
    firefox)
      echo "[browser tests] headless Firefox"
      run_group wasm-pack test --headless --firefox --mode no-install \
        --geckodriver "$cargo_bin/geckodriver" -- "${test_args[@]}"
      ;;
    *) echo "unknown browser $browser" >&2; exit 2 ;;
  esac
done
