/**
 * The independent reader of records written in the Confluent wire format: tests/_sr_reader.py,
 * confluent-kafka for Python whose deserializers fetch each writer schema from the registry by
 * the id in the record. Its Python (a venv of pinned packages) comes from `ensure_python_reader`
 * in scripts/_install.sh, the step scripts/test.sh runs, so a test started on its own gets it too.
 */
import { BROKERS } from "./_kafka.ts";
import type { SchemaType } from "./_registry.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** A record as the reader decoded it; `error` instead of `value` when it could not. */
export interface RegistryRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  headers: Record<string, string | null>;
  timestampMs: number;
  /** The schema id in the record's framing (null when it has none). */
  schemaId: number | null;
  schemaType: SchemaType | null;
  /**
   * The value as the format's deserializer gave it, JSON-safe: Avro timestamp-millis as RFC 3339
   * with ms and Z; Protobuf through MessageToDict (int64 as strings, Timestamp as RFC 3339).
   */
  value?: unknown;
  error?: string;
}

let python: Promise<string> | undefined;

/** The reader's Python, installed when missing. */
export function readerPython(): Promise<string> {
  python ??= (async () => {
    const { success, stdout, stderr } = await new Deno.Command("bash", {
      args: ["-c", "set -euo pipefail; source scripts/_install.sh; ensure_python_reader; python_reader_path"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    if (!success) {
      throw new Error(`the Schema Registry reader could not be installed: ${decoder.decode(stderr).trim()}`);
    }
    return decoder.decode(stdout).trim();
  })();
  return python;
}

async function runReader(args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(await readerPython(), {
    args: [`${ROOT}tests/_sr_reader.py`, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { success, code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  if (!success) throw new Error(`_sr_reader.py ${args[0]} failed (exit ${code}): ${decoder.decode(stderr).trim()}`);
  return decoder.decode(stdout);
}

/**
 * Every record of `topics` from the beginning, decoded through the registry at `registry` (a ccompat
 * base URL): read until `expected` records in all, or until none came for `idleMs` (default 5 s).
 * Sorted by topic, partition and offset.
 */
export async function readThroughRegistry(
  { brokers = BROKERS, registry, topics, expected, idleMs = 5000 }: {
    brokers?: string;
    registry: string;
    topics: string[];
    expected?: number;
    idleMs?: number;
  },
): Promise<RegistryRecord[]> {
  const args = ["read", "--brokers", brokers, "--registry", registry, "--idle-ms", String(idleMs)];
  for (const topic of topics) args.push("--topic", topic);
  if (expected !== undefined) args.push("--expected", String(expected));
  const records = (await runReader(args)).split("\n").filter(Boolean).map((line) => JSON.parse(line) as RegistryRecord);
  return records.sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset
  );
}

/** A record for `produceThroughRegistry`: its value encoded with the latest schema of `<topic>-value`. */
export interface RecordToProduce {
  topic: string;
  format: SchemaType;
  /** The schema text (Avro JSON, JSON Schema, or the .proto). */
  schema: string;
  key: string;
  /** The value's fields (for Protobuf, in the proto3 JSON mapping). */
  value: Record<string, unknown>;
}

/** Writes `records` with confluent-kafka's own SerializingProducer and serializers (a reference writer). */
export async function produceThroughRegistry(
  { brokers = BROKERS, registry, records }: { brokers?: string; registry: string; records: RecordToProduce[] },
): Promise<void> {
  await runReader(["produce", "--brokers", brokers, "--registry", registry], JSON.stringify({ records }));
}
