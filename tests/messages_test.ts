import assert from "node:assert/strict";
import { DEFAULT_TOPICS, recordBytes, recordsWithin, toRecord } from "../lib/messages.ts";
import { formatTimestamp } from "../lib/timestamps.ts";
import type { Heartbeat, Reading } from "../lib/simulation.ts";

const TIME = Date.UTC(2025, 11, 3, 14, 30, 45, 123);

Deno.test("a reading becomes a record keyed by sensor, fields in contract order", () => {
  const reading: Reading = {
    kind: "reading",
    factoryId: "F1",
    sensorId: "S1-1",
    tier: "1.1",
    sodaName: "Coca-Cola",
    reading: 42,
    count: 5,
    total: 10,
    timeMs: TIME,
  };
  assert.deepEqual(toRecord(reading, DEFAULT_TOPICS), {
    topic: "SENSOR_READINGS",
    key: "S1-1",
    value:
      '{"factoryId":"F1","sensorId":"S1-1","tier":"1.1","sodaName":"Coca-Cola","reading":42,"count":5,"total":10,"timestamp":"2025-12-03T14:30:45.123Z"}',
    timestampMs: TIME,
    headers: { "content-type": "application/json", "message-type": "factory-sim.reading.v1" },
  });
});

Deno.test("a heartbeat becomes a record keyed by sensor, fields in contract order", () => {
  const heartbeat: Heartbeat = {
    kind: "heartbeat",
    factoryId: "F1",
    sensorId: "S1-1",
    tier: "1.1",
    status: "active",
    timeMs: TIME,
  };
  assert.deepEqual(toRecord(heartbeat, { readings: "r", heartbeats: "hb" }), {
    topic: "hb",
    key: "S1-1",
    value: '{"sensorId":"S1-1","tier":"1.1","timestamp":"2025-12-03T14:30:45.123Z","status":"active"}',
    timestampMs: TIME,
    headers: { "content-type": "application/json", "message-type": "factory-sim.heartbeat.v1" },
  });
});

Deno.test("timestamps are RFC 3339 UTC with milliseconds and Z, even on a whole second", () => {
  assert.equal(formatTimestamp(Date.UTC(2026, 0, 1, 0, 0, 0, 0)), "2026-01-01T00:00:00.000Z");
  assert.match(formatTimestamp(Date.now()), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
});

Deno.test("soda names with quotes and non-ASCII stay valid JSON", () => {
  const record = toRecord({
    kind: "reading",
    factoryId: "F2",
    sensorId: "S2-1",
    tier: "2.1",
    sodaName: 'Limonade "Öko" \u{1F964}',
    reading: 0,
    count: 1,
    total: 1,
    timeMs: TIME,
  }, DEFAULT_TOPICS);
  assert.equal(JSON.parse(String(record!.value)).sodaName, 'Limonade "Öko" \u{1F964}');
});

Deno.test("timestamps are exact for every millisecond, whatever order they come in", () => {
  const times = [
    Date.UTC(2025, 11, 3, 14, 30, 45, 123),
    Date.UTC(2025, 11, 3, 14, 30, 45, 7),
    Date.UTC(2025, 11, 3, 14, 30, 45, 0),
    Date.UTC(2025, 11, 3, 14, 30, 46, 999),
    Date.UTC(2025, 11, 3, 14, 30, 45, 60),
    Date.UTC(1970, 0, 1),
    Date.UTC(1969, 11, 31, 23, 59, 59, 999),
  ];
  for (let i = 0; i < 2_000; i++) times.push(Date.UTC(2026, 0, 1) + Math.floor(i * 997.3));
  for (const t of times) assert.equal(formatTimestamp(t), new Date(t).toISOString());
});

Deno.test("values built from cached prefixes are what JSON.stringify of the contract's fields gives", () => {
  const names = ['Coca "Cola"', "Bière\u00e9", "\u2028\u0000\\", "😀", ""];
  const values = [0, -0, 42, 3.14159, -1e-7, 1e21, 99.99, NaN, Infinity, -Infinity];
  let timeMs = Date.UTC(2025, 11, 3, 14, 30, 45, 123);
  for (const [i, sodaName] of names.entries()) {
    for (const [j, reading] of values.entries()) {
      // The same line twice (cached), and its sensor with another tier (rebuilt).
      for (const tier of ["1.1", "1.1", `1.${i}`]) {
        const event: Reading = {
          kind: "reading",
          factoryId: `F${i}`,
          sensorId: `S${i}-${j % 2}`,
          tier,
          sodaName,
          reading,
          count: j,
          total: 10,
          timeMs: timeMs += 7,
        };
        const { factoryId, sensorId, count, total } = event;
        const expected = JSON.stringify({
          factoryId,
          sensorId,
          tier,
          sodaName,
          reading,
          count,
          total,
          timestamp: new Date(event.timeMs).toISOString(),
        });
        assert.equal(toRecord(event, DEFAULT_TOPICS)?.value, expected);
        const heartbeat: Heartbeat = { kind: "heartbeat", factoryId, sensorId, tier, status: "active", timeMs };
        assert.equal(
          toRecord(heartbeat, DEFAULT_TOPICS)?.value,
          JSON.stringify({ sensorId, tier, timestamp: new Date(timeMs).toISOString(), status: "active" }),
        );
      }
    }
  }
});

Deno.test("recordsWithin: what fits in a byte budget, at least one record when nothing is taken yet", () => {
  const record = (n: number) => ({ topic: "T", key: "k", value: "x".repeat(n), timestampMs: 0 });
  const size = recordBytes(record(100));
  const records = [record(100), record(100), record(100)];
  assert.deepEqual(recordsWithin(records, { maxBytes: 2 * size }), { count: 2, bytes: 2 * size });
  assert.deepEqual(recordsWithin(records, { maxBytes: 10 * size, limit: 1 }), { count: 1, bytes: size });
  assert.deepEqual(recordsWithin([record(5_000)], { maxBytes: 100 }).count, 1, "one, however large");
  assert.deepEqual(recordsWithin(records, { maxBytes: 2 * size, usedBytes: 2 * size }), { count: 0, bytes: 2 * size });
});
