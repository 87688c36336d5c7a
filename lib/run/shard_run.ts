/**
 * One worker's share of a run (`--workers N`): the factories of its shard, on a scheduler, a
 * producer and a spool of its own. `run/worker.ts` runs it in a Worker; `run/workers.ts`, on the
 * run's thread, starts the workers, tells them when to begin and to stop, and merges what they
 * report. The messages between the two are below; everything in them is structured-cloneable.
 */
import { loadConfig } from "../config.ts";
import { raceDeadline } from "../deadline.ts";
import type { ProgramEnv } from "../io.ts";
import { JSON_BYTES } from "../messages.ts";
import { allLines, type Shard } from "../plant.ts";
import { Rng } from "../random.ts";
import { Scheduler } from "../scheduler.ts";
import { readSecurity } from "../security.ts";
import { runSimulation } from "../simulation.ts";
import { closeQuietly, closeSink, countByTopic } from "../sinks/sink.ts";
import { packLineStats, RunSummary } from "../summary.ts";
import { openSink } from "./open_sink.ts";
import { type RunOptions, SHUTDOWN_FLUSH_TIMEOUT_MS } from "./options.ts";
import { prepareRegistryFormat, runRegistryAccess } from "./format_setup.ts";
import { emitInto, runPlant } from "./pipeline.ts";

/** How often a worker reports its counts while it runs. */
export const PROGRESS_INTERVAL_MS = 250;

/** What a worker is given to start: the run's options, its shard and where its spool is. */
export interface ShardInit {
  options: RunOptions;
  /** The run's seed: every worker draws the same plant. */
  seed: number;
  /** The worker's shard of the whole plant (the process's `--shard` split again). */
  shard: Shard;
  /** The worker's spool dir. */
  spoolDir: string;
  /** The process's environment, as read once. */
  env: ProgramEnv;
  /** The run's speed (`--speed`, or the one `--rate` implies). */
  speed: number;
  /** Report each line's count in its batch with every progress (the live status draws them). */
  lineCounts: boolean;
  /** Report deliveries and lateness for `/metrics`. */
  observe: boolean;
  /**
   * Create the missing topics (and warn of a retention too short for a backfill): the first
   * worker's task. The others leave them to it, so the run prepares them once; no worker sends
   * before every one is ready.
   */
  prepareTopics: boolean;
}

/** When the workers begin: the same simulated start and end for all. */
export interface ShardGo {
  startMs: number;
  untilMs: number | undefined;
  /** A backfill as fast as the sink accepts: virtual time. */
  virtual: boolean;
}

/** A worker's counts so far. */
export interface ShardProgress {
  readings: number;
  heartbeats: number;
  labels: number;
  /** Lines still taking readings. */
  activeLines: number;
  /** Simulated now. */
  nowMs: number;
  sink: {
    delivered: number;
    pending: number;
    stalled: boolean;
    spoolRecords: number;
    spooled: number;
    replayed: number;
    alreadyInKafka: number;
  };
  /** Each line's count in its current batch, in the worker's plant order (with `lineCounts`). */
  lineCounts?: Int32Array;
  /** Records delivered per topic since the last progress, and each request's latency (with `observe`). */
  delivered?: Record<string, number>;
  latencies?: number[];
  /** Each batch dispatched since the last progress: its lateness (ms) and events, in pairs (with `observe`). */
  lateness?: number[];
}

/** A worker's end. */
export interface ShardDone {
  progress: ShardProgress;
  completed: boolean;
  reachedEnd: boolean;
  endMs: number;
  /** Readings each line took, in the worker's plant order. */
  taken: number[];
  /** The lines' accumulators (`packLineStats`). */
  stats: Float64Array;
}

/** Messages to a worker. */
export type ToShard =
  | { type: "init"; init: ShardInit }
  | { type: "go"; go: ShardGo }
  | { type: "stop"; reason: string };

/** Messages from a worker. */
export type FromShard =
  | { type: "log"; line: string }
  | { type: "ready" }
  | { type: "progress"; progress: ShardProgress }
  | { type: "done"; done: ShardDone }
  /** Stopped before the run began (nothing produced). */
  | { type: "stopped" }
  | { type: "failed"; lines: string[]; exitCode: number; unexpected: boolean };

/**
 * Runs one worker's shard: builds it, opens its sink (says `ready`), waits for `go`, runs, closes
 * the sink (flushing, or parking in the spool after a stop) and resolves to its end. Reports
 * progress through `post` every `PROGRESS_INTERVAL_MS`. Throws what a run throws.
 */
export async function runShard(
  init: ShardInit,
  { signal, go, post }: {
    signal: AbortSignal;
    go: Promise<ShardGo>;
    post: (message: FromShard) => void;
  },
): Promise<ShardDone | undefined> {
  const { options, seed, shard, env } = init;
  const loaded = await loadConfig(options.config);
  const rng = new Rng(seed);
  const { plant } = runPlant(options, loaded, rng, shard);
  const security = await readSecurity(env);
  const access = await runRegistryAccess(options, env);
  const prepared = access && await prepareRegistryFormat(options, access, signal, { announce: false });
  if (signal.aborted) return undefined;
  const { sink } = await openSink(
    { ...options, spool: { ...options.spool, dir: init.spoolDir } },
    { env, stdout: new WritableStream(), signal },
    security,
    { prepareTopics: init.prepareTopics },
  );
  const encoder = prepared?.encoder ?? JSON_BYTES;
  const summary = new RunSummary(allLines(plant), options.topics, {
    continuous: options.continuous,
  });
  let delivered: Record<string, number> = {};
  let latencies: number[] = [];
  let lateness: number[] = [];
  if (init.observe) {
    sink.observer = (records, latencySeconds) => {
      countByTopic(records, (topic, n) => delivered[topic] = (delivered[topic] ?? 0) + n);
      if (latencySeconds !== undefined) latencies.push(latencySeconds);
    };
  }
  post({ type: "ready" });
  const start = await raceDeadline(go, undefined, { signal });
  if (typeof start === "symbol") {
    await closeSink(sink, { signal, flushTimeoutMs: SHUTDOWN_FLUSH_TIMEOUT_MS });
    return undefined;
  }
  const scheduler = start.virtual
    ? new Scheduler({ startMs: start.startMs, mode: "virtual" })
    : new Scheduler({ startMs: start.startMs, speed: init.speed });
  if (init.observe) scheduler.onLateness = (maxMs, events) => lateness.push(maxMs, events);
  const progress = (): ShardProgress => {
    const counts = sink.spoolCounts;
    const report: ShardProgress = {
      readings: summary.readings,
      heartbeats: summary.heartbeats,
      labels: summary.labels,
      activeLines: summary.activeLines(options.continuous),
      nowMs: scheduler.now(),
      sink: {
        delivered: sink.delivered,
        pending: sink.pending,
        stalled: sink.stalled ?? false,
        spoolRecords: (sink as { spoolRecords?: number }).spoolRecords ?? 0,
        spooled: counts?.spooled ?? 0,
        replayed: counts?.replayed ?? 0,
        alreadyInKafka: counts?.alreadyInKafka ?? 0,
      },
    };
    if (init.lineCounts) report.lineCounts = Int32Array.from(summary.lines, (line) => line.lastCount);
    if (init.observe) {
      Object.assign(report, { delivered, latencies, lateness });
      delivered = {};
      latencies = [];
      lateness = [];
    }
    return report;
  };
  const timer = setInterval(() => post({ type: "progress", progress: progress() }), PROGRESS_INTERVAL_MS);
  try {
    let result;
    try {
      result = await runSimulation(plant, {
        scheduler,
        rng,
        signal,
        defaults: loaded.defaults,
        continuous: options.continuous,
        untilMs: start.untilMs,
        emit: emitInto({ summary, sink, topics: options.topics, encoder, signal }),
      });
    } catch (error) {
      await closeQuietly(sink);
      throw error;
    }
    await closeSink(sink, { signal, flushTimeoutMs: SHUTDOWN_FLUSH_TIMEOUT_MS });
    return {
      progress: progress(),
      completed: result.completed,
      reachedEnd: result.reachedEnd,
      endMs: result.endMs,
      taken: result.lines.map((line) => line.taken),
      stats: packLineStats(summary.lines),
    };
  } finally {
    clearInterval(timer);
  }
}
