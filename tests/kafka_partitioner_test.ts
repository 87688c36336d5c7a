import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import { cachedKeyPartitioner } from "../lib/kafka/producer.ts";

const metadata = (count: number, down: number[] = []) =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: down.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

Deno.test("the cached partitioner puts every key where KafkaJS's default (Java's murmur2) does", () => {
  const cached = cachedKeyPartitioner();
  const stock = Partitioners.DefaultPartitioner();
  for (const count of [1, 3, 6, 7, 3]) {
    for (let round = 0; round < 2; round++) {
      for (let f = 1; f <= 60; f++) {
        for (let s = 1; s <= 5; s++) {
          const args = {
            topic: "T",
            partitionMetadata: metadata(count, [1]),
            message: { key: `S${f}-${s}`, value: "" },
          };
          assert.equal(cached(args), stock(args), `S${f}-${s} with ${count} partitions`);
        }
      }
    }
  }
  // An explicit partition wins, as with the default.
  const explicit = { topic: "T", partitionMetadata: metadata(3), message: { key: "S1-1", value: "", partition: 2 } };
  assert.equal(cached(explicit), 2);
});
