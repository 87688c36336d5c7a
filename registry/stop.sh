#!/usr/bin/env bash
# Stop the local Schema Registry started by registry/start.sh (its schemas, held in memory, go
# with it). Idempotent; honours the same REGISTRY_PORT / REGISTRY_DATA_DIR as start.sh and never
# touches a registry that start.sh did not start (e.g. one from docker compose).
set -euo pipefail

REGISTRY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=registry/lib.sh
source "$REGISTRY_DIR/lib.sh"

if pid="$(own_pid)"; then
  t0="$(now_ns)"
  how="$(stop_pid "$pid" "$REGISTRY_STOP_TIMEOUT")"
  rm -f "$PID_FILE"
  if [[ "$how" == kill ]]; then
    say "registry (pid $pid) ignored SIGTERM for ${REGISTRY_STOP_TIMEOUT}s: killed with SIGKILL"
  else
    say "registry stopped (pid $pid, $(elapsed_since "$t0"))"
  fi
else
  rm -f "$PID_FILE"
  if registry_answers; then
    say "no registry started by start.sh (no live pid in $PID_FILE); the one on $CCOMPAT_URL is someone else's: left running"
  else
    say "registry not running"
  fi
fi
