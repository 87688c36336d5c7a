/**
 * Durations as users write them: `500ms`, `90s`, `15m`, `2h`, `1d`, compounds as in Go and systemd
 * (`2m30s`, `1h30m`, `1d 12h`), or a plain number of seconds.
 */

const NUMBER = "(?:\\d+(?:\\.\\d+)?|\\.\\d+)";
const UNIT = "(?:ms|s|m|h|d)";

/**
 * A duration in text: a number of seconds, or one or more number-and-unit parts (`parseDuration`
 * also refuses ones too long to be a number); the JSON Schema uses it too.
 */
export const DURATION_PATTERN = `^\\s*(?:${NUMBER}|(?:${NUMBER}\\s*${UNIT}\\s*)+)\\s*$`;
const DURATION = new RegExp(DURATION_PATTERN);
/** A duration with its unit(s), no bare number (`7d`, `1h30m`): where a bare number would mean something else. */
export const DURATION_WITH_UNIT = new RegExp(`^\\s*(?:${NUMBER}\\s*${UNIT}\\s*)+$`);
const PART = new RegExp(`(${NUMBER})\\s*(${UNIT})?`, "g");

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The longest duration anything takes: a run, a backfill's span, a fault's time or length (3650 days). */
export const LONGEST_DURATION_MS = 3_650 * 86_400_000;

/** Milliseconds of `text` (`90s`, `1.5h`, `1h30m`, `45`), or undefined when it is not a duration. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? Math.round(text * 1000) : undefined;
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, number, unit] of text.matchAll(PART)) ms += Number(number) * UNIT_MS[unit ?? "s"];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** A short rendering of `ms`: `90 s`, `15 min`, `2 h`. */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms > 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
