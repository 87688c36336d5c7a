import assert from "node:assert/strict";
import { hasControls } from "../lib/text.ts";
import { DEFAULT_TOPICS } from "../lib/messages.ts";
import type { Line } from "../lib/plant.ts";
import type { Heartbeat, Reading } from "../lib/simulation.ts";
import { RunSummary, SUMMARY_JSON_CHUNK_LINES, writeSummaryJson } from "../lib/summary.ts";
import { START_MS } from "./_helpers.ts";

const sensor = { sensorId: "S1-1", tier: "1.1" } as Line["sensor"];
const LINES: Line[] = [
  { factoryId: "F1", index: 0, sodaName: "Cola", total: 4, sensor },
  // A second line on the same sensor: told apart by its soda.
  { factoryId: "F1", index: 1, sodaName: "Lime", total: 2, sensor },
];

function reading(sodaName: string, value: number, timeMs: number, total = sodaName === "Cola" ? 4 : 2): Reading {
  return {
    kind: "reading",
    factoryId: "F1",
    sensorId: "S1-1",
    tier: "1.1",
    sodaName,
    reading: value,
    count: 1,
    total,
    timeMs,
  };
}

const heartbeat: Heartbeat = {
  kind: "heartbeat",
  factoryId: "F1",
  sensorId: "S1-1",
  tier: "1.1",
  status: "active",
  timeMs: START_MS,
};

Deno.test("the summary keeps count, min, mean, max and first and last time per line", () => {
  const summary = new RunSummary(LINES, DEFAULT_TOPICS);
  summary.add([reading("Cola", 10, START_MS + 2_000), heartbeat, reading("Lime", 7.5, START_MS + 3_000)]);
  // A late reading is stamped before the others: it becomes the line's first.
  summary.add([reading("Cola", 40, START_MS + 5_000), reading("Cola", 25, START_MS + 1_000), heartbeat]);
  const [cola, lime] = summary.document(info()).lines;
  assert.deepEqual(cola, {
    factoryId: "F1",
    sensorId: "S1-1",
    tier: "1.1",
    sodaName: "Cola",
    total: 4,
    taken: 3,
    batches: 0,
    sent: 3,
    duplicates: 0,
    min: 10,
    mean: 25,
    max: 40,
    firstAt: new Date(START_MS + 1_000).toISOString(),
    lastAt: new Date(START_MS + 5_000).toISOString(),
  });
  assert.equal(lime.sent, 1);
  assert.equal(lime.mean, 7.5);
  assert.equal(summary.readings, 4);
  assert.equal(summary.heartbeats, 2);
  assert.deepEqual(summary.topicCounts(), { SENSOR_READINGS: 4, SENSOR_HEARTBEAT: 2 });
});

Deno.test("a duplicated reading counts twice as sent and once as a duplicate; a line that sent nothing has nulls", () => {
  const summary = new RunSummary(LINES, DEFAULT_TOPICS);
  const twice = reading("Cola", 60, START_MS);
  summary.add([twice, twice]);
  const [cola, lime] = summary.document(info()).lines;
  assert.equal(cola.sent, 2);
  assert.equal(cola.duplicates, 1);
  assert.equal(cola.mean, 60);
  assert.deepEqual(
    [lime.sent, lime.min, lime.mean, lime.max, lime.firstAt, lime.lastAt],
    [0, null, null, null, null, null],
  );
});

Deno.test("the summary keeps no event past its batch: a line's stats hold counts and times, not readings", () => {
  // Each line's last reading used to stay referenced until the line's next one, seconds later:
  // every reading of a run reached V8's old generation.
  const summary = new RunSummary(LINES, DEFAULT_TOPICS);
  const twice = reading("Cola", 60, START_MS);
  summary.add([reading("Lime", 1, START_MS), twice, twice, heartbeat]);
  for (const stats of summary.lines) {
    for (const [field, value] of Object.entries(stats)) {
      assert.notEqual(typeof value, "object", `LineStats.${field} holds an object`);
    }
  }
  assert.equal(summary.lines[0].duplicates, 1);
});

Deno.test("fault labels count towards a topic only when there is a labels topic", async (t) => {
  const label = {
    kind: "label",
    event: "start",
    fault: "stuck",
    faultId: "F1/0/1",
    factoryId: "F1",
    sensorId: "S1-1",
    sodaName: "Cola",
    timeMs: START_MS,
  } as const;
  await t.step("without one", () => {
    const summary = new RunSummary(LINES, DEFAULT_TOPICS);
    summary.add([label]);
    assert.deepEqual(summary.topicCounts(), { SENSOR_READINGS: 0, SENSOR_HEARTBEAT: 0 });
  });
  await t.step("with one", () => {
    const summary = new RunSummary(LINES, { ...DEFAULT_TOPICS, labels: "LABELS" });
    summary.add([label, label]);
    assert.deepEqual(summary.topicCounts(), { SENSOR_READINGS: 0, SENSOR_HEARTBEAT: 0, LABELS: 2 });
  });
});

Deno.test("the log table has a row per line, and totals only for a big plant", async (t) => {
  const summary = new RunSummary(LINES, DEFAULT_TOPICS);
  summary.add([reading("Cola", 10, START_MS), reading("Cola", 41, START_MS), heartbeat]);
  await t.step("a small plant", () => {
    assert.deepEqual(summary.table({ simulatedMs: 42_000, wallMs: 250 }), [
      "summary: 2 lines, 2 readings (min 10, mean 25.5, max 41) over 42.0 s simulated, 0.3 s wall",
      "  factory  sensor  soda  count/total  min  mean  max",
      "  F1       S1-1    Cola  2/4          10   25.5  41",
      "  F1       S1-1    Lime  0/2          -    -     -",
      "summary: records produced per topic: SENSOR_READINGS 2, SENSOR_HEARTBEAT 1",
    ]);
  });
  await t.step("more lines than maxLines", () => {
    assert.deepEqual(summary.table({ simulatedMs: 42_000, wallMs: 250, maxLines: 1 }), [
      "summary: 2 lines, 2 readings (min 10, mean 25.5, max 41) over 42.0 s simulated, 0.3 s wall",
      "summary: 2 lines, see --summary-json for each",
      "summary: records produced per topic: SENSOR_READINGS 2, SENSOR_HEARTBEAT 1",
    ]);
  });
});

function info() {
  return {
    version: "0.0.0",
    outcome: "done" as const,
    exitCode: 0,
    seed: 1,
    plant: { factories: 1, sensors: 1, lines: 2 },
    continuous: false,
    startMs: START_MS,
    endMs: START_MS + 10_000,
    wallMs: 5,
    taken: [3, 1],
    sink: { name: "memory", delivered: 0 },
  };
}

Deno.test("with --rate, the table and the document show the target against the rate achieved", async (t) => {
  const summary = new RunSummary(LINES, DEFAULT_TOPICS);
  summary.add([reading("Cola", 10, START_MS), reading("Cola", 41, START_MS), heartbeat, heartbeat]);
  const pace = { rate: 5, naturalRate: 0.8, spanMs: 10_000, speed: 6.25 };
  await t.step("the table's last line", () => {
    assert.deepEqual(
      summary.table({ simulatedMs: 10_000, wallMs: 1_000, pace }).at(-1),
      [
        "summary: rate 4.0 records/s achieved, 80% of --rate 5.0 (speed 6.25)",
      ].at(-1),
    );
    assert.ok(!summary.table({ simulatedMs: 10_000, wallMs: 1_000 }).some((line) => line.includes("rate")));
  });
  await t.step("the document's rate and speed", () => {
    const document = summary.document({ ...info(), wallMs: 800, speed: 6.25, pace });
    assert.deepEqual(document.rate, { target: 5, achieved: 5, plantRate: 0.8 });
    assert.equal(document.speed, 6.25);
    assert.equal(summary.document({ ...info(), speed: 2 }).rate, null);
  });
  await t.step("a backfill has a speed only when --rate paced it", () => {
    const backfill = { fromMs: START_MS - 86_400_000, toMs: START_MS };
    assert.equal(summary.document({ ...info(), speed: 1, backfill }).speed, null);
    assert.equal(summary.document({ ...info(), speed: 6.25, backfill, pace }).speed, 6.25);
  });
});

Deno.test("a continuous run's table shows readings and the batch size, never count/total past the total", () => {
  const summary = new RunSummary(LINES, DEFAULT_TOPICS, { continuous: true });
  // Cola takes 4 a batch: 6 readings are a batch and a half.
  for (let i = 0; i < 6; i++) summary.add([reading("Cola", 10 * i, START_MS + i * 1_000)]);
  assert.deepEqual(summary.table({ simulatedMs: 6_000, wallMs: 10 }), [
    "summary: 2 lines, 6 readings (min 0, mean 25, max 50) over 6.0 s simulated, 0.0 s wall",
    "  factory  sensor  soda  readings  per batch  min  mean  max",
    "  F1       S1-1    Cola  6         4          0    25    50",
    "  F1       S1-1    Lime  0         2          -    -     -",
    "summary: records produced per topic: SENSOR_READINGS 6, SENSOR_HEARTBEAT 0",
  ]);
  const [cola, lime] = summary.document({ ...info(), continuous: true, taken: [6, 0] }).lines;
  assert.deepEqual([cola.total, cola.taken, cola.batches, cola.sent], [4, 6, 1, 6]);
  assert.deepEqual([lime.total, lime.taken, lime.batches], [2, 0, 0]);
  const failed = summary.document({ ...info(), outcome: "failed", exitCode: 1, taken: undefined }).lines[0];
  assert.equal(failed.batches, null);
});

Deno.test("config values in the table are escaped and bounded cell by cell", () => {
  const hostile = "\x1b]0;owned\x07\u202e" + "s".repeat(100_000) + "\nerror: forged";
  const lines: Line[] = [{ factoryId: "F1", index: 0, sodaName: hostile, total: 2, sensor }];
  const summary = new RunSummary(lines, DEFAULT_TOPICS);
  summary.add([reading(hostile, 5, START_MS, 2)]);
  const table = summary.table({ simulatedMs: 1_000, wallMs: 1 });
  assert.equal(table.length, 4);
  for (const line of table) {
    assert.ok(!hasControls(line), line);
    assert.ok(line.length < 200, `${line.length} characters`);
  }
  assert.match(table[2], /^ {2}F1 {7}S1-1 {4}\\x1b\]0;owned\\x07\\u202es+s…\(\+99,996 chars\) {2}1\/2 /);
});

Deno.test("a reading finds its line without looking at the other lines on its sensor (no quadratic count)", () => {
  // Many lines on one sensor (a config that puts them there, or generated lines): counting a
  // reading must not scan the sensor's lines, or a run's time grows with the square of them.
  const n = 3_000;
  const lines: Line[] = Array.from({ length: n }, (_, index) => ({
    factoryId: "F1",
    index,
    sodaName: `Soda ${index}`,
    total: 1 + (index % 7),
    sensor,
  }));
  const summary = new RunSummary(lines, DEFAULT_TOPICS);
  // Count every look at a line's soda or number from here on.
  let looks = 0;
  for (const stats of summary.lines) {
    for (const field of ["sodaName", "total"] as const) {
      const value = stats[field];
      Object.defineProperty(stats, field, { get: () => (looks++, value), enumerable: true });
    }
  }
  summary.add(lines.map((line, i) => reading(line.sodaName, i, START_MS + i, line.total)));
  assert.equal(looks, 0, `counting ${n} readings looked at lines ${looks} times`);
  assert.ok(summary.lines.every((stats) => stats.sent === 1), "each reading counted on its own line");
});

Deno.test("a reading that names its line (as the simulation's do) is counted on it without reading its fields", () => {
  // Two lines alike in factory, sensor, soda and number share one row, as the fields' lookup has it.
  const lines: Line[] = [0, 1, 2].map((index) => ({
    factoryId: "F1",
    index,
    sodaName: index === 2 ? "Fanta" : "Cola",
    total: 4,
    sensor,
  }));
  const summary = new RunSummary(lines, DEFAULT_TOPICS);
  const named = (line: Line, value: number): Reading => {
    const event = { ...reading(line.sodaName, value, START_MS, line.total), line };
    // Only the line may decide where it counts: the fields are not looked at.
    for (const field of ["factoryId", "sensorId", "sodaName", "total"] as const) {
      Object.defineProperty(event, field, {
        get: () => assert.fail(`read ${field}`),
      });
    }
    return event;
  };
  summary.add([named(lines[0], 10), named(lines[1], 20), named(lines[2], 30)]);
  assert.equal(summary.lines[0].sent, 2);
  assert.equal(summary.lines[0].sum, 30);
  assert.equal(summary.lines[1].sent, 0, "the second Cola line shares the first one's row");
  assert.equal(summary.lines[2].sent, 1);
  assert.equal(summary.lines[2].max, 30);
});

Deno.test("the --summary-json text comes in chunks of lines that make the document's JSON exactly", async (t) => {
  // Config text as a user may write it: quotes, a newline, a control character, non-ASCII.
  const odd = { sensorId: 'S"1\n-\u0001', tier: "1.1" } as Line["sensor"];
  const lines: Line[] = [
    ...LINES,
    { factoryId: "Fäbrik \u{1F964}", index: 2, sodaName: "Cola\\Zero", total: 3, sensor: odd },
  ];
  const summary = new RunSummary(lines, DEFAULT_TOPICS);
  summary.add([reading("Cola", 10.25, START_MS + 2_000), heartbeat, reading("Lime", 7, START_MS + 3_000)]);
  const runInfo = { ...info(), taken: [1, 1, 0] };
  const whole = `${JSON.stringify(summary.document(runInfo), null, 2)}\n`;
  for (const chunkLines of [1, 2, 3, 1_000]) {
    await t.step(`${chunkLines} lines a chunk`, () => {
      const chunks = [...summary.jsonChunks(runInfo, chunkLines)];
      assert.equal(chunks.join(""), whole);
      assert.equal(chunks.length, Math.ceil(lines.length / chunkLines) + (lines.length % chunkLines === 0 ? 1 : 0));
    });
  }
  await t.step("a failed run (no readings taken) and a plant without lines", () => {
    const failed = { ...info(), outcome: "failed" as const, exitCode: 1, taken: undefined };
    assert.equal([...summary.jsonChunks(failed, 2)].join(""), `${JSON.stringify(summary.document(failed), null, 2)}\n`);
    const empty = new RunSummary([], DEFAULT_TOPICS);
    assert.equal([...empty.jsonChunks(info())].join(""), `${JSON.stringify(empty.document(info()), null, 2)}\n`);
  });
});

Deno.test("a large plant's --summary-json text never holds more than a chunk's lines at once", () => {
  const lines: Line[] = Array.from({ length: 2_500 }, (_, i) => ({
    factoryId: `F${i}`,
    index: 0,
    sodaName: "Cola",
    total: 4,
    sensor,
  }));
  const summary = new RunSummary(lines, DEFAULT_TOPICS);
  const chunks = [...summary.jsonChunks({ ...info(), taken: undefined })];
  assert.equal(chunks.length, 3);
  for (const chunk of chunks) assert.ok(chunk.split('"factoryId"').length - 1 <= SUMMARY_JSON_CHUNK_LINES);
  assert.equal(JSON.parse(chunks.join("")).lines.length, 2_500);
});

Deno.test("writeSummaryJson writes the chunks, replacing the file and creating its directory", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/new/summary.json`;
    writeSummaryJson(path, ["{", '"a": ', "1}\n"]);
    assert.equal(Deno.readTextFileSync(path), '{"a": 1}\n');
    writeSummaryJson(path, ["{}\n"]);
    assert.equal(Deno.readTextFileSync(path), "{}\n");
    assert.throws(() => writeSummaryJson(dir, ["{}\n"]), /could not write --summary-json/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
