/**
 * Durations as users write them: `500ms`, `90s`, `15m`, `2h`, `1d`, or a plain number of seconds.
 */

/** A duration in text (`parseDuration` also refuses ones too long to be a number); the JSON Schema uses it too. */
export const DURATION_PATTERN = "^\\s*(\\d+(?:\\.\\d+)?|\\.\\d+)\\s*(ms|s|m|h|d)?\\s*$";
const DURATION = new RegExp(DURATION_PATTERN);

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of `text` (`90s`, `1.5h`, `45`), or undefined when it is not a duration. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? Math.round(text * 1000) : undefined;
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? "s"];
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
