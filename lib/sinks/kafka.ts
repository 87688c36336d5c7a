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
  let lastProblem = "";
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
      if (/connect|connection/i.test(text)) lastProblem = /Connection error: (.+)$/.exec(text)?.[1] ?? text;
      kafkaLog.debug(`${namespace}: ${entry.message}${detail}`);
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
    const reason = lastProblem !== "" ? lastProblem : describe(error);
    throw new RunError(
      `Kafka at ${brokers.join(",")} is unreachable (gave up after ${connectTimeoutMs / 1000} s): ${reason}`,
    );
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
  kafkaLog.info(`connected to Kafka at ${brokers.join(",")}`);
  return new KafkaSink(producer);
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
  #waiters: (() => void)[] = [];

  constructor(producer: Producer) {
    this.#producer = producer;
  }

  /** Records accepted and not yet acknowledged. */
  get pending(): number {
    return this.#queue.length;
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
    await this.#producer.disconnect();
    if (this.#failure) {
      throw new RunError(`${this.#failure.message} (${this.#lost} records not delivered)`);
    }
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0 && !this.#failure) {
      const queue = this.#queue;
      const batch = queue.length <= MAX_REQUEST_RECORDS ? queue : queue.slice(0, MAX_REQUEST_RECORDS);
      this.#queue = queue.length <= MAX_REQUEST_RECORDS ? [] : queue.slice(MAX_REQUEST_RECORDS);
      try {
        await this.#producer.sendBatch({ acks: -1, topicMessages: byTopic(batch) });
        this.delivered += batch.length;
      } catch (error) {
        this.#lost = batch.length + this.#queue.length;
        this.#failure = new RunError(`delivery to Kafka failed: ${describeDeliveryError(error)}`);
      }
      if (this.#queue.length < LOW_WATER_RECORDS || this.#failure) {
        for (const resolve of this.#waiters.splice(0)) resolve();
      }
    }
    this.#pump = undefined;
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
