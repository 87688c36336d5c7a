import assert from "node:assert/strict";
import { RunError } from "../lib/errors.ts";
import { ConsoleSink } from "../lib/sinks/console.ts";
import { textCollector } from "./_helpers.ts";

const record = (topic: string, key: string, value: string) => ({ topic, key, value, timestampMs: 0 });

Deno.test("the console sink writes one JSON object a line, the value embedded", async () => {
  const out = textCollector();
  const sink = new ConsoleSink(out.stream);
  await sink.write([
    record("SENSOR_READINGS", "S1-1", '{"reading":1}'),
    record("SENSOR_HEARTBEAT", "S1-2", '{"a":"b"}'),
  ]);
  await sink.write([]);
  await sink.close();
  assert.equal(
    out.text(),
    '{"topic":"SENSOR_READINGS","key":"S1-1","value":{"reading":1}}\n' +
      '{"topic":"SENSOR_HEARTBEAT","key":"S1-2","value":{"a":"b"}}\n',
  );
  assert.equal(sink.delivered, 2);
  for (const line of out.text().trimEnd().split("\n")) assert.equal(typeof JSON.parse(line).value, "object");
});

Deno.test("a closed stdout is a RunError, not a crash", async () => {
  const stream = new WritableStream<Uint8Array>({
    write() {
      throw new Error("Broken pipe (os error 32)");
    },
  });
  const sink = new ConsoleSink(stream);
  await assert.rejects(sink.write([record("t", "k", "{}")]), (error: unknown) => {
    assert.ok(error instanceof RunError);
    assert.equal(error.message, "stdout was closed by its reader: Broken pipe (os error 32)");
    return true;
  });
  await sink.close();
});

Deno.test("records with headers show them between the key and the value", async () => {
  const out = textCollector();
  const sink = new ConsoleSink(out.stream);
  await sink.write([{
    ...record("R", "S1-1", '{"reading":1}'),
    headers: { "content-type": "application/json", fault: "stuck" },
  }]);
  await sink.close();
  assert.equal(
    out.text(),
    '{"topic":"R","key":"S1-1","headers":{"content-type":"application/json","fault":"stuck"},"value":{"reading":1}}\n',
  );
});
