/**
 * The producer side of the Kafka layer: a KafkaJS producer on the client of `client.ts`, behind
 * the delivery pipeline's `Transport` (`sinks/delivery.ts`). It connects (with SASL and TLS when
 * asked), creates the topics, sends requests and says in one line what a producer error means.
 * Loaded through `load.ts`, after the patches.
 */
import {
  type CompressionTypes,
  type ICustomPartitioner,
  type IHeaders,
  type Message,
  Partitioners,
  type PartitionMetadata,
  type Producer,
} from "kafkajs";
import { describeError, type ExitError, PermissionError, RunError, UsageError } from "../errors.ts";
import { log } from "../log.ts";
import { quoted } from "../text.ts";
import type { OutRecord } from "../messages.ts";
import type { Security } from "../security.ts";
import type { Transport } from "../sinks/delivery.ts";
import {
  connectWithin,
  createKafkaClient,
  errorMessages,
  errorName,
  explainConnectionProblem,
  type KafkaClient,
  protocolErrorType,
} from "./client.ts";
import { ACKS, type Acks, CODEC_IDS, type Compression, type History } from "./settings.ts";
import { isAddedCodec, loadCodec } from "./codecs.ts";
import { prepareTopics } from "./_topics.ts";
import { findWritten } from "./doubt.ts";
import { askNoTopicsUntilSending, describingBrokersOnly, withCluster } from "./_metadata.ts";

const kafkaLog = log("kafka");

/** How to reach Kafka and how to produce. */
export interface ConnectProducerOptions {
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
  /**
   * A backfill's history (its oldest timestamp and now): the topics the sink creates keep it, and
   * existing topics that would delete it are warned about (`_topics.ts`).
   */
  history?: History;
  security?: Security;
  /**
   * False: another client of the run prepares the topics (the first worker, in a run with
   * `--workers`), so this one neither creates nor checks them. Default true.
   */
  prepareTopics?: boolean;
}

/**
 * Connects a producer to `brokers`, creates the missing topics and returns the transport the
 * delivery pipeline drives over it. Throws a
 * one-line `RunError` when no broker answers within `connectTimeoutMs`, the login or the TLS
 * handshake fails, or the topics cannot be used; `PermissionError` when Deno may not connect.
 */
export async function connectProducer(options: ConnectProducerOptions): Promise<Transport> {
  return (await connectProducers({ ...options, producers: 1 })).transports[0];
}

/** Producers of one client, one transport each, and the lane (producer) of each key. */
export interface ProducerLanes {
  transports: Transport[];
  /**
   * The lane of `key`, 0 to `transports.length - 1`: murmur2 of the key modulo the lanes (as
   * Kafka's partitioners place keys), so when the lanes divide a topic's partitions each lane
   * owns the partitions `p` with `p mod lanes = lane`.
   */
  laneOf(key: string): number;
}

/**
 * Connects `producers` idempotent producers (each with its own connections and producer id, one
 * request in flight each) on one client, after creating the missing topics once; as
 * `connectProducer` otherwise.
 */
export async function connectProducers(
  options: ConnectProducerOptions & { producers: number },
): Promise<ProducerLanes> {
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
    history,
    security = { protocol: "PLAINTEXT" },
    producers: count,
    prepareTopics: prepare = true,
  } = options;
  const client = createKafkaClient({ clientId, brokers, security, connectTimeoutMs });
  const { kafka, where, problems, watchFatal } = client;
  // The admin client's description of the brokers, and each producer's metadata before its first
  // send, ask for no topic: KafkaJS's ask for every topic of the cluster (_metadata.ts).
  const made = withCluster(kafka, () => kafka.admin());
  const admin = describingBrokersOnly(made.client, made.cluster);
  const producers = Array.from({ length: count }, () => {
    const { client: producer, cluster } = withCluster(kafka, () =>
      kafka.producer({
        idempotent,
        maxInFlightRequests: 1,
        createPartitioner: cachedKeyPartitioner,
        allowAutoTopicCreation: true,
        // Retriable failures (a broker down, a leader moving) are retried for as long as it takes:
        // the pipeline spools meanwhile. Retrying the same request keeps its sequence numbers, so
        // the idempotent producer cannot write it twice.
        retry: { initialRetryTime: 250, maxRetryTime: 5_000, retries: Number.MAX_SAFE_INTEGER },
      }));
    askNoTopicsUntilSending(cluster);
    return producer;
  });

  // The codec loads beside the connection, so the first request does not wait for it.
  const codec = isAddedCodec(compression) ? loadCodec(compression) : undefined;
  codec?.catch(() => {}); // awaited below, once connected
  const topicsReady = (async () => {
    if (!prepare) return;
    await admin.connect();
    try {
      await prepareTopics(admin, { topics, partitions, replicationFactor, user: security.sasl?.username, history });
    } finally {
      await admin.disconnect();
    }
  })();
  // The producers connect meanwhile: their connections, and their producer ids when idempotent, do
  // not depend on the topics (they ask for their metadata when they first send). A failure of the
  // topics is the one reported, at once, as when the two ran in turn; the producers' waits for it.
  const producersReady = Promise.all(producers.map((producer) => producer.connect()));
  producersReady.catch(() => {});
  const attempt = topicsReady.then(() => producersReady).then(() => codec);
  await connectWithin(client, attempt, {
    timeoutMs: connectTimeoutMs,
    signal,
    cleanUp: () => Promise.allSettled([admin.disconnect(), ...producers.map((producer) => producer.disconnect())]),
    explain: (error) => {
      const explained = explainError(error, { where, topics, security, idempotent });
      return explained.exitError ?? (explained.final ? new RunError(`${where}: ${explained.message}`) : undefined);
    },
  });
  kafkaLog.info(`connected to ${where}` + (count > 1 ? ` (${count} producers)` : ""));
  const partitioner = cachedKeyPartitioner();
  const partitionOf = (topic: string, key: string, partitionMetadata: PartitionMetadata[]) =>
    partitioner({ topic, partitionMetadata, message: { key, value: null } });
  const user = security.sasl ? `user ${quoted(security.sasl.username)}` : "this client";
  const transports = producers.map((producer) =>
    kafkaTransport(producer, {
      acks: ACKS[acks],
      compression: CODEC_IDS[compression] as CompressionTypes,
      explain: (error) => explainError(error, { where, topics, security, idempotent }),
      lastProblem: () => describeProblem(problems.last, topics),
      watchFatal,
      findWritten: (records) => findWritten(kafka, records, { clientId, where, user, partitionOf }),
    })
  );
  return { transports, laneOf: keyLanes(count) };
}

/**
 * The lane of each key among `lanes`: KafkaJS's default partitioner over `lanes` partitions
 * (murmur2 of the key, positive, modulo), remembered per key.
 */
export function keyLanes(lanes: number): (key: string) => number {
  if (lanes === 1) return () => 0;
  const partitioner = cachedKeyPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from(
    { length: lanes },
    (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }),
  );
  return (key) => partitioner({ topic: "", partitionMetadata, message: { key, value: null } });
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

/**
 * The transport the delivery pipeline drives over a connected producer: one `sendBatch` per
 * request (exported for tests).
 */
export function kafkaTransport(
  producer: Producer,
  { acks, compression, explain, lastProblem, watchFatal, findWritten }: {
    acks: number;
    compression: CompressionTypes;
    explain: Transport["explain"];
    lastProblem: () => string;
    watchFatal: KafkaClient["watchFatal"];
    /** Which records of an earlier run Kafka holds already (`doubt.ts`). */
    findWritten: Transport["findWritten"];
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
    findWritten,
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
      // An EncodedValue (lib/json_bytes.ts) reaches the record encoder (_record.ts), which writes
      // its bytes; a KafkaJS running without the patches writes `String(value)`: the same text.
      value: record.value as string | Buffer,
      // A number, though KafkaJS's type says a string: its produce request sorts them with
      // Array#sort (as strings either way) and subtracts them, and the patched request compares
      // numbers without making a string of each (_produce_request.ts).
      timestamp: record.timestampMs as unknown as string,
      headers: record.headers as IHeaders | undefined,
    });
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * The client's last problem as the delivery warnings show it. A topic deleted while the run writes
 * (and not created again: the broker does not auto-create it) leaves KafkaJS retrying with the
 * broker's "does not host this topic-partition"; that names neither the topic nor the cause.
 */
export function describeProblem(problem: string, topics: readonly string[]): string {
  if (!/does not host this topic-partition/i.test(problem)) return problem;
  const which = topics.length === 1
    ? `topic ${quoted(topics[0])}`
    : `a topic of ${topics.map((t) => quoted(t)).join(", ")}`;
  return `${which} does not exist on the cluster any more (UNKNOWN_TOPIC_OR_PARTITION): deleted while the run ` +
    "writes? factory-sim creates its topics only when a run starts";
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
