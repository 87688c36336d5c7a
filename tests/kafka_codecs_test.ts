/**
 * The codecs KafkaJS does not ship (lib/kafka/codecs.ts): each one's round trip, its framing as
 * Kafka expects it, frames of reference writers (the lz4 and zstd command-line tools) read back,
 * and a produce request written through KafkaJS's path (lib/kafka/_produce_request.ts) decoded by
 * KafkaJS's own record batch decoder. The broker, kcat and the monitor read them in
 * kafka_codecs_e2e_test.ts.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { type AddedCodec, isAddedCodec, loadCodec, registerCodecs } from "../lib/kafka/codecs.ts";
import { installKafkaPatches } from "../lib/kafka/patches.ts";
import { produceRequest } from "../lib/kafka/_produce_request.ts";
import { CODEC_IDS, COMPRESSIONS } from "../lib/kafka/settings.ts";
import { Rng } from "../lib/random.ts";

installKafkaPatches();
const require = createRequire(import.meta.url);
const CODECS: AddedCodec[] = ["zstd", "lz4", "snappy"];
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const hex = (digits: string) => Uint8Array.from(digits.match(/../g)!.map((pair) => parseInt(pair, 16)));

/** Inputs across block boundaries: empty, tiny, JSON lines (very compressible), noise (not at all). */
function inputs(): Uint8Array[] {
  const rng = new Rng(5);
  const json = (bytes: number) => {
    let out = "";
    for (let i = 0; out.length < bytes; i++) {
      out += JSON.stringify({
        factoryId: `F${i % 7}`,
        sensorId: `F${i % 7}-S${i % 5}`,
        value: rng.int(0, 99999) / 100,
      });
    }
    return new TextEncoder().encode(out.slice(0, bytes));
  };
  const noise = (bytes: number) => Uint8Array.from({ length: bytes }, () => rng.int(0, 255));
  return [
    new Uint8Array(0),
    Uint8Array.of(7),
    json(12),
    json(13),
    json(1_000),
    json(32 * 1024),
    json(65_519),
    json(65_520),
    json(65_521),
    json(65_536),
    json(400_000),
    noise(100),
    noise(70_000),
    new Uint8Array(200_000).fill(0x41),
  ];
}

Deno.test("every --compression value has Kafka's codec number", () => {
  assert.deepEqual(COMPRESSIONS, ["none", "gzip", "snappy", "lz4", "zstd"]);
  assert.deepEqual(COMPRESSIONS.filter(isAddedCodec), ["snappy", "lz4", "zstd"]);
  const { CompressionTypes } = require("kafkajs");
  assert.deepEqual(CODEC_IDS, {
    none: CompressionTypes.None,
    gzip: CompressionTypes.GZIP,
    snappy: CompressionTypes.Snappy,
    lz4: CompressionTypes.LZ4,
    zstd: CompressionTypes.ZSTD,
  });
});

for (const name of CODECS) {
  Deno.test(`${name}: what it compresses comes back byte for byte`, async () => {
    const codec = await loadCodec(name);
    for (const input of inputs()) {
      const compressed = codec.compress(input);
      assert.deepEqual(codec.decompress(compressed), input, `${name}, ${input.length} bytes`);
    }
    const json = inputs()[10];
    assert.ok(codec.compress(json).length < json.length / 3, `${name} compresses JSON lines`);
  });
}

Deno.test("lz4: one frame of independent blocks of at most 64 KiB, as Kafka's reader requires", async () => {
  const { compress } = await loadCodec("lz4");
  const input = inputs()[10];
  const frame = compress(input);
  // magic, FLG (version 01, independent blocks), BD (64 KiB), header checksum: as lz4's CLI writes them
  assert.deepEqual([...frame.subarray(0, 7)], [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let at = 7;
  let blocks = 0;
  for (let size; (size = view.getUint32(at, true)) !== 0; blocks++) {
    const length = size & 0x7fffffff;
    assert.ok(length <= 65_536 - 16, `block ${blocks}: ${length} bytes`);
    at += 4 + length;
  }
  assert.equal(at + 4, frame.length, "an end mark, no content checksum");
  assert.equal(blocks, Math.ceil(input.length / (65_536 - 16)));
});

Deno.test("lz4: frames of lz4's CLI (block and content checksums, content size) are read", async () => {
  const { decompress } = await loadCodec("lz4");
  const want = '{"factoryId":"F1","sensorId":"F1-S1","value":21.5}{"factoryId":"F1","sensorId":"F1-S2","value":21.7}' +
    '{"factoryId":"F2","sensorId":"F2-S1","value":19.25}';
  // printf '%s' "$want" | lz4 -BX --content-size -B4 -c   (from stdin: no content size)
  const checksums = "04224d187440bd4b000000f30a7b22666163746f72794964223a224631222c2273656e736f721000202d531300cf76" +
    "616c7565223a32312e357d32000f193232001c373200001f00086400193264006031392e32357d1d7952ec00000000981af1df";
  // lz4 -BX --content-size -B4 FILE   (a file: its size in the header)
  const withSize = "04224d187c4097000000000000002a4b000000f30a7b22666163746f72794964223a224631222c2273656e736f7210" +
    "00202d531300cf76616c7565223a32312e357d32000f193232001c373200001f00086400193264006031392e32357d1d7952ec0000" +
    "0000981af1df";
  assert.equal(text(decompress(hex(checksums))), want);
  assert.equal(text(decompress(hex(withSize))), want);
  assert.throws(() => decompress(hex(checksums).subarray(0, 30)), /LZ4 frame: truncated/);
  assert.throws(() => decompress(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), /LZ4 frame: bad magic number/);
});

Deno.test("snappy: xerial's framing (header, then blocks of 32 KiB input), and plain snappy read too", async () => {
  const { compress, decompress } = await loadCodec("snappy");
  const input = inputs()[10];
  const framed = compress(input);
  assert.deepEqual([...framed.subarray(0, 16)], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
  let blocks = 0;
  for (let at = 16; at < framed.length; blocks++) at += 4 + view.getInt32(at);
  assert.equal(blocks, Math.ceil(input.length / 32_768));
  // Plain snappy (what kafkajs-snappy and librdkafka write): a varint length, then one literal.
  assert.equal(text(decompress(Uint8Array.of(5, 4 << 2, ...new TextEncoder().encode("hello")))), "hello");
  assert.throws(() => decompress(framed.subarray(0, 40)), /Snappy frame: truncated block/);
});

Deno.test("zstd: standard frames; streamed ones without a size and several frames in a row are read", async () => {
  const { compress, decompress } = await loadCodec("zstd");
  assert.deepEqual([...compress(inputs()[4]).subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd]);
  // printf '%s' "$want" | zstd -c   (streamed: the frame does not say its size)
  const streamed = "28b52ffd045845020054037b22666163746f72794964223a224631222c2273656e736f722d5331222c2276616c7565" +
    "223a32312e357d3237323231392e32357d0600673804740710060ea12a179a6ce20152951cec";
  assert.match(text(decompress(hex(streamed))), /^\{"factoryId":"F1".*"value":19.25\}$/);
  // (printf 'first frame,' | zstd -c; printf 'second frame' | zstd -c)
  const two = "28b52ffd04586100006669727374206672616d652c3465737e28b52ffd04586100007365636f6e64206672616d65176407b6";
  assert.equal(text(decompress(hex(two))), "first frame,second frame");
  assert.throws(() => decompress(Uint8Array.of(1, 2, 3, 4, 5, 6)));
});

Deno.test("a produce request compressed through KafkaJS's path decodes with KafkaJS's own reader", async () => {
  registerCodecs();
  const Decoder = require("kafkajs/src/protocol/decoder.js");
  const decodeBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder.js");
  const messages = Array.from({ length: 300 }, (_, i) => ({
    key: `F1-S${i % 4}`,
    value: JSON.stringify({ i, value: i / 7 }),
    timestamp: String(1_764_000_000_000 + i * 250),
    headers: { "message-type": "factory-sim.reading.v1" },
  }));
  for (const name of ["gzip", ...CODECS] as const) {
    const request = produceRequest({
      acks: -1,
      timeout: 30_000,
      compression: CODEC_IDS[name],
      topicData: [{ topic: "T", partitions: [{ partition: 2, messages }] }],
    });
    const decoder = new Decoder(Buffer.from((await request.encode()).buffer));
    decoder.readString();
    decoder.readInt16();
    decoder.readInt32();
    assert.equal(decoder.readInt32(), 1, "one topic");
    assert.equal(decoder.readString(), "T");
    assert.equal(decoder.readInt32(), 1, "one partition");
    assert.equal(decoder.readInt32(), 2);
    decoder.readInt32(); // the batch's size
    const batch = await decodeBatch(decoder);
    assert.equal(batch.records.length, messages.length, name);
    // The batch's attributes: after the request's header (transactional id 2, acks 2, timeout 4,
    // topics 4, "T" 3, partitions 4, partition 4, size 4) and the batch's first offset 8, length 4,
    // leader epoch 4, magic 1 and CRC 4.
    const bytes = decoder.buffer as Buffer;
    assert.equal(bytes.readInt16BE(2 + 2 + 4 + 4 + 3 + 4 + 4 + 4 + 8 + 4 + 4 + 1 + 4) & 7, CODEC_IDS[name], name);
    for (const [i, record] of batch.records.entries()) {
      assert.equal(record.key.toString(), messages[i].key);
      assert.equal(record.value.toString(), messages[i].value);
      assert.equal(record.timestamp, messages[i].timestamp);
      assert.equal(record.headers["message-type"].toString(), "factory-sim.reading.v1");
    }
  }
});
