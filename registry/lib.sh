# Shared settings and helpers for registry/start.sh and registry/stop.sh (sourced, not run).
# Expects REGISTRY_DIR (this folder, absolute) to be set by the caller.

REGISTRY_VERSION="${REGISTRY_VERSION:-2.6.13.Final}"
REGISTRY_HOST="${REGISTRY_HOST:-127.0.0.1}"
REGISTRY_PORT="${REGISTRY_PORT:-8081}"
REGISTRY_HEAP_OPTS="${REGISTRY_HEAP_OPTS:--Xmx256m}"
REGISTRY_START_TIMEOUT="${REGISTRY_START_TIMEOUT:-90}"
REGISTRY_STOP_TIMEOUT="${REGISTRY_STOP_TIMEOUT:-20}"

# Where its pid and log live: one dir per port, so a second registry on another port (the tests'
# throwaway ones) neither finds nor stops the first.
REGISTRY_DATA_DIR="${REGISTRY_DATA_DIR:-$REGISTRY_DIR/.run/$REGISTRY_PORT}"
[[ "$REGISTRY_DATA_DIR" == /* ]] || REGISTRY_DATA_DIR="$PWD/$REGISTRY_DATA_DIR"
REGISTRY_DATA_DIR="${REGISTRY_DATA_DIR%/}"

APP_DIR="$REGISTRY_DIR/.app/$REGISTRY_VERSION"
RUNNER_JAR="$APP_DIR/apicurio-registry-app-$REGISTRY_VERSION-runner.jar"
BASE_URL="http://$REGISTRY_HOST:$REGISTRY_PORT"
CCOMPAT_URL="$BASE_URL/apis/ccompat/v7"
LOG_FILE="$REGISTRY_DATA_DIR/registry.log"
PID_FILE="$REGISTRY_DATA_DIR/registry.pid"

say() { echo "[registry] $*"; }
die() {
  echo "[registry] error: $*" >&2
  exit 1
}

now_ns() {
  local t
  t="$(date +%s%N 2>/dev/null)"
  [[ "$t" =~ ^[0-9]+$ ]] || t="$(date +%s)000000000"
  echo "$t"
}

# Seconds since START_NS (from now_ns), e.g. "3.2s".
elapsed_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.1fs", (b - a) / 1e9 }'; }

port_open() { (exec 3<>"/dev/tcp/$REGISTRY_HOST/$1") 2>/dev/null; }

# The body of GET PATH on the registry, in pure bash (no curl needed); fails unless it answers 200.
http_get() { # PATH
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s:%s\r\nAccept: application/json\r\n\r\n" "$3" "$1" "$2" >&3
    IFS= read -r status <&3 || exit 1
    [[ "$status" == "HTTP/1."?" 200"* ]] || exit 1
    while IFS= read -r line <&3 && [[ "$line" != $'"'"'\r'"'"' && -n "$line" ]]; do :; done
    cat <&3' _ "$REGISTRY_HOST" "$REGISTRY_PORT" "$1" 2>/dev/null
}

# True when a Schema Registry answers the Confluent-compatible API: GET /subjects gives a JSON array.
registry_answers() {
  port_open "$REGISTRY_PORT" || return 1
  local body
  body="$(http_get "/apis/ccompat/v7/subjects")" || return 1
  [[ "$body" == \[* ]]
}

# True while PID runs (a zombie counts as gone).
alive() { # PID
  kill -0 "$1" 2>/dev/null || return 1
  if [[ -r "/proc/$1/stat" ]]; then
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
  fi
}

# Prints the pid from PID_FILE if that process is alive and is this registry's JVM.
own_pid() {
  local pid args
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && alive "$pid" || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    args="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  else
    args="$(ps -p "$pid" -o args= 2>/dev/null || true)"
  fi
  [[ "$args" == *apicurio-registry-app* ]] || return 1 # pid reused by something else
  echo "$pid"
}

# SIGTERM, wait up to TIMEOUT seconds, then SIGKILL. Prints "term" or "kill".
stop_pid() { # PID TIMEOUT
  local pid="$1" deadline=$((SECONDS + $2))
  kill -TERM "$pid" 2>/dev/null || {
    echo term
    return 0
  }
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      while alive "$pid"; do sleep 0.1; done
      echo kill
      return 0
    fi
    sleep 0.2
  done
  echo term
}

# Fetches Apicurio Registry $REGISTRY_VERSION (the runnable Quarkus app, a tar.gz of classifier
# "all") from Maven Central with Maven (registry/pom.xml) and unpacks it into $APP_DIR, once.
# Concurrent callers are safe: each works in its own temporary dir and renames it.
ensure_app() {
  [[ -f "$APP_DIR/.complete" ]] && return 0
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found on PATH: needed once to fetch Apicurio Registry $REGISTRY_VERSION (Debian: apt-get install maven)"
  local t0 tmp mvn_log archive
  t0="$(now_ns)"
  say "Apicurio Registry $REGISTRY_VERSION missing: fetching it with Maven into $APP_DIR (first run only, about 140 MB)..."
  tmp="$APP_DIR.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp/download"
  mvn_log="$(dirname "$APP_DIR")/mvn-$REGISTRY_VERSION.log"
  if ! mvn -B -q -Dstyle.color=never -f "$REGISTRY_DIR/pom.xml" dependency:copy-dependencies \
    -Dregistry.version="$REGISTRY_VERSION" -DoutputDirectory="$tmp/download" >"$mvn_log" 2>&1; then
    tail -n 30 "$mvn_log" >&2
    rm -rf "$tmp"
    die "Maven could not fetch io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all (full log: $mvn_log)"
  fi
  archive="$(find "$tmp/download" -name '*.tar.gz' | head -n 1)"
  [[ -n "$archive" ]] || {
    rm -rf "$tmp"
    die "Maven fetched no tar.gz for Apicurio Registry $REGISTRY_VERSION (log: $mvn_log)"
  }
  tar -xzf "$archive" -C "$tmp" || {
    rm -rf "$tmp"
    die "could not unpack $archive"
  }
  rm -rf "$tmp/download"
  [[ -f "$tmp/$(basename "$RUNNER_JAR")" ]] || {
    rm -rf "$tmp"
    die "the Apicurio Registry $REGISTRY_VERSION archive has no $(basename "$RUNNER_JAR")"
  }
  touch "$tmp/.complete"
  [[ -f "$APP_DIR/.complete" ]] && {
    rm -rf "$tmp"
    return 0
  }
  rm -rf "$APP_DIR"
  mv "$tmp" "$APP_DIR"
  say "Apicurio Registry $REGISTRY_VERSION ready in $APP_DIR ($(elapsed_since "$t0"))"
}
