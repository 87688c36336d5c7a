/**
 * `--rate N`: the plant's own rate and the speed it gives (lib/pacing.ts), a run paced by it on
 * the scheduler's clock driven by fake timers, and the CLI: the same records as at the speed it
 * implies (live and a backfill), the summary's target against the rate achieved, and the refusals.
 */
import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import { ExitCode } from "../lib/errors.ts";
import { describePace, MEAN_HEARTBEAT_MS, MEAN_READING_MS, paceFor, plantRate, roundSpeed } from "../lib/pacing.ts";
import { allLines, allSensors, buildPlant } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import { Scheduler } from "../lib/scheduler.ts";
import { runSimulation, type SimEvent } from "../lib/simulation.ts";
import type { SummaryDocument } from "../lib/summary.ts";
import { resetLogging } from "../lib/log.ts";
import { main } from "../main.ts";
import { plantOf, SAMPLE_CONFIG, START_MS, textCollector } from "./_helpers.ts";
import { runCli } from "./_kafka.ts";

const SAMPLE = new URL("../factory_config.json", import.meta.url).pathname;

Deno.test("a plant's own rate: a heartbeat every 1.5 s a sensor and a reading every 3.5 s a line, on average", async (t) => {
  assert.equal(MEAN_HEARTBEAT_MS, 1_500);
  assert.equal(MEAN_READING_MS, 3_500);
  const plant = plantOf(SAMPLE_CONFIG, { seed: 42 });
  const sensors = allSensors(plant).length;
  const lines = allLines(plant);
  assert.equal(sensors, 12);
  assert.equal(lines.length, 8);

  await t.step("continuous and unlimited: the steady rate", () => {
    const { perSecond, spanMs } = plantRate(plant, { continuous: true, limitMs: undefined });
    assert.equal(spanMs, undefined);
    assert.equal(perSecond, 12 / 1.5 + 8 / 3.5);
  });
  await t.step("lines that end: the mean over the time the longest is expected to take", () => {
    const { perSecond, spanMs } = plantRate(plant, { continuous: false, limitMs: undefined });
    // The longest line (Pepsi) takes 12 readings: 42 s expected.
    assert.equal(spanMs, 42_000);
    const readings = lines.reduce((n, line) => n + line.total, 0);
    assert.equal(readings, 62);
    assert.equal(perSecond, (12 * 42_000 / 1_500 + readings) / 42);
  });
  await t.step("a limit sooner than the lines' end cuts the span and their readings", () => {
    const { perSecond, spanMs } = plantRate(plant, { continuous: false, limitMs: 7_000 });
    assert.equal(spanMs, 7_000);
    assert.equal(perSecond, (12 * 7_000 / 1_500 + 8 * 2) / 7);
  });
  await t.step("a plant without lines heartbeats for ever", () => {
    const idle = plantOf({}, { seed: 42, factoryCount: 2 });
    const { perSecond, spanMs } = plantRate(idle, { continuous: false, limitMs: undefined });
    assert.equal(spanMs, undefined);
    assert.equal(perSecond, allSensors(idle).length / 1.5);
  });
  await t.step("the speed is the rate over the plant's, to 4 significant digits, and the start line says both", () => {
    const pace = paceFor(plant, 5_000, { continuous: true, limitMs: 3_600_000 });
    assert.equal(pace.speed, roundSpeed(5_000 / pace.naturalRate));
    assert.equal(pace.speed, 486.1);
    assert.equal(
      describePace(pace),
      "rate 5000 records/s: speed 486.1 (the plant makes about 10.3 records a simulated second, about 7.4 s of wall time)",
    );
    const wall = (rate: number) => /, about ([^,]+) of wall time/.exec(describePace(paceFor(plant, rate, hour)))?.[1];
    const hour = { continuous: true, limitMs: 3_600_000 };
    assert.equal(wall(10_000_000), "4 ms");
    assert.equal(wall(100), "370 s");
    assert.equal(wall(20), "31 min");
    assert.equal(wall(0.5), "20.6 h");
    assert.equal(wall(0.01), "42.9 d");
    assert.equal(describePace(paceFor(plant, 5_000, { continuous: true, limitMs: undefined })).includes("wall"), false);
    assert.equal(roundSpeed(1 / 3), 0.3333);
    assert.equal(roundSpeed(123_456), 123_500);
    assert.equal(roundSpeed(1e-8 / 3), 3.333e-9);
  });
});

/** Runs `plant` on real time at `--rate`'s speed with a fake wall clock: the events of each wall second. */
async function pacedRun(
  { factories, rate, wallSeconds, continuous }: {
    factories: number;
    rate: number;
    wallSeconds: number;
    continuous: boolean;
  },
): Promise<{ perSecond: number[]; events: SimEvent[]; speed: number; endMs: number }> {
  const plant = buildPlant(SAMPLE_CONFIG, { factoryCount: factories, rng: new Rng(11), generate: {} }).plant;
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"], now: 0 });
  try {
    const pace = paceFor(plant, rate, { continuous, limitMs: undefined });
    const scheduler = new Scheduler({ startMs: START_MS, speed: pace.speed, wallClock: () => clock.now });
    const perSecond: number[] = [];
    const events: SimEvent[] = [];
    const stop = new AbortController();
    const done = runSimulation(plant, {
      scheduler,
      rng: new Rng(11),
      continuous,
      signal: stop.signal,
      emit: (batch) => {
        const second = Math.floor(clock.now / 1_000);
        perSecond[second] = (perSecond[second] ?? 0) + batch.length;
        events.push(...batch);
      },
    });
    await clock.tickAsync(wallSeconds * 1_000 - 1);
    stop.abort();
    await clock.tickAsync(10);
    const result = await done;
    return { perSecond: Array.from(perSecond, (n) => n ?? 0), events, speed: pace.speed, endMs: result.endMs };
  } finally {
    clock.uninstall();
  }
}

Deno.test("on the scheduler's clock, a continuous run at --rate's speed makes that many records each wall second", async () => {
  // 40 factories (the sample's 3, 37 generated): about 150 records a simulated second, paced to 1000.
  const { perSecond, events, speed, endMs } = await pacedRun({
    factories: 40,
    rate: 1_000,
    wallSeconds: 30,
    continuous: true,
  });
  assert.ok(speed > 5 && speed < 8, `speed ${speed}`);
  assert.equal(perSecond.length, 30);
  // The first second has every sensor's first heartbeat, due at the start together.
  const steady = perSecond.slice(1);
  const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
  assert.ok(Math.abs(mean - 1_000) / 1_000 < 0.02, `mean ${mean.toFixed(1)} records a wall second`);
  // Over the whole run too: the first heartbeats' burst about cancels the first readings' delay.
  const all = perSecond.reduce((a, b) => a + b, 0) / perSecond.length;
  assert.ok(Math.abs(all - 1_000) / 1_000 < 0.02, `over the run ${all.toFixed(1)} records a wall second`);
  for (const [i, n] of steady.entries()) {
    assert.ok(Math.abs(n - 1_000) / 1_000 < 0.1, `wall second ${i + 1}: ${n} records`);
  }
  // Simulated time went at the speed: 30 wall seconds are 30 * speed simulated ones.
  // (to within the last event's due time: the run stopped between two of them).
  assert.ok(Math.abs((endMs - START_MS) - 30_000 * speed) <= 1_000, `simulated ${endMs - START_MS} ms`);
  // Every record keeps its simulated timestamp: what a virtual run of the same plant makes, in order.
  const heartbeat = events.find((event) => event.kind === "heartbeat");
  assert.equal(heartbeat?.timeMs, START_MS);
});

Deno.test("on the scheduler's clock, twice the rate is twice the records a wall second and the same records", async () => {
  const slow = await pacedRun({ factories: 10, rate: 200, wallSeconds: 20, continuous: true });
  const fast = await pacedRun({ factories: 10, rate: 400, wallSeconds: 10, continuous: true });
  assert.ok(Math.abs(fast.speed / slow.speed - 2) < 0.001, `${fast.speed} / ${slow.speed}`);
  const slowMean = slow.perSecond.slice(1).reduce((a, b) => a + b, 0) / (slow.perSecond.length - 1);
  const fastMean = fast.perSecond.slice(1).reduce((a, b) => a + b, 0) / (fast.perSecond.length - 1);
  assert.ok(Math.abs(fastMean / slowMean - 2) < 0.05, `${fastMean} / ${slowMean}`);
  // The same simulated span, so the same events: the speed does not change the records.
  const common = Math.min(slow.endMs, fast.endMs) - 2_000;
  const upTo = (events: SimEvent[]) => JSON.stringify(events.filter((event) => event.timeMs < common));
  assert.equal(upTo(fast.events), upTo(slow.events));
});

/** Runs `main` in-process, launched at `START_MS`: its exit code, stdout and stderr. */
async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = textCollector();
  let stderr = "";
  try {
    const code = await main(args, {
      env: {},
      stdout: stdout.stream,
      writeStderr: (line) => stderr += line,
      now: () => START_MS,
    });
    return { code, stdout: stdout.text(), stderr };
  } finally {
    await resetLogging();
  }
}

async function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir();
  try {
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a seeded --rate run writes the records of the same run at the speed it implies, and its summary the rate achieved", async () => {
  await withTempDir(async (dir) => {
    const base = ["--sink", "console", "--config", SAMPLE, "--seed", "42", "--continuous", "--duration", "10m"];
    const rated = await runMain([...base, "--rate", "20000", "--summary-json", `${dir}/rated.json`]);
    assert.equal(rated.code, ExitCode.ok, rated.stderr);
    const start =
      /^info: 3 factories, 12 sensors, 8 lines; seed 42; rate 20000 records\/s: speed ([\d.]+) \(the plant makes about 10\.3 records a simulated second, about [\d.]+ s of wall time\); duration 10 min; continuous$/m
        .exec(rated.stderr);
    assert.ok(start, rated.stderr);
    const speed = start[1];
    assert.equal(Number(speed), 1944);
    assert.match(rated.stderr, /^info: summary: rate \d+ records\/s achieved, \d+% of --rate 20000 \(speed 1944\)$/m);

    const sped = await runMain([...base, "--speed", speed, "--summary-json", `${dir}/sped.json`]);
    assert.equal(sped.code, ExitCode.ok, sped.stderr);
    assert.ok(rated.stdout.length > 0);
    assert.equal(rated.stdout, sped.stdout, "the same records");

    const ratedSummary: SummaryDocument = JSON.parse(await Deno.readTextFile(`${dir}/rated.json`));
    const spedSummary: SummaryDocument = JSON.parse(await Deno.readTextFile(`${dir}/sped.json`));
    assert.equal(ratedSummary.speed, 1944);
    assert.equal(spedSummary.speed, 1944);
    assert.equal(spedSummary.rate, null);
    assert.ok(ratedSummary.rate);
    assert.equal(ratedSummary.rate.target, 20_000);
    // 12 sensors' heartbeats (every 1.5 s) and 8 lines' readings (every 3.5 s).
    assert.equal(ratedSummary.rate.plantRate, Math.round((12 / 1.5 + 8 / 3.5) * 1000) / 1000);
    const produced = Object.values(ratedSummary.topics).reduce((a, b) => a + b, 0);
    // Records produced over the wall time (which the document rounds to milliseconds).
    const { achieved } = ratedSummary.rate;
    assert.ok(Math.abs(achieved - produced / ratedSummary.wallSeconds) / achieved < 0.01, `${achieved}`);
  });
});

Deno.test("a backfill with --rate runs on a real clock at that rate, and writes what the backfill as fast as possible does", async () => {
  await withTempDir(async (dir) => {
    const base = ["--sink", "console", "--config", SAMPLE, "--seed", "5", "--backfill", "2025-12-01..2025-12-02"];
    const paced = await runMain([...base, "--rate", "5000", "--summary-json", `${dir}/paced.json`]);
    assert.equal(paced.code, ExitCode.ok, paced.stderr);
    assert.match(
      paced.stderr,
      /^info: 3 factories, 12 sensors, 8 lines; seed 5; backfill from 2025-12-01T00:00:00\.000Z to 2025-12-02T00:00:00\.000Z; rate 5000 records\/s: speed [\d.]+ \(the plant makes about [\d.]+ records a simulated second, about 80 ms of wall time\)$/m,
    );
    assert.match(paced.stderr, /^info: done: backfill from 2025-12-01T00:00:00\.000Z to /m);
    const fast = await runMain(base);
    assert.equal(fast.code, ExitCode.ok, fast.stderr);
    assert.equal(paced.stdout.split("\n").filter(Boolean).length, 384);
    assert.equal(paced.stdout, fast.stdout, "the same records");
    const summary: SummaryDocument = JSON.parse(await Deno.readTextFile(`${dir}/paced.json`));
    assert.ok(summary.speed !== null && summary.speed > 100, `speed ${summary.speed}`);
    assert.equal(summary.rate?.target, 5000);
    assert.ok(summary.backfill);
    // Paced, not as fast as possible: 384 records at 5000 a second take about 70 ms of wall time at least.
    assert.ok(summary.wallSeconds >= 0.05, `${summary.wallSeconds} s`);
  });
});

Deno.test("--rate is refused with --speed and --shard, and out of range: one line, exit 2", async (t) => {
  const cases: [string[], string][] = [
    [["--rate", "100", "--speed", "2"], "--rate takes no --speed"],
    [["--rate", "100", "--backfill", "1d", "--speed", "2"], "--rate takes no --speed"],
    [["--rate", "100", "--shard", "1/2"], "--rate takes no --shard"],
    [["--rate", "0"], "--rate must be a number of records a second from 0.01 to 10000000"],
    [["--rate", "fast"], "--rate must be a number of records a second from 0.01 to 10000000"],
    [["--rate", "\x1b[31m"], '--rate must be a number of records a second from 0.01 to 10000000: got "\\u001b[31m"'],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stdout, stderr } = await runMain(["--sink", "console", ...args]);
      assert.equal(code, ExitCode.usage);
      assert.equal(stdout, "");
      assert.equal(stderr.split("\n").length, 2, stderr);
      assert.ok(stderr.startsWith(`error: ${message}`), stderr);
    });
  }
  await t.step("the program itself: exit 2, one line", async () => {
    const { code, stdout, stderr } = await runCli(["--sink", "console", "--rate", "5000", "--speed", "10"]);
    assert.equal(code, ExitCode.usage);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      "error: --rate takes no --speed: the run's speed is the rate over the plant's own records a second\n",
    );
  });
});
