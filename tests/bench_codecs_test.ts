/** The pure pieces of bench/codecs.ts: the broker's log sizes per topic, and the ratios to the uncompressed run. */
import assert from "node:assert/strict";
import { type CodecRun, parseLogDirs, ratiosToNone } from "../bench/codecs.ts";

Deno.test("LogDirsCommand's JSON adds up to bytes per topic over partitions and log dirs", () => {
  const output = [
    "Querying brokers for log directories information",
    "Received log directory information from brokers 1",
    JSON.stringify({
      brokers: [{
        broker: 1,
        logDirs: [
          {
            error: null,
            logDir: "/a",
            partitions: [
              { partition: "bench.x.r1.none.readings-0", size: 100, offsetLag: 0, isFuture: false },
              { partition: "bench.x.r1.none.readings-2", size: 50, offsetLag: 0, isFuture: false },
              { partition: "bench.x.r1.zstd.heartbeats-1", size: 7, offsetLag: 0, isFuture: false },
            ],
          },
          { error: null, logDir: "/b", partitions: [{ partition: "bench.x.r1.none.readings-1", size: 25 }] },
        ],
      }],
      version: 1,
    }),
  ].join("\n");
  assert.deepEqual(
    parseLogDirs(output),
    new Map([["bench.x.r1.none.readings", 175], ["bench.x.r1.zstd.heartbeats", 7]]),
  );
  assert.throws(() => parseLogDirs("Querying brokers"), /no JSON/);
  assert.throws(
    () =>
      parseLogDirs(JSON.stringify({ brokers: [{ logDirs: [{ error: "KafkaStorageException", partitions: [] }] }] })),
    /KafkaStorageException/,
  );
});

Deno.test("each codec's records/s is compared with the uncompressed run of the same round", () => {
  const run = (codec: CodecRun["codec"], round: number, recordsPerSecond: number): CodecRun => ({
    codec,
    round,
    readings: 10,
    records: 100,
    wallSeconds: 1,
    recordsPerSecond,
    readingsBytes: 1,
    bytes: 2,
    cpuPercent: null,
    machinePercent: null,
    brokerPercent: null,
  });
  const ratios = ratiosToNone([
    run("none", 1, 100),
    run("zstd", 1, 90),
    run("none", 2, 200),
    run("zstd", 2, 100),
    run("none", 3, 100),
    run("zstd", 3, 80),
  ]);
  assert.deepEqual([...ratios.keys()], ["none", "zstd"]);
  assert.equal(ratios.get("zstd")!.ratio, 0.8);
  assert.deepEqual(ratios.get("zstd")!.perRound, [0.9, 0.5, 0.8]);
  assert.equal(ratios.get("zstd")!.recordsPerSecond, 90);
  assert.equal(ratios.get("none")!.ratio, 1);
});
