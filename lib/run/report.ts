/**
 * The lines a run logs about itself: what it simulates and how (at the start), a plant without
 * lines, and what it did (at the end). Pure functions of what the run knows.
 */
import { formatDuration } from "../duration.ts";
import { formatTimestamp } from "../timestamps.ts";
import { describePace, type Pace } from "../pacing.ts";
import type { Plant } from "../plant.ts";
import type { SimulationResult } from "../simulation.ts";
import type { Sink } from "../sinks/sink.ts";
import { count } from "../text.ts";
import type { RunOptions } from "./options.ts";

/** What the start line says besides the options. */
export interface PlantSize {
  plant: Plant;
  sensors: number;
  lines: number;
  seed: number;
  /** How `--rate` paces the run; undefined without it. */
  pace?: Pace;
}

/**
 * "3 factories, 11 sensors, 8 lines; seed 42; speed 10" (with the shard, how to repeat a fresh
 * seed, the backfill's span, `--rate`'s pace, the duration and continuous, as they apply).
 */
export function startLine(
  options:
    & Pick<RunOptions, "shard" | "factories" | "seed" | "backfill" | "speed" | "durationMs" | "continuous">
    & Partial<Pick<RunOptions, "workers">>,
  { plant, sensors, lines, seed, pace }: PlantSize,
): string {
  const { shard, backfill, durationMs } = options;
  const factories = shard
    ? `shard ${shard.index}/${shard.count}: ${plant.factories.length} of ${
      count(options.factories, "factory", "factories")
    }`
    : count(plant.factories.length, "factory", "factories");
  return `${factories}, ${count(sensors, "sensor")}, ${count(lines, "line")}; ` +
    `seed ${seed}${options.seed === undefined ? ` (repeat with --seed ${seed})` : ""}; ` +
    (backfill
      ? `backfill from ${formatTimestamp(backfill.fromMs)} to ${formatTimestamp(backfill.toMs)}` +
        (pace ? `; ${describePace(pace)}` : "")
      : pace
      ? describePace(pace)
      : `speed ${options.speed}`) +
    (durationMs !== undefined ? `; duration ${formatDuration(durationMs)}` : "") +
    (options.continuous ? "; continuous" : "") +
    ((options.workers ?? 1) > 1 ? `; ${options.workers} workers` : "");
}

/** The warning of a run without lines: how long its heartbeats go on. */
export function noLinesWarning(options: Pick<RunOptions, "backfill" | "durationMs">): string {
  const until = options.backfill
    ? "until the end of the backfill"
    : options.durationMs !== undefined
    ? "until --duration has passed"
    : "until the run is stopped";
  return `no production lines to run: heartbeats go on ${until}`;
}

/**
 * "done: 24 readings and 96 heartbeats over 60.0 s of simulated time; 120 records delivered to
 * kafka (0 spooled, 0 replayed from the spool)", with a backfill's span and wall time first; `discarded`
 * when the console sink wrote to /dev/null.
 */
export function endLine(
  result: SimulationResult,
  { sink, backfill, wallMs, discarded = false }: {
    sink: Pick<Sink, "name" | "delivered" | "spoolCounts">;
    backfill: boolean;
    wallMs: number;
    discarded?: boolean;
  },
): string {
  const seconds = ((result.endMs - result.startMs) / 1000).toFixed(1);
  const span = backfill
    ? `backfill from ${formatTimestamp(result.startMs)} to ${formatTimestamp(result.endMs)} in ${
      (wallMs / 1000).toFixed(1)
    } s: `
    : "";
  const spool = sink.spoolCounts;
  const found = spool?.alreadyInKafka ? `, ${spool.alreadyInKafka} found already in Kafka and not sent again` : "";
  const spoolStats = spool ? ` (${spool.spooled} spooled, ${spool.replayed} replayed from the spool${found})` : "";
  return `${result.completed || result.reachedEnd ? "done" : "stopped"}: ${span}` +
    `${result.readings} readings and ${result.heartbeats} heartbeats` +
    `${result.labels > 0 ? ` (and ${result.labels} fault starts and ends)` : ""} ` +
    `over ${seconds} s of simulated time; ${sink.delivered} records delivered to ${sink.name}${spoolStats}` +
    (discarded ? " (stdout is /dev/null: discarded)" : "");
}
