#!/usr/bin/env bash
# deno task test:aarch64: the program checked on aarch64, not only built. Deno's linux-arm64 build
# (npm's @deno/linux-arm64-glibc, the same version as the x86_64 Deno) runs under qemu-user on an
# x86_64 machine, with Debian's arm64 libc (libc6-arm64-cross, libgcc-s1-arm64-cross), and runs:
#   1. checks that the Deno it runs is aarch64: the ELF header (`file`), its --version, and
#      Deno.build.arch from inside the emulation;
#   2. the console contract tests, on an npm cache (DENO_DIR) of its own, which must hold no native
#      code (every npm package the program imports is plain JavaScript or WebAssembly);
#   3. a seeded console backfill (every signal type, every fault kind, generated lines, fault labels)
#      that must be byte for byte what the x86_64 Deno writes;
#   4. one Kafka end-to-end test against the broker on 127.0.0.1:9092 (natively x86_64), read back
#      with kcat.
# What it installs (each only when missing): qemu-user and the arm64 libraries with apt-get, the
# npm package into ~/.cache/factory-sim/deno-aarch64-VERSION/ (never into the repo). Slow (minutes:
# every instruction is emulated), so not part of `deno task ok` or CI; docs/development.md has the
# timing. Settings: AARCH64_FUZZ_CASES (40), KAFKA_TEST_BROKERS (127.0.0.1:9092).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/_install.sh
source scripts/_install.sh

# Where Debian's cross packages put the arm64 libc; qemu-user loads the guest's libraries from there.
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/factory-sim/deno-aarch64-$DENO_VERSION"
ARM_DENO="$CACHE/deno"
# The aarch64 Deno's own cache: npm packages fetched by it, for its platform, never shared with the host's.
export DENO_DIR="$CACHE/deno-dir"
export NO_COLOR=1
# What `deno task test` grants the tests (they run brokers' tools and kcat as subprocesses).
TEST_FLAGS=(--no-prompt --frozen --allow-net --allow-read --allow-write --allow-run --allow-env --allow-sys)

step() { printf '[aarch64] %s\n' "$*" >&2; }
STARTED=$SECONDS
timed() { # LABEL COMMAND...: runs it, then says how long it took
  local label="$1" start=$SECONDS
  shift
  "$@"
  step "$label: $((SECONDS - start)) s"
}

run_arm() { qemu-aarch64 "$ARM_DENO" "$@"; }

[[ "$(uname -m)" == x86_64 ]] ||
  die "this machine is $(uname -m): test:aarch64 emulates aarch64 on x86_64 (on an aarch64 machine, run deno task test there)"

ensure_qemu_aarch64() {
  local -a packages=()
  command -v qemu-aarch64 >/dev/null 2>&1 || packages+=(qemu-user)
  [[ -e "$QEMU_LD_PREFIX/lib/ld-linux-aarch64.so.1" ]] || packages+=(libc6-arm64-cross)
  # Deno links libgcc_s (unwinding); libc6-arm64-cross does not bring it.
  [[ -e "$QEMU_LD_PREFIX/lib/libgcc_s.so.1" ]] || packages+=(libgcc-s1-arm64-cross)
  if ((${#packages[@]} > 0)); then
    log "installing ${packages[*]}"
    apt_install --no-install-recommends "${packages[@]}"
  fi
}

# Deno's linux-arm64 build, from the npm registry (npm checks the tarball against the registry's
# integrity hash), unpacked into the cache: the binary is all the package holds.
ensure_deno_aarch64() {
  [[ -f "$CACHE/.complete" && -x "$ARM_DENO" ]] && return 0
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch @deno/linux-arm64-glibc@$DENO_VERSION: apt-get install npm"
  mkdir -p "$CACHE"
  (
    exec 8>"$CACHE.lock"
    flock -w 600 8 || die "timed out waiting for another install of $CACHE"
    [[ -f "$CACHE/.complete" && -x "$ARM_DENO" ]] && exit 0
    log "installing @deno/linux-arm64-glibc@$DENO_VERSION from npm into $CACHE"
    local tmp
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "@deno/linux-arm64-glibc@$DENO_VERSION" >/dev/null) ||
      die "npm could not fetch @deno/linux-arm64-glibc@$DENO_VERSION"
    tar -xzf "$tmp"/deno-linux-arm64-glibc-"$DENO_VERSION".tgz -C "$tmp" package/deno
    mv -f "$tmp/package/deno" "$ARM_DENO"
    touch "$CACHE/.complete"
  ) || exit 1
}

check_aarch64() {
  local header seen
  header="$(file -b "$ARM_DENO")"
  [[ "$header" == *"ARM aarch64"* ]] || die "$ARM_DENO is not an aarch64 binary: $header"
  seen="$(run_arm --version | head -n1)"
  [[ "$seen" == "deno $DENO_VERSION "*"aarch64-unknown-linux-gnu)" ]] || die "$ARM_DENO says: $seen"
  # What the running program sees (the x86_64 kernel cannot run this ELF: only qemu can).
  seen="$(run_arm eval 'console.log(Deno.build.arch, Deno.build.os)')"
  [[ "$seen" == "aarch64 linux" ]] || die "inside the emulation Deno.build says: $seen"
  step "$header"
  step "inside qemu-aarch64: $(run_arm --version | head -n1); Deno.build: $seen"
}

# Type checking is the same on every architecture (deno task check does it natively): --no-check.
contract_tests() {
  run_arm test --no-check "${TEST_FLAGS[@]}" tests/console_sink_test.ts tests/messages_test.ts tests/main_test.ts
}

# The fuzzed configs' contract checks, then one Kafka end-to-end test, in one process: the fuzz
# test's in-process runs warm the emulated process (qemu translates each code path once per process)
# before the run's 10 s connect deadline, which a cold emulated KafkaJS has been seen to miss on a
# loaded machine. The fuzz file's other test (3 h of extreme signals: about 6 min emulated) is left
# to the x86_64 suite; the stream comparison above checks extreme values byte for byte instead.
fuzz_and_kafka_e2e() {
  FUZZ_CASES="${AARCH64_FUZZ_CASES:-40}" run_arm test --no-check "${TEST_FLAGS[@]}" \
    --filter '/^(fuzz: |a seeded accelerated run lands every reading exactly once)/' \
    tests/fuzz_test.ts tests/kafka_e2e_test.ts
}

# No native code came with the npm packages: no ELF file and no Node-API addon in the cache.
no_native_npm_code() {
  local npm_dir="$DENO_DIR/npm" native packages
  [[ -d "$npm_dir" ]] || die "no npm packages in $npm_dir: the tests did not run on this cache"
  native="$(find "$npm_dir" -type f \( -name '*.node' -o -name '*.so' -o -name '*.so.*' -o -name '*.dylib' \) -print)"
  native+="$(find "$npm_dir" -type f -size +4c -exec sh -c 'for f; do if [ "$(head -c4 "$f")" = "$(printf "\177ELF")" ]; then echo "$f"; fi; done' _ {} +)"
  [[ -z "$native" ]] || die "native code in the npm cache: $native"
  # Each package's directory holds its registry.json and one directory per version.
  packages="$(find "$npm_dir" -name registry.json -printf '%h\0' | xargs -0 -I{} find {} -mindepth 1 -maxdepth 1 -type d | wc -l)"
  step "npm cache $npm_dir: $packages package versions, no native code"
}

ensure_deno
# kcat reads back what the end-to-end test sent.
command -v kcat >/dev/null 2>&1 || apt_install kcat
ensure_qemu_aarch64
ensure_deno_aarch64
check_aarch64
step "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
timed "console contract tests" contract_tests
timed "seeded stream compared with x86_64" same_stream_as_x86_64
timed "fuzzed configs and Kafka end to end" fuzz_and_kafka_e2e
no_native_npm_code
step "passed in $((SECONDS - STARTED)) s (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
