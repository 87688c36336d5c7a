/**
 * The sink interface: where records go. The simulation does not know which sink it feeds.
 */
import { RunError } from "../errors.ts";
import type { OutRecord } from "../messages.ts";

/** A destination for records. */
export interface Sink {
  /** Short name for logs: `kafka`, `console`. */
  readonly name: string;
  /**
   * Accepts a batch. Returns a promise when the sink wants the caller to wait before the next
   * batch (back-pressure); throws once delivery has failed for good.
   */
  write(records: OutRecord[]): void | Promise<void>;
  /** Delivers everything accepted so far, then releases the sink's resources. */
  close(): Promise<void>;
  /** Records delivered so far. */
  readonly delivered: number;
  /** Records accepted and not delivered yet. */
  readonly pending: number;
}

/**
 * Closes `sink`, delivering what it holds. Once `signal` is aborted (a stop signal, before or
 * during the close) the flush gets `flushTimeoutMs` more, then fails with a `RunError` saying how
 * many records were not delivered, so a stopped process exits in bounded time.
 */
export async function closeSink(
  sink: Sink,
  { signal, flushTimeoutMs }: { signal?: AbortSignal; flushTimeoutMs: number },
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const deadline = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => {
        reject(
          new RunError(
            `could not flush to ${sink.name} within ${flushTimeoutMs / 1000} s of the stop signal: ` +
              `${sink.pending} records not delivered`,
          ),
        );
      }, flushTimeoutMs);
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([sink.close(), deadline]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}
