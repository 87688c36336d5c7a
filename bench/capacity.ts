/**
 * Benchmark worker: real-time capacity. Simulates `--sensors` sensors (heartbeats, and one line per
 * sensor) at speed 1 into Kafka through the product's sink with its defaults, for `--warmup`
 * seconds and then `--seconds` measured seconds, and reports how late the scheduler dispatched.
 *
 *   deno run --allow-net --allow-read --allow-write --allow-env bench/capacity.ts \
 *     --sensors 50000 --seconds 20 [--warmup 5] [--brokers 127.0.0.1:9092] [--topic-prefix bench.cap] \
 *     [--spool-dir DIR]
 *
 * Lateness is the scheduler's own measure (wall time of dispatch minus due time) for every event.
 * `Scheduler.lateness` only keeps count, total and max, so the worker gives the scheduler a wall
 * clock that remembers its last reading: every batch is dispatched at the last reading, and the
 * events carry their due time, which is all the per-event lateness needs. The totals are checked
 * against the scheduler's own.
 *
 * Prints one JSON line with, for the measured window: events/s emitted and records/s acknowledged,
 * lateness mean/p50/p99/max (and over the whole run), CPU of this process, RSS (peak and at the
 * end), the records still unacknowledged at the end of the window, and the window's wall-clock
 * bounds (epoch ms) so the orchestrator can tell what the broker and the machine used meanwhile.
 */
import { parseArgs } from "node:util";
import { JSON_BYTES, toRecords } from "../lib/messages.ts";
import { Rng } from "../lib/random.ts";
import { Scheduler } from "../lib/scheduler.ts";
import { runSimulation } from "../lib/simulation.ts";
import { syntheticPlant } from "./_plant.ts";
import { cpuPercent, cpuSeconds, mib, MsHistogram, round1, RssSampler } from "./_stats.ts";
import { openKafkaSink } from "./_sink.ts";
import { numberFlag, quietLogging, writeResult } from "./_worker.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    brokers: { type: "string", default: "127.0.0.1:9092" },
    "spool-dir": { type: "string" },
    sensors: { type: "string" },
    seconds: { type: "string" },
    warmup: { type: "string" },
    "topic-prefix": { type: "string", default: "bench.capacity" },
  },
  strict: true,
});
const sensors = numberFlag("sensors", values.sensors, 10_000);
const measureMs = numberFlag("seconds", values.seconds, 20) * 1000;
const warmupMs = numberFlag("warmup", values.warmup, 5) * 1000;
const topics = { readings: `${values["topic-prefix"]}.readings`, heartbeats: `${values["topic-prefix"]}.heartbeats` };

await quietLogging();
const plant = syntheticPlant(sensors);
const { sink, close } = await openKafkaSink({
  brokers: values.brokers.split(","),
  topics: [topics.readings, topics.heartbeats],
  spoolDir: values["spool-dir"],
});
const rss = new RssSampler();

let firstWallMs: number | undefined;
let lastWallMs = 0;
const wallClock = () => {
  lastWallMs = performance.now();
  firstWallMs ??= lastWallMs;
  return lastWallMs;
};
const startMs = Date.now();
const scheduler = new Scheduler({ startMs, speed: 1, wallClock });
const controller = new AbortController();
const all = new MsHistogram();
const window = new MsHistogram();
const windowStartMs = startMs + warmupMs;
const windowEndMs = windowStartMs + measureMs;
let windowEvents = 0;
let at: { cpu: number; wallMs: number; epochMs: number; delivered: number } | undefined;
let end: typeof at & { pending: number; rssBytes: number; memory: Deno.MemoryUsage } | undefined;

await runSimulation(plant, {
  scheduler,
  rng: new Rng(1),
  signal: controller.signal,
  emit: (events) => {
    // Simulated "now" of the batch just dispatched (speed 1: simulated ms = wall ms).
    const simNowMs = startMs + (lastWallMs - (firstWallMs ?? lastWallMs));
    if (at === undefined && simNowMs >= windowStartMs) {
      at = { cpu: cpuSeconds(), wallMs: performance.now(), epochMs: Date.now(), delivered: sink.delivered };
    }
    for (const event of events) {
      const lateMs = simNowMs - event.timeMs;
      all.add(lateMs);
      if (event.timeMs >= windowStartMs && event.timeMs < windowEndMs) {
        window.add(lateMs);
        windowEvents++;
      }
    }
    if (simNowMs >= windowEndMs && end === undefined) {
      end = {
        cpu: cpuSeconds(),
        wallMs: performance.now(),
        epochMs: Date.now(),
        delivered: sink.delivered,
        pending: sink.pending,
        rssBytes: rss.sample(),
        memory: Deno.memoryUsage(),
      };
      controller.abort();
      return;
    }
    return sink.write(toRecords(events, topics, JSON_BYTES));
  },
});
const closeStartedMs = performance.now();
await close();
const flushSeconds = (performance.now() - closeStartedMs) / 1000;
rss.stop();
if (at === undefined || end === undefined) throw new Error("the run ended before its measured window");

const windowWallMs = end.wallMs - at.wallMs;
const own = scheduler.lateness;
writeResult({
  sensors,
  events: windowEvents,
  eventsPerSecond: Math.round(windowEvents / (measureMs / 1000)),
  ackedPerSecond: Math.round((end.delivered - at.delivered) / (windowWallMs / 1000)),
  lateness: window.summary(),
  latenessWholeRun: all.summary(),
  // The per-event figures reproduce the scheduler's own (count, total and max over the run).
  latenessCheck: {
    schedulerCount: own.count,
    schedulerMeanMs: round1(own.count === 0 ? 0 : own.totalMs / own.count),
    schedulerMaxMs: round1(own.maxMs),
  },
  cpuPercent: cpuPercent(at.cpu, end.cpu, windowWallMs),
  window: { fromMs: at.epochMs, toMs: end.epochMs },
  peakRssMiB: mib(rss.peakBytes),
  endRssMiB: mib(end.rssBytes),
  // Where the RSS is at the end of the window: V8's heap, and memory outside it (Buffers' bytes).
  endHeapUsedMiB: mib(end.memory.heapUsed),
  endHeapTotalMiB: mib(end.memory.heapTotal),
  endExternalMiB: mib(end.memory.external),
  unackedAtEnd: end.pending,
  flushSeconds: round1(flushSeconds),
});
Deno.exit(0);
