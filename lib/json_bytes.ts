/**
 * The JSON values of heartbeats and readings as the parts their bytes are made of, for the Kafka
 * encoder to write straight into a request (`lib/kafka/_record.ts`): the field names and
 * punctuation, encoded once; the event's names (the plant's own strings), numbers and timestamp,
 * written as ASCII. Made as strings (`JSON.stringify`), measured (`Buffer.byteLength`) and copied a
 * character at a time, the values were the largest cost of a backfill (bench/README.md). Nothing is
 * kept per sensor or line: a plant of 100,000 sensors costs what it did.
 *
 * The bytes are those of `heartbeatValue` and `readingValue` (messages.ts), field order included;
 * `String(value)` is that text. An event these do not write (a name JSON escapes or that is not
 * ASCII, a number or timestamp written another way) gets `undefined`, and its value stays the text.
 */
import type { Heartbeat, Reading } from "./simulation.ts";
import { isPlainTimestamp, secondPrefix, TIMESTAMP_LENGTH } from "./timestamps.ts";

/** A record value a request writes itself: `length` bytes, by `writeTo`. */
export interface EncodedValue {
  /** Bytes of the value (its UTF-8). */
  readonly length: number;
  /** Writes the value's bytes into `bytes` from `at`, which has room; returns the offset after them. */
  writeTo(bytes: Uint8Array, at: number): number;
  /** The value as JSON text. */
  toString(): string;
}

/** Whether a record's value is an `EncodedValue` (not a string, not a Buffer). */
export function isEncodedValue(value: unknown): value is EncodedValue {
  return typeof value === "object" && value !== null && typeof (value as EncodedValue).writeTo === "function";
}

/** The bytes of a value, in a fresh array. */
export function encodedBytes(value: EncodedValue): Uint8Array {
  const bytes = new Uint8Array(value.length);
  value.writeTo(bytes, 0);
  return bytes;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

const ZERO = 48;

/**
 * Copies `part` into `bytes` at `at`; returns the offset after it. A loop, as for the rest of a
 * value's bytes: its parts are a few to twenty bytes.
 */
function put(bytes: Uint8Array, at: number, part: Uint8Array): number {
  for (let i = 0; i < part.length; i++) bytes[at++] = part[i];
  return at;
}

/** Digits of a non-negative safe integer. */
function digits(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

/** Writes a non-negative safe integer; returns the offset after it. */
function writeInteger(bytes: Uint8Array, at: number, n: number): number {
  const count = digits(n);
  for (let i = at + count - 1; i >= at; i--) {
    bytes[i] = ZERO + n % 10;
    n = Math.floor(n / 10);
  }
  return at + count;
}

/**
 * Writes ASCII `chars` (a name, a number's JSON text, a record's ASCII key) into `bytes` from `at`,
 * which has room; returns the offset after them.
 */
export function writeAscii(bytes: Uint8Array, at: number, chars: string): number {
  for (let i = 0; i < chars.length; i++) bytes[at++] = chars.charCodeAt(i);
  return at;
}

/**
 * Writes `timeMs` (an `isPlainTimestamp`) as `formatTimestamp` writes it (lib/timestamps.ts), its
 * second from the same cache; returns the offset after it.
 */
function writeTimestamp(bytes: Uint8Array, at: number, timeMs: number): number {
  const second = Math.floor(timeMs / 1000);
  at = writeAscii(bytes, at, secondPrefix(second));
  const ms = timeMs - second * 1000;
  bytes[at++] = ZERO + Math.floor(ms / 100);
  bytes[at++] = ZERO + Math.floor(ms / 10) % 10;
  bytes[at++] = ZERO + ms % 10;
  bytes[at++] = 90; // Z
  return at;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * Whether `text` goes into JSON as it is, one byte a character: printable ASCII but `"` and `\`.
 * Names as plants have them (`S12-3`, `1.1`, `F12`, `Cola`) are; any other is left to the text.
 */
function plain(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return false;
  }
  return true;
}

const SENSOR_ID = utf8.encode(`{"sensorId":"`);
const TIER = utf8.encode(`","tier":"`);
const HEARTBEAT_TIMESTAMP = utf8.encode(`","timestamp":"`);
const HEARTBEAT_TAIL = utf8.encode(`","status":"active"}`);
const HEARTBEAT_FIXED = SENSOR_ID.length + TIER.length + HEARTBEAT_TIMESTAMP.length + TIMESTAMP_LENGTH +
  HEARTBEAT_TAIL.length;

/** A heartbeat's JSON value: `{"sensorId":…,"tier":…,"timestamp":…,"status":"active"}`. */
class HeartbeatJson implements EncodedValue {
  readonly length: number;
  readonly #sensorId: string;
  readonly #tier: string;
  readonly #timeMs: number;

  constructor(event: Heartbeat) {
    this.#sensorId = event.sensorId;
    this.#tier = event.tier;
    this.#timeMs = event.timeMs;
    this.length = HEARTBEAT_FIXED + event.sensorId.length + event.tier.length;
  }

  writeTo(bytes: Uint8Array, at: number): number {
    at = writeAscii(bytes, put(bytes, at, SENSOR_ID), this.#sensorId);
    at = writeAscii(bytes, put(bytes, at, TIER), this.#tier);
    at = writeTimestamp(bytes, put(bytes, at, HEARTBEAT_TIMESTAMP), this.#timeMs);
    return put(bytes, at, HEARTBEAT_TAIL);
  }

  toString(): string {
    return text.decode(encodedBytes(this));
  }
}

/** A heartbeat's value as bytes; undefined when a name, its status or its timestamp is written another way. */
export function heartbeatJson(event: Heartbeat): EncodedValue | undefined {
  if (event.status !== "active" || !isPlainTimestamp(event.timeMs) || !plain(event.sensorId) || !plain(event.tier)) {
    return undefined;
  }
  return new HeartbeatJson(event);
}

const FACTORY_ID = utf8.encode(`{"factoryId":"`);
const SENSOR = utf8.encode(`","sensorId":"`);
const SODA_NAME = utf8.encode(`","sodaName":"`);
const READING = utf8.encode(`","reading":`);
const COUNT = utf8.encode(`,"count":`);
const TOTAL = utf8.encode(`,"total":`);
const TIMESTAMP = utf8.encode(`,"timestamp":"`);
const READING_TAIL = utf8.encode(`"}`);
const READING_FIXED = FACTORY_ID.length + SENSOR.length + TIER.length + SODA_NAME.length + READING.length +
  COUNT.length + TOTAL.length + TIMESTAMP.length + TIMESTAMP_LENGTH + READING_TAIL.length;

/** A reading's JSON value: `{"factoryId":…,"sensorId":…,"tier":…,"sodaName":…,"reading":…,"count":…,"total":…,"timestamp":…}`. */
class ReadingJson implements EncodedValue {
  readonly length: number;
  readonly #event: Reading;
  /** The reading's JSON number (`JSON.stringify` of a finite number is `String` of it). */
  readonly #reading: string;

  constructor(event: Reading) {
    this.#event = event;
    this.#reading = String(event.reading);
    this.length = READING_FIXED + event.factoryId.length + event.sensorId.length + event.tier.length +
      event.sodaName.length + this.#reading.length + digits(event.count) + digits(event.total);
  }

  writeTo(bytes: Uint8Array, at: number): number {
    const event = this.#event;
    at = writeAscii(bytes, put(bytes, at, FACTORY_ID), event.factoryId);
    at = writeAscii(bytes, put(bytes, at, SENSOR), event.sensorId);
    at = writeAscii(bytes, put(bytes, at, TIER), event.tier);
    at = writeAscii(bytes, put(bytes, at, SODA_NAME), event.sodaName);
    at = writeAscii(bytes, put(bytes, at, READING), this.#reading);
    at = writeInteger(bytes, put(bytes, at, COUNT), event.count);
    at = writeInteger(bytes, put(bytes, at, TOTAL), event.total);
    at = writeTimestamp(bytes, put(bytes, at, TIMESTAMP), event.timeMs);
    return put(bytes, at, READING_TAIL);
  }

  toString(): string {
    return text.decode(encodedBytes(this));
  }
}

/** A reading's value as bytes; undefined when a name, a number or its timestamp is written another way. */
export function readingJson(event: Reading): EncodedValue | undefined {
  if (
    !Number.isFinite(event.reading) || !isCount(event.count) || !isCount(event.total) ||
    !isPlainTimestamp(event.timeMs) ||
    !plain(event.factoryId) || !plain(event.sensorId) || !plain(event.tier) || !plain(event.sodaName)
  ) {
    return undefined;
  }
  return new ReadingJson(event);
}
