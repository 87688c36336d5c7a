/**
 * A patch of KafkaJS (installed by `patches.ts`), and its two users: Metadata requests that ask
 * for no topics.
 *
 * Kafka answers a Metadata request (v1 and later) whose topic list is null with every topic of the
 * cluster, and one whose list is empty with none: the brokers and the controller only. KafkaJS
 * writes an empty list as null (src/protocol/encoder.js: "empty array and null are the same
 * thing"), so the two requests of a run's start that need only the brokers fetched the metadata of
 * the whole cluster, an answer that grows with every topic and partition of it:
 *
 * - the idempotent producer's first metadata, before it asks for its producer id (it needs the
 *   controller, and names no topic until it first sends);
 * - the admin client's `describeCluster` (the run needs the number of brokers, for the replication
 *   factor of the topics it creates).
 *
 * `NO_TOPICS` is the one list the patched requests write as empty. Every other empty list keeps
 * KafkaJS's meaning, every topic (`listTopics`, a consumer's regex subscription); and where the
 * patch is not installed `NO_TOPICS` is an empty list like any other, so KafkaJS asks for every
 * topic, as it always did.
 */
import type { Admin, Kafka } from "kafkajs";
import { kafkaJs, type KafkaJsEncoder } from "./_kafkajs.ts";

/** The topic list the patched Metadata requests write as empty: no topic's metadata, only the brokers'. */
export const NO_TOPICS: readonly string[] = Object.freeze([]);

/** A request as KafkaJS's `protocol/requests/metadata/vN/request.js` make it. */
interface MetadataRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  encode(): Promise<KafkaJsEncoder>;
}

/** KafkaJS's Metadata request of versions 1 to 3 (v2 and v3 are v1's with another version). */
export type MetadataRequestV1 = (args: { topics: readonly string[] }) => MetadataRequest;
/** KafkaJS's Metadata request of versions 4 to 6 (v5 and v6 are v4's with another version). */
export type MetadataRequestV4 = (
  args: { topics: readonly string[]; allowAutoTopicCreation?: boolean },
) => MetadataRequest;

/** v1's request, writing `NO_TOPICS` as an empty list: `topics => [STRING]`. */
export function metadataRequestV1(original: MetadataRequestV1): MetadataRequestV1 {
  return (args) => {
    const request = original(args);
    if (args.topics !== NO_TOPICS) return request;
    return { ...request, encode: () => Promise.resolve(new (kafkaJs().Encoder)().writeInt32(0)) };
  };
}

/** v4's request, writing `NO_TOPICS` as an empty list: `topics => [STRING] allow_auto_topic_creation => BOOLEAN`. */
export function metadataRequestV4(original: MetadataRequestV4): MetadataRequestV4 {
  return (args) => {
    const request = original(args);
    if (args.topics !== NO_TOPICS) return request;
    const allow = args.allowAutoTopicCreation ?? true;
    return {
      ...request,
      encode: () => Promise.resolve(new (kafkaJs().Encoder)().writeInt32(0).writeInt8(allow ? 1 : 0)),
    };
  };
}

/** The brokers of a Metadata answer, as KafkaJS decodes them. */
interface MetadataBroker {
  nodeId: number;
  host: string;
  port: number;
}

/** What this module uses of the cluster KafkaJS makes for each client (src/cluster/index.js). */
export interface KafkaJsCluster {
  targetTopics: Set<string>;
  brokerPool: {
    refreshMetadata(topics: readonly string[]): Promise<void>;
    refreshMetadataIfNecessary(topics: readonly string[]): Promise<void>;
  };
  refreshMetadata(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  metadata(
    args: { topics: readonly string[] },
  ): Promise<{ brokers: MetadataBroker[]; clusterId: string; controllerId: number | null }>;
}

/** The description of the private property KafkaJS's `Kafka` makes each client's cluster with (src/index.js). */
const CREATE_CLUSTER = "private:Kafka:createCluster";

/**
 * Makes a client of `kafka` with `make` (`() => kafka.producer(...)`, `() => kafka.admin()`) and
 * returns it with the cluster KafkaJS made for it; the cluster is undefined when KafkaJS does not
 * make one the way this knows (another release), and the client is then the same.
 */
export function withCluster<T>(kafka: Kafka, make: () => T): { client: T; cluster: KafkaJsCluster | undefined } {
  const holder = kafka as unknown as Record<symbol, unknown>;
  const key = Object.getOwnPropertySymbols(holder).find((symbol) => symbol.description === CREATE_CLUSTER);
  const create = key === undefined ? undefined : holder[key];
  if (key === undefined || typeof create !== "function") return { client: make(), cluster: undefined };
  let made: unknown;
  holder[key] = (...args: unknown[]) => made = create.apply(kafka, args);
  try {
    const client = make();
    return { client, cluster: isCluster(made) ? made : undefined };
  } finally {
    holder[key] = create;
  }
}

function isCluster(value: unknown): value is KafkaJsCluster {
  const cluster = value as Partial<KafkaJsCluster> | undefined;
  return cluster?.targetTopics instanceof Set && typeof cluster.refreshMetadata === "function" &&
    typeof cluster.refreshMetadataIfNecessary === "function" && typeof cluster.metadata === "function" &&
    typeof cluster.brokerPool?.refreshMetadata === "function" &&
    typeof cluster.brokerPool.refreshMetadataIfNecessary === "function";
}

/**
 * Has a producer's cluster ask for no topic's metadata while it has no topic to send to (its
 * first metadata, before its producer id), instead of every topic's. Once the producer sends, its
 * topics are its cluster's targets and KafkaJS asks for them, as before.
 */
export function askNoTopicsUntilSending(cluster: KafkaJsCluster | undefined): void {
  if (!cluster) return;
  const { refreshMetadata, refreshMetadataIfNecessary } = cluster;
  cluster.refreshMetadata = function () {
    return this.targetTopics.size === 0 ? this.brokerPool.refreshMetadata(NO_TOPICS) : refreshMetadata.call(this);
  };
  cluster.refreshMetadataIfNecessary = function () {
    return this.targetTopics.size === 0
      ? this.brokerPool.refreshMetadataIfNecessary(NO_TOPICS)
      : refreshMetadataIfNecessary.call(this);
  };
}

/**
 * `admin` with a `describeCluster` that asks for no topic's metadata (KafkaJS's asks for every
 * topic's), when its cluster is known; `admin` itself otherwise.
 */
export function describingBrokersOnly(admin: Admin, cluster: KafkaJsCluster | undefined): Admin {
  if (!cluster) return admin;
  return {
    ...admin,
    describeCluster: async () => {
      const { brokers, clusterId, controllerId } = await cluster.metadata({ topics: NO_TOPICS });
      return {
        brokers: brokers.map(({ nodeId, host, port }) => ({ nodeId, host, port })),
        controller: controllerId === null || controllerId < 0 ? null : controllerId,
        clusterId,
      };
    },
  };
}
