/**
 * Kafka's zstd: standard Zstandard frames. Compressed by the reference library built to
 * WebAssembly (@hpcc-js/wasm-zstd, whose module embeds the WebAssembly: nothing is read from a
 * path, so it works inside `deno compile`), at zstd's default level 3 as Kafka's producer;
 * decompressed by fzstd (pure JavaScript), which reads frames of any writer, also those of a
 * streaming compressor (Kafka's producer) that do not state their size. Importing this module
 * instantiates the WebAssembly (about 80 ms), so it is imported only when a codec asks for zstd.
 */
import { Zstd } from "@hpcc-js/wasm-zstd";
import { decompress as fzstdDecompress } from "fzstd";

/** zstd's default level, Kafka's producer's too (`compression.zstd.level`). */
const LEVEL = 3;

const zstd = await Zstd.load();

/** `input` as one zstd frame. */
export function compress(input: Uint8Array): Uint8Array {
  return zstd.compress(input, LEVEL);
}

/** The content of the zstd frames in `input`. Throws on data it cannot read. */
export function decompress(input: Uint8Array): Uint8Array {
  return fzstdDecompress(input);
}
