/**
 * Benchmark worker: backfill throughput. Runs a synthetic plant on the virtual clock (as fast as
 * the sink accepts) into an existing topic through the product's Kafka sink (acks=all, idempotent,
 * no compression, default linger and batch), until `--records` records are acknowledged. Readings
 * and heartbeats both go to `--topic`, so the partitions are exactly the topic's. `--stock-varints`
 * runs KafkaJS's encoder as shipped, without the faster varints of the Kafka layer's patches
 * (`installKafkaPatches({ skip: ["fastVarints"] })`).
 *
 *   deno run --allow-net --allow-read --allow-write --allow-env bench/throughput.ts \
 *     --topic bench.t6 [--brokers 127.0.0.1:9092] [--spool-dir DIR] --records 500000 [--sensors 1000] \
 *     [--stock-varints]
 *
 * Prints one JSON line: records, seconds, records/s, payload bytes (key + value + headers), CPU of this
 * process, peak RSS, and the run's wall-clock bounds (epoch ms) for the orchestrator's CPU figures.
 */
import { parseArgs } from "node:util";
import { installKafkaPatches } from "../lib/kafka/patches.ts";
import { JSON_BYTES, toRecords } from "../lib/messages.ts";
import { Rng } from "../lib/random.ts";
import { Scheduler } from "../lib/scheduler.ts";
import { runSimulation } from "../lib/simulation.ts";
import { syntheticPlant } from "./_plant.ts";
import { cpuPercent, cpuSeconds, mib, RssSampler } from "./_stats.ts";
import { openKafkaSink } from "./_sink.ts";
import { numberFlag, quietLogging, writeResult } from "./_worker.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    brokers: { type: "string", default: "127.0.0.1:9092" },
    "spool-dir": { type: "string" },
    topic: { type: "string" },
    records: { type: "string" },
    sensors: { type: "string" },
    "stock-varints": { type: "boolean", default: false },
  },
  strict: true,
});
if (!values.topic) throw new Error("--topic is required");
const recordTarget = numberFlag("records", values.records, 500_000);
const sensors = numberFlag("sensors", values.sensors, 1_000);
const topics = { readings: values.topic, heartbeats: values.topic };

await quietLogging();
// Before the sink loads KafkaJS (which installs the patches with none left out).
if (values["stock-varints"]) installKafkaPatches({ skip: ["fastVarints"] });
const plant = syntheticPlant(sensors);
const { sink, close } = await openKafkaSink({
  brokers: values.brokers.split(","),
  topics: [values.topic],
  spoolDir: values["spool-dir"],
});
const rss = new RssSampler();
const controller = new AbortController();
// Backfill: simulated time starts a day ago (record timestamps in the past) and jumps from one due
// entry to the next.
const scheduler = new Scheduler({ startMs: Date.now() - 86_400_000, mode: "virtual" });
let produced = 0;
let payloadBytes = 0;
let valueBytes = 0;
const headerSizes = new Map<object, number>();

const cpuBefore = cpuSeconds();
const fromMs = Date.now();
const startedMs = performance.now();
await runSimulation(plant, {
  scheduler,
  rng: new Rng(1),
  signal: controller.signal,
  emit: (events) => {
    const records = toRecords(events, topics, JSON_BYTES);
    produced += records.length;
    // Every field is ASCII, so string lengths are byte counts (and cost nothing to read).
    for (const record of records) {
      payloadBytes += record.key.length + record.value.length + headerBytes(record.headers);
      valueBytes += record.value.length;
    }
    if (produced >= recordTarget) controller.abort();
    return sink.write(records);
  },
});
await close();
const seconds = (performance.now() - startedMs) / 1000;
const cpuAfter = cpuSeconds();
rss.stop();

writeResult({
  records: sink.delivered,
  seconds: Math.round(seconds * 100) / 100,
  recordsPerSecond: Math.round(sink.delivered / seconds),
  payloadBytesPerRecord: Math.round(payloadBytes / produced),
  valueBytesPerRecord: Math.round(valueBytes / produced),
  cpuPercent: cpuPercent(cpuBefore, cpuAfter, seconds * 1000),
  window: { fromMs, toMs: Date.now() },
  peakRssMiB: mib(rss.peakBytes),
});
Deno.exit(0);

/** Bytes of header names and values (the product's headers are a few shared frozen objects). */
function headerBytes(headers: Readonly<Record<string, string>> | undefined): number {
  if (headers === undefined) return 0;
  let bytes = headerSizes.get(headers);
  if (bytes === undefined) {
    bytes = Object.entries(headers).reduce((sum, [name, value]) => sum + name.length + value.length, 0);
    headerSizes.set(headers, bytes);
  }
  return bytes;
}
