import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import { buildPlant } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import { Scheduler } from "../lib/scheduler.ts";
import {
  type Heartbeat,
  HEARTBEAT_INTERVAL_MS,
  type Reading,
  READING_INTERVAL_MS,
  runSimulation,
  type SimEvent,
} from "../lib/simulation.ts";
import { plantOf, runVirtual, SAMPLE_CONFIG, START_MS } from "./_helpers.ts";

const readingsOf = (events: SimEvent[]) => events.filter((e): e is Reading => e.kind === "reading");
const heartbeatsOf = (events: SimEvent[]) => events.filter((e): e is Heartbeat => e.kind === "heartbeat");

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...groups.get(k) ?? [], item]);
  }
  return groups;
}

Deno.test("every line takes exactly its number of readings, counted 1..total", async () => {
  const { events, result } = await runVirtual(plantOf(SAMPLE_CONFIG));
  const byLine = groupBy(readingsOf(events), (r) => `${r.factoryId}/${r.sodaName}`);
  const expected = Object.entries(SAMPLE_CONFIG).flatMap(([id, lines]) => lines.map((l) => [`${id}/${l.sodaName}`, l]));
  assert.equal(byLine.size, expected.length);
  for (const [name, line] of expected as [string, { number: number; sensorID: string }][]) {
    const readings = byLine.get(name)!;
    assert.deepEqual(readings.map((r) => r.count), Array.from({ length: line.number }, (_, i) => i + 1), name);
    assert.ok(readings.every((r) => r.total === line.number && r.sensorId === line.sensorID));
  }
  assert.equal(result.completed, true);
  assert.equal(result.readings, readingsOf(events).length);
});

Deno.test("readings are integers from 0 to 100 that use the whole range", async () => {
  const config = { F1: [{ sodaName: "Cola", number: 5_000, sensorID: "S1-1" }] };
  const { events } = await runVirtual(plantOf(config, { factoryCount: 1 }));
  const values = readingsOf(events).map((r) => r.reading);
  assert.ok(values.every((v) => Number.isInteger(v) && v >= 0 && v <= 100));
  assert.equal(Math.min(...values), 0);
  assert.equal(Math.max(...values), 100);
});

Deno.test("readings come 2-5 s apart, the first one interval after the start", async () => {
  const config = { F1: [{ sodaName: "Cola", number: 2_000, sensorID: "S1-1" }] };
  const { events } = await runVirtual(plantOf(config, { factoryCount: 1 }));
  const times = [START_MS, ...readingsOf(events).map((r) => r.timeMs)];
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  assert.ok(gaps.every((g) => g >= READING_INTERVAL_MS.min && g <= READING_INTERVAL_MS.max), "within bounds");
  assert.ok(Math.min(...gaps) < 2_100 && Math.max(...gaps) > 4_900, "spread over the whole interval");
});

Deno.test("every sensor heartbeats from the start, 1-2 s apart, until the last reading", async () => {
  const plant = plantOf(SAMPLE_CONFIG, { factoryCount: 4 });
  const { events, result } = await runVirtual(plant);
  const lastReading = Math.max(...readingsOf(events).map((r) => r.timeMs));
  const bySensor = groupBy(heartbeatsOf(events), (h) => h.sensorId);
  const sensors = plant.factories.flatMap((f) => f.sensors);
  assert.deepEqual([...bySensor.keys()].sort(), sensors.map((s) => s.sensorId).sort(), "F4 has no lines but beats");
  for (const [sensorId, beats] of bySensor) {
    assert.equal(beats[0].timeMs, START_MS, `${sensorId} beats at the start`);
    const gaps = beats.slice(1).map((b, i) => b.timeMs - beats[i].timeMs);
    assert.ok(gaps.every((g) => g >= HEARTBEAT_INTERVAL_MS.min && g <= HEARTBEAT_INTERVAL_MS.max), sensorId);
    assert.ok(beats.at(-1)!.timeMs <= lastReading, `${sensorId} stops with the last reading`);
    assert.ok(lastReading - beats.at(-1)!.timeMs <= HEARTBEAT_INTERVAL_MS.max, `${sensorId} beats until then`);
    assert.ok(
      beats.every((b) => b.status === "active" && b.tier === sensors.find((s) => s.sensorId === sensorId)!.tier),
    );
  }
  assert.equal(result.endMs, lastReading);
});

Deno.test("when the last line is done nothing is left on the timer queue", async () => {
  const { scheduler, result } = await runVirtual(plantOf(SAMPLE_CONFIG));
  assert.equal(result.completed, true);
  assert.equal(scheduler.size, 0);
});

Deno.test("events that fall due together are emitted as one batch, in time order", async () => {
  const { batches } = await runVirtual(plantOf(SAMPLE_CONFIG));
  assert.ok(batches[0].length > 1, "every sensor's first heartbeat is due at the start");
  assert.ok(batches[0].every((e) => e.timeMs === START_MS));
  const times = batches.map((b) => b[0].timeMs);
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  assert.ok(batches.every((b) => b.every((e) => e.timeMs === b[0].timeMs)));
});

Deno.test("an abort stops heartbeats and readings mid-run", async () => {
  const controller = new AbortController();
  const { events, result } = await runVirtual(plantOf(SAMPLE_CONFIG), {
    signal: controller.signal,
    onBatch: (batch) => {
      if (batch[0].timeMs - START_MS >= 10_000) controller.abort("SIGTERM");
    },
  });
  assert.equal(result.completed, false);
  assert.ok(events.every((e) => e.timeMs - START_MS <= 10_000 + HEARTBEAT_INTERVAL_MS.max));
  assert.ok(result.readings < 62);
});

Deno.test("a plant without lines heartbeats until aborted", async () => {
  const controller = new AbortController();
  const { events, result } = await runVirtual(plantOf({}), {
    signal: controller.signal,
    onBatch: (batch) => {
      if (batch[0].timeMs - START_MS >= 3_600_000) controller.abort("SIGINT");
    },
  });
  assert.equal(result.completed, false);
  assert.ok(heartbeatsOf(events).length > 3 * 3 * 1_800, "an hour of heartbeats from at least 9 sensors");
});

Deno.test("a seed gives the same events at every speed and in virtual time", async () => {
  const plant = plantOf(SAMPLE_CONFIG, { seed: 99 });
  const virtual = (await runVirtual(plant, { seed: 99 })).events;
  for (const speed of [1, 25, 1_000]) {
    const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"], now: 0, loopLimit: 100_000 });
    try {
      const scheduler = new Scheduler({ startMs: START_MS, speed, wallClock: () => clock.now });
      const events: SimEvent[] = [];
      const done = runSimulation(plant, { scheduler, rng: new Rng(99), emit: (batch) => void events.push(...batch) });
      await clock.runAllAsync();
      await done;
      assert.deepEqual(events, virtual, `speed ${speed}`);
    } finally {
      clock.uninstall();
    }
  }
});

Deno.test("a line's values and intervals do not depend on the rest of the plant", async () => {
  const cola = { sodaName: "Cola", number: 20, sensorID: "S1-1" };
  const alone = await runVirtual(buildPlant({ F1: [cola] }, { factoryCount: 1, rng: new Rng(5) }).plant, { seed: 5 });
  const crowded = await runVirtual(
    buildPlant({
      F1: [cola, { sodaName: "Lemon", number: 30, sensorID: "S1-2" }],
      F2: [{ sodaName: "Tonic", number: 40, sensorID: "S2-1" }],
    }, { factoryCount: 8, rng: new Rng(5) }).plant,
    { seed: 5 },
  );
  const colaOf = (events: SimEvent[]) => readingsOf(events).filter((r) => r.sodaName === "Cola");
  assert.deepEqual(colaOf(crowded.events), colaOf(alone.events));
});

Deno.test("another seed gives other values", async () => {
  const values = async (seed: number) =>
    readingsOf((await runVirtual(plantOf(SAMPLE_CONFIG, { seed }), { seed })).events).map((r) => r.reading);
  assert.notDeepEqual(await values(1), await values(2));
});
