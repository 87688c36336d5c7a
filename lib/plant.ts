/**
 * The simulated plant: factories, their sensors and their production lines, built from the
 * validated config and the run's seed.
 */
import type { FactoryConfig } from "./config.ts";
import type { FaultConfig } from "./fault_config.ts";
import type { SignalConfig } from "./waveforms.ts";
import type { Rng } from "./random.ts";
import { quoted, shown } from "./text.ts";

/** A sensor of a factory: `S<i>-<j>` with tier `"<i>.<j>"`. */
export interface Sensor {
  factoryId: string;
  sensorId: string;
  tier: string;
}

/** A production line: `total` readings of one soda, taken by one sensor. */
export interface Line {
  factoryId: string;
  /** Position of the line in its factory's config entry; names its random stream. */
  index: number;
  sodaName: string;
  total: number;
  sensor: Sensor;
  /** How its values move (the config's defaults when undefined). */
  signal?: SignalConfig;
  /** Its faults (the config's defaults when undefined). */
  faults?: FaultConfig[];
}

/** A factory with its sensors and the lines that run in it. */
export interface Factory {
  id: string;
  sensors: Sensor[];
  lines: Line[];
}

/** What a line's timing depends on: its stream (factory and index) and how many readings it takes. */
export interface LineTiming {
  factoryId: string;
  index: number;
  total: number;
}

/** Everything the simulation runs. */
export interface Plant {
  factories: Factory[];
  /**
   * A shard's plant: every line of the whole plant, the other shards' too, as far as their timing
   * goes, so that a shard ends when the whole plant's lines are done (undefined: `factories` is the
   * whole plant).
   */
  wholePlantLines?: LineTiming[];
}

/** Fewest and most sensors a factory gets. */
export const SENSORS_PER_FACTORY = { min: 3, max: 5 } as const;

/** What generated lines bottle (`--generate-lines`): each line draws one from the seed. */
export const SODA_NAMES = [
  "Coca-Cola",
  "Pepsi",
  "Sprite",
  "Fanta",
  "7Up",
  "Dr Pepper",
  "Mountain Dew",
  "Schweppes",
  "Root Beer",
  "Ginger Ale",
  "Tonic Water",
  "Club Soda",
  "Cream Soda",
  "Orange Crush",
  "Lemonade",
  "Cherry Cola",
] as const;

/** Fewest and most readings (`number`) a generated line takes. */
export const GENERATED_NUMBER = { min: 5, max: 20 } as const;

/**
 * A process's share of the factories: shard `index` of `count` (1 <= index <= count) runs the
 * factories Fk with ((k - 1) mod count) + 1 = index.
 */
export interface Shard {
  index: number;
  count: number;
}

/** The shard (1..count) factory `F<factoryNumber>` belongs to. */
export function shardOf(factoryNumber: number, count: number): number {
  return ((factoryNumber - 1) % count) + 1;
}

/** A plant, and what in the config did not fit it (the run goes on regardless). */
export interface BuiltPlant {
  plant: Plant;
  warnings: string[];
}

/**
 * Builds `factoryCount` factories F1..Fn, each with 3-5 sensors drawn from its own random
 * stream, and attaches to each the lines the config gives it. `file` names the config in warnings.
 * With `generate`, a factory without an entry in the config gets generated lines instead (one per
 * sensor unless `linesPerFactory` says). With `shard`, only that shard's factories are built and
 * warned about, each the same as in the whole plant; the other factories' lines are bound too, but
 * only their timing is kept (`Plant.wholePlantLines`). `sensorsPerFactory` replaces the drawn number
 * of sensors (`validate` without a seed checks against the most a seed gives).
 */
export function buildPlant(
  config: FactoryConfig,
  { factoryCount, rng, file = "factory_config.json", generate, shard, sensorsPerFactory }: {
    factoryCount: number;
    rng: Rng;
    file?: string;
    generate?: { linesPerFactory?: number };
    shard?: Shard;
    sensorsPerFactory?: number;
  },
): BuiltPlant {
  const warnings: string[] = [];
  const factories: Factory[] = [];
  const idle: string[] = [];
  // A shard also binds the other shards' factories' lines (without warnings), to time them.
  const wholePlantLines: LineTiming[] | undefined = shard && [];
  for (let i = 1; i <= factoryCount; i++) {
    const mine = shard === undefined || shardOf(i, shard.count) === shard.index;
    if (!mine && wholePlantLines === undefined) continue;
    const id = `F${i}`;
    const sensorCount = sensorsPerFactory ??
      rng.derive(`factory/${id}`).int(SENSORS_PER_FACTORY.min, SENSORS_PER_FACTORY.max);
    const sensors: Sensor[] = [];
    for (let j = 1; j <= sensorCount; j++) sensors.push({ factoryId: id, sensorId: `S${i}-${j}`, tier: `${i}.${j}` });
    const factory: Factory = { id, sensors, lines: [] };
    const entries = Object.hasOwn(config, id) ? config[id] : undefined;
    if (entries === undefined && generate !== undefined) {
      factory.lines = generatedLines(factory, rng, generate.linesPerFactory);
    } else if (entries === undefined || entries.length === 0) {
      if (mine) idle.push(id);
    } else {
      factory.lines = configLines(factory, entries, mine ? { file, warnings } : undefined);
    }
    if (mine) factories.push(factory);
    if (wholePlantLines !== undefined) {
      for (const { factoryId, index, total } of factory.lines) wholePlantLines.push({ factoryId, index, total });
    }
  }
  if (idle.length > 0) {
    const names = idle.length <= 10 ? idle.join(", ") : `${idle.slice(0, 10).join(", ")} and ${idle.length - 10} more`;
    const verb = idle.length === 1 ? "has" : "have";
    warnings.push(`${file}: ${names} ${verb} no production lines: their sensors only send heartbeats`);
  }
  const unknown = Object.keys(config).filter((id) => !/^F[1-9]\d*$/.test(id) || Number(id.slice(1)) > factoryCount);
  for (const id of unknown) {
    warnings.push(
      `${shown(file)}: ${
        shown(id)
      } is not a simulated factory (factories are F1..F${factoryCount}): its lines are ignored`,
    );
  }
  return { plant: wholePlantLines ? { factories, wholePlantLines } : { factories }, warnings };
}

/**
 * The config's lines of `factory`, bound to its sensors: a line on a sensor the factory lacks is
 * skipped. With `report`, each skipped line is a warning, and so is each sensor several lines share
 * (one warning a sensor, however many lines share it).
 */
function configLines(
  factory: Factory,
  entries: NonNullable<FactoryConfig[string]>,
  report: { file: string; warnings: string[] } | undefined,
): Line[] {
  const { id, sensors } = factory;
  const bySensor = new Map(sensors.map((sensor) => [sensor.sensorId, sensor]));
  /** Sensor id -> the indexes of the lines on it, in config order. */
  const users = new Map<string, number[]>();
  const lines: Line[] = [];
  entries.forEach((entry, index) => {
    const sensor = bySensor.get(entry.sensorID);
    if (sensor === undefined) {
      report?.warnings.push(
        `${shown(report.file)}: ${id}[${index}].sensorID ${quoted(String(entry.sensorID))} is not a sensor of ${id} ` +
          `(it has ${sensors[0].sensorId}..${sensors[sensors.length - 1].sensorId}): line ${
            quoted(entry.sodaName)
          } skipped`,
      );
      return;
    }
    let onSensor = users.get(sensor.sensorId);
    if (onSensor === undefined) users.set(sensor.sensorId, onSensor = []);
    onSensor.push(index);
    lines.push({
      factoryId: id,
      index,
      sodaName: entry.sodaName,
      total: entry.number,
      sensor,
      ...(entry.signal ? { signal: entry.signal } : {}),
      ...(entry.faults ? { faults: entry.faults } : {}),
    });
  });
  if (report !== undefined) {
    for (const [sensorId, indexes] of users) {
      if (indexes.length < 2) continue;
      const [first, ...others] = indexes.map((index) => `${id}[${index}]`);
      report.warnings.push(
        others.length === 1
          ? `${shown(report.file)}: ${
            others[0]
          } and ${first} both use sensor ${sensorId}: its readings of both lines share one key`
          : `${shown(report.file)}: ${
            others.length <= 3 ? others.join(", ") : `${others.slice(0, 3).join(", ")} and ${others.length - 3} more`
          } use sensor ${sensorId} as ${first} does: the readings of these ${indexes.length} lines share one key`,
      );
    }
  }
  return lines;
}

/**
 * `linesPerFactory` lines (default: one per sensor) on the factory's sensors in turn, with soda
 * names and numbers drawn from the factory's own stream: adding factories, or running the factory
 * in another shard, does not change them.
 */
function generatedLines(factory: Factory, rng: Rng, linesPerFactory = factory.sensors.length): Line[] {
  const stream = rng.derive(`generate/${factory.id}`);
  const lines: Line[] = [];
  for (let index = 0; index < linesPerFactory; index++) {
    const sodaName = SODA_NAMES[stream.int(0, SODA_NAMES.length - 1)];
    const total = stream.int(GENERATED_NUMBER.min, GENERATED_NUMBER.max);
    lines.push({
      factoryId: factory.id,
      index,
      sodaName,
      total,
      sensor: factory.sensors[index % factory.sensors.length],
    });
  }
  return lines;
}

/** Every line of the plant, factory by factory. */
export function allLines(plant: Plant): Line[] {
  return plant.factories.flatMap((factory) => factory.lines);
}

/** Every sensor of the plant, factory by factory. */
export function allSensors(plant: Plant): Sensor[] {
  return plant.factories.flatMap((factory) => factory.sensors);
}
