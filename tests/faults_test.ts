/**
 * Faults on virtual time: each kind's effect on readings and heartbeats, its label header, the
 * start and end labels, random faults by rate, and seeded reproducibility with faults on.
 */
import assert from "node:assert/strict";
import type { FactoryConfig } from "../lib/config.ts";
import type { FaultConfig } from "../lib/fault_config.ts";
import type { FaultLabel } from "../lib/faults.ts";
import { toRecords } from "../lib/messages.ts";
import type { Heartbeat, Reading, SimEvent } from "../lib/simulation.ts";
import { plantOf, runVirtual, START_MS } from "./_helpers.ts";

/** One factory, one line of 60 readings on S1-1 with `faults`, gaussian values with no spread. */
function config(faults: FaultConfig[], lines = 1): FactoryConfig {
  return {
    F1: Array.from({ length: lines }, (_, i) => ({
      sodaName: `Soda${i}`,
      number: 60,
      sensorID: `S1-${i + 1}`,
      signal: { type: "gaussian" as const, setpoint: 50, sigma: 0 },
      ...(i === 0 ? { faults } : {}),
    })),
  };
}

async function run(faults: FaultConfig[], seed = 3) {
  const { events, result } = await runVirtual(plantOf(config(faults), { seed, factoryCount: 1 }), { seed });
  const readings = events.filter((e): e is Reading => e.kind === "reading" && e.sensorId === "S1-1");
  const heartbeats = events.filter((e): e is Heartbeat => e.kind === "heartbeat" && e.sensorId === "S1-1");
  const labels = events.filter((e): e is FaultLabel => e.kind === "label");
  return { events, readings, heartbeats, labels, result };
}

/** The simulated window [from, to) of the first fault, from its labels. */
function window(labels: FaultLabel[]): { from: number; to: number } {
  const start = labels.find((l) => l.event === "start")!;
  const end = labels.find((l) => l.event === "end" && l.faultId === start.faultId)!;
  return { from: start.timeMs, to: end.timeMs };
}

const inside = (w: { from: number; to: number }, t: number) => t >= w.from && t < w.to;

Deno.test("each fault kind changes what it should, only while active, and labels it", async (t) => {
  const at = "60s";
  const span = "40s";
  const cases: [FaultConfig["kind"], (r: ReturnType<typeof run> extends Promise<infer R> ? R : never) => void][] = [
    ["spike", ({ readings, labels }) => {
      const w = window(labels);
      for (const r of readings) assert.equal(r.reading, inside(w, r.timeMs) ? 75 : 50);
    }],
    ["dip", ({ readings, labels }) => {
      const w = window(labels);
      for (const r of readings) assert.equal(r.reading, inside(w, r.timeMs) ? 25 : 50);
    }],
    ["out_of_range", ({ readings, labels }) => {
      const w = window(labels);
      for (const r of readings) assert.equal(r.reading, inside(w, r.timeMs) ? 110 : 50);
    }],
    ["dropout", ({ readings, heartbeats, labels }) => {
      const w = window(labels);
      assert.ok(readings.every((r) => !inside(w, r.timeMs)), "no readings inside the window");
      const counts = readings.map((r) => r.count);
      assert.ok(counts.length < 60 && counts.at(-1) === 60, "the count goes on: consumers see the gap");
      assert.ok(heartbeats.some((h) => inside(w, h.timeMs)), "heartbeats go on");
    }],
    ["offline", ({ readings, heartbeats, labels }) => {
      const w = window(labels);
      assert.ok(heartbeats.every((h) => !inside(w, h.timeMs)), "no heartbeats while offline");
      assert.ok(readings.every((r) => !inside(w, r.timeMs)), "nor readings");
      const gaps = heartbeats.slice(1).map((h, i) => h.timeMs - heartbeats[i].timeMs);
      assert.ok(Math.max(...gaps) >= 40_000, "a heartbeat gap of the fault's length");
    }],
    ["duplicate", ({ readings, labels }) => {
      const w = window(labels);
      const doubled = readings.filter((r) => inside(w, r.timeMs));
      assert.ok(doubled.length >= 2);
      for (let i = 0; i < doubled.length; i += 2) assert.deepEqual(doubled[i], doubled[i + 1]);
      assert.equal(readings.length, 60 + doubled.length / 2);
    }],
    ["late", ({ events, labels }) => {
      const w = window(labels);
      const late = events.filter((e): e is Reading => e.kind === "reading" && e.fault === "late");
      assert.ok(late.length > 0);
      for (const r of late) assert.ok(inside(w, r.timeMs + 300_000) && !inside(w, r.timeMs), "stamped 5 min early");
    }],
  ];
  for (const [kind, check] of cases) {
    await t.step(kind, async () => {
      const result = await run([{ kind, at, for: span }]);
      assert.equal(result.labels.length, 2, "a start and an end label");
      const w = window(result.labels);
      assert.equal(w.from, START_MS + 60_000);
      assert.equal(w.to, START_MS + 100_000);
      assert.deepEqual(
        result.labels.map((l) => [l.event, l.fault, l.faultId, l.factoryId, l.sensorId, l.sodaName]),
        [["start", kind, "F1/0/0#1", "F1", "S1-1", "Soda0"], ["end", kind, "F1/0/0#1", "F1", "S1-1", "Soda0"]],
      );
      for (const r of result.readings) {
        const labelled = r.fault !== undefined;
        const shaped = kind === "late" ? inside(w, r.timeMs + 300_000) : inside(w, r.timeMs);
        assert.equal(labelled, shaped, `reading ${r.count} labelled only inside the fault`);
        if (labelled) assert.equal(r.fault, kind);
      }
      check(result);
    });
  }
});

Deno.test("stuck holds the last value before the fault", async () => {
  const { events } = await runVirtual(
    plantOf({
      F1: [{ sodaName: "Cola", number: 60, sensorID: "S1-1", faults: [{ kind: "stuck", at: "60s", for: "40s" }] }],
    }, {
      seed: 4,
      factoryCount: 1,
    }),
    { seed: 4 },
  );
  const readings = events.filter((e): e is Reading => e.kind === "reading");
  const stuck = readings.filter((r) => r.fault === "stuck");
  assert.ok(stuck.length >= 2);
  const before = readings[readings.indexOf(stuck[0]) - 1];
  assert.ok(stuck.every((r) => r.reading === before.reading), "frozen at the value before");
  const after = readings.slice(readings.indexOf(stuck.at(-1)!) + 1);
  assert.ok(after.some((r) => r.reading !== before.reading), "moves again after");
});

Deno.test("random faults come at their rate per hour and each ends", async () => {
  const plant = plantOf(
    {
      F1: [{
        sodaName: "Cola",
        number: 5_000,
        sensorID: "S1-1",
        faults: [{ kind: "spike", perHour: 6, for: "1m" }],
      }],
    },
    { seed: 5, factoryCount: 1 },
  );
  const { events, result } = await runVirtual(plant, { seed: 5 });
  const labels = events.filter((e): e is FaultLabel => e.kind === "label");
  const starts = labels.filter((l) => l.event === "start");
  const hours = (result.endMs - result.startMs) / 3_600_000;
  // A Poisson process at 6 per hour, each fault 1 min long: about 6 / 1.1 starts an hour.
  const rate = starts.length / hours;
  assert.ok(rate > 4 && rate < 6.5, `${starts.length} faults over ${hours.toFixed(1)} h: ${rate.toFixed(2)} per hour`);
  assert.equal(labels.filter((l) => l.event === "end").length, starts.length, "every start has its end");
  assert.equal(new Set(starts.map((l) => l.faultId)).size, starts.length, "distinct fault ids");
});

Deno.test("defaults apply to every line that sets nothing; a line's own settings win", async () => {
  const plant = plantOf(config([{ kind: "dip", at: "10s", for: "5m" }], 2), { seed: 6, factoryCount: 1 });
  const { events } = await runVirtual(plant, {
    seed: 6,
    defaults: { signal: { type: "gaussian", setpoint: 20, sigma: 0 }, faults: [{ kind: "offline", at: "1s" }] },
  });
  const readings = events.filter((e): e is Reading => e.kind === "reading");
  assert.ok(readings.filter((r) => r.sensorId === "S1-1").some((r) => r.fault === "dip"), "line 1: its own fault");
  assert.ok(readings.filter((r) => r.sensorId === "S1-1").every((r) => r.reading === 50 || r.reading === 25));
  const labels = events.filter((e): e is FaultLabel => e.kind === "label");
  assert.ok(labels.some((l) => l.sensorId === "S1-2" && l.fault === "offline"), "line 2: the default fault");
});

Deno.test("a seeded run with faults and signals is reproducible; a config without them is unchanged", async () => {
  const faulty = config([{ kind: "spike", perHour: 30 }, { kind: "late", at: "30s" }], 3);
  const a = await runVirtual(plantOf(faulty, { seed: 9, factoryCount: 1 }), { seed: 9 });
  const b = await runVirtual(plantOf(faulty, { seed: 9, factoryCount: 1 }), { seed: 9 });
  assert.deepEqual(a.events, b.events);
  // Faults never move a reading in time: the same line without them has the same schedule.
  const plain = config([], 3);
  const c = await runVirtual(plantOf(plain, { seed: 9, factoryCount: 1 }), { seed: 9 });
  const times = (events: SimEvent[]) =>
    new Map(
      events.filter((e): e is Reading => e.kind === "reading" && !e.fault?.includes("late"))
        .map((e) => [`${e.sodaName}#${e.count}`, e.timeMs]),
    );
  const plainTimes = times(c.events);
  for (const [id, timeMs] of times(a.events)) assert.equal(timeMs, plainTimes.get(id), `${id} at the same time`);
});

Deno.test("labels become records only with a labels topic; faulty readings carry a fault header", async () => {
  const { events } = await run([{ kind: "stuck", at: "20s", for: "30s" }]);
  const topics = { readings: "R", heartbeats: "H" };
  assert.ok(toRecords(events, topics).every((r) => r.topic !== "L"));
  const records = toRecords(events, { ...topics, labels: "L" });
  const labels = records.filter((r) => r.topic === "L");
  assert.equal(labels.length, 2);
  assert.deepEqual(Object.keys(JSON.parse(String(labels[0].value))), [
    "faultId",
    "fault",
    "event",
    "factoryId",
    "sensorId",
    "sodaName",
    "timestamp",
  ]);
  assert.equal(labels[0].headers?.["message-type"], "factory-sim.fault.v1");
  const stuck = records.filter((r) => r.headers?.fault === "stuck");
  assert.ok(stuck.length > 0 && stuck.every((r) => r.topic === "R"));
});

Deno.test("an offline sensor sends nothing, even while a duplicate fault overlaps", async () => {
  const { readings, labels } = await run([
    { kind: "offline", at: "60s", for: "40s" },
    { kind: "duplicate", at: "60s", for: "40s" },
  ]);
  const w = window(labels);
  assert.ok(readings.every((r) => !inside(w, r.timeMs)), "no readings while offline");
});
