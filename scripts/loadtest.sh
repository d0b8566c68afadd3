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
# baseline, in report-memory.json (report-quick-memory.json with QUICK=1).
#
# Everything runs on this machine and stops by its own process group whatever happens
# (scripts/lib/processes.sh, scripts/lib/redis.sh); the tool has a hard deadline, and
# `timeout` backs it up.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/processes.sh
source scripts/lib/redis.sh

if [[ "${QUICK:-}" == 1 ]]; then
  profile=dev
  bin=target/debug
  label=quick
  tool_args=(--clients 40 --jobs 10 --duration-ms 2000 --deadline-ms 30000)
  deadline_s=30
else
  profile=release-native
  bin=target/release-native
  label=full
  tool_args=(--clients 1000 --jobs 100 --duration-ms 20000 --deadline-ms 60000)
  deadline_s=60
fi

cargo build --profile "$profile" -p jobsocket-server -p jobsocket-loadtest

# Two sockets per client at most (the tool's end and the server's), and Redis and logs.
if (($(ulimit -n) < 4096)); then
  ulimit -n 4096 || { echo "cannot raise the open-file limit to 4096 (ulimit -Hn)" >&2; exit 1; }
fi

# The server's defaults fit this run: 500 sockets per instance (--max-connections 10000), 100
# jobs (--max-jobs 1000) of 20 s (--max-job-ms 1 h), 20 clips of 99 steps (50 and 100 at
# most), step_ms 10 asked per job; clients ping at the announced heartbeat (30 s), far inside
# the idle timeout (90 s).
instances=()
if [[ "${MEMORY:-}" == 1 ]]; then
  label+=-memory
  shared=()
  echo "in-memory baseline: each instance alone, no Redis"
else
  command -v redis-server >/dev/null || { echo "redis-server is missing: run make tools" >&2; exit 1; }
  start_redis
  shared=(--redis "$REDIS_PORT,$REDIS_PID")
  echo "redis-server $REDIS_PID on 127.0.0.1:$REDIS_PORT"
fi
for name in a b; do
  if [[ "${MEMORY:-}" == 1 ]]; then
    start_listening "$bin/jobsocket-server" --port 0
  else
    start_listening "$bin/jobsocket-server" --port 0 --redis "$REDIS_URL" --instance "$name"
  fi
  echo "instance $name: $STARTED_PID on $LISTENING"
  instances+=(--instance "$name,$LISTENING,$STARTED_PID")
done

# report.json for the full run; report-quick.json, report-memory.json, report-quick-memory.json.
if [[ "$label" == full ]]; then report=report.json; else report="report-${label#full-}.json"; fi
run_group timeout --kill-after=5 "$((deadline_s + 30))" \
  "$bin/jobsocket-loadtest" "${instances[@]}" "${shared[@]}" "${tool_args[@]}" \
  --label "$label" --report "target/loadtest/$report"
