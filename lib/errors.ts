/**
 * Exit codes and the errors that carry them. Each class of failure a user can cause has its own
 * code, so scripts and supervisors can tell them apart; the README and `--help` list them.
 */

/** Exit codes of the `factory-sim` process. */
export const ExitCode = {
  /** Every line finished and every record was delivered. */
  ok: 0,
  /** A runtime failure: Kafka required but unreachable, delivery failed, output closed. */
  failure: 1,
  /** Bad usage (flags) or a bad config file. */
  usage: 2,
  /** A Deno permission the run needs was not granted. */
  permission: 3,
  /** Stopped by SIGINT (128 + 2), after flushing what was produced. */
  sigint: 130,
  /** Stopped by SIGTERM (128 + 15), after flushing what was produced. */
  sigterm: 143,
} as const;

/** An error that ends the run with a one-line message (or several) and a given exit code. */
export class ExitError extends Error {
  readonly exitCode: number;
  readonly lines: string[];
  constructor(lines: string | string[], exitCode: number) {
    const all = typeof lines === "string" ? [lines] : lines;
    super(all.join("\n"));
    this.name = "ExitError";
    this.lines = all;
    this.exitCode = exitCode;
  }
}

/** Bad flags: exit 2. */
export class UsageError extends ExitError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = "UsageError";
  }
}

/** A config file that cannot be used: exit 2, with every problem on its own line. */
export class ConfigError extends ExitError {
  constructor(problems: string[]) {
    super(problems, ExitCode.usage);
    this.name = "ConfigError";
  }
}

/** A missing Deno permission: exit 3, naming the flag to grant. */
export class PermissionError extends ExitError {
  constructor(message: string) {
    super(message, ExitCode.permission);
    this.name = "PermissionError";
  }
}

/** A runtime failure such as an unreachable broker or a failed delivery: exit 1. */
export class RunError extends ExitError {
  constructor(message: string) {
    super(message, ExitCode.failure);
    this.name = "RunError";
  }
}

/** Whether `error` is Deno's refusal of an operation for lack of a permission. */
export function isPermissionDenial(error: unknown): error is Error {
  return error instanceof Deno.errors.NotCapable ||
    (error instanceof Error && /^Requires \w+ access/.test(error.message));
}

/**
 * Turns Deno's refusal (`Requires env access to "NODE_ENV", run again with the --allow-env flag`)
 * into a PermissionError naming the exact flag to grant (`--allow-env=NODE_ENV`).
 */
export function permissionError(error: Error): PermissionError {
  const first = describeError(error);
  const match = /^(Requires \w+ access(?: to "([^"]+)")?).*?(--allow-[\w-]+)/.exec(first);
  if (!match) return new PermissionError(`missing permission: ${first}`);
  const [, what, target, flag] = match;
  return new PermissionError(`missing permission: ${what}: grant ${target ? `${flag}=${target}` : flag}`);
}

/** The first line of an error's message (or of what was thrown): how one-line messages quote a cause. */
export function describeError(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0];
}

/**
 * An error that ends the program as an `ExitError`: itself; Deno's refusal of a permission: the
 * `PermissionError` naming the flag to grant; anything else: undefined (an unexpected failure).
 */
function asExitError(error: unknown): ExitError | undefined {
  if (error instanceof ExitError) return error;
  return isPermissionDenial(error) ? permissionError(error) : undefined;
}

/**
 * What the program prints for an error that ends it, a line each (without the "error: "), and its
 * exit code; `unexpected` when it is none of the failures a user can cause (a bug: the first line
 * of its message is printed as an unexpected failure, exit 1).
 */
export function errorReport(error: unknown): { lines: string[]; exitCode: number; unexpected: boolean } {
  const known = asExitError(error);
  if (known) return { lines: known.lines, exitCode: known.exitCode, unexpected: false };
  return { lines: [`unexpected failure: ${describeError(error)}`], exitCode: ExitCode.failure, unexpected: true };
}

/** The exit code an error leads to: its own for an `ExitError`, 3 for Deno's refusal of a permission, else 1. */
export function exitCodeOf(error: unknown): number {
  return asExitError(error)?.exitCode ?? ExitCode.failure;
}
