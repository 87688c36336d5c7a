/**
 * The monitor's wait for topics that do not exist yet (`waitForTopics` in lib/kafka/consumer.ts):
 * however many polls it takes, it leaves no reaction, listener or timer behind on what outlives it
 * (the client's fatal error, the stop signal), and a stop ends it with its timer cleared (Deno's
 * sanitizers check that).
 */
import assert from "node:assert/strict";
// @ts-types="@types/sinonjs__fake-timers"
import FakeTimers from "@sinonjs/fake-timers";
import type { ExitError } from "../lib/errors.ts";
import { loadKafka } from "../lib/kafka/load.ts";

const { waitForTopics } = await loadKafka("consumer");

/** A pending promise that counts the reactions attached to it (each is kept until it settles). */
function countedPending(): { promise: Promise<never>; reactions: () => number; reject: (error: Error) => void } {
  let reactions = 0;
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<never>((_, rejectIt) => reject = rejectIt);
  promise.catch(() => {});
  const then = promise.then.bind(promise);
  Object.defineProperty(promise, "then", {
    value: (...args: Parameters<typeof then>) => {
      reactions++;
      return then(...args);
    },
  });
  return { promise, reactions: () => reactions, reject };
}

/** What outlives the wait, each counting what is attached to it. */
function longLived() {
  const fatal = countedPending();
  const stopped = countedPending();
  const watchers = new Set<(error: ExitError) => void>();
  const controller = new AbortController();
  // What the monitor's own stop promise does: reject when the signal aborts.
  controller.signal.onabort = () => stopped.reject(new Error("stopped"));
  let listeners = 0;
  const { signal } = controller;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  };
  const options = {
    fatal: fatal.promise,
    stopped: stopped.promise,
    watchFatal: (listener: (error: ExitError) => void) => {
      watchers.add(listener);
      return () => void watchers.delete(listener);
    },
    signal,
    pollMs: 0,
  };
  const left = () => ({
    reactions: fatal.reactions() + stopped.reactions(),
    listeners,
    watchers: watchers.size,
  });
  return { options, left, controller };
}

/** Waits for topics a and b, which appear after `polls` listings. */
async function waitPolls(polls: number) {
  const { options, left } = longLived();
  let listed = 0;
  const missing = await waitForTopics(
    () => Promise.resolve(++listed > polls ? ["a", "b"] : ["b"]),
    ["a", "b"],
    options,
  );
  assert.deepEqual([...missing], ["a"]);
  assert.equal(listed, polls + 1);
  return left();
}

Deno.test("waiting for topics leaves nothing behind on what outlives it, however many polls it takes", async () => {
  const few = await waitPolls(3);
  const many = await waitPolls(300);
  assert.deepEqual(many, few, "what is left does not grow with the polls");
  assert.deepEqual(many, { reactions: 0, listeners: 0, watchers: 0 });
});

Deno.test("a stop ends the wait at once, its poll timer cleared", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const { options, left, controller } = longLived();
    let listed = 0;
    const waiting = waitForTopics(
      () => {
        listed++;
        return Promise.resolve([]);
      },
      ["a"],
      { ...options, pollMs: 60_000 },
    );
    waiting.catch(() => {});
    await clock.tickAsync(0);
    assert.equal(listed, 1);
    assert.equal(clock.countTimers(), 1, "waiting for the next poll");
    controller.abort();
    await assert.rejects(waiting, /stopped/);
    assert.equal(clock.countTimers(), 0, "the poll timer is cleared");
    assert.deepEqual({ ...left(), reactions: 0 }, { reactions: 0, listeners: 0, watchers: 0 });
  } finally {
    clock.uninstall();
  }
});
