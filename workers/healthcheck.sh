#!/bin/sh
# Liveness and readiness of a Celery worker: its consumer touched $VTUBER_WORKER_HEARTBEAT_FILE
# less than MAX_AGE seconds ago (first argument, default 60). See workers/liveness.py.
file="${VTUBER_WORKER_HEARTBEAT_FILE:?VTUBER_WORKER_HEARTBEAT_FILE is not set}"
max_age="${1:-60}"
[ -f "$file" ] || { echo "no heartbeat file $file"; exit 1; }
age=$(( $(date +%s) - $(stat -c %Y "$file") ))
[ "$age" -lt "$max_age" ] || { echo "heartbeat $age s old"; exit 1; }
