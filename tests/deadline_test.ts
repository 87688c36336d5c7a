import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { ABORTED, raceDeadline, startDeadline, TIMED_OUT } from "../lib/deadline.ts";

/** Runs `body` with setTimeout and clearTimeout faked, and checks it left no timer behind. */
async function withClock(body: (clock: ReturnType<typeof FakeTimers.install>) => Promise<void>): Promise<void> {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    await body(clock);
    assert.equal(clock.countTimers(), 0, "every timer cleared");
  } finally {
    clock.uninstall();
  }
}

Deno.test("work that ends first wins the race and leaves no timer behind", async (t) => {
  await t.step("resolving", () =>
    withClock(async () => {
      assert.equal(await raceDeadline(Promise.resolve("done"), 10_000), "done");
    }));
  await t.step("rejecting", () =>
    withClock(async () => {
      await assert.rejects(raceDeadline(Promise.reject(new Error("refused")), 10_000), /refused/);
    }));
  await t.step("with a signal, whose listener is removed too", () =>
    withClock(async () => {
      const controller = new AbortController();
      assert.equal(await raceDeadline(Promise.resolve(1), 10_000, { signal: controller.signal }), 1);
      controller.abort();
    }));
});

Deno.test("work still going when the time is up ends the race with TIMED_OUT", () =>
  withClock(async (clock) => {
    const racing = raceDeadline(new Promise(() => {}), 3_000);
    await clock.tickAsync(2_999);
    let ended = false;
    racing.then(() => ended = true);
    await clock.tickAsync(0);
    assert.equal(ended, false);
    await clock.tickAsync(1);
    assert.equal(await racing, TIMED_OUT);
  }));

Deno.test("a signal that aborts ends the race with ABORTED at once, and one aborted before never starts it", () =>
  withClock(async () => {
    const controller = new AbortController();
    const racing = raceDeadline(new Promise(() => {}), 10_000, { signal: controller.signal });
    controller.abort();
    assert.equal(await racing, ABORTED);
    assert.equal(await raceDeadline(Promise.resolve("late"), 10_000, { signal: controller.signal }), ABORTED);
  }));

Deno.test("counted from a signal, the time starts only when it aborts", () =>
  withClock(async (clock) => {
    const controller = new AbortController();
    let outcome: unknown;
    const racing = raceDeadline(new Promise(() => {}), 500, { countFrom: controller.signal }).then((o) => outcome = o);
    await clock.tickAsync(60_000);
    assert.equal(outcome, undefined, "no deadline before the signal");
    assert.equal(clock.countTimers(), 0);
    controller.abort();
    await clock.tickAsync(499);
    assert.equal(outcome, undefined);
    await clock.tickAsync(1);
    await racing;
    assert.equal(outcome, TIMED_OUT);
  }));

Deno.test("work that ends before its counting signal aborts leaves no listener to start a timer", () =>
  withClock(async () => {
    const controller = new AbortController();
    assert.equal(await raceDeadline(Promise.resolve("done"), 500, { countFrom: controller.signal }), "done");
    controller.abort();
  }));

Deno.test("a deadline without a time is never reached", () =>
  withClock(async (clock) => {
    let reached = false;
    using deadline = startDeadline(undefined);
    deadline.reached.then(() => reached = true);
    assert.equal(clock.countTimers(), 0);
    await clock.tickAsync(1e9);
    assert.equal(reached, false);
  }));

Deno.test("a deadline shared by several races, disposed when done, on real timers", async () => {
  {
    using deadline = startDeadline(5);
    assert.equal(await Promise.race([Promise.resolve("first"), deadline.reached]), "first");
    assert.equal(await Promise.race([new Promise(() => {}), deadline.reached]), TIMED_OUT);
  }
  {
    using deadline = startDeadline(60_000);
    assert.equal(await Promise.race([Promise.resolve("quick"), deadline.reached]), "quick");
  } // Disposed here: the sanitizer would fail the test on its 60 s timer otherwise.
});
