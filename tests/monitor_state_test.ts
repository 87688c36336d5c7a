import assert from "node:assert/strict";
import { compareIds, factoryOf, type InRecord, MonitorState, RECENT_READINGS } from "../lib/monitor/state.ts";

const TOPICS = { readings: "R", heartbeats: "H" };
const T0 = Date.UTC(2026, 0, 1);

function heartbeat(sensorId: string, atMs: number, receivedMs = atMs): InRecord {
  return {
    topic: "H",
    value: JSON.stringify({ sensorId, tier: sensorId.slice(1).replace("-", "."), timestamp: "", status: "active" }),
    timestampMs: atMs,
    receivedMs,
  };
}

function reading(count: number, total: number, value: number, { sensorId = "S1-1", sodaName = "Cola" } = {}): InRecord {
  return {
    topic: "R",
    value: JSON.stringify({ factoryId: "F1", sensorId, tier: "1.1", sodaName, reading: value, count, total }),
    timestampMs: T0,
    receivedMs: T0,
  };
}

function state(lateAfterMs = 2_500, deadAfterMs = 5_000) {
  return new MonitorState(TOPICS, { lateAfterMs, deadAfterMs });
}

Deno.test("a sensor is alive, then late after late-after, then dead after dead-after without heartbeats", () => {
  const monitor = state();
  monitor.add(heartbeat("S1-1", T0));
  const statusAt = (ms: number) => monitor.snapshot(T0 + ms).factories[0].sensors[0].status;
  assert.equal(statusAt(0), "alive");
  assert.equal(statusAt(2_500), "alive");
  assert.equal(statusAt(2_501), "late");
  assert.equal(statusAt(5_000), "late");
  assert.equal(statusAt(5_001), "dead");
  monitor.add(heartbeat("S1-1", T0 + 6_000));
  assert.equal(statusAt(6_100), "alive");
});

Deno.test("tick reports each status change once, with the heartbeat's age", () => {
  const monitor = state();
  monitor.add(heartbeat("S1-2", T0));
  monitor.add(heartbeat("S1-1", T0));
  assert.deepEqual(monitor.tick(T0 + 100).map((c) => [c.sensorId, c.from, c.to]), [
    ["S1-1", "new", "alive"],
    ["S1-2", "new", "alive"],
  ]);
  assert.deepEqual(monitor.tick(T0 + 200), []);
  monitor.add(heartbeat("S1-2", T0 + 5_000));
  const changes = monitor.tick(T0 + 5_200);
  assert.deepEqual(changes.map((c) => [c.sensorId, c.from, c.to, c.lastHeartbeatAgeMs]), [
    ["S1-1", "alive", "dead", 5_200],
  ]);
  assert.equal(changes[0].factoryId, "F1");
});

Deno.test("uptime counts the time past dead-after in gaps and now as down", () => {
  const monitor = state();
  monitor.add(heartbeat("S1-1", T0));
  monitor.add(heartbeat("S1-1", T0 + 1_000));
  // A 15 s gap: 10 s of it past dead-after.
  monitor.add(heartbeat("S1-1", T0 + 16_000));
  const at20 = monitor.snapshot(T0 + 20_000).factories[0].sensors[0];
  assert.equal(at20.uptimePct, 50); // 10 s down of 20 s
  assert.equal(at20.heartbeats, 3);
  // Silent since 16 s: at 40 s, 19 s more are down (24 s of silence less 5 s).
  assert.equal(monitor.snapshot(T0 + 40_000).factories[0].sensors[0].uptimePct, 27.5);
});

Deno.test("a heartbeat stamped ahead of the monitor's clock (--speed above 1) ages from its arrival", () => {
  const monitor = state();
  monitor.add(heartbeat("S1-1", T0 + 60_000, T0));
  const sensor = monitor.snapshot(T0 + 5_001).factories[0].sensors[0];
  assert.equal(sensor.lastHeartbeatAgeMs, 5_001);
  assert.equal(sensor.status, "dead");
  // An old heartbeat (read --from-beginning) ages from its own time.
  const old = state();
  old.add(heartbeat("S1-1", T0 - 3_600_000, T0));
  assert.equal(old.snapshot(T0).factories[0].sensors[0].status, "dead");
});

Deno.test("a line's readings: received, expected, min/mean/max/last and recent values", () => {
  const monitor = state();
  for (const [count, value] of [[1, 10], [2, 30], [3, 20]]) monitor.add(reading(count, 5, value));
  const line = monitor.snapshot(T0, { recent: true }).factories[0].lines[0];
  assert.deepEqual(line, {
    factoryId: "F1",
    sensorId: "S1-1",
    sodaName: "Cola",
    received: 3,
    expected: 5,
    count: 3,
    total: 5,
    batches: 1,
    min: 10,
    mean: 20,
    max: 30,
    last: 20,
    missing: 0,
    duplicates: 0,
    recent: [10, 30, 20],
  });
  assert.equal(monitor.snapshot(T0).factories[0].lines[0].recent, undefined);
});

Deno.test("gaps in count are missing readings; the same count again is a duplicate", () => {
  const monitor = state();
  for (const count of [1, 2, 5, 5, 6]) monitor.add(reading(count, 8, count));
  const line = monitor.snapshot(T0).factories[0].lines[0];
  assert.equal(line.missing, 2); // 3 and 4
  assert.equal(line.duplicates, 1);
  assert.equal(line.received, 5);
});

Deno.test("a new batch (count going back): the unsent rest of the last one is missing", () => {
  const monitor = state();
  for (const count of [1, 2, 3]) monitor.add(reading(count, 4, 1));
  for (const count of [1, 2]) monitor.add(reading(count, 4, 1));
  const line = monitor.snapshot(T0).factories[0].lines[0];
  assert.equal(line.batches, 2);
  assert.equal(line.expected, 8);
  assert.equal(line.missing, 1);
  assert.equal(line.count, 2);
});

Deno.test("watching from the middle of a batch expects only what is left of it (from now), or all of it", () => {
  const monitor = state();
  monitor.add(reading(7, 10, 1));
  const line = monitor.snapshot(T0).factories[0].lines[0];
  assert.equal(line.expected, 4);
  assert.equal(line.missing, 0);
  // Read from the beginning, the readings before the first one seen never landed.
  const whole = state();
  whole.readFromBeginning(["R", "H"]);
  whole.add(reading(7, 10, 1));
  const all = whole.snapshot(T0).factories[0].lines[0];
  assert.equal(all.expected, 10);
  assert.equal(all.missing, 6);
});

Deno.test("records that are not readings or heartbeats are counted as invalid and ignored", () => {
  const monitor = state();
  monitor.add({ topic: "R", value: "not json", timestampMs: T0, receivedMs: T0 });
  monitor.add({ topic: "R", value: JSON.stringify({ factoryId: "F1" }), timestampMs: T0, receivedMs: T0 });
  monitor.add({ topic: "H", value: null, timestampMs: T0, receivedMs: T0 });
  monitor.add(heartbeat("S2-1", T0));
  const snapshot = monitor.snapshot(T0);
  assert.deepEqual(snapshot.topics, {
    R: { received: 2, rate: 0, invalid: 2 },
    H: { received: 2, rate: 0, invalid: 1 },
  });
  assert.deepEqual(snapshot.factories.map((f) => f.id), ["F2"]);
});

Deno.test("rates are records per second over the last five seconds", () => {
  const monitor = state();
  monitor.snapshot(T0);
  for (let i = 0; i < 20; i++) monitor.add(heartbeat("S1-1", T0 + i * 100));
  assert.equal(monitor.snapshot(T0 + 2_000).topics.H.rate, 10);
  assert.equal(monitor.snapshot(T0 + 10_000).topics.H.rate, 0);
});

Deno.test("the sensors by status, factories and sensors in numeric order, and a line keeps its last readings", () => {
  const monitor = state();
  for (const id of ["S10-1", "S2-10", "S2-2"]) monitor.add(heartbeat(id, T0));
  monitor.add(heartbeat("S1-1", T0 - 10_000));
  for (let count = 1; count <= RECENT_READINGS + 5; count++) monitor.add(reading(count, 100, count));
  const snapshot = monitor.snapshot(T0, { recent: true });
  assert.deepEqual(snapshot.sensors, { alive: 3, late: 0, dead: 1 });
  assert.deepEqual(snapshot.factories.map((f) => f.id), ["F1", "F2", "F10"]);
  assert.deepEqual(snapshot.factories[1].sensors.map((s) => s.sensorId), ["S2-2", "S2-10"]);
  assert.equal(snapshot.factories[0].lines[0].recent?.length, RECENT_READINGS);
  assert.equal(snapshot.factories[0].lines[0].recent?.at(-1), RECENT_READINGS + 5);
  assert.equal(factoryOf("S12-3"), "F12");
  assert.equal(factoryOf("pump-7"), "?");
  assert.ok(compareIds("F9", "F10") < 0);
});
