/** The live status: its rendering, colour rules, and the updater that redraws it in place. */
// deno-lint-ignore-file no-control-regex -- the tests look for ANSI escape codes
import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import { LiveStatus, runCounts, sinkStatus, type StatusCounts } from "../lib/live_status.ts";
import { colorAllowed, renderStatus, type StatusSnapshot } from "../lib/status.ts";
import { RunSummary } from "../lib/summary.ts";
import { DEFAULT_TOPICS } from "../lib/messages.ts";
import { allLines } from "../lib/plant.ts";
import { plantOf, runVirtual, SAMPLE_CONFIG } from "./_helpers.ts";

const SMALL: StatusSnapshot = {
  factories: [
    { id: "F1", lines: [{ count: 10, total: 10 }, { count: 5, total: 8 }, { count: 2, total: 6 }] },
    { id: "F2", lines: [{ count: 12, total: 12 }, { count: 0, total: 5 }] },
    { id: "F3", lines: [] },
  ],
  rates: { SENSOR_READINGS: 2.4, SENSOR_HEARTBEAT: 11.6 },
  sink: { state: "connected", name: "kafka" },
  elapsedMs: 42_200,
};

const ESC = "\x1b";

Deno.test("a small plant renders a line per factory with a bar per line, the rates and the sink", () => {
  assert.deepEqual(renderStatus(SMALL), [
    "factory-sim 42.2 s simulated: 3 factories, 2/5 lines done, 29/41 readings",
    "F1  [########] 10/10  [#####---] 5/8  [##------] 2/6",
    "F2  [########] 12/12  [--------] 0/5",
    "F3  no lines",
    "rates: SENSOR_READINGS 2.4/s, SENSOR_HEARTBEAT 11.6/s",
    "sink: kafka connected",
  ]);
});

Deno.test("with --rate, the rates line puts the total against the target first", () => {
  assert.equal(
    renderStatus({ ...SMALL, targetRate: 20 }).at(-2),
    "rates: 14.0/s of --rate 20.0: SENSOR_READINGS 2.4/s, SENSOR_HEARTBEAT 11.6/s",
  );
  assert.equal(
    renderStatus({ ...SMALL, rates: { R: 4_987.4, H: 1 }, targetRate: 5_000 }, { width: 36 }).at(-2),
    "rates: 4988/s of --rate 5000: R 4987",
  );
  assert.equal(renderStatus({ ...SMALL, rates: {}, targetRate: 5_000 }).at(-2), "rates: 0.0/s of --rate 5000");
});

Deno.test("with colour, bars and states are painted with ANSI codes and the text is the same", () => {
  const colored = renderStatus(SMALL, { color: true });
  assert.deepEqual(colored, [
    `${ESC}[1mfactory-sim${ESC}[0m 42.2 s simulated: 3 factories, 2/5 lines done, 29/41 readings`,
    `F1  [${ESC}[32m########${ESC}[0m] 10/10  [${ESC}[36m#####${ESC}[0m---] 5/8  [${ESC}[36m##${ESC}[0m------] 2/6`,
    `F2  [${ESC}[32m########${ESC}[0m] 12/12  [--------] 0/5`,
    `F3${ESC}[2m  no lines${ESC}[0m`,
    "rates: SENSOR_READINGS 2.4/s, SENSOR_HEARTBEAT 11.6/s",
    `sink: ${ESC}[32mkafka connected${ESC}[0m`,
  ]);
  const plain = colored.map((line) => line.replace(/\x1b\[\d+m/g, ""));
  assert.deepEqual(plain, renderStatus(SMALL));
});

Deno.test("every line fits the width: bars that do not fit are dropped whole for ' ...'", () => {
  const lines = renderStatus(SMALL, { width: 40, color: true });
  for (const line of lines) assert.ok(line.replace(/\x1b\[\d+m/g, "").length <= 40, line);
  assert.equal(renderStatus(SMALL, { width: 40 })[1], "F1  [########] 10/10  [#####---] 5/8 ...");
});

Deno.test("the sink's states", async (t) => {
  const sinkLine = (sink: StatusSnapshot["sink"]) => renderStatus({ ...SMALL, sink }).at(-1);
  await t.step("falling back to the console", () => {
    assert.equal(sinkLine({ state: "fallback" }), "sink: falling back to console (Kafka unreachable)");
  });
  await t.step("spooling", () => {
    assert.equal(
      sinkLine({ state: "spooling", records: 1234 }),
      "sink: Kafka not acknowledging: spooling (1234 records)",
    );
  });
  await t.step("stalled", () => {
    assert.equal(
      sinkLine({ state: "stalled", records: 7 }),
      "sink: Kafka not acknowledging: stalled (7 records waiting)",
    );
  });
  await t.step("from a sink's counters", () => {
    const sink = { name: "kafka", pending: 42, stalled: false };
    assert.deepEqual(sinkStatus(sink, { fellBack: false, spool: true }), { state: "connected", name: "kafka" });
    assert.deepEqual(sinkStatus({ ...sink, stalled: true }, { fellBack: false, spool: true }), {
      state: "spooling",
      records: 42,
    });
    assert.deepEqual(sinkStatus({ ...sink, stalled: true }, { fellBack: false, spool: false }), {
      state: "stalled",
      records: 42,
    });
    assert.deepEqual(sinkStatus({ name: "console", pending: 0 }, { fellBack: true, spool: true }), {
      state: "fallback",
    });
  });
});

Deno.test("a big plant shows totals, the first factories and '... and M more'", async (t) => {
  const big: StatusSnapshot = {
    ...SMALL,
    factories: Array.from({ length: 120 }, (_, i) => ({
      id: `F${i + 1}`,
      lines: [{ count: i % 2 === 0 ? 4 : 0, total: 4 }, { count: 1, total: 4 }],
    })),
  };
  await t.step("twenty factories by default", () => {
    const lines = renderStatus(big);
    assert.equal(lines.length, 1 + 20 + 1 + 2);
    assert.equal(lines[0], "factory-sim 42.2 s simulated: 120 factories, 60/240 lines done, 360/960 readings");
    assert.equal(lines[1], "F1   [########] 4/4  [##------] 1/4");
    assert.equal(lines[20], "F20  [--------] 0/4  [##------] 1/4");
    assert.equal(lines[21], "... and 100 more factories");
  });
  await t.step("fewer when the terminal is short, coloured the same way", () => {
    const lines = renderStatus(big, { maxFactories: 5, color: true });
    assert.equal(lines.length, 1 + 5 + 1 + 2);
    assert.equal(lines[6], "... and 115 more factories");
  });
});

Deno.test("long runs show hours, minutes and seconds of simulated time", () => {
  assert.match(renderStatus({ ...SMALL, elapsedMs: 3_723_000 })[0], /^factory-sim 1:02:03 simulated/);
  assert.match(renderStatus({ ...SMALL, elapsedMs: 125_000 })[0], /^factory-sim 02:05 simulated/);
});

Deno.test("NO_COLOR turns colour off when set and not empty (no-color.org)", () => {
  assert.equal(colorAllowed({}), true);
  assert.equal(colorAllowed({ NO_COLOR: "" }), true);
  assert.equal(colorAllowed({ NO_COLOR: "1" }), false);
  assert.equal(colorAllowed({ NO_COLOR: "0" }), false);
});

function fakeCounts(): { counts: StatusCounts; next: () => StatusCounts } {
  const counts: StatusCounts = {
    factories: [{ id: "F1", lines: [{ count: 0, total: 4 }] }],
    produced: { SENSOR_READINGS: 0, SENSOR_HEARTBEAT: 0 },
    sink: { state: "connected", name: "console" },
    elapsedMs: 0,
  };
  return { counts, next: () => structuredClone(counts) };
}

Deno.test("the updater redraws in place every 500 ms, with rates from the counters' deltas", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const { counts, next } = fakeCounts();
    const writes: string[] = [];
    const live = new LiveStatus({
      write: (text) => writes.push(text),
      counts: next,
      color: false,
      size: () => ({ columns: 80, rows: 24 }),
      now: () => clock.now,
    });
    live.start();
    assert.equal(writes.length, 1);
    assert.equal(
      writes[0],
      "factory-sim 0.0 s simulated: 1 factory, 0/1 lines done, 0/4 readings\n" +
        "F1  [--------] 0/4\n" +
        "rates: SENSOR_READINGS 0.0/s, SENSOR_HEARTBEAT 0.0/s\n" +
        "sink: console connected\n",
    );
    counts.factories[0].lines[0].count = 2;
    counts.produced = { SENSOR_READINGS: 2, SENSOR_HEARTBEAT: 5 };
    counts.elapsedMs = 1_000;
    await clock.tickAsync(499);
    assert.equal(writes.length, 1);
    await clock.tickAsync(1);
    assert.equal(writes.length, 2);
    // Cursor up over the 4 lines drawn, erase, then the new block.
    assert.ok(writes[1].startsWith(`${ESC}[4A\r${ESC}[J`), JSON.stringify(writes[1]));
    assert.match(writes[1], /F1 {2}\[####----\] 2\/4/);
    assert.match(writes[1], /rates: SENSOR_READINGS 4\.0\/s, SENSOR_HEARTBEAT 10\.0\/s/);
    live.log("warning: something happened\n");
    assert.ok(writes[2].startsWith(`${ESC}[4A\r${ESC}[Jwarning: something happened\nfactory-sim 1.0 s`));
    live.stop();
    assert.equal(writes.at(-1), `${ESC}[4A\r${ESC}[J`);
    assert.equal(clock.countTimers(), 0);
    live.log("info: after\n");
    assert.equal(writes.at(-1), "info: after\n");
  } finally {
    clock.uninstall();
  }
});

Deno.test("the updater averages the rates over the last 5 s of wall time", () => {
  let nowMs = 0;
  const { counts, next } = fakeCounts();
  const writes: string[] = [];
  const live = new LiveStatus({
    write: (text) => writes.push(text),
    counts: next,
    color: false,
    size: () => ({ columns: 80, rows: 24 }),
    now: () => nowMs,
  });
  // Called directly: no timer runs without start().
  for (let second = 1; second <= 10; second++) {
    nowMs = second * 1000;
    counts.produced = { SENSOR_READINGS: second <= 5 ? second * 100 : 500 + (second - 5) * 10, SENSOR_HEARTBEAT: 0 };
    live.redraw();
  }
  assert.match(writes.at(-1)!, /rates: SENSOR_READINGS 10\.0\/s, SENSOR_HEARTBEAT 0\.0\/s/);
  live.stop();
});

Deno.test("the updater fits the terminal: narrower lines and fewer factories on a small one", () => {
  const writes: string[] = [];
  const live = new LiveStatus({
    write: (text) => writes.push(text),
    counts: () => ({
      factories: Array.from({ length: 30 }, (_, i) => ({ id: `F${i + 1}`, lines: [{ count: 1, total: 2 }] })),
      produced: {},
      sink: { state: "fallback" },
      elapsedMs: 0,
    }),
    color: true,
    size: () => ({ columns: 30, rows: 12 }),
  });
  live.redraw();
  const lines = writes[0].trimEnd().split("\n");
  assert.equal(lines.length, 1 + 7 + 1 + 2);
  for (const line of lines) assert.ok(line.replace(/\x1b\[\d+m/g, "").length <= 29, line);
  live.stop();
});

Deno.test("a terminal that reports no size is taken as 80x24", () => {
  const writes: string[] = [];
  const live = new LiveStatus({
    write: (text) => writes.push(text),
    counts: fakeCounts().next,
    color: false,
    size: () => ({ columns: 0, rows: 0 }),
  });
  live.redraw();
  assert.match(
    writes[0],
    /^factory-sim 0\.0 s simulated: 1 factory, 0\/1 lines done, 0\/4 readings\nF1 {2}\[-{8}\] 0\/4\n/,
  );
  live.stop();
});

Deno.test("the run's counts come from the summary's accumulators: each line's count in its batch", async () => {
  const plant = plantOf(SAMPLE_CONFIG, { factoryCount: 2 });
  const summary = new RunSummary(allLines(plant), DEFAULT_TOPICS);
  const counts = runCounts(plant, summary, {
    sink: () => ({ state: "connected", name: "memory" }),
    elapsedMs: () => 1_000,
  });
  const before = counts();
  assert.deepEqual(before.factories.map((f) => f.id), ["F1", "F2"]);
  assert.ok(before.factories.every((f) => f.lines.every((line) => line.count === 0)));
  await runVirtual(plant, { onBatch: (events) => summary.add(events) });
  const after = counts();
  assert.deepEqual(
    after.factories.flatMap((f) => f.lines.map((line) => line.count)),
    allLines(plant).map((line) => line.total),
  );
  assert.equal(after.produced[DEFAULT_TOPICS.readings], summary.readings);
  assert.equal(after.elapsedMs, 1_000);
});
