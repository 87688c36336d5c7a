/**
 * The delivery pipeline between the simulation and a Kafka client: a linger accumulator, one
 * request in flight, retries, back-pressure and the store-and-forward spool. It knows nothing of
 * the client; `kafka.ts` supplies the `Transport`.
 *
 * Records wait per topic until a topic has a full batch or the oldest has waited `lingerMs`, then
 * go out in one request. Only one request is in flight, so each sensor's records reach their
 * partition in order and the idempotent producer's retries cannot reorder or duplicate them.
 *
 * When a request is not acknowledged within `spoolAfterMs`, Kafka counts as down: from then on
 * every linger window is committed to the spool on disk instead of waiting in memory. Once Kafka
 * acknowledges again, the spool is replayed oldest first, and new records keep going through the
 * spool until it is empty, so no sensor's new records overtake its spooled ones.
 *
 * Records that were sent without an acknowledgement the spool has seen are in doubt (the spool
 * marks them): a run that stopped while Kafka was down may have had its request written, its
 * acknowledgement lost. A run that opens a spool with records in doubt asks Kafka which of them it
 * holds before sending anything (`Transport.findWritten`), removes those and sends the rest: no
 * record is delivered twice across runs. When Kafka cannot be read for that, they are sent again.
 */
import { raceDeadline, startDeadline, TIMED_OUT } from "../deadline.ts";
import { ExitCode, type ExitError, RunError } from "../errors.ts";
import { log } from "../log.ts";
import { type OutRecord, recordsWithin } from "../messages.ts";
import type { DeliveryObserver, Sink } from "./sink.ts";
import { type Spool, type SpoolBatch, SpoolWriteError } from "./spool.ts";

/** What the pipeline needs of a Kafka client. */
export interface Transport {
  /** Sends one request; resolves once it is acknowledged (as `--acks` asks). */
  send(records: readonly OutRecord[]): Promise<void>;
  /**
   * Whether an error of `send` is final (retrying cannot help: bad credentials, no authorization,
   * rejected records) and how to say it in one line. `exitError` overrides the default exit 1.
   */
  explain(error: unknown): { final: boolean; message: string; exitError?: ExitError };
  /** The client's last connection problem, for warnings ("" when none). */
  lastProblem(): string;
  /**
   * Which of `records` (sent by an earlier run, never acknowledged to it) Kafka holds already:
   * `true` at the index of each one found, by topic, key, timestamp, value and headers. Rejects
   * when Kafka cannot be read for it (no permission, no answer in time), in one line.
   */
  findWritten(records: readonly OutRecord[]): Promise<boolean[]>;
  /** Releases the client's connections. */
  close(): Promise<void>;
}

/**
 * Most bytes of one request (keys, values and headers, counted in UTF-16 code units: the UTF-8 of
 * JSON text is about as long). Kafka's brokers refuse a record batch over `message.max.bytes`
 * (1 MiB by default) with MESSAGE_TOO_LARGE, and Java's producer sends at most
 * `max.request.size` (1 MiB); this stays under both, whatever `--batch-records` says.
 */
export const MAX_REQUEST_BYTES = 900_000;

/** Tuning of the pipeline; the defaults are the product's. */
export interface DeliveryOptions {
  /** Longest a record waits for its batch to fill (`--linger-ms`). */
  lingerMs?: number;
  /** Most records of one topic in one request. */
  batchRecords?: number;
  /** Where unacknowledged records go; without one they wait in memory. */
  spool?: Spool;
  /** Kafka counts as down when a request waits this long for its acknowledgement. */
  spoolAfterMs?: number;
  /** First warning about a missing acknowledgement... */
  slowAckWarnMs?: number;
  /** ...then again at this interval. */
  slowAckRepeatMs?: number;
  /**
   * Without a spool: give up on a request not acknowledged within this time. With one: at the end
   * of a run, give up waiting for Kafka after this long without an acknowledgement (what is unsent
   * stays in the spool).
   */
  deliveryTimeoutMs?: number;
  /** Pause before a failed request is sent again. */
  retryBackoffMs?: number;
  /** Records waiting in memory at which `write` makes the writer wait (no spool, or Kafka up). */
  highWaterRecords?: number;
  /** ...and at which a waiting writer resumes. */
  lowWaterRecords?: number;
}

/** One request: records and, when they come from the spool, the batch to remove once acknowledged. */
interface Request {
  records: readonly OutRecord[];
  /** Where the records are in the spool: they came from it, or were put there while in flight. */
  fromSpool?: SpoolBatch;
  /** Put in the spool while in flight (not replayed from it). */
  spooledInFlight?: boolean;
}

const kafkaLog = log("kafka");

/** A sink that delivers through a `Transport`, spooling what Kafka does not take. */
export class DeliverySink implements Sink {
  readonly name: string;
  delivered = 0;
  /** Records this run put in the spool because Kafka did not acknowledge. */
  spooled = 0;
  /** Records sent from the spool (this run's and an earlier run's). */
  replayed = 0;
  /** Records in doubt in the spool that Kafka held already: removed, not sent again. */
  alreadyInKafka = 0;
  /** Told of each acknowledged request: its records and seconds from its first send (metrics). */
  observer: DeliveryObserver | undefined;

  /** `spooled`, `replayed` and `alreadyInKafka`, for the end-of-run line and the summary. */
  get spoolCounts(): { spooled: number; replayed: number; alreadyInKafka: number } {
    return { spooled: this.spooled, replayed: this.replayed, alreadyInKafka: this.alreadyInKafka };
  }

  readonly #transport: Transport;
  readonly #spool: Spool | undefined;
  readonly #lingerMs: number;
  readonly #batchRecords: number;
  readonly #spoolAfterMs: number;
  readonly #slowAckWarnMs: number;
  readonly #slowAckRepeatMs: number;
  readonly #deliveryTimeoutMs: number;
  readonly #retryBackoffMs: number;
  readonly #highWater: number;
  readonly #lowWater: number;

  /** Records waiting for their request, per topic, in arrival order. */
  #pending = new Map<string, OutRecord[]>();
  #pendingCount = 0;
  /** When the oldest waiting record arrived. */
  #pendingSinceMs = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Request | undefined;
  #pumping = false;
  /** Kafka has not acknowledged within `spoolAfterMs`; cleared by the next acknowledgement. */
  #down = false;
  #downSinceMs = 0;
  #lastAckMs = Date.now();
  #closing = false;
  #parked = false;
  /**
   * Told when the sink is parked: one entry per request being delivered, removed when it is done.
   * (A promise that only settles on park, raced by every request, would keep each request's
   * records alive through its reactions for as long as the sink lives.)
   */
  readonly #parkWaiters = new Set<() => void>();
  #failure: ExitError | undefined;
  #lost = 0;
  #writers: (() => void)[] = [];
  #watchers: (() => void)[] = [];
  /** Asking Kafka about the spool's records in doubt: nothing is sent until that is settled. */
  #resolving = false;

  constructor(
    transport: Transport,
    {
      lingerMs = 5,
      batchRecords = 5_000,
      spool,
      spoolAfterMs = 2_000,
      slowAckWarnMs = 5_000,
      slowAckRepeatMs = 30_000,
      deliveryTimeoutMs = 120_000,
      retryBackoffMs = 1_000,
      highWaterRecords = 50_000,
      lowWaterRecords = 10_000,
    }: DeliveryOptions = {},
    name = "kafka",
  ) {
    this.name = name;
    this.#transport = transport;
    this.#spool = spool;
    this.#lingerMs = lingerMs;
    this.#batchRecords = batchRecords;
    this.#spoolAfterMs = spoolAfterMs;
    this.#slowAckWarnMs = slowAckWarnMs;
    this.#slowAckRepeatMs = slowAckRepeatMs;
    this.#deliveryTimeoutMs = deliveryTimeoutMs;
    this.#retryBackoffMs = retryBackoffMs;
    this.#highWater = highWaterRecords;
    this.#lowWater = lowWaterRecords;
    if (spool && spool.count > 0) {
      kafkaLog.info(`the spool holds ${spool.count} records from an earlier run: sending them first (${spool.path})`);
      if (spool.inDoubt > 0) this.#resolveDoubt(spool);
      else this.#pump();
    }
  }

  /** Records accepted and not acknowledged yet (in memory, in flight or in the spool). */
  get pending(): number {
    const inFlight = this.#inFlight && !this.#inFlight.fromSpool ? this.#inFlight.records.length : 0;
    return this.#pendingCount + inFlight + (this.#spool?.count ?? 0);
  }

  /** Records the spool holds (0 without one). */
  get spoolRecords(): number {
    return this.#spool?.count ?? 0;
  }

  /** Whether Kafka has stopped acknowledging (records are being spooled or wait in memory). */
  get stalled(): boolean {
    return this.#down;
  }

  write(records: OutRecord[]): void | Promise<void> {
    if (this.#failure) {
      // The run stops on this error; its last events are kept with the others (if the spool can).
      if (this.#spoolUsable()) this.#toSpool(records);
      else if (this.#failure instanceof SpoolWriteError) this.#lost += records.length;
      throw this.#failureError();
    }
    if (this.#parked) throw new RunError(`the ${this.name} sink is closed`);
    if (records.length === 0) return;
    if (this.#pendingCount === 0) this.#pendingSinceMs = Date.now();
    for (const record of records) {
      let queue = this.#pending.get(record.topic);
      if (queue === undefined) this.#pending.set(record.topic, queue = []);
      queue.push(record);
    }
    this.#pendingCount += records.length;
    this.#advance();
    if (this.#failure) throw this.#failureError();
    if (this.#mustHoldWriter()) return new Promise((resolve) => this.#writers.push(resolve));
  }

  /** Delivers everything accepted, then releases the client and the spool. */
  async close(): Promise<void> {
    this.#closing = true;
    try {
      while (!this.#failure && !this.#parked && this.#hasWork()) {
        this.#advance();
        if (this.#spool && Date.now() - this.#lastAckMs >= this.#deliveryTimeoutMs) {
          const kept = await this.park();
          throw new RunError(
            `Kafka has not acknowledged for ${Math.round((Date.now() - this.#lastAckMs) / 1000)} s at the end of ` +
              `the run${this.#problemSuffix()}: ${kept} unsent records kept in ${this.#spool.path}; ` +
              `the next run sends them first`,
          );
        }
        await this.#nextChange(this.#spool ? this.#deliveryTimeoutMs : undefined);
      }
    } finally {
      if (!this.#parked) await this.#release();
    }
    if (this.#failure) throw this.#failureError();
  }

  /**
   * Stops delivering and keeps what is unsent in the spool for the next run (a stop signal while
   * Kafka is down). Resolves to the number of records the spool holds.
   */
  async park(): Promise<number> {
    if (this.#parked) return this.#spool?.count ?? 0;
    this.#parked = true;
    for (const wake of this.#parkWaiters) wake();
    clearTimeout(this.#lingerTimer);
    const kept = this.#keepUnsent(this.#inFlight);
    if (this.#spool) {
      kafkaLog.info(`kept ${kept} unsent records in the spool (${this.#spool.path}): the next run sends them first`);
    }
    this.#notify();
    await this.#release();
    return kept;
  }

  /** Sends what is due, or commits it to the spool while Kafka is down. */
  #advance(): void {
    if (this.#parked || this.#failure) return;
    if (this.#pendingCount > 0 && this.#spoolsNew()) {
      if (this.#closing || this.#fullBatchWaits() || this.#lingered()) {
        this.#toSpool(this.#takePending(Infinity));
      } else {
        this.#armLinger();
      }
    }
    this.#pump();
  }

  /** New records go to the spool while Kafka is down and until the spool has been replayed. */
  #spoolsNew(): boolean {
    return this.#spool !== undefined && (this.#down || this.#spool.count > 0);
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#failure && !this.#parked) {
        const request = this.#nextRequest();
        if (request === undefined) break;
        this.#inFlight = request;
        try {
          await this.#deliver(request);
        } finally {
          this.#inFlight = undefined;
        }
        this.#notify();
      }
    } catch (error) {
      // The spool failed (a full disk, a lost file): nothing more can be kept safe.
      this.#failure ??= error instanceof RunError ? error : new RunError(`delivery failed: ${String(error)}`);
      this.#notify();
    } finally {
      this.#pumping = false;
    }
  }

  #nextRequest(): Request | undefined {
    if (this.#resolving) return undefined;
    if (this.#spool && this.#spool.count > 0) {
      const batch = this.#spool.peek(this.#batchRecords, MAX_REQUEST_BYTES);
      try {
        // In doubt from now until it is removed: a crash after Kafka's acknowledgement and before
        // the removal leaves it marked, and the next run checks it instead of sending it again.
        this.#spool.markInDoubt(batch);
      } catch (error) {
        this.#spoolFailed(error);
        return undefined;
      }
      return { records: batch.records, fromSpool: batch };
    }
    if (this.#pendingCount === 0) return undefined;
    if (this.#closing || this.#fullBatchWaits() || this.#lingered()) {
      return { records: this.#takePending(this.#batchRecords, MAX_REQUEST_BYTES) };
    }
    this.#armLinger();
    return undefined;
  }

  /** Sends `request` until Kafka acknowledges it, the error is final, or the sink is parked. */
  async #deliver(request: Request): Promise<void> {
    const startedMs = Date.now();
    const sentAt = performance.now();
    const timers: ReturnType<typeof setTimeout>[] = [];
    const warn = () => {
      const waitedS = Math.round((Date.now() - startedMs) / 1000);
      const where = this.#spool
        ? `${this.#spool.count} records in the spool`
        : `${request.records.length + this.#pendingCount} records waiting; giving up at ${
          this.#deliveryTimeoutMs / 1000
        } s`;
      kafkaLog.warn(`Kafka has not acknowledged for ${waitedS} s${this.#problemSuffix()}: ${where}; retrying`);
      timers.push(setTimeout(warn, this.#slowAckRepeatMs));
    };
    timers.push(setTimeout(() => this.#markDown(), this.#spoolAfterMs));
    timers.push(setTimeout(warn, this.#slowAckWarnMs));
    // With a spool, records are never dropped: only without one does a request time out.
    using deadline = startDeadline(this.#spool ? undefined : this.#deliveryTimeoutMs);
    using park = this.#watchPark();
    const { parked } = park;
    try {
      for (;;) {
        let outcome: "acked" | "parked" | typeof TIMED_OUT | { error: unknown };
        const sending = this.#transport.send(request.records).then(() => "acked" as const, (error) => ({ error }));
        outcome = await Promise.race([sending, parked, deadline.reached]);
        if (outcome === "parked") return this.#abandoned(request);
        if (outcome === TIMED_OUT) {
          this.#fail(
            request,
            new RunError(
              `delivery to Kafka failed: no acknowledgement within ${this.#deliveryTimeoutMs / 1000} s` +
                this.#problemSuffix(),
            ),
          );
          return;
        }
        if (outcome === "acked") break;
        const { final, message, exitError } = this.#transport.explain(outcome.error);
        if (final) {
          this.#fail(request, exitError ?? new RunError(`delivery to Kafka failed: ${message}`));
          return;
        }
        kafkaLog.debug(`request failed, sending it again: ${message}`);
        this.#markDown();
        outcome = await Promise.race([
          new Promise<"acked">((resolve) => timers.push(setTimeout(() => resolve("acked"), this.#retryBackoffMs))),
          parked,
          deadline.reached,
        ]);
        if (outcome === "parked") return this.#abandoned(request);
        if (outcome === TIMED_OUT) continue; // reported by the next round
      }
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
    this.#acknowledged(request, startedMs);
    this.observer?.(request.records, (performance.now() - sentAt) / 1000);
  }

  #acknowledged(request: Request, startedMs: number): void {
    this.#lastAckMs = Date.now();
    // The start-up benchmark (bench/README.md, "Start") waits for this line.
    if (this.delivered === 0) {
      kafkaLog.debug(`first records acknowledged ${Math.round(performance.now())} ms after the process started`);
    }
    this.delivered += request.records.length;
    if (request.fromSpool) {
      this.#spool!.remove(request.fromSpool);
      // Records spooled while in flight and acknowledged after all were never sent from the spool.
      if (request.spooledInFlight) this.spooled -= request.records.length;
      else this.replayed += request.records.length;
    }
    if (this.#down) {
      this.#down = false;
      const spooled = this.#spool?.count ?? 0;
      kafkaLog.info(
        `Kafka acknowledges again after ${Math.round((Date.now() - Math.min(startedMs, this.#downSinceMs)) / 1000)} s` +
          (spooled > 0 ? `: replaying ${spooled} spooled records` : ""),
      );
    }
    if (request.fromSpool && this.#spool!.count === 0) {
      kafkaLog.info(`the spool is empty: ${this.replayed} records replayed`);
    }
  }

  /**
   * Asks Kafka which of the spool's records in doubt it holds already (an earlier run sent them
   * and stopped before it saw their acknowledgement); removes those, then starts sending. When
   * Kafka cannot be read for it, says so and sends them all (at least once, never lost).
   */
  async #resolveDoubt(spool: Spool): Promise<void> {
    this.#resolving = true;
    const doubt = spool.peekInDoubt();
    const startedMs = performance.now();
    using park = this.#watchPark();
    try {
      const checking = this.#transport.findWritten(doubt.records).then(
        (found) => ({ found }),
        (error: unknown) => ({ error }),
      );
      const outcome = await Promise.race([checking, park.parked]);
      if (outcome === "parked" || this.#parked || this.#failure) return;
      const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
      if ("error" in outcome) {
        kafkaLog.warn(
          `cannot check whether Kafka holds the ${doubt.records.length} records in doubt in the spool (sent by ` +
            `the last run, acknowledgement not seen): ${this.#transport.explain(outcome.error).message}; ` +
            "sending them again (some may be delivered twice)",
        );
        return;
      }
      const ids = doubt.ids.filter((_, i) => outcome.found[i] === true);
      try {
        spool.resolveDoubt(ids);
      } catch (error) {
        this.#spoolFailed(error);
        return;
      }
      this.alreadyInKafka += ids.length;
      const rest = doubt.records.length - ids.length;
      kafkaLog.info(
        ids.length > 0
          ? `${ids.length} records in doubt were already in Kafka: not sent again` +
            (rest > 0 ? `; the other ${rest} were not, sent first` : "") + ` (checked in ${seconds} s)`
          : `none of the ${rest} records in doubt was in Kafka: sending them first (checked in ${seconds} s)`,
      );
    } finally {
      this.#resolving = false;
      this.#notify();
      this.#advance();
    }
  }

  #markDown(): void {
    if (this.#down || this.#parked) return;
    this.#down = true;
    this.#downSinceMs = Date.now();
    if (!this.#spool) return;
    kafkaLog.warn(
      `Kafka has not acknowledged for ${this.#spoolAfterMs / 1000} s${this.#problemSuffix()}: ` +
        `spooling records to ${this.#spool.path} until it does`,
    );
    // The request in flight goes to the spool too (first: it is the oldest), so a crash while
    // Kafka is down loses no more than the current linger window. It stays in flight; if Kafka
    // acknowledges it after all, it leaves the spool again.
    const request = this.#inFlight;
    if (request && !request.fromSpool) {
      try {
        request.fromSpool = this.#spool.prepend(request.records);
      } catch (error) {
        this.#spoolFailed(error);
        return;
      }
      request.spooledInFlight = true;
      this.spooled += request.records.length;
    }
    this.#advance();
  }

  /**
   * A promise that settles with "parked" when the sink is parked (at once if it is), for one wait
   * to race; disposing of it stops the sink telling it.
   */
  #watchPark(): { parked: Promise<"parked">; [Symbol.dispose](): void } {
    let onPark: () => void = () => {};
    const parked = new Promise<"parked">((resolve) => onPark = () => resolve("parked"));
    this.#parkWaiters.add(onPark);
    if (this.#parked) onPark();
    return { parked, [Symbol.dispose]: () => this.#parkWaiters.delete(onPark) };
  }

  /** Whether unsent records can still be put in the spool (there is one, and writing to it has not failed). */
  #spoolUsable(): boolean {
    return this.#spool !== undefined && !this.#parked && !(this.#failure instanceof SpoolWriteError);
  }

  /**
   * A write to the spool failed (a full disk): the run ends, what the spool holds stays there, and
   * the request in flight is abandoned (its records count as not kept unless they are spooled).
   */
  #spoolFailed(error: unknown): void {
    if (!(error instanceof SpoolWriteError)) throw error;
    this.#failure ??= error;
    for (const wake of this.#parkWaiters) wake();
    this.#notify();
  }

  /** A request given up on without an acknowledgement (park, or a spool that failed). */
  #abandoned(request: Request): void {
    if (!this.#parked && !request.fromSpool) this.#lost += request.records.length;
  }

  #fail(request: Request, error: ExitError): void {
    this.#keepUnsent(request);
    this.#failure = error;
    this.#notify();
  }

  /** The error that ends the run, saying where the unsent records are (counted now). */
  #failureError(): ExitError {
    const error = this.#failure!;
    if (error instanceof SpoolWriteError) {
      const inFlight = this.#inFlight && !this.#inFlight.fromSpool && !this.#parked ? this.#inFlight.records.length : 0;
      return new RunError(
        `${error.message}: ${this.#spool!.count} records kept in it, the next run sends them first; ` +
          `${this.#lost + this.#pendingCount + inFlight} records not kept`,
      );
    }
    if (error.exitCode !== ExitCode.failure) return error;
    return this.#spool
      ? new RunError(
        `${error.message}; ${this.#spool.count} unsent records kept in ${this.#spool.path}: the next run sends ` +
          "them first (delete the file to discard them)",
      )
      : new RunError(`${error.message} (${this.#lost} records not delivered)`);
  }

  /**
   * Puts what is not acknowledged in the spool, in order: the request in flight goes before what
   * the spool holds (it is older), the records still in memory after it. Without a spool they
   * count as lost. Returns the number of records the spool holds.
   */
  #keepUnsent(request: Request | undefined): number {
    const inFlight = request && !request.fromSpool ? request.records : [];
    if (!this.#spool || this.#failure instanceof SpoolWriteError) {
      this.#lost += inFlight.length + this.#takePending(Infinity).length;
      return this.#spool?.count ?? 0;
    }
    try {
      this.#spool.prepend(inFlight);
      this.spooled += inFlight.length;
    } catch (error) {
      this.#lost += inFlight.length;
      this.#spoolFailed(error);
    }
    this.#toSpool(this.#takePending(Infinity));
    return this.#spool.count;
  }

  /** Commits `records` to the spool; when that fails (a full disk), they count as not kept and the run ends. */
  #toSpool(records: readonly OutRecord[]): void {
    if (records.length === 0) return;
    if (this.#failure instanceof SpoolWriteError) {
      this.#lost += records.length;
      return;
    }
    try {
      this.#spool!.append(records);
    } catch (error) {
      this.#lost += records.length;
      this.#spoolFailed(error);
      return;
    }
    this.spooled += records.length;
    this.#notify();
  }

  /** Up to `perTopic` records of each topic, oldest first, and at most `maxBytes` in all (at least one record). */
  #takePending(perTopic: number, maxBytes = Infinity): OutRecord[] {
    const taken: OutRecord[] = [];
    let bytes = 0;
    for (const [topic, queue] of this.#pending) {
      const fit = recordsWithin(queue, { limit: perTopic, maxBytes, usedBytes: bytes });
      // Fewer than the topic could give: the request is full, the other topics wait for the next.
      const full = fit.count < Math.min(perTopic, queue.length);
      bytes = fit.bytes;
      if (fit.count === queue.length) {
        taken.push(...queue);
        this.#pending.delete(topic);
      } else if (fit.count > 0) {
        taken.push(...queue.splice(0, fit.count));
      }
      if (full) break;
    }
    this.#pendingCount -= taken.length;
    this.#notify();
    return taken;
  }

  #fullBatchWaits(): boolean {
    for (const queue of this.#pending.values()) if (queue.length >= this.#batchRecords) return true;
    return false;
  }

  #lingered(): boolean {
    return Date.now() - this.#pendingSinceMs >= this.#lingerMs;
  }

  #armLinger(): void {
    if (this.#lingerTimer !== undefined) return;
    const waitMs = Math.max(1, this.#lingerMs - (Date.now() - this.#pendingSinceMs));
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined;
      this.#advance();
    }, waitMs);
  }

  #hasWork(): boolean {
    return this.#resolving || this.#pendingCount > 0 || this.#inFlight !== undefined ||
      (this.#spool?.count ?? 0) > 0;
  }

  #mustHoldWriter(): boolean {
    if (this.#failure || this.#parked) return false;
    if (this.#spoolsNew()) return this.#spool!.full;
    return this.#pendingCount >= this.#highWater;
  }

  /** Wakes writers held back once there is room again, and whoever waits for a change. */
  #notify(): void {
    const room = this.#failure !== undefined || this.#parked ||
      (this.#spoolsNew() ? !this.#spool!.full : this.#pendingCount < this.#lowWater);
    if (room) { for (const resolve of this.#writers.splice(0)) resolve(); }
    for (const resolve of this.#watchers.splice(0)) resolve();
  }

  /** Resolves at the next acknowledgement, failure or park, or after `timeoutMs`. */
  #nextChange(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#watchers.push(done);
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }

  async #release(): Promise<void> {
    clearTimeout(this.#lingerTimer);
    // A close that hangs (a broker gone) is abandoned; its failure is ignored either way.
    await raceDeadline(this.#transport.close().catch(() => {}), 5_000);
    this.#spool?.close();
  }

  #problemSuffix(): string {
    const problem = this.#transport.lastProblem();
    return problem ? ` (${problem})` : "";
  }
}
