#!/usr/bin/env bash
# deno task test:aarch64: the program checked on aarch64, not only built. Deno's linux-arm64 build
# (npm's @deno/linux-arm64-glibc, the same version as the x86_64 Deno) runs under qemu-user on an
# x86_64 machine, with Debian's arm64 libc (libc6-arm64-cross, libgcc-s1-arm64-cross), and runs:
#   1. checks that the Deno it runs is aarch64: the ELF header (`file`), its --version, and
#      Deno.build.arch from inside the emulation;
#   2. the console contract tests (the console sink, messages, console runs of main);
#   3. a seeded console backfill (every signal type, every fault kind, generated lines, fault labels)
#      that must be byte for byte what the x86_64 Deno writes;
#   4. the fuzzed configs' contract checks, then one Kafka end-to-end test against the broker on
#      127.0.0.1:9092 (natively x86_64), read back with kcat;
#   5. that its npm cache (DENO_DIR, its own) holds no native code: every npm package the program
#      and these tests import is plain JavaScript (or WebAssembly).
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

# Every signal type with noise, drift and decimals (one at +-1e9), every fault kind, generated
# lines beside them.
write_stream_config() { # PATH
  cat >"$1" <<'EOF'
{
  "defaults": {
    "signal": { "type": "gaussian", "setpoint": 50, "sigma": 2, "decimals": 3 },
    "faults": [{ "kind": "offline", "perHour": 0.5, "for": "45s" }, { "kind": "dropout", "perHour": 2, "for": "20s" }]
  },
  "F1": [
    {
      "sodaName": "Coca-Cola", "number": 400, "sensorID": "S1-1",
      "signal": { "type": "sine", "base": 4.2, "amplitude": 0.3, "period": "15m", "noise": 0.05, "drift": 0.1,
                  "min": 0, "max": 10, "decimals": 6 },
      "faults": [{ "kind": "stuck", "at": "10m", "for": "2m" }, { "kind": "spike", "perHour": 2, "for": "20s", "magnitude": 3 }]
    },
    {
      "sodaName": "Sprite", "number": 400, "sensorID": "S1-2",
      "signal": { "type": "walk", "setpoint": 70, "volatility": 0.5, "reversion": 0.01, "decimals": 6 },
      "faults": [{ "kind": "dip", "perHour": 3, "for": "30s" }, { "kind": "late", "perHour": 2, "for": "1m", "lateBy": "5m" }]
    },
    {
      "sodaName": "Fanta", "number": 400, "sensorID": "S1-3",
      "signal": { "type": "uniform", "min": -1e9, "max": 1e9, "decimals": 6, "noise": 1e6, "drift": -1e3 },
      "faults": [{ "kind": "out_of_range", "perHour": 3, "for": "30s" }, { "kind": "duplicate", "perHour": 3, "for": "30s" }]
    }
  ]
}
EOF
}

# The same seeded backfill on the console by the x86_64 Deno and the aarch64 one: the same bytes.
same_stream_as_x86_64() {
  local dir lines
  dir="$(mktemp -d)"
  # shellcheck disable=SC2064 # the directory is known now
  trap "rm -rf '$dir'" RETURN
  write_stream_config "$dir/factory_config.json"
  local -a args=(main.ts --sink console --config "$dir/factory_config.json" --factories 4 --generate-lines --seed 7
    --labels-topic LABELS --backfill 2025-11-01T00:00:00Z..2025-11-01T01:00:00Z -q)
  deno run --quiet --no-prompt -P=sim "${args[@]}" >"$dir/x86_64.jsonl"
  run_arm run --quiet --no-prompt --frozen -P=sim "${args[@]}" >"$dir/aarch64.jsonl"
  lines="$(wc -l <"$dir/x86_64.jsonl")"
  ((lines > 1000)) || die "the x86_64 reference run wrote only $lines lines"
  cmp -s "$dir/x86_64.jsonl" "$dir/aarch64.jsonl" ||
    die "the aarch64 run's stdout differs from x86_64's: $(cmp "$dir/x86_64.jsonl" "$dir/aarch64.jsonl" 2>&1 | head -n1)"
  local kind
  for kind in spike dip stuck dropout offline out_of_range duplicate late; do
    grep -q "\"fault\":\"$kind\"" "$dir/aarch64.jsonl" || die "the seeded backfill has no $kind fault: change its config"
  done
  step "seeded backfill: $lines records, $(grep -c '"fault"' "$dir/aarch64.jsonl") with a fault header or label, identical on aarch64 and x86_64 (sha256 $(sha256sum <"$dir/aarch64.jsonl" | cut -c1-16))"
}

# The fuzzed configs' contract checks, then one Kafka end-to-end test. The run under test must
# connect within the program's fixed 10 s deadline (admin connect, topic creation, the idempotent
# producer's id), which takes about 0.35 s natively here and 10-20 s emulated (qemu runs the guest
# about 50x slower) on a machine busy with other work: a run that did not connect in time is run
# again (3 attempts in all), each attempt said; any other failure, or anything wrong in what landed,
# fails at once. The fuzz file's other test (3 h of extreme signals: about 6 min emulated) is left to
# the x86_64 suite; same_stream_as_x86_64 checks extreme values byte for byte instead.
E2E_TEST="a seeded accelerated run lands every reading exactly once"
fuzz_and_kafka_e2e() {
  local log attempt status
  log="$(mktemp)"
  # shellcheck disable=SC2064 # the file is known now
  trap "rm -f '$log'" RETURN
  set +e
  FUZZ_CASES="${AARCH64_FUZZ_CASES:-40}" run_arm test --no-check "${TEST_FLAGS[@]}" \
    --filter "/^(fuzz: |$E2E_TEST)/" tests/fuzz_test.ts tests/kafka_e2e_test.ts 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  for attempt in 2 3; do
    ((status != 0)) && grep -q 'is unreachable (gave up after 10 s): timed out' "$log" &&
      ! grep -q '^fuzz: .* FAILED' "$log" || break
    step "the emulated run missed the 10 s connect deadline (load average $(cut -d' ' -f1-3 /proc/loadavg)): attempt $attempt of 3"
    run_arm test --no-check "${TEST_FLAGS[@]}" --filter "$E2E_TEST" tests/kafka_e2e_test.ts 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
  done
  set -e
  return "$status"
}

# No native code came with the npm packages: no ELF file and no Node-API addon in the cache.
no_native_npm_code() {
  local npm_dir="$DENO_DIR/npm" native packages
  [[ -d "$npm_dir" ]] || die "no npm packages in $npm_dir: the tests did not run on this cache"
  native="$(find "$npm_dir" -type f \( -name '*.node' -o -name '*.so' -o -name '*.so.*' -o -name '*.dylib' \) -print)"
  native+="$(find "$npm_dir" -type f -size +4c -exec sh -c 'for f; do if [ "$(head -c4 "$f")" = "$(printf "\177ELF")" ]; then echo "$f"; fi; done' _ {} +)"
  [[ -z "$native" ]] || die "native code in the npm cache: $native"
  # REGISTRY/NAME/VERSION/package.json or REGISTRY/@SCOPE/NAME/VERSION/package.json
  packages="$(find "$npm_dir" -mindepth 4 -maxdepth 5 -name package.json -printf '%P\n' |
    awk -F/ '$2 ~ /^@/ && NF == 5 { print $2 "/" $3 "@" $4 } $2 !~ /^@/ && NF == 4 { print $2 "@" $3 }' | sort | tr '\n' ' ')"
  step "npm cache $npm_dir, no native code in: $packages"
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
