/**
 * A run, `factory-sim [flags]`: loads the config, builds the plant, opens the sink, runs the
 * simulation on its scheduler, closes the sink, and reports (log lines, live status, summary).
 */
import { VERSION } from "../build_info.ts";
import { lateStampProblem, loadConfig } from "../config.ts";
import { ConfigError, describeError, ExitCode, exitCodeOf } from "../errors.ts";
import { type ProcessIo, StdoutError } from "../io.ts";
import { LiveStatus, runCounts, sinkStatus } from "../live_status.ts";
import { log, setupLogging } from "../log.ts";
import type { RunProbe } from "../metrics.ts";
import type { PreparedFormat } from "../formats/setup.ts";
import { JSON_BYTES, JSON_VALUES } from "../messages.ts";
import { allLines, allSensors, type Plant } from "../plant.ts";
import { paceFor } from "../pacing.ts";
import { randomSeed, Rng } from "../random.ts";
import { readSecurity } from "../security.ts";
import { Scheduler } from "../scheduler.ts";
import { runSimulation, type SimulationResult } from "../simulation.ts";
import { closeQuietly, closeSink, type Sink } from "../sinks/sink.ts";
import { colorAllowed } from "../status.ts";
import { checkSummaryPermission, type RunInfo, RunSummary, writeSummaryJson } from "../summary.ts";
import { type OpenedSink, openSink } from "./open_sink.ts";
import { type RunOptions, SHUTDOWN_FLUSH_TIMEOUT_MS } from "./options.ts";
import { prepareRegistryFormat, runRegistryAccess } from "./format_setup.ts";
import { emitInto, runPlant } from "./pipeline.ts";
import { endLine, noLinesWarning, startLine } from "./report.ts";
import { spoolWorkers, startWorkers, type Workers } from "./workers.ts";
import { shown } from "../text.ts";

/** Runs the simulation `options` ask for; resolves to the exit code, throws an `ExitError` (or worse) on failure. */
export async function runCommand(options: RunOptions, io: ProcessIo, probe: RunProbe = {}): Promise<number> {
  const logger = log();
  const loaded = await loadConfig(options.config);
  const { defaults, warnings: configWarnings } = loaded;
  const tooEarly = options.backfill && lateStampProblem(loaded, options.backfill.fromMs, options.config);
  if (tooEarly) throw new ConfigError([tooEarly]);
  const seed = options.seed ?? randomSeed();
  const rng = new Rng(seed);
  const { shard, backfill, durationMs, summaryJson } = options;
  const { plant, warnings } = runPlant(options, loaded, rng, shard);
  for (const warning of [...configWarnings, ...warnings]) logger.warn(warning);
  // Every problem of the security variables, before the run says it starts (a console run has no use for them).
  const security = options.sink === "console" ? undefined : await readSecurity(io.env);
  // And of the registry's, for a registry format written to Kafka.
  const { values } = options;
  const registryAccess = await runRegistryAccess(options, io.env);
  const lines = allLines(plant);
  const sensors = allSensors(plant).length;
  // --rate: the speed that paces this plant to the rate asked for, live or a backfill.
  const limitMs = Math.min(backfill ? backfill.toMs - backfill.fromMs : Infinity, durationMs ?? Infinity);
  const pace = options.rate === undefined ? undefined : paceFor(plant, options.rate, {
    continuous: options.continuous,
    limitMs: Number.isFinite(limitMs) ? limitMs : undefined,
  });
  const speed = pace?.speed ?? options.speed;
  logger.info(startLine({ ...options, speed }, { plant, sensors, lines: lines.length, seed, pace }));
  // A shard without lines of its own still ends when the whole plant's lines are done.
  if ((plant.wholePlantLines ?? lines).length === 0) logger.warn(noLinesWarning(options));

  if (summaryJson !== undefined) {
    const { state } = Deno.permissions.querySync({ name: "write", path: summaryJson });
    checkSummaryPermission(summaryJson, state === "granted");
  }
  const summary = new RunSummary(lines, options.topics, { continuous: options.continuous });
  probe.started?.(summary, sensors);
  const { signal } = io;
  // The schemas registered (or looked up) and their ids resolved before anything is produced.
  let prepared: PreparedFormat | undefined;
  try {
    prepared = registryAccess && await prepareRegistryFormat(options, registryAccess, signal);
  } catch (error) {
    if (!signal?.aborted) throw error;
    logger.info("stopped before the run started: nothing was produced");
    return signalExitCode(signal);
  }
  let opened: OpenedSink;
  // --workers: the factories split over threads, each its own sink (run/workers.ts).
  let workers: Workers | undefined;
  try {
    const count = options.sink !== "console" && options.spool.maxMb > 0
      ? spoolWorkers(options.spool.dir, options.workers, {
        maxBytes: options.spool.maxMb * 1024 * 1024,
        kafkaOnly: options.sink === "kafka",
      })
      : options.workers;
    if (count > 1) {
      workers = await startWorkers({
        options,
        count,
        seed,
        plant,
        summary,
        env: io.env,
        speed,
        signal,
        lineCounts: liveStatusShown(options, io, false),
        observe: options.metrics !== undefined,
      });
      opened = { sink: workers.sink, fellBack: false };
    } else {
      opened = await openSink(options, io, security);
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
    logger.info("stopped before the run started: nothing was produced");
    return signalExitCode(signal);
  }
  const { sink, fellBack } = opened;
  const discarded = (sink.toStdout ?? false) && (io.stdoutIsNull?.() ?? false);
  if (discarded) {
    logger.warn("stdout is /dev/null (where a closed stdout ends up too): the records are discarded");
  }
  probe.sinkOpened?.(sink, fellBack);
  if (values.format !== "json" && sink.toStdout) {
    logger.info(`the console prints JSON lines: --format ${values.format} applies to what goes to Kafka`);
  }
  const encoder = sink.toStdout ? JSON_VALUES : prepared?.encoder ?? JSON_BYTES;
  // A backfill runs on virtual time from FROM: as fast as the sink accepts (its back-pressure
  // holds the clock); with --rate, on real time from FROM at the speed that rate implies. A live
  // run starts now, at --speed (or --rate's speed).
  const virtual = backfill !== undefined && pace === undefined;
  const scheduler = virtual
    ? new Scheduler({ startMs: backfill.fromMs, mode: "virtual" })
    : new Scheduler({ startMs: backfill?.fromMs ?? (io.now ?? Date.now)(), speed });
  probe.scheduling?.(workers?.lateness ?? scheduler);
  const startMs = scheduler.now();
  // The workers' clocks run the run (this thread's only keeps its start, and a live run's pace).
  const nowMs = () => workers ? Math.max(startMs, workers.nowMs()) : scheduler.now();
  const untilMs = Math.min(backfill?.toMs ?? Infinity, startMs + (durationMs ?? Infinity));
  const wallStartMs = performance.now();
  const live = await startLiveStatus(options, io, {
    plant,
    summary,
    sink,
    fellBack,
    elapsedMs: () => nowMs() - startMs,
    targetRate: pace?.rate,
  });
  const info = (ending: Pick<RunInfo, "outcome" | "exitCode" | "error" | "endMs" | "taken">): RunInfo => ({
    version: VERSION,
    seed,
    plant: {
      factories: plant.factories.length,
      sensors,
      lines: lines.length,
      shard: shard && `${shard.index}/${shard.count}`,
    },
    speed,
    pace,
    backfill,
    continuous: options.continuous,
    durationLimitMs: durationMs,
    startMs,
    wallMs: performance.now() - wallStartMs,
    signal: signal?.aborted ? String(signal.reason) : undefined,
    sink,
    ...ending,
  });
  // Best effort: the failure that ends the run is the one to report.
  const failed = async (error: unknown) => {
    await live.stop();
    if (summaryJson === undefined) return;
    try {
      const ending = { outcome: "failed", exitCode: exitCodeOf(error), error: describeError(error) } as const;
      writeSummaryJson(summaryJson, summary.jsonChunks(info({ ...ending, endMs: nowMs() })));
    } catch (writeError) {
      logger.warn(`--summary-json not written: ${shown(describeError(writeError))}`);
    }
  };
  // The end line and the summary table, once the live status is gone.
  const report = async (result: SimulationResult) => {
    await live.stop();
    const wallMs = performance.now() - wallStartMs;
    logger.info(endLine(result, { sink, backfill: backfill !== undefined, wallMs, discarded }));
    for (const line of summary.table({ simulatedMs: result.endMs - result.startMs, wallMs, pace })) {
      logger.info(line);
    }
  };

  let result;
  try {
    const until = Number.isFinite(untilMs) ? untilMs : undefined;
    result = workers ? await workers.run({ startMs, untilMs: until, virtual }) : await runSimulation(plant, {
      scheduler,
      rng,
      signal,
      defaults,
      continuous: options.continuous,
      untilMs: until,
      emit: emitInto({ summary, sink, topics: options.topics, encoder, signal }),
    });
  } catch (error) {
    await closeQuietly(sink);
    if (error instanceof StdoutError) {
      // Records stdout did not take: the end line and the summary say what was written.
      const { readings, heartbeats, labels } = summary;
      const endMs = nowMs();
      await report({ completed: false, reachedEnd: false, readings, heartbeats, labels, lines: [], startMs, endMs });
    }
    await failed(error);
    throw error;
  }
  try {
    await closeSink(sink, { signal, flushTimeoutMs: SHUTDOWN_FLUSH_TIMEOUT_MS });
  } catch (error) {
    await failed(error);
    throw error;
  }
  await report(result);
  const exitCode = signal?.aborted ? signalExitCode(signal) : ExitCode.ok;
  if (summaryJson !== undefined) {
    const outcome = exitCode === ExitCode.ok ? "done" : "stopped";
    const taken = result.lines.map((line) => line.taken);
    writeSummaryJson(summaryJson, summary.jsonChunks(info({ outcome, exitCode, endMs: result.endMs, taken })));
  }
  return exitCode;
}

/** The exit code of a run stopped by `signal`. */
function signalExitCode(signal: AbortSignal): number {
  return signal.reason === "SIGTERM" ? ExitCode.sigterm : ExitCode.sigint;
}

/**
 * On a terminal, a live status block below the log lines (cleared before the summary), with the
 * log drawn above it until `stop`. Not with --quiet, and not when records go to stdout on a
 * terminal as well (the console sink, or --sink auto fallen back to it): the records and the
 * redrawn block would interleave; plain log lines then, as on a pipe.
 */
async function startLiveStatus(
  options: Pick<RunOptions, "quiet" | "logLevel" | "spool">,
  io: ProcessIo,
  { plant, summary, sink, fellBack, elapsedMs, targetRate }: {
    plant: Plant;
    summary: RunSummary;
    sink: Sink;
    fellBack: boolean;
    elapsedMs: () => number;
    /** `--rate`, shown against the rate achieved. */
    targetRate: number | undefined;
  },
): Promise<{ stop(): Promise<void> }> {
  if (!liveStatusShown(options, io, sink.toStdout ?? false)) return { stop: () => Promise.resolve() };
  const live = new LiveStatus({
    write: io.writeStderr,
    color: colorAllowed(io.env),
    size: io.consoleSize ?? (() => ({ columns: 80, rows: 24 })),
    counts: runCounts(plant, summary, {
      sink: () => sinkStatus(sink, { fellBack, spool: options.spool.maxMb > 0 }),
      elapsedMs,
      targetRate,
    }),
  });
  await setupLogging({ level: options.logLevel, write: (line) => live.log(line) });
  live.start();
  return {
    async stop() {
      live.stop();
      await setupLogging({ level: options.logLevel, write: io.writeStderr });
    },
  };
}

/** Whether a run draws a live status: on a terminal, not --quiet, and not over records on that terminal. */
function liveStatusShown(options: Pick<RunOptions, "quiet">, io: ProcessIo, toStdout: boolean): boolean {
  const recordsOnTerminal = toStdout && (io.stdoutIsTerminal?.() ?? false);
  return (io.stderrIsTerminal?.() ?? false) && !options.quiet && !recordsOnTerminal;
}
