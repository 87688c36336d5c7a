/**
 * Every --compression codec end to end against the real broker: the same seeded backfill written
 * with each, the broker accepting the compressed batches (its log holds them, smaller than
 * uncompressed), kcat (librdkafka) reading back exactly what the uncompressed run wrote, in the
 * same partitions and order; the monitor reading topics compressed by factory-sim and by kcat;
 * and the in-doubt check (lib/kafka/doubt.ts) finding records in a compressed topic.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { installKafkaPatches } from "../lib/kafka/patches.ts";
import { COMPRESSIONS } from "../lib/kafka/settings.ts";
import type { OutRecord } from "../lib/messages.ts";
import type { Snapshot } from "../lib/monitor/state.ts";
import {
  BROKERS,
  collect,
  consumeAllText,
  type ConsumedText,
  ensureBroker,
  runCli,
  spawnCli,
  uniqueTopic,
  waitFor,
} from "./_kafka.ts";

// As the product does before KafkaJS loads (lib/kafka/load.ts); the Kafka layer is imported after.
installKafkaPatches();
const { createKafkaClient } = await import("../lib/kafka/client.ts");
const { findWritten } = await import("../lib/kafka/doubt.ts");
const { cachedKeyPartitioner } = await import("../lib/kafka/producer.ts");
const ROOT = new URL("..", import.meta.url).pathname;
const SAMPLE = `${ROOT}factory_config.json`;
const ADDED = ["zstd", "lz4", "snappy"] as const;

/** A record as kcat read it back, its value as written. */
type Landed = ConsumedText;

async function kcat(args: string[], input?: string): Promise<string> {
  const child = new Deno.Command("kcat", {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const { success, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  if (!success) throw new Error(`kcat ${args.join(" ")}: ${decoder.decode(stderr)}`);
  return decoder.decode(stdout);
}

/** Every record of `topic` as kcat prints it (`%s`: the value's bytes as written), by partition and offset. */
function landed(topic: string): Promise<Landed[]> {
  return consumeAllText(topic, BROKERS);
}

/** Bytes each topic's partitions hold in the broker's log, as the broker reports them (Kafka's LogDirsCommand). */
async function logBytes(topics: string[]): Promise<Map<string, number>> {
  const classpath = await new Deno.Command("bash", { args: [`${ROOT}bench/java_tools.sh`], stderr: "null" }).output();
  const { success, stdout, stderr } = await new Deno.Command("java", {
    args: [
      "-cp",
      new TextDecoder().decode(classpath.stdout).trim(),
      "org.apache.kafka.tools.LogDirsCommand",
      "--bootstrap-server",
      BROKERS,
      "--describe",
      "--topic-list",
      topics.join(","),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.ok(success, new TextDecoder().decode(stderr));
  const json = JSON.parse(text.split("\n").find((line) => line.startsWith("{"))!) as {
    brokers: { logDirs: { partitions: { partition: string; size: number }[] }[] }[];
  };
  const sizes = new Map<string, number>();
  for (const { partition, size } of json.brokers.flatMap((b) => b.logDirs).flatMap((d) => d.partitions)) {
    const topic = partition.replace(/-\d+$/, "");
    sizes.set(topic, (sizes.get(topic) ?? 0) + size);
  }
  return sizes;
}

/** Topics each codec's backfill wrote, made once for the tests of this file. */
const runs = new Map<string, { readings: string; heartbeats: string }>();

async function backfills(): Promise<typeof runs> {
  if (runs.size > 0) return runs;
  await ensureBroker();
  for (const compression of COMPRESSIONS) {
    const topics = {
      readings: uniqueTopic(`codec-${compression}-readings`),
      heartbeats: uniqueTopic(`codec-${compression}-heartbeats`),
    };
    const { code, stderr } = await runCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--config=${SAMPLE}`,
      "--factories=8",
      "--generate-lines",
      "--continuous",
      "--seed=14",
      "--backfill=2025-11-01T00:00:00Z..2025-11-01T00:10:00Z",
      `--compression=${compression}`,
      `--readings-topic=${topics.readings}`,
      `--heartbeat-topic=${topics.heartbeats}`,
    ]);
    assert.equal(code, ExitCode.ok, `${compression}: ${stderr}`);
    runs.set(compression, topics);
  }
  return runs;
}

Deno.test("every codec lands what an uncompressed run lands: kcat reads the same values, in the same partitions and order", async () => {
  const topics = await backfills();
  const plain = topics.get("none")!;
  const want = { readings: await landed(plain.readings), heartbeats: await landed(plain.heartbeats) };
  assert.ok(
    want.readings.length > 1_000 && want.heartbeats.length > 1_000,
    JSON.stringify([want.readings.length, want.heartbeats.length]),
  );
  for (const compression of COMPRESSIONS) {
    for (const kind of ["readings", "heartbeats"] as const) {
      const got = await landed(topics.get(compression)![kind]);
      assert.equal(got.length, want[kind].length, `${compression} ${kind}: every record`);
      const strip = ({ partition, offset, key, timestampMs, headers, value }: Landed) =>
        `${partition} ${offset} ${key} ${timestampMs} ${headers} ${value}`;
      // Same partition, same offset (so the same order, no gap, nothing twice), same bytes.
      assert.deepEqual(got.map(strip), want[kind].map(strip), `${compression} ${kind}`);
    }
  }
  // The broker holds compressed batches: each codec's topics take less room than uncompressed ones.
  const sizes = await logBytes([...topics.values()].flatMap(({ readings, heartbeats }) => [readings, heartbeats]));
  const bytes = (compression: string) =>
    sizes.get(topics.get(compression)!.readings)! + sizes.get(topics.get(compression)!.heartbeats)!;
  const report = COMPRESSIONS.map((c) => `${c} ${bytes(c)}`).join(", ");
  Deno.stderr.writeSync(new TextEncoder().encode(`[codecs] bytes in the broker's log: ${report}\n`));
  for (const compression of COMPRESSIONS.filter((c) => c !== "none")) {
    assert.ok(bytes(compression) < bytes("none") * 0.6, `${compression}: ${report}`);
  }
});

function snapshots(text: string): Snapshot[] {
  return text.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
    .filter((item) => item.type === "snapshot");
}

Deno.test("the monitor reads topics compressed by factory-sim and by kcat (librdkafka) with each codec", async () => {
  const topics = await backfills();
  const plain = topics.get("none")!;
  const readings = (await landed(plain.readings)).length;
  const heartbeats = await landed(plain.heartbeats);
  await Promise.all(ADDED.map(async (codec) => {
    // The heartbeats again, written by kcat with the same codec.
    const copy = uniqueTopic(`codec-${codec}-kcat`);
    await kcat(
      ["-P", "-b", BROKERS, "-t", copy, "-z", codec, "-K", "\t", "-X", "topic.partitioner=murmur2_random"],
      heartbeats.map(({ key, value }) => `${key}\t${value}\n`).join(""),
    );
    const monitor = spawnCli([
      "monitor",
      "--json",
      `--brokers=${BROKERS}`,
      `--readings-topic=${topics.get(codec)!.readings}`,
      `--heartbeat-topic=${copy}`,
      "--from-beginning",
      "--interval=200ms",
    ]);
    const out = collect(monitor.stdout);
    const err = collect(monitor.stderr);
    const counts = () => {
      const last = snapshots(out.current).at(-1);
      return [last?.topics[topics.get(codec)!.readings]?.received, last?.topics[copy]?.received];
    };
    try {
      await waitFor(() => counts()[0] === readings && counts()[1] === heartbeats.length, 30_000)
        .catch((error) => {
          throw new Error(`${codec}: ${counts()} of ${readings}, ${heartbeats.length}: ${err.current}`, {
            cause: error,
          });
        });
    } finally {
      monitor.kill("SIGINT");
      await monitor.status;
      await out.done;
    }
    assert.doesNotMatch(await err.done, /invalid|error/i, codec);
  }));
});

Deno.test("the in-doubt check finds records in topics written with each codec", async () => {
  const topics = await backfills();
  for (const codec of ADDED) {
    const topic = topics.get(codec)!.heartbeats;
    const written = (await landed(topic)).slice(-3);
    const records: OutRecord[] = written.map(({ key, value, timestampMs, headers }) => ({
      topic,
      key,
      value,
      timestampMs,
      headers: Object.fromEntries(headers.split(",").map((header) => header.split("="))),
    }));
    const never = { ...records[2], value: written[2].value.replace(/\}$/, ',"never":true}') };
    const { kafka } = createKafkaClient({
      clientId: "codecs-test",
      brokers: [BROKERS],
      security: { protocol: "PLAINTEXT" },
      connectTimeoutMs: 10_000,
    });
    const partitioner = cachedKeyPartitioner();
    const found = await findWritten(kafka, [...records, never], {
      clientId: "codecs-test",
      where: `Kafka at ${BROKERS}`,
      user: "this client",
      partitionOf: (topic, key, partitionMetadata) =>
        partitioner({ topic, partitionMetadata, message: { key, value: null } }),
    });
    assert.deepEqual(found, [true, true, true, false], codec);
  }
});
