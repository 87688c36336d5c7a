/**
 * Measuring helpers shared by the benchmark workers: a lateness histogram with percentiles, this
 * process's CPU time, and resident memory.
 */
import process from "node:process";

/** Fine buckets (0.1 ms) up to this many ms, then coarse ones. */
const FINE_LIMIT_MS = 1_000;
const FINE_STEP_MS = 0.1;
const COARSE_STEP_MS = 10;
const COARSE_LIMIT_MS = 300_000;

/** A histogram of milliseconds: 0.1 ms resolution below 1 s, 10 ms up to 5 min. */
export class MsHistogram {
  readonly #fine = new Float64Array(Math.ceil(FINE_LIMIT_MS / FINE_STEP_MS));
  readonly #coarse = new Float64Array(Math.ceil((COARSE_LIMIT_MS - FINE_LIMIT_MS) / COARSE_STEP_MS) + 1);
  count = 0;
  totalMs = 0;
  maxMs = 0;

  /** Records `weight` observations of `ms`. */
  add(ms: number, weight = 1): void {
    const value = ms < 0 ? 0 : ms;
    this.count += weight;
    this.totalMs += value * weight;
    if (value > this.maxMs) this.maxMs = value;
    if (value < FINE_LIMIT_MS) this.#fine[Math.floor(value / FINE_STEP_MS)] += weight;
    else {this.#coarse[Math.min(this.#coarse.length - 1, Math.floor((value - FINE_LIMIT_MS) / COARSE_STEP_MS))] +=
        weight;}
  }

  /** The `p`-th percentile (0..100), as the upper edge of its bucket (0 when empty). */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.#fine.length; i++) {
      seen += this.#fine[i];
      if (seen >= rank) return Math.min(this.maxMs, (i + 1) * FINE_STEP_MS);
    }
    for (let i = 0; i < this.#coarse.length; i++) {
      seen += this.#coarse[i];
      if (seen >= rank) return Math.min(this.maxMs, FINE_LIMIT_MS + (i + 1) * COARSE_STEP_MS);
    }
    return this.maxMs;
  }

  /** Mean, p50, p99 and max, rounded to 0.1 ms. */
  summary(): { count: number; meanMs: number; p50Ms: number; p99Ms: number; maxMs: number } {
    return {
      count: this.count,
      meanMs: round1(this.count === 0 ? 0 : this.totalMs / this.count),
      p50Ms: round1(this.percentile(50)),
      p99Ms: round1(this.percentile(99)),
      maxMs: round1(this.maxMs),
    };
  }
}

/** CPU seconds (user + system) this process has used so far. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU use between two readings, in % of one core (200% = both cores of a 2-core machine). */
export function cpuPercent(before: number | undefined, after: number | undefined, wallMs: number): number | null {
  if (before === undefined || after === undefined || wallMs <= 0) return null;
  return Math.round(((after - before) / (wallMs / 1000)) * 100);
}

/** Samples this process's RSS at an interval and keeps the peak. */
export class RssSampler {
  peakBytes = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(intervalMs = 250) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Reads the RSS now (and updates the peak). */
  sample(): number {
    const rss = Deno.memoryUsage().rss;
    if (rss > this.peakBytes) this.peakBytes = rss;
    return rss;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Bytes to MiB, one decimal. */
export function mib(bytes: number): number {
  return round1(bytes / 1024 / 1024);
}

/** Rounds to one decimal. */
export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The median of `values` (NaN when empty). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
