/**
 * Racing work against a timer, with the timer and the abort listener always removed. Hand written
 * rather than `AbortSignal.timeout`, whose timer outlives work that finished first (and keeps a
 * process, or Deno's test sanitizer, waiting for it).
 */

/** What a race ends with when its time is up. */
export const TIMED_OUT: unique symbol = Symbol("timed out");
/** What a race ends with when its signal aborts. */
export const ABORTED: unique symbol = Symbol("aborted");

/** A timer to race against: `reached` resolves to `TIMED_OUT` when it fires; dispose it when done. */
export interface Deadline extends Disposable {
  readonly reached: Promise<typeof TIMED_OUT>;
}

/**
 * A deadline `ms` from now, or from when `countFrom` aborts (never, if it never does); with `ms`
 * undefined, one that is never reached. Disposing it clears its timer and its abort listener.
 */
export function startDeadline(ms: number | undefined, { countFrom }: { countFrom?: AbortSignal } = {}): Deadline {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let start = () => {};
  const reached = new Promise<typeof TIMED_OUT>((resolve) => {
    start = () => {
      timer ??= setTimeout(() => resolve(TIMED_OUT), ms);
    };
  });
  if (ms !== undefined) {
    if (countFrom === undefined || countFrom.aborted) start();
    else countFrom.addEventListener("abort", start, { once: true });
  }
  return {
    reached,
    [Symbol.dispose]() {
      clearTimeout(timer);
      countFrom?.removeEventListener("abort", start);
    },
  };
}

/**
 * Waits for `work`, for `ms` at most (counted from when `countFrom` aborts, when given; never
 * ending, with `ms` undefined), and no longer than until `signal` aborts. Settles as `work` does,
 * or with `TIMED_OUT` or `ABORTED`; `work` itself is not stopped. An already aborted `signal`
 * ends it at once.
 */
export async function raceDeadline<T>(
  work: Promise<T>,
  ms: number | undefined,
  { signal, countFrom }: { signal?: AbortSignal; countFrom?: AbortSignal } = {},
): Promise<T | typeof TIMED_OUT | typeof ABORTED> {
  if (signal?.aborted) return ABORTED;
  using deadline = startDeadline(ms, { countFrom });
  let onAbort = () => {};
  const aborted = new Promise<typeof ABORTED>((resolve) => onAbort = () => resolve(ABORTED));
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([work, deadline.reached, aborted]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
