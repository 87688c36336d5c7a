/**
 * `factory-sim validate`: checks a config as a run would, without running it. The same
 * `loadConfig` (every problem at once, the same messages) and the same plant warnings
 * (`buildPlant`, for the same `--factories`), and nothing that needs the network or Kafka. Loaded on
 * demand; its options and their parser are in `validate_options.ts`.
 */
import { type FactoryConfig, loadConfig } from "./config.ts";
import { type ProcessIo, writeText } from "./io.ts";
import { log } from "./log.ts";
import { allLines, allSensors, buildPlant, SENSORS_PER_FACTORY } from "./plant.ts";
import { Rng } from "./random.ts";
import { count, shown } from "./text.ts";
import type { ValidateOptions } from "./validate_options.ts";

/**
 * `factory-sim validate`: problems thrown (so reported as a run reports them), warnings on stderr,
 * the verdict on stdout. Resolves to the exit code.
 */
export async function runValidate(options: ValidateOptions, io: Pick<ProcessIo, "stdout">): Promise<number> {
  const report = await validateConfigFile(options);
  for (const warning of report.warnings) log().warn(warning);
  await writeText(io.stdout, `${verdictLine(options, report)}\n`);
  return 0;
}

/**
 * The `ok:` line: what the file has, and what a run with these flags simulates, e.g. `ok: PATH: the
 * file has 2 factory entries and 3 lines; a run with --factories 3 simulates 3 factories, 9-15 sensors
 * (3-5 a factory, drawn from the seed) and 2-3 lines (by seed)`.
 */
export function verdictLine({ path, factories, seed }: ValidateOptions, report: ValidateReport): string {
  const range = (r: { min: number; max: number }, singular: string) =>
    r.min === r.max ? count(r.max, singular) : `${r.min}-${r.max} ${singular}s`;
  const { sensors, lines } = report.simulated;
  const flags = `--factories ${factories}${seed === undefined ? "" : ` --seed ${seed}`}`;
  const sensorsText = `${range(sensors, "sensor")}${
    sensors.min === sensors.max ? "" : ` (${SENSORS_PER_FACTORY.min}-${SENSORS_PER_FACTORY.max} a factory, by seed)`
  }`;
  const linesText = `${range(lines, "line")}${lines.min === lines.max ? "" : " (by seed)"}`;
  return `ok: ${shown(path)}: the file has ${count(report.factories, "factory entry", "factory entries")} and ` +
    `${count(report.lines, "line")}; a run with ${flags} simulates ${count(factories, "factory", "factories")}, ` +
    `${sensorsText} and ${linesText}`;
}

/** A run's warning when it has no lines (a run names the one of these ends it has). */
const NO_LINES =
  "no production lines to run: heartbeats go on until the run is stopped, --duration has passed or the backfill ends";

/** A usable config: what a run would warn about, and its size. */
export interface ValidateReport {
  warnings: string[];
  /** Factory entries and lines in the file. */
  factories: number;
  lines: number;
  /** What a run with the same flags simulates: sensors and lines (a range when the seed decides). */
  simulated: { sensors: { min: number; max: number }; lines: { min: number; max: number } };
}

/**
 * Validates the config at `path` as a run with `factories` (and `seed`) would. Throws what a run
 * throws (`ConfigError` listing every problem, `PermissionError`); resolves to the warnings.
 * Without a seed, factories are checked with the most sensors a seed can give them, and lines on
 * sensors that only some seeds give are warned about.
 */
export async function validateConfigFile({ path, factories, seed }: ValidateOptions): Promise<ValidateReport> {
  const { factories: config, warnings: configWarnings } = await loadConfig(path);
  const { plant, warnings: plantWarnings } = buildPlant(config, {
    factoryCount: factories,
    rng: new Rng(seed ?? 0),
    file: path,
    sensorsPerFactory: seed === undefined ? SENSORS_PER_FACTORY.max : undefined,
  });
  const seedWarnings = seed === undefined ? seedDependentSensors(config, factories, path) : [];
  const linesRun = allLines(plant).length;
  const sensorsRun = allSensors(plant).length;
  // A run says how long its heartbeats go on, which depends on its flags.
  const idle = linesRun === 0 ? [NO_LINES] : [];
  return {
    warnings: [...configWarnings, ...plantWarnings, ...seedWarnings, ...idle],
    factories: Object.keys(config).length,
    lines: Object.values(config).reduce((sum, lines) => sum + lines.length, 0),
    simulated: seed === undefined
      ? {
        sensors: { min: factories * SENSORS_PER_FACTORY.min, max: factories * SENSORS_PER_FACTORY.max },
        lines: { min: linesRun - seedWarnings.length, max: linesRun },
      }
      : {
        sensors: { min: sensorsRun, max: sensorsRun },
        lines: { min: linesRun, max: linesRun },
      },
  };
}

/** Lines on a sensor `Si-4` or `Si-5` of a simulated factory: a run skips them unless its seed gives `Fi` that many. */
function seedDependentSensors(
  config: FactoryConfig,
  factories: number,
  file: string,
): string[] {
  const warnings: string[] = [];
  for (let i = 1; i <= factories; i++) {
    const id = `F${i}`;
    const entries = Object.hasOwn(config, id) ? config[id] : [];
    entries.forEach((entry, index) => {
      const match = new RegExp(`^S${i}-(\\d+)$`).exec(entry.sensorID);
      const n = match ? Number(match[1]) : 0;
      if (n > SENSORS_PER_FACTORY.min && n <= SENSORS_PER_FACTORY.max) {
        warnings.push(
          `${file}: ${id}[${index}].sensorID "${entry.sensorID}" exists only when the seed gives ${id} ${n} or more ` +
            `sensors (${SENSORS_PER_FACTORY.min}-${SENSORS_PER_FACTORY.max} are drawn): other runs skip line ` +
            `"${entry.sodaName}" (validate --seed N checks one seed)`,
        );
      }
    });
  }
  return warnings;
}
