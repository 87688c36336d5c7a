/**
 * Several producers (`--producers`, lib/sinks/lanes.ts): records split by key into lanes, each a
 * delivery pipeline of its own over fake transports; the lanes' spool files in a spool dir, and a
 * dir's records kept by a run with another number of producers.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { RunError } from "../lib/errors.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import type { OutRecord } from "../lib/messages.ts";
import { parseCommand } from "../lib/cli.ts";
import { DeliverySink, type Transport } from "../lib/sinks/delivery.ts";
import { laneSpoolFile, LanesSink, openLaneSpools } from "../lib/sinks/lanes.ts";
import { Spool } from "../lib/sinks/spool.ts";

/** A transport that acknowledges each request when the test says so (or at once), keeping what it wrote. */
class LaneTransport implements Transport {
  readonly written: OutRecord[] = [];
  readonly #waiting: { records: readonly OutRecord[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  inFlightMax = 0;
  failWith: unknown;
  constructor(readonly autoAck = true) {}
  send(records: readonly OutRecord[]): Promise<void> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    if (this.autoAck) {
      this.written.push(...records);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ records, resolve, reject });
      this.inFlightMax = Math.max(this.inFlightMax, this.#waiting.length);
    });
  }
  get waiting(): number {
    return this.#waiting.length;
  }
  acknowledge(): void {
    const reply = this.#waiting.shift()!;
    this.written.push(...reply.records);
    reply.resolve();
  }
  explain(error: unknown) {
    return { final: (error as { final?: boolean }).final === true, message: String((error as Error).message) };
  }
  lastProblem(): string {
    return "";
  }
  findWritten(records: readonly OutRecord[]): Promise<boolean[]> {
    return Promise.resolve(records.map(() => false));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const record = (key: string, n: number): OutRecord => ({
  topic: n % 2 === 0 ? "readings" : "heartbeats",
  key,
  value: JSON.stringify({ key, n }),
  timestampMs: 1_700_000_000_000 + n,
});

/** Records of `sensors` keys, `rounds` each, interleaved as a plant emits them. */
function stream(sensors: number, rounds: number): OutRecord[][] {
  let n = 0;
  return Array.from({ length: rounds }, () => Array.from({ length: sensors }, (_, s) => record(`S${s}`, n++)));
}

const laneOfKey = (lanes: number) => (key: string) => Number(key.slice(1)) % lanes;

Deno.test("records go to the lane of their key, each key's records in order, each once", async () => {
  const transports = [new LaneTransport(), new LaneTransport(), new LaneTransport()];
  const sink = new LanesSink(transports.map((t) => new DeliverySink(t, { lingerMs: 0 })), laneOfKey(3));
  const batches = stream(30, 50);
  for (const batch of batches) await sink.write(batch);
  await sink.close();
  assert.equal(sink.delivered, 30 * 50);
  assert.equal(sink.pending, 0);
  for (const [lane, transport] of transports.entries()) {
    assert.ok(transport.written.length > 0, `lane ${lane} sent something`);
    assert.ok(transport.written.every((r) => laneOfKey(3)(r.key) === lane), `lane ${lane} holds only its keys`);
  }
  const all = transports.flatMap((t) => t.written);
  assert.equal(new Set(all.map((r) => r.value)).size, all.length, "no record twice");
  for (let s = 0; s < 30; s++) {
    const ns = all.filter((r) => r.key === `S${s}`).map((r) => JSON.parse(r.value as string).n);
    assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `S${s} in order`);
    assert.equal(ns.length, 50);
  }
});

Deno.test("each lane has its own request in flight: lanes send at once, one request each", async () => {
  const transports = [new LaneTransport(false), new LaneTransport(false)];
  const sink = new LanesSink(transports.map((t) => new DeliverySink(t, { lingerMs: 0 })), laneOfKey(2));
  for (const batch of stream(4, 3)) await sink.write(batch);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(transports.map((t) => t.waiting), [1, 1], "both lanes in flight");
  const closing = sink.close();
  while (transports.some((t) => t.waiting > 0)) {
    for (const t of transports) if (t.waiting > 0) t.acknowledge();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await closing;
  assert.deepEqual(transports.map((t) => t.inFlightMax), [1, 1]);
  assert.equal(sink.delivered, 12);
});

Deno.test("a lane that fails for good: the other lanes still get their records, then the run ends on it", async () => {
  const transports = [new LaneTransport(), new LaneTransport()];
  transports[1].failWith = Object.assign(new Error("denied"), { final: true });
  const sink = new LanesSink(transports.map((t) => new DeliverySink(t, { lingerMs: 0 })), laneOfKey(2));
  await sink.write(stream(2, 1)[0]);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.throws(() => sink.write(stream(2, 1)[0]), /delivery to Kafka failed: denied/);
  await assert.rejects(sink.close(), /denied/);
  assert.ok(transports[0].written.length >= 1, "the healthy lane delivered");
});

Deno.test("the lanes' counts add up; the observer reaches every lane", async () => {
  const transports = [new LaneTransport(), new LaneTransport()];
  const sink = new LanesSink(transports.map((t) => new DeliverySink(t, { lingerMs: 0 })), laneOfKey(2));
  let observed = 0;
  sink.observer = (records) => observed += records.length;
  for (const batch of stream(10, 4)) await sink.write(batch);
  await sink.close();
  assert.equal(observed, 40);
  assert.deepEqual(sink.spoolCounts, { spooled: 0, replayed: 0, alreadyInKafka: 0 });
  assert.equal(sink.lanes, 2);
});

Deno.test("a key's lane is its partition modulo the lanes when they divide the partitions (murmur2)", async () => {
  const { keyLanes, cachedKeyPartitioner } = await loadKafka("producer");
  const partitioner = cachedKeyPartitioner();
  const metadata = Array.from({ length: 6 }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));
  for (const lanes of [1, 2, 3, 6]) {
    const laneOf = keyLanes(lanes);
    for (let s = 0; s < 500; s++) {
      const key = `S${s}-${s % 5}`;
      const partition = partitioner({ topic: "t", partitionMetadata: metadata, message: { key, value: null } });
      assert.equal(laneOf(key), partition % lanes, `${key} with ${lanes} lanes`);
    }
  }
});

Deno.test("--producers: 1 by default, 1-16", () => {
  const producers = (...args: string[]) => {
    const command = parseCommand(["--sink=kafka", ...args]);
    assert.equal(command.kind, "run");
    return command.kind === "run" ? command.options.producer.producers : undefined;
  };
  assert.equal(producers(), 1);
  assert.equal(producers("--producers=4"), 4);
  assert.throws(() => producers("--producers=0"), /--producers/);
  assert.throws(() => producers("--producers=17"), /--producers/);
});

const spoolOptions = { maxBytes: 8 * 1024 * 1024, warn: () => {} };

function withDir(body: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "lanes-" });
  try {
    body(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("one spool file a lane: spool.db for one producer, spool-IofN.db for several", () => {
  assert.equal(laneSpoolFile(0, 1), "spool.db");
  assert.equal(laneSpoolFile(2, 4), "spool-3of4.db");
  withDir((dir) => {
    const spools = openLaneSpools(dir, 3, spoolOptions);
    assert.deepEqual(spools.map((s) => s.path.split("/").at(-1)), ["spool-1of3.db", "spool-2of3.db", "spool-3of3.db"]);
    assert.ok(spools.every((s) => s.maxBytes === Math.ceil(spoolOptions.maxBytes / 3)), "the bound shared");
    for (const spool of spools) spool.close();
  });
});

Deno.test("records kept by a run with other producers go out through their lanes: that number is used", () => {
  withDir((dir) => {
    const earlier = openLaneSpools(dir, 2, spoolOptions);
    earlier[1].append([record("S1", 1), record("S3", 3)]);
    for (const spool of earlier) spool.close();
    const spools = openLaneSpools(dir, 3, spoolOptions);
    assert.equal(spools.length, 2, "the earlier run's two lanes");
    assert.deepEqual(spools.map((s) => s.count), [0, 2]);
    for (const spool of spools) spool.close();
    // Once they are empty, the files of two lanes are removed and --producers applies.
    const drained = openLaneSpools(dir, 2, spoolOptions);
    drained[1].remove(drained[1].peek(10, Infinity));
    for (const spool of drained) spool.close();
    const now = openLaneSpools(dir, 3, spoolOptions);
    assert.equal(now.length, 3);
    for (const spool of now) spool.close();
    assert.ok(!existsSync(`${dir}/spool-1of2.db`) && !existsSync(`${dir}/spool-2of2.db`), "old lanes removed");
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.endsWith(".db")).sort(),
      ["spool-1of3.db", "spool-2of3.db", "spool-3of3.db"],
    );
  });
});

Deno.test("a spool.db of a single-producer run is sent by one producer, whatever --producers says", () => {
  withDir((dir) => {
    const single = Spool.open(dir, spoolOptions);
    single.append([record("S1", 1)]);
    single.close();
    const spools = openLaneSpools(dir, 4, spoolOptions);
    assert.equal(spools.length, 1);
    assert.equal(spools[0].count, 1);
    for (const spool of spools) spool.close();
  });
});

Deno.test("records of runs with two different numbers of producers in one dir: one line naming --spool-dir", () => {
  withDir((dir) => {
    for (const lanes of [2, 3]) {
      const spools = openLaneSpools(dir, lanes, spoolOptions);
      spools[0].append([record("S0", lanes)]);
      for (const spool of spools) spool.close();
      // Make the next set look like a run that did not adopt the first (files written by hand).
      if (lanes === 2) { for (const name of readdirSync(dir)) Deno.renameSync(`${dir}/${name}`, `${dir}/x-${name}`); }
    }
    for (const name of readdirSync(dir)) {
      if (name.startsWith("x-")) Deno.renameSync(`${dir}/${name}`, `${dir}/${name.slice(2)}`);
    }
    // Whether or not one of the sets is this run's own.
    for (const producers of [1, 2]) {
      assert.throws(
        () => openLaneSpools(dir, producers, spoolOptions),
        (error: unknown) =>
          error instanceof RunError &&
          /^--spool-dir .* holds records kept by runs with 2 and 3 producers/.test(error.message),
      );
    }
    assert.throws(
      () => openLaneSpools(dir, 1, spoolOptions),
      (error: unknown) =>
        error instanceof RunError &&
        /^--spool-dir .* holds records kept by runs with 2 and 3 producers/.test(error.message),
    );
    // Nothing was left open: the files can be opened again.
    Spool.open(dir, { ...spoolOptions, file: "spool-1of2.db" }).close();
  });
});
