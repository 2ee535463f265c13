#!/bin/sh
# Restarts the model server that serve-loop.sh keeps running: sends it SIGTERM, then SIGKILL
# if it has not exited within $WFHUB_MODEL_STOP_SECONDS (a hung server ignores TERM), and
# exits 0 once the old process is gone; the loop starts the new one. wfhub runs this over SSH
# (WFHUB_SSH_RESTART_COMMAND) and then waits until the server answers a generation again.
set -eu
PIDFILE="${WFHUB_MODEL_PIDFILE:-/run/wfhub-model-server.pid}"
GRACE="${WFHUB_MODEL_STOP_SECONDS:-3}"
if [ ! -r "$PIDFILE" ]; then
    echo "no pid file $PIDFILE: is serve-loop.sh running?" >&2
    exit 2
fi
pid=$(cat "$PIDFILE")
case "$pid" in
    '' | *[!0-9]*) echo "$PIDFILE holds no pid" >&2; exit 2 ;;
esac
if ! kill -0 "$pid" 2>/dev/null; then
    echo "model server $pid is not running; serve-loop.sh starts it"
    exit 0
fi
kill -TERM "$pid"
ticks=0
while kill -0 "$pid" 2>/dev/null; do
    ticks=$((ticks + 1))
    if [ "$ticks" -gt $((GRACE * 10)) ]; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.1
done
echo "stopped model server $pid; serve-loop.sh starts a new one"
