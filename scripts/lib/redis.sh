# Redis and reference-server instances for scripts. Sourced after scripts/lib/processes.sh, so
# everything started here is stopped on exit, whatever the outcome.

# A TCP port of 127.0.0.1 that is free now.
free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Starts Debian's redis-server on a free port, without persistence, in a scratch directory;
# leaves REDIS_PORT, REDIS_URL and REDIS_PID.
start_redis() {
  local dir tries
  dir=$(mktemp -d)
  at_exit "rm -rf '$dir'"
  REDIS_PORT=$(free_port)
  start_group redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir" --loglevel warning >/dev/null
  REDIS_PID=$STARTED_PID
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  for ((tries = 0; tries < 100; tries++)); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "redis-server did not start on port $REDIS_PORT" >&2
  return 1
}

# Starts `$1 [args...]` (a server binary that prints `listening on http://ADDR` or
# `listening on ADDR` first) with its stdout in a file; leaves STARTED_PID and LISTENING (the
# address, without a scheme).
start_listening() {
  local log tries
  log=$(mktemp)
  at_exit "rm -f '$log'"
  start_group "$@" >"$log"
  LISTENING=
  for ((tries = 0; tries < 200; tries++)); do
    LISTENING=$(head -n 1 "$log" | sed -n 's|^listening on \(http://\)\{0,1\}||p')
    [[ -n "$LISTENING" ]] && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "$1 did not start: $(cat "$log")" >&2
  return 1
}
