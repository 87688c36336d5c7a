/**
 * Which records Kafka holds already, of those an earlier run sent without seeing their
 * acknowledgement (the spool's records in doubt, `sinks/spool.ts`). Each record is looked for in
 * the partition the producer's key partitioner gives it (`cachedKeyPartitioner`: the same key and
 * partition count, the same partition), by topic, key, timestamp, value and headers, from the
 * offset of the earliest timestamp in doubt (Kafka's offsets for times) to the end offsets taken
 * before reading. A produce request's batch for a partition is written whole or not at all, so a
 * request is either found or not. Read with a consumer of a throwaway group (it commits nothing,
 * seeks where to read, and is deleted afterwards). Loaded with the producer.
 */
import { Buffer } from "node:buffer";
import type { Consumer, IHeaders, Kafka, KafkaMessage, PartitionMetadata } from "kafkajs";
import { ABORTED, raceDeadline, TIMED_OUT } from "../deadline.ts";
import { describeError, RunError } from "../errors.ts";
import { encodedBytes, isEncodedValue } from "../json_bytes.ts";
import { log } from "../log.ts";
import type { OutRecord } from "../messages.ts";
import { quoted } from "../text.ts";
import { protocolErrorType } from "./client.ts";

const kafkaLog = log("kafka");

/** How long the check may take before the records are sent again instead. */
export const DOUBT_CHECK_TIMEOUT_MS = 30_000;
/** Errors of a group coordinator that is not ready yet: the check tries again after COORDINATOR_RETRY_MS. */
const COORDINATOR_NOT_READY = new Set([
  "COORDINATOR_LOAD_IN_PROGRESS",
  "COORDINATOR_NOT_AVAILABLE",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "NOT_COORDINATOR",
  "NOT_COORDINATOR_FOR_GROUP",
  "GROUP_LOAD_IN_PROGRESS",
]);
const COORDINATOR_RETRY_MS = 500;

/**
 * Whether `error`, or an error it wraps (KafkaJS wraps the last one when its retries run out), is a
 * group coordinator that is not ready yet: by protocol error type, or KafkaJS's own "coordinator"
 * errors (a coordinator not found yet).
 */
function coordinatorNotReady(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== "object" || depth > 5) return false;
  const { type, message, cause, originalError, errors } = error as Record<string, unknown>;
  if (typeof type === "string" && COORDINATOR_NOT_READY.has(type)) return true;
  if (typeof message === "string" && /coordinator/i.test(message)) return true;
  return [cause, originalError, ...(Array.isArray(errors) ? errors : [])].some((inner) =>
    coordinatorNotReady(inner, depth + 1)
  );
}
/** How long leaving and deleting the throwaway group may take. */
const CLEAN_UP_TIMEOUT_MS = 5_000;

/** The throwaway group's id: `<client id>-doubt-<random>` (grant READ on the prefix). */
export function doubtGroupId(clientId: string): string {
  return `${clientId}-doubt-${crypto.randomUUID()}`;
}

/** A record by what it is: key, timestamp, value and headers (sorted by name). */
function identity(key: string, timestampMs: number, value: string, headers: [string, string][]): string {
  headers.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return JSON.stringify([key, timestampMs, value, headers]);
}

function recordIdentity({ key, timestampMs, value, headers }: OutRecord): string {
  // Values compare as bytes: JSON text by its UTF-8, a registry format's as they are.
  const bytes = typeof value === "string"
    ? Buffer.from(value, "utf8")
    : isEncodedValue(value)
    ? Buffer.from(encodedBytes(value).buffer)
    : value;
  return identity(key, timestampMs, bytes.toString("latin1"), Object.entries(headers ?? {}));
}

function messageIdentity(message: KafkaMessage): string {
  const text = (data: Buffer | string | null | undefined) => typeof data === "string" ? data : data?.toString() ?? "";
  const headers: [string, string][] = [];
  for (const [name, data] of Object.entries((message.headers ?? {}) as IHeaders)) {
    for (const one of Array.isArray(data) ? data : [data]) headers.push([name, text(one)]);
  }
  return identity(text(message.key), Number(message.timestamp), message.value?.toString("latin1") ?? "", headers);
}

/** What is read of one partition: from `start` to `end` (exclusive), and the records looked for there. */
interface Range {
  start: number;
  end: number;
  /** Identity -> indexes of the records in doubt with it, oldest first. */
  wanted: Map<string, number[]>;
  /** Records of `wanted` not found yet. */
  missing: number;
  done: boolean;
}

/**
 * Looks for `records` in Kafka with `kafka`'s client; resolves to `true` at the index of each one
 * found. `partitionOf` is the producer's partitioner. Rejects with a one-line `RunError` when
 * Kafka cannot be read for it (no READ permission, no answer within `timeoutMs`).
 */
export async function findWritten(
  kafka: Kafka,
  records: readonly OutRecord[],
  { clientId, where, user, partitionOf, timeoutMs = DOUBT_CHECK_TIMEOUT_MS }: {
    clientId: string;
    /** "Kafka at host:port": how messages name the cluster. */
    where: string;
    /** "user \"name\"" or "this client". */
    user: string;
    partitionOf: (topic: string, key: string, partitions: PartitionMetadata[]) => number;
    timeoutMs?: number;
  },
): Promise<boolean[]> {
  const found = records.map(() => false);
  if (records.length === 0) return found;
  const topics = [...new Set(records.map((record) => record.topic))];
  const groupId = doubtGroupId(clientId);
  const admin = kafka.admin();
  /** Every consumer an attempt made (one an attempt), left at the end. */
  const consumers: Consumer[] = [];
  const newConsumer = () => {
    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      retry: { retries: 3, restartOnFailure: () => Promise.resolve(false) },
    });
    consumers.push(consumer);
    return consumer;
  };
  let stopped = false;

  const check = async () => {
    await admin.connect();
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
    const ranges = new Map<string, Map<number, Range>>();
    for (const [index, record] of records.entries()) {
      const partitions = metadata.find((topic) => topic.name === record.topic)?.partitions ?? [];
      if (partitions.length === 0) continue;
      let byPartition = ranges.get(record.topic);
      if (byPartition === undefined) ranges.set(record.topic, byPartition = new Map());
      const partition = partitionOf(record.topic, record.key, partitions);
      let range = byPartition.get(partition);
      if (range === undefined) {
        byPartition.set(partition, range = { start: 0, end: 0, wanted: new Map(), missing: 0, done: false });
      }
      const id = recordIdentity(record);
      const same = range.wanted.get(id);
      if (same) same.push(index);
      else range.wanted.set(id, [index]);
      range.missing++;
    }
    let open = 0;
    for (const [topic, byPartition] of ranges) {
      const earliest = Math.min(...records.filter((record) => record.topic === topic).map((r) => r.timestampMs));
      const [starts, ends] = await Promise.all([
        admin.fetchTopicOffsetsByTimestamp(topic, earliest),
        admin.fetchTopicOffsets(topic),
      ]);
      for (const [partition, range] of byPartition) {
        range.end = Number(ends.find((end) => end.partition === partition)?.high ?? 0);
        range.start = Math.min(range.end, Number(starts.find((start) => start.partition === partition)?.offset ?? 0));
        range.done = range.start >= range.end;
        if (!range.done) open++;
      }
    }
    if (open === 0) return;
    // A group coordinator that is not ready yet (a cluster's first group: its offsets topic is still
    // loading) is waited for with a new consumer, until the check's deadline.
    for (let attempt = 1;; attempt++) {
      try {
        return await readRanges(newConsumer(), ranges);
      } catch (error) {
        if (stopped || !coordinatorNotReady(error)) throw error;
        kafkaLog.debug(
          `records in doubt: the group coordinator is not ready (${describeError(error)}); trying again (${attempt})`,
        );
        await new Promise((resolve) => setTimeout(resolve, COORDINATOR_RETRY_MS));
      }
    }
  };

  /** Reads each open range with `consumer`, marking what it finds; resolves when every range is done. */
  /**
   * Reads each range not done with `consumer`, marking what it finds; resolves when every range is
   * done. A range's `start` follows what was read, so another attempt goes on where this one stopped.
   */
  const readRanges = async (consumer: Consumer, ranges: Map<string, Map<number, Range>>) => {
    let open = 0;
    for (const byPartition of ranges.values()) {
      for (const range of byPartition.values()) {
        range.done = range.start >= range.end || range.missing === 0;
        if (!range.done) open++;
      }
    }
    if (open === 0) return;
    await consumer.connect();
    await consumer.subscribe({ topics: [...ranges.keys()] });
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          const range = ranges.get(batch.topic)?.get(batch.partition);
          // Batches from past the end: the group's first position (the latest offset), before the
          // seek takes effect, or the other partitions of the topic.
          if (
            range === undefined || range.done || Number(batch.firstOffset() ?? range.end) >= range.end ||
            Number(batch.lastOffset()) < range.start
          ) {
            return Promise.resolve();
          }
          for (const message of batch.messages) {
            const offset = Number(message.offset);
            if (offset < range.start) continue;
            if (offset >= range.end) break;
            range.start = offset + 1;
            const indexes = range.wanted.get(messageIdentity(message));
            const index = indexes?.shift();
            if (index === undefined) continue;
            found[index] = true;
            range.missing--;
          }
          // Read to the end offset, or until every record looked for here is found.
          if (range.missing === 0 || Number(batch.lastOffset()) + 1 >= range.end) {
            range.done = true;
            if (--open === 0) resolve();
          }
          return Promise.resolve();
        },
      }).then(() => {
        // KafkaJS takes a seek once the consumer runs, and drops batches fetched before it.
        for (const [topic, byPartition] of ranges) {
          for (const [partition, range] of byPartition) {
            if (!range.done) consumer.seek({ topic, partition, offset: String(range.start) });
          }
        }
      }).catch(reject);
    });
  };

  const started = check();
  started.catch(() => {});
  try {
    const outcome = await raceDeadline(started, timeoutMs);
    if (outcome === TIMED_OUT || outcome === ABORTED) {
      throw new RunError(`${where} did not answer within ${timeoutMs / 1000} s`);
    }
  } catch (error) {
    throw new RunError(explainReadError(error, { where, user, topics, groupId, clientId }));
  } finally {
    stopped = true;
    await raceDeadline(
      (async () => {
        for (const consumer of consumers) await consumer.disconnect().catch(() => {});
        // The group has no members once the consumer has left; its offsets go with it.
        await admin.deleteGroups([groupId]).catch((error) =>
          kafkaLog.debug(`the consumer group ${groupId} was not deleted: ${describeError(error)}`)
        );
        await admin.disconnect().catch(() => {});
      })(),
      CLEAN_UP_TIMEOUT_MS,
    );
  }
  kafkaLog.debug(`records in doubt: ${found.filter(Boolean).length} of ${records.length} found in Kafka`);
  return found;
}

/** Why Kafka could not be read for the check, in one line. */
function explainReadError(
  error: unknown,
  { where, user, topics, groupId, clientId }: {
    where: string;
    user: string;
    topics: string[];
    groupId: string;
    clientId: string;
  },
): string {
  const type = protocolErrorType(error);
  switch (type) {
    case "TOPIC_AUTHORIZATION_FAILED":
      return `${where} denied ${user} reading ${topics.map((topic) => quoted(topic)).join(", ")} (${type}): ` +
        "grant it READ on them";
    case "GROUP_AUTHORIZATION_FAILED":
      return `${where} denied ${user} the consumer group ${quoted(groupId)} (${type}): grant it READ (and DELETE) ` +
        `on the groups prefixed ${quoted(`${clientId}-doubt-`)}`;
  }
  return error instanceof RunError ? error.message : describeError(error);
}
