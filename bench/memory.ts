/**
 * Benchmark worker: memory of a plant. Runs `--sensors` sensors (one line each) at speed 1 for
 * `--seconds` into a null sink: every event still becomes its record (JSON value, headers), which
 * is then dropped, so neither the console nor Kafka counts. Samples the resident set throughout;
 * at the end collects garbage and reads the JS heap while the plant, its tasks and the timer queue
 * are all still live.
 *
 *   deno run --v8-flags=--expose-gc bench/memory.ts --sensors 100000 [--seconds 20]
 *
 * Prints one JSON line: peak RSS over the run (after its first second), RSS at the end, the live
 * heap after GC, CPU, and the events simulated.
 */
import { parseArgs } from "node:util";
import { DEFAULT_TOPICS, JSON_BYTES, toRecords } from "../lib/messages.ts";
import { Rng } from "../lib/random.ts";
import { Scheduler } from "../lib/scheduler.ts";
import { runSimulation } from "../lib/simulation.ts";
import { syntheticPlant } from "./_plant.ts";
import { cpuPercent, cpuSeconds, RssSampler } from "./_stats.ts";
import { numberFlag, writeResult } from "./_worker.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { sensors: { type: "string" }, seconds: { type: "string" } },
  strict: true,
});
const sensors = numberFlag("sensors", values.sensors, 10_000);
const runMs = numberFlag("seconds", values.seconds, 20) * 1000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

const plant = syntheticPlant(sensors);
const startMs = Date.now();
const scheduler = new Scheduler({ startMs, speed: 1 });
const controller = new AbortController();
let events = 0;
let records = 0;
let rss: RssSampler | undefined;
const cpuBefore = cpuSeconds();
const wallBefore = performance.now();
await runSimulation(plant, {
  scheduler,
  rng: new Rng(1),
  signal: controller.signal,
  emit: (batch) => {
    events += batch.length;
    records += toRecords(batch, DEFAULT_TOPICS, JSON_BYTES).length;
    const elapsedMs = scheduler.now() - startMs;
    // The first second builds every task and fires every sensor's first heartbeat at once: the
    // steady state starts after it.
    if (rss === undefined && elapsedMs >= 1_000) rss = new RssSampler(100);
    if (elapsedMs >= runMs) controller.abort();
  },
});
const cpu = cpuPercent(cpuBefore, cpuSeconds(), performance.now() - wallBefore);
rss?.stop();
const endRss = Deno.memoryUsage().rss;
// Everything the run holds between batches is still referenced (plant, tasks, queue entries):
// what is left after two full collections is what the plant costs to keep.
gc();
gc();
writeResult({
  sensors,
  queued: scheduler.size,
  events,
  records,
  peakRssBytes: rss?.peakBytes ?? endRss,
  endRssBytes: endRss,
  liveHeapBytes: Deno.memoryUsage().heapUsed,
  cpuPercent: cpu,
});
Deno.exit(0);
