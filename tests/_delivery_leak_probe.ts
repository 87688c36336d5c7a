/**
 * Run by `delivery_test.ts` with `--v8-flags=--expose-gc`: sends 300 requests through a
 * `DeliverySink` (a spool, and a transport that acknowledges at once), then collects garbage and
 * prints how many of the requests' record arrays are still alive. Delivered records must not be.
 */
import type { OutRecord } from "../lib/messages.ts";
import { DeliverySink, type Transport } from "../lib/sinks/delivery.ts";
import { Spool } from "../lib/sinks/spool.ts";

const alive: WeakRef<object>[] = [];
const transport: Transport = {
  send(records: readonly OutRecord[]) {
    alive.push(new WeakRef(records));
    return Promise.resolve();
  },
  explain: (error) => ({ final: true, message: String(error) }),
  lastProblem: () => "",
  findWritten: (records) => Promise.resolve(records.map(() => false)),
  close: () => Promise.resolve(),
};
const dir = Deno.makeTempDirSync({ prefix: "delivery-leak-" });
const sink = new DeliverySink(transport, {
  lingerMs: 0,
  batchRecords: 10,
  spool: Spool.open(dir, { maxBytes: 1 << 26 }),
});
for (let i = 0; i < 3_000; i++) {
  await sink.write([{ topic: "T", key: "k", value: "x".repeat(100) + i, timestampMs: i }]);
  if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 0));
}
await new Promise((resolve) => setTimeout(resolve, 50));
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
gc();
await new Promise((resolve) => setTimeout(resolve, 0));
gc();
const sent = alive.length;
const retained = alive.filter((ref) => ref.deref() !== undefined).length;
Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify({ sent, retained, delivered: sink.delivered })}\n`));
await sink.close();
Deno.removeSync(dir, { recursive: true });
