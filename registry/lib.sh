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
LOG_PREFIX=registry
# shellcheck source=scripts/_process.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_process.sh"

# Prints the pid from PID_FILE if that process is alive and is this registry's JVM.
own_pid() { pid_from_file "$PID_FILE" apicurio-registry-app; }

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
