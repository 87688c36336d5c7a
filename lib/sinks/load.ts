/**
 * The Kafka sink's module and the client under it (KafkaJS, patched), loaded once and on demand.
 * A run that writes to Kafka starts loading them as soon as its flags are parsed, so they load
 * while the run's own modules load and its config is read and validated; opening the sink waits
 * for them (`open_sink.ts`). A console run never calls this.
 */
import type * as KafkaSink from "./kafka.ts";

let loading: Promise<typeof KafkaSink> | undefined;

/**
 * Starts loading the Kafka sink and the producer part of the Kafka layer (once a process), and
 * resolves to the sink's module. A failure (a missing permission while the client loads) rejects
 * the callers that wait for it, and the next call tries again.
 */
export function loadKafkaSink(): Promise<typeof KafkaSink> {
  if (loading) return loading;
  const attempt = import("./kafka.ts").then(async (sink) => {
    await sink.loadProducer();
    return sink;
  });
  loading = attempt;
  // Started early and awaited later: not an unhandled rejection meanwhile.
  attempt.catch(() => {
    if (loading === attempt) loading = undefined;
  });
  return attempt;
}
