/**
 * The monitor's Kafka consumer: a consumer group of its own on the readings and heartbeat topics,
 * from now or from the beginning, that hands every record to `onRecords`. It waits for topics that
 * do not exist yet (a monitor started before the simulator) and reads those from their beginning,
 * since all they hold was written after it started. It commits no offsets: every start is "from
 * now" or "from the beginning", as asked. Loaded through `load.ts`, after the patches.
 */
import type { Buffer } from "node:buffer";
import type { Consumer } from "kafkajs";
import { describeError, type ExitError, RunError } from "../errors.ts";
import { isFramed } from "../formats/format.ts";
import { log } from "../log.ts";
import { MESSAGE_TYPE_HEADER } from "../messages.ts";
import type { InRecord } from "../monitor/state.ts";
import type { Security } from "../security.ts";
import { connectWithin, createKafkaClient, errorName, type KafkaClient, protocolErrorType } from "./client.ts";

/** How often the consumer looks for topics that do not exist yet. */
const TOPIC_POLL_MS = 1_000;

/** What the consumer reads and how. */
export interface MonitorConsumerOptions {
  brokers: string[];
  security: Security;
  clientId: string;
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  /** Give up connecting after this long. */
  connectTimeoutMs: number;
  /** Stops waiting (for the connection or for topics) when aborted. */
  signal?: AbortSignal;
  /** Told which topics are read from their beginning, before the first records. */
  onSubscribed?: (fromBeginning: string[]) => void;
  /**
   * Decodes a value in the Confluent wire format (a zero byte first) to the contract's shape;
   * undefined when it cannot. Without it, such values are handed on as text (and count as invalid).
   */
  decode?: (bytes: Buffer) => Promise<unknown>;
  /** Gets the records of each fetched batch. */
  onRecords: (records: InRecord[]) => void;
  /** Wall clock, epoch ms (stamps `receivedMs`). */
  now?: () => number;
}

/** A running consumer. */
export interface MonitorConsumer {
  /** Rejects with a one-line error when the consumer stops for good (a denied group, a lost login). */
  readonly failed: Promise<never>;
  /** Leaves the group and disconnects. */
  stop(): Promise<void>;
}

/**
 * Connects, waits for the topics and starts consuming. Throws a one-line `RunError` (or
 * `PermissionError`) when Kafka is unreachable or refuses the login, and `RunError` when stopped
 * by `signal` before it started.
 */
export async function startMonitorConsumer(options: MonitorConsumerOptions): Promise<MonitorConsumer> {
  const { brokers, security, clientId, groupId, topics, fromBeginning, connectTimeoutMs, signal } = options;
  const now = options.now ?? Date.now;
  const logger = log("monitor");
  const client = createKafkaClient({ clientId, brokers, security, connectTimeoutMs });
  const { kafka, where, fatal } = client;
  const explain = (error: unknown) => explainConsumerError(error, { where, groupId, topics, security });
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });
  const stopped = new Promise<never>((_, reject) => {
    if (signal?.aborted) reject(new Error("stopped"));
    signal?.addEventListener("abort", () => reject(new Error("stopped")), { once: true });
  });
  stopped.catch(() => {});

  await connectWithin(client, admin.connect(), {
    timeoutMs: connectTimeoutMs,
    signal,
    cleanUp: () => admin.disconnect().catch(() => {}),
    explain,
  });
  logger.info(`connected to ${where}`);

  // Wait for the topics; one that appears later holds only what was written since: read it all.
  let missingAtStart: Set<string>;
  try {
    missingAtStart = await waitForTopics(() => admin.listTopics(), topics, {
      watchFatal: client.watchFatal,
      signal,
      pollMs: TOPIC_POLL_MS,
      onWaiting: (missing) => logger.info(`waiting for ${missing.join(" and ")} to be created (start the simulator)`),
    });
  } catch (error) {
    await admin.disconnect().catch(() => {});
    if (signal?.aborted) throw new RunError(`stopped while waiting for ${topics.join(" and ")}`);
    throw explain(error) ?? new RunError(`${where}: ${describeError(error)}`);
  }
  await admin.disconnect().catch(() => {});

  let onFailure: (error: ExitError) => void = () => {};
  const failed = new Promise<never>((_, reject) => onFailure = reject);
  failed.catch(() => {});
  fatal.catch((error) => onFailure(error));
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    // KafkaJS restarts the consumer after a retriable crash; the others end the monitor.
    if (payload.restart) {
      logger.warn(`consumer restarting after: ${describeError(payload.error)}`);
      return;
    }
    onFailure(
      explain(payload.error) ?? new RunError(`${where}: the consumer stopped: ${describeError(payload.error)}`),
    );
  });
  try {
    await Promise.race([startConsuming(consumer, options, missingAtStart, now), fatal, stopped]);
  } catch (error) {
    await consumer.disconnect().catch(() => {});
    if (signal?.aborted) throw new RunError(`stopped while joining consumer group ${groupId}`);
    throw explain(error) ?? new RunError(`${where}: ${describeError(error)}`);
  }
  // A topic created after the monitor started is read whole: say so.
  const whole = fromBeginning ? topics : topics.filter((topic) => missingAtStart.has(topic));
  const fromNow = topics.filter((topic) => !whole.includes(topic));
  const parts = [
    ...(whole.length > 0 ? [`${whole.join(" and ")} from the beginning`] : []),
    ...(fromNow.length > 0 ? [`${fromNow.join(" and ")} from now`] : []),
  ];
  const created = !fromBeginning && whole.length > 0 ? " (created after the monitor started)" : "";
  logger.info(`consuming as consumer group ${groupId}: ${parts.join(", ")}${created}`);
  return { failed, stop: () => consumer.disconnect() };
}

/**
 * Lists the topics every `pollMs` until all of `topics` exist; returns those that did not at first.
 * Ends with the client's fatal error, or when `signal` aborts. Each step listens to those two only
 * while it waits, and its timer is cleared when it ends: a wait of hours leaves nothing behind on
 * the long-lived signal and client (racing them directly kept a reaction per poll).
 */
export async function waitForTopics(
  listTopics: () => Promise<string[]>,
  topics: readonly string[],
  { watchFatal, signal, pollMs, onWaiting }: Pick<KafkaClient, "watchFatal"> & {
    signal?: AbortSignal;
    pollMs: number;
    onWaiting?: (missing: string[]) => void;
  },
): Promise<Set<string>> {
  const missingAtStart = new Set<string>();
  for (;;) {
    const existing = new Set(
      await untilStopped<string[]>((settle) => void listTopics().then(settle.resolve, settle.reject)),
    );
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length === 0) return missingAtStart;
    if (missingAtStart.size === 0) onWaiting?.(missing);
    for (const topic of missing) missingAtStart.add(topic);
    await untilStopped<void>((settle) => {
      const timer = setTimeout(settle.resolve, pollMs);
      return () => clearTimeout(timer);
    });
  }

  /**
   * Runs `step` until it settles, the client fails or `signal` aborts; then removes both listeners
   * and runs what `step` returned to clean up (its timer).
   */
  function untilStopped<T>(
    step: (settle: { resolve: (value: T) => void; reject: (error: unknown) => void }) => (() => void) | void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) return reject(new Error("stopped"));
      let done = false;
      const cleanUps: (() => void)[] = [];
      const finish = (end: () => void) => {
        if (done) return;
        done = true;
        for (const cleanUp of cleanUps) cleanUp();
        end();
      };
      const onAbort = () => finish(() => reject(new Error("stopped")));
      signal?.addEventListener("abort", onAbort, { once: true });
      cleanUps.push(() => signal?.removeEventListener("abort", onAbort));
      cleanUps.push(watchFatal((error) => finish(() => reject(error))));
      const own = step({
        resolve: (value) => finish(() => resolve(value)),
        reject: (error) => finish(() => reject(error)),
      });
      if (own) {
        if (done) own();
        else cleanUps.push(own);
      }
    });
  }
}

async function startConsuming(
  consumer: Consumer,
  { topics, fromBeginning, onRecords, onSubscribed, decode }: MonitorConsumerOptions,
  missingAtStart: Set<string>,
  now: () => number,
): Promise<void> {
  await consumer.connect();
  const fromStart = topics.filter((topic) => fromBeginning || missingAtStart.has(topic));
  const fromNow = topics.filter((topic) => !fromStart.includes(topic));
  if (fromStart.length > 0) await consumer.subscribe({ topics: fromStart, fromBeginning: true });
  if (fromNow.length > 0) await consumer.subscribe({ topics: fromNow, fromBeginning: false });
  onSubscribed?.(fromStart);
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const receivedMs = now();
      const records: InRecord[] = [];
      for (const message of batch.messages) {
        // The record's kind, for a topic readings and heartbeats share.
        const type = message.headers?.[MESSAGE_TYPE_HEADER];
        const bytes = message.value;
        // A registry format's value (JSON text never starts with a zero byte) is decoded here: the
        // registry is asked once per schema id.
        const framed = decode !== undefined && bytes !== null && isFramed(bytes);
        records.push({
          topic: batch.topic,
          value: bytes === null || framed ? null : bytes.toString(),
          ...(framed ? { decoded: await decode(bytes) } : {}),
          timestampMs: Number(message.timestamp),
          receivedMs,
          ...(type === undefined ? {} : { type: String(type) }),
        });
      }
      onRecords(records);
    },
  });
}

/** A consumer error that retrying cannot fix, in one line; undefined for the others. */
function explainConsumerError(
  error: unknown,
  { where, groupId, topics, security }: { where: string; groupId: string; topics: string[]; security: Security },
): ExitError | undefined {
  if (error instanceof RunError) return error;
  const user = security.sasl ? `user "${security.sasl.username}"` : "this client";
  if (errorName(error) === "KafkaJSSASLAuthenticationError") {
    return new RunError(
      `${where} rejected the ${security.sasl?.mechanism ?? "SASL"} login of ${user}: check KAFKA_SASL_USERNAME ` +
        "and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)",
    );
  }
  const type = protocolErrorType(error);
  switch (type) {
    case "GROUP_AUTHORIZATION_FAILED":
      return new RunError(
        `${where} denied ${user} the consumer group ${groupId} (${type}): grant it READ on the group, ` +
          "or choose a permitted one with --group-id",
      );
    case "TOPIC_AUTHORIZATION_FAILED":
      return new RunError(`${where} denied ${user} reading ${topics.join(", ")} (${type}): grant it READ and DESCRIBE`);
    case "CLUSTER_AUTHORIZATION_FAILED":
    case "SASL_AUTHENTICATION_FAILED":
      return new RunError(`${where} refused ${user} (${type})`);
  }
  return undefined;
}
