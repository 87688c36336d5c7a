# Process helpers shared by kafka/lib.sh and registry/lib.sh (sourced, not run). The sourcing file
# defines say() with its own prefix; LOG_PREFIX names it in errors.

die() {
  echo "[$LOG_PREFIX] error: $*" >&2
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

# True while PID runs (a zombie, i.e. exited but not yet reaped, counts as gone).
alive() { # PID
  kill -0 "$1" 2>/dev/null || return 1
  if [[ -r "/proc/$1/stat" ]]; then
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
  fi
}

# Prints the pid in PID_FILE if that process is alive and its command line holds PATTERN (a pid
# reused by something else does not count).
pid_from_file() { # PID_FILE PATTERN
  local pid args
  [[ -f "$1" ]] || return 1
  pid="$(tr -dc '0-9' <"$1")"
  [[ -n "$pid" ]] && alive "$pid" || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    args="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
  else
    args="$(ps -p "$pid" -o args= 2>/dev/null || true)"
  fi
  [[ "$args" == *"$2"* ]] || return 1
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
