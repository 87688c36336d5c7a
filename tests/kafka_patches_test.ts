import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import process from "node:process";
import { crc32c } from "../lib/kafka/_crc32c.ts";
import { groupMessagesPerPartition } from "../lib/kafka/_grouping.ts";
import type { ModuleLoader } from "../lib/kafka/_kafkajs.ts";
import { type ProduceMessage, produceRequest, type ProduceRequestArgs } from "../lib/kafka/_produce_request.ts";
import { encodeRecord, type RecordArgs, sizedEncoder } from "../lib/kafka/_record.ts";
import { type FrameArgs, frameRequest } from "../lib/kafka/_request_frame.ts";
import { installKafkaPatches, type KafkaPatchStatus } from "../lib/kafka/patches.ts";
import { Rng } from "../lib/random.ts";
import { isEncodedValue } from "../lib/json_bytes.ts";
import { JSON_BYTES, JSON_VALUES, type ValueEncoder } from "../lib/messages.ts";
import type { Line } from "../lib/plant.ts";
import type { Heartbeat, Reading } from "../lib/simulation.ts";
import { connectKafkaSink } from "../lib/sinks/kafka.ts";
import { BROKERS, consumeAll, ensureBroker, uniqueTopic } from "./_kafka.ts";

const require = createRequire(import.meta.url);
// Before KafkaJS loads, as the product does (connectKafkaSink would otherwise be first).
const installed = installKafkaPatches();

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
  assert.equal(installed.groupMessagesPerPartition, true);
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
  assert.deepEqual(installed, {
    groupMessagesPerPartition: true,
    record: true,
    crc32C: true,
    produceRequest: true,
    requestFrame: true,
    pendingCheck: true,
    fastVarints: true,
    metadataNoTopics: true,
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
  // A partition's timestamps all numbers, as factory-sim's producer hands them: of thirteen digits
  // (compared as numbers), or of twelve to fourteen (compared as strings, whose order differs:
  // "1000000000005" sorts before "999999999999").
  const numbers = (wide: boolean) => (m: ProduceMessage): ProduceMessage => ({
    ...m,
    timestamp: wide
      ? [999_999_999_999, 1_000_000_000_005, 10_000_000_000_001, base][rng.int(0, 3)]
      : base + rng.int(-5_000, 5_000),
  });
  const partitions = (n: number) =>
    Array.from({ length: n }, (_, p) => {
      const style = rng.int(0, 2);
      const messages = Array.from({ length: rng.int(0, 400) }, message);
      return {
        partition: p * 3,
        firstSequence: rng.int(0, 2) === 0 ? undefined : rng.int(0, 1_000_000),
        messages: style === 0 ? messages : messages.map(numbers(style === 2)),
      };
    });
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

Deno.test("JSON values given as bytes (JSON_BYTES) are encoded as KafkaJS encodes their text, compressed or not", async () => {
  const stock = stockModule<typeof produceRequest>("kafkajs/src/protocol/requests/produce/v3/request.js");
  const base = 1_795_000_000_000;
  const sensor = { sensorId: "S1-1", tier: "1.1" } as Line["sensor"];
  const lines: Line[] = [
    { factoryId: "F1", index: 0, sodaName: "Cola", total: 10, sensor },
    { factoryId: "Fäbrik", index: 1, sodaName: 'say "hi" \u{1F964}', total: 1_000, sensor },
  ];
  const rng = new Rng(12);
  const events = Array.from({ length: 300 }, (_, i): Reading | Heartbeat => {
    const timeMs = base + i * 37;
    const line = lines[i % 2];
    return i % 3 === 0
      ? { kind: "heartbeat", factoryId: "F1", sensorId: `S${i % 7}-1`, tier: "1.1", status: "active", timeMs }
      : {
        kind: "reading",
        factoryId: line.factoryId,
        sensorId: line.sensor.sensorId,
        tier: line.sensor.tier,
        sodaName: line.sodaName,
        reading: Math.round(rng.int(0, 10_000)) / 100,
        count: 1 + (i % line.total),
        total: line.total,
        timeMs,
        line,
      };
  });
  const messages = (encoder: ValueEncoder): ProduceMessage[] =>
    events.map((event) => ({
      key: event.sensorId,
      value: event.kind === "reading" ? encoder.reading(event) : encoder.heartbeat(event as Heartbeat),
      timestamp: String(event.timeMs),
      headers: { "content-type": "application/json" },
    }));
  const asBytes = messages(JSON_BYTES);
  // The first line's names are plain (bytes), the second's are not (text): a request of both.
  assert.ok(asBytes.some((message) => isEncodedValue(message.value)));
  assert.ok(asBytes.some((message) => typeof message.value === "string"));
  for (const compression of [undefined, 1]) {
    const args = (of: ProduceMessage[]): ProduceRequestArgs => ({
      acks: -1,
      timeout: 30_000,
      compression,
      topicData: [{
        topic: "T",
        partitions: [{ partition: 0, messages: of.slice(0, 180) }, {
          partition: 1,
          messages: of.slice(180),
        }],
      }],
    });
    const ours = await produceRequest(args(asBytes)).encode();
    const theirs = await stock(args(messages(JSON_VALUES))).encode();
    assert.ok(Buffer.compare(Buffer.from(ours.buffer), Buffer.from(theirs.buffer)) === 0, `compression ${compression}`);
  }
});

Deno.test("requests are framed byte for byte as KafkaJS frames them", async () => {
  const stock = stockModule<typeof frameRequest>("kafkajs/src/protocol/request.js");
  const Encoder = require("kafkajs/src/protocol/encoder.js");
  const rng = new Rng(13);
  const body = (n: number) => {
    const bytes = Uint8Array.from({ length: n }, () => rng.int(0, 255));
    // KafkaJS's own growing encoder (room past its bytes), and an exactly sized one.
    if (rng.int(0, 1)) return new Encoder().writeBuffer(Buffer.from(bytes));
    const exact = sizedEncoder(n);
    exact.buf.set(bytes);
    exact.offset = n;
    return exact;
  };
  for (const clientId of [null, "", "factory-sim", "fábrica-😀", "x".repeat(300)]) {
    for (const n of [0, 1, 511, 512, 70_000]) {
      const payload = body(n);
      const args: FrameArgs = {
        correlationId: rng.int(0, 2 ** 31 - 1),
        clientId,
        request: { apiKey: rng.int(0, 60), apiVersion: rng.int(0, 12), encode: () => Promise.resolve(payload) },
      };
      const [ours, theirs] = [(await frameRequest(args)).buffer, (await stock(args)).buffer];
      assert.ok(Buffer.compare(Buffer.from(ours), Buffer.from(theirs)) === 0, `client ${clientId}, ${n} bytes`);
      assert.equal((await frameRequest(args)).buf.length, ours.length, "framed in a buffer of the exact size");
    }
  }
});

Deno.test("a connection's request queue checks for waiting requests only while some wait", () => {
  const RequestQueue = require("kafkajs/src/network/requestQueue/index.js");
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const queue = new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: "test",
    broker: "localhost:9092",
    logger: quiet,
  });
  try {
    // What every answer does (fulfillRequest): KafkaJS scheduled the next check regardless, so a
    // connection polled every millisecond for as long as it was open.
    queue.checkPendingRequests();
    assert.equal(queue.throttleCheckTimeoutId, null, "nothing waits: no check scheduled");
    queue.throttledUntil = Date.now() + 60_000;
    queue.checkPendingRequests();
    assert.equal(queue.throttleCheckTimeoutId, null, "throttled, nothing waits: no check scheduled");
    // A request that cannot go (one in flight, the most allowed) waits, and a check is scheduled.
    queue.throttledUntil = -1;
    queue.inflight.set(1, {});
    queue.push({
      entry: { correlationId: 2, apiKey: 0, apiName: "Produce", apiVersion: 3, resolve() {}, reject() {} },
      expectResponse: true,
      sendRequest() {},
    });
    assert.equal(queue.pending.length, 1);
    assert.notEqual(queue.throttleCheckTimeoutId, null, "a request waits: a check is scheduled");
  } finally {
    queue.destroy();
  }
});

/** A loader of a KafkaJS that is 2.2.4 but for `changes` (module specifier -> its exports), recording what it loads. */
function fakeKafkaJs(changes: Record<string, unknown>): { loader: ModuleLoader; loaded: string[] } {
  const loaded: string[] = [];
  const cache: ModuleLoader["cache"] = {};
  const resolve = (id: string) => `/fake/${id}`;
  const loader = Object.assign((id: string) => {
    const path = id.startsWith("/fake/") ? id : resolve(id);
    const specifier = path.slice("/fake/".length);
    if (!(path in cache)) {
      loaded.push(specifier);
      cache[path] = { exports: specifier in changes ? changes[specifier] : require(specifier) };
    }
    return cache[path]!.exports;
  }, { resolve, cache });
  return { loader, loaded };
}

const STOCK: KafkaPatchStatus = {
  groupMessagesPerPartition: false,
  record: false,
  crc32C: false,
  produceRequest: false,
  requestFrame: false,
  pendingCheck: false,
  fastVarints: false,
  metadataNoTopics: false,
};

Deno.test("a KafkaJS other than the one the patches were written for runs as shipped, with one warning", async (t) => {
  await t.step("another release", () => {
    const { loader, loaded } = fakeKafkaJs({ "kafkajs/package.json": { version: "2.3.0" } });
    const warnings: string[] = [];
    assert.deepEqual(installKafkaPatches({ require: loader, warn: (text) => warnings.push(text) }), STOCK);
    assert.deepEqual(warnings, [
      "KafkaJS 2.3.0 is not 2.2.4, the release factory-sim's patches were written for: KafkaJS runs as shipped, " +
      "without factory-sim's patches",
    ]);
    assert.deepEqual(loaded, ["kafkajs/package.json"], "nothing of KafkaJS loaded but its version");
    // Once per loader: asked again, the same answer and no second warning.
    assert.deepEqual(installKafkaPatches({ require: loader, warn: (text) => warnings.push(text) }), STOCK);
    assert.equal(warnings.length, 1);
  });
  await t.step("a replaced module of another shape (a grouping that takes two arguments)", () => {
    const grouping = "kafkajs/src/producer/groupMessagesPerPartition.js";
    const { loader } = fakeKafkaJs({ [grouping]: (_topic: string, _messages: unknown[]) => ({}) });
    const warnings: string[] = [];
    assert.deepEqual(installKafkaPatches({ require: loader, warn: (text) => warnings.push(text) }), STOCK);
    assert.deepEqual(warnings, [
      `KafkaJS's ${grouping} is not a function of one argument: KafkaJS runs as shipped, without factory-sim's patches`,
    ]);
    for (const [path, entry] of Object.entries(loader.cache)) {
      const original = path.endsWith(grouping) ? entry!.exports : require(path.slice("/fake/".length));
      assert.equal(entry!.exports, original, `${path} as shipped`);
    }
  });
  await t.step("a module the patches build on, of another shape (an encoder without writeVarIntBytes)", () => {
    const Encoder = require("kafkajs/src/protocol/encoder.js");
    class OtherEncoder extends Encoder {}
    Object.defineProperty(OtherEncoder.prototype, "writeVarIntBytes", { value: undefined });
    const { loader } = fakeKafkaJs({ "kafkajs/src/protocol/encoder.js": OtherEncoder });
    const warnings: string[] = [];
    assert.deepEqual(installKafkaPatches({ require: loader, warn: (text) => warnings.push(text) }), STOCK);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^KafkaJS's kafkajs\/src\/protocol\/encoder\.js is not a class with .*writeVarIntBytes/);
  });
  await t.step(
    "a module that shows only once the others are replaced (the produce request), put back as shipped",
    () => {
      const request = "kafkajs/src/protocol/requests/produce/v3/request.js";
      const { loader, loaded } = fakeKafkaJs({ [request]: {} });
      const warnings: string[] = [];
      assert.deepEqual(installKafkaPatches({ require: loader, warn: (text) => warnings.push(text) }), STOCK);
      assert.equal(warnings.length, 1);
      assert.ok(loaded.includes(request));
      // What loaded while it tried is forgotten, and what stays holds KafkaJS's own.
      assert.ok(!(loader.resolve(request) in loader.cache));
      for (const [path, entry] of Object.entries(loader.cache)) {
        assert.equal(entry!.exports, require(path.slice("/fake/".length)), `${path} as shipped`);
      }
    },
  );
});
