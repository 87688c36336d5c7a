/**
 * What every benchmark worker (a `deno run` subprocess of `bench/main.ts`) shares: quiet logging,
 * numeric flags, and one JSON result line on stdout for the orchestrator.
 */
import process from "node:process";
import { setupLogging } from "../lib/log.ts";

const encoder = new TextEncoder();

/** Writes `line` to stderr (the workers' logs). */
export function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line));
}

/** Writes the worker's result: one JSON line on stdout. */
export function writeResult(result: unknown): void {
  Deno.stdout.writeSync(encoder.encode(`${JSON.stringify(result)}\n`));
}

/** The product's warnings and errors go to stderr; its info lines and KafkaJS's timer warnings do not. */
export async function quietLogging(): Promise<void> {
  process.removeAllListeners("warning");
  process.on("warning", () => {});
  await setupLogging({ level: "warning", write: writeStderr });
}

/** The number a worker's flag holds, or `fallback` when it is not given. */
export function numberFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`--${name} needs a number: got "${text}"`);
  return value;
}
