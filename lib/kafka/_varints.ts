/**
 * A patch of KafkaJS (installed by `patches.ts`): faster varints for its encoder (measured in
 * bench/README.md, "Throughput").
 */
import { log } from "../log.ts";

/** What `installFastVarints` needs of KafkaJS's `Encoder` class (src/protocol/encoder.js). */
export interface VarintEncoderClass {
  new (): VarintEncoder;
  prototype: VarintEncoder;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: unknown): number;
}

/** An instance of KafkaJS's `Encoder`, as far as `installFastVarints` uses it. */
export interface VarintEncoder {
  buf: Uint8Array;
  offset: number;
  readonly buffer: Uint8Array;
  ensureAvailable(length: number): void;
  writeUVarInt(value: number): VarintEncoder;
  writeVarInt(value: number): VarintEncoder;
  writeVarLong(value: unknown): VarintEncoder;
}

/** Timestamp deltas and other varlongs within +-(2^30 - 1) take the 32-bit path. */
const SMALL_VARLONG = 0x3fff_ffff;
const isSmallInteger = (value: unknown): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= -SMALL_VARLONG && value <= SMALL_VARLONG;

/**
 * KafkaJS 2.2.4 writes every varint of a record (its length, offset delta, key, value and header
 * lengths) through a temporary `Buffer.from(array)`, and sizes and writes every varlong (the
 * timestamp delta) with BigInt arithmetic. Under Deno's Node `Buffer` that was about half the CPU
 * time of producing a record, and made the client the bound of a backfill and of real-time
 * capacity. These replacements write the same bytes straight into the encoder's buffer. They are
 * installed once per class, and only when a self-check shows they write exactly what the
 * originals write, so a KafkaJS release with other internals keeps its own code. Returns whether
 * they are installed.
 */
export function installFastVarints(Encoder: VarintEncoderClass): boolean {
  const proto = Encoder.prototype as VarintEncoder & { fastVarints?: boolean };
  if (proto.fastVarints) return true;
  const { writeUVarInt, writeVarLong } = proto;
  const sizeOfVarLong = Encoder.sizeOfVarLong;
  if (typeof writeUVarInt !== "function" || typeof writeVarLong !== "function") return false;
  const ints = [0, 1, 63, 64, 127, 128, 300, 16_383, 16_384, 2 ** 21, 2 ** 28, 2 ** 31 - 1, -1, -64, -65, -(2 ** 31)];
  const longs = [0, 1, -1, 1_000, -1_000, SMALL_VARLONG, -SMALL_VARLONG, SMALL_VARLONG + 1, 2 ** 40, -(2 ** 40)];
  const sample = () => {
    const encoder = new Encoder();
    for (const value of ints) encoder.writeVarInt(value);
    for (const value of longs) encoder.writeVarLong(value);
    return [...encoder.buffer, ...longs.map((value) => Encoder.sizeOfVarLong(value))].join();
  };
  const before = sample();
  proto.writeUVarInt = function (this: VarintEncoder, value: number) {
    // The original's loop, writing into the buffer instead of an array (at most 5 bytes).
    this.ensureAvailable(5);
    while ((value & 0xffffff80) !== 0) {
      this.buf[this.offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.offset++] = value & 0x7f;
    return this;
  };
  proto.writeVarLong = function (this: VarintEncoder, value: unknown) {
    // Zigzag of a small integer, as a varint; anything else the original way.
    if (isSmallInteger(value)) return this.writeUVarInt(value >= 0 ? value * 2 : -value * 2 - 1);
    return writeVarLong.call(this, value);
  };
  Encoder.sizeOfVarLong = (value: unknown) =>
    isSmallInteger(value) ? Encoder.sizeOfVarInt(value) : sizeOfVarLong.call(Encoder, value);
  if (sample() !== before) {
    proto.writeUVarInt = writeUVarInt;
    proto.writeVarLong = writeVarLong;
    Encoder.sizeOfVarLong = sizeOfVarLong;
    log("kafka").debug("KafkaJS's encoder differs from the one installFastVarints knows: left as it is");
    return false;
  }
  proto.fastVarints = true;
  return true;
}
