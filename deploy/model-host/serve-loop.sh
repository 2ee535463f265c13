#!/bin/sh
# Keeps a model server running on its host: starts it, and starts it again whenever it exits,
# so a restart is just "stop the process" (restart-model-server.sh) and loaded models stay on
# disk. The pid of the running server is kept in $WFHUB_MODEL_PIDFILE.
#   serve-loop.sh [COMMAND ARGS...]     (default: ollama serve)
set -u
PIDFILE="${WFHUB_MODEL_PIDFILE:-/run/wfhub-model-server.pid}"
DELAY="${WFHUB_MODEL_RESTART_DELAY:-1}"
[ $# -gt 0 ] || set -- ollama serve
child=""
stop() {
    [ -n "$child" ] && kill "$child" 2>/dev/null
    rm -f "$PIDFILE"
    exit 0
}
trap stop TERM INT HUP
while :; do
    "$@" &
    child=$!
    echo "$child" >"$PIDFILE"
    wait "$child"
    echo "serve-loop: $1 (pid $child) exited with status $?; starting it again in ${DELAY}s" >&2
    sleep "$DELAY"
done
