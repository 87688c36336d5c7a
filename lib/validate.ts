/**
 * `factory-sim validate`: checks a config as a run would, without running it. The same
 * `loadConfig` (every problem at once, the same messages) and the same plant warnings
 * (`buildPlant`, for the same `--factories`), and nothing that needs the network or Kafka.
 */
import type { ValidateOptions } from "./cli.ts";
import { type FactoryConfig, loadConfig } from "./config.ts";
import { allLines, buildPlant, SENSORS_PER_FACTORY } from "./plant.ts";
import { Rng } from "./random.ts";

/** A run's warning when it has no lines (a run names the one of these ends it has). */
const NO_LINES =
  "no production lines to run: heartbeats go on until the run is stopped, --duration has passed or the backfill ends";

/** A usable config: what a run would warn about, and its size. */
export interface ValidateReport {
  warnings: string[];
  /** Factories and lines in the file. */
  factories: number;
  lines: number;
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
  // A run says how long its heartbeats go on, which depends on its flags.
  const idle = allLines(plant).length === 0 ? [NO_LINES] : [];
  return {
    warnings: [...configWarnings, ...plantWarnings, ...seedWarnings, ...idle],
    factories: Object.keys(config).length,
    lines: Object.values(config).reduce((sum, lines) => sum + lines.length, 0),
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
