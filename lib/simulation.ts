/**
 * Runs a plant on a scheduler: every sensor heartbeats and every line takes its readings, all on
 * the one timer queue, until every line of the whole plant is done, `untilMs`, or the run is
 * aborted.
 */
import type { LineDefaults } from "./config.ts";
import { type ActiveFault, closeFaults, type FaultLabel, FaultState, scheduleFaults } from "./faults.ts";
import { allLines, allSensors, type Line, type LineTiming, type Plant, type Sensor } from "./plant.ts";
import type { Rng } from "./random.ts";
import type { Scheduler, Task } from "./scheduler.ts";
import { createSignal, type Signal, type SignalRange, signalRange } from "./waveforms.ts";

/** Bounds of the interval between two heartbeats of a sensor, in simulated milliseconds. */
export const HEARTBEAT_INTERVAL_MS = { min: 1_000, max: 2_000 } as const;
/** Bounds of the interval between two readings of a line, in simulated milliseconds. */
export const READING_INTERVAL_MS = { min: 2_000, max: 5_000 } as const;

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
  /** Simulated time of the reading, epoch milliseconds (earlier than that during a `late` fault). */
  timeMs: number;
  /** The faults that shaped this reading (`spike`, `stuck,late`...), for its label header. */
  fault?: string;
  /**
   * The line that took it, whose factory, sensor, tier and soda these are: the summary counts the
   * reading on it without a lookup by name. Readings built elsewhere leave it out and are found by
   * their fields.
   */
  line?: Line;
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

/** What the simulation emits: readings, heartbeats, and the start and end of each fault. */
export type SimEvent = Reading | Heartbeat | FaultLabel;

/** Where the simulation sends each batch of events that fell due together. */
export type EmitBatch = (events: SimEvent[]) => void | Promise<void>;

/** What a run did, for the end-of-run summary. */
export interface SimulationResult {
  /** True when every line of the whole plant (every shard's) took all of its readings. */
  completed: boolean;
  /** True when the run ended because simulated time reached `untilMs`. */
  reachedEnd: boolean;
  readings: number;
  heartbeats: number;
  /** Fault starts and ends. */
  labels: number;
  /** Readings taken by each line, in plant order. */
  lines: { line: Line; taken: number }[];
  startMs: number;
  endMs: number;
}

/**
 * Schedules the plant on `scheduler` and runs it. Heartbeats start at once and stop when the whole
 * plant's last line takes its last reading (everything else due at that instant included), or at
 * `untilMs` (nothing due then included), whichever comes first; a plant with no lines, or with
 * `continuous`, heartbeats until `untilMs` or until `signal` aborts. A shard's plant ends as the
 * whole plant does (`Plant.wholePlantLines`), so the shards' events together are the whole's.
 */
export async function runSimulation(
  plant: Plant,
  { scheduler, rng, emit, signal, defaults = {}, continuous = false, untilMs }: {
    scheduler: Scheduler;
    rng: Rng;
    emit: EmitBatch;
    signal?: AbortSignal;
    /** A line that has taken its `total` readings starts a new batch of them (count from 1 again). */
    continuous?: boolean;
    /** The run ends when simulated time reaches this (epoch ms); nothing due then or later is emitted. */
    untilMs?: number;
    /** Signal and faults of lines that set none (the config's `defaults`). */
    defaults?: LineDefaults;
  },
): Promise<SimulationResult> {
  const pending: SimEvent[] = [];
  let heartbeats = 0;
  let readings = 0;
  let labels = 0;
  const faults = new FaultState();
  const startMs = scheduler.now();
  const lines = allLines(plant).map((line) =>
    new LineTask(line, { rng, scheduler, faults, defaults, continuous, emit: onReadings })
  );

  function onReadings(events: Reading[]): void {
    for (const event of events) pending.push(event);
    readings += events.length;
  }

  function onHeartbeat(event: Heartbeat): void {
    if (faults.offline(event.sensorId)) return;
    pending.push(event);
    heartbeats++;
  }

  function onLabel(event: FaultLabel): void {
    pending.push(event);
    labels++;
  }

  let reachedEnd = false;
  let completed = false;
  // Queued first, so at `untilMs` it fires before anything else due then: the run covers
  // [start, untilMs). An entry of its own adds no draws, so the events before it do not change.
  if (untilMs !== undefined) {
    scheduler.at(untilMs, {
      fire() {
        reachedEnd = true;
        scheduler.clear();
      },
    });
  }
  // Every shard finds the same instant, from the lines' interval streams alone. Queued after
  // everything due then, whenever that was queued: the run covers [start, the last reading].
  // Continuous lines are never done.
  if (!continuous) {
    watchLinesDone(plant.wholePlantLines ?? lines.map((task) => task.line), {
      rng,
      scheduler,
      onDone(doneMs) {
        if (untilMs !== undefined && doneMs >= untilMs) return;
        scheduler.atLast(doneMs, {
          fire() {
            completed = true;
            scheduler.clear();
          },
        });
      },
    });
  }
  for (const sensor of allSensors(plant)) scheduler.at(startMs, new HeartbeatTask(sensor, rng, scheduler, onHeartbeat));
  for (const line of lines) {
    line.start();
    const lineFaults = line.line.faults ?? defaults.faults;
    if (lineFaults && lineFaults.length > 0) {
      scheduleFaults(line.line, lineFaults, {
        scheduler,
        rng: lineStream(rng, line.line),
        state: faults,
        startMs,
        label: onLabel,
      });
    }
  }

  await scheduler.run({
    signal,
    onBatch: () => {
      if (pending.length === 0) return;
      return emit(pending.splice(0, pending.length));
    },
  });
  // Faults still active when the run ends end with it, so every start label has its end.
  const closing = closeFaults(faults, scheduler.now());
  if (closing.length > 0) {
    labels += closing.length;
    await emit(closing);
  }
  return {
    completed,
    reachedEnd,
    readings,
    heartbeats,
    labels,
    lines: lines.map((task) => ({ line: task.line, taken: task.taken })),
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
  /** Position of the last reading in the current batch (1..total). */
  count = 0;
  /** Readings taken over every batch. */
  taken = 0;
  readonly #continuous: boolean;
  readonly #intervals: Rng;
  readonly #signal: Signal;
  readonly #values: Rng;
  readonly #range: SignalRange;
  readonly #faults: FaultState;
  readonly #scheduler: Scheduler;
  readonly #emit: (events: Reading[]) => void;
  /** The last value sent, and the value a `stuck` fault holds. */
  #lastValue: number | undefined;
  #stuckAt: number | undefined;

  constructor(
    line: Line,
    { rng, scheduler, faults, defaults, continuous = false, emit }: {
      rng: Rng;
      scheduler: Scheduler;
      faults: FaultState;
      defaults: LineDefaults;
      continuous?: boolean;
      emit: (events: Reading[]) => void;
    },
  ) {
    this.line = line;
    this.#continuous = continuous;
    // Intervals and values come from separate streams so that changing how values are drawn
    // never moves a reading in time.
    const stream = lineStream(rng, line);
    this.#intervals = intervalStream(stream);
    const signal = line.signal ?? defaults.signal;
    this.#signal = createSignal(signal, scheduler.now());
    this.#values = stream.derive("value");
    this.#range = signalRange(signal);
    this.#faults = faults;
    this.#scheduler = scheduler;
    this.#emit = emit;
  }

  start(): void {
    this.#scheduleNext();
  }

  fire(): void {
    const { factoryId, sodaName, total, sensor } = this.line;
    // Continuous: the batch after a finished one counts from 1 again (its first reading one
    // interval after the last one). Without it, a finished line never fires again.
    if (this.count >= total) this.count = 0;
    this.count++;
    this.taken++;
    const done = this.count >= total && !this.#continuous;
    if (!done) this.#scheduleNext();
    const now = this.#scheduler.now();
    // Drawn whatever the faults, so a fault never shifts the values after it.
    const drawn = this.#signal(now, this.#values);
    const active = this.#faults.of(this.line);
    const { value, timeMs, copies } = active.length === 0
      ? { value: drawn, timeMs: now, copies: 1 }
      : this.#applyFaults(active, drawn, now);
    if (active.length === 0) this.#stuckAt = undefined;
    this.#lastValue = value;
    const reading: Reading = {
      kind: "reading",
      factoryId,
      sensorId: sensor.sensorId,
      tier: sensor.tier,
      sodaName,
      reading: value,
      count: this.count,
      total,
      timeMs,
      line: this.line,
    };
    if (active.length > 0) reading.fault = [...new Set(active.map((fault) => fault.kind))].join(",");
    this.#emit(copies === 1 ? [reading] : Array.from({ length: copies }, () => reading));
  }

  /** What the active faults make of a reading drawn as `value` at `now`. */
  #applyFaults(
    active: readonly ActiveFault[],
    drawn: number,
    now: number,
  ): { value: number; timeMs: number; copies: number } {
    const { min, max, decimals } = this.#range;
    const span = max - min;
    let value = drawn;
    let timeMs = now;
    let copies = 1;
    let stuck = false;
    for (const fault of active) {
      switch (fault.kind) {
        case "offline":
        case "dropout":
          copies = 0;
          break;
        case "stuck":
          stuck = true;
          break;
        case "spike":
          value = Math.min(max, value + (fault.magnitude ?? span / 4));
          break;
        case "dip":
          value = Math.max(min, value - (fault.magnitude ?? span / 4));
          break;
        case "out_of_range":
          value = max + (fault.magnitude ?? span / 10);
          break;
        case "duplicate":
          if (copies > 0) copies = 2;
          break;
        case "late":
          timeMs = now - fault.lateMs;
          break;
      }
    }
    if (stuck) {
      this.#stuckAt ??= this.#lastValue ?? value;
      value = this.#stuckAt;
    } else {
      this.#stuckAt = undefined;
    }
    const scale = 10 ** decimals;
    return { value: Math.round(value * scale) / scale, timeMs, copies };
  }

  #scheduleNext(): void {
    this.#scheduler.after(nextInterval(this.#intervals), this);
  }
}

/** A line's own stream, from which its values, intervals and faults derive theirs. */
function lineStream(rng: Rng, line: LineTiming): Rng {
  return rng.derive(`line/${line.factoryId}/${line.index}`);
}

/** The stream of a line's reading intervals (apart from its values, so values never move a reading in time). */
function intervalStream(lineStream: Rng): Rng {
  return lineStream.derive("interval");
}

/** The interval before a line's next reading, drawn from its interval stream. */
function nextInterval(intervals: Rng): number {
  return intervals.int(READING_INTERVAL_MS.min, READING_INTERVAL_MS.max);
}

/** How far ahead of the clock `watchLinesDone` draws the lines' intervals, simulated ms. */
export const LINES_DONE_HORIZON_MS = 60_000;

/**
 * Finds when the last of `lines` takes its last reading and tells `onDone` ahead of that time:
 * a line's k-th reading comes k intervals after the start, each drawn from its interval stream
 * alone, so this needs no values, faults, or the other shards' factories. It draws lazily, up to
 * `LINES_DONE_HORIZON_MS` ahead of the clock (a task on the scheduler), so a line of a billion
 * readings costs nothing up front; a line that cannot be the last (it ends by the time the longest
 * has to, drawn or not) is never drawn. No lines: never done, and `onDone` is not called.
 */
export function watchLinesDone(
  lines: readonly LineTiming[],
  { rng, scheduler, onDone }: { rng: Rng; scheduler: Scheduler; onDone: (doneMs: number) => void },
): void {
  if (lines.length === 0) return;
  const startMs = scheduler.now();
  const longest = lines.reduce((most, line) => Math.max(most, line.total), 0);
  // The longest line ends no sooner than this: lines sure to end by then cannot be the last.
  const leastDoneMs = startMs + longest * READING_INTERVAL_MS.min;
  const pending = lines
    .filter((line) => startMs + line.total * READING_INTERVAL_MS.max > leastDoneMs)
    .map((line) => ({ intervals: intervalStream(lineStream(rng, line)), left: line.total, timeMs: startMs }));
  let doneMs = -Infinity;
  const watch: Task = {
    fire() {
      const horizonMs = scheduler.now() + LINES_DONE_HORIZON_MS;
      for (let i = pending.length - 1; i >= 0; i--) {
        const line = pending[i];
        while (line.left > 0 && line.timeMs <= horizonMs) {
          line.timeMs += nextInterval(line.intervals);
          line.left--;
        }
        if (line.left > 0) continue;
        if (line.timeMs > doneMs) doneMs = line.timeMs;
        pending[i] = pending[pending.length - 1];
        pending.pop();
      }
      // A line still pending ends after the horizon, so the next watch comes before the end.
      if (pending.length === 0) onDone(doneMs);
      else scheduler.after(LINES_DONE_HORIZON_MS, watch);
    },
  };
  watch.fire();
}
