/**
 * `--rate N`: records a wall second, turned into the speed that paces the plant to them.
 *
 * A plant makes records at a rate of its own in simulated time (each sensor a heartbeat every
 * 1-2 s, each line a reading every 2-5 s while it runs); `--rate` divides the rate asked for by
 * that one and runs at the quotient as `--speed` would, live or (instead of as fast as possible)
 * a backfill. The records do not depend on the speed, so a seeded run with `--rate` writes what
 * the same run with `--speed` at the speed it implies writes.
 */
import { allLines, allSensors, type Plant } from "./plant.ts";
import { formatRate } from "./rates.ts";
import { HEARTBEAT_INTERVAL_MS, READING_INTERVAL_MS } from "./simulation.ts";

/** Mean simulated milliseconds between two heartbeats of a sensor (intervals are uniform, bounds included). */
export const MEAN_HEARTBEAT_MS = (HEARTBEAT_INTERVAL_MS.min + HEARTBEAT_INTERVAL_MS.max) / 2;
/** Mean simulated milliseconds between two readings of a line. */
export const MEAN_READING_MS = (READING_INTERVAL_MS.min + READING_INTERVAL_MS.max) / 2;

/** How a `--rate` run is paced. */
export interface Pace {
  /** The rate asked for: records a wall second. */
  rate: number;
  /** The records a simulated second the plant makes, on average over `spanMs`. */
  naturalRate: number;
  /** Simulated milliseconds the run is expected to cover: undefined when it runs until stopped. */
  spanMs: number | undefined;
  /** `rate / naturalRate`, to 4 significant digits (so `--speed` with the value logged is the same run). */
  speed: number;
}

/** What the plant's rate depends on besides the plant. */
export interface PaceOptions {
  /** Lines start a new batch when one is done: they never end. */
  continuous: boolean;
  /** The run's limit in simulated ms (`--duration`, a backfill's span, the smaller); undefined: none. */
  limitMs: number | undefined;
}

/**
 * The pace of a run of `plant` at `rate` records a wall second. The plant's own rate is what it
 * makes a simulated second once running: a heartbeat from every sensor every 1.5 s on average, and
 * a reading from every line every 3.5 s on average, the lines' readings (up to each one's `number`
 * unless continuous) spread over the run's expected span: the limit, or sooner the time the longest
 * line is expected to take its last reading; without either, for ever. Every sensor's first
 * heartbeat falls at the start, a burst of one record a sensor left out of the rate, as every line's
 * first reading comes a whole interval in: over a run they about cancel out (a line per sensor:
 * +0.52 and -0.47 records each, by renewal theory). Faults that drop or duplicate records, and
 * labels, are not counted either: they move the rate achieved by their share.
 */
export function paceFor(plant: Plant, rate: number, options: PaceOptions): Pace {
  const naturalRate = plantRate(plant, options);
  return {
    rate,
    naturalRate: naturalRate.perSecond,
    spanMs: naturalRate.spanMs,
    speed: roundSpeed(rate / naturalRate.perSecond),
  };
}

/** Records a simulated second `plant` makes on average over its expected span (see `paceFor`). */
export function plantRate(
  plant: Plant,
  { continuous, limitMs }: PaceOptions,
): { perSecond: number; spanMs: number | undefined } {
  const sensors = allSensors(plant).length;
  const lines = allLines(plant);
  let spanMs = limitMs;
  if (!continuous && lines.length > 0) {
    const longest = lines.reduce((most, line) => Math.max(most, line.total), 0);
    spanMs = Math.min(spanMs ?? Infinity, longest * MEAN_READING_MS);
  }
  if (spanMs === undefined) {
    return { perSecond: sensors * 1000 / MEAN_HEARTBEAT_MS + lines.length * 1000 / MEAN_READING_MS, spanMs };
  }
  const span = spanMs;
  const heartbeats = sensors * span / MEAN_HEARTBEAT_MS;
  const readings = lines.reduce((n, line) => {
    const expected = span / MEAN_READING_MS;
    return n + (continuous ? expected : Math.min(line.total, expected));
  }, 0);
  return { perSecond: (heartbeats + readings) * 1000 / Math.max(span, 1), spanMs };
}

/** A speed to 4 significant digits. */
export function roundSpeed(speed: number): number {
  return Number(speed.toPrecision(4));
}

/** "5000 records/s: speed 526.3 (the plant makes about 9.5 records a simulated second)", for the start line. */
export function describePace(pace: Pace): string {
  const wall = pace.spanMs === undefined ? "" : `, about ${formatWall(pace.spanMs / pace.speed / 1000)} of wall time`;
  return `rate ${formatRate(pace.rate)} records/s: speed ${pace.speed} (the plant makes about ` +
    `${formatRate(pace.naturalRate)} records a simulated second${wall})`;
}

/** "4 ms", "7.4 s", "42 s", "12 min", "11.8 h", "3.2 d". */
function formatWall(seconds: number): string {
  if (seconds < 0.1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 600) return `${Math.round(seconds)} s`;
  if (seconds < 7_200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3_600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}
