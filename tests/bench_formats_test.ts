/** The formats benchmark's own pieces (bench/formats.ts): bytes per record from kcat, round order, ratios to JSON. */
import assert from "node:assert/strict";
import {
  addSizeLine,
  emptySizes,
  type FormatRun,
  headerBytes,
  perRecord,
  ratiosToJson,
  readSizes,
  roundOrder,
} from "../bench/formats.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import { BROKERS, ensureBroker, uniqueTopic } from "./_kafka.ts";

Deno.test("headerBytes: names and values in UTF-8, without kcat's separators", () => {
  assert.equal(headerBytes(""), 0);
  assert.equal(headerBytes("content-type=application/avro"), 12 + 16);
  assert.equal(
    headerBytes("content-type=application/json,message-type=factory-sim.reading.v1"),
    12 + 16 + 12 + 22,
  );
  assert.equal(headerBytes("a=b=c"), 1 + 3, "a value may hold '='");
  assert.equal(headerBytes("é=€"), 2 + 3);
  assert.throws(() => headerBytes("no-equals"), /without "="/);
});

Deno.test("addSizeLine and perRecord: key, value and headers summed; a null key or value (-1) counts 0", () => {
  const sizes = emptySizes();
  addSizeLine(sizes, "6\t152\tcontent-type=application/json,message-type=factory-sim.reading.v1");
  addSizeLine(sizes, "4\t89\t");
  addSizeLine(sizes, "-1\t-1\t");
  assert.deepEqual(sizes, { records: 3, keyBytes: 10, valueBytes: 241, headerBytes: 62 });
  assert.deepEqual(perRecord(sizes), { key: 3.3, value: 80.3, headers: 20.7, record: 104.3 });
  assert.ok(Number.isNaN(perRecord(emptySizes()).record));
  assert.throws(() => addSizeLine(sizes, "garbage"), /not a line of key length/);
  assert.throws(() => addSizeLine(sizes, "x\t1\t"), /not a line of key length/);
});

Deno.test("roundOrder: each round starts one later, every format once", () => {
  const formats = ["json", "avro", "protobuf", "json-schema"];
  assert.deepEqual(roundOrder(formats, 1), formats);
  assert.deepEqual(roundOrder(formats, 2), ["avro", "protobuf", "json-schema", "json"]);
  assert.deepEqual(roundOrder(formats, 4), ["json-schema", "json", "avro", "protobuf"]);
  assert.deepEqual(roundOrder(formats, 5), formats);
});

Deno.test("ratiosToJson: median records/s, and the median of each round's ratio to that round's JSON", () => {
  const run = (format: FormatRun["format"], round: number, recordsPerSecond: number): FormatRun => ({
    format,
    round,
    records: 1_000,
    wallSeconds: 1_000 / recordsPerSecond,
    recordsPerSecond,
    cpuPercent: null,
    machinePercent: null,
    brokerPercent: null,
  });
  // JSON runs slow in round 2 (a noisy machine): the per-round ratio follows it, the medians do not mix rounds.
  const ratios = ratiosToJson([
    run("json", 1, 100),
    run("avro", 1, 120),
    run("json", 2, 50),
    run("avro", 2, 55),
    run("json", 3, 100),
    run("avro", 3, 90),
  ]);
  assert.deepEqual([...ratios.keys()], ["json", "avro"]);
  assert.deepEqual(ratios.get("json"), { recordsPerSecond: 100, ratio: 1, perRound: [1, 1, 1] });
  const avro = ratios.get("avro")!;
  assert.equal(avro.recordsPerSecond, 90);
  assert.deepEqual(avro.perRound, [1.2, 1.1, 0.9]);
  assert.equal(avro.ratio, 1.1);
});

Deno.test("readSizes: kcat reads back every record's key, value and header bytes from the broker", async () => {
  await ensureBroker();
  const topic = uniqueTopic("bench-formats-sizes");
  // Three records with a key each (one in UTF-8 beyond ASCII), binary-free values, two headers each.
  const input = 'S1-1:\u00e9t\u00e9\nS22-3:{"reading":61}\nS3:x\n';
  const produce = await new Deno.Command("kcat", {
    args: ["-P", "-b", BROKERS, "-t", topic, "-K:", "-H", "content-type=application/avro", "-H", "m=\u20ac"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = produce.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { success, stderr } = await produce.output();
  assert.ok(success, new TextDecoder().decode(stderr));
  try {
    const sizes = emptySizes();
    await readSizes(BROKERS, topic, sizes);
    assert.deepEqual(sizes, {
      records: 3,
      keyBytes: 4 + 5 + 2,
      valueBytes: 5 + 14 + 1, // "été" is 5 bytes in UTF-8
      headerBytes: 3 * (12 + 16 + 1 + 3),
    });
  } finally {
    const admin = (await loadKafka("admin")).createKafkaAdmin({ clientId: "test-bench", brokers: [BROKERS] });
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).finally(() => admin.disconnect());
  }
});
