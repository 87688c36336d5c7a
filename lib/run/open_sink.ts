/**
 * Opens the sink a run asked for: the console, Kafka, or (`--sink auto`) Kafka when it answers in
 * time and the console otherwise.
 */
import { RunError } from "../errors.ts";
import type { ProcessIo } from "../io.ts";
import { log } from "../log.ts";
import { describeSecurity, readSecurity, type Security } from "../security.ts";
import { ConsoleSink } from "../sinks/console.ts";
import { loadKafkaSink } from "../sinks/load.ts";
import type { Sink } from "../sinks/sink.ts";
import { openLaneSpools } from "../sinks/lanes.ts";
import type { RunOptions } from "./options.ts";

/** How long `--sink auto` tries Kafka before falling back to the console. */
export const AUTO_CONNECT_TIMEOUT_MS = 3_000;
/** How long `--sink kafka` tries Kafka before giving up. */
export const KAFKA_CONNECT_TIMEOUT_MS = 10_000;

/** An open sink, and whether it is the console because `--sink auto` found no Kafka. */
export interface OpenedSink {
  sink: Sink;
  fellBack: boolean;
}

/**
 * Opens the sink of `options` (with `security` as read by `readSecurity`, or read here). Throws what
 * connecting throws (`RunError`, `PermissionError`, `UsageError`), except that `--sink auto` falls
 * back to the console on a `RunError`. With `prepareTopics` false, the Kafka sink leaves the topics
 * to another client of the run (a run's first worker prepares them for all).
 */
export async function openSink(
  options: Pick<RunOptions, "sink" | "brokers" | "producer" | "spool" | "topics" | "backfill">,
  io: Pick<ProcessIo, "env" | "stdout" | "signal" | "checkNet" | "now">,
  read?: Security,
  { prepareTopics = true }: { prepareTopics?: boolean } = {},
): Promise<OpenedSink> {
  if (options.sink === "console") return { sink: new ConsoleSink(io.stdout), fellBack: false };
  const security = read ?? await readSecurity(io.env);
  for (const broker of options.brokers) io.checkNet?.(broker);
  const { brokers, producer, topics } = options;
  const { signal } = io;
  // Opened before connecting: a spool dir that cannot be used fails at once, not after the
  // connect timeout, and what an earlier run left there is sent first.
  // One producer for each of at most --partitions lanes, each with a spool file of its own.
  const producers = Math.min(producer.producers, producer.partitions);
  const spools = options.spool.maxMb > 0
    ? openLaneSpools(options.spool.dir, producers, {
      maxBytes: options.spool.maxMb * 1024 * 1024,
      sync: options.spool.sync,
    })
    : undefined;
  const closeSpools = () => spools?.forEach((spool) => spool.close());
  // Loaded on demand (started by main.ts as soon as the flags asked for Kafka): a console run does
  // not pay for the Kafka client, and a missing permission while the client loads becomes a
  // PermissionError instead of an uncaught exception.
  let connectKafkaSink;
  try {
    ({ connectKafkaSink } = await loadKafkaSink());
  } catch (error) {
    closeSpools();
    throw error;
  }
  if (security.protocol !== "PLAINTEXT") log("kafka").info(`security: ${describeSecurity(security)}`);
  try {
    const sink = await connectKafkaSink({
      brokers,
      // Any of the topics may be the same one (one topic for everything is a common layout).
      topics: [...new Set([topics.readings, topics.heartbeats, ...(topics.labels ? [topics.labels] : [])])],
      connectTimeoutMs: options.sink === "kafka" ? KAFKA_CONNECT_TIMEOUT_MS : AUTO_CONNECT_TIMEOUT_MS,
      signal,
      clientId: producer.clientId,
      acks: producer.acks,
      idempotent: producer.idempotent,
      compression: producer.compression,
      partitions: producer.partitions,
      replicationFactor: producer.replicationFactor,
      // A backfill writes history Kafka's retention may delete at once: created topics keep it.
      history: options.backfill && { oldestMs: options.backfill.fromMs, nowMs: (io.now ?? Date.now)() },
      security,
      delivery: { lingerMs: producer.lingerMs, batchRecords: producer.batchRecords },
      producers,
      spools,
      prepareTopics,
    });
    return { sink, fellBack: false };
  } catch (error) {
    closeSpools();
    if (options.sink === "kafka" || !(error instanceof RunError) || signal?.aborted) throw error;
    log().warn(`${error.message}; writing records to stdout instead (--sink auto)`);
    return { sink: new ConsoleSink(io.stdout), fellBack: true };
  }
}
