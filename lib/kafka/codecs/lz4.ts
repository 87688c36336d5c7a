/**
 * Kafka's LZ4: the LZ4 frame format (lz4_Frame_format.md), as Kafka's `Lz4BlockOutputStream`
 * writes it and its `Lz4BlockInputStream` reads it: independent blocks (Kafka refuses dependent
 * ones), 64 KiB at most each, no content size, no checksums but the header's. The blocks are
 * lz4js's (pure JavaScript); the frame is written here, because lz4js's own frames declare
 * dependent blocks of up to 4 MiB and its reader takes a block checksum for the block's start.
 */
import { compressBlock, compressBound, decompressBlock } from "lz4js";

const MAGIC = 0x184d2204;
/** FLG: version 01, independent blocks; no block checksum, content size, content checksum or dictionary. */
const FLG = 0x60;
/** BD: the largest block is 64 KiB (4), as Kafka's producer writes. */
const BD = 0x40;
/** The header checksum: the second byte of xxHash32 (seed 0) of FLG and BD, fixed since they are. */
const HC = 0x82;
const MAX_BLOCK = 64 * 1024;
/**
 * What one block holds here: 16 bytes short of the largest, so no match of lz4js's (which may
 * start 10 bytes before a block's end) falls into the last 12 bytes of a decoder's 64 KiB
 * buffer, where LZ4's reference decoder takes only the final literals.
 */
const BLOCK_DATA = MAX_BLOCK - 16;
const UNCOMPRESSED = 0x80000000;

const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION = 0x40;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_DICTIONARY = 0x01;
const BLOCK_SIZES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

/** `input` as one LZ4 frame of independent blocks. */
export function compress(input: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(input.length / BLOCK_DATA));
  // magic, FLG, BD, HC; each block's size and at most its bytes; the end mark
  const out = new Uint8Array(7 + blocks * 4 + input.length + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  out[4] = FLG;
  out[5] = BD;
  out[6] = HC;
  let at = 7;
  const scratch = new Uint8Array(compressBound(BLOCK_DATA));
  const hashTable = new Uint32Array(1 << 16);
  for (let start = 0; start < input.length; start += BLOCK_DATA) {
    const length = Math.min(BLOCK_DATA, input.length - start);
    // A clean table per block: no match reaches into the block before.
    hashTable.fill(0);
    const size = compressBlock(input, scratch, start, length, hashTable);
    if (size > 0 && size < length) {
      view.setUint32(at, size, true);
      out.set(scratch.subarray(0, size), at + 4);
      at += 4 + size;
    } else {
      view.setUint32(at, (length | UNCOMPRESSED) >>> 0, true);
      out.set(input.subarray(start, start + length), at + 4);
      at += 4 + length;
    }
  }
  view.setUint32(at, 0, true);
  return out.subarray(0, at + 4);
}

/**
 * The content of the LZ4 frames in `input` (any writer's: block checksums, content size and
 * checksum are skipped, not checked; the record batch's CRC-32C covers the bytes). Throws on a
 * frame it cannot read.
 */
export function decompress(input: Uint8Array): Uint8Array {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  let out = new Uint8Array(Math.max(MAX_BLOCK, input.length * 4));
  let written = 0;
  let at = 0;
  const need = (bytes: number) => {
    if (at + bytes > input.length) throw new Error("LZ4 frame: truncated");
  };
  while (at < input.length) {
    need(7);
    if (view.getUint32(at, true) !== MAGIC) throw new Error("LZ4 frame: bad magic number");
    const flg = input[at + 4];
    const maxBlock = BLOCK_SIZES[(input[at + 5] >> 4) & 7];
    if ((flg & FLG_VERSION_MASK) !== FLG_VERSION || maxBlock === undefined) {
      throw new Error("LZ4 frame: unsupported version or block size");
    }
    at += 6 + ((flg & FLG_CONTENT_SIZE) ? 8 : 0) + ((flg & FLG_DICTIONARY) ? 4 : 0) + 1;
    for (;;) {
      need(4);
      const word = view.getUint32(at, true);
      at += 4;
      if (word === 0) break;
      const size = word & ~UNCOMPRESSED & 0x7fffffff;
      need(size);
      if (written + maxBlock > out.length) {
        const grown = new Uint8Array(Math.max(out.length * 2, written + maxBlock));
        grown.set(out.subarray(0, written));
        out = grown;
      }
      if (word & UNCOMPRESSED) {
        if (size > maxBlock) throw new Error("LZ4 frame: block larger than its frame allows");
        out.set(input.subarray(at, at + size), written);
        written += size;
      } else {
        const end = decompressBlock(input, out, at, size, written);
        if (end - written > maxBlock) throw new Error("LZ4 frame: block larger than its frame allows");
        written = end;
      }
      at += size + ((flg & FLG_BLOCK_CHECKSUM) ? 4 : 0);
    }
    if (flg & FLG_CONTENT_CHECKSUM) at += 4;
    if (at > input.length) throw new Error("LZ4 frame: truncated");
  }
  return out.subarray(0, written);
}
