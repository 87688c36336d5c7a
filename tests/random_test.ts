import assert from "node:assert/strict";
import { Rng } from "../lib/random.ts";

function take(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.next());
}

Deno.test("a seeded stream repeats exactly", () => {
  assert.deepEqual(take(new Rng(42, "line/F1/0"), 100), take(new Rng(42, "line/F1/0"), 100));
});

Deno.test("streams of other names or seeds differ", async (t) => {
  const base = take(new Rng(42, "a"), 20);
  await t.step("another name", () => assert.notDeepEqual(take(new Rng(42, "b"), 20), base));
  await t.step("another seed", () => assert.notDeepEqual(take(new Rng(43, "a"), 20), base));
});

Deno.test("a derived stream is the stream of the joined name", () => {
  assert.deepEqual(take(new Rng(7).derive("line").derive("F1"), 10), take(new Rng(7, "line/F1"), 10));
});

Deno.test("a derived stream does not depend on how much its parent was used", () => {
  const fresh = new Rng(7);
  const used = new Rng(7);
  take(used, 1000);
  assert.deepEqual(take(used.derive("x"), 10), take(fresh.derive("x"), 10));
});

Deno.test("int covers its whole inclusive range, roughly uniformly", () => {
  const rng = new Rng(1, "int");
  const counts = new Map<number, number>();
  const draws = 60_000;
  for (let i = 0; i < draws; i++) {
    const value = rng.int(3, 5);
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), [3, 4, 5]);
  for (const count of counts.values()) assert.ok(Math.abs(count - draws / 3) < draws * 0.02, `count ${count}`);
});

Deno.test("next stays in [0, 1) with a mean near one half", () => {
  const values = take(new Rng(9), 50_000);
  assert.ok(values.every((value) => value >= 0 && value < 1));
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
});

Deno.test("a stream derived in steps from a named one is the stream of the whole name", () => {
  assert.deepEqual(
    take(new Rng(7, "line/F1").derive("0").derive("interval"), 10),
    take(new Rng(7, "line/F1/0/interval"), 10),
  );
  assert.deepEqual(take(new Rng(0xffff_ffff, "é/日本").derive("x"), 10), take(new Rng(0xffff_ffff, "é/日本/x"), 10));
});

Deno.test("a derived stream needs a name", () => {
  assert.throws(() => new Rng(7).derive(""), RangeError);
});
