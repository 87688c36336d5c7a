/**
 * Kafka's Snappy: xerial's snappy-java stream framing, as Kafka's producer (`SnappyOutputStream`)
 * writes it and every Kafka client reads it: a 16-byte header (magic, version 1, compatible
 * version 1), then blocks of a big-endian 32-bit length and raw Snappy of up to 32 KiB of input.
 * Reading also takes a plain Snappy buffer (what kafkajs-snappy writes; Kafka's reader falls back
 * to it when the magic is absent). The Snappy itself is snappyjs (pure JavaScript).
 */
import { compress as snappyCompress, uncompress as snappyUncompress } from "snappyjs";

/** xerial's magic: 0x82 "SNAPPY" 0. */
const MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00];
const HEADER_SIZE = 16;
/** snappy-java's default block: what `SnappyOutputStream` compresses at a time. */
const BLOCK = 32 * 1024;

/** `input` in xerial's framing. */
export function compress(input: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = HEADER_SIZE;
  for (let start = 0; start < input.length; start += BLOCK) {
    const part = snappyCompress(input.subarray(start, Math.min(input.length, start + BLOCK)));
    parts.push(part);
    total += 4 + part.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setInt32(8, 1);
  view.setInt32(12, 1);
  let at = HEADER_SIZE;
  for (const part of parts) {
    view.setInt32(at, part.length);
    out.set(part, at + 4);
    at += 4 + part.length;
  }
  return out;
}

/** Whether `input` starts with xerial's header. */
function isFramed(input: Uint8Array): boolean {
  return input.length >= HEADER_SIZE && MAGIC.every((byte, i) => input[i] === byte);
}

/** The content of a xerial-framed (or plain) Snappy buffer. Throws on one it cannot read. */
export function decompress(input: Uint8Array): Uint8Array {
  if (!isFramed(input)) return snappyUncompress(input);
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let at = HEADER_SIZE; at < input.length;) {
    if (at + 4 > input.length) throw new Error("Snappy frame: truncated block length");
    const size = view.getInt32(at);
    if (size < 0 || at + 4 + size > input.length) throw new Error("Snappy frame: truncated block");
    const part = snappyUncompress(input.subarray(at + 4, at + 4 + size));
    parts.push(part);
    total += part.length;
    at += 4 + size;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let written = 0;
  for (const part of parts) {
    out.set(part, written);
    written += part.length;
  }
  return out;
}
