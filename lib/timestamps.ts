/**
 * Record timestamps: RFC 3339 UTC with milliseconds and `Z` (`2025-12-03T14:30:45.123Z`), as text
 * (`formatTimestamp`) or as ASCII written into a request (`writeTimestamp` in lib/json_bytes.ts).
 * Records come in time order, many in the same second: each second is formatted once, then the
 * milliseconds are appended (`toISOString` cost a few percent of a busy run's CPU).
 */

/** Characters of a timestamp with a four-digit year. */
export const TIMESTAMP_LENGTH = 24;
/** 10000-01-01: from there on, ISO years take more than four digits. */
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_800_000;

/** Whether `timeMs` is a whole millisecond in a four-digit year: the times the cached second serves. */
export function isPlainTimestamp(timeMs: number): boolean {
  return Number.isInteger(timeMs) && timeMs >= 0 && timeMs < MAX_FOUR_DIGIT_YEAR_MS;
}

let cachedSecond = NaN;
let cachedPrefix = "";

/** The first 20 characters of a timestamp in `second` (epoch seconds): `2025-12-03T14:30:45.`. */
export function secondPrefix(second: number): string {
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  return cachedPrefix;
}

/** `timeMs` as RFC 3339 UTC with milliseconds and `Z`, e.g. `2025-12-03T14:30:45.123Z`. */
export function formatTimestamp(timeMs: number): string {
  if (!isPlainTimestamp(timeMs)) return new Date(timeMs).toISOString();
  const second = Math.floor(timeMs / 1000);
  const ms = timeMs - second * 1000;
  return `${secondPrefix(second)}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z`;
}
