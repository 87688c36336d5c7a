import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { encodedBytes, type EncodedValue, heartbeatJson, isEncodedValue, readingJson } from "../lib/json_bytes.ts";
import { heartbeatValue, JSON_BYTES, JSON_VALUES, readingValue } from "../lib/messages.ts";
import type { Line } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import type { Heartbeat, Reading } from "../lib/simulation.ts";
import { START_MS } from "./_helpers.ts";

/** Config text as users write it: plain ASCII (written as bytes), and what JSON escapes or is not ASCII (left as text). */
const PLAIN = ["S1-1", "Cola", "1.1", "", "F12", " !#$%&'()*+,-./0:;<=>?@AZ[]^_`az{|}~"];
const OTHER = ["Fäbrik 7", "\u{1F964} Cola", 'say "hi"', "back\\slash", "tab\there", "nul\u0000", "del\u007f"];
const NAMES = [...PLAIN, ...PLAIN, ...OTHER];

function line(rng: Rng, i: number): Line {
  const pick = () => NAMES[Math.floor(rng.next() * NAMES.length)];
  return {
    factoryId: pick(),
    index: i,
    sodaName: pick(),
    total: 1 + Math.floor(rng.next() * 2_000),
    sensor: { sensorId: `${pick()}-${i}`, tier: pick() } as Line["sensor"],
  };
}

function readingOf(of: Line, value: number, count: number, timeMs: number): Reading {
  return {
    kind: "reading",
    factoryId: of.factoryId,
    sensorId: of.sensor.sensorId,
    tier: of.sensor.tier,
    sodaName: of.sodaName,
    reading: value,
    count,
    total: of.total,
    timeMs,
    line: of,
  };
}

const sensor = { sensorId: "S1-1", tier: "1.1" } as Line["sensor"];

function heartbeatOf(sensorId: string, tier: string, timeMs: number): Heartbeat {
  return { kind: "heartbeat", factoryId: "F1", sensorId, tier, status: "active", timeMs };
}

/** The value's bytes, text and length are exactly those of the JSON text. */
function assertSame(value: EncodedValue | string | Buffer, text: string): void {
  assert.ok(isEncodedValue(value), `no bytes for ${text}`);
  const expected = Buffer.from(text, "utf8");
  assert.equal(value.length, expected.length, text);
  assert.deepEqual(Buffer.from(encodedBytes(value)), expected, text);
  assert.equal(String(value), text);
  // Written where a request puts it: after other bytes, into a larger buffer.
  const request = new Uint8Array(value.length + 10).fill(0xee);
  assert.equal(value.writeTo(request, 3), 3 + value.length);
  assert.deepEqual(Buffer.from(request.subarray(3, 3 + value.length)), expected);
  assert.equal(request[3 + value.length], 0xee);
}

/** Whether a name is written as bytes: printable ASCII but the two characters JSON escapes. */
const isPlain = (name: string) => /^[\x20-\x7e]*$/.test(name) && !/["\\]/.test(name);

/** JSON_BYTES gives the event's text as bytes when its names are plain, else the text itself; counts which. */
function check(event: Reading | Heartbeat, seen: { bytes: number; text: number }): void {
  const [value, text, names] = event.kind === "reading"
    ? [JSON_BYTES.reading(event), readingValue(event), [event.factoryId, event.sensorId, event.tier, event.sodaName]]
    : [JSON_BYTES.heartbeat(event), heartbeatValue(event), [event.sensorId, event.tier]];
  if (names.every(isPlain)) {
    assertSame(value, text);
    seen.bytes++;
  } else {
    assert.equal(value, text);
    assert.equal(event.kind === "reading" ? readingJson(event) : heartbeatJson(event), undefined);
    seen.text++;
  }
}

Deno.test("a reading's bytes are its JSON text, byte for byte, whatever its line's names and numbers", () => {
  const rng = new Rng(7);
  const lines = Array.from({ length: 50 }, (_, i) => line(rng, i));
  const values = [0, 100, 42, 12.5, 99.99, 0.1 + 0.2, -3.25, 1e21, 5e-7, -0, 123456.789];
  const seen = { bytes: 0, text: 0 };
  for (let i = 0; i < 2_000; i++) {
    const of = lines[i % lines.length];
    const value = i < values.length ? values[i] : Math.round(rng.next() * 10_000) / 100;
    check(readingOf(of, value, 1 + (i % of.total), START_MS + Math.floor(rng.next() * 86_400_000)), seen);
  }
  assert.ok(seen.bytes > 100 && seen.text > 100, JSON.stringify(seen));
  // Plain names, every value above: all as bytes.
  const plainLine: Line = { factoryId: "F1", index: 0, sodaName: "Cola", total: 2_000, sensor };
  for (const [i, value] of values.entries()) {
    assertSame(
      JSON_BYTES.reading(readingOf(plainLine, value, i, START_MS)),
      readingValue(readingOf(plainLine, value, i, START_MS)),
    );
  }
});

Deno.test("a heartbeat's bytes are its JSON text, byte for byte, whatever its sensor's names", () => {
  const rng = new Rng(8);
  const seen = { bytes: 0, text: 0 };
  for (let i = 0; i < 1_000; i++) {
    const sensorId = NAMES[i % NAMES.length];
    const tier = NAMES[Math.floor(rng.next() * NAMES.length)];
    check(heartbeatOf(sensorId, tier, START_MS + Math.floor(rng.next() * 3_600_000)), seen);
  }
  assert.ok(seen.bytes > 100 && seen.text > 100, JSON.stringify(seen));
});

Deno.test("timestamps are written as formatTimestamp writes them, at every millisecond and second", () => {
  const of: Line = { factoryId: "F1", index: 0, sodaName: "Cola", total: 10, sensor };
  const times = [
    0,
    1,
    9,
    10,
    99,
    100,
    999,
    1_000,
    START_MS,
    START_MS + 7,
    START_MS + 60_999,
    Date.UTC(2024, 1, 29, 23, 59, 59, 999),
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  ];
  for (const timeMs of times) {
    // Out of order too: the second the bytes keep changes both ways.
    for (const t of [timeMs, START_MS, timeMs]) {
      assertSame(JSON_BYTES.reading(readingOf(of, 50, 1, t)), readingValue(readingOf(of, 50, 1, t)));
      assertSame(JSON_BYTES.heartbeat(heartbeatOf("S1-1", "1.1", t)), heartbeatValue(heartbeatOf("S1-1", "1.1", t)));
    }
  }
});

Deno.test("what the bytes do not write stays JSON text: JSON_BYTES gives the same values as JSON_VALUES", () => {
  const of: Line = { factoryId: "F1", index: 0, sodaName: "Cola", total: 10, sensor };
  const odd: Reading[] = [
    readingOf(of, NaN, 1, START_MS),
    readingOf(of, Infinity, 1, START_MS),
    readingOf(of, 5, 1, START_MS + 0.5),
    readingOf(of, 5, 1, -1),
    readingOf(of, 5, 1, Date.UTC(10_000, 0, 1)),
    readingOf(of, 5, 1.5, START_MS),
    readingOf(of, 5, -1, START_MS),
  ];
  for (const event of odd) {
    assert.equal(readingJson(event), undefined);
    assert.equal(JSON_BYTES.reading(event), JSON_VALUES.reading(event));
  }
  const late = heartbeatOf("S1-1", "1.1", START_MS + 0.25);
  assert.equal(heartbeatJson(late), undefined);
  assert.equal(JSON_BYTES.heartbeat(late), JSON_VALUES.heartbeat(late));
  // A reading needs no line to be written as bytes.
  const plain = { ...readingOf(of, 5, 1, START_MS), line: undefined };
  assert.ok(isEncodedValue(JSON_BYTES.reading(plain)));
  assert.equal(String(JSON_BYTES.reading(plain)), JSON_VALUES.reading(plain));
  assert.equal(JSON_BYTES.contentType, JSON_VALUES.contentType);
  assert.ok(!isEncodedValue("text") && !isEncodedValue(Buffer.from("x")) && !isEncodedValue(null));
});
