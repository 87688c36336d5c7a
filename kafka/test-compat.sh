#!/usr/bin/env bash
# Run the end-to-end and fault suites against another Kafka release (default 3.9.1), next to the
# development broker: every broker the tests start (single, scratch, cluster, secured) runs that
# release, from data dirs of its own, on ports of its own.
#
#   bash kafka/test-compat.sh [VERSION]      # deno task test:kafka39
#
# The jars of VERSION come from Maven Central on the first run, like kafka/start.sh's.
set -euo pipefail

VERSION="${1:-3.9.1}"
KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$KAFKA_DIR")"
cd "$ROOT"

export KAFKA_VERSION="$VERSION"
export KAFKA_PORT=9592 KAFKA_CONTROLLER_PORT=9593
export KAFKA_DATA_DIR="$KAFKA_DIR/.data-$VERSION"
export KAFKA_CLUSTER_DIR="$KAFKA_DIR/.cluster-$VERSION" KAFKA_CLUSTER_BASE_PORT=29092
export KAFKA_SECURE_DIR="$KAFKA_DIR/.secure-$VERSION" KAFKA_SECURE_BASE_PORT=9692
export KAFKA_SCRATCH_PORT=9792
export KAFKA_TEST_BROKERS="127.0.0.1:$KAFKA_PORT"

cleanup() {
  bash "$KAFKA_DIR/stop.sh" >/dev/null 2>&1 || true
  bash "$KAFKA_DIR/secure.sh" stop >/dev/null 2>&1 || true
  bash "$KAFKA_DIR/cluster.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

bash "$KAFKA_DIR/start.sh"
echo "[compat] Kafka $VERSION: end-to-end, fault, cluster, security and permission tests"
deno test --no-prompt --allow-net --allow-read --allow-write --allow-run --allow-env --allow-sys \
  tests/kafka_e2e_test.ts tests/broker_outage_test.ts tests/cluster_test.ts tests/secure_test.ts tests/permissions_test.ts
