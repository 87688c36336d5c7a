import assert from "node:assert/strict";
import type { Producer } from "kafkajs";
import { PermissionError } from "../lib/errors.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import { BROKERS, ensureBroker, uniqueTopic } from "./_kafka.ts";

// Through loadKafka, as the product loads it: KafkaJS patched before it is first imported.
const { kafkaTransport, connectProducer } = await loadKafka("producer");
const { createKafkaClient } = await import("../lib/kafka/client.ts");

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

Deno.test({
  name: "findWritten against a real broker: the records a request wrote are found in their partitions, the others not",
  fn: async () => {
    await ensureBroker();
    const topic = uniqueTopic("doubt");
    const clientId = `test-doubt-${crypto.randomUUID().slice(0, 8)}`;
    const transport = await connectProducer({
      brokers: [BROKERS],
      topics: [topic],
      connectTimeoutMs: 10_000,
      clientId,
      partitions: 3,
    });
    const admin = (await loadKafka("admin")).createKafkaAdmin({ clientId: "test-doubt-setup", brokers: [BROKERS] });
    try {
      const now = Date.now();
      // Six sensors (keys over the three partitions), two records each; and an older record first,
      // before the earliest timestamp in doubt (it is not looked at, and not looked for).
      const record = (i: number, headers: Record<string, string> = { "message-type": "t.v1" }) => ({
        topic,
        key: `S${i % 6}`,
        value: `{"i":${i}}`,
        timestampMs: now + i,
        headers,
      });
      const older = { ...record(100), timestampMs: now - 60_000 };
      await transport.send([older]);
      const written = Array.from({ length: 12 }, (_, i) => record(i));
      await transport.send(written);
      const partitions = await admin.fetchTopicOffsets(topic);
      assert.ok(partitions.filter((p) => Number(p.high) > 0).length >= 2, "the records span partitions");

      const notWritten = [record(12), record(13), record(14)];
      const otherHeader = record(3, { "message-type": "t.v2" });
      const twice = record(5);
      const asked = [...written, ...notWritten, otherHeader, twice];
      const startedMs = performance.now();
      const found = await transport.findWritten(asked);
      const tookMs = Math.round(performance.now() - startedMs);
      Deno.stderr.writeSync(new TextEncoder().encode(`[doubt] ${asked.length} records checked in ${tookMs} ms\n`));
      assert.deepEqual(found, [
        ...written.map(() => true),
        ...notWritten.map(() => false),
        false, // same key, timestamp and value, another header: not the same record
        false, // the same record asked about twice, held once: found once
      ]);
      await admin.connect();
      const { groups } = await admin.listGroups();
      assert.deepEqual(groups.filter((g) => g.groupId.startsWith(`${clientId}-doubt-`)), [], "the group is deleted");
    } finally {
      await admin.disconnect();
      await transport.close();
    }
  },
});
