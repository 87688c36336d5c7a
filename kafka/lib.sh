# Shared settings and helpers for kafka/start.sh and kafka/stop.sh (sourced, not run).
# Expects KAFKA_DIR (this folder, absolute) to be set by the caller.

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
# The address the broker listens on and advertises: an IPv4 or IPv6 literal (::1), or a name.
KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"
# As it goes before ":port" in listeners and bootstrap lists: an IPv6 address in brackets.
if [[ "$KAFKA_HOST" == *:* ]]; then KAFKA_HOST_PORT_PREFIX="[$KAFKA_HOST]"; else KAFKA_HOST_PORT_PREFIX="$KAFKA_HOST"; fi
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-20}"
KAFKA_USE_KCAT="${KAFKA_USE_KCAT:-auto}"

KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$KAFKA_DIR/.data}"
[[ "$KAFKA_DATA_DIR" == /* ]] || KAFKA_DATA_DIR="$PWD/$KAFKA_DATA_DIR"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR%/}"

# Fixed cluster id (base64url of 16 bytes, "factory-sim-kafk"), so the data dir is reproducible.
CLUSTER_ID="ZmFjdG9yeS1zaW0ta2Fmaw"
BOOTSTRAP="$KAFKA_HOST_PORT_PREFIX:$KAFKA_PORT"
JARS_DIR="$KAFKA_DIR/.jars/$KAFKA_VERSION"
KRAFT_DIR="$KAFKA_DATA_DIR/kraft-logs"  # log.dirs: topic partitions + __cluster_metadata
LOGS_DIR="$KAFKA_DATA_DIR/logs"         # broker's own log4j output
SERVER_LOG="$LOGS_DIR/server.log"
OUT_FILE="$KAFKA_DATA_DIR/kafka.out"    # JVM stdout/stderr
PID_FILE="$KAFKA_DATA_DIR/kafka.pid"
PROPS_FILE="$KAFKA_DATA_DIR/server.properties"
MARKER=".factory-sim-kafka-data"        # stop.sh --wipe only deletes dirs holding this file

say() { echo "[kafka] $*"; }
LOG_PREFIX=kafka
# shellcheck source=scripts/_process.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_process.sh"

# Prints the pid from PID_FILE if that process is alive and is a Kafka broker JVM.
own_pid() { pid_from_file "$PID_FILE" kafka.Kafka; }

file_size() { if [[ -f "$1" ]]; then wc -c <"$1" | tr -d ' '; else echo 0; fi; }

run_with_timeout() { # SECONDS CMD...
  local secs="$1"
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "$secs" "$@"
  else
    "$@" &
    local cmd_pid=$! watchdog rc=0
    (sleep "$secs" && kill "$cmd_pid" 2>/dev/null) >/dev/null 2>&1 &
    watchdog=$!
    wait "$cmd_pid" || rc=$?
    kill "$watchdog" 2>/dev/null || true
    return "$rc"
  fi
}

port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null; }

use_kcat() { [[ "$KAFKA_USE_KCAT" != 0 ]] && command -v kcat >/dev/null 2>&1; }

# Pure-bash Kafka check: send an ApiVersions v0 request, expect our correlation id and
# error code 0 back. Tells a Kafka broker apart from any other program on the port.
kafka_api_versions_ok() { # PORT
  local out
  out="$(run_with_timeout 3 bash -c '
    exec 3<>"/dev/tcp/$2/$1" || exit 1
    # size=15 | api_key=18 (ApiVersions) | version=0 | correlation_id=7 | client_id="probe"
    printf "\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x00\x07\x00\x05probe" >&3
    od -An -tx1 -N10 <&3' _ "$1" "$KAFKA_HOST" 2>/dev/null)" || return 1
  out="$(tr -d ' \n' <<<"$out")"
  # response: size (4 bytes) | correlation_id (4) | error_code (2)
  [[ "${out:8:12}" == "000000070000" ]]
}

broker_serves_metadata() {
  port_open "$KAFKA_PORT" || return 1
  if use_kcat; then
    kcat -L -b "$BOOTSTRAP" -m 2 >/dev/null 2>&1
  else
    kafka_api_versions_ok "$KAFKA_PORT"
  fi
}

# Resolves the Kafka $KAFKA_VERSION jars into $JARS_DIR with Maven (kafka/pom.xml), once.
# Concurrent callers are safe: each resolves into its own temporary dir and renames it.
ensure_jars() {
  [[ -f "$JARS_DIR/.complete" ]] && return 0
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found on PATH: needed once to fetch the Kafka $KAFKA_VERSION jars (Debian: apt-get install maven)"
  local t0 tmp_jars mvn_log
  t0="$(now_ns)"
  say "Kafka $KAFKA_VERSION jars missing: resolving them with Maven into $JARS_DIR (first run only)..."
  tmp_jars="$JARS_DIR.tmp.$$"
  rm -rf "$tmp_jars"
  mkdir -p "$(dirname "$JARS_DIR")"
  mvn_log="$(dirname "$JARS_DIR")/mvn-$KAFKA_VERSION.log"
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$tmp_jars" >"$mvn_log" 2>&1; then
    tail -n 30 "$mvn_log" >&2
    rm -rf "$tmp_jars"
    die "Maven could not resolve the Kafka $KAFKA_VERSION jars (full log: $mvn_log)"
  fi
  touch "$tmp_jars/.complete"
  [[ -f "$JARS_DIR/.complete" ]] && { rm -rf "$tmp_jars"; return 0; }
  rm -rf "$JARS_DIR"
  mv "$tmp_jars" "$JARS_DIR"
  say "Kafka $KAFKA_VERSION jars ready ($(find "$JARS_DIR" -name '*.jar' | wc -l | tr -d ' ') jars, $(elapsed_since "$t0"))"
}

# The part of FILE written after its first OFFSET bytes (all of it if it has shrunk since).
file_since() { # FILE OFFSET
  [[ -f "$1" ]] || return 0
  if (($(file_size "$1") < $2)); then cat "$1"; else tail -c +"$(($2 + 1))" "$1"; fi
}

# Starts a Kafka JVM for PROPS in the background, detached from this shell so it outlives it:
# working dir WORK (hs_err files land there), stdout/stderr appended to OUT, log4j output in
# LOGS, HEAP a list of JVM heap flags. Sets KAFKA_LAUNCHED. The JVM does not inherit fd 9 (the
# scripts' start lock).
launch_kafka() { # PROPS WORK OUT LOGS HEAP
  local props="$1" work="$2" out="$3" logs="$4" heap="$5" launcher=(nohup)
  command -v setsid >/dev/null 2>&1 && launcher=(setsid nohup)
  printf '\n=== %s kafka/%s: starting Kafka %s ===\n' "$(date '+%F %T')" "$(basename "$0")" "$KAFKA_VERSION" >>"$out"
  (
    exec 9>&-
    cd "$work" || exit 1
    # shellcheck disable=SC2086  # heap is a list of flags
    exec "${launcher[@]}" java $heap \
      -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
      -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
      "-Dkafka.logs.dir=$logs" "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties" \
      -cp "$JARS_DIR/*" kafka.Kafka "$props"
  ) >>"$out" 2>&1 </dev/null &
  KAFKA_LAUNCHED=$!
}

# Stops the broker PID (SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT s) and says how it went.
stop_broker() { # PID
  local t0 how
  t0="$(now_ns)"
  how="$(stop_pid "$1" "$KAFKA_STOP_TIMEOUT")"
  if [[ "$how" == kill ]]; then
    say "Kafka (pid $1) ignored SIGTERM for ${KAFKA_STOP_TIMEOUT}s: killed with SIGKILL"
  else
    say "Kafka stopped (pid $1, $(elapsed_since "$t0"))"
  fi
}

# Deletes DIR, but only if it holds MARKER (so it was made by one of these scripts).
wipe_dir() { # DIR MARKER SCRIPT
  if [[ ! -d "$1" ]]; then
    say "nothing to wipe: $1 does not exist"
  elif [[ ! -f "$1/$2" ]]; then
    die "not wiping $1: it has no $2 file, so $3 did not create it"
  else
    rm -rf "$1"
    say "wiped $1"
  fi
}

# Reports a broker that failed to start, then exits 1: MESSAGE, the server log's errors and
# warnings written since LOG_OFFSET (else its last lines), and the JVM's output since OUT_OFFSET.
report_start_failure() { # MESSAGE SERVER_LOG LOG_OFFSET OUT_FILE OUT_OFFSET
  local server_lines out_lines
  server_lines="$(file_since "$2" "$3" | grep -E ' (ERROR|WARN|FATAL) ' | tail -n 20 || true)"
  [[ -n "$server_lines" ]] || server_lines="$(file_since "$2" "$3" | tail -n 20)"
  out_lines="$(file_since "$4" "$5" | grep -v '^$' | tail -n 15 || true)"
  {
    say "error: $1"
    echo "--- $2 from this start (errors and warnings, else the last lines) ---"
    echo "${server_lines:-(none)}"
    if [[ -n "$out_lines" ]]; then
      echo "--- JVM stdout/stderr ($4) from this start ---"
      echo "$out_lines"
    fi
  } >&2
  exit 1
}

# The kafka-tools jar (AclCommand, TopicCommand, ProducerPerformance...) of $KAFKA_VERSION, fetched
# alone with Maven once: its other dependencies are among the broker's jars.
TOOLS_DIR="$KAFKA_DIR/.jars/$KAFKA_VERSION-tools"
TOOLS_JAR="$TOOLS_DIR/kafka-tools-$KAFKA_VERSION.jar"

ensure_tools_jar() {
  [[ -f "$TOOLS_JAR" ]] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH: needed once to fetch org.apache.kafka:kafka-tools:$KAFKA_VERSION"
  local tmp="$TOOLS_DIR.tmp.$$" log="$KAFKA_DIR/.jars/mvn-$KAFKA_VERSION-tools.log"
  say "fetching org.apache.kafka:kafka-tools:$KAFKA_VERSION with Maven (first run only)" >&2
  rm -rf "$tmp"
  mkdir -p "$(dirname "$TOOLS_DIR")"
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_DIR/pom.xml" dependency:copy \
    -Dartifact="org.apache.kafka:kafka-tools:$KAFKA_VERSION:jar" -DoutputDirectory="$tmp" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -rf "$tmp"
    die "Maven could not fetch org.apache.kafka:kafka-tools:$KAFKA_VERSION (full log: $log)"
  fi
  [[ -f "$TOOLS_JAR" ]] && { rm -rf "$tmp"; return 0; } # a concurrent run won
  rm -rf "$TOOLS_DIR"
  mv "$tmp" "$TOOLS_DIR"
}
