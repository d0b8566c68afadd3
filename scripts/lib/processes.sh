# Process groups a script starts and must stop, whatever the outcome. Sourced, not run.
#
# Every command started through here runs in a process group of its own (setsid), so stopping
# it reaches every process it spawned: a test runner's WebDriver and the browser behind it, a
# node test's Chromium, a server. On exit, on failure and on Ctrl-C, `stop_groups` sends each
# group SIGTERM, gives it a grace period, then SIGKILL, and returns once every process of every
# group is gone (or, for a process stuck in the kernel, 10 s later, leaving it to be reported).

started_groups=()
exit_hooks=()

# Runs the command string $1 on exit, after every group is stopped (removing a temp dir, say).
at_exit() {
  exit_hooks+=("$1")
}

# Starts "$@" in the background in a new process group; its pid (= its group id) is left in
# STARTED_PID.
start_group() {
  # In a non-interactive shell a background job is not a group leader, so setsid need not
  # fork: the pid bash reports is the new group's id.
  setsid "$@" &
  STARTED_PID=$!
  started_groups+=("$STARTED_PID")
}

# Runs "$@" in a new process group and waits for it; returns its exit status. Ctrl-C reaches
# this script, whose trap stops the group.
run_group() {
  start_group "$@"
  local status=0
  wait "$STARTED_PID" || status=$?
  stop_group "$STARTED_PID"
  return "$status"
}

# True while any process of group $1 is alive.
group_alive() {
  kill -0 -- "-$1" 2>/dev/null
}

# Stops group $1: SIGTERM, up to GRACE_SECONDS (default 5) for it to end, then SIGKILL, and
# waits until no process of the group is left.
stop_group() {
  local pgid=$1 tries
  # Stopped right after it started, the child may not have reached setsid yet: it is still in
  # this script's group, which the group signal below would miss. Its pid reaches it either way
  # (an exited, unreaped leader keeps its pid: it cannot be another process's).
  kill -TERM "$pgid" 2>/dev/null || true
  if ! group_alive "$pgid"; then
    wait "$pgid" 2>/dev/null || true
    return 0
  fi
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for ((tries = 0; tries < ${GRACE_SECONDS:-5} * 20; tries++)); do
    group_alive "$pgid" || break
    sleep 0.05
  done
  # A process stuck in the kernel (uninterruptible sleep) may outlive SIGKILL for a while:
  # give up after 10 s rather than hang the run; the leftover check then names it.
  for ((tries = 0; tries < 200; tries++)); do
    group_alive "$pgid" || break
    kill -KILL -- "-$pgid" 2>/dev/null || true
    sleep 0.05
  done
  if group_alive "$pgid"; then
    echo "process group $pgid survived SIGKILL for 10 s; left to the leftover check" >&2
  fi
  # Reaps the leader if it is our child; a group whose leader already exited is fine too.
  wait "$pgid" 2>/dev/null || true
}

# Stops every group, the last started first: a server started on top of another (the dialect
# servers on Redis) ends while what it uses is still there.
stop_groups() {
  local at
  for ((at = ${#started_groups[@]} - 1; at >= 0; at--)); do
    stop_group "${started_groups[at]}"
  done
  started_groups=()
}

on_exit() {
  local status=$? hook
  stop_groups
  for hook in "${exit_hooks[@]}"; do eval "$hook" || true; done
  return "$status"
}

# The script stops what it started on every exit; Ctrl-C and SIGTERM exit through that path.
trap 'on_exit' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
