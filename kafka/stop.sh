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
  t0="$(now_ns)"
  how="$(stop_pid "$pid" "$KAFKA_STOP_TIMEOUT")"
  rm -f "$PID_FILE"
  if [[ "$how" == kill ]]; then
    say "Kafka (pid $pid) ignored SIGTERM for ${KAFKA_STOP_TIMEOUT}s: killed with SIGKILL"
  else
    say "Kafka stopped (pid $pid, $(elapsed_since "$t0"))"
  fi
else
  rm -f "$PID_FILE"
  if broker_serves_metadata; then
    say "no Kafka started by start.sh (no live pid in $PID_FILE); the broker on $BOOTSTRAP is someone else's: left running"
  else
    say "Kafka not running"
  fi
fi

if ((wipe)); then
  if [[ ! -d "$KAFKA_DATA_DIR" ]]; then
    say "nothing to wipe: $KAFKA_DATA_DIR does not exist"
  elif [[ ! -f "$KAFKA_DATA_DIR/$MARKER" ]]; then
    die "not wiping $KAFKA_DATA_DIR: it has no $MARKER file, so start.sh did not create it"
  else
    rm -rf "$KAFKA_DATA_DIR"
    say "wiped $KAFKA_DATA_DIR"
  fi
fi
