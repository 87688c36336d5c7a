/**
 * The topics a producer prepares (lib/kafka/_topics.ts): which requests it makes, against a fake
 * admin client; and against the real broker, that asking for a missing topic does not create it.
 */
import assert from "node:assert/strict";
import type { Admin } from "kafkajs";
import { prepareTopics } from "../lib/kafka/_topics.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import { resetLogging, setupLogging } from "../lib/log.ts";
import { BROKERS, endOffsets, ensureBroker, uniqueTopic } from "./_kafka.ts";

/**
 * An admin client with `topics` and `brokers` brokers that records the calls made to it; topics in
 * `hidden` exist but may not be described (TOPIC_AUTHORIZATION_FAILED), as KafkaJS reports it.
 */
function fakeAdmin(topics: string[], brokers = 1, hidden: string[] = [], { createdMeanwhile = false } = {}) {
  const calls: string[] = [];
  const created: { topic: string; replicationFactor?: number }[] = [];
  const refused = (type: string) => Object.assign(new Error(type), { type });
  const admin = {
    fetchTopicMetadata: ({ topics: [topic] }: { topics: string[] }) => {
      calls.push(`fetchTopicMetadata ${topic}`);
      if (hidden.includes(topic)) return Promise.reject(refused("TOPIC_AUTHORIZATION_FAILED"));
      if (!topics.includes(topic)) return Promise.reject(refused("UNKNOWN_TOPIC_OR_PARTITION"));
      return Promise.resolve({ topics: [{ name: topic, partitions: [] }] });
    },
    listTopics: () => {
      calls.push("listTopics");
      return Promise.resolve([...topics]);
    },
    describeCluster: () => {
      calls.push("describeCluster");
      const list = Array.from({ length: brokers }, (_, nodeId) => ({ nodeId, host: "localhost", port: 9092 + nodeId }));
      return Promise.resolve({ brokers: list, controller: 0, clusterId: "fake" });
    },
    createTopics: ({ topics: wanted }: { topics: { topic: string; replicationFactor?: number }[] }) => {
      calls.push("createTopics");
      // KafkaJS resolves false when the topics it could not create already existed.
      if (createdMeanwhile) return Promise.resolve(false);
      created.push(...wanted);
      return Promise.resolve(true);
    },
  };
  return { admin: admin as unknown as Admin, calls, created };
}

Deno.test("a run into existing topics asks for each once, neither lists the cluster's topics nor describes it", async () => {
  const { admin, calls } = fakeAdmin(["a", "b", "other"]);
  await prepareTopics(admin, { topics: ["a", "b", "a"], partitions: 3 });
  assert.deepEqual(calls, ["fetchTopicMetadata a", "fetchTopicMetadata b"]);
});

Deno.test("missing topics are created with the cluster's brokers counted for the replication factor", async () => {
  const { admin, calls, created } = fakeAdmin(["a"], 2);
  await prepareTopics(admin, { topics: ["a", "b", "b"], partitions: 3 });
  assert.deepEqual(calls, ["fetchTopicMetadata a", "fetchTopicMetadata b", "describeCluster", "createTopics"]);
  assert.deepEqual(created.map(({ topic, replicationFactor }) => ({ topic, replicationFactor })), [
    { topic: "b", replicationFactor: 2 },
  ]);
});

Deno.test("topics another client created meanwhile are said to exist, not to have been created by this run", async () => {
  const lines: string[] = [];
  await setupLogging({ level: "info", write: (line) => lines.push(line) });
  try {
    await prepareTopics(fakeAdmin(["a"], 1, [], { createdMeanwhile: true }).admin, {
      topics: ["a", "b"],
      partitions: 3,
    });
    await prepareTopics(fakeAdmin(["a"]).admin, { topics: ["a", "b"], partitions: 3 });
  } finally {
    await resetLogging();
  }
  assert.deepEqual(lines, [
    "info: topic b exists now: another client created it meanwhile, with its own settings\n",
    "info: created topics b (3 partitions, replication factor 1)\n",
  ]);
});

Deno.test("a replication factor above the cluster's brokers is refused before anything is created", async () => {
  const { admin, calls } = fakeAdmin([], 1);
  await assert.rejects(
    prepareTopics(admin, { topics: ["a"], partitions: 3, replicationFactor: 3 }),
    /--replication-factor 3 is more than the 1 broker\(s\) of the cluster \(topics to create: a\)/,
  );
  assert.deepEqual(calls, ["fetchTopicMetadata a", "describeCluster"]);
});

Deno.test("a topic that may not be described is looked up in the cluster's list, as before", async () => {
  const { admin, calls, created } = fakeAdmin(["a"], 1, ["a"]);
  await prepareTopics(admin, { topics: ["a", "b"], partitions: 3 });
  assert.deepEqual(calls, [
    "fetchTopicMetadata a",
    "fetchTopicMetadata b",
    "listTopics",
    "describeCluster",
    "createTopics",
  ]);
  assert.deepEqual(created.map(({ topic }) => topic), ["b"]);
});

Deno.test("against the broker: an existing topic is kept, a missing one created with the partitions asked for", async () => {
  await ensureBroker();
  const kept = uniqueTopic("topics-kept");
  const made = uniqueTopic("topics-made");
  const admin = (await loadKafka("admin")).createKafkaAdmin({ clientId: "test-topics", brokers: [BROKERS] });
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: kept, numPartitions: 1 }] });
    // Asking the broker about `made` first must not create it (with the broker's default partitions).
    await prepareTopics(admin, { topics: [kept, made], partitions: 4 });
    assert.equal((await endOffsets(kept, BROKERS)).size, 1);
    assert.equal((await endOffsets(made, BROKERS)).size, 4);
    await admin.deleteTopics({ topics: [kept, made] });
  } finally {
    await admin.disconnect();
  }
});
