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
 * What the program prints for an error that ends it, a line each (without the "error: "): its own
 * lines for an `ExitError`, the flag to grant for Deno's refusal of a permission, else the first
 * line of its message as an unexpected failure. `exitCodeOf` gives the exit code that goes with it.
 */
export function errorLines(error: unknown): string[] {
  if (error instanceof ExitError) return error.lines;
  if (isPermissionDenial(error)) return [permissionError(error).message];
  return [`unexpected failure: ${describeError(error)}`];
}

/** The exit code an error leads to: its own for an `ExitError`, 3 for Deno's refusal of a permission, else 1. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ExitError) return error.exitCode;
  return isPermissionDenial(error) ? ExitCode.permission : ExitCode.failure;
}
