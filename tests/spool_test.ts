/** The spool: a durable FIFO on disk, one process at a time. */
import assert from "node:assert/strict";
import { ExitCode, type RunError } from "../lib/errors.ts";
import type { OutRecord } from "../lib/messages.ts";
import { Spool } from "../lib/sinks/spool.ts";

function records(n: number, from = 0): OutRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    topic: (from + i) % 2 ? "H" : "R",
    key: `S1-${(from + i) % 3}`,
    value: `{"i":${from + i}}`,
    timestampMs: 1_700_000_000_000 + from + i,
    ...((from + i) % 3 ? { headers: { "content-type": "application/json" } } : {}),
  }));
}

function withDir(body: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "spool-test-" });
  try {
    body(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("records come back oldest first, exactly as they went in, across a reopen", () => {
  withDir((dir) => {
    const spool = Spool.open(`${dir}/nested/spool`, { maxBytes: 1 << 20 });
    spool.append(records(5));
    spool.append(records(5, 5));
    assert.equal(spool.count, 10);
    spool.close();
    const reopened = Spool.open(`${dir}/nested/spool`, { maxBytes: 1 << 20 });
    assert.equal(reopened.count, 10);
    const first = reopened.peek(4);
    assert.deepEqual(first.records, records(10).slice(0, 4));
    reopened.remove(first);
    assert.equal(reopened.count, 6);
    assert.deepEqual(reopened.peek(100).records, [...records(10)].slice(4));
    reopened.remove(reopened.peek(100));
    assert.equal(reopened.count, 0);
    assert.deepEqual(reopened.peek(10), { records: [], lastId: 0 });
    reopened.close();
  });
});

Deno.test("the spool is full at its byte bound and has room again once replayed", () => {
  withDir((dir) => {
    const spool = Spool.open(dir, { maxBytes: 256 * 1024 });
    assert.ok(!spool.full);
    while (!spool.full) spool.append(records(500));
    assert.ok(spool.bytes >= 256 * 1024);
    while (spool.count > 0) spool.remove(spool.peek(1_000));
    assert.ok(!spool.full, `${spool.bytes} bytes in use after replay`);
    spool.close();
  });
});

Deno.test("a second process cannot open a spool in use", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "spool-test-" });
  const spool = Spool.open(dir, { maxBytes: 1 << 20 });
  spool.append(records(1));
  try {
    const code = `
      import { Spool } from ${JSON.stringify(new URL("../lib/sinks/spool.ts", import.meta.url).href)};
      try { Spool.open(${JSON.stringify(dir)}, { maxBytes: 1 << 20 }); console.log("opened"); }
      catch (error) { console.log(error.constructor.name + ": " + error.message); }`;
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-prompt", "-A", code],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.match(
      new TextDecoder().decode(stdout),
      /^RunError: --spool-dir .* is in use by another factory-sim process \(.*spool\.db is locked\)$/m,
    );
  } finally {
    spool.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a spool dir that is a file is a one-line error", () => {
  withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.throws(() => Spool.open(`${dir}/file`, { maxBytes: 1 }), (error: RunError) => {
      assert.equal(error.exitCode, ExitCode.failure);
      assert.match(error.message, /^cannot use --spool-dir .*\/file: /);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  });
});

Deno.test("records put before the others come back first", () => {
  withDir((dir) => {
    const spool = Spool.open(dir, { maxBytes: 1 << 20 });
    spool.prepend(records(2));
    spool.append(records(2, 4));
    spool.prepend(records(2, 2).slice(0, 1));
    spool.prepend([]);
    assert.deepEqual(spool.peek(10).records.map((r) => r.value), [
      '{"i":2}',
      '{"i":0}',
      '{"i":1}',
      '{"i":4}',
      '{"i":5}',
    ]);
    assert.equal(spool.count, 5);
    spool.close();
  });
});
