/**
 * The flag parsers every command shares: each turns one flag's text into a value or throws a
 * `UsageError` naming the flag (or the environment variable) and quoting what it got.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseDuration } from "./duration.ts";
import { describeError, UsageError } from "./errors.ts";
import { isKafkaName, KAFKA_NAME_RULE } from "./kafka/settings.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { DEFAULT_TOPICS } from "./messages.ts";
import { quoted, shown } from "./text.ts";

/** Environment variables the flags fall back on. */
export interface FlagEnv {
  KAFKA_BROKERS?: string;
  SCHEMA_REGISTRY_URL?: string;
}

/** Where Kafka is when neither `--brokers` nor `KAFKA_BROKERS` says. */
export const DEFAULT_BROKERS = "localhost:9092";

/**
 * `node:util`'s `parseArgs`, strict, with positionals, its errors turned into a `UsageError`
 * (`for`: the command the flags belong to, in the message: "unknown flag --x for monitor").
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  { allowNegative = false, command }: { allowNegative?: boolean; command?: string } = {},
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true, allowNegative });
  } catch (error) {
    const message = describeParseError(error);
    throw new UsageError(command ? message.replace("(see --help)", `for ${command} (see --help)`) : message);
  }
}

function describeParseError(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(?:-\w, )?(-{1,2}[^',\s]+)/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${shown(flag)} (see --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/ambiguous/.test(message)) return `${flag} needs a value (for one that starts with "-", write ${flag}=VALUE)`;
      return /argument missing/.test(message) ? `${flag} needs a value` : `${flag} takes no value`;
    default:
      return describeError(error);
  }
}

/** An integer from `min` to `max`. */
export function parseInteger(flag: string, text: string, min: number, max: number): number {
  const value = /^\s*-?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}: got ${quoted(text)}`);
  }
  return value;
}

/** One of `choices`. */
export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`${flag} must be one of ${choices.join(", ")}: got ${quoted(text)}`);
  }
  return text as T;
}

/** Any text but the empty one. */
export function parseNonEmpty(flag: string, text: string): string {
  if (text === "") throw new UsageError(`${flag} must not be empty`);
  return text;
}

/** A duration (`500ms`, `90s`, `15m`, `2h`, `1d` or seconds) from `minMs` to `maxMs`, as `range` says them. */
export function parseDurationFlag(
  flag: string,
  text: string,
  { minMs, maxMs, range, examples }: { minMs: number; maxMs: number; range: string; examples: string },
): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < minMs || ms > maxMs) {
    throw new UsageError(`${flag} must be a duration from ${range}, such as ${examples}: got "${text}"`);
  }
  return ms;
}

/** A Kafka topic name. */
export function parseTopic(flag: string, text: string): string {
  if (!isKafkaName(text, { topic: true })) {
    throw new UsageError(`${flag} must be a Kafka topic name (${KAFKA_NAME_RULE}): got ${quoted(text)}`);
  }
  return text;
}

/** A Kafka client id or group id. */
export function parseKafkaId(flag: string, text: string): string {
  if (!isKafkaName(text)) throw new UsageError(`${flag} must be ${KAFKA_NAME_RULE}: got ${quoted(text)}`);
  return text;
}

/** `--readings-topic` and `--heartbeat-topic`, with their defaults. */
export function parseTopicFlags(
  values: { "readings-topic"?: string; "heartbeat-topic"?: string },
): { readings: string; heartbeats: string } {
  return {
    readings: parseTopic("--readings-topic", values["readings-topic"] ?? DEFAULT_TOPICS.readings),
    heartbeats: parseTopic("--heartbeat-topic", values["heartbeat-topic"] ?? DEFAULT_TOPICS.heartbeats),
  };
}

/**
 * `--brokers`, else `KAFKA_BROKERS`, else `localhost:9092`: a list of host:port, named by where it
 * came from. An IPv6 address is written in brackets, `[::1]:9092` (as in a URL), and must be one.
 */
export function parseBrokerFlag(flag: string | undefined, env: FlagEnv): string[] {
  const source = flag === undefined && env.KAFKA_BROKERS !== undefined ? "KAFKA_BROKERS" : "--brokers";
  const text = flag ?? env.KAFKA_BROKERS ?? DEFAULT_BROKERS;
  const brokers = text.split(",").map((part) => part.trim()).filter((part) => part !== "");
  if (brokers.length === 0) throw new UsageError(`${source} must list at least one host:port: got ${quoted(text)}`);
  for (const broker of brokers) {
    const problem = brokerProblem(broker);
    if (problem) throw new UsageError(`${source} ${problem}: got ${quoted(broker)}`);
  }
  return brokers;
}

/** What is wrong with one `host:port` of a broker list, or undefined when nothing is. */
function brokerProblem(broker: string): string | undefined {
  const match = /^(?:\[([^\]]*)\]|([^\s:/[\]]+)):(\d{1,5})$/.exec(broker);
  const generic = "must be a comma-separated list of host:port";
  if (!match) {
    // An IPv6 address without brackets cannot tell its last group from the port.
    if (broker.startsWith("[") || /^[0-9a-fA-F.]*:[0-9a-fA-F.]*:[0-9a-fA-F:.]*$/.test(broker)) {
      return `${generic}, with an IPv6 address in brackets, such as [::1]:9092`;
    }
    return generic;
  }
  const [, ipv6, , port] = match;
  if (ipv6 !== undefined && !isIpv6(ipv6)) return `${generic}: between [ and ] an IPv6 address, such as [::1]:9092`;
  if (Number(port) < 1 || Number(port) > 65535) return generic;
  return undefined;
}

/** Whether `text` is an IPv6 address (as the URL standard reads one; no zone id). */
function isIpv6(text: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** `--log-level`, lowered by `--quiet` to warnings and errors (`--log-level error` stays error). */
export function parseLogLevel(values: { "log-level"?: string; quiet?: boolean }): LogLevel {
  const level = parseChoice("--log-level", values["log-level"] ?? "info", LOG_LEVELS);
  return values.quiet && level !== "error" ? "warning" : level;
}

/** `[HOST]:PORT` or `PORT`; the host defaults to 127.0.0.1 (`0.0.0.0` listens on every interface). */
export function parseListenAddress(flag: string, text: string): { host: string; port: number } {
  const match = /^\s*(?:(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]*):)?(\d{1,5})\s*$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(`${flag} must be [HOST]:PORT or PORT, such as :8080 or 0.0.0.0:8080: got ${quoted(text)}`);
  }
  const host = (match[1] ?? "").replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? "127.0.0.1" : host, port };
}
