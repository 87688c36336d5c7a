# Installs what a fresh Debian/Ubuntu machine lacks, skipping whatever is already there.
# Sourced by scripts/sim.sh and scripts/test.sh, not run. Every message goes to stderr, so the
# simulator's stdout stays data only. `apt-get update` runs once, and only when a package is missing.

DENO_VERSION=2.9.6

log() { printf '[setup] %s\n' "$*" >&2; }
die() {
  printf '[setup] error: %s\n' "$*" >&2
  exit 1
}

# apt-get as root, or through sudo when there is one.
_as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "installing packages needs root: run as root or install sudo"
  fi
}

_apt_updated=0
apt_install() { # PACKAGE...
  if [[ $_apt_updated == 0 ]]; then
    _as_root apt-get update -qq >&2
    _apt_updated=1
  fi
  _as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

_deno_is_pinned() {
  command -v deno >/dev/null 2>&1 || return 1
  local version
  version="$(deno --version 2>/dev/null)" || return 1
  [[ "${version%%$'\n'*}" == "deno $DENO_VERSION "* ]]
}

# Deno, from the npm registry (the binary ships inside the package), unless deno $DENO_VERSION is on PATH.
ensure_deno() {
  _deno_is_pinned && return 0
  command -v npm >/dev/null 2>&1 ||
    die "deno $DENO_VERSION is not on PATH and npm is not there to install it: install npm (apt-get install npm), or Deno $DENO_VERSION"
  log "installing deno@$DENO_VERSION from npm"
  npm install -g --silent "deno@$DENO_VERSION" >&2
  hash -r
  _deno_is_pinned ||
    die "npm installed deno@$DENO_VERSION, but the deno first on PATH ($(command -v deno || echo none)) is another version: put $(npm prefix -g)/bin first on PATH"
}

# What the tests use besides Deno, from apt.
ensure_test_tools() {
  local -a packages=()
  # kcat (an independent Kafka client the tests read back with); Java 17 and Maven for the brokers.
  command -v kcat >/dev/null 2>&1 || packages+=(kcat)
  command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || packages+=(maven)
  # The secured broker's test certificates (keytool comes with Java) and the cluster script's JSON parsing.
  command -v openssl >/dev/null 2>&1 || packages+=(openssl)
  command -v python3 >/dev/null 2>&1 || packages+=(python3-minimal)
  # Debian's Chromium, for the dashboard test (driven by playwright-core; no browser downloads).
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  if ((${#packages[@]} > 0)); then
    log "installing ${packages[*]}"
    apt_install "${packages[@]}"
  fi
}

TOXIPROXY_VERSION=2.5.0

# Where ensure_toxiproxy puts Toxiproxy's server: $TOXIPROXY_SERVER when set, else a per-user cache
# shared by every clone (built once per machine).
toxiproxy_path() {
  if [[ -n "${TOXIPROXY_SERVER:-}" ]]; then
    printf '%s\n' "$TOXIPROXY_SERVER"
  else
    printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/factory-sim/toxiproxy-$TOXIPROXY_VERSION/toxiproxy-server"
  fi
}

_toxiproxy_is_pinned() { # PATH
  [[ -x "$1" ]] && [[ "$("$1" -version 2>/dev/null)" == *" $TOXIPROXY_VERSION" ]]
}

# Toxiproxy's server (the TCP fault proxy of tests/bad_link_test.ts), built from the Go module proxy
# with `go install` (Go from PATH or /usr/local/go, else Debian's golang-go), unless it is there.
ensure_toxiproxy() {
  local target go dir
  target="$(toxiproxy_path)"
  _toxiproxy_is_pinned "$target" && return 0
  [[ -z "${TOXIPROXY_SERVER:-}" ]] ||
    die "TOXIPROXY_SERVER=$TOXIPROXY_SERVER is not an executable Toxiproxy $TOXIPROXY_VERSION server"
  go="$(command -v go || true)"
  [[ -n "$go" || ! -x /usr/local/go/bin/go ]] || go=/usr/local/go/bin/go
  if [[ -z "$go" ]]; then
    log "installing golang-go (to build Toxiproxy $TOXIPROXY_VERSION)"
    apt_install golang-go
    go="$(command -v go)" || die "golang-go was installed but 'go' is not on PATH"
  fi
  dir="$(dirname "$target")"
  mkdir -p "$dir"
  log "building Toxiproxy $TOXIPROXY_VERSION with $("$go" version) into $dir"
  # The version is stamped in, as Toxiproxy's own release build does, so -version can tell it.
  GOBIN="$dir" "$go" install \
    -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION" >&2 ||
    die "building Toxiproxy $TOXIPROXY_VERSION failed (go install github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION)"
  mv -f "$dir/server" "$target"
  _toxiproxy_is_pinned "$target" || die "the Toxiproxy built into $target does not report version $TOXIPROXY_VERSION"
}

# The Python the end-to-end tests' independent Schema Registry reader (tests/_sr_reader.py) runs on:
# a venv of its own with the packages of tests/_sr_reader_requirements.txt, all pinned, from PyPI.
# The venv's name carries the hash of that file, so a changed pin gets a new one; $SR_READER_PYTHON
# names a Python with those packages to use instead.
_sr_requirements() { printf '%s\n' "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/_sr_reader_requirements.txt"; }

python_reader_path() {
  if [[ -n "${SR_READER_PYTHON:-}" ]]; then
    printf '%s\n' "$SR_READER_PYTHON"
    return 0
  fi
  local hash
  hash="$(sha256sum "$(_sr_requirements)" | cut -c1-12)"
  printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/factory-sim/python-reader-$hash/bin/python"
}

ensure_python_reader() {
  local python dir requirements
  python="$(python_reader_path)"
  if [[ -n "${SR_READER_PYTHON:-}" ]]; then
    [[ -x "$python" ]] || die "SR_READER_PYTHON=$SR_READER_PYTHON is not an executable Python"
    return 0
  fi
  dir="$(dirname "$(dirname "$python")")"
  [[ -f "$dir/.complete" && -x "$python" ]] && return 0
  command -v python3 >/dev/null 2>&1 || apt_install python3-minimal
  # Debian's python3 leaves out venv and ensurepip (the python3-venv package).
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_install python3-venv
  requirements="$(_sr_requirements)"
  mkdir -p "$(dirname "$dir")"
  (
    # One install at a time (concurrent test files); the one that waited finds it done.
    exec 8>"$dir.lock"
    flock -w 600 8 || die "timed out waiting for another install of $dir"
    [[ -f "$dir/.complete" && -x "$python" ]] && exit 0
    log "installing the Schema Registry reader's Python packages (confluent-kafka and its serdes) into $dir"
    rm -rf "$dir"
    python3 -m venv "$dir" >&2 || die "python3 -m venv $dir failed"
    "$dir/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$requirements" >&2 ||
      die "pip could not install $requirements into $dir"
    touch "$dir/.complete"
  ) || exit 1
}
