/**
 * Metadata requests that ask for no topics (lib/kafka/_metadata.ts): their bytes, and a real
 * broker's answer to a producer's first metadata and to the admin client's description of the
 * cluster.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { installKafkaPatches } from "../lib/kafka/patches.ts";
import {
  askNoTopicsUntilSending,
  describingBrokersOnly,
  type KafkaJsCluster,
  NO_TOPICS,
  withCluster,
} from "../lib/kafka/_metadata.ts";
import { BROKERS, consumeAllText, ensureBroker, uniqueTopic } from "./_kafka.ts";

const require = createRequire(import.meta.url);
// Before KafkaJS loads, as the product does.
const installed = installKafkaPatches();
const { Kafka, logLevel } = require("kafkajs") as typeof import("kafkajs");

type Request = (args: { topics: readonly string[]; allowAutoTopicCreation?: boolean }) => {
  apiVersion: number;
  encode(): Promise<{ buffer: Uint8Array }>;
};

const requestPath = (version: number) =>
  require.resolve(`kafkajs/src/protocol/requests/metadata/v${version}/request.js`);

/**
 * KafkaJS's own Metadata request of `version`, loaded fresh with the versions it builds on (the
 * require cache holds the patched ones, and puts them back after).
 */
function stockRequest(version: number): Request {
  const saved = new Map([1, 2, 3, 4, 5, 6].map((v) => [requestPath(v), require.cache[requestPath(v)]]));
  for (const path of saved.keys()) delete require.cache[path];
  try {
    return require(requestPath(version)) as Request;
  } finally {
    for (const [path, entry] of saved) {
      if (entry) require.cache[path] = entry;
      else delete require.cache[path];
    }
  }
}

const patched = (version: number) => require(requestPath(version)) as Request;

Deno.test("NO_TOPICS is written as an empty list, every other list as KafkaJS writes it", async () => {
  assert.equal(installed.metadataNoTopics, true);
  for (let version = 1; version <= 6; version++) {
    const stock = stockRequest(version);
    const ours = patched(version);
    assert.notEqual(ours, stock, `v${version} is the patched request`);
    for (const topics of [[], ["a"], ["readings", "heartbeats", "é"]]) {
      for (const allowAutoTopicCreation of [true, false]) {
        const args = { topics, allowAutoTopicCreation };
        assert.deepEqual((await ours(args).encode()).buffer, (await stock(args).encode()).buffer, `v${version}`);
      }
    }
    // Kafka's "no topics": an array of length 0 (KafkaJS writes -1, null: every topic).
    for (const allowAutoTopicCreation of [true, false]) {
      const request = ours({ topics: NO_TOPICS, allowAutoTopicCreation });
      assert.equal(request.apiVersion, version);
      const expected = version >= 4 ? [0, 0, 0, 0, allowAutoTopicCreation ? 1 : 0] : [0, 0, 0, 0];
      assert.deepEqual([...(await request.encode()).buffer], expected, `v${version}`);
      assert.deepEqual(
        [...(await stock({ topics: [], allowAutoTopicCreation }).encode()).buffer].slice(0, 4),
        [255, 255, 255, 255],
      );
    }
  }
});

interface Internals {
  brokerPool: { metadata?: { topicMetadata: { topic: string }[] } };
}
const topicsKnown = (cluster: KafkaJsCluster | undefined) =>
  (cluster as unknown as Internals).brokerPool.metadata?.topicMetadata.map(({ topic }) => topic);

Deno.test("a producer's first metadata and the admin client's brokers ask for no topic of the cluster", async () => {
  await ensureBroker();
  const topic = uniqueTopic("metadata");
  const kafka = new Kafka({ brokers: [BROKERS], logLevel: logLevel.NOTHING, clientId: "metadata-test" });
  const made = withCluster(kafka, () => kafka.admin());
  assert.ok(made.cluster, "the admin client's cluster is found");
  const admin = describingBrokersOnly(made.client, made.cluster);
  await admin.connect();
  const stockAdmin = kafka.admin();
  await stockAdmin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }] });
    // KafkaJS's own: every topic of the cluster (this one among them).
    const stock = withCluster(kafka, () => kafka.producer({ idempotent: true, maxInFlightRequests: 1 }));
    await stock.client.connect();
    assert.ok(topicsKnown(stock.cluster)?.includes(topic), "KafkaJS's own producer fetched every topic");
    await stock.client.disconnect();

    const { brokers } = await admin.describeCluster();
    assert.deepEqual(brokers, (await stockAdmin.describeCluster()).brokers);
    assert.ok(brokers.length >= 1);
    assert.deepEqual(topicsKnown(made.cluster), [], "the admin client asked for no topic");

    const { client: producer, cluster } = withCluster(
      kafka,
      () => kafka.producer({ idempotent: true, maxInFlightRequests: 1 }),
    );
    askNoTopicsUntilSending(cluster);
    await producer.connect();
    try {
      assert.deepEqual(topicsKnown(cluster), [], "the producer's first metadata named no topic");
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: "S1-1", value: "one" }, { key: "S2-1", value: "two" }],
      });
      // Sending, it asks for its topic, and only for it.
      assert.deepEqual(topicsKnown(cluster), [topic]);
    } finally {
      await producer.disconnect();
    }
    const landed = await consumeAllText(topic);
    assert.deepEqual(landed.map(({ value }) => value).sort(), ["one", "two"]);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
    await stockAdmin.disconnect();
  }
});

Deno.test("a KafkaJS whose Kafka makes clusters another way: the clients as KafkaJS makes them", () => {
  const kafka = new Kafka({ brokers: [BROKERS], logLevel: logLevel.NOTHING });
  for (const symbol of Object.getOwnPropertySymbols(kafka)) {
    if (symbol.description === "private:Kafka:createCluster") {
      delete (kafka as unknown as Record<symbol, unknown>)[symbol];
    }
  }
  const made = withCluster(kafka, () => "client");
  assert.deepEqual(made, { client: "client", cluster: undefined });
  askNoTopicsUntilSending(undefined);
  const admin = { describeCluster: () => "KafkaJS's" } as unknown as import("kafkajs").Admin;
  assert.equal(describingBrokersOnly(admin, undefined), admin);
});
