#!/usr/bin/env bash
# Fails if a process started during this run is still running, and stops it.
#
# The Makefile exports JOBSOCKET_RUN, a fresh id per `make test` or `make soak`; every process
# the run starts inherits it (servers, WebDriver, browsers and their helpers, node), also one
# that was orphaned and re-parented to init. So a process that carries this id in its
# environment and is neither this script nor one of its ancestors (make itself) was left
# behind by a test script that did not stop it.
set -euo pipefail

run=${JOBSOCKET_RUN:?JOBSOCKET_RUN is set by the Makefile}
marker="JOBSOCKET_RUN=$run"

# This script and its ancestors carry the id too: they are the run itself.
declare -A spared=()
pid=$$
while [[ -n "$pid" && "$pid" != 0 ]]; do
  spared[$pid]=1
  pid=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
done

leftovers() {
  local file pid
  # grep reads each environment; its own pid is gone by the time the list is used.
  for file in $(grep -lzxF -- "$marker" /proc/[0-9]*/environ 2>/dev/null || true); do
    pid=${file#/proc/}
    pid=${pid%/environ}
    [[ -n "${spared[$pid]:-}" || ! -e /proc/$pid ]] && continue
    # Helpers of this very script (the ps below) are not leftovers.
    [[ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$$" ]] && continue
    echo "$pid"
  done
}

# A process stopped a moment ago may still be exiting: look again for up to two seconds.
found=()
for _ in $(seq 1 20); do
  mapfile -t found < <(leftovers)
  ((${#found[@]} == 0)) && break
  sleep 0.1
done

if ((${#found[@]} == 0)); then
  echo "leftover processes: 0 (every process this run started has stopped)"
  exit 0
fi

echo "leftover processes: ${#found[@]} still running after the suites ended:" >&2
for pid in "${found[@]}"; do
  printf '  %s\n' "$(ps -o pid=,args= -p "$pid" 2>/dev/null | cut -c1-200)" >&2
done
# They are this run's own processes: stop them, so they do not pile up run after run.
kill -KILL "${found[@]}" 2>/dev/null || true
exit 1
