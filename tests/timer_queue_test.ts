/**
 * The calendar queue against a reference: any mix of pushes and pops (due times fractional, in
 * the past, in the current millisecond, in the ring and far beyond it, ties) pops what a sorted
 * list of (dueMs, seq) would.
 */
import assert from "node:assert/strict";
import { RING_MS, TimerQueue } from "../lib/timer_queue.ts";

interface Item {
  dueMs: number;
  seq: number;
}

function lcg(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

Deno.test("pops in (dueMs, seq) order whatever the mix of pushes and pops", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = lcg(seed);
    const start = 1_764_000_000_000 + Math.floor(random() * 1000);
    const queue = new TimerQueue<Item>(start);
    const reference: Item[] = [];
    let seq = 0;
    let now = start;
    for (let step = 0; step < 40_000; step++) {
      if (random() < 0.55) {
        const kind = random();
        const dueMs = kind < 0.05
          ? now - random() * 50 // past: due at once
          : kind < 0.2
          ? now + random() * 0.9 // within the current millisecond, fractional
          : kind < 0.9
          ? now + Math.floor(random() * 5000) // within the ring
          : kind < 0.97
          ? now + RING_MS + Math.floor(random() * 5 * RING_MS) // beyond it
          : now + Math.floor(random() * 3); // ties
        const item = { dueMs, seq: seq++ };
        queue.push(item);
        reference.push(item);
      } else {
        reference.sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
        const expected = reference.shift();
        assert.equal(queue.peek(), expected, `seed ${seed}, step ${step}: peek`);
        assert.equal(queue.pop(), expected, `seed ${seed}, step ${step}: pop`);
        if (expected && expected.dueMs > now) now = expected.dueMs;
      }
      assert.equal(queue.size, reference.length);
    }
    reference.sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
    const rest: Item[] = [];
    for (let item = queue.pop(); item !== undefined; item = queue.pop()) rest.push(item);
    assert.deepEqual(rest, reference, `seed ${seed}: the rest`);
  }
});

Deno.test("an empty queue jumps to entries far ahead, and clear empties it", () => {
  const queue = new TimerQueue<Item>(0);
  assert.equal(queue.peek(), undefined);
  assert.equal(queue.pop(), undefined);
  const far = [{ dueMs: 10 * RING_MS + 0.5, seq: 2 }, { dueMs: 10 * RING_MS, seq: 3 }, { dueMs: 40 * RING_MS, seq: 1 }];
  for (const item of far) queue.push(item);
  assert.deepEqual([queue.pop(), queue.pop(), queue.pop(), queue.pop()], [far[1], far[0], far[2], undefined]);
  queue.push({ dueMs: 40 * RING_MS + 5, seq: 4 });
  queue.push({ dueMs: 90 * RING_MS, seq: 5 });
  queue.clear();
  assert.equal(queue.size, 0);
  assert.equal(queue.pop(), undefined);
  const after = { dueMs: 40 * RING_MS + 7, seq: 6 };
  queue.push(after);
  assert.equal(queue.pop(), after);
});

Deno.test("a bucket drained and filled again round the ring holds only its new entries", () => {
  // Drained buckets keep their arrays (and stale slots past their count): a millisecond RING_MS
  // later with fewer entries, or with entries queued out of order, must see none of the old ones.
  const start = 1_764_000_000_000;
  const queue = new TimerQueue<Item>(start);
  let seq = 0;
  const popped: Item[] = [];
  for (let lap = 0; lap < 4; lap++) {
    const ms = start + lap * RING_MS;
    const count = [50, 3, 20, 1][lap];
    const items = Array.from(
      { length: count },
      (_, i) => ({ dueMs: ms + (lap === 2 ? (count - i) / 100 : 0), seq: seq++ }),
    );
    for (const item of items) queue.push(item);
    const expected = [...items].sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
    popped.length = 0;
    // Pushed into the millisecond while it drains: in its place.
    const late = { dueMs: ms + (lap === 2 ? 0.105 : 0), seq: seq++ };
    for (let i = 0; i < count; i++) {
      popped.push(queue.pop()!);
      if (i === 0) queue.push(late);
    }
    popped.push(queue.pop()!);
    assert.deepEqual(popped, [...expected, late].sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq), `lap ${lap}`);
    assert.equal(queue.size, 0);
    assert.equal(queue.pop(), undefined);
  }
});
