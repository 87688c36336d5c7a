import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import { Scheduler, type Task } from "../lib/scheduler.ts";
import { START_MS } from "./_helpers.ts";

function task(fire: () => void): Task {
  return { fire };
}

Deno.test("virtual time runs entries in due order, ties in insertion order", async () => {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const fired: string[] = [];
  for (const [name, delay] of [["c", 300], ["a", 100], ["b1", 200], ["b2", 200], ["z", 0]] as const) {
    scheduler.after(delay, task(() => fired.push(`${name}@${scheduler.now() - START_MS}`)));
  }
  await scheduler.run();
  assert.deepEqual(fired, ["z@0", "a@100", "b1@200", "b2@200", "c@300"]);
  assert.equal(scheduler.size, 0);
});

Deno.test("atLast fires after every entry due at its time, even those queued after it", async () => {
  for (const mode of ["virtual", "real"] as const) {
    const scheduler = new Scheduler({ startMs: START_MS, mode, speed: 1_000_000 });
    const fired: string[] = [];
    scheduler.after(100, task(() => fired.push("early")));
    scheduler.atLast(START_MS + 200, task(() => (fired.push("end"), scheduler.clear())));
    scheduler.after(200, task(() => fired.push("same time, queued after")));
    // Queued at 150 for 200: after the end entry was queued, still before it fires.
    scheduler.after(150, task(() => scheduler.after(50, task(() => fired.push("same time, queued at 150")))));
    scheduler.after(201, task(() => fired.push("later")));
    await scheduler.run();
    assert.deepEqual(fired, ["early", "same time, queued after", "same time, queued at 150", "end"], mode);
  }
});

Deno.test("a task that reschedules itself runs on virtual time without waiting", async () => {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  let fired = 0;
  const ticker: Task = {
    fire() {
      if (++fired < 100_000) scheduler.after(1_000, ticker);
    },
  };
  scheduler.at(START_MS, ticker);
  const wallStart = performance.now();
  await scheduler.run();
  assert.equal(fired, 100_000);
  assert.equal(scheduler.now(), START_MS + 99_999 * 1_000, "a day of simulated time went by");
  assert.ok(performance.now() - wallStart < 10_000);
});

Deno.test("entries due together form one batch", async () => {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const batches: string[][] = [];
  let current: string[] = [];
  for (const [name, delay] of [["a", 10], ["b", 10], ["c", 20]] as const) {
    scheduler.after(delay, task(() => current.push(name)));
  }
  await scheduler.run({
    onBatch: () => {
      batches.push(current);
      current = [];
    },
  });
  assert.deepEqual(batches, [["a", "b"], ["c"]]);
});

Deno.test("clear drops every queued entry and ends the run", async () => {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const fired: number[] = [];
  for (let i = 1; i <= 5; i++) {
    scheduler.after(
      i * 100,
      task(() => {
        fired.push(i);
        if (i === 2) scheduler.clear();
      }),
    );
  }
  await scheduler.run();
  assert.deepEqual(fired, [1, 2]);
});

Deno.test("an aborted signal stops the run between batches", async () => {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const controller = new AbortController();
  let fired = 0;
  const ticker: Task = {
    fire() {
      fired++;
      if (fired === 50) controller.abort("SIGTERM");
      scheduler.after(1_000, ticker);
    },
  };
  scheduler.at(START_MS, ticker);
  await scheduler.run({ signal: controller.signal });
  assert.equal(fired, 50);
});

Deno.test("onBatch back-pressure holds the clock until it resolves", async () => {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const order: string[] = [];
  scheduler.after(10, task(() => order.push("first")));
  scheduler.after(20, task(() => order.push("second")));
  await scheduler.run({
    onBatch: async () => {
      order.push("wait");
      await Promise.resolve();
      order.push("resumed");
    },
  });
  assert.deepEqual(order, ["first", "wait", "resumed", "second", "wait", "resumed"]);
});

Deno.test("real time is scaled by speed and does not drift", async (t) => {
  for (const speed of [1, 2, 10]) {
    await t.step(`speed ${speed}`, async () => {
      const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"], now: 0 });
      try {
        const scheduler = new Scheduler({ startMs: START_MS, speed, wallClock: () => clock.now });
        const wallTimes: number[] = [];
        let count = 0;
        const ticker: Task = {
          fire() {
            wallTimes.push(clock.now);
            if (++count < 50) scheduler.after(1_500, ticker);
          },
        };
        scheduler.after(1_500, ticker);
        const done = scheduler.run();
        await clock.tickAsync((50 * 1_500) / speed + 10);
        await done;
        // The n-th tick is due at n * 1.5 s of simulated time: the wall clock must be exactly there
        // (fake timers do not jitter), not n small errors later.
        assert.deepEqual(wallTimes, Array.from({ length: 50 }, (_, i) => Math.ceil(((i + 1) * 1_500) / speed)));
        assert.ok(scheduler.lateness.maxMs <= 1, `max lateness ${scheduler.lateness.maxMs}`);
      } finally {
        clock.uninstall();
      }
    });
  }
});

Deno.test("a real-time run stops at once when aborted mid-wait", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"], now: 0 });
  try {
    const scheduler = new Scheduler({ startMs: START_MS, wallClock: () => clock.now });
    let fired = false;
    scheduler.after(60_000, task(() => fired = true));
    const controller = new AbortController();
    const done = scheduler.run({ signal: controller.signal });
    await clock.tickAsync(1_000);
    controller.abort("SIGINT");
    await done;
    assert.equal(fired, false);
    assert.equal(clock.countTimers(), 0, "no timer is left behind");
  } finally {
    clock.uninstall();
  }
});

Deno.test("a real-time run that has fallen behind hands over at most 10,000 events a batch", async () => {
  // The wall clock jumps 10 s past the start: 30,000 tasks and their catch-up firings are all due.
  let wallMs = 0;
  const scheduler = new Scheduler({ startMs: START_MS, wallClock: () => wallMs });
  let fired = 0;
  const batches: number[] = [];
  let sinceBatch = 0;
  for (let i = 0; i < 30_000; i++) {
    const ticker: Task = {
      fire() {
        fired++;
        sinceBatch++;
        if (scheduler.now() < START_MS + 9_000) scheduler.after(3_000, ticker);
      },
    };
    scheduler.at(START_MS, ticker);
  }
  const run = scheduler.run({
    onBatch: () => {
      batches.push(sinceBatch);
      sinceBatch = 0;
      if (fired >= 120_000) scheduler.clear();
    },
  });
  wallMs = 10_000;
  await run;
  assert.equal(fired, 120_000, "every due firing ran, in order");
  assert.ok(Math.max(...batches) <= 10_000, `largest batch ${Math.max(...batches)}`);
});

Deno.test("reused queue entries keep every firing: a task queued twice, requeues, and queueing after clear", async () => {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const fired: string[] = [];
  let left = 3;
  const repeating = task(() => {
    fired.push(`r@${scheduler.now() - START_MS}`);
    // Queued from inside fire: takes the entry that just fired.
    if (--left > 0) scheduler.after(10, repeating);
  });
  const twice = task(() => fired.push(`t@${scheduler.now() - START_MS}`));
  scheduler.after(5, repeating);
  scheduler.after(15, twice);
  scheduler.after(15, twice);
  await scheduler.run();
  // Ties in insertion order: both "twice" entries were queued before the requeue at 5.
  assert.deepEqual(fired, ["r@5", "t@15", "t@15", "r@15", "r@25"]);

  scheduler.after(1, task(() => fired.push("dropped")));
  scheduler.clear();
  scheduler.after(1, task(() => fired.push(`after clear@${scheduler.now() - START_MS}`)));
  await scheduler.run();
  assert.equal(fired.at(-1), "after clear@26");
  assert.ok(!fired.includes("dropped"));
});

Deno.test("a large queue with many ties, requeues and atLast entries fires in due time, then queueing order", async () => {
  const scheduler = new Scheduler({ startMs: START_MS, mode: "virtual" });
  const fired: [number, number][] = [];
  const expected: [number, number][] = [];
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let order = 0;
  const queue = (dueMs: number, last = false) => {
    const key: [number, number] = [dueMs, last ? 1e9 + order++ : order++];
    expected.push(key);
    const fire = () => {
      fired.push(key);
      // A third of the firings queue another entry, some at the same instant (not atLast ones: what
      // they queue at their own instant comes after them).
      if (!last && expected.length < 60_000 && next() < 0.34) {
        queue(scheduler.now() - START_MS + Math.floor(next() * 5) * 10);
      }
    };
    if (last) scheduler.atLast(START_MS + dueMs, task(fire));
    else scheduler.at(START_MS + dueMs, task(fire));
  };
  for (let i = 0; i < 40_000; i++) queue(Math.floor(next() * 200) * 10, next() < 0.01);
  await scheduler.run();
  const byDueThenOrder = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
  assert.equal(fired.length, expected.length);
  assert.ok(fired.length > 50_000, "requeued entries too");
  assert.deepEqual(fired, [...expected].sort(byDueThenOrder));
});
