/**
 * What the process gives a command: its output streams, terminal, clocks, environment and stop
 * signal. Only `main.ts` fills it from the real process; tests hand in their own.
 */
import { SECURITY_ENV, type SecurityEnv } from "./security.ts";

/** The environment variables factory-sim reads itself (KafkaJS reads a few of its own: see deno.json). */
export const PROGRAM_ENV = ["KAFKA_BROKERS", "NO_COLOR", ...SECURITY_ENV] as const;

/** Those variables, as read (unset or not granted: undefined). */
export type ProgramEnv = { KAFKA_BROKERS?: string; NO_COLOR?: string } & SecurityEnv;

/** The process state the commands work with, injectable for tests. */
export interface ProcessIo {
  env: ProgramEnv;
  /** Data: records of the console sink, the monitor's table or JSON lines, `--help`, `--version`, `validate`'s verdict. */
  stdout: WritableStream<Uint8Array>;
  /** Logs, one line a call. */
  writeStderr: (line: string) => void;
  /** Whether stdout is a terminal: the monitor's table is then redrawn in place, and a run's live status stays off it. */
  stdoutIsTerminal?: () => boolean;
  /**
   * Whether stderr is a terminal (default: not): a live status is drawn there unless --quiet, or
   * records go to stdout and stdout is a terminal too.
   */
  stderrIsTerminal?: () => boolean;
  /** The terminal's size (default 80x24). */
  consoleSize?: () => { columns: number; rows: number };
  /** Aborted (with the signal's name as reason) when the command must stop. */
  signal?: AbortSignal;
  /** Checks a connection to `host:port` is allowed; throws `PermissionError` when it is not. */
  checkNet?: (hostPort: string) => void;
  /** The wall clock, epoch milliseconds (default `Date.now`): where a live run and `--backfill 7d` start from. */
  now?: () => number;
}

/** Writes `text` to `stdout` (a closed stdout rejects). */
export async function writeText(stdout: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = stdout.getWriter();
  try {
    await writer.write(new TextEncoder().encode(text));
  } finally {
    writer.releaseLock();
  }
}
