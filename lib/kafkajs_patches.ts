/**
 * Fixes to KafkaJS 2.2.4 internals, installed when this module loads: import it before "kafkajs"
 * (`kafka_client.ts` and `sinks/kafka.ts` import it first). Each says what it replaces and why;
 * `tests/kafkajs_patches_test.ts` checks each gives what the original gives.
 */
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { log } from "./log.ts";

const require = createRequire(import.meta.url);

// --- Linear grouping of a request's messages by partition --------------------------------------

/** What KafkaJS's `producer/groupMessagesPerPartition.js` takes. */
export interface GroupArgs<M> {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}

/**
 * The messages of one topic by partition, in order: what KafkaJS's `groupMessagesPerPartition`
 * returns. KafkaJS appends each message with `[...current, message]`, copying the partition's
 * array every time: quadratic in the messages of a request (5,000 by default, 100,000 at most).
 */
export function groupMessagesPerPartition<M>(
  { topic, partitionMetadata, messages, partitioner }: GroupArgs<M>,
): Record<number, M[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<number, M[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

// --- Records encoded in one buffer each -------------------------------------------------------

/** What KafkaJS's `Encoder` (src/protocol/encoder.js) offers that the record encoder uses. */
interface KafkaJsEncoder {
  buf: Uint8Array & { write(text: string, offset: number, length: number, encoding: "utf8"): number };
  offset: number;
  /** The bytes written (a view of `buf`). */
  readonly buffer: Uint8Array;
  writeInt8(value: number): KafkaJsEncoder;
  writeVarInt(value: number): KafkaJsEncoder;
  writeVarLong(value: number): KafkaJsEncoder;
  writeVarIntString(value: string): KafkaJsEncoder;
  writeVarIntBytes(value: unknown): KafkaJsEncoder;
  writeBufferInternal(value: Uint8Array): void;
}
interface KafkaJsEncoderClass {
  new (initialSize?: number): KafkaJsEncoder;
  prototype: KafkaJsEncoder;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: number): number;
}

/** A record's fields as KafkaJS's produce request hands them to `Record` (recordBatch/record/v0). */
export interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: unknown;
  value?: unknown;
  headers?: Record<string, unknown>;
}

const Encoder = require("kafkajs/src/protocol/encoder.js") as KafkaJsEncoderClass;
/** Frozen header objects (factory-sim's are shared by every record of a kind) and their encoding. */
const encodedHeaders = new WeakMap<object, Uint8Array>();

/** The Kafka encoding of a headers object: the count, then each key and value (an array: one header per value). */
function encodeHeaders(headers: Record<string, unknown>): Uint8Array {
  const cached = encodedHeaders.get(headers);
  if (cached !== undefined) return cached;
  const pairs = Object.keys(headers).flatMap((key) => {
    const value = headers[key];
    return Array.isArray(value) ? value.map((item) => [key, item]) : [[key, value]];
  });
  const encoder = new Encoder().writeVarInt(pairs.length);
  for (const [key, value] of pairs) encoder.writeVarIntString(key as string).writeVarIntBytes(value);
  const bytes = Buffer.from(encoder.buf.subarray(0, encoder.offset));
  if (Object.isFrozen(headers)) encodedHeaders.set(headers, bytes);
  return bytes;
}

/** Length of a key or value as KafkaJS writes it: -1 for none, bytes of a Buffer, UTF-8 bytes of the rest. */
function byteLengthOf(value: unknown): number {
  if (value === null || value === undefined) return -1;
  return Buffer.isBuffer(value) ? value.length : Buffer.byteLength(String(value), "utf8");
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
  const encoder = sizedEncoder(Encoder.sizeOfVarInt(sizeOfBody) + sizeOfBody);
  writeRecord(encoder, sizeOfBody, timestampDelta, offsetDelta, key, keyLength, value, valueLength, headerBytes);
  return encoder;
}

/** An Encoder without its constructor's 512-byte zero-filled buffer, for `size` bytes known ahead. */
function sizedEncoder(size: number): KafkaJsEncoder {
  const encoder = Object.create(Encoder.prototype) as KafkaJsEncoder;
  encoder.buf = Buffer.allocUnsafe(size) as KafkaJsEncoder["buf"];
  encoder.offset = 0;
  return encoder;
}

/** Bytes of a record after its length varint (Record v0: attributes, deltas, key, value, headers). */
function recordBodySize(
  timestampDelta: number,
  offsetDelta: number,
  keyLength: number,
  valueLength: number,
  headersLength: number,
): number {
  return 1 + Encoder.sizeOfVarLong(timestampDelta) + Encoder.sizeOfVarInt(offsetDelta) +
    Encoder.sizeOfVarInt(keyLength) + Math.max(0, keyLength) +
    Encoder.sizeOfVarInt(valueLength) + Math.max(0, valueLength) + headersLength;
}

/** Writes one record as Record v0 does, its sizes measured beforehand (arguments, not an object: once per record). */
function writeRecord(
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
  if (Buffer.isBuffer(value)) {
    copyInto(encoder, value);
    return;
  }
  const text = String(value);
  if (length === text.length) {
    // As many UTF-8 bytes as UTF-16 units: ASCII, one byte a unit. Written here, not through
    // Buffer#write (a Buffer view and an encoder call for every key and value).
    const { buf } = encoder;
    let at = encoder.offset;
    for (let i = 0; i < length; i++) buf[at++] = text.charCodeAt(i);
  } else {
    encoder.buf.write(text, encoder.offset, length, "utf8");
  }
  encoder.offset += length;
}

/** Appends `bytes` to the encoder's buffer, which has room for them (Buffer#copy costs more for small arrays). */
function copyInto(encoder: KafkaJsEncoder, bytes: Uint8Array): void {
  encoder.buf.set(bytes, encoder.offset);
  encoder.offset += bytes.length;
}

// --- Produce requests: each partition's record batch in one buffer --------------------------------

/** A message as KafkaJS's producer hands it to the produce request. */
export interface ProduceMessage {
  key?: unknown;
  value?: unknown;
  timestamp?: string | number | null;
  headers?: Record<string, unknown>;
}

/** One partition's data in a produce request (`topicData[].partitions[]`). */
export interface ProducePartition {
  partition: number;
  firstSequence?: number;
  messages: ProduceMessage[];
}

/** What KafkaJS's `requests/produce/v3/request.js` takes. */
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: { topic: string; partitions: ProducePartition[] }[];
}

/** A protocol request as KafkaJS's connection sends it. */
interface KafkaJsRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse(): boolean;
  encode(): Promise<KafkaJsEncoder>;
}

const Long = require("kafkajs/src/utils/long.js") as {
  fromInt(value: number): unknown;
  fromValue(value: unknown): unknown;
};
const PRODUCE_API_KEY = (require("kafkajs/src/protocol/requests/apiKeys.js") as { Produce: number }).Produce;
const NO_COMPRESSION = 0;
const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;

/** KafkaJS's encoder methods this section also uses. */
interface BatchEncoder extends KafkaJsEncoder {
  writeInt16(value: number): BatchEncoder;
  writeInt32(value: number): BatchEncoder;
  writeUInt32(value: number): BatchEncoder;
  writeInt64(value: unknown): BatchEncoder;
  writeString(value: string | null): BatchEncoder;
  writeArray(array: unknown[], type?: string): BatchEncoder;
  writeEncoder(value: KafkaJsEncoder): BatchEncoder;
  size(): number;
}

/**
 * KafkaJS's produce request (v3, which v4 to v7 reuse), encoding each uncompressed partition
 * straight into one exactly sized buffer. KafkaJS copies every record into a growing encoder
 * (a `Buffer` view and a copy per record, zero-filled reallocations as it doubles), then the batch
 * into three more encoders, and sorts the partition's timestamps as strings to find the first and
 * the last. The bytes are the same (`tests/kafkajs_patches_test.ts` compares them); compressed
 * partitions take KafkaJS's own way.
 */
export function produceRequest(
  {
    acks,
    timeout,
    transactionalId = null,
    producerId = Long.fromInt(-1),
    producerEpoch = 0,
    compression = NO_COMPRESSION,
    topicData,
  }: ProduceRequestArgs,
): KafkaJsRequest {
  return {
    apiKey: PRODUCE_API_KEY,
    apiVersion: 3,
    apiName: "Produce",
    expectResponse: () => acks !== 0,
    encode: async () => {
      const topics: KafkaJsEncoder[] = [];
      for (const { topic, partitions } of topicData) {
        const encoded: KafkaJsEncoder[] = [];
        for (const data of partitions) {
          const args = { ...data, transactional: !!transactionalId, producerId, producerEpoch };
          encoded.push(
            compression === NO_COMPRESSION ? encodePartition(args) : await encodeCompressedPartition(args, compression),
          );
        }
        topics.push((new Encoder() as BatchEncoder).writeString(topic).writeArray(encoded));
      }
      return (new Encoder() as BatchEncoder).writeString(transactionalId).writeInt16(acks).writeInt32(timeout)
        .writeArray(topics);
    },
  };
}

interface PartitionArgs extends ProducePartition {
  transactional: boolean;
  producerId: unknown;
  producerEpoch: number;
}

/** The first and last timestamps as KafkaJS finds them: by sorting them as strings. */
function timestampBounds(messages: ProduceMessage[], dateNow: number): { first: unknown; last: unknown } {
  let first: unknown;
  let last: unknown;
  let firstText = "";
  let lastText = "";
  for (const { timestamp } of messages) {
    if (timestamp === null || timestamp === undefined) continue;
    const text = String(timestamp);
    // A stable sort: the first of equal ones stays first, the last of equal ones last.
    if (first === undefined || text < firstText) {
      first = timestamp;
      firstText = text;
    }
    if (last === undefined || text >= lastText) {
      last = timestamp;
      lastText = text;
    }
  }
  return first === undefined ? { first: dateNow, last: dateNow } : { first, last };
}

/**
 * One uncompressed partition of a produce request: partition, batch size, then the record batch
 * (offset, length, leader epoch, magic, CRC-32C of the rest, attributes, deltas, timestamps,
 * producer, sequence, records), written once into a buffer of the exact size.
 */
function encodePartition(
  { partition, messages, firstSequence = 0, transactional, producerId = Long.fromValue(-1), producerEpoch = 0 }:
    PartitionArgs,
): KafkaJsEncoder {
  const dateNow = Date.now();
  const { first, last } = timestampBounds(messages, dateNow);
  const count = messages.length;
  const keyLengths = new Int32Array(count);
  const valueLengths = new Int32Array(count);
  const bodySizes = new Int32Array(count);
  const deltas = new Float64Array(count);
  const headerSets: Uint8Array[] = new Array(count);
  let recordsSize = 0;
  for (let i = 0; i < count; i++) {
    const { key, value, headers = {}, timestamp } = messages[i];
    const timestampDelta = ((timestamp || dateNow) as number) - (first as number);
    const headerBytes = encodeHeaders(headers);
    const keyLength = byteLengthOf(key);
    const valueLength = byteLengthOf(value);
    const sizeOfBody = recordBodySize(timestampDelta, i, keyLength, valueLength, headerBytes.length);
    keyLengths[i] = keyLength;
    valueLengths[i] = valueLength;
    bodySizes[i] = sizeOfBody;
    deltas[i] = timestampDelta;
    headerSets[i] = headerBytes;
    recordsSize += Encoder.sizeOfVarInt(sizeOfBody) + sizeOfBody;
  }
  // attributes 2, last offset delta 4, timestamps 8 + 8, producer id 8, epoch 2, sequence 4, count 4
  const bodySize = 40 + recordsSize;
  // leader epoch 4, magic 1, CRC 4
  const batchSize = 9 + bodySize;
  // partition 4, record batch size 4, first offset 8, batch length 4
  const encoder = sizedEncoder(20 + batchSize) as BatchEncoder;
  encoder.writeInt32(partition).writeInt32(12 + batchSize).writeInt64(Long.fromInt(0)).writeInt32(batchSize)
    .writeInt32(0).writeInt8(MAGIC_BYTE);
  const crcAt = encoder.offset;
  encoder.offset += 4;
  const bodyAt = encoder.offset;
  encoder.writeInt16(transactional ? TRANSACTIONAL_MASK : 0).writeInt32(count - 1).writeInt64(first).writeInt64(last)
    .writeInt64(producerId).writeInt16(producerEpoch).writeInt32(firstSequence).writeInt32(count);
  for (let i = 0; i < count; i++) {
    const { key, value } = messages[i];
    writeRecord(encoder, bodySizes[i], deltas[i], i, key, keyLengths[i], value, valueLengths[i], headerSets[i]);
  }
  const end = encoder.offset;
  encoder.offset = crcAt;
  encoder.writeUInt32(crc32c(encoder.buf.subarray(bodyAt, end)));
  encoder.offset = end;
  return encoder;
}

/** A compressed partition, as KafkaJS encodes it. */
async function encodeCompressedPartition(
  { partition, messages, firstSequence, transactional, producerId, producerEpoch }: PartitionArgs,
  compression: number,
): Promise<KafkaJsEncoder> {
  const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0/index.js") as {
    RecordBatch(args: Record<string, unknown>): Promise<BatchEncoder>;
  };
  const dateNow = Date.now();
  const { first, last } = timestampBounds(messages, dateNow);
  const records = messages.map((message, i) =>
    encodeRecord({
      ...message,
      offsetDelta: i,
      timestampDelta: ((message.timestamp || dateNow) as number) - (first as number),
    })
  );
  const recordBatch = await RecordBatch({
    compression,
    records,
    firstTimestamp: first,
    maxTimestamp: last,
    producerId,
    producerEpoch,
    firstSequence,
    transactional,
    lastOffsetDelta: records.length - 1,
  });
  return (new Encoder() as BatchEncoder).writeInt32(partition).writeInt32(recordBatch.size())
    .writeEncoder(recordBatch);
}

// --- CRC-32C, eight bytes at a time ---------------------------------------------------------------

/** Slicing-by-8 tables for CRC-32C (Castagnoli, reflected polynomial 0x82F63B78). */
const CRC_TABLES = (() => {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[0][n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 8; t++) tables[t][n] = (tables[t - 1][n] >>> 8) ^ tables[0][tables[t - 1][n] & 0xff];
  }
  return tables;
})();

/**
 * The CRC-32C of `bytes`, as KafkaJS's `recordBatch/crc32C` computes it (an unsigned integer),
 * eight bytes a step instead of one: every record batch's checksum covers all of its records.
 */
export function crc32c(bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
  let crc = -1;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    crc ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    crc = t7[crc & 0xff] ^ t6[(crc >>> 8) & 0xff] ^ t5[(crc >>> 16) & 0xff] ^ t4[crc >>> 24] ^
      t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) crc = t0[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/**
 * The modules replaced through KafkaJS's require cache, and whether each took: a module that keeps
 * what it required (`sendMessages.js` its grouping, say) must not have loaded before.
 */
export const replacedModules: Readonly<Record<string, boolean>> = {
  groupMessagesPerPartition: replaceModule(
    "kafkajs/src/producer/groupMessagesPerPartition.js",
    groupMessagesPerPartition,
    [
      "kafkajs/src/producer/sendMessages.js",
    ],
  ),
  record: replaceModule("kafkajs/src/protocol/recordBatch/record/v0/index.js", encodeRecord, [
    "kafkajs/src/protocol/requests/produce/v3/request.js",
  ]),
  crc32C: replaceModule("kafkajs/src/protocol/recordBatch/crc32C/index.js", crc32c, [
    "kafkajs/src/protocol/recordBatch/v0/index.js",
  ]),
  produceRequest: replaceModule(
    "kafkajs/src/protocol/requests/produce/v3/request.js",
    produceRequest,
    [4, 5, 6, 7].map((version) => `kafkajs/src/protocol/requests/produce/v${version}/request.js`),
  ),
};

/** Whether KafkaJS uses the linear grouping (false when KafkaJS was loaded before this module). */
export const linearGroupingInstalled: boolean = replacedModules.groupMessagesPerPartition;

/** Puts `replacement` in the require cache for `module`, unless a module that keeps it (`users`) already loaded. */
function replaceModule(module: string, replacement: unknown, users: string[]): boolean {
  if (users.some((user) => require.resolve(user) in require.cache)) {
    log("kafka").debug(`KafkaJS was loaded before its patches: ${module} left as it is`);
    return false;
  }
  const path = require.resolve(module);
  require(path);
  require.cache[path]!.exports = replacement;
  return true;
}

// --- No negative timeouts ---------------------------------------------------------------------------

/** What `installTimeoutClamp` needs of KafkaJS's `RequestQueue` (src/network/requestQueue/index.js). */
export interface RequestQueueClass {
  prototype: {
    throttledUntil: number;
    pending: unknown[];
    throttleCheckTimeoutId: unknown;
    checkPendingRequests(): void;
    scheduleCheckPendingRequests(): void;
  };
}

/** KafkaJS's interval for rechecking waiting requests (src/network/requestQueue/index.js). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

/**
 * KafkaJS schedules its throttle check `throttledUntil - Date.now()` ms ahead, which is a large
 * negative number when nothing is throttled (`throttledUntil` starts at -1); Deno, like Node 24,
 * then prints a `TimeoutNegativeWarning` on stderr. The same method, with the delay clamped at 0
 * (which is what a negative delay means anyway).
 */
export function installTimeoutClamp(
  Queue: RequestQueueClass = require("kafkajs/src/network/requestQueue/index.js") as RequestQueueClass,
): void {
  Queue.prototype.scheduleCheckPendingRequests = function () {
    let scheduleAt = this.throttledUntil - Date.now();
    if (this.throttleCheckTimeoutId) return;
    // As KafkaJS: with requests waiting and no throttle, check again after its default interval.
    if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, Math.max(0, scheduleAt));
  };
}
installTimeoutClamp();
