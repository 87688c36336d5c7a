/**
 * `--workers N`: a run's factories split over N worker threads, so a run uses more than one core.
 * Worker w runs shard w of N of the process's factories (of its `--shard`, split again), with a
 * scheduler, a producer and a spool of its own (`<spool-dir>/worker-WofN`); the shards together
 * are the whole run, record for record, as with `--shard` (the streams are named). This module is
 * the run's side: it starts the workers (`run/worker.ts`), lets them begin together, forwards a
 * stop, and merges what they report into the run's summary, one sink for the live status and
 * `/metrics`, and the run's result.
 */
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ExitError, RunError } from "../errors.ts";
import type { ProgramEnv } from "../io.ts";
import { log, writeLogLine } from "../log.ts";
import type { OutRecord } from "../messages.ts";
import { allLines, type Plant, type Shard } from "../plant.ts";
import type { Scheduler } from "../scheduler.ts";
import type { SimulationResult } from "../simulation.ts";
import { laneFilesIn } from "../sinks/lanes.ts";
import type { DeliveryObserver, Sink } from "../sinks/sink.ts";
import { Spool } from "../sinks/spool.ts";
import { type RunSummary, unpackLineStats } from "../summary.ts";
import { shown } from "../text.ts";
import type { RunOptions } from "./options.ts";
import type { FromShard, ShardDone, ShardGo, ShardInit, ShardProgress, ToShard } from "./shard_run.ts";

/** The spool dir of worker `index` (1-based) of `count`. */
export function workerSpoolDir(dir: string, index: number, count: number): string {
  return join(dir, `worker-${index}of${count}`);
}

/** The worker (1-based) of `count` that runs factory `F<factoryNumber>` of a process running `shard`. */
export function workerOf(factoryNumber: number, count: number, shard: Shard | undefined): number {
  const outer = shard?.count ?? 1;
  return Math.floor(((factoryNumber - 1) % (outer * count)) / outer) + 1;
}

/** The shard of the whole plant worker `index` (1-based) of `count` runs, in a process running `shard`. */
export function workerShard(index: number, count: number, shard: Shard | undefined): Shard {
  const outer = shard ?? { index: 1, count: 1 };
  return { index: outer.index + outer.count * (index - 1), count: outer.count * count };
}

const WORKER_DIR = /^worker-(\d+)of(\d+)$/;

/**
 * How many workers a run with a spool in `dir` must use: `workers`, unless the dir holds records
 * kept by a run with another number (of workers, or without them): those go out through the
 * workers that kept them, so each key keeps its order; said in one line. A `RunError` when the dir
 * holds records of two such runs, or records of several workers and the run may not write to Kafka
 * (`kafkaOnly` false: `--sink auto`).
 */
export function spoolWorkers(
  dir: string,
  workers: number,
  { maxBytes, kafkaOnly }: { maxBytes: number; kafkaOnly: boolean },
): number {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return workers; // Not there yet (or unreadable: opening the spool says so).
  }
  // The numbers of workers the dir has spools of: its own files (one), its worker-IofN dirs (N).
  const found = new Set<number>();
  if (laneFilesIn(dir).length > 0) found.add(1);
  for (const name of names) {
    const match = WORKER_DIR.exec(name);
    if (match && isDir(join(dir, name))) found.add(Number(match[2]));
  }
  /** Records kept by the spools of `n` workers (opened, counted and closed). */
  const recordsOf = (n: number): number => {
    let records = 0;
    for (const at of n === 1 ? [dir] : Array.from({ length: n }, (_, i) => workerSpoolDir(dir, i + 1, n))) {
      for (const file of laneFilesIn(at)) {
        const spool = Spool.open(at, { maxBytes, file });
        records += spool.count;
        spool.close();
      }
    }
    return records;
  };
  // Only the other numbers' spools are opened here: the run's own are opened (and checked) once, by
  // its sink, unless another number's hold records too.
  const held = new Map<number, number>();
  for (const n of found) {
    if (n === workers) continue;
    const records = recordsOf(n);
    if (records > 0) held.set(n, records);
  }
  if (held.size === 0) return workers;
  if (found.has(workers)) {
    const own = recordsOf(workers);
    if (own > 0) held.set(workers, own);
  }
  const counts = [...held.keys()].sort((a, b) => a - b);
  if (counts.length > 1) {
    throw new RunError(
      `--spool-dir ${shown(dir)} holds records kept by runs with ${counts.join(" and ")} workers: move one set ` +
        `(${shown(counts[0] === 1 ? join(dir, "spool*.db") : workerSpoolDir(dir, 1, counts[0]))} ...) to another dir ` +
        "and send it with a run of its own",
    );
  }
  const [kept] = counts;
  if (kept === undefined || kept === workers) return workers;
  if (kept > 1 && !kafkaOnly) {
    throw new RunError(
      `--spool-dir ${shown(dir)} holds ${held.get(kept)} records kept by a run with ${kept} workers: ` +
        `send them with --sink kafka (and --workers ${kept}) first`,
    );
  }
  log("kafka").info(
    `the spool ${shown(resolve(dir))} holds ${held.get(kept)} records kept by a run with ${kept} worker${
      kept === 1 ? "" : "s"
    }: this run uses ${kept} too (--workers ${workers} applies once they are sent)`,
  );
  return kept;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The workers of a run, started and connected, not yet begun. */
export interface Workers {
  /** The workers' sinks as one, for the live status, `/metrics` and the summary. */
  readonly sink: Sink;
  /** Told of each batch's lateness in every worker (`/metrics`). */
  readonly lateness: Pick<Scheduler, "onLateness">;
  /** Simulated now: the latest of the workers. */
  nowMs(): number;
  /** Begins the run in every worker; resolves when all have ended, the summary merged. */
  run(go: ShardGo): Promise<SimulationResult>;
}

/**
 * Starts `count` workers for `plant` (the process's plant, as the run's thread built it), each
 * with its shard, and resolves once every one has connected. A stop (`signal`) is forwarded to
 * each. Throws the first worker's failure (the others are stopped), as the `ExitError` it was.
 */
export async function startWorkers(
  { options, count, seed, plant, summary, env, speed, signal, lineCounts, observe }: {
    options: RunOptions;
    count: number;
    seed: number;
    plant: Plant;
    summary: RunSummary;
    env: ProgramEnv;
    speed: number;
    signal: AbortSignal | undefined;
    lineCounts: boolean;
    observe: boolean;
  },
): Promise<Workers> {
  // Which of the run's lines each worker's are, in the worker's plant order.
  const at: number[][] = Array.from({ length: count }, () => []);
  let line = 0;
  for (const factory of plant.factories) {
    const worker = workerOf(Number(factory.id.slice(1)), count, options.shard);
    for (const _ of factory.lines) at[worker - 1].push(line++);
  }
  const progress: (ShardProgress | undefined)[] = new Array(count).fill(undefined);
  const sink = new WorkersSink(progress, options.spool.maxMb > 0);
  const lateness: Workers["lateness"] = { onLateness: undefined };
  let failure: ExitError | Error | undefined;
  const ended: Promise<unknown>[] = [];
  const ready: Promise<void>[] = [];
  const done: (ShardDone | undefined)[] = new Array(count).fill(undefined);
  const workers: Worker[] = [];
  const stopAll = (reason: string) => {
    for (const worker of workers) worker.postMessage({ type: "stop", reason } satisfies ToShard);
  };
  const onAbort = () => stopAll(String(signal?.reason ?? "stop"));
  signal?.addEventListener("abort", onAbort, { once: true });

  for (let w = 1; w <= count; w++) {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    workers.push(worker);
    let isReady = () => {};
    ready.push(new Promise<void>((resolve) => isReady = resolve));
    ended.push(
      new Promise<void>((resolve) => {
        const finish = () => {
          worker.terminate();
          isReady();
          resolve();
        };
        worker.onerror = (event) => {
          event.preventDefault();
          failure ??= new Error(`worker ${w} of ${count}: ${event.message}`);
          stopAll("failed");
          finish();
        };
        worker.onmessage = ({ data }: MessageEvent<FromShard>) => {
          switch (data.type) {
            case "log":
              writeLogLine(data.line.replace(/^(\w+): /, `$1: worker ${w}/${count}: `));
              break;
            case "ready":
              isReady();
              break;
            case "progress":
              absorb(w, data.progress);
              break;
            case "done":
              absorb(w, data.done.progress);
              done[w - 1] = data.done;
              finish();
              break;
            case "stopped":
              finish();
              break;
            case "failed":
              if (failure === undefined) {
                failure = data.unexpected
                  ? new Error(data.lines[0]?.replace(/^unexpected failure: /, "") ?? "worker failed")
                  : new ExitError(data.lines, data.exitCode);
                stopAll("failed");
              }
              finish();
              break;
          }
        };
      }),
    );
    const init: ShardInit = {
      options,
      seed,
      shard: workerShard(w, count, options.shard),
      spoolDir: workerSpoolDir(options.spool.dir, w, count),
      env,
      speed,
      lineCounts,
      observe,
      prepareTopics: w === 1,
    };
    worker.postMessage({ type: "init", init } satisfies ToShard);
  }

  function absorb(w: number, report: ShardProgress) {
    progress[w - 1] = report;
    summary.readings = summary.heartbeats = summary.labels = 0;
    let active = 0;
    for (const p of progress) {
      if (!p) continue;
      summary.readings += p.readings;
      summary.heartbeats += p.heartbeats;
      summary.labels += p.labels;
      active += p.activeLines;
    }
    summary.activeOverride = active;
    if (report.lineCounts) {
      const lines = summary.lines;
      at[w - 1].forEach((index, i) => lines[index].lastCount = report.lineCounts![i]);
    }
    if (report.delivered || report.latencies) sink.observed(report.delivered ?? {}, report.latencies ?? []);
    const late = report.lateness ?? [];
    for (let i = 0; i + 1 < late.length; i += 2) lateness.onLateness?.(late[i], late[i + 1]);
  }

  const cleanUp = async () => {
    await Promise.all(ended);
    signal?.removeEventListener("abort", onAbort);
  };
  // Every worker connected, or one failed (the others stopped and ended).
  await Promise.race([Promise.all(ready), Promise.all(ended)]);
  if (failure || signal?.aborted) {
    stopAll("failed");
    await cleanUp();
    throw failure ?? new RunError("stopped before the run started");
  }
  return {
    sink,
    lateness,
    nowMs: () => Math.max(...progress.map((p) => p?.nowMs ?? -Infinity)),
    async run(go) {
      for (const worker of workers) worker.postMessage({ type: "go", go } satisfies ToShard);
      await cleanUp();
      if (failure) throw failure;
      const taken = new Array<number>(summary.lines.length).fill(0);
      let completed = true;
      let reachedEnd = false;
      let endMs = go.startMs;
      done.forEach((end, i) => {
        if (end === undefined) {
          completed = false;
          return;
        }
        unpackLineStats(end.stats, summary.lines, at[i]);
        at[i].forEach((index, j) => taken[index] = end.taken[j]);
        completed &&= end.completed;
        reachedEnd ||= end.reachedEnd;
        endMs = Math.max(endMs, end.endMs);
      });
      summary.activeOverride = undefined;
      const lines = allLines(plant);
      return {
        completed,
        reachedEnd,
        readings: summary.readings,
        heartbeats: summary.heartbeats,
        labels: summary.labels,
        lines: lines.map((line, i) => ({ line, taken: taken[i] })),
        startMs: go.startMs,
        endMs,
      };
    },
  };
}

/** The workers' sinks as one: sums of what each reported last. */
class WorkersSink implements Sink {
  readonly name = "kafka";
  observer?: DeliveryObserver;
  readonly #progress: readonly (ShardProgress | undefined)[];
  readonly #spool: boolean;

  constructor(progress: readonly (ShardProgress | undefined)[], spool: boolean) {
    this.#progress = progress;
    this.#spool = spool;
  }

  #sum(of: (sink: ShardProgress["sink"]) => number): number {
    return this.#progress.reduce((sum, p) => sum + (p ? of(p.sink) : 0), 0);
  }

  write(): void {
    throw new Error("the workers write their own records");
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  get delivered(): number {
    return this.#sum((sink) => sink.delivered);
  }

  get pending(): number {
    return this.#sum((sink) => sink.pending);
  }

  get spoolRecords(): number {
    return this.#sum((sink) => sink.spoolRecords);
  }

  get stalled(): boolean {
    return this.#progress.some((p) => p?.sink.stalled ?? false);
  }

  get spoolCounts(): { spooled: number; replayed: number; alreadyInKafka: number } | undefined {
    if (!this.#spool) return undefined;
    return {
      spooled: this.#sum((sink) => sink.spooled),
      replayed: this.#sum((sink) => sink.replayed),
      alreadyInKafka: this.#sum((sink) => sink.alreadyInKafka),
    };
  }

  /** Deliveries a worker reported, told to the observer as its own sink would have. */
  observed(delivered: Record<string, number>, latencies: number[]): void {
    const observer = this.observer;
    if (!observer) return;
    for (const [topic, n] of Object.entries(delivered)) {
      if (observer.counted) observer.counted(topic, n);
      else observer(new Array<Pick<OutRecord, "topic">>(n).fill({ topic }) as OutRecord[]);
    }
    for (const latency of latencies) observer([], latency);
  }
}
