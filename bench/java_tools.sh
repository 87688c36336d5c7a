#!/usr/bin/env bash
# Prints the Java classpath of Kafka's producer benchmark (org.apache.kafka.tools.ProducerPerformance):
# the Kafka $KAFKA_VERSION jars (kafka/.jars/<version>, resolved by Maven through kafka/pom.xml as
# kafka/start.sh does) plus the kafka-tools jar (fetched with Maven once, as kafka/secure.sh does).
#
#   bash bench/java_tools.sh     # -> kafka/.jars/4.1.1/*:kafka/.jars/4.1.1-tools/kafka-tools-4.1.1.jar
set -euo pipefail

KAFKA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../kafka" && pwd)"
# shellcheck source=kafka/lib.sh
source "$KAFKA_DIR/lib.sh"

ensure_jars >&2

ensure_tools_jar
echo "$JARS_DIR/*:$TOOLS_JAR"
