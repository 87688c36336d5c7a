import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import { allLines, allSensors, buildPlant, type Plant } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import { Scheduler } from "../lib/scheduler.ts";
import {
  type Heartbeat,
  HEARTBEAT_INTERVAL_MS,
  LINES_DONE_HORIZON_MS,
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

/** Runs `plant` on virtual time with the time-control options of `runSimulation`. */
async function runTimed(
  plant: Plant,
  { seed = 1, startMs = START_MS, untilMs, continuous }: {
    seed?: number;
    startMs?: number;
    untilMs?: number;
    continuous?: boolean;
  },
) {
  const scheduler = new Scheduler({ startMs, mode: "virtual" });
  const events: SimEvent[] = [];
  const batches: SimEvent[][] = [];
  const result = await runSimulation(plant, {
    scheduler,
    rng: new Rng(seed),
    untilMs,
    continuous,
    emit: (batch) => {
      batches.push(batch);
      events.push(...batch);
    },
  });
  return { events, batches, result, scheduler };
}

Deno.test("a run with an end stops when simulated time reaches it, before anything due then", async (t) => {
  const config = { F1: [{ sodaName: "Cola", number: 1_000, sensorID: "S1-1" }] };
  const plant = plantOf(config, { factoryCount: 2, seed: 4 });
  const unlimited = (await runVirtual(plant, { seed: 4 })).events;

  await t.step("every event is before the end, and heartbeats run up to it", async () => {
    const untilMs = START_MS + 60_000;
    const { events, result, scheduler } = await runTimed(plant, { seed: 4, untilMs });
    assert.ok(events.every((event) => event.timeMs >= START_MS && event.timeMs < untilMs));
    for (const sensor of allSensors(plant)) {
      const last = heartbeatsOf(events).filter((h) => h.sensorId === sensor.sensorId).at(-1)!;
      assert.ok(untilMs - last.timeMs <= HEARTBEAT_INTERVAL_MS.max, `${sensor.sensorId} beats until the end`);
    }
    assert.deepEqual(
      { completed: result.completed, reachedEnd: result.reachedEnd, endMs: result.endMs },
      { completed: false, reachedEnd: true, endMs: untilMs },
    );
    assert.equal(scheduler.size, 0, "nothing is left on the queue");
  });
  await t.step("the events before the end are those of a run without one", async () => {
    // An end at a reading's exact time leaves that reading and everything after it out.
    const untilMs = readingsOf(unlimited)[9].timeMs;
    const { events } = await runTimed(plant, { seed: 4, untilMs });
    assert.deepEqual(events, unlimited.filter((event) => event.timeMs < untilMs));
    assert.equal(readingsOf(events).length, 9);
  });
  await t.step("lines that finish before the end end the run, as without one", async () => {
    const { events, result } = await runTimed(plantOf(SAMPLE_CONFIG), { untilMs: START_MS + 86_400_000 });
    assert.deepEqual(events, (await runVirtual(plantOf(SAMPLE_CONFIG))).events);
    assert.equal(result.completed, true);
    assert.equal(result.reachedEnd, false);
  });
});

Deno.test("the run ends at the last reading with everything due at that instant, whenever it was queued", async () => {
  // Each sensor's heartbeat times come from its own stream alone: every one up to and including
  // the last reading is emitted. Seeds are tried until a heartbeat falls on the last reading's
  // instant, the case that once depended on the order entries were queued in.
  const heartbeatTimes = (rng: Rng, sensorId: string, lastMs: number) => {
    const stream = rng.derive(`sensor/${sensorId}/heartbeat`);
    const times = [];
    for (let t = START_MS; t <= lastMs; t += stream.int(HEARTBEAT_INTERVAL_MS.min, HEARTBEAT_INTERVAL_MS.max)) {
      times.push(t);
    }
    return times;
  };
  let atTheEnd = 0;
  for (let seed = 1; seed <= 200 && atTheEnd === 0; seed++) {
    const plant = buildPlant({}, { factoryCount: 30, rng: new Rng(seed), generate: {} }).plant;
    const { events, result } = await runVirtual(plant, { seed });
    const lastMs = Math.max(...readingsOf(events).map((r) => r.timeMs));
    assert.equal(result.completed, true);
    assert.equal(result.endMs, lastMs);
    const beats = groupBy(heartbeatsOf(events), (h) => h.sensorId);
    for (const sensor of allSensors(plant)) {
      const expected = heartbeatTimes(new Rng(seed), sensor.sensorId, lastMs);
      assert.deepEqual(beats.get(sensor.sensorId)?.map((h) => h.timeMs), expected, `seed ${seed}: ${sensor.sensorId}`);
      if (expected.at(-1) === lastMs) atTheEnd++;
    }
  }
  assert.ok(atTheEnd > 0, "some heartbeat fell due at the last reading's instant");
});

Deno.test("the end of a plant's lines is found lazily, a line of 2^53-1 readings included", async (t) => {
  await t.step("lines longer than the look-ahead end the run at their last reading", async () => {
    const plant = plantOf({ F1: [{ sodaName: "Cola", number: 150, sensorID: "S1-1" }] }, { factoryCount: 2 });
    const { events, result } = await runVirtual(plant);
    const readings = readingsOf(events);
    assert.equal(readings.length, 150);
    assert.ok(readings.at(-1)!.timeMs - START_MS > 5 * LINES_DONE_HORIZON_MS);
    assert.deepEqual([result.completed, result.endMs], [true, readings.at(-1)!.timeMs]);
  });
  await t.step("a line that will not be done for ages costs nothing up front: the end comes first", async () => {
    const config = {
      F1: [{ sodaName: "Forever", number: Number.MAX_SAFE_INTEGER, sensorID: "S1-1" }],
      F2: [{ sodaName: "Short", number: 3, sensorID: "S2-1" }],
    };
    const untilMs = START_MS + 3_600_000;
    const { events, result } = await runTimed(plantOf(config), { untilMs });
    assert.deepEqual([result.completed, result.reachedEnd, result.endMs], [false, true, untilMs]);
    assert.equal(readingsOf(events).filter((r) => r.sodaName === "Short").length, 3);
  });
});

Deno.test("a shard ends when the whole plant's lines are done, its own or not", async () => {
  // F2 has lines and F1 none: shard 1/2 (F1) heartbeats until F2's last reading in shard 2/2.
  const config = { F1: [], F2: [{ sodaName: "Cola", number: 12, sensorID: "S2-1" }] };
  const shardOf = (index: number) =>
    buildPlant(config, { factoryCount: 2, rng: new Rng(1), shard: { index, count: 2 } }).plant;
  const whole = await runVirtual(plantOf(config, { factoryCount: 2 }));
  const [first, second] = [await runVirtual(shardOf(1)), await runVirtual(shardOf(2))];
  assert.equal(readingsOf(first.events).length, 0);
  for (const shard of [first, second]) {
    assert.deepEqual([shard.result.completed, shard.result.endMs], [true, whole.result.endMs]);
  }
  const sorted = (events: SimEvent[]) => events.map((event) => JSON.stringify(event)).sort();
  assert.deepEqual(sorted([...first.events, ...second.events]), sorted(whole.events));
});

Deno.test("continuous lines start a new batch of their number of readings, counted from 1 again", async (t) => {
  const plant = plantOf(SAMPLE_CONFIG, { seed: 3 });
  const untilMs = START_MS + 10 * 60_000;
  const { events, result } = await runTimed(plant, { seed: 3, untilMs, continuous: true });
  const byLine = groupBy(readingsOf(events), (r) => `${r.factoryId}/${r.sodaName}`);
  const once = groupBy(
    readingsOf((await runVirtual(plant, { seed: 3 })).events),
    (r) => `${r.factoryId}/${r.sodaName}`,
  );

  await t.step("counts run 1..total, then 1..total again; total stays the line's number", () => {
    assert.equal(byLine.size, 8);
    for (const line of allLines(plant)) {
      const readings = byLine.get(`${line.factoryId}/${line.sodaName}`)!;
      assert.ok(readings.length >= 3 * line.total, `${line.sodaName} ran several batches`);
      assert.deepEqual(readings.map((r) => r.count), readings.map((_, i) => (i % line.total) + 1), line.sodaName);
      assert.ok(readings.every((r) => r.total === line.total && r.sensorId === line.sensor.sensorId));
    }
  });
  await t.step("a new batch starts one reading interval after the last one", () => {
    for (const readings of byLine.values()) {
      const gaps = readings.slice(1).map((r, i) => r.timeMs - readings[i].timeMs);
      assert.ok(gaps.every((g) => g >= READING_INTERVAL_MS.min && g <= READING_INTERVAL_MS.max));
    }
  });
  await t.step("the first batch is the run without --continuous", () => {
    for (const [name, readings] of once) assert.deepEqual(byLine.get(name)!.slice(0, readings.length), readings, name);
  });
  await t.step("heartbeats go on, and the run ends at its end", () => {
    assert.deepEqual([result.completed, result.reachedEnd], [false, true]);
    const last = Math.max(...heartbeatsOf(events).map((h) => h.timeMs));
    assert.ok(last < untilMs && untilMs - last <= HEARTBEAT_INTERVAL_MS.max);
    assert.deepEqual(
      result.lines.map(({ taken }) => taken),
      allLines(plant).map((line) => byLine.get(`${line.factoryId}/${line.sodaName}`)!.length),
    );
  });
  await t.step("the same seed gives the same events", async () => {
    assert.deepEqual((await runTimed(plant, { seed: 3, untilMs, continuous: true })).events, events);
  });
  await t.step("without an end, a continuous run goes on until aborted", async () => {
    const controller = new AbortController();
    const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
    const result = await runSimulation(plant, {
      scheduler,
      rng: new Rng(3),
      continuous: true,
      signal: controller.signal,
      emit: (batch) => {
        if (batch[0].timeMs - START_MS >= 3_600_000) controller.abort("SIGTERM");
      },
    });
    assert.deepEqual([result.completed, result.reachedEnd], [false, false]);
    assert.ok(result.readings > 3_600 / 5 * 8, "an hour of readings from 8 lines");
  });
});

Deno.test("a run that starts in the past stays on virtual time from its start to its end", async () => {
  const fromMs = Date.UTC(2025, 10, 1);
  const untilMs = fromMs + 2 * 3_600_000;
  const plant = plantOf(SAMPLE_CONFIG, { seed: 8 });
  const wallStart = performance.now();
  const { events, batches } = await runTimed(plant, { seed: 8, startMs: fromMs, untilMs, continuous: true });
  assert.ok(performance.now() - wallStart < 10_000, "two simulated hours take seconds at most");
  assert.deepEqual(
    batches[0].map((event) => [event.kind, event.sensorId, event.timeMs]),
    allSensors(plant).map((sensor) => ["heartbeat", sensor.sensorId, fromMs]),
    "every sensor's first heartbeat at the start",
  );
  assert.ok(events.every((event) => event.timeMs >= fromMs && event.timeMs < untilMs));
  assert.ok(untilMs - events.at(-1)!.timeMs <= HEARTBEAT_INTERVAL_MS.max, "up to the end");
});

Deno.test("a 10,000-factory generated plant runs on virtual time, every sensor heartbeating", async () => {
  const rng = new Rng(10);
  const { plant } = buildPlant({}, { factoryCount: 10_000, rng, generate: {} });
  const sensors = allSensors(plant);
  assert.ok(sensors.length >= 30_000 && allLines(plant).length === sensors.length);
  const untilMs = START_MS + 5_000;
  const beats = new Map<string, number>();
  let readings = 0;
  let batches = 0;
  let lastBatchMs = -Infinity;
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const result = await runSimulation(plant, {
    scheduler,
    rng,
    untilMs,
    emit: (batch) => {
      batches++;
      // One batch for everything due at one time, in time order.
      assert.ok(batch.every((event) => event.timeMs === batch[0].timeMs) && batch[0].timeMs > lastBatchMs);
      lastBatchMs = batch[0].timeMs;
      for (const event of batch) {
        if (event.kind === "heartbeat") beats.set(event.sensorId, (beats.get(event.sensorId) ?? 0) + 1);
        else if (event.kind === "reading") readings++;
      }
    },
  });
  assert.equal(result.reachedEnd, true);
  assert.equal(beats.size, sensors.length, "every sensor heartbeats");
  assert.ok([...beats.values()].every((n) => n >= 3), "at the start and at least every 2 s");
  assert.ok(readings >= sensors.length, "every line took a reading");
  assert.ok(batches <= 5_001, "at most one batch per simulated millisecond");
});
