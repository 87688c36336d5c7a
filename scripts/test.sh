#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine (as root, with npm): installs what the tests
# need (Deno 2.9.6 from npm; kcat, Java 17, Maven, openssl, python3 and Chromium from apt; Toxiproxy
# 2.5.0 built with Go from the Go module proxy; the Schema Registry reader's Python packages from
# PyPI), the dependencies exactly as locked, starts the local Kafka (its jars from Maven Central)
# and Schema Registry (Apicurio, from Maven Central), runs `deno task ok` (fmt check, lint, type
# check, tests) and stops the Kafka and registry it started.
# What is already installed is skipped. CI (.ci/run) runs this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/_install.sh
source scripts/_install.sh

ensure_deno
deno --version
ensure_test_tools
ensure_toxiproxy
ensure_python_reader

# Dependencies exactly as locked.
deno install --frozen

# A real broker (Kafka's own jars from Maven Central, KRaft mode) and a real Schema Registry
# (Apicurio Registry, in memory). One this script starts is stopped whatever happens; one already
# listening (a developer's own) is used and left running.
stops=()
(exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null || stops+=(kafka:stop)
(exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null || stops+=(registry:stop)
trap 'for task in "${stops[@]}"; do deno task "$task" >/dev/null 2>&1 || true; done' EXIT
deno task kafka:start
deno task registry:start

deno task ok
