#!/usr/bin/env bash
# A three-node Kafka cluster (KRaft, each node broker+controller in one JVM) on 127.0.0.1,
# for fault tests such as killing a partition's leader mid-run. Same jars as kafka/start.sh,
# and it runs side by side with that single broker (other ports, data under kafka/.cluster).
#
#   bash kafka/cluster.sh start             # nodes 1-3; idempotent, restarts killed nodes
#   bash kafka/cluster.sh start-node N      # start node N again (after `kill N`)
#   bash kafka/cluster.sh kill N            # SIGKILL node N (no controlled shutdown), wait until gone
#   bash kafka/cluster.sh leader TOPIC [P]  # node id of the leader of partition P (default 0)
#   bash kafka/cluster.sh bootstrap         # 127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094
#   bash kafka/cluster.sh status            # which nodes run
#   bash kafka/cluster.sh stop [--wipe]     # stop all nodes; --wipe also deletes kafka/.cluster
#
# Replication: default.replication.factor=3, min.insync.replicas=2, so acks=all writes go on
# with one node down. Needs java 17+, kcat, python3 or jq; mvn once to fetch the jars.
#
# Environment:
#   KAFKA_VERSION            Kafka release to run (default 4.1.1; 3.9.x works too)
#   KAFKA_CLUSTER_DIR        data, logs and pid files, node N in nodeN/ (default kafka/.cluster)
#   KAFKA_CLUSTER_BASE_PORT  client ports BASE..BASE+2, controller ports BASE+100..BASE+102
#                            on 127.0.0.1 (default 19092)
#   KAFKA_CLUSTER_HEAP_OPTS  JVM heap flags of each node (default -Xmx384m -Xms128m)
#   KAFKA_START_TIMEOUT      seconds start / start-node wait for the nodes (default 90)
#   KAFKA_STOP_TIMEOUT       seconds stop waits after SIGTERM before SIGKILL (default 20)
set -euo pipefail

KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Three JVMs starting at once on a small machine take longer than one: a longer default than
# lib.sh's (which only sets it when unset).
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
# shellcheck source=kafka/lib.sh
source "$KAFKA_DIR/lib.sh"

say() { echo "[kafka-cluster] $*"; }
die() {
  echo "[kafka-cluster] error: $*" >&2
  exit 1
}

NODES=(1 2 3)
BASE_PORT="${KAFKA_CLUSTER_BASE_PORT:-19092}"
HEAP_OPTS="${KAFKA_CLUSTER_HEAP_OPTS:--Xmx384m -Xms128m}"
CLUSTER_DIR="${KAFKA_CLUSTER_DIR:-$KAFKA_DIR/.cluster}"
[[ "$CLUSTER_DIR" == /* ]] || CLUSTER_DIR="$PWD/$CLUSTER_DIR"
CLUSTER_DIR="${CLUSTER_DIR%/}"
# Fixed cluster id (base64url of the 16 bytes "factory-sim-3nod"), not the single broker's, so
# a node can never join that broker's cluster by mistake.
CLUSTER_ID_3="ZmFjdG9yeS1zaW0tM25vZA"
CLUSTER_MARKER=".factory-sim-kafka-cluster" # stop --wipe only deletes a dir holding this file

if ! [[ "$BASE_PORT" =~ ^[0-9]+$ ]] || ((BASE_PORT < 1024 || BASE_PORT + 102 > 65535)); then
  die "KAFKA_CLUSTER_BASE_PORT must be a port number from 1024 to 65433, not '$BASE_PORT'"
fi
for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
  if ((p >= BASE_PORT && p <= BASE_PORT + 2)) || ((p >= BASE_PORT + 100 && p <= BASE_PORT + 102)); then
    die "KAFKA_CLUSTER_BASE_PORT=$BASE_PORT uses port $p of the single broker (kafka/start.sh); pick another base"
  fi
done

client_port() { echo $((BASE_PORT + $1 - 1)); }
controller_port() { echo $((BASE_PORT + 100 + $1 - 1)); }
node_dir() { echo "$CLUSTER_DIR/node$1"; }
bootstrap_list() {
  local n out=()
  for n in "${NODES[@]}"; do out+=("127.0.0.1:$(client_port "$n")"); done
  (
    IFS=,
    echo "${out[*]}"
  )
}

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

check_node_arg() { # N
  [[ "${1:-}" =~ ^[123]$ ]] || die "node must be 1, 2 or 3, not '${1:-}'"
}

need_kcat() {
  command -v kcat >/dev/null 2>&1 ||
    die "kcat not found on PATH: the cluster's readiness and leader checks need it (Debian: apt-get install kcat)"
}

# Prints the pid of node N if its pid file names a live Kafka JVM running node N's config
# (the config path tells it apart from the single broker and from a reused pid).
node_pid() { # N
  local pid_file pid args
  pid_file="$(node_dir "$1")/kafka.pid"
  [[ -f "$pid_file" ]] || return 1
  pid="$(tr -dc '0-9' <"$pid_file")"
  [[ -n "$pid" ]] && alive "$pid" || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    args="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  else
    args="$(ps -p "$pid" -o args= 2>/dev/null || true)"
  fi
  [[ "$args" == *kafka.Kafka*"$(node_dir "$1")/server.properties"* ]] || return 1
  echo "$pid"
}

# Node N answers a metadata request on its own client port (a KRaft broker only accepts
# connections once it has caught up with the metadata log and is unfenced).
node_serves_metadata() { # N
  local port
  port="$(client_port "$1")"
  port_open "$port" && kcat -L -b "127.0.0.1:$port" -m 2 >/dev/null 2>&1
}

prepare_cluster_dir() {
  mkdir -p "$CLUSTER_DIR"
  touch "$CLUSTER_DIR/$CLUSTER_MARKER"
}

# One lock for everything that starts or stops nodes, so concurrent callers (e.g. two test
# files) do not launch the same node twice.
take_lock() { # (CLUSTER_DIR must exist)
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CLUSTER_DIR/.lock"
    flock -w $((KAFKA_START_TIMEOUT + 120)) 9 || die "timed out waiting for another kafka/cluster.sh"
  fi
}

# --- JSON (kcat -J) ---------------------------------------------------------------------------
# Reads kcat -L -J metadata on stdin; prints "brokers COUNT", or for TOPIC and PARTITION
# "leader ID" / "error MESSAGE". python3 when there, else jq.
metadata_query() { # [TOPIC PARTITION]
  if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import json, sys
md = json.load(sys.stdin)
if len(sys.argv) < 3:
    print("brokers", len(md.get("brokers") or []))
    sys.exit(0)
topic, partition = sys.argv[1], int(sys.argv[2])
for t in md.get("topics") or []:
    if t.get("topic") != topic:
        continue
    if t.get("error"):
        print("error", t["error"])
        sys.exit(0)
    for p in t.get("partitions") or []:
        if p.get("partition") == partition:
            if p.get("error"):
                print("error", p["error"])
            else:
                print("leader", p.get("leader", -1))
            sys.exit(0)
    print("error", "topic %s has no partition %d (it has %d)" % (topic, partition, len(t.get("partitions") or [])))
    sys.exit(0)
print("error", "topic %s not in the metadata" % topic)
' "$@"
  elif command -v jq >/dev/null 2>&1; then
    if (($# < 2)); then
      jq -r '"brokers \(.brokers // [] | length)"'
    else
      jq -r --arg t "$1" --argjson p "$2" '
        [.topics[]? | select(.topic == $t)] as $ts
        | if ($ts | length) == 0 then "error topic \($t) not in the metadata"
          elif $ts[0].error then "error \($ts[0].error)"
          else ([$ts[0].partitions[]? | select(.partition == $p)] as $ps
            | if ($ps | length) == 0 then "error topic \($t) has no partition \($p) (it has \($ts[0].partitions | length))"
              elif $ps[0].error then "error \($ps[0].error)"
              else "leader \($ps[0].leader // -1)" end) end'
    fi
  else
    die "python3 or jq is needed to read kcat's JSON metadata"
  fi
}

# Number of brokers in the metadata of the broker on PORT (fenced brokers are not listed).
broker_count() { # PORT
  local json
  json="$(kcat -L -J -b "127.0.0.1:$1" -m 3 2>/dev/null)" || return 1
  metadata_query <<<"$json" | awk '$1 == "brokers" { print $2 }'
}

# --- Launching ----------------------------------------------------------------------------
# Per node: what launch_node started, for the readiness wait and the error output.
declare -A LAUNCHED_PID=() LOG_OFFSET=() OUT_OFFSET=()

check_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found on PATH: install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless)"
  local java_major
  java_major="$(java -XshowSettings:properties -version 2>&1 |
    awk -F'= ' '/java.specification.version/ { print $2; exit }')"
  java_major="${java_major#1.}"
  if [[ "$KAFKA_VERSION" != 3.* && -n "$java_major" && "${java_major%%.*}" -lt 17 ]]; then
    die "Kafka $KAFKA_VERSION needs Java 17+, but 'java' is Java $java_major"
  fi
}

java_log_opts() { # N
  echo "-Dkafka.logs.dir=$(node_dir "$1")/logs"
  echo "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties"
}

write_props() { # N
  local n="$1" dir voters="" m
  dir="$(node_dir "$n")"
  for m in "${NODES[@]}"; do voters+="${voters:+,}$m@127.0.0.1:$(controller_port "$m")"; done
  {
    echo "# Generated by kafka/cluster.sh from kafka/server.properties; edit those instead."
    cat "$KAFKA_DIR/server.properties"
    echo
    echo "# --- set by kafka/cluster.sh (later keys win) ---"
    echo "node.id=$n"
    echo "log.dirs=$dir/kraft-logs"
    echo "listeners=PLAINTEXT://127.0.0.1:$(client_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$n")"
    # Static quorum of all three: any two keep the metadata log (and the cluster) writable.
    echo "controller.quorum.voters=$voters"
    echo "default.replication.factor=3"
    echo "min.insync.replicas=2"
    echo "offsets.topic.replication.factor=3"
    echo "transaction.state.log.replication.factor=3"
    echo "transaction.state.log.min.isr=2"
    echo "share.coordinator.state.topic.replication.factor=3"
    echo "share.coordinator.state.topic.min.isr=2"
    echo "auto.create.topics.enable=true"
    echo "num.partitions=1"
    echo "group.initial.rebalance.delay.ms=0"
    # A replica that fell out of the ISR must never become leader: the fault tests check that
    # no acknowledged record is lost.
    echo "unclean.leader.election.enable=false"
  } >"$dir/server.properties.tmp"
  mv "$dir/server.properties.tmp" "$dir/server.properties"
}

# Refuses data a newer Kafka formatted (an older one cannot read it).
check_formatted_by() { # N
  local dir formatted_by
  dir="$(node_dir "$1")"
  formatted_by="$(cat "$dir/kafka.version" 2>/dev/null || true)"
  if [[ -f "$dir/kraft-logs/meta.properties" && -n "$formatted_by" && "$formatted_by" != "$KAFKA_VERSION" &&
    "$(printf '%s\n' "$formatted_by" "$KAFKA_VERSION" | sort -V | head -n 1)" == "$KAFKA_VERSION" ]]; then
    die "node $1 in $dir was formatted by Kafka $formatted_by, which Kafka $KAFKA_VERSION cannot read: use another KAFKA_CLUSTER_DIR, or delete it with: bash kafka/cluster.sh stop --wipe"
  fi
}

# Formats the log dirs of the given nodes that are not formatted yet, all at once (each
# format is a JVM start of a second or two).
format_nodes() { # N...
  local n dir log_opts pids=() todo=() i failed=()
  for n in "$@"; do
    dir="$(node_dir "$n")"
    [[ -f "$dir/kraft-logs/meta.properties" ]] && continue
    say "formatting node $n ($dir/kraft-logs, cluster id $CLUSTER_ID_3)"
    mapfile -t log_opts < <(java_log_opts "$n")
    java "${log_opts[@]}" -cp "$JARS_DIR/*" kafka.tools.StorageTool format \
      -t "$CLUSTER_ID_3" -c "$dir/server.properties" --ignore-formatted \
      >"$dir/format.log" 2>&1 </dev/null 9>&- &
    pids+=("$!")
    todo+=("$n")
  done
  for i in "${!pids[@]}"; do
    n="${todo[$i]}"
    if wait "${pids[$i]}"; then
      echo "$KAFKA_VERSION" >"$(node_dir "$n")/kafka.version"
    else
      tail -n 30 "$(node_dir "$n")/format.log" >&2
      failed+=("$n")
    fi
  done
  ((${#failed[@]} == 0)) || die "formatting node(s) ${failed[*]} failed (log: $CLUSTER_DIR/nodeN/format.log)"
}

# Makes sure node N runs: leaves a running one alone, else launches it (launch_nodes checked
# its ports, wrote its config and formatted it before).
launch_node() { # N
  local n="$1" dir pid
  dir="$(node_dir "$n")"
  if pid="$(node_pid "$n")"; then
    say "node $n already running (pid $pid, 127.0.0.1:$(client_port "$n"))"
    LAUNCHED_PID[$n]="$pid"
    LOG_OFFSET[$n]=0
    OUT_OFFSET[$n]=0
    return 0
  fi
  rm -f "$dir/kafka.pid"

  # Only log lines written from now on count for the error output.
  LOG_OFFSET[$n]="$(file_size "$dir/logs/server.log")"
  OUT_OFFSET[$n]="$(file_size "$dir/kafka.out")"

  launch_kafka "$dir/server.properties" "$dir" "$dir/kafka.out" "$dir/logs" "$HEAP_OPTS"
  pid="$KAFKA_LAUNCHED"
  echo "$pid" >"$dir/kafka.pid"
  LAUNCHED_PID[$n]="$pid"
  say "node $n starting (pid $pid, 127.0.0.1:$(client_port "$n"), controller :$(controller_port "$n"))"
}

# Prepares and launches the given nodes.
launch_nodes() { # N...
  local n
  check_java
  need_kcat
  # Every check before the first launch, so a failed start leaves no node half up.
  for n in "$@"; do
    check_formatted_by "$n"
    node_pid "$n" >/dev/null && continue
    if port_open "$(client_port "$n")" || port_open "$(controller_port "$n")"; then
      die "port $(client_port "$n") or $(controller_port "$n") on 127.0.0.1 is in use, but not by node $n of this cluster; free it or set KAFKA_CLUSTER_BASE_PORT"
    fi
  done
  ensure_jars
  for n in "$@"; do
    mkdir -p "$(node_dir "$n")/logs"
    # A running node keeps the config it started with; only the others get a fresh one.
    node_pid "$n" >/dev/null || write_props "$n"
  done
  # shellcheck disable=SC2046  # node numbers
  format_nodes $(for n in "$@"; do node_pid "$n" >/dev/null || echo "$n"; done)
  for n in "$@"; do launch_node "$n"; done
}

# Prints node N's log lines from this start, then exits.
fail_node() { # N MESSAGE
  local dir
  dir="$(node_dir "$1")"
  report_start_failure "$2" "$dir/logs/server.log" "${LOG_OFFSET[$1]:-0}" "$dir/kafka.out" "${OUT_OFFSET[$1]:-0}"
}

# Waits until each given node serves metadata and, with --all, until node 1's metadata
# lists all three brokers (registered and unfenced). On a timeout, stops what it waited for.
wait_ready() { # [--all] N...
  local all=0 n pending count deadline
  [[ "$1" == --all ]] && {
    all=1
    shift
  }
  deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  pending=("$@")
  while :; do
    local still=()
    for n in "${pending[@]}"; do node_serves_metadata "$n" || still+=("$n"); done
    pending=("${still[@]}")
    if ((${#pending[@]} == 0)); then
      ((all)) || return 0
      count="$(broker_count "$(client_port 1)" || true)"
      [[ "$count" == 3 ]] && return 0
    fi
    for n in "$@"; do
      if ! alive "${LAUNCHED_PID[$n]}"; then
        rm -f "$(node_dir "$n")/kafka.pid"
        fail_node "$n" "node $n (pid ${LAUNCHED_PID[$n]}) exited during startup"
      fi
    done
    if ((SECONDS >= deadline)); then
      # Stop the stragglers in parallel (each may take the full stop timeout).
      for n in "$@"; do stop_pid "${LAUNCHED_PID[$n]}" 10 >/dev/null & done
      wait
      for n in "$@"; do rm -f "$(node_dir "$n")/kafka.pid"; done
      if ((${#pending[@]} > 0)); then
        fail_node "${pending[0]}" "node(s) ${pending[*]} did not serve metadata within ${KAFKA_START_TIMEOUT}s (stopped nodes $*)"
      fi
      fail_node 1 "the metadata on 127.0.0.1:$(client_port 1) listed ${count:-no} brokers, not 3, after ${KAFKA_START_TIMEOUT}s (stopped nodes $*)"
    fi
    sleep 0.5
  done
}

# --- Commands -----------------------------------------------------------------------------
cmd_start() {
  local t0
  t0="$(now_ns)"
  prepare_cluster_dir
  take_lock
  launch_nodes "${NODES[@]}"
  wait_ready --all "${NODES[@]}"
  say "cluster ready on $(bootstrap_list) in $(elapsed_since "$t0") (Kafka $KAFKA_VERSION, data $CLUSTER_DIR)"
}

cmd_start_node() { # N
  local t0
  t0="$(now_ns)"
  prepare_cluster_dir
  take_lock
  launch_nodes "$1"
  wait_ready "$1"
  say "node $1 ready on 127.0.0.1:$(client_port "$1") in $(elapsed_since "$t0")"
}

cmd_kill() { # N
  local pid t0
  [[ -d "$CLUSTER_DIR" ]] || {
    say "node $1 not running (no $CLUSTER_DIR)"
    return 0
  }
  take_lock
  if ! pid="$(node_pid "$1")"; then
    rm -f "$(node_dir "$1")/kafka.pid"
    say "node $1 not running"
    return 0
  fi
  t0="$(now_ns)"
  kill -KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.05; done
  rm -f "$(node_dir "$1")/kafka.pid"
  say "node $1 killed (pid $pid, SIGKILL, gone after $(elapsed_since "$t0"))"
}

cmd_stop() { # [--wipe]
  local wipe=0 arg n pid pids=() ns=() t0 i how
  for arg in "$@"; do
    case "$arg" in
      --wipe) wipe=1 ;;
      *) die "unknown argument: $arg (usage: cluster.sh stop [--wipe])" ;;
    esac
  done
  if [[ ! -d "$CLUSTER_DIR" ]]; then
    say "cluster not running$( ((wipe)) && echo "; nothing to wipe: $CLUSTER_DIR does not exist")"
    return 0
  fi
  take_lock
  t0="$(now_ns)"
  for n in "${NODES[@]}"; do
    if pid="$(node_pid "$n")"; then
      pids+=("$pid")
      ns+=("$n")
    fi
  done
  # All at once: stopped one by one, the last node's controlled shutdown would wait for a
  # controller quorum (2 of 3) that is already gone.
  for i in "${!pids[@]}"; do
    stop_pid "${pids[$i]}" "$KAFKA_STOP_TIMEOUT" >"$(node_dir "${ns[$i]}")/stop.how" &
  done
  wait
  for i in "${!pids[@]}"; do
    n="${ns[$i]}"
    how="$(cat "$(node_dir "$n")/stop.how" 2>/dev/null || true)"
    rm -f "$(node_dir "$n")/stop.how" "$(node_dir "$n")/kafka.pid"
    if [[ "$how" == kill ]]; then
      say "node $n (pid ${pids[$i]}) ignored SIGTERM for ${KAFKA_STOP_TIMEOUT}s: killed with SIGKILL"
    else
      say "node $n stopped (pid ${pids[$i]})"
    fi
  done
  for n in "${NODES[@]}"; do rm -f "$(node_dir "$n")/kafka.pid"; done
  if ((${#pids[@]} == 0)); then
    say "cluster not running"
  else
    say "cluster stopped in $(elapsed_since "$t0")"
  fi

  if ((wipe)); then
    if [[ ! -f "$CLUSTER_DIR/$CLUSTER_MARKER" ]]; then
      die "not wiping $CLUSTER_DIR: it has no $CLUSTER_MARKER file, so cluster.sh did not create it"
    fi
    rm -rf "$CLUSTER_DIR"
    say "wiped $CLUSTER_DIR"
  fi
}

cmd_leader() { # TOPIC [PARTITION]
  local topic="$1" partition="${2:-0}" n port json answer first_error="" asked=0
  [[ "$partition" =~ ^[0-9]+$ ]] || die "partition must be a number, not '$partition'"
  need_kcat
  for n in "${NODES[@]}"; do
    port="$(client_port "$n")"
    port_open "$port" || continue
    asked=$((asked + 1))
    # allow.auto.create.topics=false: asking about a topic must not create it.
    json="$(kcat -L -J -b "127.0.0.1:$port" -t "$topic" -m 3 -X allow.auto.create.topics=false 2>/dev/null)" ||
      continue
    answer="$(metadata_query "$topic" "$partition" <<<"$json")" || continue
    case "$answer" in
      "leader -1" | "leader ") first_error="${first_error:-partition $partition of $topic has no leader (no in-sync replica is up)}" ;;
      leader\ *)
        answer="${answer#leader }"
        # Right after a kill the metadata still names the dead node until the controller
        # fences it (broker.session.timeout.ms, 9 s by default).
        if [[ "$answer" =~ ^[123]$ ]] && ! port_open "$(client_port "$answer")"; then
          echo "[kafka-cluster] note: the metadata still names node $answer as leader of $topic/$partition, but node $answer is down (not fenced yet)" >&2
        fi
        echo "$answer"
        return 0
        ;;
      error\ *) first_error="${first_error:-${answer#error }}" ;;
    esac
  done
  ((asked > 0)) || die "no node of the cluster is reachable on $(bootstrap_list)"
  die "leader of $topic partition $partition unknown: ${first_error:-no node answered a metadata request}"
}

cmd_status() {
  local n pid state
  for n in "${NODES[@]}"; do
    if pid="$(node_pid "$n")"; then
      if node_serves_metadata "$n"; then state="ready"; else state="starting"; fi
      echo "node $n: $state (pid $pid, 127.0.0.1:$(client_port "$n"))"
    elif port_open "$(client_port "$n")"; then
      echo "node $n: not ours (something else listens on 127.0.0.1:$(client_port "$n"))"
    else
      echo "node $n: down"
    fi
  done
}

cmd="${1:-}"
(($# > 0)) && shift
case "$cmd" in
  start)
    (($# == 0)) || die "usage: cluster.sh start"
    cmd_start
    ;;
  start-node)
    (($# == 1)) || die "usage: cluster.sh start-node N"
    check_node_arg "$1"
    cmd_start_node "$1"
    ;;
  kill)
    (($# == 1)) || die "usage: cluster.sh kill N"
    check_node_arg "$1"
    cmd_kill "$1"
    ;;
  leader)
    (($# == 1 || $# == 2)) || die "usage: cluster.sh leader TOPIC [PARTITION]"
    cmd_leader "$@"
    ;;
  bootstrap)
    (($# == 0)) || die "usage: cluster.sh bootstrap"
    bootstrap_list
    ;;
  status)
    (($# == 0)) || die "usage: cluster.sh status"
    cmd_status
    ;;
  stop) cmd_stop "$@" ;;
  -h | --help | help) usage ;;
  "") die "missing command (start | start-node N | kill N | leader TOPIC [P] | bootstrap | status | stop [--wipe]); see --help" ;;
  *) die "unknown command: $cmd; see bash kafka/cluster.sh --help" ;;
esac
