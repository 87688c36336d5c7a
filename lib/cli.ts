/**
 * Command-line options: parsing, validation and `--help`. Every problem is a `UsageError`
 * naming the flag (or the environment variable) at fault.
 */
import { parseArgs } from "node:util";
import { parseDuration } from "./duration.ts";
import { describeError, UsageError } from "./errors.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import {
  type Acks,
  ACKS_CHOICES,
  type Compression,
  COMPRESSIONS,
  isKafkaName,
  KAFKA_NAME_RULE,
} from "./kafka/settings.ts";
import { DEFAULT_TOPICS, type Topics } from "./messages.ts";
import type { Shard } from "./plant.ts";
import { MAX_SEED } from "./random.ts";

/** Default `--spool-dir` (relative to the working directory). */
export const DEFAULT_SPOOL_DIR = "factory-sim-spool";

/** Where records go: Kafka, stdout, or Kafka when reachable and stdout otherwise. */
export const SINK_KINDS = ["auto", "kafka", "console"] as const;
/** A value of `--sink`. */
export type SinkKind = typeof SINK_KINDS[number];

/** Most factories one process simulates. */
export const MAX_FACTORIES = 10_000;
/** Most generated lines per factory (`--lines-per-factory`). */
export const MAX_LINES_PER_FACTORY = 50;
/** Longest `--duration`, and longest `--backfill` span: 3650 days. */
export const MAX_DURATION_MS = 3_650 * 86_400_000;

/** Validated options of a run. */
export interface Options {
  factories: number;
  config: string;
  sink: SinkKind;
  brokers: string[];
  speed: number;
  /** Undefined when the run should draw a fresh seed. */
  seed: number | undefined;
  topics: Topics;
  logLevel: LogLevel;
  producer: ProducerOptions;
  /** The store-and-forward spool; `maxMb` 0 turns it off. */
  spool: { dir: string; maxMb: number };
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
  /** Where to write the end-of-run summary as JSON; undefined: nowhere. */
  summaryJson: string | undefined;
  /** Where to serve `/metrics`, `/healthz` and `/readyz` (port 0: a free one); undefined: no server. */
  metrics: { host: string; port: number } | undefined;
  /** Only warnings and errors on stderr: no info logs, no live status, no end-of-run summary. */
  quiet: boolean;
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
}

/** What the command line asks for. */
export type Command =
  | { kind: "run"; options: Options }
  | { kind: "help" }
  | { kind: "version" }
  | ({ kind: "validate" } & ValidateOptions)
  | { kind: "monitor"; options: MonitorOptions };

/** What `factory-sim monitor` watches and how it shows it. */
export interface MonitorOptions {
  brokers: string[];
  topics: Pick<Topics, "readings" | "heartbeats">;
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
}

/** What `factory-sim validate` checks: the config at `path`, as a run with these flags would read it. */
export interface ValidateOptions {
  path: string;
  /** Factories of the run to check against (plant warnings: a factory not simulated, ...). */
  factories: number;
  /** The run's seed, which draws each factory's sensors; undefined: what holds for every seed. */
  seed: number | undefined;
}

/** Flags `validate` takes; every other flag is an error there. */
const VALIDATE_FLAGS = ["config", "factories", "seed", "help", "version"];

/** Environment variables the options read. */
export interface OptionEnv {
  KAFKA_BROKERS?: string;
}

const FLAGS = {
  factories: { type: "string" },
  config: { type: "string" },
  sink: { type: "string" },
  brokers: { type: "string" },
  speed: { type: "string" },
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
  "replication-factor": { type: "string" },
  "spool-dir": { type: "string" },
  "spool-max-mb": { type: "string" },
  duration: { type: "string" },
  continuous: { type: "boolean" },
  backfill: { type: "string" },
  "generate-lines": { type: "boolean" },
  "lines-per-factory": { type: "string" },
  shard: { type: "string" },
  "summary-json": { type: "string" },
  "metrics-port": { type: "string" },
  "metrics-host": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/**
 * Parses the arguments (without the program name). Throws `UsageError` on bad flags. `nowMs` is
 * the launch time: relative `--backfill` times count back from it, and a backfill may not end after it.
 */
export function parseCommand(
  args: string[],
  env: OptionEnv = {},
  { nowMs = Date.now() }: { nowMs?: number } = {},
): Command {
  if (args[0] === "monitor") return parseMonitor(args.slice(1), env);
  let parsed;
  try {
    parsed = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: true, allowNegative: true });
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (positionals[0] === "monitor") {
    throw new UsageError("monitor must come first, before its flags: factory-sim monitor [flags]");
  }
  if (values.version) return { kind: "version" };
  if (positionals[0] === "validate") return parseValidate(values, positionals.slice(1), args);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" (see --help)`);

  const brokersText = values.brokers ?? env.KAFKA_BROKERS ?? "localhost:9092";
  const brokersSource = values.brokers !== undefined
    ? "--brokers"
    : env.KAFKA_BROKERS !== undefined
    ? "KAFKA_BROKERS"
    : "--brokers";
  const factories = parseInteger("--factories", values.factories ?? "3", 1, MAX_FACTORIES);
  const backfill = values.backfill === undefined ? undefined : parseBackfill(values.backfill, nowMs);
  if (backfill !== undefined && values.speed !== undefined) {
    throw new UsageError("--backfill takes no --speed: a backfill runs as fast as the sink accepts");
  }
  const generateLines = values["generate-lines"] ?? false;
  if (values["lines-per-factory"] !== undefined && !generateLines) {
    throw new UsageError("--lines-per-factory needs --generate-lines");
  }
  return {
    kind: "run",
    options: {
      factories,
      config: parseNonEmpty("--config", values.config ?? "./factory_config.json"),
      sink: parseChoice("--sink", values.sink ?? "auto", SINK_KINDS),
      brokers: parseBrokers(brokersSource, brokersText),
      speed: parseSpeed(values.speed ?? "1"),
      seed: values.seed === undefined ? undefined : parseInteger("--seed", values.seed, 0, MAX_SEED),
      topics: {
        readings: parseTopic("--readings-topic", values["readings-topic"] ?? DEFAULT_TOPICS.readings),
        heartbeats: parseTopic("--heartbeat-topic", values["heartbeat-topic"] ?? DEFAULT_TOPICS.heartbeats),
        ...(values["labels-topic"] === undefined
          ? {}
          : { labels: parseTopic("--labels-topic", values["labels-topic"]) }),
      },
      logLevel: quietLevel(parseChoice("--log-level", values["log-level"] ?? "info", LOG_LEVELS), values.quiet),
      quiet: values.quiet ?? false,
      producer: parseProducer(values),
      spool: {
        dir: parseNonEmpty("--spool-dir", values["spool-dir"] ?? DEFAULT_SPOOL_DIR),
        maxMb: parseInteger("--spool-max-mb", values["spool-max-mb"] ?? "512", 0, 1_048_576),
      },
      durationMs: values.duration === undefined ? undefined : parsePositiveDuration(values.duration),
      continuous: values.continuous ?? false,
      backfill,
      generateLines,
      linesPerFactory: values["lines-per-factory"] === undefined
        ? undefined
        : parseInteger("--lines-per-factory", values["lines-per-factory"], 1, MAX_LINES_PER_FACTORY),
      shard: values.shard === undefined ? undefined : parseShard(values.shard, factories),
      summaryJson: values["summary-json"] === undefined
        ? undefined
        : parseNonEmpty("--summary-json", values["summary-json"]),
      metrics: parseMetrics(values["metrics-port"], values["metrics-host"]),
    },
  };
}

function parseValidate(
  values: { config?: string; factories?: string; seed?: string },
  positionals: string[],
  args: string[],
): Command {
  const other = Object.keys(values).filter((name) => !VALIDATE_FLAGS.includes(name));
  if (other.length > 0) {
    const flag = args.find((arg) => arg === `--${other[0]}` || arg.startsWith(`--${other[0]}=`)) ?? `--${other[0]}`;
    throw new UsageError(`validate takes only [PATH], --config, --factories and --seed: got ${flag.split("=")[0]}`);
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}" (see --help)`);
  if (positionals.length === 1 && values.config !== undefined) {
    throw new UsageError("validate takes the config as PATH or as --config PATH, not both");
  }
  return {
    kind: "validate",
    path: parseNonEmpty(
      positionals.length === 1 ? "PATH" : "--config",
      positionals[0] ?? values.config ?? "./factory_config.json",
    ),
    factories: parseInteger("--factories", values.factories ?? "3", 1, MAX_FACTORIES),
    seed: values.seed === undefined ? undefined : parseInteger("--seed", values.seed, 0, MAX_SEED),
  };
}

const MONITOR_FLAGS = {
  brokers: { type: "string" },
  "readings-topic": { type: "string" },
  "heartbeat-topic": { type: "string" },
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
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** Longest `--dead-after`, `--late-after` and `--interval`. */
const MAX_MONITOR_DURATION_MS = 86_400_000;

function parseMonitor(args: string[], env: OptionEnv): Command {
  let parsed;
  try {
    parsed = parseArgs({ args, options: MONITOR_FLAGS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(describeParseError(error).replace("(see --help)", "for monitor (see --help)"));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}" for monitor (see --help)`);
  const deadAfterMs = parseMonitorDuration("--dead-after", values["dead-after"] ?? "5s");
  const lateAfterMs = values["late-after"] === undefined
    ? deadAfterMs / 2
    : parseMonitorDuration("--late-after", values["late-after"]);
  if (lateAfterMs >= deadAfterMs) {
    throw new UsageError(
      `--late-after must be shorter than --dead-after (${deadAfterMs / 1000} s): got "${values["late-after"]}"`,
    );
  }
  const clientId = values["client-id"] ?? "factory-sim-monitor";
  const groupId = values["group-id"] ?? `factory-sim-monitor-${crypto.randomUUID().slice(0, 8)}`;
  for (const [flag, id] of [["--client-id", clientId], ["--group-id", groupId]]) {
    if (!isKafkaName(id)) {
      throw new UsageError(`${flag} must be ${KAFKA_NAME_RULE}: got "${id}"`);
    }
  }
  return {
    kind: "monitor",
    options: {
      brokers: parseBrokers(
        values.brokers !== undefined || env.KAFKA_BROKERS === undefined ? "--brokers" : "KAFKA_BROKERS",
        values.brokers ?? env.KAFKA_BROKERS ?? "localhost:9092",
      ),
      topics: {
        readings: parseTopic("--readings-topic", values["readings-topic"] ?? DEFAULT_TOPICS.readings),
        heartbeats: parseTopic("--heartbeat-topic", values["heartbeat-topic"] ?? DEFAULT_TOPICS.heartbeats),
      },
      groupId,
      clientId,
      fromBeginning: values["from-beginning"] ?? false,
      lateAfterMs,
      deadAfterMs,
      json: values.json ?? false,
      web: values.web === undefined ? undefined : parseListenAddress("--web", values.web),
      intervalMs: parseMonitorDuration("--interval", values.interval ?? "1s", 100),
      logLevel: quietLevel(parseChoice("--log-level", values["log-level"] ?? "info", LOG_LEVELS), values.quiet),
      quiet: values.quiet ?? false,
    },
  };
}

function parseMonitorDuration(flag: string, text: string, minMs = 1): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < minMs || ms > MAX_MONITOR_DURATION_MS) {
    throw new UsageError(
      `${flag} must be a duration from ${minMs}ms to 1d, such as 500ms, 5s or 2m: got "${text}"`,
    );
  }
  return ms;
}

/** `[HOST]:PORT` or `PORT`; the host defaults to 127.0.0.1 (`0.0.0.0` listens on every interface). */
function parseListenAddress(flag: string, text: string): { host: string; port: number } {
  const match = /^\s*(?:(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]*):)?(\d{1,5})\s*$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    throw new UsageError(`${flag} must be [HOST]:PORT or PORT, such as :8080 or 0.0.0.0:8080: got "${text}"`);
  }
  const host = (match[1] ?? "").replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? "127.0.0.1" : host, port };
}

function parseProducer(values: {
  "client-id"?: string;
  acks?: string;
  idempotent?: boolean;
  compression?: string;
  "linger-ms"?: string;
  "batch-records"?: string;
  partitions?: string;
  "replication-factor"?: string;
}): ProducerOptions {
  const acks = parseChoice("--acks", values.acks ?? "all", ACKS_CHOICES);
  // As with Kafka's Java producer: idempotence is on by default, and off by default when
  // --acks is not all (it needs every in-sync replica's acknowledgement).
  if (values.idempotent === true && acks !== "all") {
    throw new UsageError(`--idempotent needs --acks all: got --acks ${acks} (or add --no-idempotent)`);
  }
  const clientId = values["client-id"] ?? "factory-sim";
  if (!isKafkaName(clientId)) {
    throw new UsageError(`--client-id must be ${KAFKA_NAME_RULE}: got "${clientId}"`);
  }
  return {
    clientId,
    acks,
    idempotent: values.idempotent ?? acks === "all",
    compression: parseChoice("--compression", values.compression ?? "none", COMPRESSIONS),
    lingerMs: parseInteger("--linger-ms", values["linger-ms"] ?? "5", 0, 60_000),
    batchRecords: parseInteger("--batch-records", values["batch-records"] ?? "5000", 1, 100_000),
    partitions: parseInteger("--partitions", values.partitions ?? "3", 1, 10_000),
    replicationFactor: values["replication-factor"] === undefined
      ? undefined
      : parseInteger("--replication-factor", values["replication-factor"], 1, 32),
  };
}

/** The `--help` text. */
export function helpText(version: string): string {
  return `factory-sim ${version}
Simulates factories of sensors and streams their readings and heartbeats to Apache Kafka.

Usage: factory-sim [options]
       factory-sim validate [PATH] [--factories N] [--seed N]
       factory-sim monitor [--from-beginning] [--json] [--web [HOST:]PORT] [...]

Commands:
  (none)                  run the simulation
  validate [PATH]         check a config (default ./factory_config.json, or --config
                          PATH) as a run with the same --factories (and --seed) would:
                          every problem and warning on stderr, "ok: ..." on stdout;
                          exit 0 when usable (warnings allowed), 2 when not; needs no
                          network; without --seed it warns about sensors that only
                          some seeds give (factories have 3-5 sensors)
  monitor                 watch what lands in Kafka (see "Monitor" below)

Options:
  --factories N           factories F1..FN to simulate, 1-${MAX_FACTORIES} (default 3)
  --config PATH           production lines per factory (default ./factory_config.json)
  --sink auto|kafka|console
                          kafka: produce to Kafka, fail if unreachable;
                          console: one JSON record a line on stdout;
                          auto: Kafka if reachable within 3 s, else console (default)
  --brokers LIST          comma-separated host:port list (default $KAFKA_BROKERS,
                          else localhost:9092)
  --speed X               run X times faster than real time, X > 0 (default 1)
  --seed N                fix the plant, values and intervals, 0-${MAX_SEED}
                          (default: a fresh seed, logged so the run can be repeated)
  --readings-topic NAME   topic for readings (default ${DEFAULT_TOPICS.readings})
  --heartbeat-topic NAME  topic for heartbeats (default ${DEFAULT_TOPICS.heartbeats})
  --labels-topic NAME     topic for the start and end of each fault (default: none)
  --log-level LEVEL       ${LOG_LEVELS.join(", ")} (default info); logs go to stderr
  --summary-json PATH     at the end of the run (also when stopped or failed after it
                          started) write its summary as JSON to PATH: per line readings
                          sent and min/mean/max, per topic records produced; needs
                          --allow-write=PATH
  --metrics-port P        serve Prometheus metrics on http://HOST:P/metrics, and
                          /healthz (200 while running) and /readyz (200 while the sink
                          delivers, else 503), 0-65535 (0: a free port, logged);
                          needs --allow-net=HOST:P (default: no server)
  --metrics-host H        address the metrics server listens on (default 127.0.0.1;
                          0.0.0.0 for every interface; needs --metrics-port)
  -q, --quiet             only warnings and errors on stderr: no info logs, no live
                          status, no end-of-run summary (data on stdout unchanged);
                          without it, a terminal on stderr shows a live status, unless
                          records go to stdout on a terminal too

Time control:
  --duration D            end the run once D of simulated time has passed (or when every
                          line is done, if sooner): 90s, 15m, 2h, 1d, or seconds
  --continuous            a line that has taken its number of readings starts a new batch
                          (count restarts at 1): the run ends on a signal or --duration
  --backfill FROM[..TO]   generate the history from FROM up to TO (default: now) on a
                          virtual clock, as fast as the sink accepts, then exit; FROM and
                          TO: RFC 3339 (2025-11-01T00:00:00Z), a date (2025-11-01, UTC
                          midnight) or a time ago (7d, 36h); TO not in the future; no --speed

Synthetic plants and shards:
  --generate-lines        a factory without an entry in the config gets generated lines
                          (soda names and numbers 5-20 drawn from the seed)
  --lines-per-factory N   generated lines per factory, 1-${MAX_LINES_PER_FACTORY}, on its sensors in turn
                          (default: one per sensor; needs --generate-lines)
  --shard I/N             simulate only shard I of N: the factories Fk with
                          (k-1) mod N = I-1; N processes with the same flags and seed
                          produce the whole plant together

Kafka producer:
  --client-id ID          client.id the brokers see (default factory-sim)
  --acks all|leader|none  acknowledgement to wait for (default all)
  --idempotent, --no-idempotent
                          idempotent producer: retries never duplicate or reorder
                          (default on; needs --acks all, off by default otherwise)
  --compression none|gzip record batch compression (default none)
  --linger-ms N           longest a record waits for its batch, 0-60000 (default 5)
  --batch-records N       most records of one topic per request, 1-100000 (default 5000);
                          a request also stays under about 1 MB (Kafka's default limit)
  --partitions N          partitions of topics factory-sim creates (default 3)
  --replication-factor N  replication factor of topics factory-sim creates
                          (default: 3, or the number of brokers when fewer)

Store-and-forward (when Kafka does not acknowledge):
  --spool-dir PATH        durable spool for unsent records; the next run sends what it
                          holds first (default ./${DEFAULT_SPOOL_DIR})
  --spool-max-mb N        bound of the spool; when full the simulation waits (nothing
                          is dropped); 0 turns the spool off (default 512)
  -h, --help              show this help
  -V, --version           show the version

Environment:
  KAFKA_BROKERS           brokers when --brokers is not given
  KAFKA_SECURITY_PROTOCOL PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL
  KAFKA_SASL_MECHANISM    PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
  KAFKA_SASL_USERNAME     SASL user
  KAFKA_SASL_PASSWORD     SASL password (or KAFKA_SASL_PASSWORD_FILE: a file holding it)
  KAFKA_SSL_CA_LOCATION   PEM file of the CA that signed the brokers' certificates
                          (default: the system's trusted CAs)
  KAFKA_SSL_CERTIFICATE_LOCATION, KAFKA_SSL_KEY_LOCATION
                          PEM client certificate and key, for mutual TLS
  KAFKA_SSL_KEY_PASSWORD  passphrase of an encrypted key (or KAFKA_SSL_KEY_PASSWORD_FILE)
  NO_COLOR                when set and not empty: no colours in the live status

Monitor (factory-sim monitor [flags]; flags go after "monitor"):
  Consumes both topics and shows, per sensor, the age of its last heartbeat, its
  status (alive, late, dead) and uptime; per line, readings received/expected,
  min/mean/max/last, and missing (gaps in count) and duplicated readings. On a
  terminal the table is redrawn in place; elsewhere it is printed every --interval.
  Runs until SIGINT or SIGTERM (exit 0). Takes --brokers, --readings-topic,
  --heartbeat-topic, --client-id (default factory-sim-monitor), --log-level, and:
  --from-beginning        read the topics from their beginning (default: from now; a
                          topic created after the monitor started is read whole)
  --dead-after D          dead when no heartbeat for more than D (default 5s)
  --late-after D          late when no heartbeat for more than D (default: half of
                          --dead-after); a heartbeat's age counts from its timestamp,
                          or from its arrival when that is earlier
  --json                  JSON lines on stdout instead of the table: a "snapshot" every
                          --interval, and a "sensor-status" line at each status change
  --web [HOST:]PORT       serve a live dashboard on http://HOST:PORT/ (default host
                          127.0.0.1; 0.0.0.0 for every interface; port 0: a free one)
  --interval D            time between redraws, snapshots and dashboard updates
                          (default 1s, at least 100ms)
  --group-id ID           consumer group (default factory-sim-monitor-<random>: every
                          monitor needs a group of its own; no offsets are committed)
  -q, --quiet             no table (with --web: the dashboard only); only warnings and
                          errors on stderr

Exit codes:
  0    done: every line finished (or --duration or the backfill's end was
       reached) and every record was delivered; monitor: stopped by a signal, or
       its stdout was closed
  1    runtime failure: Kafka required but unreachable, login, TLS or authorization
       failed, delivery failed (unsent records stay in the spool), stdout closed
  2    bad flags or a bad config file
  3    a Deno permission the run needs was not granted
  130  stopped by SIGINT, after flushing what was produced, or keeping it in the
       spool when Kafka is down (143 for SIGTERM)
`;
}

function describeParseError(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(?:-\w, )?(-{1,2}[^',\s]+)/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag} (see --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/ambiguous/.test(message)) return `${flag} needs a value (for one that starts with "-", write ${flag}=VALUE)`;
      return /argument missing/.test(message) ? `${flag} needs a value` : `${flag} takes no value`;
    default:
      return describeError(error);
  }
}

function parseInteger(flag: string, text: string, min: number, max: number): number {
  const value = /^\s*-?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}: got "${text}"`);
  }
  return value;
}

function parseSpeed(text: string): number {
  const value = /^\s*[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) ? Number(text) : NaN;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new UsageError(`--speed must be a number greater than 0: got "${text}"`);
  }
  return value;
}

function parsePositiveDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1 || ms > MAX_DURATION_MS) {
    throw new UsageError(`--duration must be a duration from 1ms to 3650d, such as 90s, 15m, 2h or 1d: got "${text}"`);
  }
  return ms;
}

/** `FROM[..TO]`: each an RFC 3339 time, a date (UTC midnight) or a duration back from `nowMs`. */
function parseBackfill(text: string, nowMs: number): Backfill {
  const parts = text.split("..");
  if (parts.length > 2) {
    throw new UsageError(`--backfill must be FROM or FROM..TO: got "${text}"`);
  }
  const fromMs = parsePointInTime("--backfill FROM", parts[0], nowMs);
  const toMs = parts.length === 2 ? parsePointInTime("--backfill TO", parts[1], nowMs) : nowMs;
  if (fromMs >= nowMs) {
    throw new UsageError(
      `--backfill must start in the past: got "${text}", which starts at ${new Date(fromMs).toISOString()}`,
    );
  }
  if (toMs > nowMs) {
    throw new UsageError(
      `--backfill must end by now (${new Date(nowMs).toISOString()}): got "${text}", which ends at ${
        new Date(toMs).toISOString()
      }`,
    );
  }
  if (fromMs >= toMs) {
    throw new UsageError(
      `--backfill must start before it ends: got "${text}", from ${new Date(fromMs).toISOString()} to ${
        new Date(toMs).toISOString()
      }`,
    );
  }
  if (fromMs < 0) throw new UsageError(`--backfill must start in 1970 or later: got "${text}"`);
  if (toMs - fromMs > MAX_DURATION_MS) throw new UsageError(`--backfill must span at most 3650d: got "${text}"`);
  return { fromMs, toMs };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parsePointInTime(what: string, text: string, nowMs: number): number {
  const bad = () =>
    new UsageError(
      `${what} must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): ` +
        `got "${text}"`,
    );
  // A time ago needs its unit: a bare number would read as a year or an epoch time.
  if (/^\s*[\d.]+\s*(ms|s|m|h|d)\s*$/.test(text)) {
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
    throw new UsageError(`--shard must be I/N with 1 <= I <= N <= ${MAX_FACTORIES}: got "${text}"`);
  }
  if (count > factories) {
    throw new UsageError(
      `--shard must not have more shards than --factories (${factories}), or some would be empty: got "${text}"`,
    );
  }
  return { index, count };
}

/** `--quiet` keeps warnings and errors only (`--log-level error` stays error). */
function quietLevel(level: LogLevel, quiet: boolean | undefined): LogLevel {
  return quiet && level !== "error" ? "warning" : level;
}

function parseMetrics(port: string | undefined, host: string | undefined): Options["metrics"] {
  if (port === undefined) {
    if (host !== undefined) throw new UsageError("--metrics-host needs --metrics-port");
    return undefined;
  }
  const hostname = parseNonEmpty("--metrics-host", (host ?? "127.0.0.1").trim());
  if (!/^(\[?[0-9a-fA-F:.]+\]?|[a-zA-Z0-9.-]+)$/.test(hostname)) {
    throw new UsageError(`--metrics-host must be a host name or IP address: got "${host}"`);
  }
  return { host: hostname.replace(/^\[(.*)\]$/, "$1"), port: parseInteger("--metrics-port", port, 0, 65535) };
}

function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`${flag} must be one of ${choices.join(", ")}: got "${text}"`);
  }
  return text as T;
}

function parseNonEmpty(flag: string, text: string): string {
  if (text === "") throw new UsageError(`${flag} must not be empty`);
  return text;
}

/** A Kafka topic name. */
function parseTopic(flag: string, text: string): string {
  if (!isKafkaName(text, { topic: true })) {
    throw new UsageError(`${flag} must be a Kafka topic name (${KAFKA_NAME_RULE}): got "${text}"`);
  }
  return text;
}

function parseBrokers(source: string, text: string): string[] {
  const brokers = text.split(",").map((part) => part.trim()).filter((part) => part !== "");
  if (brokers.length === 0) throw new UsageError(`${source} must list at least one host:port: got "${text}"`);
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(broker);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw new UsageError(`${source} must be a comma-separated list of host:port: got "${broker}"`);
    }
  }
  return brokers;
}
