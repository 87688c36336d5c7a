/**
 * Faults a line or its sensor suffers, scheduled (`at` after the start, `for` a while) or random
 * (`perHour`, a Poisson process), with ground truth: every record a fault touches is labelled,
 * and each fault's start and end can go to a topic of their own.
 *
 * Fault times come from streams of their own, so adding faults never moves a reading in time or
 * changes a value it does not touch.
 */
import { DEFAULT_FAULT_MS, DEFAULT_LATE_MS, type FaultConfig, type FaultKind } from "./fault_config.ts";
import { parseDuration } from "./duration.ts";
import type { Line } from "./plant.ts";
import type { Rng } from "./random.ts";
import type { Scheduler, Task } from "./scheduler.ts";

/** A fault that is active now. */
export interface ActiveFault {
  kind: FaultKind;
  faultId: string;
  magnitude: number | undefined;
  lateMs: number;
}

/** A fault's start or end, for the labels topic. */
export interface FaultLabel {
  kind: "label";
  event: "start" | "end";
  fault: FaultKind;
  faultId: string;
  factoryId: string;
  sensorId: string;
  sodaName: string;
  timeMs: number;
}

/** The faults active on each line and sensor; tasks on the scheduler switch them on and off. */
export class FaultState {
  readonly #byLine = new Map<Line, ActiveFault[]>();
  readonly #offlineSensors = new Map<string, number>();
  /** Faults active now, with their line, for the end labels of a run that stops. */
  readonly #active = new Set<{ line: Line; fault: ActiveFault }>();

  /** The faults active on `line` (its own; `offline` of its sensor included). */
  of(line: Line): readonly ActiveFault[] {
    return this.#byLine.get(line) ?? NONE;
  }

  /** Whether `sensorId` is offline now. */
  offline(sensorId: string): boolean {
    return (this.#offlineSensors.get(sensorId) ?? 0) > 0;
  }

  /** Faults still active, to close with end labels when the run ends. */
  stillActive(): { line: Line; fault: ActiveFault }[] {
    return [...this.#active];
  }

  start(line: Line, fault: ActiveFault): { line: Line; fault: ActiveFault } {
    this.#byLine.set(line, [...this.of(line), fault]);
    if (fault.kind === "offline") {
      const id = line.sensor.sensorId;
      this.#offlineSensors.set(id, (this.#offlineSensors.get(id) ?? 0) + 1);
    }
    const entry = { line, fault };
    this.#active.add(entry);
    return entry;
  }

  end(entry: { line: Line; fault: ActiveFault }): void {
    this.#byLine.set(entry.line, this.of(entry.line).filter((f) => f !== entry.fault));
    if (entry.fault.kind === "offline") {
      const id = entry.line.sensor.sensorId;
      this.#offlineSensors.set(id, (this.#offlineSensors.get(id) ?? 1) - 1);
    }
    this.#active.delete(entry);
  }
}

const NONE: readonly ActiveFault[] = Object.freeze([]);

/**
 * Schedules `faults` of `line` on `scheduler`, from `startMs`. Random faults draw their times from
 * `rng` (a stream of the line's own). `label` receives each start and end.
 */
export function scheduleFaults(
  line: Line,
  faults: readonly FaultConfig[],
  { scheduler, rng, state, startMs, label }: {
    scheduler: Scheduler;
    rng: Rng;
    state: FaultState;
    startMs: number;
    label: (event: FaultLabel) => void;
  },
): void {
  faults.forEach((config, index) => {
    const stream = rng.derive(`fault/${index}`);
    const lengthMs = parseDuration(config.for ?? DEFAULT_FAULT_MS / 1000)!;
    let occurrence = 0;
    const labelOf = (event: "start" | "end", fault: ActiveFault): FaultLabel => ({
      kind: "label",
      event,
      fault: fault.kind,
      faultId: fault.faultId,
      factoryId: line.factoryId,
      sensorId: line.sensor.sensorId,
      sodaName: line.sodaName,
      timeMs: scheduler.now(),
    });
    const nextRandomMs = () => {
      // Exponential waiting time of a Poisson process with perHour events per hour.
      const u = 1 - stream.next();
      return Math.max(1, Math.round((-Math.log(u) / config.perHour!) * 3_600_000));
    };
    const startTask: Task = {
      fire() {
        occurrence++;
        const fault: ActiveFault = {
          kind: config.kind,
          faultId: `${line.factoryId}/${line.index}/${index}#${occurrence}`,
          magnitude: config.magnitude,
          lateMs: parseDuration(config.lateBy ?? DEFAULT_LATE_MS / 1000)!,
        };
        const entry = state.start(line, fault);
        label(labelOf("start", fault));
        scheduler.after(Math.max(1, lengthMs), {
          fire() {
            state.end(entry);
            label(labelOf("end", fault));
            if (config.perHour !== undefined) scheduler.after(nextRandomMs(), startTask);
          },
        });
      },
    };
    if (config.at !== undefined) scheduler.at(startMs + parseDuration(config.at)!, startTask);
    else scheduler.at(startMs + nextRandomMs(), startTask);
  });
}

/** The end labels of faults still active when the run ends (at `timeMs`). */
export function closeFaults(state: FaultState, timeMs: number): FaultLabel[] {
  return state.stillActive().map((entry) => {
    state.end(entry);
    const { line, fault } = entry;
    return {
      kind: "label",
      event: "end",
      fault: fault.kind,
      faultId: fault.faultId,
      factoryId: line.factoryId,
      sensorId: line.sensor.sensorId,
      sodaName: line.sodaName,
      timeMs,
    };
  });
}
