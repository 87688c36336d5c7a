/**
 * `factory-sim validate`'s options and their parser, apart from the command (`validate.ts`, loaded
 * on demand): parsing the command line does not load the config's schemas.
 */
import { UsageError } from "./errors.ts";
import { parseNonEmpty } from "./flags.ts";
import { DEFAULT_CONFIG, parseFactories, parseSeed, type RunFlagValues } from "./run/options.ts";

/** What `factory-sim validate` checks: the config at `path`, as a run with these flags would read it. */
export interface ValidateOptions {
  path: string;
  /** Factories of the run to check against (plant warnings: a factory not simulated, ...). */
  factories: number;
  /** The run's seed, which draws each factory's sensors; undefined: what holds for every seed. */
  seed: number | undefined;
}

/** Flags `validate` takes (of the run's flags); every other flag is an error there. */
const VALIDATE_FLAGS = ["config", "factories", "seed", "help", "version"];

/**
 * `validate [PATH]`'s options from the run's parsed flags and the positionals after "validate"
 * (`args`: the command line, to quote a refused flag as it was written).
 */
export function parseValidateOptions(values: RunFlagValues, positionals: string[], args: string[]): ValidateOptions {
  const other = Object.keys(values).filter((name) => !VALIDATE_FLAGS.includes(name));
  if (other.length > 0) {
    const flag = args.find((arg) => arg === `--${other[0]}` || arg.startsWith(`--${other[0]}=`)) ?? `--${other[0]}`;
    throw new UsageError(`validate takes only [PATH], --config, --factories and --seed: got ${flag.split("=")[0]}`);
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}" (see --help)`);
  if (positionals.length === 1 && values.config !== undefined) {
    throw new UsageError("validate takes the config as PATH or as --config PATH, not both");
  }
  return {
    path: parseNonEmpty(
      positionals.length === 1 ? "PATH" : "--config",
      positionals[0] ?? values.config ?? DEFAULT_CONFIG,
    ),
    factories: parseFactories(values.factories),
    seed: parseSeed(values.seed),
  };
}
