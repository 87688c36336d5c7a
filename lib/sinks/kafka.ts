/**
 * The Kafka sink: a KafkaJS producer behind the delivery pipeline (`delivery.ts`), on the client
 * of `kafka_client.ts`: it connects (with SASL and TLS when asked), creates the topics, sends
 * requests and says in one line what a producer error means.
 */
// First: its fixes must be in place before KafkaJS's modules load.
import "../kafkajs_patches.ts";
import {
  CompressionTypes,
  type ICustomPartitioner,
  type IHeaders,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
} from "kafkajs";
// KafkaJS's record encoder, to give it faster varints (see installFastVarints).
import KafkaJsEncoder from "kafkajs/src/protocol/encoder.js";
import { describeError, type ExitError, PermissionError, RunError, UsageError } from "../errors.ts";
import {
  createKafkaClient,
  errorMessages,
  errorName,
  explainConnectionProblem,
  type KafkaClient,
  protocolErrorType,
} from "../kafka_client.ts";
import { ACKS, type Acks, type Compression } from "../kafka/settings.ts";
import { log } from "../log.ts";
import type { OutRecord } from "../messages.ts";
import type { Security } from "../security.ts";
import { type DeliveryOptions, DeliverySink, type Transport } from "./delivery.ts";

/**
 * Topic settings of the topics the sink creates. Accelerated runs stamp records with simulated
 * time, which runs ahead of the broker's clock; Kafka 4 rejects records more than an hour ahead
 * by default (`message.timestamp.after.max.ms`), so created topics lift that limit.
 */
const CREATED_TOPIC_CONFIG = [{ name: "message.timestamp.after.max.ms", value: "9223372036854775807" }];

const kafkaLog = log("kafka");

// --- Faster varints for KafkaJS's encoder (measured in bench/README.md, "Throughput") -----------

/** What `installFastVarints` needs of KafkaJS's `Encoder` class (src/protocol/encoder.js). */
export interface VarintEncoderClass {
  new (): VarintEncoder;
  prototype: VarintEncoder;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: unknown): number;
}

/** An instance of KafkaJS's `Encoder`, as far as `installFastVarints` uses it. */
export interface VarintEncoder {
  buf: Uint8Array;
  offset: number;
  readonly buffer: Uint8Array;
  ensureAvailable(length: number): void;
  writeUVarInt(value: number): VarintEncoder;
  writeVarInt(value: number): VarintEncoder;
  writeVarLong(value: unknown): VarintEncoder;
}

/** Timestamp deltas and other varlongs within +-(2^30 - 1) take the 32-bit path. */
const SMALL_VARLONG = 0x3fff_ffff;
const isSmallInteger = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= -SMALL_VARLONG && value <= SMALL_VARLONG;

/**
 * KafkaJS 2.2.4 writes every varint of a record (its length, offset delta, key, value and header
 * lengths) through a temporary `Buffer.from(array)`, and sizes and writes every varlong (the
 * timestamp delta) with BigInt arithmetic. Under Deno's Node `Buffer` that was about half the CPU
 * time of producing a record, and made the client the bound of a backfill and of real-time
 * capacity. These replacements write the same bytes straight into the encoder's buffer. They are
 * installed once per class, and only when a self-check shows they write exactly what the
 * originals write, so a KafkaJS release with other internals keeps its own code. Returns whether
 * they are installed.
 */
export function installFastVarints(Encoder: VarintEncoderClass = KafkaJsEncoder as VarintEncoderClass): boolean {
  const proto = Encoder.prototype as VarintEncoder & { fastVarints?: boolean };
  if (proto.fastVarints) return true;
  const { writeUVarInt, writeVarLong } = proto;
  const sizeOfVarLong = Encoder.sizeOfVarLong;
  if (typeof writeUVarInt !== "function" || typeof writeVarLong !== "function") return false;
  const ints = [0, 1, 63, 64, 127, 128, 300, 16_383, 16_384, 2 ** 21, 2 ** 28, 2 ** 31 - 1, -1, -64, -65, -(2 ** 31)];
  const longs = [0, 1, -1, 1_000, -1_000, SMALL_VARLONG, -SMALL_VARLONG, SMALL_VARLONG + 1, 2 ** 40, -(2 ** 40)];
  const sample = () => {
    const encoder = new Encoder();
    for (const value of ints) encoder.writeVarInt(value);
    for (const value of longs) encoder.writeVarLong(value);
    return [...encoder.buffer, ...longs.map((value) => Encoder.sizeOfVarLong(value))].join();
  };
  const before = sample();
  proto.writeUVarInt = function (this: VarintEncoder, value: number) {
    // The original's loop, writing into the buffer instead of an array (at most 5 bytes).
    this.ensureAvailable(5);
    while ((value & 0xffffff80) !== 0) {
      this.buf[this.offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.offset++] = value & 0x7f;
    return this;
  };
  proto.writeVarLong = function (this: VarintEncoder, value: unknown) {
    // Zigzag of a small integer, as a varint; anything else the original way.
    if (isSmallInteger(value)) return this.writeUVarInt(value >= 0 ? value * 2 : -value * 2 - 1);
    return writeVarLong.call(this, value);
  };
  Encoder.sizeOfVarLong = (value: unknown) =>
    isSmallInteger(value) ? Encoder.sizeOfVarInt(value) : sizeOfVarLong.call(Encoder, value);
  if (sample() !== before) {
    proto.writeUVarInt = writeUVarInt;
    proto.writeVarLong = writeVarLong;
    Encoder.sizeOfVarLong = sizeOfVarLong;
    kafkaLog.debug("KafkaJS's encoder differs from the one installFastVarints knows: left as it is");
    return false;
  }
  proto.fastVarints = true;
  return true;
}
installFastVarints();

// --- end of faster varints ------------------------------------------------------------------------

/** How to reach Kafka and how to produce. */
export interface KafkaSinkOptions {
  brokers: string[];
  /** Topics to create when missing. */
  topics: string[];
  /** Give up connecting after this long. */
  connectTimeoutMs: number;
  /** Gives up connecting when aborted (a stop signal during start-up). */
  signal?: AbortSignal;
  clientId?: string;
  acks?: Acks;
  /** The idempotent producer (needs `acks: "all"`). */
  idempotent?: boolean;
  compression?: Compression;
  /** Partitions of the topics the sink creates. */
  partitions?: number;
  /** Replication factor of the topics the sink creates (default: min(3, brokers in the cluster)). */
  replicationFactor?: number;
  security?: Security;
  /** Linger, batch size and the spool: see `DeliveryOptions`. */
  delivery?: DeliveryOptions;
}

/**
 * Connects a producer to `brokers`, creates the missing topics and returns the sink. Throws a
 * one-line `RunError` when no broker answers within `connectTimeoutMs`, the login or the TLS
 * handshake fails, or the topics cannot be used; `PermissionError` when Deno may not connect.
 */
export async function connectKafkaSink(options: KafkaSinkOptions): Promise<DeliverySink> {
  const {
    brokers,
    topics,
    connectTimeoutMs,
    signal,
    clientId = "factory-sim",
    acks = "all",
    idempotent = true,
    compression = "none",
    partitions = 3,
    replicationFactor,
    security = { protocol: "PLAINTEXT" },
    delivery = {},
  } = options;
  const { kafka, where, problems, fatal, watchFatal } = createKafkaClient({
    clientId,
    brokers,
    security,
    connectTimeoutMs,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({
    idempotent,
    maxInFlightRequests: 1,
    createPartitioner: cachedKeyPartitioner,
    allowAutoTopicCreation: true,
    // Retriable failures (a broker down, a leader moving) are retried for as long as it takes:
    // the pipeline spools meanwhile. Retrying the same request keeps its sequence numbers, so the
    // idempotent producer cannot write it twice.
    retry: { initialRetryTime: 250, maxRetryTime: 5_000, retries: Number.MAX_SAFE_INTEGER },
  });

  const attempt = (async () => {
    await admin.connect();
    try {
      await prepareTopics(admin, { topics, partitions, replicationFactor, user: security.sasl?.username });
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
    await Promise.race([attempt, timeout, fatal]);
  } catch (error) {
    await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
    if (signal?.aborted) throw new RunError(`stopped while connecting to ${where}`);
    const explained = explainError(error, { where, topics, security, idempotent });
    if (explained.exitError) throw explained.exitError;
    if (explained.final) throw new RunError(`${where}: ${explained.message}`);
    const reason = problems.last !== "" ? problems.last : explained.message;
    throw new RunError(`${where} is unreachable (gave up after ${connectTimeoutMs / 1000} s): ${reason}`);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
  kafkaLog.info(`connected to ${where}`);
  const transport = kafkaTransport(producer, {
    acks: ACKS[acks],
    compression: compression === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None,
    explain: (error) => explainError(error, { where, topics, security, idempotent }),
    lastProblem: () => problems.last,
    watchFatal,
  });
  return new DeliverySink(transport, delivery);
}

/**
 * KafkaJS's default partitioner (murmur2 of the key, as Java's client: the same partitions), with
 * each key's partition remembered per partition count. The default hashes every message's key
 * (after copying it into a Buffer) and filters the partition list first; a plant has one key per
 * sensor, so after the first record of each sensor this is a map lookup. Records without a key
 * go to the default as before.
 */
export const cachedKeyPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const byCount = new Map<number, Map<string, number>>();
  return (args) => {
    const { key, partition } = args.message;
    if (typeof key !== "string" || (partition !== null && partition !== undefined)) return partitioner(args);
    const count = args.partitionMetadata.length;
    let cache = byCount.get(count);
    if (cache === undefined) byCount.set(count, cache = new Map());
    let chosen = cache.get(key);
    if (chosen === undefined) {
      chosen = partitioner(args);
      cache.set(key, chosen);
    }
    return chosen;
  };
};

/** Creates the topics that are missing; fails when one is missing and cannot be created. */
async function prepareTopics(
  admin: ReturnType<Kafka["admin"]>,
  { topics, partitions, replicationFactor, user }: {
    topics: string[];
    partitions: number;
    replicationFactor?: number;
    user?: string;
  },
): Promise<void> {
  const { brokers: live } = await admin.describeCluster();
  const replicas = replicationFactor ?? Math.min(3, live.length);
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((topic) => !existing.has(topic));
  if (missing.length === 0) return;
  if (replicas > live.length) {
    throw new UsageError(
      `--replication-factor ${replicas} is more than the ${live.length} broker(s) of the cluster ` +
        `(topics to create: ${missing.join(", ")})`,
    );
  }
  // Not waiting for leaders: on a cluster that has just formed, the broker asked may not know the
  // new partitions yet and the wait fails although the topics exist; the producer retries until
  // their leaders are known.
  const create = (configEntries: typeof CREATED_TOPIC_CONFIG) =>
    admin.createTopics({
      waitForLeaders: false,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: replicas,
        configEntries,
      })),
    });
  try {
    try {
      await create(CREATED_TOPIC_CONFIG);
    } catch (error) {
      // Brokers before Kafka 3.6 do not know the setting (and have no such limit).
      if (protocolErrorType(error) !== "INVALID_CONFIG") throw error;
      await create([]);
    }
    kafkaLog.info(
      `created topics ${missing.join(", ")} (${partitions} partitions, replication factor ${replicas})`,
    );
  } catch (error) {
    // A broker Deno may not connect to is a permission problem, not a missing topic.
    if (/Requires net access/.test(errorMessages(error).join("\n"))) throw error;
    // Another client may have created them meanwhile, or they were created and the broker asked
    // does not list them yet: only a topic still missing after a short wait is a problem.
    const type = protocolErrorType(error);
    const denied = type === "TOPIC_AUTHORIZATION_FAILED" || type === "CLUSTER_AUTHORIZATION_FAILED";
    let absent = missing;
    for (let attempt = 0; attempt < (denied ? 1 : 6) && absent.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 500));
      const listed = new Set(await admin.listTopics());
      absent = missing.filter((topic) => !listed.has(topic));
    }
    if (absent.length === 0) return;
    const reason = denied
      ? `${user ? `user "${user}"` : "this client"} may not create topics (${type})`
      : describeError(error);
    throw new RunError(
      `topic ${absent.join(", ")} does not exist and could not be created: ${reason}; create ` +
        `${absent.length === 1 ? "it" : "them"} (or grant CREATE) and run again`,
    );
  }
}

/** The transport the delivery pipeline drives: one `sendBatch` per request. */
/** The transport over a connected producer (exported for tests). */
export function kafkaTransport(
  producer: Producer,
  { acks, compression, explain, lastProblem, watchFatal }: {
    acks: number;
    compression: CompressionTypes;
    explain: Transport["explain"];
    lastProblem: () => string;
    watchFatal: KafkaClient["watchFatal"];
  },
): Transport {
  return {
    send(records) {
      // KafkaJS retries a connection it may not open (a broker Deno's permissions leave out,
      // learned from metadata) for as long as its retries last: the client's log says why at
      // once, and that ends the request.
      return new Promise<void>((resolve, reject) => {
        const stop = watchFatal(reject);
        producer.sendBatch({ acks, compression, topicMessages: byTopic(records) })
          .then(() => resolve(), reject)
          .finally(stop);
      });
    },
    explain,
    lastProblem,
    close: () => producer.disconnect(),
  };
}

function byTopic(records: readonly OutRecord[]): { topic: string; messages: Message[] }[] {
  const topics = new Map<string, Message[]>();
  for (const record of records) {
    let messages = topics.get(record.topic);
    if (messages === undefined) topics.set(record.topic, messages = []);
    messages.push({
      key: record.key,
      value: record.value,
      timestamp: String(record.timestampMs),
      headers: record.headers as IHeaders | undefined,
    });
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/** What a client error means, in one line, and whether retrying can help. */
function explainError(
  error: unknown,
  { where, topics, security, idempotent }: { where: string; topics: string[]; security: Security; idempotent: boolean },
): { final: boolean; message: string; exitError?: ExitError } {
  const message = describeError(error);
  const user = security.sasl ? `user "${security.sasl.username}"` : "this client";
  if (error instanceof UsageError || error instanceof RunError || error instanceof PermissionError) {
    return { final: true, message, exitError: error };
  }
  const denied = /Requires net access to "([^"]+)"/.exec(errorMessages(error).join("\n"));
  if (denied) {
    const exitError = explainConnectionProblem(denied[0], where, security);
    return { final: true, message, exitError };
  }
  if (errorName(error) === "KafkaJSSASLAuthenticationError") {
    return {
      final: true,
      message,
      exitError: new RunError(
        `${where} rejected the ${security.sasl?.mechanism ?? "SASL"} login of ${user}: check KAFKA_SASL_USERNAME ` +
          "and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)",
      ),
    };
  }
  const type = protocolErrorType(error);
  switch (type) {
    case "TOPIC_AUTHORIZATION_FAILED":
      return {
        final: true,
        message: `${where} denied ${user} writing to ${
          topics.join(", ")
        } (${type}): grant it WRITE and DESCRIBE on them`,
      };
    case "CLUSTER_AUTHORIZATION_FAILED":
      return {
        final: true,
        message: `${where} denied ${user} ${idempotent ? "the idempotent producer" : "access"} (${type}): ` +
          (idempotent ? "grant it IDEMPOTENT_WRITE on the cluster, or run with --no-idempotent" : "check its ACLs"),
      };
    case "SASL_AUTHENTICATION_FAILED":
      return { final: true, message: `${where} rejected the login of ${user} (${type})` };
    case "INVALID_TIMESTAMP":
      return {
        final: true,
        message: "the broker rejected record timestamps as too far ahead of its clock (simulated time runs ahead " +
          "of it at --speed above 1): raise the topics' message.timestamp.after.max.ms (Kafka 4 defaults to 1 h), " +
          "lower --speed, or let factory-sim create the topics",
      };
    case "MESSAGE_TOO_LARGE":
    case "RECORD_LIST_TOO_LARGE":
    case "INVALID_RECORD":
    case "UNSUPPORTED_COMPRESSION_TYPE":
    case "INVALID_REQUIRED_ACKS":
    case "POLICY_VIOLATION":
      return { final: true, message: `the broker rejected the records (${type}): ${message}` };
  }
  const retriable = (error as { retriable?: unknown })?.retriable;
  return { final: retriable === false && type !== undefined, message };
}
