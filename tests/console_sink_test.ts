import assert from "node:assert/strict";
import { ExitCode, RunError } from "../lib/errors.ts";
import { guardedStdout, STDOUT_CLOSED } from "../lib/io.ts";
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

Deno.test("a stdout that fails is a RunError naming stdout and the cause, and counts only what was written", async (t) => {
  const failing = (error: Error, after = 0) => {
    let writes = 0;
    return new WritableStream<Uint8Array>({
      write() {
        if (writes++ >= after) throw error;
      },
    });
  };
  const cases: [string, WritableStream<Uint8Array>, string][] = [
    [
      "a broken pipe",
      guardedStdout(failing(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"), 1)),
      "stdout: broken pipe (its reader went away): 2 records written, the next 1 not",
    ],
    [
      "a full disk",
      guardedStdout(failing(Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" }), 1)),
      "stdout: no space left on device: 2 records written, the next 1 not",
    ],
    [
      "a closed descriptor",
      guardedStdout(failing(new Error("never")), { closed: true }),
      `${STDOUT_CLOSED}: 0 records written, the next 2 not`,
    ],
    [
      "a stream that is not guarded",
      failing(new Error("Broken pipe (os error 32)\nsecond line"), 1),
      "stdout: cannot write: Broken pipe (os error 32): 2 records written, the next 1 not",
    ],
  ];
  for (const [name, stream, message] of cases) {
    await t.step(name, async () => {
      const sink = new ConsoleSink(stream);
      if (!name.includes("closed")) await sink.write([record("t", "k", "{}"), record("t", "k", "{}")]);
      const batch = name.includes("closed")
        ? [record("t", "k", "{}"), record("t", "k", "{}")]
        : [record("t", "k", "{}")];
      await assert.rejects(sink.write(batch), (error: unknown) => {
        assert.ok(error instanceof RunError);
        assert.equal(error.exitCode, ExitCode.failure);
        assert.equal(error.message, message);
        return true;
      });
      assert.equal(sink.delivered, name.includes("closed") ? 0 : 2);
      await sink.close();
    });
  }
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
