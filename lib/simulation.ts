/**
 * Runs a plant on a scheduler: every sensor heartbeats and every line takes its readings, all on
 * the one timer queue, until every line is done (or the run is aborted).
 */
import { allLines, allSensors, type Line, type Plant, type Sensor } from "./plant.ts";
import type { Rng } from "./random.ts";
import type { Scheduler, Task } from "./scheduler.ts";

/** Bounds of the interval between two heartbeats of a sensor, in simulated milliseconds. */
export const HEARTBEAT_INTERVAL_MS = { min: 1_000, max: 2_000 } as const;
/** Bounds of the interval between two readings of a line, in simulated milliseconds. */
export const READING_INTERVAL_MS = { min: 2_000, max: 5_000 } as const;
/** Bounds of a reading's value, both inclusive. */
export const READING_RANGE = { min: 0, max: 100 } as const;

/** A line's reading. */
export interface Reading {
  kind: "reading";
  factoryId: string;
  sensorId: string;
  tier: string;
  sodaName: string;
  reading: number;
  /** 1..total: this reading's position in the line's run. */
  count: number;
  total: number;
  /** Simulated time of the reading, epoch milliseconds. */
  timeMs: number;
}

/** A sensor's heartbeat. */
export interface Heartbeat {
  kind: "heartbeat";
  factoryId: string;
  sensorId: string;
  tier: string;
  status: "active";
  timeMs: number;
}

/** What the simulation emits. */
export type SimEvent = Reading | Heartbeat;

/** Where the simulation sends each batch of events that fell due together. */
export type EmitBatch = (events: SimEvent[]) => void | Promise<void>;

/** What a run did, for the end-of-run summary. */
export interface SimulationResult {
  /** True when every line took all of its readings. */
  completed: boolean;
  readings: number;
  heartbeats: number;
  /** Readings taken by each line, in plant order. */
  lines: { line: Line; taken: number }[];
  startMs: number;
  endMs: number;
}

/**
 * Schedules the plant on `scheduler` and runs it. Heartbeats start at once and stop when the last
 * line takes its last reading; a plant with no lines heartbeats until `signal` aborts.
 */
export async function runSimulation(
  plant: Plant,
  { scheduler, rng, emit, signal }: { scheduler: Scheduler; rng: Rng; emit: EmitBatch; signal?: AbortSignal },
): Promise<SimulationResult> {
  const pending: SimEvent[] = [];
  let heartbeats = 0;
  let readings = 0;
  const lines = allLines(plant).map((line) => new LineTask(line, rng, scheduler, onReading));
  let linesLeft = lines.length;

  function onReading(event: Reading, done: boolean): void {
    pending.push(event);
    readings++;
    if (done && --linesLeft === 0) scheduler.clear();
  }

  function onHeartbeat(event: Heartbeat): void {
    pending.push(event);
    heartbeats++;
  }

  const startMs = scheduler.now();
  for (const sensor of allSensors(plant)) scheduler.at(startMs, new HeartbeatTask(sensor, rng, scheduler, onHeartbeat));
  for (const line of lines) line.start();

  await scheduler.run({
    signal,
    onBatch: () => {
      if (pending.length === 0) return;
      return emit(pending.splice(0, pending.length));
    },
  });
  return {
    completed: lines.length > 0 && linesLeft === 0,
    readings,
    heartbeats,
    lines: lines.map((task) => ({ line: task.line, taken: task.count })),
    startMs,
    endMs: scheduler.now(),
  };
}

/** A sensor's heartbeat: emits one, then schedules the next 1-2 s later. */
class HeartbeatTask implements Task {
  readonly #sensor: Sensor;
  readonly #rng: Rng;
  readonly #scheduler: Scheduler;
  readonly #emit: (event: Heartbeat) => void;

  constructor(sensor: Sensor, rng: Rng, scheduler: Scheduler, emit: (event: Heartbeat) => void) {
    this.#sensor = sensor;
    this.#rng = rng.derive(`sensor/${sensor.sensorId}/heartbeat`);
    this.#scheduler = scheduler;
    this.#emit = emit;
  }

  fire(): void {
    const { factoryId, sensorId, tier } = this.#sensor;
    this.#emit({ kind: "heartbeat", factoryId, sensorId, tier, status: "active", timeMs: this.#scheduler.now() });
    this.#scheduler.after(this.#rng.int(HEARTBEAT_INTERVAL_MS.min, HEARTBEAT_INTERVAL_MS.max), this);
  }
}

/** A production line: takes a reading every 2-5 s until it has `total` of them. */
class LineTask implements Task {
  readonly line: Line;
  count = 0;
  readonly #intervals: Rng;
  readonly #values: Rng;
  readonly #scheduler: Scheduler;
  readonly #emit: (event: Reading, done: boolean) => void;

  constructor(line: Line, rng: Rng, scheduler: Scheduler, emit: (event: Reading, done: boolean) => void) {
    this.line = line;
    // Intervals and values come from separate streams so that changing how values are drawn
    // never moves a reading in time.
    const stream = rng.derive(`line/${line.factoryId}/${line.index}`);
    this.#intervals = stream.derive("interval");
    this.#values = stream.derive("value");
    this.#scheduler = scheduler;
    this.#emit = emit;
  }

  start(): void {
    this.#scheduleNext();
  }

  fire(): void {
    const { factoryId, sodaName, total, sensor } = this.line;
    this.count++;
    const done = this.count >= total;
    if (!done) this.#scheduleNext();
    this.#emit({
      kind: "reading",
      factoryId,
      sensorId: sensor.sensorId,
      tier: sensor.tier,
      sodaName,
      reading: this.#values.int(READING_RANGE.min, READING_RANGE.max),
      count: this.count,
      total,
      timeMs: this.#scheduler.now(),
    }, done);
  }

  #scheduleNext(): void {
    this.#scheduler.after(this.#intervals.int(READING_INTERVAL_MS.min, READING_INTERVAL_MS.max), this);
  }
}
