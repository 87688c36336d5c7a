/**
 * The delivery pipeline: linger batches, one request in flight, back-pressure, spooling while
 * Kafka does not acknowledge and replay after, against a fake transport on fake time.
 */
import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import { ExitCode, PermissionError, RunError } from "../lib/errors.ts";
import { resetLogging, setupLogging } from "../lib/log.ts";
import type { OutRecord } from "../lib/messages.ts";
import { type DeliveryOptions, DeliverySink, MAX_REQUEST_BYTES, type Transport } from "../lib/sinks/delivery.ts";
import { Spool, SpoolWriteError } from "../lib/sinks/spool.ts";
import { capSpoolPages } from "./_spool_full.ts";

/** A record by what it is (what `findWritten` compares). */
const identity = (r: OutRecord) => JSON.stringify([r.topic, r.key, r.timestampMs, r.value, r.headers ?? {}]);

/** What the fake Kafka holds: the records of the requests it wrote (acknowledged or not). */
class FakeKafka {
  readonly written: string[] = [];
  write(records: readonly OutRecord[]): void {
    this.written.push(...records.map(identity));
  }
}

/** A transport whose requests the test acknowledges or fails by hand. */
class FakeTransport implements Transport {
  readonly requests: OutRecord[][] = [];
  readonly #replies: { records: readonly OutRecord[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  closed = false;
  problem = "";
  /** The records `findWritten` was asked about, per call. */
  readonly checks: OutRecord[][] = [];
  /** Set to make `findWritten` fail with it; "hang" to make it never answer. */
  checkFailure: unknown;
  constructor(readonly kafka = new FakeKafka()) {}
  send(records: readonly OutRecord[]): Promise<void> {
    this.requests.push([...records]);
    return new Promise((resolve, reject) => this.#replies.push({ records, resolve, reject }));
  }
  get waiting(): number {
    return this.#replies.length;
  }
  acknowledge(): void {
    const reply = this.#replies.shift()!;
    this.kafka.write(reply.records);
    reply.resolve();
  }
  /** Kafka writes the oldest request in flight, and its acknowledgement is lost (it stays in flight). */
  writeWithoutAck(): void {
    this.kafka.write(this.#replies[0].records);
  }
  fail(error: unknown): void {
    this.#replies.shift()!.reject(error);
  }
  findWritten(records: readonly OutRecord[]): Promise<boolean[]> {
    this.checks.push([...records]);
    if (this.checkFailure === "hang") return new Promise(() => {});
    if (this.checkFailure !== undefined) return Promise.reject(this.checkFailure);
    const held = [...this.kafka.written];
    return Promise.resolve(records.map((record) => {
      const at = held.indexOf(identity(record));
      if (at >= 0) held.splice(at, 1);
      return at >= 0;
    }));
  }
  explain(error: unknown) {
    const final = (error as { final?: boolean }).final === true;
    const exitError = error instanceof PermissionError ? error : undefined;
    return { final: final || exitError !== undefined, message: String((error as Error).message), exitError };
  }
  lastProblem(): string {
    return this.problem;
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function records(n: number, topic = "R", from = 0): OutRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    topic,
    key: `S1-${(from + i) % 3}`,
    value: `{"i":${from + i}}`,
    timestampMs: from + i,
    headers: { "message-type": "t.v1" },
  }));
}

const values = (batch: readonly OutRecord[]) => batch.map((r) => String(r.value));

/** Lets the promise chains that an acknowledgement starts run to their end, without moving time. */
async function settle(clock: FakeTimers.InstalledClock): Promise<void> {
  for (let i = 0; i < 10; i++) await clock.tickAsync(0);
}

/** Runs `body` on fake time with logs collected, and a temporary spool dir. */
async function withFakeTime(
  body: (t: { clock: FakeTimers.InstalledClock; logs: string[]; dir: string }) => Promise<void>,
): Promise<void> {
  const logs: string[] = [];
  await setupLogging({ level: "info", write: (line) => logs.push(line) });
  const dir = Deno.makeTempDirSync({ prefix: "delivery-test-" });
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    await body({ clock, logs, dir });
  } finally {
    clock.uninstall();
    await resetLogging();
    Deno.removeSync(dir, { recursive: true });
  }
}

function sinkOf(transport: FakeTransport, options: DeliveryOptions = {}): DeliverySink {
  return new DeliverySink(transport, { lingerMs: 5, batchRecords: 100, ...options });
}

Deno.test("records linger until a batch fills or the linger time passes, then go in one request", async () => {
  await withFakeTime(async ({ clock }) => {
    const transport = new FakeTransport();
    const sink = sinkOf(transport);
    sink.write(records(2));
    sink.write(records(1, "H", 2));
    assert.equal(transport.requests.length, 0, "nothing is sent before the linger time");
    await clock.tickAsync(5);
    assert.equal(transport.requests.length, 1);
    assert.deepEqual(values(transport.requests[0]), ['{"i":0}', '{"i":1}', '{"i":2}']);
    assert.deepEqual(transport.requests[0][0].headers, { "message-type": "t.v1" }, "headers travel with records");
    sink.write(records(150, "R", 3));
    assert.equal(transport.requests.length, 1, "one request in flight at a time");
    transport.acknowledge();
    await settle(clock);
    assert.equal(transport.requests.length, 2, "a full batch goes at once after the acknowledgement");
    assert.equal(transport.requests[1].length, 100, "at most --batch-records of a topic per request");
    transport.acknowledge();
    await settle(clock);
    await clock.tickAsync(5);
    assert.equal(transport.requests[2].length, 50);
    transport.acknowledge();
    await sink.close();
    assert.equal(sink.delivered, 153);
    assert.ok(transport.closed);
  });
});

Deno.test("a full batch of one topic does not wait for the linger time", async () => {
  await withFakeTime(async () => {
    const transport = new FakeTransport();
    const sink = sinkOf(transport, { lingerMs: 1_000 });
    sink.write(records(100));
    assert.equal(transport.requests.length, 1);
    transport.acknowledge();
    await sink.close();
  });
});

Deno.test("without a spool, a long queue holds the writer back until it drains", async () => {
  await withFakeTime(async ({ clock }) => {
    const transport = new FakeTransport();
    const sink = sinkOf(transport, { batchRecords: 10_000, highWaterRecords: 500, lowWaterRecords: 100 });
    assert.equal(sink.write(records(10)), undefined);
    await clock.tickAsync(5);
    const held = sink.write(records(600, "R", 10));
    assert.ok(held instanceof Promise, "back-pressure at the high-water mark");
    let released = false;
    held.then(() => released = true);
    transport.acknowledge();
    await settle(clock);
    await clock.tickAsync(5);
    assert.ok(released, "released once the queue is below the low-water mark");
    transport.acknowledge();
    await sink.close();
    assert.equal(sink.delivered, 610);
  });
});

Deno.test("while Kafka does not acknowledge, records go to the spool and are replayed in order after", async () => {
  await withFakeTime(async ({ clock, logs, dir }) => {
    const transport = new FakeTransport();
    transport.problem = "connect ECONNREFUSED 127.0.0.1:9092";
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    const sink = sinkOf(transport, { spool, spoolAfterMs: 2_000 });
    sink.write(records(3));
    await clock.tickAsync(5);
    assert.equal(transport.requests.length, 1, "the first request goes out, then Kafka goes quiet");
    sink.write(records(4, "R", 3));
    await clock.tickAsync(2_000);
    assert.ok(sink.stalled);
    assert.ok(
      logs.some((l) => /^warning: Kafka has not acknowledged for 2 s \(connect ECONNREFUSED/.test(l)),
      logs.join(""),
    );
    assert.equal(spool.count, 7, "the request in flight and what waited in memory are in the spool");
    assert.deepEqual(values(spool.peek(100).records), values(records(7)), "the request in flight first");
    for (let i = 0; i < 10; i++) {
      sink.write(records(1, "R", 7 + i));
      await clock.tickAsync(5);
    }
    assert.equal(spool.count, 17, "each linger window is committed to the spool");
    assert.equal(transport.requests.length, 1, "nothing else is sent while the request waits");
    transport.acknowledge();
    await clock.tickAsync(0);
    assert.ok(!sink.stalled);
    assert.ok(logs.some((l) => /^info: Kafka acknowledges again after \d+ s: replaying 14 spooled records/.test(l)));
    assert.equal(transport.requests.length, 2);
    assert.deepEqual(values(transport.requests[1]), values(records(14, "R", 3)), "replayed oldest first");
    sink.write(records(1, "R", 17));
    transport.acknowledge();
    await clock.tickAsync(10);
    assert.equal(spool.count, 0);
    assert.deepEqual(values(transport.requests[2]), ['{"i":17}'], "new records after the spooled ones");
    transport.acknowledge();
    await sink.close();
    assert.equal(sink.delivered, 18);
    assert.equal(sink.spooled, 14);
    assert.equal(sink.replayed, 14);
    assert.ok(logs.some((l) => /^info: the spool is empty: 14 records replayed/.test(l)));
  });
});

Deno.test("a failed request is sent again, with the same records, until Kafka takes it", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const transport = new FakeTransport();
    const sink = sinkOf(transport, { spool: Spool.open(dir, { maxBytes: 1 << 30 }), retryBackoffMs: 1_000 });
    sink.write(records(3));
    await clock.tickAsync(5);
    transport.fail(new Error("connection closed"));
    await clock.tickAsync(999);
    assert.equal(transport.requests.length, 1);
    await clock.tickAsync(1);
    assert.equal(transport.requests.length, 2);
    assert.deepEqual(transport.requests[1], transport.requests[0]);
    transport.acknowledge();
    await sink.close();
    assert.equal(sink.delivered, 3);
  });
});

Deno.test("parking keeps the request in flight and the waiting records in the spool for the next run", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const transport = new FakeTransport();
    const sink = sinkOf(transport, { spool: Spool.open(dir, { maxBytes: 1 << 30 }), spoolAfterMs: 60_000 });
    sink.write(records(3));
    await clock.tickAsync(5);
    sink.write(records(2, "R", 3));
    assert.equal(await sink.park(), 5);
    assert.ok(transport.closed);
    assert.throws(() => sink.write(records(1)), RunError);

    const next = new FakeTransport();
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    assert.equal(spool.count, 5);
    assert.equal(spool.inDoubt, 3, "the request in flight was sent: in doubt");
    const resumed = sinkOf(next, { spool });
    await settle(clock);
    assert.deepEqual(next.checks.map(values), [values(records(3))], "Kafka is asked about it first");
    assert.deepEqual(values(next.requests[0]), values(records(5)), "the next run sends them first, in order");
    resumed.write(records(1, "R", 5));
    next.acknowledge();
    await clock.tickAsync(10);
    next.acknowledge();
    await resumed.close();
    assert.equal(resumed.delivered, 6);
    assert.equal(resumed.replayed, 5);
  });
});

Deno.test("a final error keeps every unsent record, including the batch that failed, and names the spool", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const transport = new FakeTransport();
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    const sink = sinkOf(transport, { spool });
    sink.write(records(3));
    await clock.tickAsync(5);
    sink.write(records(2, "R", 3));
    transport.fail(Object.assign(new Error("denied writing (TOPIC_AUTHORIZATION_FAILED)"), { final: true }));
    await clock.tickAsync(0);
    assert.throws(() => sink.write(records(4, "R", 5)), (error: RunError) => {
      assert.equal(error.exitCode, ExitCode.failure);
      assert.match(error.message, /^delivery to Kafka failed: denied writing \(TOPIC_AUTHORIZATION_FAILED\); /);
      assert.match(
        error.message,
        /9 unsent records kept in .*spool\.db: the next run sends them first/,
        "counted with this batch",
      );
      return true;
    });
    await assert.rejects(sink.close(), RunError);
    const reopened = Spool.open(dir, { maxBytes: 1 << 30 });
    assert.deepEqual(values(reopened.peek(100).records), values(records(9)), "the last batch too, in order");
    reopened.close();
  });
});

Deno.test("a permission refused by Deno ends the run with its own exit code", async () => {
  await withFakeTime(async ({ clock }) => {
    const transport = new FakeTransport();
    const sink = sinkOf(transport);
    sink.write(records(1));
    await clock.tickAsync(5);
    transport.fail(new PermissionError("missing permission: network access to 10.0.0.2:9092"));
    await clock.tickAsync(0);
    await assert.rejects(sink.close(), (error: PermissionError) => error.exitCode === ExitCode.permission);
  });
});

Deno.test("without a spool, a request not acknowledged within the delivery timeout fails the run", async () => {
  await withFakeTime(async ({ clock }) => {
    const transport = new FakeTransport();
    const sink = sinkOf(transport, { deliveryTimeoutMs: 120_000 });
    sink.write(records(3));
    await clock.tickAsync(5);
    sink.write(records(2, "R", 3));
    await clock.tickAsync(120_000);
    assert.throws(() => sink.write(records(1)), /no acknowledgement within 120 s \(5 records not delivered\)/);
  });
});

Deno.test("with a spool, the end of a run waits for Kafka up to the delivery timeout, then keeps the rest", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const transport = new FakeTransport();
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    const sink = sinkOf(transport, { spool, deliveryTimeoutMs: 120_000 });
    sink.write(records(3));
    const closing = sink.close();
    closing.catch(() => {});
    await clock.tickAsync(60_000);
    assert.equal(spool.count, 3, "the request in flight is on disk while Kafka does not acknowledge it");
    await clock.tickAsync(60_000);
    await assert.rejects(closing, /Kafka has not acknowledged for 120 s at the end of the run: 3 unsent records kept/);
  });
});

Deno.test("a full spool holds the writer back until replay makes room; nothing is dropped", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const transport = new FakeTransport();
    const spool = Spool.open(dir, { maxBytes: 64 * 1024 });
    const sink = sinkOf(transport, { spool, spoolAfterMs: 10, batchRecords: 10_000 });
    sink.write(records(1));
    await clock.tickAsync(20);
    assert.ok(sink.stalled);
    let held: void | Promise<void> = undefined;
    let written = 1;
    while (!(held instanceof Promise)) {
      held = sink.write(records(200, "R", written));
      written += 200;
      await clock.tickAsync(5);
    }
    assert.ok(spool.full);
    let released = false;
    held.then(() => released = true);
    await clock.tickAsync(10_000);
    assert.ok(!released, "still held while Kafka is down");
    transport.acknowledge();
    for (let i = 0; i < 20 && spool.count > 0; i++) {
      await clock.tickAsync(0);
      if (transport.waiting > 0) transport.acknowledge();
    }
    await clock.tickAsync(0);
    assert.ok(released);
    await sink.close();
    assert.equal(sink.delivered, written, "every record delivered");
  });
});

Deno.test("the request in flight when Kafka went away is kept before what was spooled after it", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const transport = new FakeTransport();
    const sink = sinkOf(transport, { spool: Spool.open(dir, { maxBytes: 1 << 30 }), spoolAfterMs: 2_000 });
    sink.write(records(3));
    await clock.tickAsync(5);
    await clock.tickAsync(2_000);
    sink.write(records(2, "R", 3));
    await clock.tickAsync(5);
    sink.write(records(1, "R", 5));
    await sink.park();
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    assert.deepEqual(values(spool.peek(100).records), values(records(6)), "oldest first, as produced");
    spool.close();
  });
});

Deno.test("while Kafka is down, only the current linger window is not yet on disk", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const transport = new FakeTransport();
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    const sink = sinkOf(transport, { spool, spoolAfterMs: 2_000, lingerMs: 5 });
    sink.write(records(3));
    await clock.tickAsync(5);
    await clock.tickAsync(2_000);
    assert.deepEqual(values(spool.peek(100).records), values(records(3)), "the request in flight is on disk");
    sink.write(records(2, "R", 3));
    await clock.tickAsync(5);
    sink.write(records(1, "R", 5));
    assert.deepEqual(
      values(spool.peek(100).records),
      values(records(5)),
      "all but the last linger window is committed: a crash now loses one record",
    );
    transport.acknowledge();
    await clock.tickAsync(0);
    assert.deepEqual(values(transport.requests[1]), values(records(2, "R", 3)), "acknowledged after all: not resent");
    await clock.tickAsync(5);
    transport.acknowledge();
    await clock.tickAsync(0);
    assert.deepEqual(values(transport.requests[2]), values(records(1, "R", 5)));
    transport.acknowledge();
    await sink.close();
    assert.equal(sink.delivered, 6);
    assert.equal(sink.spooled, 3, "the request acknowledged after all does not count as spooled");
    assert.equal(sink.replayed, 3);
  });
});

Deno.test("a request stays under the broker's default size limit whatever --batch-records says, from memory and the spool", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const transport = new FakeTransport();
    const spool = Spool.open(dir, { maxBytes: 64 * 1024 * 1024 });
    // 2,500 records of about 1 KB: 2.5 MB, within one --batch-records of 100,000.
    const big = (n: number, from: number) =>
      records(n, "R", from).map((record) => ({ ...record, value: String(record.value).padEnd(1_000, " ") }));
    spool.append(big(1_200, 0));
    const sink = sinkOf(transport, { batchRecords: 100_000, spool });
    sink.write(big(1_300, 1_200));
    const sent: string[] = [];
    while (sent.length < 2_500) {
      await settle(clock);
      await clock.tickAsync(5);
      const request = transport.requests.at(-1)!;
      const bytes = request.reduce((sum, record) => sum + record.key.length + record.value.length, 0);
      assert.ok(bytes <= MAX_REQUEST_BYTES, `a request of ${bytes} bytes`);
      sent.push(...values(request));
      transport.acknowledge();
    }
    assert.deepEqual(sent.map((value) => JSON.parse(value).i), Array.from({ length: 2_500 }, (_, i) => i));
    assert.ok(transport.requests.length >= 3);
    await sink.close();
  });
});

Deno.test("delivered requests are not kept alive: memory stays flat however long the sink runs", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "-A",
      "--v8-flags=--expose-gc",
      new URL("./_delivery_leak_probe.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const { sent, retained, delivered } = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
  assert.equal(delivered, 3_000);
  assert.ok(sent >= 100, `${sent} requests`);
  // At most the last request or two (still referenced by the pipeline's state), never all of them.
  assert.ok(retained <= 2, `${retained} of ${sent} delivered requests still in memory`);
});

Deno.test("a full disk ends the run with one line; what the spool holds stays intact for the next run", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const uncap = capSpoolPages(48);
    let written = 0;
    let failure: RunError | undefined;
    const transport = new FakeTransport();
    const sink = sinkOf(transport, { spool: Spool.open(dir, { maxBytes: 1 << 30 }), spoolAfterMs: 2_000 });
    try {
      for (let i = 0; i < 1_000 && !failure; i++) {
        try {
          await sink.write(records(50, "R", written));
        } catch (error) {
          failure = error as RunError;
        }
        written += 50;
        await clock.tickAsync(5);
      }
    } finally {
      uncap();
    }
    assert.ok(failure, "the run ends");
    assert.equal(failure.exitCode, ExitCode.failure);
    const line =
      /^the disk holding the spool (.*) is full \(database or disk is full\): (\d+) records kept in it, the next run sends them first; (\d+) records not kept$/
        .exec(failure.message);
    assert.ok(line, failure.message);
    assert.equal(line[1], `${dir}/spool.db`);
    const [kept, notKept] = [Number(line[2]), Number(line[3])];
    assert.ok(kept > 0 && notKept > 0, failure.message);
    assert.equal(kept + notKept, written, "every record counted: kept or not");
    await assert.rejects(sink.close(), (error: RunError) => error.message === failure.message);

    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    assert.equal(spool.count, kept);
    const next = new FakeTransport();
    const resumed = sinkOf(next, { spool, batchRecords: 100_000 });
    await settle(clock);
    assert.deepEqual(values(next.requests[0]), values(records(kept)), "the oldest, intact and in order");
    next.acknowledge();
    await resumed.close();
    assert.equal(resumed.replayed, kept);
  });
});

/**
 * A run that stops while Kafka is down: its first request (records 0-2, keys S1-0, S1-1, S1-2) is
 * in flight when Kafka goes quiet and Kafka writes `written(request)` of it without the
 * acknowledgement reaching the run; records 3-6 are spooled after it; then a stop signal parks it.
 */
async function stopWithRequestInDoubt(
  clock: FakeTimers.InstalledClock,
  dir: string,
  kafka: FakeKafka,
  written: (request: readonly OutRecord[]) => readonly OutRecord[],
): Promise<void> {
  const transport = new FakeTransport(kafka);
  const sink = sinkOf(transport, { spool: Spool.open(dir, { maxBytes: 1 << 30 }), spoolAfterMs: 2_000 });
  sink.write(records(3));
  await clock.tickAsync(5);
  kafka.write(written(transport.requests[0]));
  await clock.tickAsync(2_000);
  sink.write(records(4, "R", 3));
  await clock.tickAsync(5);
  assert.equal(await sink.park(), 7);
}

/** Each record Kafka holds, once: the number of them held more than once. */
const duplicated = (kafka: FakeKafka) => kafka.written.length - new Set(kafka.written).size;

Deno.test("records in doubt that Kafka holds already are removed from the spool, not sent again", async () => {
  await withFakeTime(async ({ clock, logs, dir }) => {
    const kafka = new FakeKafka();
    await stopWithRequestInDoubt(clock, dir, kafka, (request) => request);
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    assert.equal(spool.count, 7);
    assert.equal(spool.inDoubt, 3, "the request that was in flight is in doubt, the rest is not");
    const next = new FakeTransport(kafka);
    const sink = sinkOf(next, { spool });
    assert.deepEqual(next.checks.map(values), [values(records(3))], "Kafka is asked about the records in doubt");
    assert.equal(next.requests.length, 0, "nothing is sent before Kafka has answered");
    await settle(clock);
    assert.deepEqual(values(next.requests[0]), values(records(4, "R", 3)), "only the records Kafka did not hold");
    next.acknowledge();
    await sink.close();
    assert.ok(
      logs.some((l) => /^info: 3 records in doubt were already in Kafka: not sent again \(checked in \d/.test(l)),
      logs.join(""),
    );
    assert.equal(sink.alreadyInKafka, 3);
    assert.equal(sink.spoolCounts.alreadyInKafka, 3);
    assert.equal(sink.replayed, 4);
    assert.equal(duplicated(kafka), 0);
    assert.equal(kafka.written.length, 7, "every record once");
  });
});

Deno.test("records in doubt that Kafka does not hold are sent first, in order, marked in doubt while they are", async () => {
  await withFakeTime(async ({ clock, logs, dir }) => {
    const kafka = new FakeKafka();
    await stopWithRequestInDoubt(clock, dir, kafka, () => []);
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    const next = new FakeTransport(kafka);
    const sink = sinkOf(next, { spool });
    await settle(clock);
    assert.ok(
      logs.some((l) => /^info: none of the 3 records in doubt was in Kafka: sending them first \(checked in/.test(l)),
      logs.join(""),
    );
    assert.deepEqual(values(next.requests[0]), values(records(7)), "oldest first, as produced");
    assert.equal(spool.inDoubt, 7, "the batch sent from the spool is in doubt until it is removed");
    next.acknowledge();
    await sink.close();
    assert.equal(sink.alreadyInKafka, 0);
    assert.equal(sink.replayed, 7);
    assert.deepEqual(kafka.written, records(7).map(identity), "every record once, in order");
  });
});

Deno.test("records in doubt partly written (some partitions of the request): only the rest are sent", async () => {
  await withFakeTime(async ({ clock, logs, dir }) => {
    const kafka = new FakeKafka();
    // A request's batch for a partition is written whole or not at all: here the partitions of
    // S1-0 and S1-2 were written, the one of S1-1 was not.
    await stopWithRequestInDoubt(clock, dir, kafka, (request) => request.filter((r) => r.key !== "S1-1"));
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    const next = new FakeTransport(kafka);
    const sink = sinkOf(next, { spool });
    await settle(clock);
    assert.ok(
      logs.some((l) =>
        /^info: 2 records in doubt were already in Kafka: not sent again; the other 1 were not, sent first/.test(l)
      ),
      logs.join(""),
    );
    assert.deepEqual(values(next.requests[0]), ['{"i":1}', ...values(records(4, "R", 3))]);
    next.acknowledge();
    await sink.close();
    assert.equal(sink.alreadyInKafka, 2);
    assert.equal(duplicated(kafka), 0);
    assert.equal(kafka.written.length, 7);
  });
});

Deno.test("when Kafka cannot be read for the check, one warning, and the records in doubt are sent (never lost)", async () => {
  await withFakeTime(async ({ clock, logs, dir }) => {
    const kafka = new FakeKafka();
    await stopWithRequestInDoubt(clock, dir, kafka, (request) => request);
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    const next = new FakeTransport(kafka);
    next.checkFailure = new RunError(
      'Kafka at 127.0.0.1:9092 denied this client reading "R" (TOPIC_AUTHORIZATION_FAILED): grant it READ on them',
    );
    const before = logs.length;
    const sink = sinkOf(next, { spool });
    await settle(clock);
    const warnings = logs.slice(before).filter((l) => l.startsWith("warning:"));
    assert.deepEqual(warnings, [
      "warning: cannot check whether Kafka holds the 3 records in doubt in the spool (sent by the last run, " +
      'acknowledgement not seen): Kafka at 127.0.0.1:9092 denied this client reading "R" ' +
      "(TOPIC_AUTHORIZATION_FAILED): grant it READ on them; sending them again (some may be delivered twice)\n",
    ]);
    assert.deepEqual(values(next.requests[0]), values(records(7)));
    next.acknowledge();
    await sink.close();
    assert.equal(spool.count, 0);
    assert.equal(new Set(kafka.written).size, 7, "nothing lost");
    assert.equal(duplicated(kafka), 3, "at least once: the request in doubt twice");
  });
});

Deno.test("a stop while Kafka is being asked keeps the records in doubt, still marked, for the next run", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const kafka = new FakeKafka();
    await stopWithRequestInDoubt(clock, dir, kafka, (request) => request);
    const next = new FakeTransport(kafka);
    next.checkFailure = "hang";
    const sink = sinkOf(next, { spool: Spool.open(dir, { maxBytes: 1 << 30 }) });
    sink.write(records(1, "R", 7));
    await clock.tickAsync(5);
    assert.equal(await sink.park(), 8);
    assert.equal(next.requests.length, 0);
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    assert.equal(spool.inDoubt, 3);
    assert.deepEqual(values(spool.peek(100).records), values(records(8)));
    spool.close();
  });
});

Deno.test("a crash between Kafka's acknowledgement of a replayed batch and its removal: the next run does not send it again", async () => {
  await withFakeTime(async ({ clock, dir }) => {
    const earlier = Spool.open(dir, { maxBytes: 1 << 30 });
    earlier.append(records(5));
    earlier.close();
    const kafka = new FakeKafka();
    const spool = Spool.open(dir, { maxBytes: 1 << 30 });
    assert.equal(spool.inDoubt, 0, "spooled, never sent: not in doubt");
    // The process dies after the acknowledgement, before the batch leaves the spool.
    spool.remove = () => {
      throw new SpoolWriteError("killed between the acknowledgement and the removal");
    };
    const transport = new FakeTransport(kafka);
    const sink = sinkOf(transport, { spool });
    assert.deepEqual(values(transport.requests[0]), values(records(5)));
    transport.acknowledge();
    await settle(clock);
    await assert.rejects(sink.close(), /killed between the acknowledgement and the removal/);

    const reopened = Spool.open(dir, { maxBytes: 1 << 30 });
    assert.equal(reopened.count, 5);
    assert.equal(reopened.inDoubt, 5, "marked in doubt before it was sent");
    const next = new FakeTransport(kafka);
    const resumed = sinkOf(next, { spool: reopened });
    await settle(clock);
    assert.equal(reopened.count, 0, "found in Kafka, removed");
    await resumed.close();
    assert.equal(next.requests.length, 0, "not sent again");
    assert.equal(resumed.alreadyInKafka, 5);
    assert.deepEqual(kafka.written, records(5).map(identity), "each record once");
  });
});
