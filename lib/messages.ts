/**
 * Turns simulation events into Kafka records: topic, key, value and headers. The JSON values, in
 * the field order of the message contract (see docs/configuration.md), are here; a registry
 * format's values come from a `ValueEncoder` (lib/formats/).
 */
import type { Buffer } from "node:buffer";
import type { FaultLabel } from "./faults.ts";
import { type EncodedValue, heartbeatJson, readingJson } from "./json_bytes.ts";
import type { Heartbeat, Reading, SimEvent } from "./simulation.ts";
import { formatTimestamp } from "./timestamps.ts";

/** Topic names, renameable by flag. */
export interface Topics {
  readings: string;
  heartbeats: string;
  /** Where fault starts and ends go (`--labels-topic`); nowhere when undefined. */
  labels?: string;
}

/** The default topic names. */
export const DEFAULT_TOPICS: Topics = { readings: "SENSOR_READINGS", heartbeats: "SENSOR_HEARTBEAT" };

/**
 * A record ready for a sink: the value is JSON text, as a string or as the parts a request writes
 * (`lib/json_bytes.ts`), or the bytes of a registry format.
 */
export interface OutRecord {
  topic: string;
  /** The sensor id, so each sensor's records stay ordered in one partition. */
  key: string;
  value: string | Buffer | EncodedValue;
  /** The event's simulated time, epoch milliseconds; Kafka's record timestamp. */
  timestampMs: number;
  /** Kafka record headers (the console sink does not show them). */
  headers?: Readonly<Record<string, string>>;
}

/** The header that names a record's type and version, so consumers can route and evolve. */
export const MESSAGE_TYPE_HEADER = "message-type";
/** The header that names the value's format (`application/json`, `application/avro`...). */
export const CONTENT_TYPE_HEADER = "content-type";

/** How a record type's values are written: the JSON text, or a registry format's bytes. */
export interface ValueEncoder {
  /** The `content-type` header of every record. */
  readonly contentType: string;
  reading(event: Reading): string | Buffer | EncodedValue;
  heartbeat(event: Heartbeat): string | Buffer | EncodedValue;
  label(event: FaultLabel): string | Buffer | EncodedValue;
}

/** The JSON values of the message contract as text (always on the console). */
export const JSON_VALUES: ValueEncoder = Object.freeze({
  contentType: "application/json",
  reading: readingValue,
  heartbeat: heartbeatValue,
  label: labelValue,
});

/**
 * The same JSON values for Kafka (`--format json`): readings and heartbeats as the parts a request
 * writes straight into its buffer (`lib/json_bytes.ts`), the same bytes as `JSON_VALUES`'s text.
 */
export const JSON_BYTES: ValueEncoder = Object.freeze({
  contentType: "application/json",
  reading: (event: Reading) => readingJson(event) ?? readingValue(event),
  heartbeat: (event: Heartbeat) => heartbeatJson(event) ?? heartbeatValue(event),
  label: labelValue,
});

/** The headers of each record type for one content type, frozen and shared by every record. */
interface HeaderSet {
  reading: Readonly<Record<string, string>>;
  heartbeat: Readonly<Record<string, string>>;
  label: Readonly<Record<string, string>>;
  /** Those of readings shaped by a fault, by the fault header's value. */
  faulted: Map<string, Readonly<Record<string, string>>>;
}

function headerSet(contentType: string): HeaderSet {
  const of = (type: string) => Object.freeze({ [CONTENT_TYPE_HEADER]: contentType, [MESSAGE_TYPE_HEADER]: type });
  return {
    reading: of("factory-sim.reading.v1"),
    heartbeat: of("factory-sim.heartbeat.v1"),
    label: of("factory-sim.fault.v1"),
    faulted: new Map(),
  };
}

const headerSets = new Map<string, HeaderSet>();

function headersOf(encoder: ValueEncoder): HeaderSet {
  let set = headerSets.get(encoder.contentType);
  if (set === undefined) headerSets.set(encoder.contentType, set = headerSet(encoder.contentType));
  return set;
}

const JSON_HEADERS = headersOf(JSON_VALUES);
/** Headers of every JSON reading record. */
export const READING_HEADERS: Readonly<Record<string, string>> = JSON_HEADERS.reading;
/** Headers of every JSON heartbeat record. */
export const HEARTBEAT_HEADERS: Readonly<Record<string, string>> = JSON_HEADERS.heartbeat;

/**
 * A reading's fields in contract order, with `timestamp` as given: RFC 3339 text for the JSON
 * contract, epoch ms for the registry formats (lib/formats/).
 */
export function readingFields<T>(event: Reading, timestamp: T) {
  return {
    factoryId: event.factoryId,
    sensorId: event.sensorId,
    tier: event.tier,
    sodaName: event.sodaName,
    reading: event.reading,
    count: event.count,
    total: event.total,
    timestamp,
  };
}

/** The JSON value of a reading, fields in contract order. */
export function readingValue(event: Reading): string {
  return JSON.stringify(readingFields(event, formatTimestamp(event.timeMs)));
}

/** Headers of every JSON fault label record. */
export const LABEL_HEADERS: Readonly<Record<string, string>> = JSON_HEADERS.label;

/** The header that names the faults that shaped a reading (`fault: stuck`). */
export const FAULT_HEADER = "fault";

/** The headers of a reading shaped by `fault` (one frozen object per fault combination). */
function readingHeaders(set: HeaderSet, fault: string | undefined): Readonly<Record<string, string>> {
  if (fault === undefined) return set.reading;
  let headers = set.faulted.get(fault);
  if (headers === undefined) {
    headers = Object.freeze({ ...set.reading, [FAULT_HEADER]: fault });
    set.faulted.set(fault, headers);
  }
  return headers;
}

/** A fault label's fields in contract order, with `timestamp` as given (see `readingFields`). */
export function labelFields<T>(event: FaultLabel, timestamp: T) {
  return {
    faultId: event.faultId,
    fault: event.fault,
    event: event.event,
    factoryId: event.factoryId,
    sensorId: event.sensorId,
    sodaName: event.sodaName,
    timestamp,
  };
}

/** The JSON value of a fault's start or end. */
export function labelValue(event: FaultLabel): string {
  return JSON.stringify(labelFields(event, formatTimestamp(event.timeMs)));
}

/** A heartbeat's fields in contract order, with `timestamp` as given (see `readingFields`). */
export function heartbeatFields<T>(event: Heartbeat, timestamp: T) {
  return { sensorId: event.sensorId, tier: event.tier, timestamp, status: event.status };
}

/** The JSON value of a heartbeat, fields in contract order. */
export function heartbeatValue(event: Heartbeat): string {
  return JSON.stringify(heartbeatFields(event, formatTimestamp(event.timeMs)));
}

/**
 * The record for one event, its value written by `encoder` (JSON by default); undefined for a
 * fault label when there is no labels topic.
 */
export function toRecord(event: SimEvent, topics: Topics, encoder: ValueEncoder = JSON_VALUES): OutRecord | undefined {
  return recordOf(event, topics, encoder, headersOf(encoder));
}

function recordOf(event: SimEvent, topics: Topics, encoder: ValueEncoder, headers: HeaderSet): OutRecord | undefined {
  switch (event.kind) {
    case "reading":
      return {
        topic: topics.readings,
        key: event.sensorId,
        value: encoder.reading(event),
        timestampMs: event.timeMs,
        headers: readingHeaders(headers, event.fault),
      };
    case "heartbeat":
      return {
        topic: topics.heartbeats,
        key: event.sensorId,
        value: encoder.heartbeat(event),
        timestampMs: event.timeMs,
        headers: headers.heartbeat,
      };
    case "label":
      if (topics.labels === undefined) return undefined;
      return {
        topic: topics.labels,
        key: event.sensorId,
        value: encoder.label(event),
        timestampMs: event.timeMs,
        headers: headers.label,
      };
  }
}

/** The records of a batch of events, in order (fault labels only with a labels topic). */
export function toRecords(
  events: readonly SimEvent[],
  topics: Topics,
  encoder: ValueEncoder = JSON_VALUES,
): OutRecord[] {
  const records: OutRecord[] = [];
  const headers = headersOf(encoder);
  for (const event of events) {
    const record = recordOf(event, topics, encoder, headers);
    if (record !== undefined) records.push(record);
  }
  return records;
}

/**
 * About what a record takes in a request: key, value (bytes, or for JSON text UTF-16 code units:
 * its UTF-8 is about as long) and headers, and its framing. Requests are bounded by it (`MAX_REQUEST_BYTES`).
 */
export function recordBytes(record: OutRecord): number {
  return record.key.length + record.value.length + headerBytes(record.headers) + RECORD_OVERHEAD_BYTES;
}

/**
 * How many of `records` (at most `limit`) fit in `maxBytes` by `recordBytes`, after `usedBytes`
 * already taken; at least one when nothing is taken yet, however large. And the bytes then used.
 */
export function recordsWithin(
  records: readonly OutRecord[],
  { limit = records.length, maxBytes, usedBytes = 0 }: { limit?: number; maxBytes: number; usedBytes?: number },
): { count: number; bytes: number } {
  const end = Math.min(limit, records.length);
  let bytes = usedBytes;
  for (let i = 0; i < end; i++) {
    const size = recordBytes(records[i]);
    if (bytes + size > maxBytes && (i > 0 || usedBytes > 0)) return { count: i, bytes };
    bytes += size;
  }
  return { count: end, bytes };
}

/** A record's framing in a batch, at most: length, attributes, deltas and the key and value lengths. */
const RECORD_OVERHEAD_BYTES = 30;
const headerSizes = new WeakMap<object, number>();

function headerBytes(headers: OutRecord["headers"]): number {
  if (headers === undefined) return 1;
  // Records of a kind share their headers object: the last one answers most calls.
  if (headers === lastHeaders) return lastHeaderSize;
  let size = headerSizes.get(headers);
  if (size === undefined) {
    size = 5;
    for (const [key, value] of Object.entries(headers)) size += key.length + value.length + 10;
    headerSizes.set(headers, size);
  }
  lastHeaders = headers;
  lastHeaderSize = size;
  return size;
}

let lastHeaders: object | undefined;
let lastHeaderSize = 0;
