import assert from "node:assert/strict";
import type { Producer } from "kafkajs";
import { PermissionError } from "../lib/errors.ts";
import { createKafkaClient } from "../lib/kafka/client.ts";
import { kafkaTransport } from "../lib/kafka/producer.ts";

/** A producer whose requests never settle: KafkaJS retrying a connection it may not open. */
const stuckProducer = {
  sendBatch: () => new Promise(() => {}),
  disconnect: () => Promise.resolve(),
} as unknown as Producer;

function transportWith(watchFatal: Parameters<typeof kafkaTransport>[1]["watchFatal"]) {
  return kafkaTransport(stuckProducer, {
    acks: -1,
    compression: 0,
    explain: () => ({ final: false, message: "" }),
    lastProblem: () => "",
    watchFatal,
    findWritten: () => Promise.resolve([]),
  });
}

const RECORD = { topic: "T", key: "S1-1", value: "{}", timestampMs: 0 };

Deno.test("a problem retrying cannot fix, logged while a request is out, ends that request (and later ones at once)", async () => {
  let raise: (error: PermissionError) => void = () => {};
  const listeners = new Set<(error: PermissionError) => void>();
  let raised: PermissionError | undefined;
  raise = (error) => {
    raised = error;
    for (const listener of listeners) listener(error);
  };
  const transport = transportWith((listener) => {
    if (raised) listener(raised);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  });
  const denied = new PermissionError("missing permission: network access to 127.0.0.1:19093");
  const sending = transport.send([RECORD]);
  setTimeout(() => raise(denied), 10);
  await assert.rejects(sending, (error) => error === denied);
  await assert.rejects(transport.send([RECORD]), (error) => error === denied);
});

Deno.test("the client's fatal problems reach every watcher, and one that comes late hears at once", () => {
  const client = createKafkaClient({
    clientId: "t",
    brokers: ["127.0.0.1:1"],
    security: { protocol: "PLAINTEXT" },
    connectTimeoutMs: 1_000,
  });
  const heard: string[] = [];
  const stop = client.watchFatal((error) => heard.push(`first: ${error.message}`));
  stop();
  client.watchFatal((error) => heard.push(`second: ${error.message}`));
  // The client's own log line for a refused permission, as KafkaJS writes it.
  const log = (client.kafka as unknown as { logger(): { error(message: string, extra: object): void } }).logger();
  log.error('Connection error: Requires net access to "127.0.0.1:19093"', {});
  client.watchFatal((error) => heard.push(`late: ${error.message}`));
  assert.deepEqual(heard, [
    "second: missing permission: network access to 127.0.0.1:19093 (a broker of the cluster): grant --allow-net=127.0.0.1:19093",
    "late: missing permission: network access to 127.0.0.1:19093 (a broker of the cluster): grant --allow-net=127.0.0.1:19093",
  ]);
});
