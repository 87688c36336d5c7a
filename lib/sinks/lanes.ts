/**
 * Several producers at once (`--producers N`): the records are split into lanes by key, each lane
 * a `DeliverySink` of its own over a producer of its own (an idempotent producer allows one
 * request in flight) with a spool file of its own. A key always falls in the same lane, so its
 * records keep their order; each lane keeps its records exactly once as a single sink does (its
 * request in flight, its spool, its records in doubt). The lane of a key is its murmur2 hash modulo
 * the lanes (`Lanes.laneOf`, from the Kafka layer), independent of the topics' partition counts:
 * when the lanes divide a topic's partitions (partition = murmur2 mod partitions), each lane owns
 * a fixed set of that topic's partitions.
 *
 * The lanes of a spool dir are fixed while it holds records: a key's spooled records are in its
 * lane's file, so a run that finds records kept by a run with another number of producers uses
 * that number until they are sent (`openLaneSpools`).
 */
import { readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { RunError } from "../errors.ts";
import { log } from "../log.ts";
import type { OutRecord } from "../messages.ts";
import { MAX_PRODUCERS } from "../run/options.ts";
import { shown } from "../text.ts";
import type { DeliverySink } from "./delivery.ts";
import type { DeliveryObserver, Sink } from "./sink.ts";
import { Spool, SPOOL_FILE, type SpoolOptions } from "./spool.ts";

/** The spool file of `lane` (0-based) of `lanes`: `spool.db` for one producer, else `spool-2of4.db`. */
export function laneSpoolFile(lane: number, lanes: number): string {
  return lanes === 1 ? SPOOL_FILE : `spool-${lane + 1}of${lanes}.db`;
}

const LANE_FILE = /^spool(?:-(\d+)of(\d+))?\.db$/;

/** The spool files (of any number of producers) in `dir`; none when it cannot be read. */
export function laneFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => LANE_FILE.test(name));
  } catch {
    return [];
  }
}

/**
 * Opens the spools of `producers` lanes in `dir` (maxBytes is the bound of all of them together).
 * When the dir holds records kept by a run with another number of producers, opens that number
 * instead (said in one line): those records must go out through the lanes they were kept in.
 * Throws what `Spool.open` throws, and a `RunError` when the dir holds records of two such runs.
 */
export function openLaneSpools(
  dir: string,
  producers: number,
  { maxBytes, ...options }: Omit<SpoolOptions, "file">,
): Spool[] {
  // Every number of producers the dir has files of, this run's included.
  const found = new Set<number>([producers]);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // A dir that does not exist yet (or cannot be read: Spool.open says so below).
  }
  for (const name of names) {
    const match = LANE_FILE.exec(name);
    if (!match) continue;
    const lanes = match[2] === undefined ? 1 : Number(match[2]);
    if (lanes >= 1 && lanes <= MAX_PRODUCERS) found.add(lanes);
  }
  const openAll = (lanes: number): Spool[] => {
    const spools: Spool[] = [];
    try {
      for (let lane = 0; lane < lanes; lane++) {
        spools.push(
          Spool.open(dir, { ...options, maxBytes: Math.ceil(maxBytes / lanes), file: laneSpoolFile(lane, lanes) }),
        );
      }
    } catch (error) {
      for (const spool of spools) spool.close();
      throw error;
    }
    return spools;
  };
  /** Closes `spools` and deletes their files (empty ones of a number of producers not in use). */
  const remove = (spools: Spool[]) => {
    for (const spool of spools) {
      spool.close();
      for (const suffix of ["", "-wal", "-shm"]) rmSync(spool.path + suffix, { force: true });
    }
  };
  /** The sets that hold records, and this run's own set when it is empty. */
  const holding: Spool[][] = [];
  let own: Spool[] | undefined;
  try {
    for (const lanes of [...found].sort((a, b) => a - b)) {
      const spools = openAll(lanes);
      if (spools.some((spool) => spool.count > 0)) holding.push(spools);
      else if (lanes === producers) own = spools;
      else remove(spools);
    }
  } catch (error) {
    for (const spools of [...holding, own ?? []]) for (const spool of spools) spool.close();
    throw error;
  }
  if (holding.length > 1) {
    for (const spools of [...holding, own ?? []]) for (const spool of spools) spool.close();
    throw new RunError(
      `--spool-dir ${shown(dir)} holds records kept by runs with ${holding.map((set) => set.length).join(" and ")} ` +
        `producers: move one set of files (${shown(join(dir, laneSpoolFile(0, holding[1].length)))} ...) to another ` +
        "dir and send it with a run of its own",
    );
  }
  const [chosen] = holding;
  if (chosen === undefined) return own!;
  if (chosen.length !== producers) {
    if (own) remove(own);
    const held = chosen.reduce((sum, spool) => sum + spool.count, 0);
    log("kafka").info(
      `the spool ${shown(resolve(dir))} holds ${held} records kept by a run with ${chosen.length} producer${
        chosen.length === 1 ? "" : "s"
      }: this run uses ${chosen.length} too (--producers ${producers} applies once they are sent)`,
    );
  }
  return chosen;
}

/** A sink over one `DeliverySink` a lane; records go to the lane of their key. */
export class LanesSink implements Sink {
  readonly name: string;
  readonly #lanes: readonly DeliverySink[];
  readonly #laneOf: (key: string) => number;
  #observer: DeliveryObserver | undefined;

  constructor(lanes: readonly DeliverySink[], laneOf: (key: string) => number, name = "kafka") {
    if (lanes.length === 0) throw new RangeError("LanesSink needs at least one lane");
    this.#lanes = lanes;
    this.#laneOf = laneOf;
    this.name = name;
  }

  /** The number of lanes (producers). */
  get lanes(): number {
    return this.#lanes.length;
  }

  get delivered(): number {
    return this.#sum((lane) => lane.delivered);
  }

  get pending(): number {
    return this.#sum((lane) => lane.pending);
  }

  get spoolRecords(): number {
    return this.#sum((lane) => lane.spoolRecords);
  }

  /** Whether any lane's Kafka has stopped acknowledging. */
  get stalled(): boolean {
    return this.#lanes.some((lane) => lane.stalled);
  }

  get spoolCounts(): { spooled: number; replayed: number; alreadyInKafka: number } {
    return {
      spooled: this.#sum((lane) => lane.spooled),
      replayed: this.#sum((lane) => lane.replayed),
      alreadyInKafka: this.#sum((lane) => lane.alreadyInKafka),
    };
  }

  get observer(): DeliveryObserver | undefined {
    return this.#observer;
  }

  set observer(observer: DeliveryObserver | undefined) {
    this.#observer = observer;
    for (const lane of this.#lanes) lane.observer = observer;
  }

  /**
   * Hands each lane its records. Every lane gets its share even when one has failed (a failed
   * lane keeps its share in its spool, as a single sink does), then the first failure is thrown.
   */
  write(records: OutRecord[]): void | Promise<void> {
    const count = this.#lanes.length;
    const shares: OutRecord[][] = Array.from({ length: count }, () => []);
    for (const record of records) shares[this.#laneOf(record.key)].push(record);
    let failure: unknown;
    let waits: Promise<void>[] | undefined;
    for (let lane = 0; lane < count; lane++) {
      if (shares[lane].length === 0) continue;
      try {
        const wait = this.#lanes[lane].write(shares[lane]);
        if (wait) (waits ??= []).push(wait);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    if (waits) return Promise.all(waits).then(() => {});
  }

  /** Closes every lane (delivering what each holds); then throws the first failure. */
  async close(): Promise<void> {
    const outcomes = await Promise.allSettled(this.#lanes.map((lane) => lane.close()));
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Parks every lane; resolves to the records the spools hold together. */
  async park(): Promise<number> {
    const kept = await Promise.all(this.#lanes.map((lane) => lane.park()));
    return kept.reduce((sum, n) => sum + n, 0);
  }

  #sum(of: (lane: DeliverySink) => number): number {
    let sum = 0;
    for (const lane of this.#lanes) sum += of(lane);
    return sum;
  }
}
