/**
 * The faster varints lib/kafka/_varints.ts gives KafkaJS's encoder: the same bytes as the Kafka
 * protocol's zigzag LEB128, read back by KafkaJS's own decoder, and left out when the encoder is
 * not the one they were written for.
 */
import assert from "node:assert/strict";
import KafkaJsDecoder from "kafkajs/src/protocol/decoder.js";
import KafkaJsEncoder from "kafkajs/src/protocol/encoder.js";
import RecordV0 from "kafkajs/src/protocol/recordBatch/record/v0/index.js";
import { installFastVarints, type VarintEncoder, type VarintEncoderClass } from "../lib/kafka/_varints.ts";

const Encoder = KafkaJsEncoder as VarintEncoderClass;
const Decoder = KafkaJsDecoder as new (buffer: Uint8Array) => {
  offset: number;
  readVarInt(): number;
  readVarLong(): { toString(): string };
};

/** The Kafka protocol's varlong: zigzag, then 7 bits a byte, least significant first. */
function zigzagLeb128(value: bigint): number[] {
  let rest = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const bytes: number[] = [];
  while (rest > 0x7fn) {
    bytes.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return bytes;
}

const INTS = [0, 1, -1, 63, -64, 64, -65, 127, 128, 8_191, 8_192, 1_048_575, 2 ** 27, 2 ** 31 - 1, -(2 ** 31)];
const LONGS = [
  ...INTS,
  2 ** 30 - 1,
  -(2 ** 30 - 1),
  2 ** 30,
  -(2 ** 30),
  2 ** 40 + 3,
  -(2 ** 45),
  Date.UTC(2025, 0, 1),
];

Deno.test("the fast varints are installed on KafkaJS's encoder", () => {
  assert.equal(installFastVarints(Encoder), true);
});

Deno.test("varints and varlongs come out as zigzag LEB128 and KafkaJS's decoder reads them back", async (t) => {
  await t.step("varints", () => {
    for (const value of INTS) {
      const bytes = [...new Encoder().writeVarInt(value).buffer];
      assert.deepEqual(bytes, zigzagLeb128(BigInt(value)), `varint ${value}`);
      assert.equal(new Decoder(new Encoder().writeVarInt(value).buffer).readVarInt(), value);
    }
  });
  await t.step("varlongs, small and large, with their sizes", () => {
    for (const value of LONGS) {
      const bytes = [...new Encoder().writeVarLong(value).buffer];
      assert.deepEqual(bytes, zigzagLeb128(BigInt(value)), `varlong ${value}`);
      assert.equal(Encoder.sizeOfVarLong(value), bytes.length, `size of varlong ${value}`);
      assert.equal(new Decoder(new Encoder().writeVarLong(value).buffer).readVarLong().toString(), String(value));
    }
  });
});

Deno.test("a record with key, value and headers decodes field by field", () => {
  const value = '{"sensorId":"S1-1","tier":"1.1","timestamp":"2025-12-03T14:30:45.123Z","status":"active"}';
  const encoded = (RecordV0 as (record: object) => VarintEncoder)({
    offsetDelta: 300,
    timestampDelta: 1_234,
    key: "S1-1",
    value,
    headers: { "content-type": "application/json" },
  }).buffer;
  const decoder = new Decoder(encoded);
  const length = decoder.readVarInt();
  assert.equal(length, encoded.length - decoder.offset, "the length prefix covers the rest");
  decoder.offset += 1; // attributes
  assert.equal(decoder.readVarLong().toString(), "1234");
  assert.equal(decoder.readVarInt(), 300);
  assert.equal(decoder.readVarInt(), 4, "key length");
  decoder.offset += 4;
  assert.equal(decoder.readVarInt(), value.length, "value length");
  decoder.offset += value.length;
  assert.equal(decoder.readVarInt(), 1, "one header");
  assert.equal(decoder.readVarInt(), "content-type".length);
});

Deno.test("an encoder that writes other bytes keeps its own varints", () => {
  // A stand-in for a KafkaJS release whose varints differ (here: most significant group first).
  class OtherEncoder {
    buf = new Uint8Array(64);
    offset = 0;
    get buffer() {
      return this.buf.slice(0, this.offset);
    }
    static sizeOfVarInt = () => 1;
    static sizeOfVarLong = () => 1;
    ensureAvailable() {}
    writeUVarInt(value: number) {
      const groups: number[] = [];
      do {
        groups.unshift(value & 0x7f);
        value >>>= 7;
      } while (value !== 0);
      for (const group of groups) this.buf[this.offset++] = group;
      return this;
    }
    writeVarInt(value: number) {
      return this.writeUVarInt((value << 1) ^ (value >> 31));
    }
    writeVarLong(value: unknown) {
      return this.writeVarInt(Number(value));
    }
  }
  const { writeUVarInt, writeVarLong } = OtherEncoder.prototype;
  const { sizeOfVarLong } = OtherEncoder;
  assert.equal(installFastVarints(OtherEncoder as unknown as VarintEncoderClass), false);
  assert.equal(OtherEncoder.prototype.writeUVarInt, writeUVarInt);
  assert.equal(OtherEncoder.prototype.writeVarLong, writeVarLong);
  assert.equal(OtherEncoder.sizeOfVarLong, sizeOfVarLong);
});
