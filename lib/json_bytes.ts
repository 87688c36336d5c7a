/**
 * The JSON values of heartbeats and readings as the parts their bytes are made of, for the Kafka
 * encoder to write straight into a request (`lib/kafka/_record.ts`): a sensor's or a line's fields,
 * encoded to UTF-8 once and kept, then the event's numbers and timestamp, written as ASCII. Made as
 * strings (`JSON.stringify`), measured (`Buffer.byteLength`) and copied a character at a time, the
 * values were the largest cost of a backfill after the record encoding (bench/README.md).
 *
 * The bytes are those of `heartbeatValue` and `readingValue` (messages.ts), field order included;
 * `String(value)` is that text. An event these cannot write (a timestamp `formatTimestamp` writes
 * another way, a reading without its line) gets `undefined`, and its value stays the string.
 */
import type { Line } from "./plant.ts";
import type { Heartbeat, Reading } from "./simulation.ts";

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
  return typeof (value as EncodedValue | undefined)?.writeTo === "function";
}

/** The bytes of a value, in a fresh array. */
export function encodedBytes(value: EncodedValue): Uint8Array {
  const bytes = new Uint8Array(value.length);
  value.writeTo(bytes, 0);
  return bytes;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** Characters of a timestamp: `2025-12-03T14:30:45.123Z`. */
const TIMESTAMP_LENGTH = 24;
/** 10000-01-01: from there on, ISO years take more than four digits (as in `formatTimestamp`). */
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_800_000;
const ZERO = 48;

/** Whether `timeMs` is written here as `formatTimestamp` writes it: whole ms, four-digit years. */
function plainTime(timeMs: number): boolean {
  return Number.isInteger(timeMs) && timeMs >= 0 && timeMs < MAX_FOUR_DIGIT_YEAR_MS;
}

/** The second a timestamp was last written in, and its first 20 characters (`2025-12-03T14:30:45.`). */
let cachedSecond = NaN;
const secondBytes = new Uint8Array(20);

/** Writes `timeMs` (a `plainTime`) as `formatTimestamp` does; returns the offset after it. */
function writeTimestamp(bytes: Uint8Array, at: number, timeMs: number): number {
  const second = Math.floor(timeMs / 1000);
  if (second !== cachedSecond) {
    utf8.encodeInto(new Date(second * 1000).toISOString().slice(0, 20), secondBytes);
    cachedSecond = second;
  }
  at = put(bytes, at, secondBytes);
  const ms = timeMs - second * 1000;
  bytes[at++] = ZERO + Math.floor(ms / 100);
  bytes[at++] = ZERO + Math.floor(ms / 10) % 10;
  bytes[at++] = ZERO + ms % 10;
  bytes[at++] = 90; // Z
  return at;
}

/**
 * Copies `part` into `bytes` at `at`; returns the offset after it. A loop: `Uint8Array#set` costs
 * more than the copy for parts this small (tens of bytes).
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

/** Writes a non-negative safe integer of `count` digits; returns the offset after it. */
function writeInteger(bytes: Uint8Array, at: number, n: number, count: number): number {
  for (let i = at + count - 1; i >= at; i--) {
    bytes[i] = ZERO + n % 10;
    n = Math.floor(n / 10);
  }
  return at + count;
}

/** Writes ASCII `chars` (a number's JSON text); returns the offset after them. */
function writeAscii(bytes: Uint8Array, at: number, chars: string): number {
  for (let i = 0; i < chars.length; i++) bytes[at++] = chars.charCodeAt(i);
  return at;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** `{"sensorId":…,"tier":…,"timestamp":"`, by sensor id (its tier kept to check). */
const heartbeatHeads = new Map<string, { tier: string; bytes: Uint8Array }>();
const HEARTBEAT_TAIL = utf8.encode(`","status":"active"}`);

/** A heartbeat's JSON value: `{"sensorId":…,"tier":…,"timestamp":…,"status":"active"}`. */
class HeartbeatJson implements EncodedValue {
  readonly length: number;
  readonly #head: Uint8Array;
  readonly #timeMs: number;

  constructor(head: Uint8Array, timeMs: number) {
    this.#head = head;
    this.#timeMs = timeMs;
    this.length = head.length + TIMESTAMP_LENGTH + HEARTBEAT_TAIL.length;
  }

  writeTo(bytes: Uint8Array, at: number): number {
    at = writeTimestamp(bytes, put(bytes, at, this.#head), this.#timeMs);
    return put(bytes, at, HEARTBEAT_TAIL);
  }

  toString(): string {
    return text.decode(encodedBytes(this));
  }
}

/** A heartbeat's value as bytes; undefined when its timestamp or status is written another way. */
export function heartbeatJson(event: Heartbeat): EncodedValue | undefined {
  if (event.status !== "active" || !plainTime(event.timeMs)) return undefined;
  let head = heartbeatHeads.get(event.sensorId);
  if (head === undefined || head.tier !== event.tier) {
    const fields = JSON.stringify({ sensorId: event.sensorId, tier: event.tier, timestamp: "" });
    head = { tier: event.tier, bytes: utf8.encode(fields.slice(0, -2)) };
    heartbeatHeads.set(event.sensorId, head);
  }
  return new HeartbeatJson(head.bytes, event.timeMs);
}

/** `{"factoryId":…,"sensorId":…,"tier":…,"sodaName":…,"reading":`, by line. */
const readingHeads = new WeakMap<Line, Uint8Array>();
const COUNT = utf8.encode(`,"count":`);
const TOTAL = utf8.encode(`,"total":`);
const TIMESTAMP = utf8.encode(`,"timestamp":"`);
const READING_TAIL = utf8.encode(`"}`);
const READING_FIXED = COUNT.length + TOTAL.length + TIMESTAMP.length + TIMESTAMP_LENGTH + READING_TAIL.length;

/** A reading's JSON value: its line's fields, then reading, count, total and timestamp. */
class ReadingJson implements EncodedValue {
  readonly length: number;
  readonly #head: Uint8Array;
  /** The reading's JSON number (`JSON.stringify` of a finite number is `String` of it). */
  readonly #reading: string;
  readonly #count: number;
  readonly #total: number;
  readonly #countDigits: number;
  readonly #totalDigits: number;
  readonly #timeMs: number;

  constructor(head: Uint8Array, event: Reading) {
    this.#head = head;
    this.#reading = String(event.reading);
    this.#count = event.count;
    this.#total = event.total;
    this.#countDigits = digits(event.count);
    this.#totalDigits = digits(event.total);
    this.#timeMs = event.timeMs;
    this.length = head.length + this.#reading.length + this.#countDigits + this.#totalDigits + READING_FIXED;
  }

  writeTo(bytes: Uint8Array, at: number): number {
    at = writeAscii(bytes, put(bytes, at, this.#head), this.#reading);
    at = writeInteger(bytes, put(bytes, at, COUNT), this.#count, this.#countDigits);
    at = writeInteger(bytes, put(bytes, at, TOTAL), this.#total, this.#totalDigits);
    at = writeTimestamp(bytes, put(bytes, at, TIMESTAMP), this.#timeMs);
    return put(bytes, at, READING_TAIL);
  }

  toString(): string {
    return text.decode(encodedBytes(this));
  }
}

/**
 * A reading's value as bytes; undefined for one without its line (built outside the simulation),
 * or whose numbers or timestamp are written another way.
 */
export function readingJson(event: Reading): EncodedValue | undefined {
  const line = event.line;
  if (
    line === undefined || !Number.isFinite(event.reading) || !isCount(event.count) || !isCount(event.total) ||
    !plainTime(event.timeMs)
  ) {
    return undefined;
  }
  let head = readingHeads.get(line);
  if (head === undefined) {
    // The line's fields are the reading's (`Reading.line`).
    const { factoryId, sensorId, tier, sodaName } = event;
    const fields = JSON.stringify({ factoryId, sensorId, tier, sodaName });
    head = utf8.encode(`${fields.slice(0, -1)},"reading":`);
    readingHeads.set(line, head);
  }
  return new ReadingJson(head, event);
}
