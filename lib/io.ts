/**
 * What the process gives a command: its output streams, terminal, clocks, environment and stop
 * signal. Only `main.ts` fills it from the real process; tests hand in their own.
 */
import { describeError, RunError } from "./errors.ts";
import { REGISTRY_ENV, type RegistryEnv } from "./formats/access.ts";
import { SECURITY_ENV, type SecurityEnv } from "./security.ts";
import { shown } from "./text.ts";

/** The environment variables factory-sim reads itself (KafkaJS reads a few of its own: see deno.json). */
export const PROGRAM_ENV = ["KAFKA_BROKERS", "NO_COLOR", ...SECURITY_ENV, ...REGISTRY_ENV] as const;

/** Those variables, as read (unset or not granted: undefined). */
export type ProgramEnv = { KAFKA_BROKERS?: string; NO_COLOR?: string } & SecurityEnv & RegistryEnv;

/** The process state the commands work with, injectable for tests. */
export interface ProcessIo {
  env: ProgramEnv;
  /** Data: records of the console sink, the monitor's table or JSON lines, `--help`, `--version`, `validate`'s verdict. */
  stdout: WritableStream<Uint8Array>;
  /** Logs, one line a call. */
  writeStderr: (line: string) => void;
  /**
   * Whether stdout is /dev/null (default: not). Also what a stdout closed at start (`>&-`) looks like
   * where the process may not read /proc to tell the two apart: a console run says its records are
   * discarded.
   */
  stdoutIsNull?: () => boolean;
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

/**
 * What went wrong writing to stdout, as one line naming it and the cause: a broken pipe (its reader
 * went away), a full disk, a closed or bad descriptor, or Deno's own message.
 */
export function stdoutProblem(error: unknown): string {
  const code = errorCode(error);
  if (pipeBroken(error)) return "stdout: broken pipe (its reader went away)";
  if (code === "ENOSPC") return "stdout: no space left on device";
  if (code === "EDQUOT") return "stdout: disk quota exceeded";
  if (error instanceof Deno.errors.BadResource || code === "EBADF") return STDOUT_CLOSED;
  if (code === "EIO") return "stdout: input/output error (its terminal went away)";
  return `stdout: cannot write: ${shown(describeError(error))}`;
}

/** The line of a stdout that is closed (the process started with `>&-`). */
export const STDOUT_CLOSED = "stdout: closed (bad file descriptor)";

/** A stdout failure: exit 1, one line naming stdout and the cause. */
export class StdoutError extends RunError {
  readonly brokenPipe: boolean;
  constructor(message: string, { brokenPipe = false }: { brokenPipe?: boolean } = {}) {
    super(message);
    this.name = "StdoutError";
    this.brokenPipe = brokenPipe;
  }
}

/**
 * Whether stdout was closed when the process started. The runtime puts /dev/null, opened read and
 * write, in place of a closed standard descriptor (a shell's `>/dev/null` opens it write only), so
 * that is what a closed stdout looks like from inside: `link` is what /proc/self/fd/1 points to,
 * `fdinfo` the text of /proc/self/fdinfo/1 (Linux; elsewhere the caller passes undefined).
 */
export function closedAtStart(link: string | undefined, fdinfo: string | undefined): boolean {
  if (link !== "/dev/null" || fdinfo === undefined) return false;
  const flags = /^flags:\s*([0-7]+)/m.exec(fdinfo);
  // O_ACCMODE is 3: 0 read only, 1 write only, 2 read and write.
  return flags !== null && (parseInt(flags[1], 8) & 3) === 2;
}

/**
 * `target` with every failure to write turned into a `StdoutError` (exit 1, one line: what
 * `stdoutProblem` says); when `closed`, every write fails as a closed descriptor, without writing.
 */
export function guardedStdout(
  target: WritableStream<Uint8Array>,
  { closed = false }: { closed?: boolean } = {},
): WritableStream<Uint8Array> {
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      if (closed) throw new StdoutError(STDOUT_CLOSED);
      writer ??= target.getWriter();
      try {
        await writer.write(chunk);
      } catch (error) {
        throw new StdoutError(stdoutProblem(error), { brokenPipe: pipeBroken(error) });
      }
    },
  });
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

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

function pipeBroken(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || errorCode(error) === "EPIPE";
}
