/**
 * The sink interface: where records go. The simulation does not know which sink it feeds.
 */
import { raceDeadline, TIMED_OUT } from "../deadline.ts";
import { RunError } from "../errors.ts";
import type { OutRecord } from "../messages.ts";

/**
 * Told of records a sink has delivered, once per request (not per record); `latencySeconds` is the
 * time from the request's first send to its acknowledgement, when the sink has one.
 */
export interface DeliveryObserver {
  (records: readonly OutRecord[], latencySeconds?: number): void;
  /** Records of `topic` delivered by another thread, which counted them (a run's workers). */
  counted?(topic: string, records: number): void;
}

/** Calls `count` once for each run of records of one topic (records come in runs: not once a record). */
export function countByTopic(records: readonly OutRecord[], count: (topic: string, records: number) => void): void {
  let topic = "";
  let run = 0;
  for (const record of records) {
    if (record.topic === topic) {
      run++;
      continue;
    }
    if (run > 0) count(topic, run);
    topic = record.topic;
    run = 1;
  }
  if (run > 0) count(topic, run);
}

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
  /**
   * Sinks with durable storage: stop delivering, keep what is unsent for the next run and release
   * the sink. Resolves to the number of records kept.
   */
  park?(): Promise<number>;
  /** Whether the destination has stopped acknowledging (a sink with `park` parks at once on a stop). */
  readonly stalled?: boolean;
  /** Told of each delivered request, when set (metrics). */
  observer?: DeliveryObserver;
  /** Whether records go to this process's stdout (a live status then keeps off a terminal that shows them). */
  readonly toStdout?: boolean;
  /**
   * Sinks with a spool: records put in it, records replayed from it, and records in doubt from an
   * earlier run that Kafka held already (not sent again), so far.
   */
  readonly spoolCounts?: { readonly spooled: number; readonly replayed: number; readonly alreadyInKafka?: number };
}

/**
 * Closes `sink`, delivering what it holds. Once `signal` is aborted (a stop signal, before or
 * during the close) the flush gets `flushTimeoutMs` more; then a sink that can keep what is
 * unsent (`park`) keeps it, and any other fails with a `RunError` saying how many records were
 * not delivered, so a stopped process exits in bounded time. A sink whose destination is already
 * down when the stop comes parks at once.
 */
export async function closeSink(
  sink: Sink,
  { signal, flushTimeoutMs }: { signal?: AbortSignal; flushTimeoutMs: number },
): Promise<void> {
  if (signal?.aborted && sink.park && sink.stalled) {
    await sink.park();
    return;
  }
  const closing = sink.close();
  // Past the deadline the close is abandoned (or parked); its late failure must not go unhandled.
  closing.catch(() => {});
  // The flush is bounded only from the stop signal on (no signal: not at all).
  const outcome = await raceDeadline(closing, signal ? flushTimeoutMs : undefined, { countFrom: signal });
  if (outcome !== TIMED_OUT) return;
  if (sink.park) {
    await sink.park();
    return;
  }
  throw new RunError(
    `could not flush to ${sink.name} within ${flushTimeoutMs / 1000} s of the stop signal: ` +
      `${sink.pending} records not delivered`,
  );
}

/** Closes `sink` after a failure, ignoring what the close throws: the error that stopped the run is the one to report. */
export async function closeQuietly(sink: Sink): Promise<void> {
  try {
    await sink.close();
  } catch {
    // The error that stopped the run is the one to report.
  }
}
