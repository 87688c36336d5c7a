/**
 * The one logger. Every log line goes to stderr (stdout carries data only), one line a record:
 * `warning: F4 has no production lines`.
 */
import { configure, getLogger, type LogLevel as LogtapeLevel, type LogRecord, reset } from "@logtape/logtape";
import { safeLine } from "./text.ts";

/** Levels accepted by `--log-level`, from most to least verbose. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
/** A level accepted by `--log-level`. */
export type LogLevel = typeof LOG_LEVELS[number];

/** A logger taking plain text (no template placeholders, so braces in messages are safe). */
export interface Log {
  debug(text: string): void;
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
}

/**
 * Routes every logger of the program to `write` (one line per call, newline included), at `level`
 * and above.
 */
export async function setupLogging(
  { level, write }: { level: LogLevel; write: (line: string) => void },
): Promise<void> {
  announceTo = write;
  await configure({
    reset: true,
    sinks: { stderr: (record: LogRecord) => write(formatRecord(record)) },
    loggers: [
      { category: ["factory-sim"], lowestLevel: level as LogtapeLevel, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Removes the logging setup (tests call this to leave no state behind). */
export async function resetLogging(): Promise<void> {
  announceTo = () => {};
  await reset();
}

let announceTo: (line: string) => void = () => {};

/**
 * An info line shown whatever the level (`--quiet` too): what a user cannot do without, such as
 * the address a server on a free port (`--metrics-port 0`) listens on.
 */
export function announce(text: string): void {
  announceTo(`info: ${safeLine(text)}\n`);
}

/** Writes a line another thread's logger formatted (a run's worker) where this thread's lines go. */
export function writeLogLine(line: string): void {
  announceTo(line);
}

/** The logger of one part of the program, e.g. `log("kafka")`. */
export function log(...category: string[]): Log {
  const logger = getLogger(["factory-sim", ...category]);
  return {
    debug: (text) => logger.debug("{text}", { text }),
    info: (text) => logger.info("{text}", { text }),
    warn: (text) => logger.warn("{text}", { text }),
    error: (text) => logger.error("{text}", { text }),
  };
}

function formatRecord(record: LogRecord): string {
  const text = record.message.map((part) => typeof part === "string" ? part : String(part)).join("");
  return `${record.level === "warning" ? "warning" : record.level}: ${safeLine(text)}\n`;
}
