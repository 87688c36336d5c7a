/**
 * KafkaJS's internal modules, as the patches know them: where each is, the shapes the patches use,
 * and the ones the patches build on, loaded on first use (after `installKafkaPatches` checked them,
 * so a KafkaJS without them fails that check instead of this module's import).
 */
import { createRequire } from "node:module";

/** The KafkaJS release the patches were written for and are tested against. */
export const KAFKAJS_VERSION = "2.2.4";

/** What the patches need of a CommonJS loader: Node's `require`, or a stand-in in tests. */
export interface ModuleLoader {
  (id: string): unknown;
  resolve(id: string): string;
  cache: Record<string, { exports: unknown } | undefined>;
}

/** Node's `require`, resolving from this folder (where `kafkajs` is a dependency). */
export const nodeRequire: ModuleLoader = createRequire(import.meta.url) as unknown as ModuleLoader;

/** KafkaJS's internal modules the patches replace or use. */
export const MODULES = {
  packageJson: "kafkajs/package.json",
  encoder: "kafkajs/src/protocol/encoder.js",
  long: "kafkajs/src/utils/long.js",
  apiKeys: "kafkajs/src/protocol/requests/apiKeys.js",
  grouping: "kafkajs/src/producer/groupMessagesPerPartition.js",
  sendMessages: "kafkajs/src/producer/sendMessages.js",
  record: "kafkajs/src/protocol/recordBatch/record/v0/index.js",
  crc32C: "kafkajs/src/protocol/recordBatch/crc32C/index.js",
  recordBatch: "kafkajs/src/protocol/recordBatch/v0/index.js",
  produceRequest: "kafkajs/src/protocol/requests/produce/v3/request.js",
  /** Produce request versions that reuse v3's. */
  produceRequestUsers: [4, 5, 6, 7].map((version) => `kafkajs/src/protocol/requests/produce/v${version}/request.js`),
  requestQueue: "kafkajs/src/network/requestQueue/index.js",
  /** Frames every request (size, header, body). */
  request: "kafkajs/src/protocol/request.js",
  /** Keeps `request` from when it loads. */
  connection: "kafkajs/src/network/connection.js",
  /** Metadata requests: v1 (v2 and v3 keep it when they load) and v4 (v5 keeps it, v6 keeps v5). */
  metadataV1: "kafkajs/src/protocol/requests/metadata/v1/request.js",
  metadataV4: "kafkajs/src/protocol/requests/metadata/v4/request.js",
  metadataUsers: [2, 3, 5, 6].map((version) => `kafkajs/src/protocol/requests/metadata/v${version}/request.js`),
} as const;

/** What KafkaJS's `Encoder` (src/protocol/encoder.js) offers that the patches use. */
export interface KafkaJsEncoder {
  buf: Uint8Array & { write(text: string, offset: number, length: number, encoding: "utf8"): number };
  offset: number;
  /** The bytes written (a view of `buf`). */
  readonly buffer: Uint8Array;
  ensureAvailable(length: number): void;
  writeInt8(value: number): KafkaJsEncoder;
  writeUVarInt(value: number): KafkaJsEncoder;
  writeVarInt(value: number): KafkaJsEncoder;
  writeVarLong(value: unknown): KafkaJsEncoder;
  writeVarIntString(value: string): KafkaJsEncoder;
  writeVarIntBytes(value: unknown): KafkaJsEncoder;
  writeInt16(value: number): KafkaJsEncoder;
  writeInt32(value: number): KafkaJsEncoder;
  writeUInt32(value: number): KafkaJsEncoder;
  writeInt64(value: unknown): KafkaJsEncoder;
  writeString(value: string | null): KafkaJsEncoder;
  writeArray(array: unknown[], type?: string): KafkaJsEncoder;
  writeEncoder(value: KafkaJsEncoder): KafkaJsEncoder;
  size(): number;
}

/** KafkaJS's `Encoder` class. */
export interface KafkaJsEncoderClass {
  new (initialSize?: number): KafkaJsEncoder;
  prototype: KafkaJsEncoder;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: unknown): number;
}

/** KafkaJS's `Long` (src/utils/long.js), as far as the produce request uses it. */
export interface KafkaJsLong {
  fromInt(value: number): unknown;
  fromValue(value: unknown): unknown;
}

/** The encoder methods the patches call (checked before they are installed). */
export const ENCODER_METHODS = [
  "ensureAvailable",
  "writeInt8",
  "writeUVarInt",
  "writeVarInt",
  "writeVarLong",
  "writeVarIntString",
  "writeVarIntBytes",
  "writeInt16",
  "writeInt32",
  "writeUInt32",
  "writeInt64",
  "writeString",
  "writeArray",
  "writeEncoder",
  "size",
] as const;

/** KafkaJS's internals the patches build on. */
export interface KafkaJsInternals {
  Encoder: KafkaJsEncoderClass;
  Long: KafkaJsLong;
  /** The Produce request's API key. */
  produceApiKey: number;
}

let internals: KafkaJsInternals | undefined;

/** KafkaJS's encoder, `Long` and the Produce API key, required once, on first use. */
export function kafkaJs(): KafkaJsInternals {
  return internals ??= {
    Encoder: nodeRequire(MODULES.encoder) as KafkaJsEncoderClass,
    Long: nodeRequire(MODULES.long) as KafkaJsLong,
    produceApiKey: (nodeRequire(MODULES.apiKeys) as { Produce: number }).Produce,
  };
}

/**
 * KafkaJS's `RecordBatch` (recordBatch/v0), for compressed partitions. Required when first used,
 * not before: it keeps the CRC-32C module it requires, which must be the patched one by then.
 */
export function kafkaJsRecordBatch(): (args: Record<string, unknown>) => Promise<KafkaJsEncoder> {
  return (nodeRequire(MODULES.recordBatch) as { RecordBatch(args: Record<string, unknown>): Promise<KafkaJsEncoder> })
    .RecordBatch;
}
