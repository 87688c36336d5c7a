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

TOOLS_DIR="$KAFKA_DIR/.jars/$KAFKA_VERSION-tools"
TOOLS_JAR="$TOOLS_DIR/kafka-tools-$KAFKA_VERSION.jar"
if [[ ! -f "$TOOLS_JAR" ]]; then
  command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH: needed once to fetch org.apache.kafka:kafka-tools:$KAFKA_VERSION"
  tmp="$TOOLS_DIR.tmp.$$"
  log="$KAFKA_DIR/.jars/mvn-$KAFKA_VERSION-tools.log"
  say "fetching org.apache.kafka:kafka-tools:$KAFKA_VERSION (ProducerPerformance) with Maven (first run only)" >&2
  rm -rf "$tmp"
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_DIR/pom.xml" dependency:copy \
    -Dartifact="org.apache.kafka:kafka-tools:$KAFKA_VERSION:jar" -DoutputDirectory="$tmp" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -rf "$tmp"
    die "Maven could not fetch org.apache.kafka:kafka-tools:$KAFKA_VERSION (full log: $log)"
  fi
  if [[ -f "$TOOLS_JAR" ]]; then
    rm -rf "$tmp" # a concurrent run (or kafka/secure.sh) won
  else
    rm -rf "$TOOLS_DIR"
    mv "$tmp" "$TOOLS_DIR"
  fi
fi
echo "$JARS_DIR/*:$TOOLS_JAR"
