#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine (as root, with npm): installs what the tests
# need (Deno 2.9.6 from npm; kcat, Java 17, Maven, openssl, python3 and Chromium from apt; Toxiproxy
# 2.5.0 built with Go from the Go module proxy), the dependencies exactly as locked, starts the
# local Kafka (its jars from Maven Central), runs `deno task ok` (fmt check, lint, type check,
# tests) and stops the Kafka it started.
# What is already installed is skipped. CI (.ci/run) runs this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/_install.sh
source scripts/_install.sh

ensure_deno
deno --version
ensure_test_tools
ensure_toxiproxy

# Dependencies exactly as locked.
deno install --frozen

# A real broker: Kafka's own jars from Maven Central, KRaft mode. One this script starts is stopped
# whatever happens; a broker already listening (a developer's own) is used and left running.
if ! (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null; then
  trap 'deno task kafka:stop >/dev/null 2>&1 || true' EXIT
fi
deno task kafka:start

deno task ok
