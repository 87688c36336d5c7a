import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import { RunError } from "../lib/errors.ts";
import { closeSink, type Sink } from "../lib/sinks/sink.ts";

/** A sink whose close never finishes, like a flush to a broker that went away. */
function stuckSink(): Sink {
  return {
    name: "kafka",
    delivered: 10,
    pending: 7,
    write() {},
    close: () => new Promise(() => {}),
  };
}

Deno.test("closing waits for the flush while no stop signal came", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    let closed = false;
    const sink: Sink = {
      ...stuckSink(),
      close: () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            closed = true;
            resolve();
          }, 60_000)
        ),
    };
    const done = closeSink(sink, { signal: new AbortController().signal, flushTimeoutMs: 4_000 });
    await clock.tickAsync(60_000);
    await done;
    assert.ok(closed);
  } finally {
    clock.uninstall();
  }
});

Deno.test("a stop signal during the final flush bounds it", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const controller = new AbortController();
    const done = closeSink(stuckSink(), { signal: controller.signal, flushTimeoutMs: 4_000 });
    const outcome = done.then(() => "closed", (error) => error);
    await clock.tickAsync(30_000);
    controller.abort("SIGTERM");
    await clock.tickAsync(3_999);
    await clock.tickAsync(1);
    const error = await outcome;
    assert.ok(error instanceof RunError);
    assert.equal(error.message, "could not flush to kafka within 4 s of the stop signal: 7 records not delivered");
    assert.equal(clock.countTimers(), 0);
  } finally {
    clock.uninstall();
  }
});

Deno.test("a flush that starts after the stop signal gets the same bound", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const controller = new AbortController();
    controller.abort("SIGINT");
    const outcome = closeSink(stuckSink(), { signal: controller.signal, flushTimeoutMs: 4_000 }).catch((e) => e);
    await clock.tickAsync(4_000);
    assert.ok((await outcome) instanceof RunError);
  } finally {
    clock.uninstall();
  }
});
