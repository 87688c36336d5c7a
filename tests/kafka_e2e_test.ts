/**
 * End to end against a real broker: what the simulator produced is read back with kcat.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import { resetLogging } from "../lib/log.ts";
import { allSensors, buildPlant } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import type { Reading } from "../lib/simulation.ts";
import { main } from "../main.ts";
import { runVirtual, SAMPLE_CONFIG, textCollector } from "./_helpers.ts";
import {
  BROKERS,
  collect,
  consumeAll,
  type Consumed,
  ensureBroker,
  runCli,
  simTaskFlags,
  spawnCli,
  tempConfig,
  uniqueTopic,
  waitFor,
} from "./_kafka.ts";

const SAMPLE = new URL("../factory_config.json", import.meta.url).pathname;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const lineKey = (v: Record<string, unknown>) => `${v.factoryId}/${v.sodaName}`;

/** Readings of each line in the order they sit in their partition. */
function readingsByLine(records: Consumed[]): Map<string, Consumed[]> {
  const lines = new Map<string, Consumed[]>();
  for (const record of records) {
    const key = lineKey(record.value);
    lines.set(key, [...lines.get(key) ?? [], record]);
  }
  return lines;
}

Deno.test("a seeded accelerated run lands every reading exactly once, in order, with every heartbeat", async () => {
  await ensureBroker();
  const readingsTopic = uniqueTopic("readings");
  const heartbeatTopic = uniqueTopic("heartbeats");
  const stdout = textCollector();
  let stderr = "";
  let code;
  try {
    code = await main([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--config=${SAMPLE}`,
      "--seed=21",
      "--speed=200",
      `--readings-topic=${readingsTopic}`,
      `--heartbeat-topic=${heartbeatTopic}`,
    ], { env: {}, stdout: stdout.stream, writeStderr: (line) => stderr += line });
  } finally {
    await resetLogging();
  }
  assert.equal(code, ExitCode.ok, stderr);
  assert.equal(stdout.text(), "", "nothing on stdout with the Kafka sink");

  // What the seed must produce, computed on virtual time.
  const plant = buildPlant(SAMPLE_CONFIG, { factoryCount: 3, rng: new Rng(21) }).plant;
  const expected = (await runVirtual(plant, { seed: 21 })).events.filter((e): e is Reading => e.kind === "reading");
  const readings = await consumeAll(readingsTopic);
  const heartbeats = await consumeAll(heartbeatTopic);
  assert.match(stderr, new RegExp(`delivered to kafka`));
  assert.match(stderr, new RegExp(`; ${readings.length + heartbeats.length} records delivered to kafka`));

  const landed = readings.map((
    { value: v },
  ) => [v.factoryId, v.sensorId, v.tier, v.sodaName, v.reading, v.count, v.total]);
  const wanted = expected.map((r) => [r.factoryId, r.sensorId, r.tier, r.sodaName, r.reading, r.count, r.total]);
  const order = (a: unknown[], b: unknown[]) => JSON.stringify(a).localeCompare(JSON.stringify(b));
  assert.deepEqual(landed.sort(order), wanted.sort(order), "every expected reading exactly once");

  for (const record of readings) {
    assert.deepEqual(Object.keys(record.value), [
      "factoryId",
      "sensorId",
      "tier",
      "sodaName",
      "reading",
      "count",
      "total",
      "timestamp",
    ]);
    assert.equal(record.key, record.value.sensorId);
    assert.equal(record.headers, "content-type=application/json,message-type=factory-sim.reading.v1");
    assert.ok(Number.isInteger(record.value.reading) && Number.isInteger(record.value.count));
    assert.match(record.value.timestamp as string, TIMESTAMP);
    assert.equal(record.timestampMs, Date.parse(record.value.timestamp as string), "record time = event time");
  }
  for (const [line, records] of readingsByLine(readings)) {
    assert.equal(new Set(records.map((r) => r.partition)).size, 1, `${line} stays in one partition`);
    assert.deepEqual(records.map((r) => r.value.count), records.map((_, i) => i + 1), `${line} in order`);
  }

  const sensors = allSensors(plant).map((s) => s.sensorId).sort();
  assert.deepEqual([...new Set(heartbeats.map((h) => h.key))].sort(), sensors, "every sensor heartbeats");
  for (const sensorId of sensors) {
    const beats = heartbeats.filter((h) => h.key === sensorId);
    assert.deepEqual(Object.keys(beats[0].value), ["sensorId", "tier", "timestamp", "status"]);
    assert.equal(beats[0].headers, "content-type=application/json,message-type=factory-sim.heartbeat.v1");
    const times = beats.map((b) => Date.parse(b.value.timestamp as string));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), `${sensorId} heartbeats in order`);
    assert.ok(beats.every((b) => b.value.status === "active" && b.value.sensorId === sensorId));
  }
});

Deno.test("SIGTERM mid-run stops within 5 s with everything produced flushed to Kafka", async () => {
  await ensureBroker();
  const readingsTopic = uniqueTopic("readings");
  const heartbeatTopic = uniqueTopic("heartbeats");
  const child = spawnCli([
    "--sink=kafka",
    `--brokers=${BROKERS}`,
    "--seed=4",
    "--speed=10",
    `--readings-topic=${readingsTopic}`,
    `--heartbeat-topic=${heartbeatTopic}`,
  ]);
  const stderrText = collect(child.stderr);
  const stdoutText = collect(child.stdout);
  await waitFor(() => stderrText.current.includes("connected to Kafka"), 20_000);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const signalledAt = performance.now();
  child.kill("SIGTERM");
  const status = await child.status;
  const stopSeconds = (performance.now() - signalledAt) / 1000;
  const stderr = await stderrText.done;
  await stdoutText.done;
  assert.equal(status.code, ExitCode.sigterm, stderr);
  assert.ok(stopSeconds < 5, `stopped in ${stopSeconds} s`);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");

  const summary =
    /^info: stopped: (\d+) readings and (\d+) heartbeats .*; (\d+) records delivered to kafka \(0 spooled, 0 replayed from the spool\)$/m
      .exec(
        stderr,
      );
  assert.ok(summary, stderr);
  const readings = await consumeAll(readingsTopic);
  const heartbeats = await consumeAll(heartbeatTopic);
  assert.equal(readings.length, Number(summary[1]), "every reading produced is in Kafka");
  assert.equal(heartbeats.length, Number(summary[2]), "every heartbeat produced is in Kafka");
  assert.equal(readings.length + heartbeats.length, Number(summary[3]));
  assert.ok(readings.length > 0 && heartbeats.length > 0);
  for (const [line, records] of readingsByLine(readings)) {
    assert.deepEqual(records.map((r) => r.value.count), records.map((_, i) => i + 1), `${line} has no gap`);
  }
});

Deno.test("with no broker, --sink auto warns and falls back to the console", async () => {
  const started = performance.now();
  const { code, stdout, stderr } = await runCli([
    "--brokers=127.0.0.1:1",
    "--seed=2",
    "--speed=5000",
    "--factories=1",
    `--config=${SAMPLE}`,
  ]);
  assert.equal(code, ExitCode.ok, stderr);
  assert.match(
    stderr,
    /^warning: Kafka at 127\.0\.0\.1:1 is unreachable \(gave up after 3 s\): .*; writing records to stdout instead \(--sink auto\)$/m,
  );
  assert.ok(performance.now() - started < 15_000);
  const records = stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.equal(records.filter((r) => r.topic === "SENSOR_READINGS").length, 24, "F1's 10+8+6 readings");
  assert.ok(records.every((r) => r.value.timestamp.match(TIMESTAMP)));
});

Deno.test("with no broker, --sink kafka exits 1 with a one-line reason", async () => {
  const { code, stdout, stderr } = await runCli(["--sink=kafka", "--brokers=127.0.0.1:1", `--config=${SAMPLE}`]);
  assert.equal(code, ExitCode.failure);
  assert.equal(stdout, "");
  const errors = stderr.split("\n").filter((line) => line.startsWith("error:"));
  assert.equal(errors.length, 1, stderr);
  assert.match(errors[0], /^error: Kafka at 127\.0\.0\.1:1 is unreachable \(gave up after 10 s\): .+/);
  assert.doesNotMatch(stderr, /^\s+at /m);
});

/**
 * Runs one line of 3000 readings (about 3 hours of simulated time) into Kafka at speed 100000, so
 * the last records are stamped hours ahead of the broker's clock.
 */
async function runHoursAhead(readingsTopic: string, seed: number) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/long.json`, '{"F1": [{"sodaName": "Cola", "number": 3000, "sensorID": "S1-1"}]}');
    return await runCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--config=${dir}/long.json`,
      "--factories=1",
      `--seed=${seed}`,
      "--speed=100000",
      `--readings-topic=${readingsTopic}`,
      `--heartbeat-topic=${uniqueTopic("heartbeats")}`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an accelerated run hours ahead of the broker's clock lands in the topics it creates", async () => {
  await ensureBroker();
  const readingsTopic = uniqueTopic("readings");
  const { code, stderr } = await runHoursAhead(readingsTopic, 8);
  assert.equal(code, ExitCode.ok, stderr);
  const readings = await consumeAll(readingsTopic);
  assert.deepEqual(readings.map((r) => r.value.count), Array.from({ length: 3000 }, (_, i) => i + 1));
  assert.ok(readings.at(-1)!.timestampMs - Date.now() > 3_600_000, "the last reading is stamped hours ahead");
});

Deno.test("an existing topic that refuses future timestamps stops the run with a one-line reason", async () => {
  await ensureBroker();
  const readingsTopic = uniqueTopic("readings");
  // Created with the limit Kafka 4 sets by default (earlier releases have none).
  const admin = (await loadKafka("admin")).createKafkaAdmin({ clientId: "test-setup", brokers: [BROKERS] });
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{
        topic: readingsTopic,
        numPartitions: 1,
        configEntries: [{ name: "message.timestamp.after.max.ms", value: "3600000" }],
      }],
    });
  } finally {
    await admin.disconnect();
  }
  const { code, stderr } = await runHoursAhead(readingsTopic, 9);
  assert.equal(code, ExitCode.failure);
  const errors = stderr.split("\n").filter((line) => line.startsWith("error:"));
  assert.equal(errors.length, 1, stderr);
  assert.match(errors[0], /^error: delivery to Kafka failed: the broker rejected record timestamps as too far ahead/);
  assert.match(errors[0], /message\.timestamp\.after\.max\.ms/);
  assert.doesNotMatch(stderr, /^\s+at /m);
});

Deno.test("gzip batches, acks from the leader only and no linger land every record intact", async () => {
  await ensureBroker();
  const readingsTopic = uniqueTopic("gzip.readings");
  const { code, stderr } = await runCli([
    "--sink=kafka",
    `--brokers=${BROKERS}`,
    "--factories=1",
    "--speed=500",
    "--compression=gzip",
    "--acks=leader",
    "--linger-ms=0",
    "--batch-records=7",
    "--client-id=e2e-gzip",
    `--readings-topic=${readingsTopic}`,
    `--heartbeat-topic=${uniqueTopic("gzip.heartbeats")}`,
  ]);
  assert.equal(code, ExitCode.ok, stderr);
  const readings = await consumeAll(readingsTopic);
  assert.equal(readings.length, 24, "factory F1's 10 + 8 + 6 readings");
  for (const [line, records] of readingsByLine(readings)) {
    assert.deepEqual(records.map((r) => r.value.count), records.map((_, i) => i + 1), `${line} in order`);
  }
});

Deno.test("a labelled-fault run: faulty readings carry their label, starts and ends land in the labels topic", async () => {
  await ensureBroker();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/faults.json`,
      JSON.stringify({
        defaults: { signal: { type: "sine", base: 50, amplitude: 10, period: "5m", noise: 1, decimals: 1 } },
        F1: [
          { sodaName: "Cola", number: 40, sensorID: "S1-1", faults: [{ kind: "stuck", at: "30s", for: "30s" }] },
          { sodaName: "Sprite", number: 40, sensorID: "S1-2", faults: [{ kind: "offline", at: "40s", for: "20s" }] },
        ],
      }),
    );
    const topics = { readings: uniqueTopic("labelled.readings"), labels: uniqueTopic("labelled.labels") };
    const heartbeatTopic = uniqueTopic("labelled.heartbeats");
    const { code, stderr } = await runCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--config=${dir}/faults.json`,
      "--factories=1",
      "--seed=12",
      "--speed=1000",
      `--readings-topic=${topics.readings}`,
      `--heartbeat-topic=${heartbeatTopic}`,
      `--labels-topic=${topics.labels}`,
    ]);
    assert.equal(code, ExitCode.ok, stderr);
    assert.match(stderr, /\(and 4 fault starts and ends\)/);
    const labels = await consumeAll(topics.labels);
    const labelsOf = (sensor: string) =>
      labels.filter((l) => l.key === sensor).map((l) => [l.value.fault, l.value.event, l.headers]);
    const header = "content-type=application/json,message-type=factory-sim.fault.v1";
    assert.deepEqual(labelsOf("S1-1"), [["stuck", "start", header], ["stuck", "end", header]]);
    assert.deepEqual(labelsOf("S1-2"), [["offline", "start", header], ["offline", "end", header]]);
    const windowOf = (sensor: string) => {
      const [start, end] = labels.filter((l) => l.key === sensor).map((l) => Date.parse(String(l.value.timestamp)));
      return (t: number) => t >= start && t < end;
    };
    const readings = await consumeAll(topics.readings);
    const stuck = readings.filter((r) => r.headers.includes("fault=stuck"));
    assert.ok(stuck.length > 0);
    assert.ok(stuck.every((r) => r.key === "S1-1" && windowOf("S1-1")(r.timestampMs)));
    assert.equal(new Set(stuck.map((r) => r.value.reading)).size, 1, "a stuck sensor repeats one value");
    const offline = windowOf("S1-2");
    assert.ok(readings.filter((r) => r.key === "S1-2").every((r) => !offline(r.timestampMs)), "no readings offline");
    const beats = (await consumeAll(heartbeatTopic)).filter((h) => h.key === "S1-2");
    assert.ok(beats.length > 0 && beats.every((h) => !offline(h.timestampMs)), "no heartbeats while offline");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a backfill with --batch-records far above what fits in a request lands everything (requests stay under 1 MB)", async () => {
  await ensureBroker();
  const readings = uniqueTopic("big-batch-readings");
  const heartbeats = uniqueTopic("big-batch-heartbeats");
  {
    // 40 factories for 2 h: about 100,000 records; one partition, so every batch of a topic goes to
    // one partition, where 20,000 records (about 3.5 MB) would be refused as MESSAGE_TOO_LARGE.
    const { code, stderr } = await runCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--readings-topic=${readings}`,
      `--heartbeat-topic=${heartbeats}`,
      "--factories=40",
      "--generate-lines",
      "--continuous",
      "--seed=5",
      "--backfill=2025-11-01T00:00:00Z..2025-11-01T00:30:00Z",
      "--partitions=1",
      "--batch-records=20000",
      "--linger-ms=50",
      `--config=${SAMPLE}`,
    ]);
    assert.equal(code, ExitCode.ok, stderr);
    const produced = /(\d+) readings and (\d+) heartbeats/.exec(stderr)!;
    assert.equal((await consumeAll(readings)).length, Number(produced[1]));
    assert.equal((await consumeAll(heartbeats)).length, Number(produced[2]));
    assert.ok(Number(produced[2]) > 20_000, produced[0]);
  }
});

Deno.test("one topic for readings, heartbeats and labels: every record lands once, counted once, and the monitor reads it", async () => {
  await ensureBroker();
  const config = await tempConfig({
    F1: [
      { sodaName: "Cola", number: 30, sensorID: "S1-1", faults: [{ kind: "stuck", at: "10s", for: "10s" }] },
      { sodaName: "Sprite", number: 20, sensorID: "S1-2" },
    ],
  });
  const topic = uniqueTopic("shared");
  const summaryDir = await Deno.makeTempDir();
  try {
    const { code, stderr } = await runCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--config=${config.path}`,
      "--factories=1",
      "--seed=8",
      "--speed=1000",
      `--readings-topic=${topic}`,
      `--heartbeat-topic=${topic}`,
      `--labels-topic=${topic}`,
      `--summary-json=${summaryDir}/summary.json`,
    ], { flags: [...simTaskFlags().filter((f) => !f.startsWith("--allow-write")), "--allow-write"] });
    assert.equal(code, ExitCode.ok, stderr);
    const produced = /(\d+) readings and (\d+) heartbeats \(and (\d+) fault starts and ends\)/.exec(stderr);
    assert.ok(produced, stderr);
    const [readingCount, heartbeatCount, labelCount] = produced.slice(1).map(Number);
    assert.equal(labelCount, 2);

    const records = await consumeAll(topic);
    const typeOf = (record: Consumed) => /message-type=factory-sim\.(\w+)\.v1/.exec(record.headers)?.[1];
    const ofType = (type: string) => records.filter((record) => typeOf(record) === type);
    assert.equal(ofType("reading").length, readingCount);
    assert.equal(ofType("heartbeat").length, heartbeatCount);
    assert.equal(ofType("fault").length, labelCount);
    assert.equal(records.length, readingCount + heartbeatCount + labelCount, "nothing else on the topic");
    const distinct = new Set(
      records.map((record) => `${record.headers}\t${record.key}\t${JSON.stringify(record.value)}`),
    );
    assert.equal(distinct.size, records.length, "every record once");
    for (const [line, readings] of readingsByLine(ofType("reading"))) {
      assert.deepEqual(readings.map((r) => r.value.count), readings.map((_, i) => i + 1), `${line} in order`);
    }
    // The summary counts the shared topic once, with everything written to it.
    const summary = JSON.parse(await Deno.readTextFile(`${summaryDir}/summary.json`));
    assert.deepEqual(summary.topics, { [topic]: records.length });
    assert.match(stderr, new RegExp(`; ${records.length} records delivered to kafka`));

    // The monitor reads the shared topic once and tells readings from heartbeats by their header.
    const monitor = spawnCli([
      "monitor",
      "--json",
      "--from-beginning",
      "--interval=200ms",
      `--brokers=${BROKERS}`,
      `--readings-topic=${topic}`,
      `--heartbeat-topic=${topic}`,
    ]);
    const out = collect(monitor.stdout);
    const err = collect(monitor.stderr);
    const last = () => {
      const line = out.current.split("\n").filter((l) => l.includes('"type":"snapshot"')).at(-1);
      return line === undefined ? undefined : JSON.parse(line);
    };
    await waitFor(() => last()?.topics[topic]?.received === records.length, 20_000);
    monitor.kill("SIGINT");
    assert.equal((await monitor.status).code, 0, await err.done);
    await out.done;
    const snapshot = last();
    assert.equal(snapshot.topics[topic].invalid, 0, "no record taken for the wrong kind");
    const lines = snapshot.factories[0].lines;
    assert.deepEqual(lines.map((l: { sodaName: string; received: number }) => [l.sodaName, l.received]), [
      ["Cola", 30],
      ["Sprite", 20],
    ]);
    const beats = snapshot.factories[0].sensors.reduce((n: number, s: { heartbeats: number }) => n + s.heartbeats, 0);
    assert.equal(beats, heartbeatCount);
  } finally {
    await config.remove();
    await Deno.remove(summaryDir, { recursive: true });
  }
});
