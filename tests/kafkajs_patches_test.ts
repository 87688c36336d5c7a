import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import process from "node:process";
// Loads the patches before KafkaJS, as the product does.
import { connectKafkaSink } from "../lib/sinks/kafka.ts";
import {
  crc32c,
  encodeRecord,
  groupMessagesPerPartition,
  linearGroupingInstalled,
  type ProduceMessage,
  produceRequest,
  type ProduceRequestArgs,
  type RecordArgs,
  replacedModules,
} from "../lib/kafkajs_patches.ts";
import { Rng } from "../lib/random.ts";
import { BROKERS, consumeAll, ensureBroker, uniqueTopic } from "./_kafka.ts";

const require = createRequire(import.meta.url);

/** KafkaJS's own groupMessagesPerPartition, evaluated from its source (the require cache holds ours). */
function stockGrouping(): typeof groupMessagesPerPartition {
  const path = require.resolve("kafkajs/src/producer/groupMessagesPerPartition.js");
  const module = { exports: {} as unknown };
  new Function("module", "exports", Deno.readTextFileSync(path))(module, module.exports);
  return module.exports as typeof groupMessagesPerPartition;
}

Deno.test("linear grouping by partition gives what KafkaJS's quadratic one gives", () => {
  const stock = stockGrouping();
  const rng = new Rng(3);
  for (const partitions of [0, 1, 3, 7]) {
    const partitionMetadata = Array.from({ length: partitions }, (_, id) => ({ partitionId: id }));
    const messages = Array.from({ length: 500 }, (_, i) => ({ key: `k${rng.int(0, 40)}`, value: String(i) }));
    const partitioner = ({ message }: { message: { key: string } }) => Number(message.key.slice(1)) % partitions;
    const args = { topic: "T", partitionMetadata, messages, partitioner };
    const ours = groupMessagesPerPartition(args);
    assert.deepEqual(ours, stock(args));
    assert.deepEqual(Object.keys(ours), Object.keys(stock(args)));
  }
});

Deno.test("KafkaJS uses the linear grouping, and sends what it is given", async () => {
  assert.equal(linearGroupingInstalled, true);
  const path = require.resolve("kafkajs/src/producer/groupMessagesPerPartition.js");
  assert.equal(require.cache[path]?.exports, groupMessagesPerPartition);
  await ensureBroker();
  const topic = uniqueTopic("grouping");
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on("warning", onWarning);
  try {
    const sink = await connectKafkaSink({ brokers: [BROKERS], topics: [topic], connectTimeoutMs: 10_000 });
    const records = Array.from({ length: 3_000 }, (_, i) => ({
      topic,
      key: `S${i % 50}-1`,
      value: JSON.stringify({ i }),
      timestampMs: Date.now(),
    }));
    await sink.write(records);
    await sink.close();
    const landed = await consumeAll(topic);
    assert.equal(landed.length, 3_000);
    // Per key, in the order sent.
    for (let k = 0; k < 50; k++) {
      const values = landed.filter((record) => record.key === `S${k}-1`).map((record) => record.value.i as number);
      assert.deepEqual(values, values.toSorted((a, b) => a - b));
      assert.equal(values.length, 60);
    }
  } finally {
    process.off("warning", onWarning);
  }
  // KafkaJS's throttle check asked for a negative timeout before the clamp: Deno warned on stderr.
  assert.deepEqual(warnings.filter((warning) => warning.startsWith("TimeoutNegativeWarning")), []);
});

/** KafkaJS's own module at `path`, loaded fresh (the require cache holds the replacement). */
function stockModule<T>(specifier: string): T {
  const path = require.resolve(specifier);
  const ours = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as T;
  } finally {
    require.cache[path] = ours;
  }
}

Deno.test("records are encoded byte for byte as KafkaJS encodes them", () => {
  assert.deepEqual(replacedModules, {
    groupMessagesPerPartition: true,
    record: true,
    crc32C: true,
    produceRequest: true,
  });
  const stock = stockModule<(args: RecordArgs) => { buffer: Uint8Array }>(
    "kafkajs/src/protocol/recordBatch/record/v0/index.js",
  );
  const rng = new Rng(9);
  const text = (n: number) => Array.from({ length: n }, () => 'aZ9é€😀{}"'.charAt(rng.int(0, 8))).join("");
  const shared = Object.freeze({ "content-type": "application/json", "message-type": "factory-sim.reading.v1" });
  const cases: RecordArgs[] = [
    {},
    { key: null, value: null },
    { key: "S1-1", value: '{"reading":42}', headers: shared, offsetDelta: 3, timestampDelta: 1_500 },
    { key: "S1-1", value: '{"reading":43}', headers: shared, offsetDelta: 4, timestampDelta: -20 },
    { key: Buffer.from([0, 1, 2]), value: Buffer.alloc(0), headers: { a: ["x", "y"], b: Buffer.from("z") } },
    { key: "", value: "x".repeat(70_000), offsetDelta: 70_000, timestampDelta: 2 ** 40 },
  ];
  for (let i = 0; i < 300; i++) {
    cases.push({
      key: text(rng.int(0, 12)),
      value: text(rng.int(0, 400)),
      headers: rng.int(0, 1) ? shared : { [text(3)]: text(rng.int(0, 20)) },
      offsetDelta: rng.int(0, 5_000),
      timestampDelta: rng.int(-100, 10_000_000),
    });
  }
  for (const args of cases) {
    assert.deepEqual(encodeRecord(args).buffer, stock(args).buffer, JSON.stringify(args).slice(0, 120));
  }
});

Deno.test("CRC-32C eight bytes at a time equals KafkaJS's byte at a time", () => {
  const stock = stockModule<(bytes: Uint8Array) => number>("kafkajs/src/protocol/recordBatch/crc32C/index.js");
  const rng = new Rng(4);
  for (let length = 0; length < 70; length++) {
    const bytes = Buffer.from(Array.from({ length }, () => rng.int(0, 255)));
    assert.equal(crc32c(bytes), stock(bytes), `length ${length}`);
  }
  const large = Buffer.from(Array.from({ length: 100_003 }, () => rng.int(0, 255)));
  assert.equal(crc32c(large), stock(large));
  // The check value of CRC-32C ("123456789").
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
});

Deno.test("produce requests are encoded byte for byte as KafkaJS encodes them", async () => {
  const stock = stockModule<typeof produceRequest>("kafkajs/src/protocol/requests/produce/v3/request.js");
  const Long = require("kafkajs/src/utils/long.js");
  const rng = new Rng(11);
  const text = (n: number) => Array.from({ length: n }, () => 'aZ9é€😀{}"'.charAt(rng.int(0, 8))).join("");
  const shared = Object.freeze({ "message-type": "factory-sim.heartbeat.v1" });
  const base = 1_795_000_000_000;
  const message = (): ProduceMessage => ({
    key: rng.int(0, 9) === 0 ? null : text(rng.int(0, 8)),
    value: rng.int(0, 9) === 0 ? Buffer.from(text(rng.int(0, 50))) : text(rng.int(0, 300)),
    // Strings of several lengths (KafkaJS sorts them as strings), numbers, and none.
    timestamp: [String(base + rng.int(-5_000, 5_000)), base + rng.int(0, 99), null, String(rng.int(0, 999_999))][
      rng.int(0, 3)
    ],
    headers: rng.int(0, 2) === 0 ? shared : rng.int(0, 1) ? undefined : { [text(2)]: [text(3), text(1)] },
  });
  const partitions = (n: number) =>
    Array.from({ length: n }, (_, p) => ({
      partition: p * 3,
      firstSequence: rng.int(0, 2) === 0 ? undefined : rng.int(0, 1_000_000),
      messages: Array.from({ length: rng.int(0, 400) }, message),
    }));
  const cases: ProduceRequestArgs[] = [
    { acks: -1, timeout: 30_000, topicData: [] },
    { acks: 1, timeout: 1_000, topicData: [{ topic: "T", partitions: [{ partition: 0, messages: [] }] }] },
    { acks: 0, timeout: 5, topicData: [{ topic: "T", partitions: [{ partition: 0, messages: [{ value: "x" }] }] }] },
  ];
  for (let i = 0; i < 40; i++) {
    cases.push({
      acks: [-1, 0, 1][rng.int(0, 2)],
      timeout: 30_000,
      transactionalId: rng.int(0, 3) === 0 ? "tx" : undefined,
      producerId: rng.int(0, 1) ? Long.fromValue(rng.int(0, 2 ** 31)) : undefined,
      producerEpoch: rng.int(0, 1) ? rng.int(0, 30) : undefined,
      compression: rng.int(0, 4) === 0 ? 1 : undefined,
      topicData: Array.from(
        { length: rng.int(1, 3) },
        (_, t) => ({ topic: `topic.${t}`, partitions: partitions(rng.int(1, 6)) }),
      ),
    });
  }
  // KafkaJS fills in "now" for a partition without timestamps: both sides must see the same now.
  const realNow = Date.now;
  Date.now = () => base;
  try {
    for (const [i, args] of cases.entries()) {
      const [ours, theirs] = [produceRequest(args), stock(args)];
      assert.deepEqual(
        { apiKey: ours.apiKey, apiVersion: ours.apiVersion, apiName: ours.apiName, expects: ours.expectResponse() },
        {
          apiKey: theirs.apiKey,
          apiVersion: theirs.apiVersion,
          apiName: theirs.apiName,
          expects: theirs.expectResponse(),
        },
      );
      const [a, b] = [(await ours.encode()).buffer, (await theirs.encode()).buffer];
      assert.ok(Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0, `case ${i}: ${a.length} vs ${b.length} bytes`);
    }
  } finally {
    Date.now = realNow;
  }
});
