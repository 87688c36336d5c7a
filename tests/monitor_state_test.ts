import assert from "node:assert/strict";
import {
  compareIds,
  factoryOf,
  type InRecord,
  MAX_ACTIVE_FAULTS,
  MonitorState,
  RECENT_READINGS,
} from "../lib/monitor/state.ts";

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

function label(
  event: "start" | "end",
  faultId: string,
  { topic = "L", fault = "stuck", sensorId = "S1-1", sodaName = "Cola", type = undefined as string | undefined } = {},
): InRecord {
  return {
    topic,
    value: JSON.stringify({
      faultId,
      fault,
      event,
      factoryId: factoryOf(sensorId),
      sensorId,
      sodaName,
      timestamp: "2026-01-01T00:00:01.000Z",
    }),
    timestampMs: T0,
    receivedMs: T0,
    ...(type === undefined ? {} : { type }),
  };
}

const WITH_LABELS = { readings: "R", heartbeats: "H", labels: "L" };

Deno.test("fault labels: a start is active until its end, by faultId; counted on the labels topic", () => {
  const monitor = new MonitorState(WITH_LABELS, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  assert.deepEqual(monitor.snapshot(T0).activeFaults, []);
  assert.ok(monitor.add(label("start", "F1/0/0#1")));
  assert.ok(monitor.add(label("start", "F2/1/0#1", { fault: "offline", sensorId: "S2-3", sodaName: "Lemon" })));
  assert.ok(monitor.add(label("start", "F1/0/1#1", { fault: "drift" })));
  assert.deepEqual(monitor.snapshot(T0).activeFaults, [
    {
      faultId: "F1/0/0#1",
      fault: "stuck",
      factoryId: "F1",
      sensorId: "S1-1",
      sodaName: "Cola",
      since: "2026-01-01T00:00:01.000Z",
    },
    {
      faultId: "F1/0/1#1",
      fault: "drift",
      factoryId: "F1",
      sensorId: "S1-1",
      sodaName: "Cola",
      since: "2026-01-01T00:00:01.000Z",
    },
    {
      faultId: "F2/1/0#1",
      fault: "offline",
      factoryId: "F2",
      sensorId: "S2-3",
      sodaName: "Lemon",
      since: "2026-01-01T00:00:01.000Z",
    },
  ]);
  assert.ok(monitor.add(label("end", "F1/0/0#1")));
  assert.ok(monitor.add(label("end", "F2/1/0#1", { fault: "offline", sensorId: "S2-3", sodaName: "Lemon" })));
  const snapshot = monitor.snapshot(T0);
  assert.deepEqual(snapshot.activeFaults.map((fault) => fault.faultId), ["F1/0/1#1"]);
  assert.deepEqual(snapshot.topics.L, { received: 5, rate: 0, invalid: 0 });
  // Labels alone make no sensors or lines.
  assert.deepEqual(snapshot.factories, []);
});

Deno.test("fault labels: an end without its start (a monitor that joined mid-fault) is valid and changes nothing", () => {
  const monitor = new MonitorState(WITH_LABELS, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  assert.ok(monitor.add(label("end", "F1/0/0#7")));
  const snapshot = monitor.snapshot(T0);
  assert.deepEqual(snapshot.activeFaults, []);
  assert.deepEqual(snapshot.topics.L, { received: 1, rate: 0, invalid: 0 });
});

Deno.test("fault labels not of the contract's shape are counted invalid on the labels topic and change nothing", () => {
  const monitor = new MonitorState(WITH_LABELS, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  const good = JSON.parse(label("start", "F1/0/0#1").value!);
  const bad = [
    "not json",
    null,
    JSON.stringify([good]),
    JSON.stringify({ ...good, faultId: "" }),
    JSON.stringify({ ...good, faultId: 7 }),
    JSON.stringify({ ...good, event: "begin" }),
    JSON.stringify({ ...good, fault: undefined }),
    JSON.stringify({ ...good, sensorId: null }),
    JSON.stringify({ ...good, sodaName: undefined }),
    JSON.stringify({ ...good, factoryId: 1 }),
    JSON.stringify({ ...good, timestamp: "yesterday" }),
  ];
  for (const value of bad) assert.equal(monitor.add({ topic: "L", value, timestampMs: T0, receivedMs: T0 }), false);
  const snapshot = monitor.snapshot(T0);
  assert.deepEqual(snapshot.topics.L, { received: bad.length, rate: 0, invalid: bad.length });
  assert.deepEqual(snapshot.activeFaults, []);
});

Deno.test("fault labels on a topic shared with readings and heartbeats: told apart by message-type, else by shape", () => {
  const shared = { readings: "T", heartbeats: "T", labels: "T" };
  const monitor = new MonitorState(shared, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  const onT = (record: InRecord, type?: string) => ({ ...record, topic: "T", ...(type ? { type } : {}) });
  assert.ok(monitor.add(onT(heartbeat("S1-1", T0), "factory-sim.heartbeat.v1")));
  assert.ok(monitor.add(onT(reading(1, 5, 3), "factory-sim.reading.v1")));
  assert.ok(monitor.add(label("start", "F1/0/0#1", { topic: "T", type: "factory-sim.fault.v1" })));
  // Without headers (another producer): a label by its faultId, a reading by its reading.
  assert.ok(monitor.add(label("start", "F1/0/1#1", { topic: "T" })));
  assert.ok(monitor.add(onT(reading(2, 5, 4))));
  assert.ok(monitor.add(onT(heartbeat("S1-1", T0 + 1_000))));
  // A label header on a bad label: invalid, not taken for a heartbeat.
  assert.equal(
    monitor.add({ topic: "T", value: "{}", timestampMs: T0, receivedMs: T0, type: "factory-sim.fault.v1" }),
    false,
  );
  const snapshot = monitor.snapshot(T0 + 1_000);
  assert.deepEqual(snapshot.activeFaults.map((fault) => fault.faultId), ["F1/0/0#1", "F1/0/1#1"]);
  assert.equal(snapshot.factories[0].sensors[0].heartbeats, 2);
  assert.equal(snapshot.factories[0].lines[0].received, 2);
  assert.deepEqual(snapshot.topics, { T: { received: 7, rate: 0, invalid: 1 } });

  // Without --labels-topic, a label on the readings topic is neither shown nor invalid (as before).
  const without = new MonitorState({ readings: "T", heartbeats: "T" }, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  assert.ok(without.add(label("start", "F1/0/0#1", { topic: "T", type: "factory-sim.fault.v1" })));
  assert.deepEqual(without.snapshot(T0).activeFaults, []);
  assert.deepEqual(without.snapshot(T0).topics.T, { received: 1, rate: 0, invalid: 0 });
});

Deno.test("fault labels: the labels topic shared with the readings topic only", () => {
  const monitor = new MonitorState({ readings: "R", heartbeats: "H", labels: "R" }, {
    lateAfterMs: 2_500,
    deadAfterMs: 5_000,
  });
  assert.ok(monitor.add(label("start", "F1/0/0#1", { topic: "R", type: "factory-sim.fault.v1" })));
  assert.ok(monitor.add({ ...reading(1, 5, 3), type: "factory-sim.reading.v1" }));
  // A heartbeat header on the readings topic: not a kind this topic carries here.
  assert.ok(monitor.add({ ...heartbeat("S1-1", T0), topic: "R", type: "factory-sim.heartbeat.v1" }));
  const snapshot = monitor.snapshot(T0);
  assert.equal(snapshot.activeFaults.length, 1);
  assert.equal(snapshot.factories[0].lines[0].received, 1);
  assert.deepEqual(snapshot.factories[0].sensors, []);
});

Deno.test("fault labels: starts never ended (a run killed) are kept up to MAX_ACTIVE_FAULTS, the oldest forgotten", () => {
  const monitor = new MonitorState(WITH_LABELS, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  for (let i = 0; i <= MAX_ACTIVE_FAULTS; i++) monitor.add(label("start", `F1/0/0#${i}`));
  const ids = monitor.snapshot(T0).activeFaults.map((fault) => fault.faultId);
  assert.equal(ids.length, MAX_ACTIVE_FAULTS);
  assert.ok(!ids.includes("F1/0/0#0"));
  assert.ok(ids.includes(`F1/0/0#${MAX_ACTIVE_FAULTS}`));
});
