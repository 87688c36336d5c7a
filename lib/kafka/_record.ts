/**
 * A patch of KafkaJS (installed by `patches.ts`): each record encoded in one exactly sized buffer,
 * in place of `protocol/recordBatch/record/v0`; its record writer is shared with the produce
 * request's (`_produce_request.ts`).
 */
import { Buffer } from "node:buffer";
import { isEncodedValue, writeAscii } from "../json_bytes.ts";
import { kafkaJs, type KafkaJsEncoder } from "./_kafkajs.ts";

/** A record's fields as KafkaJS's produce request hands them to `Record` (recordBatch/record/v0). */
export interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

/** Frozen header objects (factory-sim's are shared by every record of a kind) and their encoding. */
const encodedHeaders = new WeakMap<object, Uint8Array>();

/** The Kafka encoding of a headers object: the count, then each key and value (an array: one header per value). */
export function encodeHeaders(headers: Record<string, unknown>): Uint8Array {
  const cached = encodedHeaders.get(headers);
  if (cached !== undefined) return cached;
  const pairs = Object.keys(headers).flatMap((key) => {
    const value = headers[key];
    return Array.isArray(value) ? value.map((item) => [key, item]) : [[key, value]];
  });
  const encoder = new (kafkaJs().Encoder)().writeVarInt(pairs.length);
  for (const [key, value] of pairs) encoder.writeVarIntString(key as string).writeVarIntBytes(value);
  const bytes = Buffer.from(encoder.buf.subarray(0, encoder.offset));
  if (Object.isFrozen(headers)) encodedHeaders.set(headers, bytes);
  return bytes;
}

/**
 * Length of a key or value as KafkaJS writes it: -1 for none, bytes of a Buffer, UTF-8 bytes of
 * the rest; an `EncodedValue` (lib/json_bytes.ts) says its own.
 */
export function byteLengthOf(value: unknown): number {
  if (value === null || value === undefined) return -1;
  if (typeof value === "string") return utf8Length(value);
  if (isEncodedValue(value)) return value.length;
  return Buffer.isBuffer(value) ? value.length : Buffer.byteLength(String(value), "utf8");
}

/** Strings this short are measured here when they are ASCII: a record's key, every record. */
const SHORT = 64;

/** UTF-8 bytes of `text`: its length when it is short and ASCII (no call into the runtime), else Buffer's count. */
function utf8Length(text: string): number {
  const length = text.length;
  if (length <= SHORT) {
    let i = 0;
    while (i < length && text.charCodeAt(i) < 0x80) i++;
    if (i === length) return length;
  }
  return Buffer.byteLength(text, "utf8");
}

/**
 * The bytes of one record, as KafkaJS's `Record` v0 encodes them, in one exactly sized buffer.
 * KafkaJS builds each record in a fresh 512-byte zero-filled encoder, and each header in one more,
 * then copies them together; with two headers a record that is five buffers and their copies.
 */
export function encodeRecord(
  { offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }: RecordArgs,
): KafkaJsEncoder {
  const headerBytes = encodeHeaders(headers);
  const keyLength = byteLengthOf(key);
  const valueLength = byteLengthOf(value);
  const sizeOfBody = recordBodySize(timestampDelta, offsetDelta, keyLength, valueLength, headerBytes.length);
  const encoder = sizedEncoder(kafkaJs().Encoder.sizeOfVarInt(sizeOfBody) + sizeOfBody);
  writeRecord(encoder, sizeOfBody, timestampDelta, offsetDelta, key, keyLength, value, valueLength, headerBytes);
  return encoder;
}

/** An Encoder without its constructor's 512-byte zero-filled buffer, for `size` bytes known ahead. */
export function sizedEncoder(size: number): KafkaJsEncoder {
  const encoder = Object.create(kafkaJs().Encoder.prototype) as KafkaJsEncoder;
  encoder.buf = Buffer.allocUnsafe(size) as KafkaJsEncoder["buf"];
  encoder.offset = 0;
  return encoder;
}

/** Bytes of a record after its length varint (Record v0: attributes, deltas, key, value, headers). */
export function recordBodySize(
  timestampDelta: number,
  offsetDelta: number,
  keyLength: number,
  valueLength: number,
  headersLength: number,
): number {
  const { Encoder } = kafkaJs();
  return 1 + Encoder.sizeOfVarLong(timestampDelta) + Encoder.sizeOfVarInt(offsetDelta) +
    Encoder.sizeOfVarInt(keyLength) + Math.max(0, keyLength) +
    Encoder.sizeOfVarInt(valueLength) + Math.max(0, valueLength) + headersLength;
}

/** Writes one record as Record v0 does, its sizes measured beforehand (arguments, not an object: once per record). */
export function writeRecord(
  encoder: KafkaJsEncoder,
  sizeOfBody: number,
  timestampDelta: number,
  offsetDelta: number,
  key: unknown,
  keyLength: number,
  value: unknown,
  valueLength: number,
  headerBytes: Uint8Array,
): void {
  encoder.writeVarInt(sizeOfBody).writeInt8(0).writeVarLong(timestampDelta).writeVarInt(offsetDelta);
  writeBytes(encoder, key, keyLength);
  writeBytes(encoder, value, valueLength);
  copyInto(encoder, headerBytes);
}

function writeBytes(encoder: KafkaJsEncoder, value: unknown, length: number): void {
  encoder.writeVarInt(length);
  if (length <= 0) return;
  if (isEncodedValue(value)) {
    encoder.offset = value.writeTo(encoder.buf, encoder.offset);
    return;
  }
  if (Buffer.isBuffer(value)) {
    copyInto(encoder, value);
    return;
  }
  const text = String(value);
  if (length === text.length) {
    // As many UTF-8 bytes as UTF-16 units: ASCII, one byte a unit. Written here, not through
    // Buffer#write (a Buffer view and an encoder call for every key and value).
    encoder.offset = writeAscii(encoder.buf, encoder.offset, text);
  } else {
    encoder.buf.write(text, encoder.offset, length, "utf8");
    encoder.offset += length;
  }
}

/** Appends `bytes` to the encoder's buffer, which has room for them (Buffer#copy costs more for small arrays). */
export function copyInto(encoder: KafkaJsEncoder, bytes: Uint8Array): void {
  encoder.buf.set(bytes, encoder.offset);
  encoder.offset += bytes.length;
}
