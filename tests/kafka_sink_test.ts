/** The Kafka sink's queue, batching, back-pressure and failure handling, against a fake producer on fake time. */
import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import type { Producer } from "kafkajs";
import { RunError } from "../lib/errors.ts";
import { resetLogging, setupLogging } from "../lib/log.ts";
import type { OutRecord } from "../lib/messages.ts";
import { KafkaSink } from "../lib/sinks/kafka.ts";

type SendBatch = {
  acks: number;
  topicMessages: { topic: string; messages: { key: string; value: string; timestamp: string }[] }[];
};

/** A producer whose requests the test acknowledges or fails by hand. */
class FakeProducer {
  readonly requests: SendBatch[] = [];
  readonly #replies: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  disconnected = false;
  sendBatch(request: SendBatch): Promise<void> {
    this.requests.push(request);
    return new Promise((resolve, reject) => this.#replies.push({ resolve, reject }));
  }
  acknowledge(): void {
    this.#replies.shift()!.resolve();
  }
  fail(error: unknown): void {
    this.#replies.shift()!.reject(error);
  }
  disconnect(): Promise<void> {
    this.disconnected = true;
    return Promise.resolve();
  }
}

function records(n: number, topic = "R", from = 0): OutRecord[] {
  return Array.from(
    { length: n },
    (_, i) => ({ topic, key: `S1-${(from + i) % 3}`, value: `{"i":${from + i}}`, timestampMs: from + i }),
  );
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("one request at a time; what arrives meanwhile goes out together in the next", async () => {
  const producer = new FakeProducer();
  const sink = new KafkaSink(producer as unknown as Producer);
  sink.write(records(2, "R"));
  sink.write(records(1, "H", 2));
  assert.equal(producer.requests.length, 1, "the first write starts a request at once");
  assert.deepEqual(producer.requests[0].topicMessages.map((t) => [t.topic, t.messages.length]), [["R", 2]]);
  assert.equal(producer.requests[0].acks, -1, "acks from all in-sync replicas");
  assert.deepEqual(producer.requests[0].topicMessages[0].messages[0], {
    key: "S1-0",
    value: '{"i":0}',
    timestamp: "0",
  });
  sink.write(records(2, "R", 3));
  assert.equal(sink.pending, 5);
  producer.acknowledge();
  await tick();
  assert.equal(producer.requests.length, 2);
  assert.deepEqual(producer.requests[1].topicMessages.map((t) => [t.topic, t.messages.map((m) => m.value)]), [
    ["H", ['{"i":2}']],
    ["R", ['{"i":3}', '{"i":4}']],
  ]);
  producer.acknowledge();
  await sink.close();
  assert.equal(sink.delivered, 5);
  assert.equal(sink.pending, 0);
  assert.ok(producer.disconnected);
});

Deno.test("a long queue holds the writer back until it drains", async () => {
  const producer = new FakeProducer();
  const sink = new KafkaSink(producer as unknown as Producer);
  assert.equal(sink.write(records(10)), undefined);
  const held = sink.write(records(60_000, "R", 10));
  assert.ok(held instanceof Promise, "back-pressure once 50,000 records wait");
  let released = false;
  held.then(() => released = true);
  for (let i = 0; i < 30 && !released; i++) {
    producer.acknowledge();
    await tick();
  }
  assert.ok(released, "released once the queue is short again");
  assert.ok(sink.pending < 10_000 + 2_000);
  assert.ok(producer.requests.every((r) => r.topicMessages[0].messages.length <= 2_000), "requests stay small");
  while (sink.pending > 0) {
    producer.acknowledge();
    await tick();
  }
  await sink.close();
  assert.equal(sink.delivered, 60_010);
  const values = producer.requests.flatMap((r) => r.topicMessages.flatMap((t) => t.messages.map((m) => m.value)));
  assert.deepEqual(values, records(60_010).map((r) => r.value), "in the order written");
});

Deno.test("a failed request fails the sink: later writes and close report it with the loss", async () => {
  const producer = new FakeProducer();
  const sink = new KafkaSink(producer as unknown as Producer);
  sink.write(records(3));
  sink.write(records(2, "R", 3));
  producer.fail(Object.assign(new Error("Broker: Topic authorization failed"), { type: "TOPIC_AUTHORIZATION_FAILED" }));
  await tick();
  assert.throws(() => sink.write(records(1)), RunError);
  await assert.rejects(sink.close(), (error: unknown) => {
    assert.ok(error instanceof RunError);
    assert.equal(
      error.message,
      "delivery to Kafka failed: Broker: Topic authorization failed (5 records not delivered)",
    );
    return true;
  });
});

Deno.test("a rejected timestamp names the topic setting to raise", async () => {
  const producer = new FakeProducer();
  const sink = new KafkaSink(producer as unknown as Producer);
  sink.write(records(1));
  const cause = Object.assign(new Error("The timestamp of the message is out of acceptable range"), {
    type: "INVALID_TIMESTAMP",
  });
  producer.fail(Object.assign(new Error("wrapped"), { cause }));
  await tick();
  await assert.rejects(sink.close(), /message\.timestamp\.after\.max\.ms.*\(1 records not delivered\)$/);
});

Deno.test("a slow acknowledgement is logged, and none within the delivery timeout fails the run", async () => {
  const logged: string[] = [];
  await setupLogging({ level: "info", write: (line) => logged.push(line) });
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  try {
    const producer = new FakeProducer();
    const sink = new KafkaSink(producer as unknown as Producer, {
      lastProblem: () => "connect ECONNREFUSED 127.0.0.1:9092",
    });
    sink.write(records(4));
    await clock.tickAsync(5_000);
    assert.deepEqual(logged, [
      "warning: Kafka has not acknowledged for 5 s (connect ECONNREFUSED 127.0.0.1:9092): 4 records waiting; " +
      "retrying until 120 s\n",
    ]);
    await clock.tickAsync(115_000);
    assert.deepEqual(
      logged.map((line) => /for (\d+) s/.exec(line)?.[1]),
      ["5", "35", "65", "95"],
      "after 5 s, then every 30 s until the timeout",
    );
    assert.equal(producer.requests.length, 1);
    await assert.rejects(sink.close(), (error: unknown) => {
      assert.ok(error instanceof RunError);
      assert.equal(
        error.message,
        "delivery to Kafka failed: no acknowledgement within 120 s: connect ECONNREFUSED 127.0.0.1:9092 " +
          "(4 records not delivered)",
      );
      return true;
    });
    assert.equal(clock.countTimers(), 0, "no timer is left behind");
  } finally {
    clock.uninstall();
    await resetLogging();
  }
});

Deno.test("an acknowledgement after a warning is logged as a recovery", async () => {
  const logged: string[] = [];
  await setupLogging({ level: "info", write: (line) => logged.push(line) });
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  try {
    const producer = new FakeProducer();
    const sink = new KafkaSink(producer as unknown as Producer);
    sink.write(records(1));
    await clock.tickAsync(12_000);
    producer.acknowledge();
    await clock.tickAsync(0);
    await sink.close();
    assert.equal(logged.at(-1), "info: Kafka acknowledges again after 12 s\n");
    assert.equal(sink.delivered, 1);
  } finally {
    clock.uninstall();
    await resetLogging();
  }
});
