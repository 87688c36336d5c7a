/**
 * The topics a producer writes to, created when missing (with the settings accelerated runs need),
 * through KafkaJS's admin client.
 */
import { type Admin, ConfigResourceTypes } from "kafkajs";
import { formatDuration } from "../duration.ts";
import { describeError, RunError, UsageError } from "../errors.ts";
import { log } from "../log.ts";
import { quoted, shown } from "../text.ts";
import { errorMessages, protocolErrorType } from "./client.ts";
import { backfillRetentionMs, type History, RETENTION_MARGIN_MS } from "./settings.ts";

/**
 * Topic settings of the topics the producer creates. Accelerated runs stamp records with simulated
 * time, which runs ahead of the broker's clock; Kafka 4 rejects records more than an hour ahead
 * by default (`message.timestamp.after.max.ms`), so created topics lift that limit.
 */
const CREATED_TOPIC_CONFIG = [{ name: "message.timestamp.after.max.ms", value: "9223372036854775807" }];

/**
 * Creates the topics that are missing; fails when one is missing and cannot be created. With a
 * `history` (a backfill), created topics keep it (`backfillRetentionMs`), and an existing topic
 * whose `retention.ms` is shorter than the age of the oldest record gets a warning.
 */
export async function prepareTopics(
  admin: Admin,
  { topics, partitions, replicationFactor, user, history }: {
    topics: string[];
    partitions: number;
    replicationFactor?: number;
    user?: string;
    history?: History;
  },
): Promise<void> {
  // A topic named twice (one topic for several kinds of record) is created once.
  const wanted = [...new Set(topics)];
  const existing = await existingTopics(admin, wanted);
  const missing = wanted.filter((topic) => !existing.has(topic));
  if (history) await warnShortRetention(admin, wanted.filter((topic) => existing.has(topic)), history);
  if (missing.length === 0) return;
  // The brokers only when a topic is to be created: KafkaJS asks for every topic's metadata to
  // describe the cluster, a round trip (and a large answer on a cluster of many topics) a run
  // into existing topics does without.
  const { brokers: live } = await admin.describeCluster();
  const replicas = replicationFactor ?? Math.min(3, live.length);
  if (replicas > live.length) {
    throw new UsageError(
      `--replication-factor ${replicas} is more than the ${live.length} broker(s) of the cluster ` +
        `(topics to create: ${missing.join(", ")})`,
    );
  }
  // Not waiting for leaders: on a cluster that has just formed, the broker asked may not know the
  // new partitions yet and the wait fails although the topics exist; the producer retries until
  // their leaders are known.
  const retention = history ? [{ name: "retention.ms", value: String(backfillRetentionMs(history)) }] : [];
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
    let created: boolean;
    try {
      created = await create([...CREATED_TOPIC_CONFIG, ...retention]);
    } catch (error) {
      // Brokers before Kafka 3.6 do not know the setting (and have no such limit).
      if (protocolErrorType(error) !== "INVALID_CONFIG") throw error;
      created = await create(retention);
    }
    if (!created) {
      // KafkaJS answers false when every topic it could not create already existed: another
      // client (a run's other shard or gateway) created them since they were looked up.
      const one = missing.length === 1;
      log("kafka").info(
        `${one ? "topic" : "topics"} ${missing.join(", ")} ${one ? "exists" : "exist"} now: another client ` +
          `created ${one ? "it" : "them"} meanwhile, with its own settings`,
      );
      return;
    }
    const kept = history
      ? `, retention.ms ${retention[0].value} (${formatDuration(Number(retention[0].value))}: the backfill's oldest ` +
        `record, ${new Date(history.oldestMs).toISOString()}, plus ${formatDuration(RETENTION_MARGIN_MS)})`
      : "";
    log("kafka").info(
      `created topics ${missing.join(", ")} (${partitions} partitions, replication factor ${replicas}${kept})`,
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

/**
 * Which of `topics` exist, asked of each topic (in parallel): KafkaJS's `listTopics` fetches the
 * metadata of every topic of the cluster, twice, an answer that grows with the cluster (a start
 * spent decoding a thousand topics' partitions). Kafka answers a topic that does not exist with
 * UNKNOWN_TOPIC_OR_PARTITION (the admin client never asks the broker to create it); any other
 * failure (a topic this user may not describe) falls back to the cluster's list, as before.
 */
async function existingTopics(admin: Admin, topics: string[]): Promise<Set<string>> {
  try {
    const found = await Promise.all(topics.map(async (topic) => {
      try {
        await admin.fetchTopicMetadata({ topics: [topic] });
        return topic;
      } catch (error) {
        if (protocolErrorType(error) === "UNKNOWN_TOPIC_OR_PARTITION") return undefined;
        throw error;
      }
    }));
    return new Set(found.filter((topic) => topic !== undefined));
  } catch {
    return new Set(await admin.listTopics());
  }
}

/**
 * Warns about each of `topics` whose `retention.ms` is shorter than the age of the history's
 * oldest record: Kafka deletes those records minutes after they land (at its next retention
 * check). A topic whose settings cannot be read (no DESCRIBE_CONFIGS) is named in a warning too.
 */
async function warnShortRetention(admin: Admin, topics: string[], { oldestMs, nowMs }: History): Promise<void> {
  if (topics.length === 0) return;
  const logger = log("kafka");
  const oldest = new Date(oldestMs).toISOString();
  let described;
  try {
    described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ["retention.ms"] })),
    });
  } catch (error) {
    if (/Requires net access/.test(errorMessages(error).join("\n"))) throw error;
    logger.warn(
      `could not read the retention.ms of ${topics.join(", ")} (${shown(describeError(error))}): check that ` +
        `${topics.length === 1 ? "it keeps" : "they keep"} records from ${oldest}, this backfill's oldest`,
    );
    return;
  }
  for (const resource of described.resources) {
    const value = resource.configEntries.find((entry) => entry.configName === "retention.ms")?.configValue;
    const retentionMs = Number(value);
    if (value === undefined || value === null || !Number.isFinite(retentionMs) || retentionMs < 0) continue;
    if (nowMs - oldestMs <= retentionMs) continue;
    logger.warn(
      `topic ${quoted(resource.resourceName)} keeps records for retention.ms=${retentionMs} ` +
        `(${formatDuration(retentionMs)}), less than the age of this backfill's oldest record, ${oldest}: ` +
        `Kafka will delete what it writes from before ${new Date(nowMs - retentionMs).toISOString()} ` +
        `within minutes; raise the topic's retention.ms to at least ${
          backfillRetentionMs({ oldestMs, nowMs })
        } to keep it`,
    );
  }
}
