/**
 * The check of records in doubt (lib/kafka/doubt.ts) against a fake KafkaJS client: the cases a
 * real broker shows only now and then, such as a group coordinator still loading on a new cluster.
 */
import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { findWritten } from "../lib/kafka/doubt.ts";
import type { OutRecord } from "../lib/messages.ts";

const TOPIC = "SENSOR_HEARTBEAT";
const record = (n: number): OutRecord => ({
  topic: TOPIC,
  key: "S1-1",
  value: `{"n":${n}}`,
  timestampMs: 1_000 + n,
  headers: { "message-type": "factory-sim.heartbeat.v1" },
});

/** A one-partition topic holding `written`; each consumer's `run` fails with `crashes[i]` first, when given. */
function fakeKafka(written: OutRecord[], crashes: (string | undefined)[]) {
  const made = { consumers: 0, disconnected: 0, deleted: [] as string[] };
  const messages = written.map((r, offset) => ({
    offset: String(offset),
    key: r.key,
    value: r.value,
    timestamp: String(r.timestampMs),
    headers: { ...r.headers },
  }));
  const admin = {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    fetchTopicMetadata: () => Promise.resolve({ topics: [{ name: TOPIC, partitions: [{ partitionId: 0 }] }] }),
    fetchTopicOffsetsByTimestamp: () => Promise.resolve([{ partition: 0, offset: "0" }]),
    fetchTopicOffsets: () =>
      Promise.resolve([{ partition: 0, offset: String(messages.length), high: String(messages.length), low: "0" }]),
    deleteGroups: (ids: string[]) => (made.deleted.push(...ids), Promise.resolve([])),
  };
  const consumer = () => {
    const crash = crashes[made.consumers++];
    let onCrash: (event: { payload: { error: unknown } }) => void = () => {};
    let eachBatch: (payload: { batch: unknown }) => Promise<void> = () => Promise.resolve();
    // A consumer that crashed reads nothing more, as in KafkaJS.
    let crashed = false;
    return {
      events: { CRASH: "consumer.crash" },
      connect: () => Promise.resolve(),
      subscribe: () => Promise.resolve(),
      disconnect: () => (made.disconnected++, Promise.resolve()),
      on: (_event: string, listener: typeof onCrash) => (onCrash = listener, () => {}),
      run: (config: { eachBatch: typeof eachBatch }) => {
        eachBatch = config.eachBatch;
        if (crash) {
          // "wrapped:" is how KafkaJS reports it once its own retries are exhausted: no type, the cause has it.
          const text = crash.includes("AUTHORIZATION")
            ? "Not authorized to access group: Group authorization failed"
            : "This is not the correct coordinator for this group";
          const inner = Object.assign(new Error(text), {
            type: crash.replace("wrapped:", ""),
            retriable: true,
          });
          const error = crash.startsWith("wrapped:")
            ? Object.assign(new Error(inner.message), { name: "KafkaJSNumberOfRetriesExceeded", cause: inner })
            : inner;
          crashed = true;
          setTimeout(() => onCrash({ payload: { error } }), 0);
        }
        return Promise.resolve();
      },
      seek: ({ offset }: { offset: string }) => {
        if (crashed) return;
        const from = messages.slice(Number(offset));
        setTimeout(() =>
          eachBatch({
            batch: {
              topic: TOPIC,
              partition: 0,
              messages: from,
              firstOffset: () => from[0]?.offset ?? null,
              lastOffset: () => from.at(-1)?.offset ?? String(Number(offset) - 1),
            },
          }), 0);
      },
    };
  };
  return { kafka: { admin: () => admin, consumer } as unknown as Kafka, made };
}

const OPTIONS = { clientId: "factory-sim", where: "Kafka at fake:9092", user: "this client", partitionOf: () => 0 };

Deno.test("records in doubt are found in their partition; others are not", async () => {
  const { kafka, made } = fakeKafka([record(1), record(2)], []);
  assert.deepEqual(await findWritten(kafka, [record(1), record(3), record(2)], OPTIONS), [true, false, true]);
  assert.equal(made.consumers, 1);
  assert.equal(made.deleted.length, 1, "the throwaway group is deleted");
});

Deno.test("a group coordinator still loading (a new cluster's first group) is waited for, not taken for a failure", async () => {
  const { kafka, made } = fakeKafka([record(1), record(2)], [
    "COORDINATOR_LOAD_IN_PROGRESS",
    "wrapped:NOT_COORDINATOR_FOR_GROUP",
  ]);
  assert.deepEqual(await findWritten(kafka, [record(1), record(2), record(5)], OPTIONS), [true, true, false]);
  assert.equal(made.consumers, 3, "a new consumer each attempt");
  assert.equal(made.disconnected, 3, "every consumer left");
});

Deno.test("any other error ends the check with one line (the records are then sent again)", async () => {
  const { kafka } = fakeKafka([record(1)], ["GROUP_AUTHORIZATION_FAILED"]);
  await assert.rejects(
    findWritten(kafka, [record(1)], OPTIONS),
    /denied this client the consumer group "factory-sim-doubt-[0-9a-f-]+" \(GROUP_AUTHORIZATION_FAILED\)/,
  );
});
