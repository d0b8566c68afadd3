#!/usr/bin/env bash
# `make soak N=20`: runs the browser suite in Chromium, the browser suite in Firefox, the
# end-to-end suite and the framework apps suite N times each, then prints a pass count per
# suite and the name of every test that failed, with the run it failed in. A flaky test is a
# failing test: every count must be N/N. Each run's full output is kept in target/soak/ for
# the failures' messages.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
suites=(chromium firefox e2e frameworks)
logs=target/soak/$(date +%Y%m%d-%H%M%S)
mkdir -p "$logs"

declare -A passed=() seconds=()
failures=()

# Runs in a background subshell, which the suite's script replaces (exec), so a signal sent to
# the subshell's pid reaches the script and its traps.
run_suite() {
  case $1 in
    chromium | firefox) JOBSOCKET_BROWSERS=$1 exec scripts/test-browser.sh ;;
    e2e) exec scripts/test-e2e.sh ;;
    frameworks) exec scripts/test-frameworks.sh ;;
  esac
}

# The names of the tests that failed in log $1 of suite $2.
failed_tests() {
  local names
  case $2 in
    chromium | firefox) names=$(sed -n 's/^test \(.*\) \.\.\. FAIL$/\1/p' "$1") ;;
    # node's test runner writes TAP when its output is not a terminal; the file-level entries
    # (named by path) only repeat their tests' failures.
    e2e | frameworks) names=$(sed -n 's/^ *not ok [0-9]* - //p' "$1" | grep -v '\.test\.mjs$') ;;
  esac
  if [[ -n "$names" ]]; then echo "$names"; else echo "(the suite failed before naming a test: see $1)"; fi
}

# Each suite runs in the background and is waited for, so a SIGTERM or Ctrl-C reaching this
# script is handled at once: it is passed on to the suite, whose own traps stop its servers and
# browsers, and waited for.
suite_pid=
stop_suite() {
  if [[ -n "$suite_pid" ]]; then
    kill -TERM "$suite_pid" 2>/dev/null
    wait "$suite_pid" 2>/dev/null
  fi
  exit 143
}
trap stop_suite TERM INT

for suite in "${suites[@]}"; do passed[$suite]=0; seconds[$suite]=0; done
for ((run = 1; run <= runs; run++)); do
  for suite in "${suites[@]}"; do
    log="$logs/$suite-$run.log"
    start=$SECONDS
    run_suite "$suite" >"$log" 2>&1 &
    suite_pid=$!
    if wait "$suite_pid"; then
      passed[$suite]=$((passed[$suite] + 1))
      outcome=pass
    else
      outcome=FAIL
      while IFS= read -r name; do failures+=("$suite, run $run: $name"); done < <(failed_tests "$log" "$suite")
    fi
    elapsed=$((SECONDS - start))
    seconds[$suite]=$((seconds[$suite] + elapsed))
    printf '[soak] run %d/%d %-8s %s (%d s)\n' "$run" "$runs" "$suite" "$outcome" "$elapsed"
  done
done

echo
echo "| suite | passed | mean time per run |"
echo "|---|---|---|"
all_passed=1
for suite in "${suites[@]}"; do
  printf '| %s | %d/%d | %d s |\n' "$suite" "${passed[$suite]}" "$runs" $((seconds[$suite] / runs))
  ((passed[$suite] == runs)) || all_passed=0
done
echo
if ((${#failures[@]})); then
  echo "failed tests:"
  printf '  %s\n' "${failures[@]}"
else
  echo "failed tests: none"
fi
echo "logs: $logs"
total=$((runs * ${#suites[@]}))
ok=0
for suite in "${suites[@]}"; do ok=$((ok + passed[$suite])); done
echo "soak: $ok passed, $((total - ok)) failed"
((all_passed))
