/**
 * The Kafka sink: a KafkaJS producer. This is the only module that imports the Kafka client.
 *
 * Records are queued and sent by one pump, one request at a time, so each sensor's records reach
 * their partition in order (KafkaJS's idempotent producer needs at most one request in flight).
 * Whatever arrives while a request is in flight goes out in the next one, so batches grow with
 * the rate. When the queue is long, `write` returns a promise: back-pressure on the simulation
 * instead of an unbounded queue.
 */
import { Kafka, type LogEntry, logLevel, type Message, Partitioners, type Producer } from "kafkajs";
import { RunError } from "../errors.ts";
import { log } from "../log.ts";
import type { OutRecord } from "../messages.ts";
import type { Sink } from "./sink.ts";

/** Most records in one produce request (keeps each partition's batch well under 1 MB). */
const MAX_REQUEST_RECORDS = 2_000;
/** Queue length at which `write` starts to wait. */
const HIGH_WATER_RECORDS = 50_000;
/** Queue length at which a waiting `write` resumes. */
const LOW_WATER_RECORDS = 10_000;
/** Warn when a request has waited this long for its acknowledgement... */
const SLOW_ACK_WARN_MS = 5_000;
/** ...and again at this interval while it still waits. */
const SLOW_ACK_REPEAT_MS = 30_000;
/** Longest wait for the client to close its connections. */
const DISCONNECT_TIMEOUT_MS = 5_000;
/** Give up on a request not acknowledged within this time (the Java producer's delivery.timeout.ms). */
const DELIVERY_TIMEOUT_MS = 120_000;
/** Partitions of the topics the sink creates. */
const CREATED_TOPIC_PARTITIONS = 3;
/**
 * Topic settings of the topics the sink creates. Accelerated runs stamp records with simulated
 * time, which runs ahead of the broker's clock; Kafka 4 rejects records more than an hour ahead
 * by default (`message.timestamp.after.max.ms`), so created topics lift that limit.
 */
const CREATED_TOPIC_CONFIG = [{ name: "message.timestamp.after.max.ms", value: "9223372036854775807" }];

const kafkaLog = log("kafka");

/** How to reach Kafka. */
export interface KafkaSinkOptions {
  brokers: string[];
  /** Topics to create when missing. */
  topics: string[];
  /** Give up connecting after this long. */
  connectTimeoutMs: number;
  clientId?: string;
  /** Gives up connecting when aborted (a stop signal during start-up). */
  signal?: AbortSignal;
}

/**
 * Connects a producer to `brokers` and creates the missing topics. Throws `RunError` with a
 * one-line reason when no broker answers within `connectTimeoutMs`.
 */
export async function connectKafkaSink(
  { brokers, topics, connectTimeoutMs, clientId = "factory-sim", signal }: KafkaSinkOptions,
): Promise<KafkaSink> {
  const problems = { last: "" };
  const kafka = new Kafka({
    clientId,
    brokers,
    connectionTimeout: Math.min(connectTimeoutMs, 3_000),
    requestTimeout: 30_000,
    retry: { initialRetryTime: 250, retries: 8 },
    logLevel: logLevel.INFO,
    // KafkaJS logs every retry at error level; the sink reports outcomes itself, so the client's
    // own lines go to debug, and the last connection problem is kept for the error message.
    logCreator: () => ({ namespace, log: entry }: LogEntry) => {
      const detail = typeof entry.error === "string" ? `: ${entry.error}` : "";
      const text = `${entry.message}${detail}`;
      if (/connect|connection/i.test(text)) problems.last = /Connection error: (.+)$/.exec(text)?.[1] ?? text;
      kafkaLog.debug(`${namespace}: ${text}`);
    },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: true,
  });

  const attempt = (async () => {
    await admin.connect();
    try {
      const { brokers: live } = await admin.describeCluster();
      const create = (configEntries: typeof CREATED_TOPIC_CONFIG) =>
        admin.createTopics({
          waitForLeaders: true,
          topics: topics.map((topic) => ({
            topic,
            numPartitions: CREATED_TOPIC_PARTITIONS,
            replicationFactor: Math.min(3, live.length),
            configEntries,
          })),
        });
      let created: boolean;
      try {
        created = await create(CREATED_TOPIC_CONFIG);
      } catch (error) {
        // Brokers before Kafka 3.6 do not know the setting (and have no such limit).
        if (protocolErrorType(error) !== "INVALID_CONFIG") throw error;
        created = await create([]);
      }
      if (created) kafkaLog.info(`created topics ${topics.join(", ")}`);
    } catch (error) {
      // Not fatal: the topics may exist already, or the broker may create them on first use.
      kafkaLog.warn(`could not create topics ${topics.join(", ")}: ${describe(error)}`);
    } finally {
      await admin.disconnect();
    }
    await producer.connect();
  })();
  // A late failure of an abandoned attempt must not surface as an unhandled rejection.
  attempt.catch(() => {});

  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), connectTimeoutMs);
    onAbort = () => reject(new Error("stopped"));
    signal?.addEventListener("abort", onAbort);
  });
  try {
    if (signal?.aborted) throw new Error("stopped");
    await Promise.race([attempt, timeout]);
  } catch (error) {
    await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
    if (signal?.aborted) throw new RunError(`stopped while connecting to Kafka at ${brokers.join(",")}`);
    const reason = problems.last !== "" ? problems.last : describe(error);
    throw new RunError(
      `Kafka at ${brokers.join(",")} is unreachable (gave up after ${connectTimeoutMs / 1000} s): ${reason}`,
    );
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
  kafkaLog.info(`connected to Kafka at ${brokers.join(",")}`);
  return new KafkaSink(producer, { lastProblem: () => problems.last });
}

/** A connected producer with its send queue. */
export class KafkaSink implements Sink {
  readonly name = "kafka";
  delivered = 0;
  readonly #producer: Producer;
  #queue: OutRecord[] = [];
  #pump: Promise<void> | undefined;
  #failure: RunError | undefined;
  #lost = 0;
  #inFlight = 0;
  #waiters: (() => void)[] = [];

  readonly #lastProblem: () => string;
  readonly #deliveryTimeoutMs: number;
  readonly #slowAckWarnMs: number;

  constructor(
    producer: Producer,
    { lastProblem = () => "", deliveryTimeoutMs = DELIVERY_TIMEOUT_MS, slowAckWarnMs = SLOW_ACK_WARN_MS }: {
      lastProblem?: () => string;
      deliveryTimeoutMs?: number;
      slowAckWarnMs?: number;
    } = {},
  ) {
    this.#producer = producer;
    this.#lastProblem = lastProblem;
    this.#deliveryTimeoutMs = deliveryTimeoutMs;
    this.#slowAckWarnMs = slowAckWarnMs;
  }

  /** Records accepted and not yet acknowledged. */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  write(records: OutRecord[]): void | Promise<void> {
    if (this.#failure) throw this.#failure;
    for (const record of records) this.#queue.push(record);
    this.#pump ??= this.#run();
    if (this.#queue.length >= HIGH_WATER_RECORDS) {
      return new Promise((resolve) => this.#waiters.push(resolve));
    }
  }

  async close(): Promise<void> {
    while (this.#pump) await this.#pump;
    await withTimeout(this.#producer.disconnect(), DISCONNECT_TIMEOUT_MS);
    if (this.#failure) {
      throw new RunError(`${this.#failure.message} (${this.#lost} records not delivered)`);
    }
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0 && !this.#failure) {
      const queue = this.#queue;
      const batch = queue.length <= MAX_REQUEST_RECORDS ? queue : queue.slice(0, MAX_REQUEST_RECORDS);
      this.#queue = queue.length <= MAX_REQUEST_RECORDS ? [] : queue.slice(MAX_REQUEST_RECORDS);
      this.#inFlight = batch.length;
      try {
        await this.#send(batch);
        this.delivered += batch.length;
      } catch (error) {
        this.#lost = batch.length + this.#queue.length;
        this.#failure = new RunError(`delivery to Kafka failed: ${describeDeliveryError(error)}`);
      } finally {
        this.#inFlight = 0;
      }
      if (this.#queue.length < LOW_WATER_RECORDS || this.#failure) {
        for (const resolve of this.#waiters.splice(0)) resolve();
      }
    }
    this.#pump = undefined;
  }

  /** One request, watched: a slow acknowledgement is logged, a missing one fails after the delivery timeout. */
  async #send(batch: OutRecord[]): Promise<void> {
    const started = Date.now();
    let warned = false;
    let watch: ReturnType<typeof setTimeout> | undefined;
    const warn = () => {
      const waitedMs = Date.now() - started;
      const problem = this.#lastProblem();
      kafkaLog.warn(
        `Kafka has not acknowledged for ${Math.round(waitedMs / 1000)} s${problem ? ` (${problem})` : ""}: ` +
          `${batch.length + this.#queue.length} records waiting; retrying until ${this.#deliveryTimeoutMs / 1000} s`,
      );
      warned = true;
      watch = setTimeout(warn, SLOW_ACK_REPEAT_MS);
    };
    watch = setTimeout(warn, this.#slowAckWarnMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const problem = this.#lastProblem();
        reject(
          new Error(`no acknowledgement within ${this.#deliveryTimeoutMs / 1000} s${problem ? `: ${problem}` : ""}`),
        );
      }, this.#deliveryTimeoutMs);
    });
    try {
      const sending = this.#producer.sendBatch({ acks: -1, topicMessages: byTopic(batch) });
      // Past the deadline the request is abandoned; its late failure must not go unhandled.
      sending.catch(() => {});
      await Promise.race([sending, deadline]);
      if (warned) kafkaLog.info(`Kafka acknowledges again after ${Math.round((Date.now() - started) / 1000)} s`);
    } finally {
      clearTimeout(watch);
      clearTimeout(timer);
    }
  }
}

/** Waits for `promise`, but no longer than `ms` (a failure of it is ignored either way). */
async function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise.catch(() => {}), new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}

function byTopic(records: OutRecord[]): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>();
  for (const record of records) {
    let messages = topics.get(record.topic);
    if (messages === undefined) topics.set(record.topic, messages = []);
    messages.push({ key: record.key, value: record.value, timestamp: String(record.timestampMs) });
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

function describeDeliveryError(error: unknown): string {
  if (protocolErrorType(error) === "INVALID_TIMESTAMP") {
    return "the broker rejected record timestamps as too far ahead of its clock (simulated time runs ahead " +
      "of it at --speed above 1): raise the topics' message.timestamp.after.max.ms (Kafka 4 defaults to 1 h), " +
      "lower --speed, or let factory-sim create the topics";
  }
  return describe(error);
}

/** The Kafka protocol error type (`INVALID_TIMESTAMP`...) inside a KafkaJS error, if any. */
function protocolErrorType(error: unknown): string | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const { type, cause, errors } = error as { type?: unknown; cause?: unknown; errors?: unknown };
  if (typeof type === "string") return type;
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = protocolErrorType(inner);
    if (found) return found;
  }
  return undefined;
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}
