/**
 * A patch of KafkaJS (installed by `patches.ts`): each uncompressed partition of a produce request
 * written once into an exactly sized buffer, and the request into one more, in place of
 * `protocol/requests/produce/v3/request.js` (which v4 to v7 reuse).
 */
import { Buffer } from "node:buffer";
import { crc32c } from "./_crc32c.ts";
import { kafkaJs, type KafkaJsEncoder, kafkaJsRecordBatch } from "./_kafkajs.ts";
import {
  byteLengthOf,
  copyInto,
  encodeHeaders,
  encodeRecord,
  recordBodySize,
  sizedEncoder,
  writeRecord,
} from "./_record.ts";

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

const NO_COMPRESSION = 0;
const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;

/**
 * KafkaJS's produce request (v3, which v4 to v7 reuse), encoding each uncompressed partition
 * straight into one exactly sized buffer. KafkaJS copies every record into a growing encoder
 * (a `Buffer` view and a copy per record, zero-filled reallocations as it doubles), then the batch
 * into three more encoders, and sorts the partition's timestamps as strings to find the first and
 * the last. The bytes are the same (`tests/kafka_patches_test.ts` compares them); compressed
 * partitions take KafkaJS's own way.
 */
export function produceRequest(
  {
    acks,
    timeout,
    transactionalId = null,
    producerId = kafkaJs().Long.fromInt(-1),
    producerEpoch = 0,
    compression = NO_COMPRESSION,
    topicData,
  }: ProduceRequestArgs,
): KafkaJsRequest {
  const { produceApiKey } = kafkaJs();
  return {
    apiKey: produceApiKey,
    apiVersion: 3,
    apiName: "Produce",
    expectResponse: () => acks !== 0,
    encode: async () => {
      // Each partition in a buffer of its own, then all of it once into one of the exact size:
      // KafkaJS's encoders would copy the partitions into a topic's growing buffer, and the topics
      // into the request's.
      const topics: { topic: string; partitions: KafkaJsEncoder[] }[] = [];
      // transactional id, acks 2, timeout 4, topic count 4
      let size = stringSize(transactionalId) + 10;
      for (const { topic, partitions } of topicData) {
        const encoded: KafkaJsEncoder[] = [];
        // name, partition count 4
        size += stringSize(topic) + 4;
        for (const data of partitions) {
          const args = { ...data, transactional: !!transactionalId, producerId, producerEpoch };
          const partition = compression === NO_COMPRESSION
            ? encodePartition(args)
            : await encodeCompressedPartition(args, compression);
          size += partition.offset;
          encoded.push(partition);
        }
        topics.push({ topic, partitions: encoded });
      }
      const encoder = sizedEncoder(size);
      encoder.writeString(transactionalId).writeInt16(acks).writeInt32(timeout).writeInt32(topics.length);
      for (const { topic, partitions } of topics) {
        encoder.writeString(topic).writeInt32(partitions.length);
        for (const partition of partitions) copyInto(encoder, partition.buf.subarray(0, partition.offset));
      }
      return encoder;
    },
  };
}

/** Bytes of a protocol string: its int16 length, then its UTF-8 bytes (-1 and none for null). */
function stringSize(text: string | null): number {
  return text === null ? 2 : 2 + Buffer.byteLength(text, "utf8");
}

interface PartitionArgs extends ProducePartition {
  transactional: boolean;
  producerId: unknown;
  producerEpoch: number;
}

/**
 * The first and last timestamps as KafkaJS finds them: by sorting them as strings. Numbers of
 * thirteen digits (epoch milliseconds from 2001 to 2286, as factory-sim's producer hands them)
 * sort as strings the way they sort as numbers, so those are compared as numbers, with no string
 * made for each.
 */
function timestampBounds(messages: ProduceMessage[], dateNow: number): { first: unknown; last: unknown } {
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < messages.length; i++) {
    const timestamp = messages[i].timestamp;
    if (typeof timestamp !== "number" || !(timestamp >= 1e12 && timestamp < 1e13) || timestamp % 1 !== 0) {
      return textBounds(messages, dateNow);
    }
    if (timestamp < first) first = timestamp;
    if (timestamp >= last) last = timestamp;
  }
  return messages.length === 0 ? { first: dateNow, last: dateNow } : { first, last };
}

/** `timestampBounds` of any timestamps: each made a string and compared as KafkaJS's sort does. */
function textBounds(messages: ProduceMessage[], dateNow: number): { first: unknown; last: unknown } {
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
  {
    partition,
    messages,
    firstSequence = 0,
    transactional,
    producerId = kafkaJs().Long.fromValue(-1),
    producerEpoch = 0,
  }: PartitionArgs,
): KafkaJsEncoder {
  const { Encoder, Long } = kafkaJs();
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
  const encoder = sizedEncoder(20 + batchSize);
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
  const RecordBatch = kafkaJsRecordBatch();
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
  return new (kafkaJs().Encoder)().writeInt32(partition).writeInt32(recordBatch.size())
    .writeEncoder(recordBatch);
}
