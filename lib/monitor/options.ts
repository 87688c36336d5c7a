/**
 * The options of `factory-sim monitor`: their types and the parser of its flags.
 */
import { UsageError } from "../errors.ts";
import {
  type FlagEnv,
  parseBrokerFlag,
  parseDurationFlag,
  parseKafkaId,
  parseListenAddress,
  parseLogLevel,
  parseTopic,
  parseTopicFlags,
} from "../flags.ts";
import type { LogLevel } from "../log.ts";
import type { Topics } from "../messages.ts";
import { quoted } from "../text.ts";

/** What `factory-sim monitor` watches and how it shows it. */
export interface MonitorOptions {
  brokers: string[];
  /** The topics read; `labels` (`--labels-topic`) only when given. */
  topics: Pick<Topics, "readings" | "heartbeats" | "labels">;
  /** The consumer group (every monitor needs one of its own); it commits no offsets. */
  groupId: string;
  clientId: string;
  /** Read the topics from their beginning instead of from now. */
  fromBeginning: boolean;
  /** A sensor is late after this long without a heartbeat, and dead after `deadAfterMs`. */
  lateAfterMs: number;
  deadAfterMs: number;
  /** JSON lines on stdout instead of the table. */
  json: boolean;
  /** Where the web dashboard listens; undefined: no dashboard. */
  web: { host: string; port: number } | undefined;
  /** Wall time between table redraws, JSON snapshots and dashboard updates. */
  intervalMs: number;
  logLevel: LogLevel;
  /** No table on stdout (with --web: the dashboard only); only warnings and errors on stderr. */
  quiet: boolean;
  /**
   * `--schema-registry`: where schema ids of Avro, Protobuf and JSON Schema values are resolved;
   * undefined: `SCHEMA_REGISTRY_URL`, else none (such values count as invalid).
   */
  schemaRegistry: string | undefined;
}

/** The flags of `factory-sim monitor`. */
export const MONITOR_FLAGS = {
  brokers: { type: "string" },
  "readings-topic": { type: "string" },
  "heartbeat-topic": { type: "string" },
  "labels-topic": { type: "string" },
  "group-id": { type: "string" },
  "client-id": { type: "string" },
  "from-beginning": { type: "boolean" },
  "late-after": { type: "string" },
  "dead-after": { type: "string" },
  json: { type: "boolean" },
  web: { type: "string" },
  interval: { type: "string" },
  "log-level": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  "schema-registry": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** The values `parseArgs` gives for `MONITOR_FLAGS`. */
export type MonitorFlagValues = {
  [K in keyof typeof MONITOR_FLAGS]?: typeof MONITOR_FLAGS[K]["type"] extends "boolean" ? boolean : string;
};

/** Longest `--dead-after`, `--late-after` and `--interval`. */
const MAX_MONITOR_DURATION_MS = 86_400_000;

/** The monitor's options from its parsed flags. */
export function parseMonitorOptions(values: MonitorFlagValues, env: FlagEnv): MonitorOptions {
  const deadAfterMs = parseMonitorDuration("--dead-after", values["dead-after"] ?? "5s");
  const lateAfterMs = values["late-after"] === undefined
    ? deadAfterMs / 2
    : parseMonitorDuration("--late-after", values["late-after"]);
  if (lateAfterMs >= deadAfterMs) {
    throw new UsageError(
      `--late-after must be shorter than --dead-after (${deadAfterMs / 1000} s): got ${
        quoted(String(values["late-after"]))
      }`,
    );
  }
  const clientId = parseKafkaId("--client-id", values["client-id"] ?? "factory-sim-monitor");
  const groupId = parseKafkaId(
    "--group-id",
    values["group-id"] ?? `factory-sim-monitor-${crypto.randomUUID().slice(0, 8)}`,
  );
  return {
    brokers: parseBrokerFlag(values.brokers, env),
    topics: {
      ...parseTopicFlags(values),
      ...(values["labels-topic"] === undefined ? {} : { labels: parseTopic("--labels-topic", values["labels-topic"]) }),
    },
    groupId,
    clientId,
    fromBeginning: values["from-beginning"] ?? false,
    lateAfterMs,
    deadAfterMs,
    json: values.json ?? false,
    web: values.web === undefined ? undefined : parseListenAddress("--web", values.web),
    intervalMs: parseMonitorDuration("--interval", values.interval ?? "1s", 100),
    logLevel: parseLogLevel(values),
    quiet: values.quiet ?? false,
    schemaRegistry: values["schema-registry"],
  };
}

function parseMonitorDuration(flag: string, text: string, minMs = 1): number {
  return parseDurationFlag(flag, text, {
    minMs,
    maxMs: MAX_MONITOR_DURATION_MS,
    range: `${minMs}ms to 1d`,
    examples: "500ms, 5s or 2m",
  });
}
