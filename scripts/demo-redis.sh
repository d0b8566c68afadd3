#!/usr/bin/env bash
# `make demo REDIS=1`: the demo on two instances of the reference server that share one Redis,
# behind one address. Starts Debian's redis-server on a free port, instances `a` and `b` on free
# ports, and jobsocket-proxy on $PORT, which hands each new connection to the next instance
# that answers, as a load balancer would. The page shows which instance its socket reached;
# kill one (the pids are printed) and watch the socket move and the jobs go on. Ctrl-C stops
# everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/processes.sh
source scripts/lib/redis.sh
port=${1:-8787}
admin_key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
start_redis
upstreams=()
for name in a b; do
  JOBSOCKET_ADMIN_KEY=$admin_key start_listening target/debug/jobsocket-server --port 0 \
    --static www-demo/dist --pkg target/package --admin --redis "$REDIS_URL" --instance "$name"
  echo "instance $name: http://$LISTENING (pid $STARTED_PID)"
  upstreams+=(--upstream "$LISTENING")
done
start_listening target/debug/jobsocket-proxy --port "$port" "${upstreams[@]}"
proxy=$STARTED_PID
echo "redis: $REDIS_URL (pid $REDIS_PID)"
echo "demo: http://$LISTENING/#adminKey=$admin_key"
echo "Open the demo address. Each new connection goes to the next instance; the chaos panel's"
echo "switches reach the instance that answers the request. Ctrl-C stops everything."
wait "$proxy"
