/**
 * The one timer queue that owns simulated time.
 *
 * Entries sit in a calendar queue (`timer_queue.ts`) ordered by due time, then by insertion. In real mode a single
 * `setTimeout` waits for the earliest entry (wall-clock time scaled by `speed`); in virtual mode
 * the clock jumps straight to it. Either way every entry that has fallen due is dispatched in one
 * go, and the caller's `onBatch` runs after each such batch (the simulation hands the events the
 * batch produced to the sink there, and may apply back-pressure by returning a promise).
 *
 * While a task runs, `now()` is the time it was due, not the time it actually ran: events carry
 * their scheduled time, so intervals and timestamps do not depend on load or speed.
 */
import { TimerQueue } from "./timer_queue.ts";

/** Most events a real-time run dispatches before handing a batch to the sink. */
export const MAX_REAL_BATCH_EVENTS = 10_000;

/** Something that runs when it falls due; usually a small state object that reschedules itself. */
export interface Task {
  fire(): void;
}

/** How the scheduler maps simulated time to the wall clock. */
export interface SchedulerOptions {
  /** Simulated time when the run starts, in epoch milliseconds. */
  startMs: number;
  /** `real` follows the wall clock (scaled by `speed`); `virtual` jumps to each due entry. */
  mode?: "real" | "virtual";
  /** Simulated milliseconds per wall-clock millisecond in real mode. */
  speed?: number;
  /** A monotonic clock in milliseconds; injectable for tests. */
  wallClock?: () => number;
}

/** What `run` is told to do while it runs. */
export interface RunOptions {
  /** Stops the run (entries still queued are dropped) when aborted. */
  signal?: AbortSignal;
  /** Called after each batch of entries that fell due together. */
  onBatch?: () => void | Promise<void>;
}

/** How late dispatching was, in wall-clock milliseconds (real mode only). */
export interface LatenessStats {
  count: number;
  maxMs: number;
  totalMs: number;
}

interface Entry {
  dueMs: number;
  seq: number;
  task: Task;
}

/**
 * Where the insertion order of `atLast` entries starts: after any `at` entry due at the same time
 * (`at` counts from 0 and never gets this far), and in the order they were queued among themselves,
 * so every key is unique.
 */
const LAST_SEQ = 2 ** 52;

/** In virtual mode, yield to the event loop at least this often (wall ms) so I/O and signals get in. */
const VIRTUAL_YIELD_AFTER_MS = 20;

/** A timer queue with its own clock. */
export class Scheduler {
  readonly mode: "real" | "virtual";
  readonly speed: number;
  readonly startMs: number;
  readonly lateness: LatenessStats = { count: 0, maxMs: 0, totalMs: 0 };
  /**
   * Told after each real-time batch how late its most late event was (wall ms) and how many events
   * it held: one call per batch, cheap enough for metrics.
   */
  onLateness: ((maxMs: number, events: number) => void) | undefined;
  readonly #queue: TimerQueue<Entry>;
  /**
   * Entries that fired, reused by `at`: a task fires and requeues itself every few seconds, and
   * an entry per firing would be garbage that lives long enough (seconds) to reach V8's old
   * generation. Never larger than the heap was.
   */
  readonly #free: Entry[] = [];
  readonly #wallClock: () => number;
  #seq = 0;
  #lastSeq = 0;
  #nowMs: number;
  #wallStartMs = 0;
  #running = false;
  #wake: (() => void) | undefined;

  constructor({ startMs, mode = "real", speed = 1, wallClock = () => performance.now() }: SchedulerOptions) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be > 0: got ${speed}`);
    this.mode = mode;
    this.speed = speed;
    this.startMs = startMs;
    this.#nowMs = startMs;
    this.#queue = new TimerQueue(startMs);
    this.#wallClock = wallClock;
  }

  /** The current simulated time in epoch milliseconds. */
  now(): number {
    return this.#nowMs;
  }

  /** Number of queued entries. */
  get size(): number {
    return this.#queue.size;
  }

  /** Queues `task` to fire at simulated time `timeMs` (at once if that is already past). */
  at(timeMs: number, task: Task): void {
    this.#enqueue(timeMs, task, this.#seq++);
  }

  /**
   * Queues `task` to fire at `timeMs` after every other entry due then, whenever those are queued:
   * a task there that clears the queue ends the run with everything due at that instant done.
   */
  atLast(timeMs: number, task: Task): void {
    this.#enqueue(timeMs, task, LAST_SEQ + this.#lastSeq++);
  }

  #enqueue(timeMs: number, task: Task, seq: number): void {
    let entry = this.#free.pop();
    if (entry === undefined) {
      entry = { dueMs: timeMs, seq, task };
    } else {
      entry.dueMs = timeMs;
      entry.seq = seq;
      entry.task = task;
    }
    const queue = this.#queue;
    queue.push(entry);
    // Only a sleeping run needs to know (a peek settles the queue on its earliest entry, which a
    // run's setup, queueing its end first, has no use for).
    if (this.#wake !== undefined && queue.peek() === entry) this.#wake();
  }

  /** Queues `task` to fire `delayMs` simulated milliseconds after now. */
  after(delayMs: number, task: Task): void {
    this.at(this.#nowMs + delayMs, task);
  }

  /** Drops every queued entry; a running `run` returns after the current batch. */
  clear(): void {
    this.#queue.clear();
    this.#wake?.();
  }

  /** Dispatches entries as they fall due until the queue is empty or `signal` aborts. */
  async run({ signal, onBatch }: RunOptions = {}): Promise<void> {
    if (this.#running) throw new Error("the scheduler is already running");
    this.#running = true;
    const onAbort = () => this.#wake?.();
    signal?.addEventListener("abort", onAbort);
    try {
      if (this.mode === "virtual") await this.#runVirtual(signal, onBatch);
      else await this.#runReal(signal, onBatch);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#running = false;
    }
  }

  async #runVirtual(signal: AbortSignal | undefined, onBatch: RunOptions["onBatch"]): Promise<void> {
    const queue = this.#queue;
    let lastYield = this.#wallClock();
    while (queue.size > 0 && !signal?.aborted) {
      const dueMs = queue.peek()!.dueMs;
      if (dueMs > this.#nowMs) this.#nowMs = dueMs;
      while (queue.size > 0 && queue.peek()!.dueMs <= dueMs) this.#fire(queue.pop()!);
      await onBatch?.();
      if (this.#wallClock() - lastYield >= VIRTUAL_YIELD_AFTER_MS) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = this.#wallClock();
      }
    }
  }

  async #runReal(signal: AbortSignal | undefined, onBatch: RunOptions["onBatch"]): Promise<void> {
    const queue = this.#queue;
    // Map the simulated start to the wall clock once: every due time is an absolute point on that
    // line, so timer jitter never accumulates into drift.
    this.#wallStartMs = this.#wallClock() - (this.#nowMs - this.startMs) / this.speed;
    while (queue.size > 0 && !signal?.aborted) {
      const wallNow = this.#wallClock();
      const simNow = this.startMs + (wallNow - this.#wallStartMs) * this.speed;
      const dueMs = queue.peek()!.dueMs;
      if (dueMs > simNow) {
        await this.#sleep((dueMs - simNow) / this.speed);
        continue;
      }
      // A run that has fallen behind finds much due at once, including later firings of tasks that
      // are late: hand it over in bounded batches, so memory stays bounded while it catches up.
      let fired = 0;
      // The queue yields the earliest due first: the batch's first event is its most late.
      const batchLatenessMs = (simNow - dueMs) / this.speed;
      while (queue.size > 0 && queue.peek()!.dueMs <= simNow && fired < MAX_REAL_BATCH_EVENTS) {
        const entry = queue.pop()!;
        this.#recordLateness((simNow - entry.dueMs) / this.speed);
        this.#fire(entry);
        fired++;
      }
      this.onLateness?.(batchLatenessMs, fired);
      await onBatch?.();
    }
  }

  #fire(entry: Entry): void {
    if (entry.dueMs > this.#nowMs) this.#nowMs = entry.dueMs;
    const task = entry.task;
    // Off the queue now, so free for the next `at` (the task's own requeue, usually).
    this.#free.push(entry);
    task.fire();
  }

  #recordLateness(ms: number): void {
    const stats = this.lateness;
    stats.count++;
    stats.totalMs += ms;
    if (ms > stats.maxMs) stats.maxMs = ms;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      // Round up to whole milliseconds: timers do not do fractions, and waking a fraction early
      // would only spin the loop until the entry is really due.
      const timer = setTimeout(done, Math.max(1, Math.ceil(ms)));
      this.#wake = done;
    });
  }
}
