#!/usr/bin/env bash
# `make demo-dialects`: the demo's hooks on servers that speak other protocols. Starts the
# dialect servers of the browser suite (the npm socket.io 4.8 server, and `ws` servers written
# to phase-7's and story-007's documents) on free ports, and the reference server on $PORT for
# the page itself; prints one address per server kind. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/processes.sh
port=${1:-8787}
scripts/npm-ci.sh tests/e2e
log=$(mktemp)
at_exit 'rm -f "$log"'
start_group node tests/e2e/dialect-servers.mjs >"$log" 2>&1
servers=$STARTED_PID
addresses=
for _ in $(seq 1 100); do
  addresses=$(head -n 1 "$log" | sed -n 's/^listening on //p')
  [[ -n "$addresses" ]] && break
  kill -0 "$servers" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$addresses" ]] || { echo "the dialect servers printed no address" >&2; exit 1; }
start_group target/debug/jobsocket-server --port "$port" --static www-demo/dist --pkg target/package
page=$STARTED_PID
node -e '
  const a = JSON.parse(process.argv[1]);
  const page = `http://127.0.0.1:${process.argv[2]}/dialects.html`;
  const at = { ep080: a.socketIo, story1615: a.socketIo, phase7: a.phase7, story007: a.story007 };
  for (const [kind, server] of Object.entries(at)) {
    const query = new URLSearchParams({ dialect: kind, server, control: a.control });
    console.log(`${kind.padEnd(10)} ${page}?${query}`);
  }
' "$addresses" "$port"
echo "Open one of the addresses above (Ctrl-C stops the servers)."
wait "$page"
