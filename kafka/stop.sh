#!/usr/bin/env bash
# Stop the local Kafka broker started by kafka/start.sh. Idempotent.
#
#   bash kafka/stop.sh           # SIGTERM, wait up to KAFKA_STOP_TIMEOUT (20) s, then SIGKILL
#   bash kafka/stop.sh --wipe    # ... and delete the data dir (topics, offsets, logs)
#
# Honours the same KAFKA_DATA_DIR / KAFKA_PORT as start.sh. Never touches a broker that
# start.sh did not start (e.g. one from docker compose).
set -euo pipefail

KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=kafka/lib.sh
source "$KAFKA_DIR/lib.sh"

wipe=0
for arg in "$@"; do
  case "$arg" in
    --wipe) wipe=1 ;;
    -h | --help)
      sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument: $arg (usage: stop.sh [--wipe])" ;;
  esac
done

if pid="$(own_pid)"; then
  stop_broker "$pid"
  rm -f "$PID_FILE"
else
  rm -f "$PID_FILE"
  if broker_serves_metadata; then
    say "no Kafka started by start.sh (no live pid in $PID_FILE); the broker on $BOOTSTRAP is someone else's: left running"
  else
    say "Kafka not running"
  fi
fi

if ((wipe)); then
  wipe_dir "$KAFKA_DATA_DIR" "$MARKER" start.sh
fi
