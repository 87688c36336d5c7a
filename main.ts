/**
 * factory-sim: simulates factories of sensors and streams their telemetry to Apache Kafka.
 *
 * This file wires the modules together and owns process state (arguments, environment, signals,
 * exit code). Everything else lives in `lib/` and receives what it needs as parameters.
 */
import process from "node:process";
import denoJson from "./deno.json" with { type: "json" };
import { buildCommit } from "./lib/build_info.ts";
import { helpText, type Options, parseCommand, type ValidateOptions } from "./lib/cli.ts";
import { loadConfig } from "./lib/config.ts";
import type { MonitorIo } from "./lib/monitor/command.ts";
import { formatDuration } from "./lib/duration.ts";
import {
  describeError,
  ExitCode,
  exitCodeOf,
  ExitError,
  isPermissionDenial,
  PermissionError,
  permissionError,
  RunError,
} from "./lib/errors.ts";
import { log, type LogLevel, setupLogging } from "./lib/log.ts";
import { type RunProbe, withMetricsServer } from "./lib/metrics.ts";
import { LiveStatus, runCounts, sinkStatus } from "./lib/live_status.ts";
import { formatTimestamp, toRecords } from "./lib/messages.ts";
import { allLines, allSensors, buildPlant } from "./lib/plant.ts";
import { randomSeed, Rng } from "./lib/random.ts";
import { Scheduler } from "./lib/scheduler.ts";
import { describeSecurity, loadSecurity, parseSecurity, SECURITY_ENV, type SecurityEnv } from "./lib/security.ts";
import { runSimulation } from "./lib/simulation.ts";
import { colorAllowed } from "./lib/status.ts";
import { checkSummaryPermission, type RunInfo, RunSummary, writeSummaryJson } from "./lib/summary.ts";
import { validateConfigFile } from "./lib/validate.ts";
import { ConsoleSink } from "./lib/sinks/console.ts";
import { closeSink, fellBackToConsole, type Sink } from "./lib/sinks/sink.ts";
import { Spool } from "./lib/sinks/spool.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** How long `--sink auto` tries Kafka before falling back to the console. */
const AUTO_CONNECT_TIMEOUT_MS = 3_000;
/** How long `--sink kafka` tries Kafka before giving up. */
const KAFKA_CONNECT_TIMEOUT_MS = 10_000;
/** How long a run stopped by a signal may take to flush (the process exits within 5 s). */
export const SHUTDOWN_FLUSH_TIMEOUT_MS = 4_000;

/**
 * The process state `main` works with, injectable for tests: what the monitor works with (stdout,
 * signal, clock, terminal...), and the rest.
 */
export interface MainIo extends MonitorIo {
  env: { KAFKA_BROKERS?: string; NO_COLOR?: string } & SecurityEnv;
  /** Logs, one line a call. */
  writeStderr: (line: string) => void;
  /**
   * Whether stderr is a terminal (default: not): a live status is drawn there unless --quiet, or
   * records go to stdout and stdout is a terminal too (`stdoutIsTerminal`).
   */
  stderrIsTerminal?: () => boolean;
  /** The commit `--version` shows (default: `buildCommit`, from the binary's build info or `.git`). */
  buildCommit?: () => Promise<string>;
}

/** Runs the program with `args`; resolves to the exit code. */
export async function main(args: string[], io: MainIo): Promise<number> {
  let logLevel: LogLevel = "info";
  try {
    const command = parseCommand(args, io.env, { nowMs: (io.now ?? Date.now)() });
    if (command.kind === "help") return await print(io.stdout, helpText(VERSION));
    if (command.kind === "version") {
      return await print(io.stdout, `factory-sim ${VERSION} (commit ${await (io.buildCommit ?? buildCommit)()})\n`);
    }
    if (command.kind === "monitor") {
      logLevel = command.options.logLevel;
      await setupLogging({ level: logLevel, write: io.writeStderr });
      // Loaded on demand, as the Kafka sink: a run does not pay for the monitor.
      const { runMonitor } = await import("./lib/monitor/command.ts");
      return await runMonitor(command.options, io);
    }
    if (command.kind === "validate") {
      await setupLogging({ level: "info", write: io.writeStderr });
      return await validate(command, io);
    }
    logLevel = command.options.logLevel;
    await setupLogging({ level: logLevel, write: io.writeStderr });
    return await withMetricsServer(command.options, (probe) => run(command.options, io, probe));
  } catch (error) {
    if (error instanceof ExitError) {
      for (const line of error.lines) io.writeStderr(`error: ${line}\n`);
      return error.exitCode;
    }
    if (isPermissionDenial(error)) {
      io.writeStderr(`error: ${permissionError(error).message}\n`);
      return ExitCode.permission;
    }
    const message = describeError(error);
    io.writeStderr(`error: unexpected failure: ${message}\n`);
    if (logLevel === "debug" && error instanceof Error && error.stack) io.writeStderr(`${error.stack}\n`);
    return ExitCode.failure;
  }
}

/** `factory-sim validate`: problems (thrown, so reported as a run reports them) or warnings on stderr, the verdict on stdout. */
async function validate(options: ValidateOptions, io: MainIo): Promise<number> {
  const { warnings, factories, lines } = await validateConfigFile(options);
  for (const warning of warnings) log().warn(warning);
  return await print(
    io.stdout,
    `ok: ${options.path}: ${count(factories, "factory", "factories")}, ${count(lines, "line")}\n`,
  );
}

async function run(options: Options, io: MainIo, probe: RunProbe = {}): Promise<number> {
  const logger = log();
  const { factories: config, defaults: configDefaults, warnings: configWarnings } = await loadConfig(options.config);
  const seed = options.seed ?? randomSeed();
  const rng = new Rng(seed);
  const { shard, backfill, durationMs } = options;
  const { plant, warnings } = buildPlant(config, {
    factoryCount: options.factories,
    rng,
    file: options.config,
    generate: options.generateLines ? { linesPerFactory: options.linesPerFactory } : undefined,
    shard,
  });
  for (const warning of [...configWarnings, ...warnings]) logger.warn(warning);
  const lines = allLines(plant);
  const sensorCount = allSensors(plant).length;
  const factories = shard
    ? `shard ${shard.index}/${shard.count}: ${plant.factories.length} of ${
      count(options.factories, "factory", "factories")
    }`
    : count(plant.factories.length, "factory", "factories");
  logger.info(
    `${factories}, ${count(sensorCount, "sensor")}, ${count(lines.length, "line")}; ` +
      `seed ${seed}${options.seed === undefined ? ` (repeat with --seed ${seed})` : ""}; ` +
      (backfill
        ? `backfill from ${formatTimestamp(backfill.fromMs)} to ${formatTimestamp(backfill.toMs)}`
        : `speed ${options.speed}`) +
      (durationMs !== undefined ? `; duration ${formatDuration(durationMs)}` : "") +
      (options.continuous ? "; continuous" : ""),
  );
  if (lines.length === 0) {
    const until = backfill
      ? "until the end of the backfill"
      : durationMs !== undefined
      ? "until --duration has passed"
      : "until the run is stopped";
    logger.warn(`no production lines to run: heartbeats go on ${until}`);
  }

  if (options.summaryJson !== undefined) {
    const { state } = Deno.permissions.querySync({ name: "write", path: options.summaryJson });
    checkSummaryPermission(options.summaryJson, state === "granted");
  }
  const summary = new RunSummary(lines, options.topics);
  probe.started?.(summary, sensorCount);
  const { signal } = io;
  let sink: Sink;
  try {
    sink = await openSink(options, io);
    probe.sinkOpened?.(sink);
  } catch (error) {
    if (!signal?.aborted) throw error;
    logger.info("stopped before the run started: nothing was produced");
    return signalExitCode(signal);
  }
  // A backfill runs on virtual time from FROM: as fast as the sink accepts (its back-pressure
  // holds the clock). A live run starts now, at --speed.
  const scheduler = backfill
    ? new Scheduler({ startMs: backfill.fromMs, mode: "virtual" })
    : new Scheduler({ startMs: (io.now ?? Date.now)(), speed: options.speed });
  probe.scheduling?.(scheduler);
  const startMs = scheduler.now();
  const untilMs = Math.min(backfill?.toMs ?? Infinity, startMs + (durationMs ?? Infinity));
  const wallStartMs = performance.now();
  // On a terminal, a live status block below the log lines (cleared before the summary). Not when
  // records go to stdout on a terminal as well (the console sink, or --sink auto fallen back to it):
  // the records and the redrawn block would interleave; plain log lines then, as on a pipe.
  const recordsOnTerminal = sink instanceof ConsoleSink && (io.stdoutIsTerminal?.() ?? false);
  const live = io.stderrIsTerminal?.() && !options.quiet && !recordsOnTerminal
    ? new LiveStatus({
      write: io.writeStderr,
      color: colorAllowed(io.env),
      size: io.consoleSize ?? (() => ({ columns: 80, rows: 24 })),
      counts: runCounts(plant, summary, {
        sink: () =>
          sinkStatus(sink, {
            fellBack: fellBackToConsole(options.sink, sink),
            spool: options.spool.maxMb > 0,
          }),
        elapsedMs: () => scheduler.now() - startMs,
      }),
    })
    : undefined;
  if (live) {
    await setupLogging({ level: options.logLevel, write: (line) => live.log(line) });
    live.start();
  }
  const stopLive = async () => {
    if (!live) return;
    live.stop();
    await setupLogging({ level: options.logLevel, write: io.writeStderr });
  };
  const summaryInfo = (ending: Pick<RunInfo, "outcome" | "exitCode" | "error" | "endMs" | "taken">): RunInfo => ({
    version: VERSION,
    seed,
    plant: {
      factories: plant.factories.length,
      sensors: sensorCount,
      lines: lines.length,
      shard: shard && `${shard.index}/${shard.count}`,
    },
    speed: options.speed,
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
  const summarizeFailure = (error: unknown) => {
    if (options.summaryJson === undefined) return;
    try {
      const message = describeError(error);
      const info = summaryInfo({
        outcome: "failed",
        exitCode: exitCodeOf(error),
        error: message,
        endMs: scheduler.now(),
      });
      writeSummaryJson(options.summaryJson, summary.document(info));
    } catch (writeError) {
      logger.warn(`--summary-json not written: ${writeError instanceof Error ? writeError.message : writeError}`);
    }
  };
  let result;
  try {
    result = await runSimulation(plant, {
      scheduler,
      rng,
      signal,
      defaults: configDefaults,
      continuous: options.continuous,
      untilMs: Number.isFinite(untilMs) ? untilMs : undefined,
      emit: (events) => {
        summary.add(events);
        return sink.write(toRecords(events, options.topics));
      },
    });
  } catch (error) {
    await closeQuietly(sink);
    await stopLive();
    summarizeFailure(error);
    throw error;
  }
  try {
    await closeSink(sink, { signal, flushTimeoutMs: SHUTDOWN_FLUSH_TIMEOUT_MS });
  } catch (error) {
    await stopLive();
    summarizeFailure(error);
    throw error;
  }
  await stopLive();

  const seconds = ((result.endMs - result.startMs) / 1000).toFixed(1);
  const span = backfill
    ? `backfill from ${formatTimestamp(result.startMs)} to ${formatTimestamp(result.endMs)} in ${
      ((performance.now() - wallStartMs) / 1000).toFixed(1)
    } s: `
    : "";
  const spoolStats = "spooled" in sink && "replayed" in sink
    ? ` (${sink.spooled} spooled, ${sink.replayed} replayed from the spool)`
    : "";
  logger.info(
    `${
      result.completed || result.reachedEnd ? "done" : "stopped"
    }: ${span}${result.readings} readings and ${result.heartbeats} heartbeats` +
      `${result.labels > 0 ? ` (and ${result.labels} fault starts and ends)` : ""} ` +
      `over ${seconds} s of simulated time; ${sink.delivered} records delivered to ${sink.name}${spoolStats}`,
  );
  const exitCode = signal?.aborted ? signalExitCode(signal) : ExitCode.ok;
  const wallMs = performance.now() - wallStartMs;
  for (const line of summary.table({ simulatedMs: result.endMs - result.startMs, wallMs })) logger.info(line);
  if (options.summaryJson !== undefined) {
    const outcome = exitCode === ExitCode.ok ? "done" : "stopped";
    const taken = result.lines.map((line) => line.taken);
    writeSummaryJson(
      options.summaryJson,
      summary.document(summaryInfo({ outcome, exitCode, endMs: result.endMs, taken })),
    );
  }
  return exitCode;
}

function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

function signalExitCode(signal: AbortSignal): number {
  return signal.reason === "SIGTERM" ? ExitCode.sigterm : ExitCode.sigint;
}

async function openSink(options: Options, io: MainIo): Promise<Sink> {
  if (options.sink === "console") return new ConsoleSink(io.stdout);
  const security = await loadSecurity(parseSecurity(io.env));
  for (const broker of options.brokers) io.checkNet?.(broker);
  const { brokers, producer } = options;
  const { signal } = io;
  // Opened before connecting: a spool dir that cannot be used fails at once, not after the
  // connect timeout, and what an earlier run left there is sent first.
  const spool = options.spool.maxMb > 0
    ? Spool.open(options.spool.dir, { maxBytes: options.spool.maxMb * 1024 * 1024 })
    : undefined;
  // Loaded on demand: a console run does not pay for the Kafka client, and a missing permission
  // while the client loads becomes a PermissionError instead of an uncaught exception.
  let connectKafkaSink;
  try {
    ({ connectKafkaSink } = await import("./lib/sinks/kafka.ts"));
  } catch (error) {
    spool?.close();
    throw error;
  }
  if (security.protocol !== "PLAINTEXT") log("kafka").info(`security: ${describeSecurity(security)}`);
  const connect = (connectTimeoutMs: number) =>
    connectKafkaSink({
      brokers,
      topics: [
        options.topics.readings,
        options.topics.heartbeats,
        ...(options.topics.labels ? [options.topics.labels] : []),
      ],
      connectTimeoutMs,
      signal,
      clientId: producer.clientId,
      acks: producer.acks,
      idempotent: producer.idempotent,
      compression: producer.compression,
      partitions: producer.partitions,
      replicationFactor: producer.replicationFactor,
      security,
      delivery: { lingerMs: producer.lingerMs, batchRecords: producer.batchRecords, spool },
    });
  try {
    return await connect(options.sink === "kafka" ? KAFKA_CONNECT_TIMEOUT_MS : AUTO_CONNECT_TIMEOUT_MS);
  } catch (error) {
    spool?.close();
    if (options.sink === "kafka" || !(error instanceof RunError) || signal?.aborted) throw error;
    log().warn(`${error.message}; writing records to stdout instead (--sink auto)`);
    return new ConsoleSink(io.stdout);
  }
}

async function closeQuietly(sink: Sink): Promise<void> {
  try {
    await sink.close();
  } catch {
    // The error that stopped the run is the one to report.
  }
}

async function print(stdout: WritableStream<Uint8Array>, text: string): Promise<number> {
  const writer = stdout.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
  } finally {
    writer.releaseLock();
  }
  return ExitCode.ok;
}

/** Names the permission flag to grant when the run may not connect to `hostPort`. */
function checkNetPermission(hostPort: string): void {
  const host = hostPort.replace(/^\[(.*)\](:\d+)$/, "$1$2");
  if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") {
    throw new PermissionError(`missing permission: network access to ${hostPort}: grant --allow-net=${hostPort}`);
  }
}

function readEnv(name: string): string | undefined {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? Deno.env.get(name)
    : undefined;
}

/** What `handleStopSignals` needs of the process; injectable for tests. */
export interface SignalIo {
  addSignalListener: (name: "SIGINT" | "SIGTERM", handler: () => void) => void;
  exit: (code: number) => void;
  /** Where the second signal's error goes (the process exits right after, past the logger). */
  writeStderr: (line: string) => void;
  /** What the first signal starts, for its info line (default "stopping and flushing"). */
  stopping?: string;
  /** A monotonic clock, milliseconds (default `performance.now`). */
  now?: () => number;
}

/**
 * A repeat of the first signal within this long is the same stop, not a second one: `timeout -s INT`
 * signals the process and its group, so a process under `deno task` gets it twice at once.
 */
export const SIGNAL_REPEAT_MS = 300;

/**
 * First SIGINT or SIGTERM: abort the run (with the signal's name as reason) so it stops and
 * flushes, saying so at info level through the logger (so not with --quiet). A second one: exit
 * at once without flushing (unless it repeats the first within `SIGNAL_REPEAT_MS`).
 */
export function handleStopSignals(
  controller: AbortController,
  { addSignalListener, exit, writeStderr, stopping = "stopping and flushing", now = () => performance.now() }: SignalIo,
): void {
  let first: { name: string; atMs: number } | undefined;
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    addSignalListener(name, () => {
      if (first !== undefined) {
        if (first.name === name && now() - first.atMs < SIGNAL_REPEAT_MS) {
          log().debug(`${name} again within ${SIGNAL_REPEAT_MS} ms: the same stop`);
          return;
        }
        writeStderr(`error: second ${name}: exiting at once without flushing\n`);
        exit(name === "SIGTERM" ? ExitCode.sigterm : ExitCode.sigint);
        return;
      }
      first = { name, atMs: now() };
      // Through the logger: follows --log-level and --quiet, and stays above a live status.
      log().info(`${name} received: ${stopping} (send it again to exit at once)`);
      controller.abort(name);
    });
  }
}

if (import.meta.main) {
  // Node-style process warnings (KafkaJS schedules timers with negative delays, which Deno's
  // Node layer reports) are noise for users: send them to the debug log instead of stderr.
  process.removeAllListeners("warning");
  process.on("warning", (warning) => log("node").debug(`${warning.name}: ${warning.message}`));
  const encoder = new TextEncoder();
  const writeStderr = (line: string) => {
    try {
      Deno.stderr.writeSync(encoder.encode(line));
    } catch {
      // stderr closed: nowhere left to report.
    }
  };
  const controller = new AbortController();
  handleStopSignals(controller, {
    // The monitor has nothing to flush.
    stopping: Deno.args[0] === "monitor" ? "stopping" : "stopping and flushing",
    addSignalListener: (name, handler) => Deno.addSignalListener(name, handler),
    exit: (code) => Deno.exit(code),
    writeStderr,
  });
  const code = await main(Deno.args, {
    env: Object.fromEntries(["KAFKA_BROKERS", "NO_COLOR", ...SECURITY_ENV].map((name) => [name, readEnv(name)])),
    stdout: Deno.stdout.writable,
    writeStderr,
    stderrIsTerminal: () => Deno.stderr.isTerminal(),
    stdoutIsTerminal: () => Deno.stdout.isTerminal(),
    consoleSize: () => {
      try {
        return Deno.consoleSize();
      } catch {
        return { columns: 80, rows: 24 };
      }
    },
    signal: controller.signal,
    checkNet: checkNetPermission,
  });
  Deno.exit(code);
}
