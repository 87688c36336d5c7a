#!/usr/bin/env bash
# Start a local Schema Registry (Apicurio Registry, in memory) without Docker.
#
#   bash registry/start.sh         # from any directory; idempotent
#
# The app comes from Maven Central through registry/pom.xml (first run only), runs on Java 17 in
# the background and survives this shell; registry/stop.sh stops it. Clients use the
# Confluent-compatible API at http://127.0.0.1:8081/apis/ccompat/v7. Schemas live in memory:
# a restart forgets them.
#
# Environment:
#   REGISTRY_PORT           HTTP port on 127.0.0.1 (default 8081)
#   REGISTRY_HOST           address it listens on (default 127.0.0.1)
#   REGISTRY_VERSION        Apicurio Registry release (default 2.6.13.Final; 3.x needs Java 21)
#   REGISTRY_DATA_DIR       its log and pid file (default registry/.run/PORT)
#   REGISTRY_HEAP_OPTS      JVM heap flags (default -Xmx256m)
#   REGISTRY_START_TIMEOUT  seconds to wait for it to answer (default 90)
set -euo pipefail

REGISTRY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=registry/lib.sh
source "$REGISTRY_DIR/lib.sh"

[[ "$REGISTRY_PORT" =~ ^[0-9]+$ ]] && ((REGISTRY_PORT > 0 && REGISTRY_PORT < 65536)) ||
  die "REGISTRY_PORT must be a port number (1-65535), got '${REGISTRY_PORT//[^[:print:]]/?}'"

start_ns="$(now_ns)"

# One start.sh at a time per data dir (a second one waits, then finds the registry running).
mkdir -p "$REGISTRY_DATA_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$REGISTRY_DATA_DIR/.start.lock"
  flock -w $((REGISTRY_START_TIMEOUT + 300)) 9 || die "timed out waiting for another registry/start.sh"
fi

if registry_answers; then
  pid="$(own_pid || true)"
  if [[ -n "$pid" ]]; then
    say "registry already running on $CCOMPAT_URL (pid $pid)"
  else
    say "registry already running on $CCOMPAT_URL (not started by this script: no live pid in $PID_FILE)"
  fi
  exit 0
fi

pid="$(own_pid || true)"
if [[ -z "$pid" ]]; then
  port_open "$REGISTRY_PORT" &&
    die "port $REGISTRY_PORT on $REGISTRY_HOST is in use by something that is not a Schema Registry; free it or set REGISTRY_PORT"
  command -v java >/dev/null 2>&1 ||
    die "java not found on PATH: install Java 17+ (Debian: apt-get install openjdk-17-jre-headless)"
  ensure_app
  rm -f "$PID_FILE"
  launcher=(nohup)
  command -v setsid >/dev/null 2>&1 && launcher=(setsid nohup)
  printf '\n=== %s registry/start.sh: starting Apicurio Registry %s on %s ===\n' \
    "$(date '+%F %T')" "$REGISTRY_VERSION" "$BASE_URL" >>"$LOG_FILE"
  (
    exec 9>&-
    cd "$REGISTRY_DATA_DIR" || exit 1
    # In-memory storage is the app's default; Quarkus settings go as system properties. A small heap,
    # the serial collector and the C1 compiler only: about 215 MB resident and fewer busy threads.
    # shellcheck disable=SC2086  # heap is a list of flags
    exec "${launcher[@]}" java $REGISTRY_HEAP_OPTS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Djava.awt.headless=true \
      "-Dquarkus.http.host=$REGISTRY_HOST" "-Dquarkus.http.port=$REGISTRY_PORT" \
      -Dquarkus.log.console.color=false \
      -jar "$RUNNER_JAR"
  ) >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"
else
  say "registry (pid $pid) is already starting; waiting for it"
fi

deadline=$((SECONDS + REGISTRY_START_TIMEOUT))
until registry_answers; do
  if ! alive "$pid"; then
    rm -f "$PID_FILE"
    die "Apicurio Registry (pid $pid) exited during startup: see $LOG_FILE"
  fi
  if ((SECONDS >= deadline)); then
    stop_pid "$pid" 10 >/dev/null
    rm -f "$PID_FILE"
    die "Apicurio Registry (pid $pid) did not answer on $CCOMPAT_URL within ${REGISTRY_START_TIMEOUT}s (stopped it): see $LOG_FILE"
  fi
  sleep 0.3
done

say "Apicurio Registry $REGISTRY_VERSION ready on $CCOMPAT_URL in $(elapsed_since "$start_ns") (pid $pid, log $LOG_FILE)"
