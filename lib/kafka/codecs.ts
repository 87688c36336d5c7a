/**
 * The record batch codecs KafkaJS does not ship (snappy, lz4, zstd), in KafkaJS's codec table, so
 * the producer writes them and every consumer of the layer (the monitor's, `doubt.ts`'s) reads
 * them. Each implementation (`codecs/`) is imported on first use, so a run pays only for the codec
 * it asks for (`loadCodec` at connect), and a consumer for those it meets.
 */
import { Buffer } from "node:buffer";
import { CompressionCodecs } from "kafkajs";
import { CODEC_IDS } from "./settings.ts";

/** What a codec module of `codecs/` offers. */
export interface CodecImplementation {
  compress(input: Uint8Array): Uint8Array;
  decompress(input: Uint8Array): Uint8Array;
}

/** The codecs registered here, and where each lives (literal imports: `deno compile` embeds them). */
const IMPLEMENTATIONS = {
  snappy: () => import("./codecs/snappy.ts"),
  lz4: () => import("./codecs/lz4.ts"),
  zstd: () => import("./codecs/zstd.ts"),
} satisfies Record<string, () => Promise<CodecImplementation>>;

/** A codec of this module, by its `--compression` name. */
export type AddedCodec = keyof typeof IMPLEMENTATIONS;

const loaded = new Map<AddedCodec, Promise<CodecImplementation>>();

/** Imports codec `name` (once), e.g. while connecting, so the first request does not wait for it. */
export function loadCodec(name: AddedCodec): Promise<CodecImplementation> {
  let codec = loaded.get(name);
  if (codec === undefined) loaded.set(name, codec = IMPLEMENTATIONS[name]());
  return codec;
}

/** Whether `name` is a codec of this module (not none, nor KafkaJS's own gzip). */
export function isAddedCodec(name: string): name is AddedCodec {
  return Object.hasOwn(IMPLEMENTATIONS, name);
}

/** A Buffer over the same bytes (KafkaJS's encoder and decoder take Buffers only). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** KafkaJS's codec interface over codec `name`, loading it on the first call. */
function kafkaJsCodec(name: AddedCodec) {
  return {
    async compress(encoder: { buffer: Uint8Array }): Promise<Buffer> {
      return asBuffer((await loadCodec(name)).compress(encoder.buffer));
    },
    async decompress(buffer: Uint8Array): Promise<Buffer> {
      return asBuffer((await loadCodec(name)).decompress(buffer));
    },
  };
}

let registered = false;

/** Puts snappy, lz4 and zstd into KafkaJS's codec table (once; nothing is loaded yet). */
export function registerCodecs(): void {
  if (registered) return;
  registered = true;
  const table = CompressionCodecs as unknown as Record<number, () => unknown>;
  for (const name of Object.keys(IMPLEMENTATIONS) as AddedCodec[]) {
    const codec = kafkaJsCodec(name);
    table[CODEC_IDS[name]] = () => codec;
  }
}
