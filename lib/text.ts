/**
 * Small text helpers for what the program prints, and the guard on untrusted text: anything that
 * comes from a user (config, flags, paths, environment) or from a broker is passed through
 * `shown()` where it is put into a message, and every log or error line through `safeLine()`.
 */

/** `n` and the noun, singular or plural: "1 line", "3 factories". */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** The most characters of one untrusted value a message shows. */
export const SHOWN_MAX = 120;
/** The most characters of one log or error line. */
export const LINE_MAX = 2000;

// C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators and bidirectional
// controls, which can move the cursor, retitle a window, forge a line or reorder what is shown.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** The characters `escapeControls` escapes, as a RegExp source (the dashboard's page escapes the same ones). */
export const UNSAFE_CHARACTERS = UNSAFE.source;

/** Whether `text` holds a character `escapeControls` would escape. */
export function hasControls(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

/** `text` with every control character written as an escape (`\n`, `\x1b`, `\u202e`): inert on a terminal. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) => {
    switch (c) {
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
    }
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * `text` cut to `max` characters (code points, so a character is never split), with how much was
 * left out: `aaaa…(+9,999,880 chars)`.
 */
export function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  if (points.length <= max) return text;
  return `${points.slice(0, max).join("")}…(+${(points.length - max).toLocaleString("en-US")} chars)`;
}

/**
 * An untrusted value as a message shows it: escaped, bounded to `max` characters. Strings are shown
 * as they are (quote them in the message where that reads better); anything else through JSON.
 */
export function shown(value: unknown, max = SHOWN_MAX): string {
  const text = typeof value === "string" ? value : (safeJson(value) ?? String(value));
  return escapedWithin(text, max);
}

/** An untrusted value in double quotes, JSON-escaped and bounded: `"F1"`, `"a\u001b[2J"`. */
export function quoted(value: string, max = SHOWN_MAX): string {
  return escapeControls(JSON.stringify(bounded(value, max)));
}

/**
 * One line of output made safe whatever it holds: control characters escaped (a newline inside
 * cannot forge another line) and the whole bounded to LINE_MAX characters.
 */
export function safeLine(line: string): string {
  return escapedWithin(line, LINE_MAX);
}

/**
 * `text` escaped, then cut so the escaped form has at most `max` characters (an escape is never
 * split), with how many characters of `text` were left out.
 */
function escapedWithin(text: string, max: number): string {
  if (text.length <= max && !hasControls(text)) return text;
  let out = "";
  let taken = 0;
  for (const point of text) {
    const piece = escapeControls(point);
    if (out.length + piece.length > max) break;
    out += piece;
    taken += point.length;
  }
  if (taken === text.length) return out;
  const left = Array.from(text.slice(taken)).length;
  return `${out}…(+${left.toLocaleString("en-US")} chars)`;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
