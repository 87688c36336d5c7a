/**
 * `--workers N`: the factories split over N threads. Which worker runs which factory (with and
 * without `--shard`), the flag's refusals, the spool dirs kept by another number of workers, and
 * end to end against the real broker: the same records as one thread, read back with kcat, the
 * same summary, and a stop that reaches every worker (flushed, nothing lost).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode, RunError } from "../lib/errors.ts";
import type { OutRecord } from "../lib/messages.ts";
import { shardOf } from "../lib/plant.ts";
import { Spool } from "../lib/sinks/spool.ts";
import { spoolWorkers, workerOf, workerShard, workerSpoolDir } from "../lib/run/workers.ts";
import { collect, consumeAll, ensureBroker, runCli, spawnCli, uniqueTopics, waitFor } from "./_kafka.ts";

Deno.test("each factory runs in exactly one worker, the one whose shard holds it", () => {
  for (const shard of [undefined, { index: 1, count: 1 }, { index: 2, count: 3 }, { index: 3, count: 3 }]) {
    for (const count of [1, 2, 3, 5]) {
      for (let n = 1; n <= 60; n++) {
        if (shard && shardOf(n, shard.count) !== shard.index) continue;
        const w = workerOf(n, count, shard);
        assert.ok(w >= 1 && w <= count);
        const mine = workerShard(w, count, shard);
        assert.equal(shardOf(n, mine.count), mine.index, `F${n}, shard ${JSON.stringify(shard)}, ${count} workers`);
        for (let other = 1; other <= count; other++) {
          if (other === w) continue;
          const theirs = workerShard(other, count, shard);
          assert.notEqual(shardOf(n, theirs.count), theirs.index);
        }
      }
    }
  }
});

Deno.test("--workers: its range, --sink kafka, and no more workers than factories", async () => {
  const cases: [string[], RegExp][] = [
    [["--workers", "0"], /--workers must be an integer from 1 to 16/],
    [["--workers", "17", "--sink", "kafka"], /--workers must be an integer from 1 to 16/],
    [["--workers", "2"], /--workers 2 needs --sink kafka/],
    [["--workers", "2", "--sink", "console"], /--workers 2 needs --sink kafka/],
    [["--workers", "4", "--sink", "kafka"], /--workers must not exceed the factories this process simulates \(3\)/],
    [
      ["--workers", "4", "--sink", "kafka", "--factories", "8", "--shard", "2/3"],
      /--workers must not exceed the factories this process simulates \(3\)/,
    ],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runCli(args);
    assert.equal(code, ExitCode.usage, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
  }
});

/** A spool in `dir` keeping `records`. */
function keep(dir: string, records: OutRecord[]): void {
  const spool = Spool.open(dir, { maxBytes: 64 * 1024 * 1024 });
  spool.append(records);
  spool.close();
}

/** `n` records to `topic`, the i-th keyed `keyOf(i)`, timestamped from `fromMs` on. */
function records(
  n: number,
  { topic = "t", keyOf = (i: number) => `S1-${i}`, fromMs = 1_700_000_000_000 } = {},
): OutRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    topic,
    key: keyOf(i),
    value: `{"i":${i}}`,
    timestampMs: fromMs + i,
    headers: {},
  }));
}

Deno.test("a spool dir kept by another number of workers decides the run's", async () => {
  const dir = await Deno.makeTempDir();
  const options = { maxBytes: 64 * 1024 * 1024, kafkaOnly: true };
  try {
    assert.equal(spoolWorkers(join(dir, "none"), 3, options), 3, "no dir yet");
    assert.equal(spoolWorkers(dir, 2, options), 2, "an empty dir");
    // The run's own spools are left to its sink, which opens and checks them once: not opened here.
    const own = join(dir, "spool.db");
    await Deno.writeTextFile(own, "not a database yet");
    assert.equal(spoolWorkers(dir, 1, options), 1);
    assert.equal(await Deno.readTextFile(own), "not a database yet");
    await Deno.remove(own);
    keep(workerSpoolDir(dir, 2, 3), records(4));
    assert.equal(spoolWorkers(dir, 1, options), 3, "records of 3 workers: 3");
    assert.equal(spoolWorkers(dir, 3, options), 3);
    assert.throws(
      () => spoolWorkers(dir, 1, { ...options, kafkaOnly: false }),
      (error: unknown) =>
        error instanceof RunError && /holds 4 records kept by a run with 3 workers/.test(error.message),
    );
    keep(dir, records(1));
    assert.throws(
      () => spoolWorkers(dir, 3, options),
      (error: unknown) => error instanceof RunError && /records kept by runs with 1 and 3 workers/.test(error.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("records kept by two workers go out through two workers in a run without --workers", async () => {
  await ensureBroker();
  const dir = await Deno.makeTempDir();
  const topics = uniqueTopics("workers-kept");
  try {
    // What two workers kept: one record in each worker's spool, to the run's readings topic.
    for (const w of [1, 2]) {
      keep(
        workerSpoolDir(dir, w, 2),
        records(1, { topic: topics.readings, keyOf: () => `kept-${w}`, fromMs: Date.now() - 1000 }),
      );
    }
    const { code, stderr } = await runCli(
      ["--sink", "kafka", "--seed", "3", "--speed", "100", "--duration", "10s", ...topics.flags],
      { spoolDir: dir },
    );
    assert.equal(code, ExitCode.ok, stderr);
    assert.match(stderr, /holds 2 records kept by a run with 2 workers: this run uses 2 too/);
    assert.match(stderr, /worker 2\/2: /);
    const kept = (await consumeAll(topics.readings)).filter((record) => record.key.startsWith("kept-"));
    assert.deepEqual(kept.map((record) => record.key).sort(), ["kept-1", "kept-2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two workers write the records of one thread, and the same summary", async () => {
  await ensureBroker();
  const dir = await Deno.makeTempDir();
  const backfill = ["--backfill", "2025-11-01T00:00:00Z..2025-11-01T00:05:00Z", "--continuous"];
  const plant = ["--factories", "7", "--generate-lines", "--lines-per-factory", "2", "--seed", "11"];
  const labelsFlag = (topic: string) => [`--labels-topic=${topic}`];
  try {
    const runs = [];
    for (const workers of [1, 3]) {
      const topics = uniqueTopics(`workers-${workers}`);
      const labels = `${topics.readings}-labels`;
      const summary = join(dir, `summary-${workers}.json`);
      const { code, stderr } = await runCli(
        [
          "--sink",
          "kafka",
          ...plant,
          ...backfill,
          ...topics.flags,
          ...labelsFlag(labels),
          "--summary-json",
          summary,
          "--workers",
          String(workers),
        ],
        { flags: ["-A"] },
      );
      assert.equal(code, ExitCode.ok, stderr);
      // The topics are prepared once for the run, by its first worker.
      assert.equal(stderr.match(/created topics/g)?.length, 1, stderr);
      assert.doesNotMatch(stderr, /exists? now/);
      const read = async (topic: string) =>
        (await consumeAll(topic)).map((record) => `${record.key} ${JSON.stringify(record.value)}`).sort();
      const document = JSON.parse(await Deno.readTextFile(summary));
      runs.push({
        readings: await read(topics.readings),
        heartbeats: await read(topics.heartbeats),
        document: { ...document, wallSeconds: 0, topics: Object.values(document.topics) },
      });
    }
    const [one, three] = runs;
    assert.ok(one.readings.length > 100 && one.heartbeats.length > 1000, "a plant with records");
    assert.deepEqual(three.readings, one.readings);
    assert.deepEqual(three.heartbeats, one.heartbeats);
    assert.deepEqual(three.document, one.document);
    assert.equal(
      three.document.sink.delivered,
      three.readings.length + three.heartbeats.length + three.document.labels,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stop reaches every worker: each flushes, nothing produced is lost", async () => {
  await ensureBroker();
  const dir = await Deno.makeTempDir();
  const topics = uniqueTopics("workers-stop");
  const summary = join(dir, "summary.json");
  try {
    const child = spawnCli(
      [
        "--sink",
        "kafka",
        "--factories",
        "6",
        "--generate-lines",
        "--continuous",
        "--speed",
        "20",
        "--workers",
        "2",
        "--summary-json",
        summary,
        ...topics.flags,
      ],
      { flags: ["-A"] },
    );
    const stderr = collect(child.stderr);
    await waitFor(() => (stderr.current.match(/connected to Kafka/g) ?? []).length === 2, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stoppedAt = performance.now();
    child.kill("SIGTERM");
    const { code } = await child.status;
    const text = await stderr.done;
    assert.equal(code, ExitCode.sigterm, text);
    assert.match(text, /; continuous; 2 workers\n/);
    assert.ok(performance.now() - stoppedAt < 5_000, "within the 5 s a stop may take");
    const document = JSON.parse(await Deno.readTextFile(summary));
    assert.equal(document.outcome, "stopped");
    const readings = await consumeAll(topics.readings);
    const heartbeats = await consumeAll(topics.heartbeats);
    assert.ok(heartbeats.length > 0);
    assert.equal(readings.length, document.readings);
    assert.equal(heartbeats.length, document.heartbeats);
    assert.equal(document.sink.delivered, readings.length + heartbeats.length);
    await child.stdout.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workers that cannot reach Kafka: one line saying so, exit 1, nothing left running", async () => {
  const { code, stderr } = await runCli(["--sink", "kafka", "--brokers", "127.0.0.1:1", "--workers", "2"]);
  assert.equal(code, ExitCode.failure, stderr);
  const errors = stderr.split("\n").filter((line) => line.startsWith("error: "));
  assert.deepEqual(errors, [
    "error: Kafka at 127.0.0.1:1 is unreachable (gave up after 10 s): connect ECONNREFUSED 127.0.0.1:1",
  ]);
});
