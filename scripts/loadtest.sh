#!/usr/bin/env bash
# `make loadtest`: the reference server under load. Starts Debian's redis-server on a free port
# of 127.0.0.1 (no persistence, a scratch directory), two server instances on it (`--redis URL
# --instance a|b`, each on a free port), and runs the load tool (loadtest/, see its main.rs):
# 1,000 WebSocket clients split over both instances, 100 generation jobs of one event every
# 10 ms (100 events a second each) for 20 s, each job watched from both instances. Prints the
# table and writes target/loadtest/report.json; fails if an event was lost, repeated or out of
# order, or if a figure did not come out.
#
# QUICK=1: 40 clients, 10 jobs, 2 s, on the debug build `make test` already has; writes
# target/loadtest/report-quick.json. `make test` runs it, so the tool cannot rot.
# MEMORY=1: no Redis, each instance alone, each client on its job's instance: the in-memory
# baseline.
#
# Everything runs on this machine and stops by its own process group whatever happens
# (scripts/lib/processes.sh); the tool has a hard deadline, and `timeout` backs it up.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/processes.sh

if [[ "${QUICK:-}" == 1 ]]; then
  profile=dev
  bin=target/debug
  tool_args=(--label quick --clients 40 --jobs 10 --duration-ms 2000 --deadline-ms 30000
    --report target/loadtest/report-quick.json)
  deadline_s=30
else
  profile=release-native
  bin=target/release-native
  tool_args=(--label full --clients 1000 --jobs 100 --duration-ms 20000 --deadline-ms 60000
    --report target/loadtest/report.json)
  deadline_s=60
fi

cargo build --profile "$profile" -p jobsocket-server -p jobsocket-loadtest

# Two sockets per client at most (the tool's end and the server's), and Redis and logs.
if (($(ulimit -n) < 4096)); then
  ulimit -n 4096 || { echo "cannot raise the open-file limit to 4096 (ulimit -Hn)" >&2; exit 1; }
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/jobsocket-loadtest.XXXXXX")
at_exit 'rm -rf "$scratch"'

# A port nothing listens on now; the caller checks that its own process got it.
random_free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if [[ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]]; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# Starts redis-server on a free port; sets REDIS_PORT and REDIS_PID. The answer to `ping` must
# come from this very process (its `process_id`), not from another Redis that took the port.
start_redis() {
  local port pid attempt
  command -v redis-server >/dev/null || { echo "redis-server is missing: run make tools" >&2; return 1; }
  for attempt in 1 2 3 4 5; do
    port=$(random_free_port)
    mkdir -p "$scratch/redis-$attempt"
    start_group redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$scratch/redis-$attempt" --daemonize no --logfile "" --loglevel warning \
      >"$scratch/redis-$attempt.log" 2>&1
    pid=$STARTED_PID
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      if [[ "$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' |
        sed -n 's/^process_id://p')" == "$pid" ]]; then
        REDIS_PORT=$port
        REDIS_PID=$pid
        return 0
      fi
      sleep 0.05
    done
    stop_group "$pid"
  done
  echo "redis-server did not start; its last log:" >&2
  cat "$scratch/redis-5.log" >&2
  return 1
}

# Starts instance $1 of the server with the flags after it; sets INSTANCE_ADDRESS (HOST:PORT,
# from its first stdout line) and INSTANCE_PID.
start_instance() {
  local name=$1 log="$scratch/$1.log" address=
  shift
  start_group "$bin/jobsocket-server" --port 0 "$@" >"$log" 2>"$scratch/$name.err"
  INSTANCE_PID=$STARTED_PID
  for _ in $(seq 1 200); do
    address=$(head -n 1 "$log" | sed -n 's#^listening on http://##p')
    [[ -n "$address" ]] && break
    kill -0 "$INSTANCE_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -z "$address" ]]; then
    echo "instance $name did not start:" >&2
    cat "$scratch/$name.err" >&2
    return 1
  fi
  INSTANCE_ADDRESS=$address
}

# The server's defaults fit this run: 500 sockets per instance (--max-connections 10000), 100
# jobs (--max-jobs 1000) of 20 s (--max-job-ms 1 h), 20 clips of 99 steps (50 and 100 at
# most), step_ms 10 asked per job; clients ping at the announced heartbeat (30 s), far inside
# the idle timeout (90 s).
instances=()
if [[ "${MEMORY:-}" == 1 ]]; then
  shared=()
  echo "in-memory baseline: each instance alone, no Redis"
else
  start_redis
  shared=(--redis "$REDIS_PORT,$REDIS_PID")
  echo "redis-server $REDIS_PID on 127.0.0.1:$REDIS_PORT"
fi
for name in a b; do
  if [[ "${MEMORY:-}" == 1 ]]; then
    start_instance "$name"
  else
    start_instance "$name" --redis "redis://127.0.0.1:$REDIS_PORT" --instance "$name"
  fi
  echo "instance $name: $INSTANCE_PID on $INSTANCE_ADDRESS"
  instances+=(--instance "$name,$INSTANCE_ADDRESS,$INSTANCE_PID")
done

status=0
run_group timeout --kill-after=5 "$((deadline_s + 30))" \
  "$bin/jobsocket-loadtest" "${instances[@]}" "${shared[@]}" "${tool_args[@]}" || status=$?
if ((status != 0)); then
  for name in a b; do
    if [[ -s "$scratch/$name.err" ]]; then
      echo "--- instance $name stderr (last lines)" >&2
      tail -n 20 "$scratch/$name.err" >&2
    fi
  done
fi
exit "$status"
