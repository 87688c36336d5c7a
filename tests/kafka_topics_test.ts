/** The topics a producer prepares (lib/kafka/_topics.ts): which requests it makes, against a fake admin client. */
import assert from "node:assert/strict";
import type { Admin } from "kafkajs";
import { prepareTopics } from "../lib/kafka/_topics.ts";

/** An admin client with `topics` and `brokers` brokers that records the calls made to it. */
function fakeAdmin(topics: string[], brokers = 1) {
  const calls: string[] = [];
  const created: { topic: string; replicationFactor?: number }[] = [];
  const admin = {
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
      created.push(...wanted);
      return Promise.resolve(true);
    },
  };
  return { admin: admin as unknown as Admin, calls, created };
}

Deno.test("a run into existing topics lists them once and does not describe the cluster", async () => {
  const { admin, calls } = fakeAdmin(["a", "b", "other"]);
  await prepareTopics(admin, { topics: ["a", "b", "a"], partitions: 3 });
  assert.deepEqual(calls, ["listTopics"]);
});

Deno.test("missing topics are created with the cluster's brokers counted for the replication factor", async () => {
  const { admin, calls, created } = fakeAdmin(["a"], 2);
  await prepareTopics(admin, { topics: ["a", "b", "b"], partitions: 3 });
  assert.deepEqual(calls, ["listTopics", "describeCluster", "createTopics"]);
  assert.deepEqual(created.map(({ topic, replicationFactor }) => ({ topic, replicationFactor })), [
    { topic: "b", replicationFactor: 2 },
  ]);
});

Deno.test("a replication factor above the cluster's brokers is refused before anything is created", async () => {
  const { admin, calls } = fakeAdmin([], 1);
  await assert.rejects(
    prepareTopics(admin, { topics: ["a"], partitions: 3, replicationFactor: 3 }),
    /--replication-factor 3 is more than the 1 broker\(s\) of the cluster \(topics to create: a\)/,
  );
  assert.deepEqual(calls, ["listTopics", "describeCluster"]);
});
