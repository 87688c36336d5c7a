/**
 * factory-sim: simulates factories of sensors and streams their telemetry to Apache Kafka.
 *
 * The entry point: it owns process state (arguments, environment, signals, exit code), hands the
 * command the arguments ask for what it needs of the process, and turns what it throws into one
 * line on stderr and an exit code. The commands live in `lib/`.
 */
import { fstatSync } from "node:fs";
import process from "node:process";
import { buildCommit, VERSION } from "./lib/build_info.ts";
import { helpText, parseCommand } from "./lib/cli.ts";
import { errorReport, ExitCode, PermissionError } from "./lib/errors.ts";
import { closedAtStart, guardedStdout, type ProcessIo, PROGRAM_ENV, writeText } from "./lib/io.ts";
import { safeLine, shown } from "./lib/text.ts";
import { log, type LogLevel, setupLogging } from "./lib/log.ts";
import { loadKafkaSink } from "./lib/sinks/load.ts";

export { VERSION };

/** The process state `main` works with, injectable for tests. */
export interface MainIo extends ProcessIo {
  /** The commit `--version` shows (default: `buildCommit`, from the binary's build info or `.git`). */
  buildCommit?: () => Promise<string>;
  /** Told the monitor's dashboard address once it listens. */
  onDashboard?: (url: string) => void;
}

/** Runs the program with `args`; resolves to the exit code. */
export async function main(args: string[], io: MainIo): Promise<number> {
  let logLevel: LogLevel = "info";
  try {
    const command = parseCommand(args, io.env, { nowMs: (io.now ?? Date.now)() });
    switch (command.kind) {
      case "help":
        await writeText(io.stdout, helpText(VERSION));
        return ExitCode.ok;
      case "version":
        await writeText(io.stdout, `factory-sim ${VERSION} (commit ${await (io.buildCommit ?? buildCommit)()})\n`);
        return ExitCode.ok;
      case "validate": {
        await setupLogging({ level: "info", write: io.writeStderr });
        // Loaded on demand, with the config's schemas: --help, --version and the monitor do not load them.
        const { runValidate } = await import("./lib/validate.ts");
        return await runValidate(command, io);
      }
      case "monitor": {
        logLevel = command.options.logLevel;
        await setupLogging({ level: logLevel, write: io.writeStderr });
        // Loaded on demand, as the Kafka client: a run does not pay for the monitor.
        const { runMonitor } = await import("./lib/monitor/command.ts");
        return await runMonitor(command.options, io);
      }
      case "run": {
        logLevel = command.options.logLevel;
        await setupLogging({ level: logLevel, write: io.writeStderr });
        // Loaded on demand, side by side: the Kafka client (for a run that may write to Kafka) loads
        // while the run's modules load and its config is read; opening the sink waits for it.
        if (command.options.sink !== "console") loadKafkaSink().catch(() => {});
        const { runCommand } = await import("./lib/run/command.ts");
        if (command.options.metrics === undefined) return await runCommand(command.options, io);
        // Loaded on demand, as the Kafka client: a run without --metrics-port does not pay for prom-client.
        const { withMetricsServer } = await import("./lib/metrics.ts");
        return await withMetricsServer(command.options, (probe) => runCommand(command.options, io, probe));
      }
    }
  } catch (error) {
    const { lines, exitCode, unexpected } = errorReport(error);
    for (const line of lines) io.writeStderr(`error: ${safeLine(line)}\n`);
    if (unexpected && logLevel === "debug" && error instanceof Error && error.stack) io.writeStderr(`${error.stack}\n`);
    return exitCode;
  }
}

/** Names the permission flag to grant when the run may not connect to `hostPort`. */
function checkNetPermission(hostPort: string): void {
  // Deno reads an IPv6 address with a port in brackets, as the flags take it: [::1]:9092.
  if (Deno.permissions.querySync({ name: "net", host: hostPort }).state !== "granted") {
    throw new PermissionError(
      `missing permission: network access to ${shown(hostPort)}: grant --allow-net=${shown(hostPort)}`,
    );
  }
}

/**
 * Whether stdout was closed when the process started (`>&-`): the runtime then holds /dev/null,
 * opened read and write, in its place. Linux only, and only when /proc may be read.
 */
function stdoutClosedAtStart(): boolean {
  if (Deno.build.os !== "linux") return false;
  const readable = (path: string) => Deno.permissions.querySync({ name: "read", path }).state === "granted";
  if (!readable("/proc/self/fd/1") || !readable("/proc/self/fdinfo/1")) return false;
  try {
    return closedAtStart(Deno.readLinkSync("/proc/self/fd/1"), Deno.readTextFileSync("/proc/self/fdinfo/1"));
  } catch {
    return false;
  }
}

/** Linux's device number of /dev/null (major 1, minor 3). */
const DEV_NULL_RDEV = 0x103;

/** Whether stdout is /dev/null (which is also where a closed stdout ends up). */
function stdoutIsNull(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    const stat = fstatSync(1);
    return stat.isCharacterDevice() && stat.rdev === DEV_NULL_RDEV;
  } catch {
    return false;
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
  const closed = stdoutClosedAtStart();
  handleStopSignals(controller, {
    // The monitor has nothing to flush.
    stopping: Deno.args[0] === "monitor" ? "stopping" : "stopping and flushing",
    addSignalListener: (name, handler) => Deno.addSignalListener(name, handler),
    exit: (code) => Deno.exit(code),
    writeStderr,
  });
  const code = await main(Deno.args, {
    env: Object.fromEntries(PROGRAM_ENV.map((name) => [name, readEnv(name)])),
    // Every failure to write becomes one line naming stdout and its cause, exit 1.
    stdout: guardedStdout(Deno.stdout.writable, { closed }),
    writeStderr,
    stderrIsTerminal: () => Deno.stderr.isTerminal(),
    stdoutIsTerminal: () => Deno.stdout.isTerminal(),
    // Known to be closed: not /dev/null that discards, a stdout that fails.
    stdoutIsNull: () => !closed && stdoutIsNull(),
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
