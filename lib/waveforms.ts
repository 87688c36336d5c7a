/**
 * Process-like reading values: a base shape (uniform, gaussian, sine or a mean-reverting random
 * walk) plus optional noise and drift, clamped to the instrument's range and rounded. Signals
 * compose by fields, not by a scripting language: `{"type": "sine", "noise": 2, "drift": 0.5}`.
 *
 * The default signal (no `signal` in the config) is today's: integers 0..100, uniform, drawn with
 * exactly the same calls on the line's value stream, so old configs give the same values.
 */
import { z } from "zod";
import { DURATION_PATTERN, LONGEST_DURATION_MS, parseDuration } from "./duration.ts";
import type { Rng } from "./random.ts";

/** The instrument range when a signal names none (and the range of the default signal). */
export const DEFAULT_RANGE = { min: 0, max: 100 } as const;

/**
 * The largest magnitude of a signal's levels, spreads and drift (a billion): within it every value a
 * run can draw is finite, and a value rounded to 6 decimals is still exact in a double.
 */
export const SIGNAL_LIMIT = 1e9;
const LIMIT_TEXT = "1e9";

const inRange = (what: string, min: number, minText: string, max: number, maxText: string) => {
  const error = `must be a number from ${minText} to ${maxText} (${what})`;
  return z.number({ error }).min(min, { error }).max(max, { error }).meta({ description: what });
};
/** A level: a setpoint, a center line, an end of the range. */
const level = (what: string) => inRange(what, -SIGNAL_LIMIT, `-${LIMIT_TEXT}`, SIGNAL_LIMIT, LIMIT_TEXT);
/** A spread: a standard deviation, an amplitude, a volatility. */
const spread = (what: string) => inRange(what, 0, "0", SIGNAL_LIMIT, LIMIT_TEXT);

const common = {
  /** Standard deviation of gaussian noise added to the base shape. */
  noise: spread("standard deviation of added noise").optional(),
  /** Units per hour of simulated time, added linearly. */
  drift: level("units per hour").optional(),
  /** Decimal places kept (0: integers). */
  decimals: z.number({ error: "must be an integer from 0 to 6" }).int({ error: "must be an integer from 0 to 6" })
    .min(0, { error: "must be an integer from 0 to 6" }).max(6, { error: "must be an integer from 0 to 6" })
    .meta({ description: "Decimal places kept (default 0 for uniform, else 2)" }).optional(),
  /** The instrument's range: values are clamped to it. */
  min: level("lower end of the instrument range").optional(),
  max: level("upper end of the instrument range").optional(),
};

const PERIOD_ERROR = 'must be a duration from 1ms to 3650d like "10m", or a number of seconds';
const period = z.union([
  z.number().meta({ exclusiveMinimum: 0, maximum: LONGEST_DURATION_MS / 1000 }),
  z.string().meta({ pattern: DURATION_PATTERN }),
], { error: PERIOD_ERROR })
  .meta({
    description: 'Length of one cycle: a duration like "10m" or "1h30m" (ms, s, m, h, d) or a number of seconds',
  })
  .refine((value) => {
    const ms = parseDuration(value) ?? 0;
    return ms > 0 && ms <= LONGEST_DURATION_MS;
  }, { error: PERIOD_ERROR });

/** The `signal` of a line, as validated. */
export const signalSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("uniform"), ...common }).strict(),
  z.object({
    type: z.literal("gaussian"),
    setpoint: level("the mean"),
    sigma: spread("standard deviation"),
    ...common,
  })
    .strict(),
  z.object({
    type: z.literal("sine"),
    base: level("the center line"),
    amplitude: level("half the peak-to-peak swing"),
    period,
    ...common,
  }).strict(),
  z.object({
    type: z.literal("walk"),
    setpoint: level("the level it reverts to"),
    volatility: spread("units per square root of a second"),
    reversion: inRange("fraction of the distance to the setpoint closed per second", 0, "0", 1, "1"),
    ...common,
  }).strict(),
], {
  error: (issue) =>
    issue.code === "invalid_union"
      ? "must be one of uniform, gaussian, sine, walk"
      : 'must be an object with "type": one of uniform, gaussian, sine, walk',
}).superRefine((signal, ctx) => {
  const { min, max, decimals } = signalRange(signal);
  if (min >= max) {
    ctx.addIssue({ code: "custom", message: "must have min below max (the instrument range)" });
  } else if (decimals === 0 && Math.ceil(min) > Math.floor(max)) {
    ctx.addIssue({ code: "custom", message: "must have an integer between min and max (its values are integers)" });
  }
}).meta({
  description: "How the line's values move: a base shape (uniform, gaussian, sine or walk) plus optional noise and " +
    "drift, clamped to min..max (default 0..100; min must be below max) and rounded (default: uniform integers 0..100)",
});

/** A line's signal settings. */
export type SignalConfig = z.infer<typeof signalSchema>;

/** The instrument range and the decimals of a signal's values. */
export type SignalRange = Readonly<{ min: number; max: number; decimals: number }>;

/** The default signal's range: one object for every line that sets no signal. */
const DEFAULT_SIGNAL_RANGE: SignalRange = Object.freeze({ ...DEFAULT_RANGE, decimals: 0 });

/** The range of `config`'s values (the default signal's when undefined). */
export function signalRange(config: SignalConfig | undefined): SignalRange {
  if (config === undefined) return DEFAULT_SIGNAL_RANGE;
  return {
    min: config.min ?? DEFAULT_RANGE.min,
    max: config.max ?? DEFAULT_RANGE.max,
    decimals: config.decimals ?? (config.type === "uniform" ? 0 : 2),
  };
}

/**
 * Draws a line's values from the line's value stream `rng`: call with each reading's simulated
 * time, in order, and the same stream each time.
 */
export type Signal = (timeMs: number, rng: Rng) => number;

/**
 * The default signal: uniform integers 0..100. One function for every line that sets no signal
 * (the stream is the caller's), where a closure over each line's stream cost about 110 bytes a line.
 */
const defaultSignal: Signal = (_timeMs, rng) => rng.int(DEFAULT_RANGE.min, DEFAULT_RANGE.max);

/** The signal of `config` (today's uniform integers 0..100 when undefined), for a run starting at `startMs`. */
export function createSignal(config: SignalConfig | undefined, startMs: number): Signal {
  if (config === undefined) return defaultSignal;
  const { min, max, decimals } = signalRange(config);
  const scale = 10 ** decimals;
  const noise = config.noise ?? 0;
  const driftPerMs = (config.drift ?? 0) / 3_600_000;
  let base: Signal;
  switch (config.type) {
    case "uniform":
      // Integers as today; with decimals, uniform over the range.
      base = decimals === 0
        ? (_timeMs, rng) => rng.int(Math.ceil(min), Math.floor(max))
        : (_timeMs, rng) => min + rng.next() * (max - min);
      break;
    case "gaussian":
      base = (_timeMs, rng) => config.setpoint + config.sigma * gaussian(rng);
      break;
    case "sine": {
      const periodMs = parseDuration(config.period)!;
      base = (timeMs) => config.base + config.amplitude * Math.sin((2 * Math.PI * (timeMs - startMs)) / periodMs);
      break;
    }
    case "walk": {
      // Ornstein-Uhlenbeck: pulled back to the setpoint, pushed by noise that grows with sqrt(dt).
      let level = config.setpoint;
      let lastMs = startMs;
      base = (timeMs, rng) => {
        const dtS = Math.max(0, timeMs - lastMs) / 1000;
        lastMs = timeMs;
        const pull = Math.min(1, config.reversion * dtS);
        level += pull * (config.setpoint - level) + config.volatility * Math.sqrt(dtS) * gaussian(rng);
        return level;
      };
      break;
    }
  }
  return (timeMs, rng) => {
    let value = base(timeMs, rng);
    if (noise > 0) value += noise * gaussian(rng);
    value += driftPerMs * (timeMs - startMs);
    value = Math.min(max, Math.max(min, value));
    return Math.round(value * scale) / scale;
  };
}

/** A standard normal draw (Box-Muller; two uniform draws a call, so streams stay aligned). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng.next(); // (0, 1]: log(0) is not a number
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
