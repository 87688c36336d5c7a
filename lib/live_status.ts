/**
 * The live status on a terminal: `LiveStatus` redraws the block of `renderStatus` in place every
 * ~500 ms of wall time and keeps log lines above it. It reads counters the run keeps anyway (the
 * summary's per-line accumulators, the sink's counts), so the simulation's hot path pays nothing.
 */
import type { Plant } from "./plant.ts";
import { RateWindow } from "./rates.ts";
import { renderStatus, type SinkStatus, type StatusSnapshot } from "./status.ts";
import type { LineStats, RunSummary } from "./summary.ts";

// The sink's state has one definition, in status.ts (the live status and /readyz both read it).
export { sinkStatus } from "./status.ts";

/** A snapshot without rates, and the records produced so far per topic (the rates come from their deltas). */
export type StatusCounts = Omit<StatusSnapshot, "rates"> & { produced: Record<string, number> };

/** What `LiveStatus` needs; everything injectable for tests. */
export interface LiveStatusOptions {
  /** Writes to the terminal, as is (no newline added). */
  write: (text: string) => void;
  /** The counts to show now. */
  counts: () => StatusCounts;
  color: boolean;
  /** The terminal's size (the block stays narrower than `columns` and shorter than `rows`). */
  size: () => { columns: number; rows: number };
  /** Wall time between redraws. */
  intervalMs?: number;
  /** Wall time the rates are averaged over. */
  rateWindowMs?: number;
  /** Wall clock, milliseconds. */
  now?: () => number;
}

/** Lines of the block besides the factories: header, "... and M more", rates, sink. */
const FIXED_LINES = 4;

/** Redraws the status block in place on a terminal; log lines go above it. */
export class LiveStatus {
  readonly #options: Required<LiveStatusOptions>;
  /** Lines of the block on screen now. */
  #drawn = 0;
  #block = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #rates: RateWindow;
  #running = false;

  constructor(options: LiveStatusOptions) {
    this.#options = { intervalMs: 500, rateWindowMs: 5_000, now: () => performance.now(), ...options };
    this.#rates = new RateWindow(this.#options.rateWindowMs);
  }

  /** Draws the block and redraws it every `intervalMs` until `stop`. */
  start(): void {
    this.#running = true;
    this.redraw();
  }

  /** Renders the counts now and replaces the block on screen with them. */
  redraw(): void {
    clearTimeout(this.#timer);
    const size = this.#options.size();
    // A terminal that reports no size (0x0, as some pseudo-terminals do) gets the classic 80x24.
    const columns = size.columns > 0 ? size.columns : 80;
    const rows = size.rows > 0 ? size.rows : 24;
    const counts = this.#options.counts();
    const lines = renderStatus(
      { ...counts, rates: this.#rates.sample(this.#options.now(), counts.produced) },
      {
        // One column spare: a line filling the last column wraps on some terminals.
        width: Math.max(20, columns - 1),
        color: this.#options.color,
        maxFactories: Math.max(1, Math.min(20, rows - FIXED_LINES - 1)),
      },
    );
    this.#block = lines.map((line) => `${line}\n`).join("");
    this.#options.write(this.#clear() + this.#block);
    this.#drawn = lines.length;
    if (this.#running) this.#timer = setTimeout(() => this.redraw(), this.#options.intervalMs);
  }

  /** Writes a log line above the block (clears the block, writes the line, draws the block again). */
  log(line: string): void {
    if (this.#drawn === 0) {
      this.#options.write(line);
      return;
    }
    this.#options.write(this.#clear() + line + this.#block);
    this.#drawn = this.#block.split("\n").length - 1;
  }

  /** Stops redrawing and clears the block, leaving the cursor where it started. */
  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const clear = this.#clear();
    if (clear !== "") this.#options.write(clear);
    this.#block = "";
  }

  /** Moves the cursor up to the block's first line and erases to the end of the screen. */
  #clear(): string {
    const lines = this.#drawn;
    this.#drawn = 0;
    return lines > 0 ? `\x1b[${lines}A\r\x1b[J` : "";
  }
}

/**
 * A `counts` function for `LiveStatus` over a run's own counters: each line's progress from the
 * summary's accumulator (the `count` of its last reading), records produced per topic from the
 * summary, the sink's state from `sink()`, and `--rate` (`targetRate`) to show against the total.
 */
export function runCounts(
  plant: Plant,
  summary: RunSummary,
  { sink, elapsedMs, targetRate }: { sink: () => SinkStatus; elapsedMs: () => number; targetRate?: number },
): () => StatusCounts {
  // Grouped once: each redraw only reads the accumulators.
  const byLine = new Map<string, LineStats>();
  for (const stats of summary.lines) {
    const key = `${stats.factoryId}\0${stats.sensorId}\0${stats.sodaName}\0${stats.total}`;
    if (!byLine.has(key)) byLine.set(key, stats);
  }
  const factories = plant.factories.map((factory) => ({
    id: factory.id,
    lines: factory.lines.map((line) => ({
      total: line.total,
      stats: byLine.get(`${factory.id}\0${line.sensor.sensorId}\0${line.sodaName}\0${line.total}`),
    })),
  }));
  return () => ({
    factories: factories.map((factory) => ({
      id: factory.id,
      lines: factory.lines.map(({ total, stats }) => ({
        count: stats?.lastCount ?? 0,
        total,
      })),
    })),
    produced: summary.topicCounts(),
    sink: sink(),
    elapsedMs: elapsedMs(),
    ...(targetRate === undefined ? {} : { targetRate }),
  });
}
