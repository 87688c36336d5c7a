/**
 * Reads and validates `factory_config.json`: which production lines each factory runs.
 *
 * Validation happens here, once, at the boundary, and collects every problem before reporting,
 * so a user fixing a config sees all of its errors in one run.
 */
import {
  findNodeAtLocation,
  type Node,
  parse as parseJsonc,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "jsonc-parser";
import { z } from "zod";
import { ConfigError, describeError, isPermissionDenial, permissionError } from "./errors.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { DEFAULT_LATE_MS, type FaultConfig, faultSchema } from "./fault_config.ts";
import { quoted, shown } from "./text.ts";
import { type SignalConfig, signalSchema } from "./waveforms.ts";

/** One production line: a soda bottled on a line watched by one sensor. */
export interface LineConfig {
  sodaName: string;
  /** How many readings the line takes before it is done. */
  number: number;
  sensorID: string;
  /** How its values move (default: the config's `defaults.signal`, else uniform integers 0..100). */
  signal?: SignalConfig;
  /** Faults it suffers (default: the config's `defaults.faults`). */
  faults?: FaultConfig[];
}

/** Settings for every line that does not set its own: the config's optional `defaults` entry. */
export interface LineDefaults {
  signal?: SignalConfig;
  faults?: FaultConfig[];
}

/** The reserved top-level key of the defaults for all lines. */
export const DEFAULTS_KEY = "defaults";

/** The reserved top-level key naming the file's JSON Schema (for editors); a run ignores it. */
export const SCHEMA_KEY = "$schema";

/** Factory id (`F1`...) to its lines, in file order. */
export type FactoryConfig = Record<string, LineConfig[]>;

/** The result of validating a config: the lines, plus warnings about fields that were ignored. */
export interface LoadedConfig {
  factories: FactoryConfig;
  defaults: LineDefaults;
  warnings: string[];
}

const LINE_FIELDS = ["sodaName", "number", "sensorID", "signal", "faults"];

// The descriptions (`meta`) go to factory_config.schema.json, which lib/config_schema.ts generates
// from these schemas; they do not change validation.

/**
 * The longest soda name or sensor id, in UTF-16 code units: a name goes into every record of its
 * line, and Kafka refuses records over 1 MB by default; no name needs more.
 */
export const NAME_MAX = 200;
const NAME_ERROR = "must be a non-empty string";
const NAME_TOO_LONG = `must be at most ${NAME_MAX} characters long`;

/** One line of a factory, as validated (unknown fields are warned about, not refused). */
export const lineSchema = z.object({
  sodaName: z.string({ error: NAME_ERROR }).min(1, { error: NAME_ERROR }).max(NAME_MAX, { error: NAME_TOO_LONG })
    .meta({ description: "What the line bottles" }),
  number: z.number({ error: "must be a positive integer" }).int({ error: "must be a positive integer" })
    .positive({ error: "must be a positive integer" }).max(Number.MAX_SAFE_INTEGER, {
      error: "must be a positive integer",
    }).meta({ description: "Readings the line takes before it is done" }),
  sensorID: z.string({ error: NAME_ERROR }).min(1, { error: NAME_ERROR }).max(NAME_MAX, { error: NAME_TOO_LONG })
    .meta({
      description:
        "The factory's sensor that takes the readings, e.g. S1-2 in F1 (factories have S<i>-1..S<i>-3, up to S<i>-5 as the seed draws)",
    }),
  signal: signalSchema.optional(),
  faults: z.array(faultSchema, { error: "must be an array of faults" }).optional()
    .meta({ description: "Faults the line suffers (default: defaults.faults)" }),
}, { error: "must be an object with sodaName, number and sensorID" })
  .meta({ description: "A production line: a soda bottled on a line watched by one sensor" });

/** The top-level `defaults` entry, as validated. */
export const defaultsSchema = z.object({
  signal: signalSchema.optional(),
  faults: z.array(faultSchema, { error: "must be an array of faults" }).optional()
    .meta({ description: "Faults of every line that sets none of its own" }),
}, { error: "must be an object with signal and/or faults" }).strict()
  .meta({ description: "Settings for every line that does not set its own" });

/** A factory's lines, as validated. */
export const factoryLinesSchema = z.array(lineSchema, { error: "must be an array of lines" })
  .meta({ description: "A factory's production lines, keyed by its id (F1, F2, ...)" });

const configSchema = z.record(z.string(), factoryLinesSchema, {
  error: 'must be an object mapping factory ids to arrays of lines (e.g. {"F1": [...]})',
});

const schemaKeySchema = z.string({ error: "must be a string (the path or URL of a JSON Schema)" });

/**
 * Parses and validates the text of a config file. `file` names the file in messages.
 * Throws `ConfigError` listing every problem.
 */
export function parseConfig(bytes: Uint8Array, file: string): LoadedConfig {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ConfigError([`${file}: is not valid UTF-8 text (first bad byte at offset ${badUtf8Offset(bytes)})`]);
  }
  if (text.trim() === "") throw new ConfigError([`${file}: is empty: expected a JSON object of factories`]);
  // JSON.parse does not recurse, but jsonc-parser (which says where JSON is broken), zod and
  // JSON.stringify do: nesting is bounded before any of them sees the text or the data.
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throwIfTooDeep(text, file);
    throw new ConfigError([`${file}: is not valid JSON: ${describeJsonError(error, text)}`]);
  }
  return validateConfig(data, file, text);
}

/** Throws the one problem of `text` when it nests deeper than MAX_DEPTH. */
function throwIfTooDeep(text: string, file: string): void {
  const offset = tooDeepAt(text);
  if (offset === undefined) return;
  const { line, column } = lineColumn(text, offset);
  throw new ConfigError([
    `${file}: nests arrays and objects more than ${MAX_DEPTH} deep (at line ${line} column ${column}); ` +
    `a config needs ${CONFIG_DEPTH}`,
  ]);
}

/** How deep a config may nest arrays and objects (it needs 5: file, factory, line, faults, fault). */
export const MAX_DEPTH = 64;
const CONFIG_DEPTH = 5;

/**
 * The offset of the first `[` or `{` nested deeper than MAX_DEPTH, outside strings; undefined when
 * there is none. One pass with a counter, so it never recurses however deep the text goes.
 */
function tooDeepAt(text: string): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: skip what it escapes
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/**
 * Keys that name an object's prototype machinery. JSON.parse makes `__proto__` an ordinary key, but
 * code that copies objects by assignment (zod among it) turns it into a prototype or drops it, so a
 * line could go unchecked: refused wherever they appear, before anything else looks at the data.
 */
export const RESERVED_KEYS: readonly string[] = ["__proto__", "constructor", "prototype"];

/**
 * A problem for each reserved key in `data`, or the path of the first array or object nested deeper
 * than MAX_DEPTH (walked with a stack of its own, never recursing).
 */
function reservedKeyProblems(data: unknown, file: string): { problems: string[]; tooDeep?: PropertyKey[] } {
  // Each entry links to its parent: a path is only built for a key that is refused.
  interface Entry {
    value: unknown;
    key: PropertyKey;
    parent: Entry | undefined;
    depth: number;
  }
  const pathOf = (entry: Entry | undefined): PropertyKey[] => {
    const path: PropertyKey[] = [];
    for (let at = entry; at?.parent !== undefined; at = at.parent) path.unshift(at.key);
    return path;
  };
  const problems: string[] = [];
  const stack: Entry[] = [{ value: data, key: "", parent: undefined, depth: 1 }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const { value, depth } = entry;
    if (value === null || typeof value !== "object") continue;
    if (depth > MAX_DEPTH) return { tooDeep: pathOf(entry), problems };
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        const child = value[i];
        if (child !== null && typeof child === "object") {
          stack.push({ value: child, key: i, parent: entry, depth: depth + 1 });
        }
      }
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      const child = (value as Record<string, unknown>)[key];
      if (RESERVED_KEYS.includes(key)) {
        const path = pathOf(entry);
        const where = path.length === 0 ? "the top level" : formatPath(path);
        problems.push(
          `${file}: ${where} has the key ${quoted(key)}, which a config may not use ` +
            `(${RESERVED_KEYS.join(", ")} are reserved)`,
        );
      } else if (child !== null && typeof child === "object") {
        stack.push({ value: child, key, parent: entry, depth: depth + 1 });
      }
    }
  }
  return { problems };
}

/**
 * Reads and validates the config file at `path`. Throws `ConfigError` listing every problem, or
 * `PermissionError` when the run was not granted read access to it.
 */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (isPermissionDenial(error)) throw permissionError(error);
    throw new ConfigError([`${path}: cannot be read: ${describeReadError(error)}`]);
  }
  return parseConfig(bytes, path);
}

function describeReadError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file (pass --config PATH to use another file)";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied by the file system";
  if (error instanceof Deno.errors.IsADirectory) return "is a directory, not a file";
  return describeError(error);
}

/**
 * Validates already-parsed config data (`text`: the file's text, to quote a number as written).
 * Throws `ConfigError` listing every problem.
 */
export function validateConfig(data: unknown, file: string, text?: string): LoadedConfig {
  // Reserved keys first: zod skips `__proto__`, so only this finds it and what it holds.
  const { problems: reserved, tooDeep } = reservedKeyProblems(data, file);
  if (tooDeep !== undefined) {
    if (text !== undefined) throwIfTooDeep(text, file);
    throw new ConfigError([
      `${file}: ${
        formatPath(tooDeep)
      } nests arrays and objects more than ${MAX_DEPTH} deep; a config needs ${CONFIG_DEPTH}`,
    ]);
  }
  // The `defaults` entry is validated on its own, and `$schema` (for editors) is ignored when it
  // is a string; everything else maps factory ids to lines.
  const isObject = data !== null && typeof data === "object" && !Array.isArray(data);
  const hasDefaults = isObject && Object.hasOwn(data, DEFAULTS_KEY);
  const hasSchemaKey = isObject && Object.hasOwn(data, SCHEMA_KEY);
  const { [DEFAULTS_KEY]: defaultsData, [SCHEMA_KEY]: schemaKeyData, ...factoryData } = isObject
    ? data as Record<string, unknown>
    : {};
  const factoriesInput = isObject ? factoryData : data;
  const result = configSchema.safeParse(factoriesInput);
  const defaults = hasDefaults ? defaultsSchema.safeParse(defaultsData) : undefined;
  const schemaKey = hasSchemaKey ? schemaKeySchema.safeParse(schemaKeyData) : undefined;
  const issues = [
    ...(schemaKey && !schemaKey.success
      ? schemaKey.error.issues.map((issue) => ({ ...issue, path: [SCHEMA_KEY, ...issue.path] }))
      : []),
    ...(result.success ? [] : result.error.issues),
    ...(defaults && !defaults.success
      ? defaults.error.issues.map((issue) => ({ ...issue, path: [DEFAULTS_KEY, ...issue.path] }))
      : []),
  ];
  if (reserved.length > 0 || issues.length > 0 || !result.success) {
    const problems = issues.map((issue) => {
      const path = formatPath(issue.path);
      const where = path === "" ? "the top level" : path;
      if (issue.code === "unrecognized_keys") {
        const keys = (issue as { keys: string[] }).keys.filter((key) => !RESERVED_KEYS.includes(key));
        if (keys.length === 0) return undefined; // said above
        return `${file}: ${where} has ${keys.length === 1 ? "an unknown field" : "unknown fields"} ${
          keys.map((key) => quoted(key)).join(", ")
        }`;
      }
      const value = valueAt(data, issue.path);
      const problem = value === MISSING ? "is missing" : `${issue.message}: got ${quote(value, issue.path, text)}`;
      return `${file}: ${where} ${problem}`;
    });
    // One value can break several rules (1e300 is neither a safe nor a bounded integer): say it once.
    throw new ConfigError([...reserved, ...new Set(problems.filter((problem) => problem !== undefined))]);
  }
  const warnings: string[] = [];
  for (const [factoryId, lines] of Object.entries(factoriesInput as Record<string, unknown[]>)) {
    lines.forEach((line, index) => {
      for (const key of Object.keys(line as object)) {
        if (!LINE_FIELDS.includes(key)) {
          warnings.push(`${file}: ${formatPath([factoryId, index, key])} is not a known field and is ignored`);
        }
      }
    });
  }
  return { factories: result.data, defaults: defaults?.success ? defaults.data : {}, warnings };
}

/**
 * What stops a run starting at `startMs` (a backfill's FROM) from stamping every record at or after
 * 1970-01-01: a `late` fault stamps readings `lateBy` early, and Kafka timestamps are not negative.
 * Undefined when nothing does; else one line naming the fault and the earliest start that works.
 */
export function lateStampProblem(config: LoadedConfig, startMs: number, file: string): string | undefined {
  let latest: { path: PropertyKey[]; ms: number } | undefined;
  const consider = (faults: readonly FaultConfig[] | undefined, path: PropertyKey[]) =>
    faults?.forEach((fault, index) => {
      if (fault.kind !== "late") return;
      const ms = parseDuration(fault.lateBy ?? DEFAULT_LATE_MS / 1000)!;
      if (latest === undefined || ms > latest.ms) latest = { path: [...path, "faults", index], ms };
    });
  consider(config.defaults.faults, [DEFAULTS_KEY]);
  for (const [factoryId, lines] of Object.entries(config.factories)) {
    lines.forEach((line, index) => consider(line.faults, [factoryId, index]));
  }
  if (latest === undefined || startMs - latest.ms >= 0) return undefined;
  return `${file}: ${formatPath(latest.path)} stamps readings ${formatDuration(latest.ms)} early, before ` +
    `1970-01-01 for a backfill from ${new Date(startMs).toISOString()} (Kafka timestamps are not negative): ` +
    `start the backfill at ${new Date(latest.ms).toISOString()} or later`;
}

const MISSING = Symbol("missing");

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let value: unknown = data;
  for (const key of path) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return MISSING;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** `F1[0].signal.max`: a path in the file, each key escaped and bounded (keys are the file's text). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else {
      const name = shown(String(key), KEY_MAX);
      out += out === "" ? name : `.${name}`;
    }
  }
  return out;
}

/** The most characters of a key a message shows. */
const KEY_MAX = 40;
/** The most characters of an offending value a message shows. */
const VALUE_MAX = 60;

/**
 * A short rendering of an offending value for a message: JSON, escaped and bounded. A number too
 * large for a double (`1e400`, which JSON.parse makes Infinity) is shown as the file writes it.
 */
function quote(value: unknown, path: PropertyKey[], text: string | undefined): string {
  if (typeof value === "number" && !Number.isFinite(value)) {
    const source = text === undefined ? undefined : sourceText(text, path);
    return `${shown(source ?? String(value), VALUE_MAX)} (beyond what a number can hold, about ±1.8e308)`;
  }
  if (typeof value === "string") return quoted(value, VALUE_MAX);
  return shown(value, VALUE_MAX);
}

/** The text of the value at `path` in the JSON `text` (depth already bounded, so jsonc-parser may recurse). */
function sourceText(text: string, path: PropertyKey[]): string | undefined {
  const node = findNodeAtLocation(parseTree(text) as Node, path as (string | number)[]);
  return node === undefined ? undefined : text.slice(node.offset, node.offset + node.length);
}

/** Where and why JSON.parse failed, as `value expected at line 2 column 8`. */
function describeJsonError(error: unknown, text: string): string {
  // JSON.parse says whether the text is JSON; its messages rarely say where. jsonc-parser, in
  // strict mode, locates the first problem.
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length === 0) return error instanceof Error ? error.message : String(error);
  const first = errors[0];
  const atEnd = first.offset >= text.trimEnd().length;
  const reason = atEnd
    ? "unexpected end of input"
    : printParseErrorCode(first.error).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
  const { line, column } = lineColumn(text, first.offset);
  return `${reason} at line ${line} column ${column}`;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1, lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function badUtf8Offset(bytes: Uint8Array): number {
  // A prefix "decodes" in stream mode unless it holds a bad byte (a sequence cut at its end is
  // only buffered), so validity of prefixes is monotonic and the longest valid one is found by
  // bisection. A fresh decoder each time: a streaming decoder keeps state between calls.
  const decodes = (length: number) => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, length), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  let low = 0, high = bytes.length;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (decodes(mid)) low = mid;
    else high = mid - 1;
  }
  if (low < bytes.length) return low;
  // Every byte is fine but the text ends inside a sequence: point at the sequence's first byte.
  let start = bytes.length - 1;
  while (start > 0 && (bytes[start] & 0xc0) === 0x80) start--;
  return start;
}
