/**
 * Topics the benchmarks create before a run, so creation is not part of what is timed.
 */
import type { KafkaAdmin } from "../lib/kafka/admin.ts";

/**
 * Creates `names` with `partitions` partitions each and waits until every partition has a leader.
 * Not with KafkaJS's `waitForLeaders`: on the shared broker its wait has met
 * UNKNOWN_TOPIC_OR_PARTITION while an earlier round's topics were being deleted, which it throws
 * from a timer, where nothing catches it.
 */
export async function createTopicsWithLeaders(
  admin: KafkaAdmin,
  names: string[],
  { partitions = 3, configEntries }: { partitions?: number; configEntries?: { name: string; value: string }[] } = {},
): Promise<void> {
  await admin.createTopics({
    topics: names.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1, configEntries })),
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await admin.fetchTopicMetadata({ topics: names }).then(
      ({ topics }) =>
        topics.every(({ partitions: found }) =>
          found.length === partitions && found.every((partition) => partition.leader >= 0)
        ),
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`the topics ${names.join(", ")} got no leaders within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
