/**
 * The options of a run (`factory-sim [flags]`): their types and the parser of the run's flags.
 */
import { DURATION_WITH_UNIT, parseDuration } from "../duration.ts";
import { UsageError } from "../errors.ts";
import {
  type FlagEnv,
  parseBrokerFlag,
  parseChoice,
  parseDurationFlag,
  parseInteger,
  parseKafkaId,
  parseLogLevel,
  parseNonEmpty,
  parseTopic,
  parseTopicFlags,
} from "../flags.ts";
import { type Acks, ACKS_CHOICES, type Compression, COMPRESSIONS } from "../kafka/settings.ts";
import type { LogLevel } from "../log.ts";
import { DEFAULT_TOPICS, type Topics } from "../messages.ts";
import type { Shard } from "../plant.ts";
import { MAX_SEED } from "../random.ts";
import type { SpoolSync } from "../sinks/spool.ts";
import { type Format, FORMATS, SUBJECT_STRATEGIES, type SubjectStrategy } from "../formats/format.ts";
import { quoted } from "../text.ts";

/** Default `--producers` (bench/README.md, "Throughput"). */
export const DEFAULT_PRODUCERS = 1;
/** Most `--producers`. */
export const MAX_PRODUCERS = 16;
/** How long a run stopped by a signal may take to flush (the process exits within 5 s). */
export const SHUTDOWN_FLUSH_TIMEOUT_MS = 4_000;
/** Most `--workers`. */
export const MAX_WORKERS = 16;
/** Default `--spool-dir` (relative to the working directory). */
export const DEFAULT_SPOOL_DIR = "factory-sim-spool";
/** Values of `--spool-sync`: how each commit to the spool is synced to disk. */
export const SPOOL_SYNC_MODES = ["normal", "full"] as const satisfies readonly SpoolSync[];
/** Default `--config`. */
export const DEFAULT_CONFIG = "./factory_config.json";

/** Where records go: Kafka, stdout, or Kafka when reachable and stdout otherwise. */
export const SINK_KINDS = ["auto", "kafka", "console"] as const;
/** A value of `--sink`. */
export type SinkKind = typeof SINK_KINDS[number];

/** Most factories one process simulates. */
export const MAX_FACTORIES = 10_000;
/** Most generated lines per factory (`--lines-per-factory`). */
export const MAX_LINES_PER_FACTORY = 50;
/** Lowest and highest `--rate`, records a second. */
export const RATE_RANGE = { min: 0.01, max: 10_000_000 } as const;
/** Longest `--duration`, and longest `--backfill` span: 3650 days. */
export const MAX_DURATION_MS = 3_650 * 86_400_000;

/** Validated options of a run. */
export interface RunOptions {
  factories: number;
  config: string;
  sink: SinkKind;
  brokers: string[];
  /** Simulated milliseconds per wall millisecond (`--speed`; with `--rate`, 1 here: the run computes its own). */
  speed: number;
  /** `--rate`: records a wall second to pace the run to (live, or a backfill); undefined: `--speed` paces it. */
  rate: number | undefined;
  /** Undefined when the run should draw a fresh seed. */
  seed: number | undefined;
  topics: Topics;
  logLevel: LogLevel;
  producer: ProducerOptions;
  /** The store-and-forward spool; `maxMb` 0 turns it off. */
  spool: { dir: string; maxMb: number; sync: SpoolSync };
  /** Simulated milliseconds after which the run ends; undefined: no limit. */
  durationMs: number | undefined;
  /** A line that has taken its `number` readings starts a new batch of them. */
  continuous: boolean;
  /** History to generate on virtual time, `fromMs` up to `toMs` (epoch ms); undefined: a live run. */
  backfill: Backfill | undefined;
  /** Factories without an entry in the config get generated lines. */
  generateLines: boolean;
  /** Generated lines per factory; undefined: one per sensor. */
  linesPerFactory: number | undefined;
  /** This process's share of the factories; undefined: all of them. */
  shard: Shard | undefined;
  /** Threads the run's factories are split over, each with its own scheduler, producer and spool (`run/workers.ts`). */
  workers: number;
  /** Where to write the end-of-run summary as JSON; undefined: nowhere. */
  summaryJson: string | undefined;
  /** Where to serve `/metrics`, `/healthz` and `/readyz` (port 0: a free one); undefined: no server. */
  metrics: { host: string; port: number } | undefined;
  /** Only warnings and errors on stderr: no info logs, no live status, no end-of-run summary. */
  quiet: boolean;
  /** The values' format on Kafka (the console prints JSON whatever it is). */
  values: ValueFormatOptions;
}

/** `--format` and what a registry format needs. */
export interface ValueFormatOptions {
  format: Format;
  /** `--schema-registry`, else `SCHEMA_REGISTRY_URL`: set when the format is a registry format. */
  registryUrl: string | undefined;
  /** Whether `registryUrl` came from the flag (else from the environment), for messages. */
  registryFromFlag: boolean;
  /** Register the schemas at start; false (`--no-auto-register`): use each subject's latest version. */
  autoRegister: boolean;
  subjectStrategy: SubjectStrategy;
}

/** A backfill's span of simulated time, epoch milliseconds; `toMs` is not included. */
export interface Backfill {
  fromMs: number;
  toMs: number;
}

/** How the Kafka producer sends, and how it creates topics. */
export interface ProducerOptions {
  clientId: string;
  acks: Acks;
  idempotent: boolean;
  compression: Compression;
  lingerMs: number;
  /** Most records of one topic in one request. */
  batchRecords: number;
  /** Partitions of the topics factory-sim creates. */
  partitions: number;
  /** Replication factor of the topics factory-sim creates; undefined: min(3, brokers). */
  replicationFactor: number | undefined;
  /** Idempotent producers sending at once, each with its keys' records (`sinks/lanes.ts`). */
  producers: number;
}

/** The flags of a run (and of `validate`, which takes some of them). */
export const RUN_FLAGS = {
  factories: { type: "string" },
  config: { type: "string" },
  sink: { type: "string" },
  brokers: { type: "string" },
  speed: { type: "string" },
  rate: { type: "string" },
  seed: { type: "string" },
  "readings-topic": { type: "string" },
  "heartbeat-topic": { type: "string" },
  "labels-topic": { type: "string" },
  "log-level": { type: "string" },
  "client-id": { type: "string" },
  acks: { type: "string" },
  idempotent: { type: "boolean" },
  compression: { type: "string" },
  "linger-ms": { type: "string" },
  "batch-records": { type: "string" },
  partitions: { type: "string" },
  producers: { type: "string" },
  "replication-factor": { type: "string" },
  "spool-dir": { type: "string" },
  "spool-max-mb": { type: "string" },
  "spool-sync": { type: "string" },
  duration: { type: "string" },
  continuous: { type: "boolean" },
  backfill: { type: "string" },
  "generate-lines": { type: "boolean" },
  "lines-per-factory": { type: "string" },
  shard: { type: "string" },
  workers: { type: "string" },
  "summary-json": { type: "string" },
  "metrics-port": { type: "string" },
  "metrics-host": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  format: { type: "string" },
  "schema-registry": { type: "string" },
  "auto-register": { type: "boolean" },
  "subject-strategy": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** The values `parseArgs` gives for `RUN_FLAGS`. */
export type RunFlagValues = {
  [K in keyof typeof RUN_FLAGS]?: typeof RUN_FLAGS[K]["type"] extends "boolean" ? boolean : string;
};

/**
 * The options of a run from its parsed flags. `nowMs` is the launch time: relative `--backfill`
 * times count back from it, and a backfill may not end after it.
 */
export function parseRunOptions(values: RunFlagValues, env: FlagEnv, nowMs: number): RunOptions {
  const factories = parseFactories(values.factories);
  const backfill = values.backfill === undefined ? undefined : parseBackfill(values.backfill, nowMs);
  const rate = values.rate === undefined ? undefined : parseRate(values.rate);
  if (rate !== undefined && values.speed !== undefined) {
    throw new UsageError("--rate takes no --speed: the run's speed is the rate over the plant's own records a second");
  }
  if (backfill !== undefined && values.speed !== undefined) {
    throw new UsageError(
      "--backfill takes no --speed: a backfill runs as fast as the sink accepts (--rate N paces it to N records a second)",
    );
  }
  if (rate !== undefined && values.shard !== undefined) {
    throw new UsageError(
      "--rate takes no --shard: each shard would run at a speed of its own; give every shard the same --speed " +
        "(a --rate run without --shard logs the speed it implies)",
    );
  }
  const shard = values.shard === undefined ? undefined : parseShard(values.shard, factories);
  const workers = parseWorkers(values.workers, values.sink ?? "auto", factories, shard);
  const generateLines = values["generate-lines"] ?? false;
  if (values["lines-per-factory"] !== undefined && !generateLines) {
    throw new UsageError("--lines-per-factory needs --generate-lines");
  }
  return {
    factories,
    config: parseNonEmpty("--config", values.config ?? DEFAULT_CONFIG),
    sink: parseChoice("--sink", values.sink ?? "auto", SINK_KINDS),
    brokers: parseBrokerFlag(values.brokers, env),
    speed: parseSpeed(values.speed ?? "1"),
    rate,
    seed: parseSeed(values.seed),
    topics: {
      ...parseTopicFlags(values),
      ...(values["labels-topic"] === undefined ? {} : { labels: parseTopic("--labels-topic", values["labels-topic"]) }),
    },
    logLevel: parseLogLevel(values),
    quiet: values.quiet ?? false,
    producer: parseProducer(values),
    spool: {
      dir: parseNonEmpty("--spool-dir", values["spool-dir"] ?? DEFAULT_SPOOL_DIR),
      maxMb: parseInteger("--spool-max-mb", values["spool-max-mb"] ?? "512", 0, 1_048_576),
      sync: parseChoice("--spool-sync", values["spool-sync"] ?? "normal", SPOOL_SYNC_MODES),
    },
    durationMs: values.duration === undefined ? undefined : parseDurationFlag("--duration", values.duration, {
      minMs: 1,
      maxMs: MAX_DURATION_MS,
      range: "1ms to 3650d",
      examples: "90s, 15m, 2h or 1d",
    }),
    continuous: values.continuous ?? false,
    backfill,
    generateLines,
    linesPerFactory: values["lines-per-factory"] === undefined
      ? undefined
      : parseInteger("--lines-per-factory", values["lines-per-factory"], 1, MAX_LINES_PER_FACTORY),
    shard,
    workers,
    summaryJson: values["summary-json"] === undefined
      ? undefined
      : parseNonEmpty("--summary-json", values["summary-json"]),
    metrics: parseMetrics(values["metrics-port"], values["metrics-host"]),
    values: parseValueFormat(values, env),
  };
}

/**
 * `--format`, `--schema-registry` (or `SCHEMA_REGISTRY_URL`), `--no-auto-register` and
 * `--subject-strategy`: a registry format on a sink that may be Kafka needs a registry, the
 * registry flags need a registry format, and the default subject strategy (one subject per topic)
 * needs a topic per record type.
 */
export function parseValueFormat(values: RunFlagValues, env: FlagEnv): ValueFormatOptions {
  const format = parseChoice("--format", values.format ?? "json", FORMATS);
  const subjectStrategy = parseChoice("--subject-strategy", values["subject-strategy"] ?? "topic", SUBJECT_STRATEGIES);
  const flagUrl = values["schema-registry"];
  if (format === "json") {
    for (const flag of ["schema-registry", "auto-register", "subject-strategy"] as const) {
      if (values[flag] !== undefined) {
        const name = flag === "auto-register" && values[flag] === false ? "--no-auto-register" : `--${flag}`;
        throw new UsageError(`${name} needs --format avro, protobuf or json-schema (the JSON format has no schema)`);
      }
    }
    return { format, registryUrl: undefined, registryFromFlag: false, autoRegister: true, subjectStrategy };
  }
  const registryUrl = flagUrl ?? (env.SCHEMA_REGISTRY_URL === "" ? undefined : env.SCHEMA_REGISTRY_URL);
  if (registryUrl === undefined && (values.sink ?? "auto") !== "console") {
    throw new UsageError(
      `--format ${format} needs a schema registry: --schema-registry URL or SCHEMA_REGISTRY_URL ` +
        `(for Apicurio, http://HOST:8081/apis/ccompat/v7)`,
    );
  }
  if (subjectStrategy === "topic") {
    const topics: [string, string | undefined][] = [
      ["--readings-topic", values["readings-topic"] ?? DEFAULT_TOPICS.readings],
      ["--heartbeat-topic", values["heartbeat-topic"] ?? DEFAULT_TOPICS.heartbeats],
      ["--labels-topic", values["labels-topic"]],
    ];
    for (let i = 0; i < topics.length; i++) {
      for (let j = i + 1; j < topics.length; j++) {
        if (topics[i][1] !== undefined && topics[i][1] === topics[j][1]) {
          throw new UsageError(
            `${topics[i][0]} and ${topics[j][0]} name the same topic ${
              quoted(topics[i][1]!)
            }: with --format ${format}, ` +
              `--subject-strategy topic (the default) has one schema per topic; use --subject-strategy record or topic-record`,
          );
        }
      }
    }
  }
  return {
    format,
    registryUrl,
    registryFromFlag: flagUrl !== undefined,
    autoRegister: values["auto-register"] ?? true,
    subjectStrategy,
  };
}

/** `--factories` (default 3). */
export function parseFactories(text: string | undefined): number {
  return parseInteger("--factories", text ?? "3", 1, MAX_FACTORIES);
}

/** `--seed`; undefined: a fresh seed. */
export function parseSeed(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseInteger("--seed", text, 0, MAX_SEED);
}

function parseSpeed(text: string): number {
  const value = /^\s*[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) ? Number(text) : NaN;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new UsageError(`--speed must be a number greater than 0: got ${quoted(text)}`);
  }
  return value;
}

/** `--rate`: records a second, a number from 0.01 to 10000000. */
function parseRate(text: string): number {
  const value = /^\s*[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) ? Number(text) : NaN;
  if (!(value >= RATE_RANGE.min && value <= RATE_RANGE.max)) {
    throw new UsageError(
      `--rate must be a number of records a second from ${RATE_RANGE.min} to ${RATE_RANGE.max}: got ${quoted(text)}`,
    );
  }
  return value;
}

/** `FROM[..TO]`: each an RFC 3339 time, a date (UTC midnight) or a duration back from `nowMs`. */
function parseBackfill(text: string, nowMs: number): Backfill {
  const parts = text.split("..");
  if (parts.length > 2) {
    throw new UsageError(`--backfill must be FROM or FROM..TO: got ${quoted(text)}`);
  }
  const fromMs = parsePointInTime("--backfill FROM", parts[0], nowMs);
  const toMs = parts.length === 2 ? parsePointInTime("--backfill TO", parts[1], nowMs) : nowMs;
  if (fromMs >= nowMs) {
    throw new UsageError(
      `--backfill must start in the past: got ${quoted(text)}, which starts at ${new Date(fromMs).toISOString()}`,
    );
  }
  if (toMs > nowMs) {
    throw new UsageError(
      `--backfill must end by now (${new Date(nowMs).toISOString()}): got ${quoted(text)}, which ends at ${
        new Date(toMs).toISOString()
      }`,
    );
  }
  if (fromMs >= toMs) {
    throw new UsageError(
      `--backfill must start before it ends: got ${quoted(text)}, from ${new Date(fromMs).toISOString()} to ${
        new Date(toMs).toISOString()
      }`,
    );
  }
  if (fromMs < 0) throw new UsageError(`--backfill must start in 1970 or later: got ${quoted(text)}`);
  if (toMs - fromMs > MAX_DURATION_MS) throw new UsageError(`--backfill must span at most 3650d: got ${quoted(text)}`);
  return { fromMs, toMs };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parsePointInTime(what: string, text: string, nowMs: number): number {
  const bad = () =>
    new UsageError(
      `${what} must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): ` +
        `got ${quoted(text)}`,
    );
  // A time ago needs its unit: a bare number would read as a year or an epoch time.
  if (DURATION_WITH_UNIT.test(text)) {
    const ms = parseDuration(text);
    if (ms === undefined) throw bad();
    return nowMs - ms;
  }
  const date = DATE.exec(text);
  if (date) {
    const ms = utc(Number(date[1]), Number(date[2]), Number(date[3]), 0, 0, 0);
    if (ms === undefined) throw bad();
    return ms;
  }
  const time = RFC3339.exec(text);
  if (!time) throw bad();
  const [, year, month, day, hour, minute, second, fraction, zulu, sign, offsetHours, offsetMinutes] = time;
  const ms = utc(Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second));
  if (ms === undefined || (!zulu && (Number(offsetHours) > 23 || Number(offsetMinutes) > 59))) throw bad();
  const offsetMs = zulu ? 0 : (sign === "-" ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  return ms + (fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0) - offsetMs;
}

/** Epoch ms of a calendar date and time in UTC, or undefined when no such date or time exists. */
function utc(year: number, month: number, day: number, hour: number, minute: number, second: number) {
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls Feb 30 over into March: a date that does not exist comes back different.
  return new Date(ms).getUTCDate() === day && day >= 1 ? ms : undefined;
}

function parseShard(text: string, factories: number): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = match ? Number(match[1]) : NaN;
  const count = match ? Number(match[2]) : NaN;
  if (!(index >= 1 && index <= count && count <= MAX_FACTORIES)) {
    throw new UsageError(`--shard must be I/N with 1 <= I <= N <= ${MAX_FACTORIES}: got ${quoted(text)}`);
  }
  if (count > factories) {
    throw new UsageError(
      `--shard must not have more shards than --factories (${factories}), or some would be empty: got ${quoted(text)}`,
    );
  }
  return { index, count };
}

/**
 * `--workers N` (default 1): a run of several workers writes to Kafka only (records of several
 * threads would interleave on stdout, and `--sink auto` would fall back worker by worker), and
 * each worker needs a factory of this process's own.
 */
function parseWorkers(text: string | undefined, sink: string, factories: number, shard: Shard | undefined): number {
  const workers = parseInteger("--workers", text ?? "1", 1, MAX_WORKERS);
  if (workers === 1) return workers;
  if (sink !== "kafka") {
    throw new UsageError(
      `--workers ${workers} needs --sink kafka: the workers each write to Kafka (a console run is bound by stdout, ` +
        "not by the CPU)",
    );
  }
  const own = shard === undefined ? factories : Math.floor((factories - shard.index) / shard.count) + 1;
  if (workers > own) {
    throw new UsageError(
      `--workers must not exceed the factories this process simulates (${own}), or some would be idle: got ${workers}`,
    );
  }
  return workers;
}

function parseMetrics(port: string | undefined, host: string | undefined): RunOptions["metrics"] {
  if (port === undefined) {
    if (host !== undefined) throw new UsageError("--metrics-host needs --metrics-port");
    return undefined;
  }
  const hostname = parseNonEmpty("--metrics-host", (host ?? "127.0.0.1").trim());
  if (!/^(\[?[0-9a-fA-F:.]+\]?|[a-zA-Z0-9.-]+)$/.test(hostname)) {
    throw new UsageError(`--metrics-host must be a host name or IP address: got ${quoted(host ?? "")}`);
  }
  return { host: hostname.replace(/^\[(.*)\]$/, "$1"), port: parseInteger("--metrics-port", port, 0, 65535) };
}

function parseProducer(values: RunFlagValues): ProducerOptions {
  const acks = parseChoice("--acks", values.acks ?? "all", ACKS_CHOICES);
  // As with Kafka's Java producer: idempotence is on by default, and off by default when
  // --acks is not all (it needs every in-sync replica's acknowledgement).
  if (values.idempotent === true && acks !== "all") {
    throw new UsageError(`--idempotent needs --acks all: got --acks ${acks} (or add --no-idempotent)`);
  }
  return {
    clientId: parseKafkaId("--client-id", values["client-id"] ?? "factory-sim"),
    acks,
    idempotent: values.idempotent ?? acks === "all",
    compression: parseChoice("--compression", values.compression ?? "none", COMPRESSIONS),
    lingerMs: parseInteger("--linger-ms", values["linger-ms"] ?? "5", 0, 60_000),
    batchRecords: parseInteger("--batch-records", values["batch-records"] ?? "5000", 1, 100_000),
    partitions: parseInteger("--partitions", values.partitions ?? "3", 1, 10_000),
    replicationFactor: values["replication-factor"] === undefined
      ? undefined
      : parseInteger("--replication-factor", values["replication-factor"], 1, 32),
    producers: parseInteger("--producers", values.producers ?? String(DEFAULT_PRODUCERS), 1, MAX_PRODUCERS),
  };
}
