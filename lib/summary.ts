/**
 * The end-of-run summary: per line, the readings sent and their min/mean/max; per topic, the
 * records produced. `RunSummary` is fed every batch the simulation emits (one small accumulator per
 * line, no allocation per event); at the end it renders a short table for the log and the JSON
 * document of `--summary-json`.
 */
import { Buffer } from "node:buffer";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { describeError, isPermissionDenial, PermissionError, permissionError, RunError } from "./errors.ts";
import type { Topics } from "./messages.ts";
import { formatTimestamp } from "./timestamps.ts";
import type { Pace } from "./pacing.ts";
import { formatRate } from "./rates.ts";
import type { Line } from "./plant.ts";
import type { SimEvent } from "./simulation.ts";
import type { Sink } from "./sinks/sink.ts";
import { quoted, shown } from "./text.ts";

/** Version of the `--summary-json` document's shape; raised when a field changes meaning or goes. */
export const SUMMARY_SCHEMA_VERSION = 1;
/** Lines in a chunk of the `--summary-json` text (`RunSummary.jsonChunks`): about 400 KB. */
export const SUMMARY_JSON_CHUNK_LINES = 1_000;
/** Plants with more lines than this get totals only in the log (the JSON always has every line). */
export const SUMMARY_TABLE_MAX_LINES = 20;
/** The most characters of a config value (factory, sensor, soda) in a cell of the table. */
export const TABLE_CELL_MAX = 40;

/** What one line sent, as the accumulator keeps it. */
export interface LineStats {
  factoryId: string;
  sensorId: string;
  tier: string;
  sodaName: string;
  /** Readings a batch of the line takes (its config `number`). */
  total: number;
  /** Reading records sent: a duplicated reading counts twice, a dropped one not at all. */
  sent: number;
  /** Of `sent`, the second copies made by a `duplicate` fault. */
  duplicates: number;
  sum: number;
  min: number;
  max: number;
  /** Earliest and latest record timestamp (simulated epoch ms; a `late` reading can be the earliest). */
  firstMs: number;
  lastMs: number;
  /** Its `count` in the line's current batch (0 before the first). */
  lastCount: number;
}

/** One line of the `--summary-json` document. */
export interface LineSummary {
  factoryId: string;
  sensorId: string;
  tier: string;
  sodaName: string;
  total: number;
  /** Readings the line took (dropped ones included, duplicates not); null when the run failed. */
  taken: number | null;
  /** Batches of `total` readings the line completed (more than 1 only with `--continuous`); null when the run failed. */
  batches: number | null;
  sent: number;
  duplicates: number;
  min: number | null;
  mean: number | null;
  max: number | null;
  firstAt: string | null;
  lastAt: string | null;
}

/** How the run ended. */
export type Outcome = "done" | "stopped" | "failed";

/** The `--summary-json` document. */
export interface SummaryDocument {
  schemaVersion: number;
  version: string;
  outcome: Outcome;
  exitCode: number;
  /** The stop signal's name (`SIGINT`, `SIGTERM`) when stopped, else null. */
  signal: string | null;
  /** The failure's first line when failed, else null. */
  error: string | null;
  seed: number;
  plant: { factories: number; sensors: number; lines: number; shard: string | null };
  /** The run's speed: `--speed`, or the one `--rate` implies; null for a backfill as fast as the sink accepts. */
  speed: number | null;
  /**
   * With `--rate`: the records a wall second asked for (`target`), those achieved (records produced
   * over `wallSeconds`), and the plant's own records a simulated second the speed came from.
   */
  rate: { target: number; achieved: number; plantRate: number } | null;
  backfill: { from: string; to: string } | null;
  continuous: boolean;
  durationLimitMs: number | null;
  startedAt: string;
  endedAt: string;
  simulatedSeconds: number;
  wallSeconds: number;
  readings: number;
  heartbeats: number;
  labels: number;
  /** Records produced to each topic by this run (what the sink was given). */
  topics: Record<string, number>;
  sink: {
    name: string;
    delivered: number;
    spooled: number | null;
    replayed: number | null;
    /** Records in doubt in an earlier run's spool that Kafka held already, not sent again (null without a spool). */
    alreadyInKafka: number | null;
  };
  lines: LineSummary[];
}

/** What `RunSummary.document` needs besides what it has counted. */
export interface RunInfo {
  version: string;
  outcome: Outcome;
  exitCode: number;
  signal?: string;
  error?: string;
  seed: number;
  plant: { factories: number; sensors: number; lines: number; shard?: string };
  speed?: number;
  /** How `--rate` paced the run; undefined without it. */
  pace?: Pace;
  backfill?: { fromMs: number; toMs: number };
  continuous: boolean;
  durationLimitMs?: number;
  startMs: number;
  endMs: number;
  wallMs: number;
  /** Readings each line took, in plant order (from the simulation's result); undefined when it failed. */
  taken?: readonly number[];
  /** The sink at the end. */
  sink: Pick<Sink, "name" | "delivered" | "spoolCounts">;
}

/** Numbers one line's accumulator takes in `packLineStats`. */
const PACKED_FIELDS = 8;

/**
 * Lines' accumulators as numbers, for another thread (a worker's lines to the run's summary):
 * sent, duplicates, sum, min, max, firstMs, lastMs and lastCount of each.
 */
export function packLineStats(lines: readonly LineStats[]): Float64Array {
  const packed = new Float64Array(lines.length * PACKED_FIELDS);
  lines.forEach((stats, i) => {
    packed.set(
      [stats.sent, stats.duplicates, stats.sum, stats.min, stats.max, stats.firstMs, stats.lastMs, stats.lastCount],
      i * PACKED_FIELDS,
    );
  });
  return packed;
}

/** Copies what `packLineStats` packed into `into`: its line i is `into[at[i]]`. */
export function unpackLineStats(packed: Float64Array, into: readonly LineStats[], at: readonly number[]): void {
  at.forEach((index, i) => {
    const stats = into[index];
    const o = i * PACKED_FIELDS;
    stats.sent = packed[o];
    stats.duplicates = packed[o + 1];
    stats.sum = packed[o + 2];
    stats.min = packed[o + 3];
    stats.max = packed[o + 4];
    stats.firstMs = packed[o + 5];
    stats.lastMs = packed[o + 6];
    stats.lastCount = packed[o + 7];
  });
}

/**
 * A line's accumulator. Its five doubles (sum, min, max, first and last time) live in a
 * Float64Array its summary shares among its lines. Held in its own fields, a reading's new sum and
 * time were heap numbers the accumulator (long-lived) kept until its line's next reading, seconds
 * later: long enough for V8's old generation (about 20 bytes promoted a reading, measured in the
 * CLI; bench/README.md, "What changed").
 */
class LineAccumulator implements LineStats {
  /** Doubles a line takes in the shared array. */
  static readonly DOUBLES = 5;
  readonly factoryId: string;
  readonly sensorId: string;
  readonly tier: string;
  readonly sodaName: string;
  readonly total: number;
  sent = 0;
  duplicates = 0;
  lastCount = 0;
  readonly #doubles: Float64Array;
  readonly #at: number;

  constructor(line: Line, doubles: Float64Array, at: number) {
    this.factoryId = line.factoryId;
    this.sensorId = line.sensor.sensorId;
    this.tier = line.sensor.tier;
    this.sodaName = line.sodaName;
    this.total = line.total;
    this.#doubles = doubles;
    this.#at = at;
    doubles.set([0, Infinity, -Infinity, Infinity, -Infinity], at);
  }

  get sum(): number {
    return this.#doubles[this.#at];
  }
  set sum(value: number) {
    this.#doubles[this.#at] = value;
  }
  get min(): number {
    return this.#doubles[this.#at + 1];
  }
  set min(value: number) {
    this.#doubles[this.#at + 1] = value;
  }
  get max(): number {
    return this.#doubles[this.#at + 2];
  }
  set max(value: number) {
    this.#doubles[this.#at + 2] = value;
  }
  get firstMs(): number {
    return this.#doubles[this.#at + 3];
  }
  set firstMs(value: number) {
    this.#doubles[this.#at + 3] = value;
  }
  get lastMs(): number {
    return this.#doubles[this.#at + 4];
  }
  set lastMs(value: number) {
    this.#doubles[this.#at + 4] = value;
  }
}

/** Counts what a run emits, per line and per topic. */
export class RunSummary {
  /** One accumulator per line, in plant order. */
  readonly lines: readonly LineStats[];
  readings = 0;
  heartbeats = 0;
  labels = 0;
  /**
   * With `--workers`: the lines still taking readings, as the workers last reported them (their
   * accumulators reach this summary at the end); undefined: counted here.
   */
  activeOverride: number | undefined;
  readonly #topics: Topics;
  /** Lines start a new batch when one is done (`--continuous`): the table shows readings and batch size, not `count/total`. */
  readonly #continuous: boolean;
  /**
   * factoryId -> sensorId -> sodaName -> total -> the line: a reading's line in four lookups
   * however many lines share its sensor, without building a key string per event.
   */
  readonly #index = new Map<string, Map<string, Map<string, Map<number, LineStats>>>>();
  /** The lines' sums, minimums, maximums and first and last times (`LineAccumulator`). */
  readonly #doubles: Float64Array;
  /** Each line's accumulator by the line itself, for readings that name it (`Reading.line`): one lookup. */
  readonly #byLine = new Map<Line, LineStats>();

  constructor(lines: readonly Line[], topics: Topics, { continuous = false }: { continuous?: boolean } = {}) {
    this.#topics = topics;
    this.#continuous = continuous;
    this.#doubles = new Float64Array(lines.length * LineAccumulator.DOUBLES);
    this.lines = lines.map((line, i) => {
      const stats = new LineAccumulator(line, this.#doubles, i * LineAccumulator.DOUBLES);
      let sensors = this.#index.get(stats.factoryId);
      if (sensors === undefined) this.#index.set(stats.factoryId, sensors = new Map());
      let sodas = sensors.get(stats.sensorId);
      if (sodas === undefined) sensors.set(stats.sensorId, sodas = new Map());
      let totals = sodas.get(stats.sodaName);
      if (totals === undefined) sodas.set(stats.sodaName, totals = new Map());
      // Lines alike in factory, sensor, soda and number share the first one's stats.
      if (!totals.has(stats.total)) totals.set(stats.total, stats);
      this.#byLine.set(line, totals.get(stats.total)!);
      return stats;
    });
  }

  /**
   * Counts a batch of emitted events. A `duplicate` fault's copies are one event object twice in a
   * row of one batch, so a duplicate is found against the event before it: keeping each line's last
   * reading instead held every reading for the seconds until its line's next one, long enough to
   * reach V8's old generation.
   */
  add(events: readonly SimEvent[]): void {
    let previous: SimEvent | undefined;
    for (const event of events) {
      const copy = event === previous;
      previous = event;
      switch (event.kind) {
        case "heartbeat":
          this.heartbeats++;
          break;
        case "label":
          // Labels become records only with a labels topic.
          if (this.#topics.labels !== undefined) this.labels++;
          break;
        case "reading": {
          this.readings++;
          const stats = (event.line !== undefined ? this.#byLine.get(event.line) : undefined) ??
            this.#find(event.factoryId, event.sensorId, event.sodaName, event.total);
          if (stats === undefined) break;
          if (copy) stats.duplicates++;
          stats.lastCount = event.count;
          stats.sent++;
          const value = event.reading;
          stats.sum += value;
          if (value < stats.min) stats.min = value;
          if (value > stats.max) stats.max = value;
          if (event.timeMs < stats.firstMs) stats.firstMs = event.timeMs;
          if (event.timeMs > stats.lastMs) stats.lastMs = event.timeMs;
          break;
        }
      }
    }
  }

  #find(factoryId: string, sensorId: string, sodaName: string, total: number): LineStats | undefined {
    return this.#index.get(factoryId)?.get(sensorId)?.get(sodaName)?.get(total);
  }

  /** Records produced per topic (topics given the same name share one count). */
  topicCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    const add = (topic: string | undefined, n: number) => {
      if (topic !== undefined) counts[topic] = (counts[topic] ?? 0) + n;
    };
    add(this.#topics.readings, this.readings);
    add(this.#topics.heartbeats, this.heartbeats);
    add(this.#topics.labels, this.labels);
    return counts;
  }

  /** Lines still taking readings (with `continuous`, every line). */
  activeLines(continuous: boolean): number {
    return this.activeOverride ??
      this.lines.filter((line) => continuous || line.sent - line.duplicates < line.total).length;
  }

  /** Records produced, all topics. */
  produced(): number {
    return this.readings + this.heartbeats + this.labels;
  }

  /** The `--summary-json` document. */
  document(info: RunInfo): SummaryDocument {
    return { ...this.#head(info), lines: this.lines.map((stats, i) => lineSummary(stats, info.taken?.[i])) };
  }

  /**
   * The text of `--summary-json`: `JSON.stringify(this.document(info), null, 2)` and a newline, in
   * chunks of `chunkLines` lines. The whole document of a large plant took about 1.5 KB a line
   * at once (its objects, its text, the text's bytes): 380 MiB more at the end of a run of 250,000
   * lines, where a gateway's memory may not have it. Each chunk is made when it is taken.
   */
  *jsonChunks(info: RunInfo, chunkLines = SUMMARY_JSON_CHUNK_LINES): Generator<string> {
    const head = JSON.stringify({ ...this.#head(info), lines: [] }, null, 2);
    if (this.lines.length === 0) {
      yield `${head}\n`;
      return;
    }
    // The head ends with its empty `"lines": []` and the closing brace; the lines go in between.
    const emptyLines = "[]\n}";
    let chunk = `${head.slice(0, -emptyLines.length)}[\n`;
    for (let i = 0; i < this.lines.length; i++) {
      // Indented as the whole document's stringify indents them (JSON text has no newline in a string).
      const line = JSON.stringify(lineSummary(this.lines[i], info.taken?.[i]), null, 2).replaceAll("\n", "\n    ");
      chunk += `${i === 0 ? "" : ",\n"}    ${line}`;
      if ((i + 1) % chunkLines === 0) {
        yield chunk;
        chunk = "";
      }
    }
    yield `${chunk}\n  ]\n}\n`;
  }

  /** The document but its lines. */
  #head(info: RunInfo): Omit<SummaryDocument, "lines"> {
    return {
      schemaVersion: SUMMARY_SCHEMA_VERSION,
      version: info.version,
      outcome: info.outcome,
      exitCode: info.exitCode,
      signal: info.signal ?? null,
      error: info.error ?? null,
      seed: info.seed,
      plant: { ...info.plant, shard: info.plant.shard ?? null },
      speed: info.backfill && info.pace === undefined ? null : info.speed ?? null,
      rate: info.pace
        ? {
          target: info.pace.rate,
          achieved: round(achievedRate(this.produced(), info.wallMs), 3),
          plantRate: round(info.pace.naturalRate, 3),
        }
        : null,
      backfill: info.backfill
        ? { from: formatTimestamp(info.backfill.fromMs), to: formatTimestamp(info.backfill.toMs) }
        : null,
      continuous: info.continuous,
      durationLimitMs: info.durationLimitMs ?? null,
      startedAt: formatTimestamp(info.startMs),
      endedAt: formatTimestamp(info.endMs),
      simulatedSeconds: round((info.endMs - info.startMs) / 1000, 3),
      wallSeconds: round(info.wallMs / 1000, 3),
      readings: this.readings,
      heartbeats: this.heartbeats,
      labels: this.labels,
      topics: this.topicCounts(),
      sink: {
        name: info.sink.name,
        delivered: info.sink.delivered,
        spooled: info.sink.spoolCounts?.spooled ?? null,
        replayed: info.sink.spoolCounts?.replayed ?? null,
        alreadyInKafka: info.sink.spoolCounts ? info.sink.spoolCounts.alreadyInKafka ?? 0 : null,
      },
    };
  }

  /**
   * The summary for the log, one string a line: a table per line (or, past `maxLines` lines,
   * totals only), the records per topic and the durations; with `pace` (`--rate`), the rate
   * achieved against it.
   */
  table(
    { simulatedMs, wallMs, pace, maxLines = SUMMARY_TABLE_MAX_LINES }: {
      simulatedMs: number;
      wallMs: number;
      pace?: Pace;
      maxLines?: number;
    },
  ): string[] {
    const out: string[] = [];
    const sent = this.lines.reduce((n, stats) => n + stats.sent, 0);
    const all = aggregate(this.lines);
    out.push(
      `summary: ${this.lines.length} ${this.lines.length === 1 ? "line" : "lines"}, ${sent} readings` +
        (sent > 0 ? ` (min ${fmt(all.min)}, mean ${fmt(all.sum / sent)}, max ${fmt(all.max)})` : "") +
        ` over ${(simulatedMs / 1000).toFixed(1)} s simulated, ${(wallMs / 1000).toFixed(1)} s wall`,
    );
    if (this.lines.length > maxLines) {
      out.push(`summary: ${this.lines.length} lines, see --summary-json for each`);
    } else if (this.lines.length > 0) {
      // A continuous line takes batch after batch: its readings and its batch's size, not one against the other.
      const counts = this.#continuous ? ["readings", "per batch"] : ["count/total"];
      const rows = [["factory", "sensor", "soda", ...counts, "min", "mean", "max"]];
      for (const stats of this.lines) {
        const empty = stats.sent === 0;
        rows.push([
          shown(stats.factoryId, TABLE_CELL_MAX),
          shown(stats.sensorId, TABLE_CELL_MAX),
          shown(stats.sodaName, TABLE_CELL_MAX),
          ...(this.#continuous ? [String(stats.sent), String(stats.total)] : [`${stats.sent}/${stats.total}`]),
          empty ? "-" : fmt(stats.min),
          empty ? "-" : fmt(stats.sum / stats.sent),
          empty ? "-" : fmt(stats.max),
        ]);
      }
      const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
      for (const row of rows) {
        out.push(`  ${row.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd()}`);
      }
    }
    const topics = Object.entries(this.topicCounts()).map(([topic, n]) => `${shown(topic)} ${n}`).join(", ");
    out.push(`summary: records produced per topic: ${topics}`);
    if (pace) {
      const achieved = achievedRate(this.produced(), wallMs);
      out.push(
        `summary: rate ${formatRate(achieved)} records/s achieved, ${Math.round(100 * achieved / pace.rate)}% ` +
          `of --rate ${formatRate(pace.rate)} (speed ${pace.speed})`,
      );
    }
    return out;
  }
}

/**
 * Writes the `--summary-json` text, given in `chunks` (`RunSummary.jsonChunks`), to `path` (replacing
 * the file, creating its directory), one chunk at a time. A missing permission becomes a
 * `PermissionError` naming `--allow-write=PATH`, any other failure a `RunError`.
 */
export function writeSummaryJson(path: string, chunks: Iterable<string>): void {
  try {
    let fd: number;
    try {
      fd = openSync(path, "w");
    } catch (error) {
      // A missing directory is created (the spool dir, say, before a console run has made it).
      // Only then: creating it needs write access to its parent, the file itself only its own.
      if ((error as { code?: string }).code !== "ENOENT") throw error;
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, "w");
    }
    try {
      for (const chunk of chunks) {
        const bytes = Buffer.from(chunk);
        for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
      }
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if (isPermissionDenial(error)) {
      throw new PermissionError(`${permissionError(error).message} (for --summary-json ${shown(path)})`);
    }
    const message = describeError(error);
    throw new RunError(`could not write --summary-json ${shown(path)}: ${shown(message)}`);
  }
}

/**
 * Throws the same `PermissionError` as `writeSummaryJson` would, before the run starts, when
 * `granted` says writing `path` is not allowed.
 */
export function checkSummaryPermission(path: string, granted: boolean): void {
  if (!granted) {
    throw new PermissionError(
      `missing permission: Requires write access to ${quoted(path)}: grant --allow-write=${shown(path)} ` +
        `(for --summary-json ${shown(path)})`,
    );
  }
}

function lineSummary(stats: LineStats, taken: number | undefined): LineSummary {
  const empty = stats.sent === 0;
  return {
    factoryId: stats.factoryId,
    sensorId: stats.sensorId,
    tier: stats.tier,
    sodaName: stats.sodaName,
    total: stats.total,
    taken: taken ?? null,
    batches: taken === undefined ? null : Math.floor(taken / stats.total),
    sent: stats.sent,
    duplicates: stats.duplicates,
    min: empty ? null : stats.min,
    mean: empty ? null : round(stats.sum / stats.sent, 3),
    max: empty ? null : stats.max,
    firstAt: empty ? null : formatTimestamp(stats.firstMs),
    lastAt: empty ? null : formatTimestamp(stats.lastMs),
  };
}

function aggregate(lines: readonly LineStats[]): { sum: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const stats of lines) {
    sum += stats.sum;
    if (stats.min < min) min = stats.min;
    if (stats.max > max) max = stats.max;
  }
  return { sum, min, max };
}

/** Records a wall second: `records` over `wallMs` (0 for a run that took no time). */
function achievedRate(records: number, wallMs: number): number {
  return wallMs > 0 ? records * 1000 / wallMs : 0;
}

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
