/** Shared fakes and fixtures for the tests. */
import type { FactoryConfig, LineDefaults } from "../lib/config.ts";
import { resetLogging } from "../lib/log.ts";
import type { OutRecord } from "../lib/messages.ts";
import { buildPlant, type Plant } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import { Scheduler } from "../lib/scheduler.ts";
import { runSimulation, type SimEvent, type SimulationResult } from "../lib/simulation.ts";
import type { Sink } from "../lib/sinks/sink.ts";
import { main } from "../main.ts";

/** 2025-12-03T14:30:00.000Z: a fixed start for runs on virtual time. */
export const START_MS = Date.UTC(2025, 11, 3, 14, 30, 0, 0);

/** The sample config shipped with the project. */
export const SAMPLE_CONFIG: FactoryConfig = JSON.parse(
  await Deno.readTextFile(new URL("../factory_config.json", import.meta.url)),
);

/** A sink that keeps what it is given. */
export class MemorySink implements Sink {
  readonly name = "memory";
  readonly records: OutRecord[] = [];
  readonly pending = 0;
  closed = false;
  get delivered(): number {
    return this.records.length;
  }
  write(records: OutRecord[]): void {
    this.records.push(...records);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** The plant of `config` with `factoryCount` factories and `seed`. */
export function plantOf(config: FactoryConfig, { seed = 1, factoryCount = 3 } = {}): Plant {
  return buildPlant(config, { factoryCount, rng: new Rng(seed) }).plant;
}

/** Runs `plant` on virtual time and returns its events and the batches they came in. */
export async function runVirtual(
  plant: Plant,
  { seed = 1, signal, onBatch, defaults }: {
    seed?: number;
    signal?: AbortSignal;
    onBatch?: (events: SimEvent[]) => void;
    defaults?: LineDefaults;
  } = {},
): Promise<{ events: SimEvent[]; batches: SimEvent[][]; result: SimulationResult; scheduler: Scheduler }> {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const events: SimEvent[] = [];
  const batches: SimEvent[][] = [];
  const result = await runSimulation(plant, {
    scheduler,
    rng: new Rng(seed),
    signal,
    defaults,
    emit: (batch) => {
      batches.push(batch);
      events.push(...batch);
      onBatch?.(batch);
    },
  });
  return { events, batches, result, scheduler };
}

/** A writable stream that keeps what is written to it, as text. */
export function textCollector(): { stream: WritableStream<Uint8Array>; text: () => string } {
  const decoder = new TextDecoder();
  let text = "";
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      text += decoder.decode(chunk, { stream: true });
    },
  });
  return { stream, text: () => text };
}

/** Runs `main` in-process with `args`: its exit code, stdout and stderr (logging reset after). */
export async function runMain(
  args: string[],
  { signal, stdout = textCollector() }: { signal?: AbortSignal; stdout?: ReturnType<typeof textCollector> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stderr = "";
  try {
    const code = await main(args, { env: {}, stdout: stdout.stream, writeStderr: (line) => stderr += line, signal });
    return { code, stdout: stdout.text(), stderr };
  } finally {
    await resetLogging();
  }
}
