/**
 * The faults part of the config: what a fault may say (kinds, times, sizes) and its defaults.
 * Apart from `faults.ts`, which runs them, so that the config and the plant can name a fault
 * without importing what schedules it.
 */
import { z } from "zod";
import { DURATION_PATTERN, LONGEST_DURATION_MS, parseDuration } from "./duration.ts";
import { SIGNAL_LIMIT } from "./waveforms.ts";

/** What a fault does while it is active. */
export const FAULT_KINDS = [
  "spike", // readings jump up by `magnitude`
  "dip", // readings drop by `magnitude`
  "stuck", // readings frozen at the last value before the fault
  "dropout", // no readings sent (the line's count goes on, so consumers see the gap)
  "offline", // the sensor is gone: no heartbeats and no readings
  "out_of_range", // readings beyond the instrument's range by `magnitude`
  "duplicate", // each reading sent twice
  "late", // readings stamped `lateBy` earlier than they are sent
] as const;
/** A fault kind. */
export type FaultKind = typeof FAULT_KINDS[number];

const duration = (what: string) => {
  const error = `must be a duration from 0 to 3650d like "30s" or "1h30m", or a number of seconds (${what})`;
  return z.union([
    z.number().meta({ minimum: 0, maximum: LONGEST_DURATION_MS / 1000 }),
    z.string().meta({ pattern: DURATION_PATTERN }),
  ], { error })
    .meta({ description: `${what}: a duration like "30s" or "1h30m" (ms, s, m, h, d) or a number of seconds` })
    .refine((value) => (parseDuration(value) ?? Infinity) <= LONGEST_DURATION_MS, { error });
};

/** Random faults' rates, per hour: from one in ten years to one a second. */
export const PER_HOUR = { min: 0.00001, max: 3_600 } as const;
/** The largest `magnitude` (the signals' limit: a reading stays finite and exact to 6 decimals). */
const MAGNITUDE_ERROR = `must be a number greater than 0 and at most 1e9`;
const PER_HOUR_ERROR = `must be a number from ${PER_HOUR.min} to ${PER_HOUR.max} (expected faults per hour)`;

/** One fault of a line, as validated. */
export const faultSchema = z.object({
  kind: z.enum(FAULT_KINDS, { error: `must be one of ${FAULT_KINDS.join(", ")}` })
    .meta({ description: "What the fault does while it is active" }),
  at: duration("time after the start of the run").optional(),
  perHour: z.number({ error: PER_HOUR_ERROR }).min(PER_HOUR.min, { error: PER_HOUR_ERROR })
    .max(PER_HOUR.max, { error: PER_HOUR_ERROR })
    .meta({ description: "Random faults: expected faults per hour (a Poisson process)" }).optional(),
  for: duration("how long it lasts").optional(),
  magnitude: z.number({ error: MAGNITUDE_ERROR }).positive({ error: MAGNITUDE_ERROR })
    .max(SIGNAL_LIMIT, { error: MAGNITUDE_ERROR })
    .meta({ description: "How far spike, dip and out_of_range move a reading" }).optional(),
  lateBy: duration("how much older the timestamps are").optional(),
}, { error: "must be an object with kind and at or perHour" }).strict().superRefine((fault, ctx) => {
  if ((fault.at === undefined) === (fault.perHour === undefined)) {
    ctx.addIssue({ code: "custom", message: "must have either at (a scheduled fault) or perHour (random faults)" });
  }
}).meta({
  description: "A fault: scheduled (at) or random (perHour), lasting for (default 30s)",
  // The rule of the refinement above, for the JSON Schema (zod cannot derive it).
  oneOf: [{ required: ["at"] }, { required: ["perHour"] }],
});

/** A fault as configured. */
export type FaultConfig = z.infer<typeof faultSchema>;

/** How long a fault lasts when the config does not say. */
export const DEFAULT_FAULT_MS = 30_000;
/** How much older `late` timestamps are when the config does not say. */
export const DEFAULT_LATE_MS = 300_000;
