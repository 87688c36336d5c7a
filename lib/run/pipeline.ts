/**
 * What a run (`run/command.ts`) and each of its workers (`run/shard_run.ts`) do alike: build the
 * plant its options describe, and hand each batch the simulation emits to the summary and the sink.
 */
import type { LoadedConfig } from "../config.ts";
import { raceDeadline } from "../deadline.ts";
import { toRecords, type ValueEncoder } from "../messages.ts";
import { buildPlant, type BuiltPlant, type Shard } from "../plant.ts";
import type { Rng } from "../random.ts";
import type { EmitBatch } from "../simulation.ts";
import type { Sink } from "../sinks/sink.ts";
import type { RunSummary } from "../summary.ts";
import type { RunOptions } from "./options.ts";

/** The plant of `options` (`--factories`, `--generate-lines`) from `loaded`, or its `shard`'s share. */
export function runPlant(
  options: Pick<RunOptions, "factories" | "config" | "generateLines" | "linesPerFactory">,
  loaded: Pick<LoadedConfig, "factories">,
  rng: Rng,
  shard: Shard | undefined,
): BuiltPlant {
  return buildPlant(loaded.factories, {
    factoryCount: options.factories,
    rng,
    file: options.config,
    generate: options.generateLines ? { linesPerFactory: options.linesPerFactory } : undefined,
    shard,
  });
}

/** Each batch counted in `summary`, turned into records by `encoder` and written to `sink`. */
export function emitInto(
  { summary, sink, topics, encoder, signal }: {
    summary: RunSummary;
    sink: Sink;
    topics: RunOptions["topics"];
    encoder: ValueEncoder;
    signal: AbortSignal | undefined;
  },
): EmitBatch {
  return (events) => {
    summary.add(events);
    const held = sink.write(toRecords(events, topics, encoder));
    // A sink holding the run back (a full spool while Kafka refuses) lets go at a stop signal:
    // it has taken the records, and the close flushes them or keeps them in the spool.
    return held && signal ? raceDeadline(held, undefined, { signal }).then(() => {}) : held;
  };
}
