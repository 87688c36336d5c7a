/**
 * The command line: which command the arguments ask for (a run, `validate`, `monitor`, `--help`,
 * `--version`), with its options parsed by the parser that lives beside that command, and `--help`.
 * Every problem is a `UsageError` naming the flag (or the environment variable) at fault.
 */
import { UsageError } from "./errors.ts";
import { type FlagEnv, parseFlags } from "./flags.ts";
import { LOG_LEVELS } from "./log.ts";
import { DEFAULT_TOPICS } from "./messages.ts";
import { MONITOR_FLAGS, type MonitorOptions, parseMonitorOptions } from "./monitor/options.ts";
import { MAX_SEED } from "./random.ts";
import {
  DEFAULT_SPOOL_DIR,
  MAX_FACTORIES,
  MAX_LINES_PER_FACTORY,
  MAX_WORKERS,
  parseRunOptions,
  RATE_RANGE,
  RUN_FLAGS,
  type RunOptions,
} from "./run/options.ts";
import { parseValidateOptions, type ValidateOptions } from "./validate_options.ts";
import { quoted } from "./text.ts";

/** What the command line asks for. */
export type Command =
  | { kind: "run"; options: RunOptions }
  | { kind: "help" }
  | { kind: "version" }
  | ({ kind: "validate" } & ValidateOptions)
  | { kind: "monitor"; options: MonitorOptions };

/**
 * Parses the arguments (without the program name). Throws `UsageError` on bad flags. `nowMs` is
 * the launch time: relative `--backfill` times count back from it, and a backfill may not end after it.
 */
export function parseCommand(
  args: string[],
  env: FlagEnv = {},
  { nowMs = Date.now() }: { nowMs?: number } = {},
): Command {
  if (args[0] === "monitor") {
    const { values, positionals } = parseFlags(args.slice(1), MONITOR_FLAGS, { command: "monitor" });
    if (values.help) return { kind: "help" };
    if (values.version) return { kind: "version" };
    if (positionals.length > 0) {
      throw new UsageError(`unexpected argument ${quoted(positionals[0])} for monitor (see --help)`);
    }
    return { kind: "monitor", options: parseMonitorOptions(values, env) };
  }
  const { values, positionals } = parseFlags(args, RUN_FLAGS, { allowNegative: true });
  if (values.help) return { kind: "help" };
  if (positionals[0] === "monitor") {
    throw new UsageError("monitor must come first, before its flags: factory-sim monitor [flags]");
  }
  if (values.version) return { kind: "version" };
  if (positionals[0] === "validate") {
    return { kind: "validate", ...parseValidateOptions(values, positionals.slice(1), args) };
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${quoted(positionals[0])} (see --help)`);
  return { kind: "run", options: parseRunOptions(values, env, nowMs) };
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
                          every problem and warning on stderr; on stdout, "ok: ..."
                          with what the file has and what such a run simulates
                          (factories, sensors, lines); exit 0 when usable (warnings
                          allowed), 2 when not; needs no network; without --seed it
                          warns about sensors that only some seeds give (factories
                          have 3-5 sensors)
  monitor                 watch what lands in Kafka (see "Monitor" below)

Options:
  --factories N           factories F1..FN to simulate, 1-${MAX_FACTORIES} (default 3)
  --config PATH           production lines per factory (default ./factory_config.json)
  --sink auto|kafka|console
                          kafka: produce to Kafka, fail if unreachable;
                          console: one JSON record a line on stdout (JSON whatever
                          --format says);
                          auto: Kafka if reachable within 3 s, else console (default)
  --brokers LIST          comma-separated host:port list, IPv6 in brackets
                          ([::1]:9092) (default $KAFKA_BROKERS, else localhost:9092)
  --speed X               run X times faster than real time, X > 0 (default 1)
  --rate N                records a second instead of a speed, ${RATE_RANGE.min}-${RATE_RANGE.max}: runs
                          at N / the records a simulated second the plant makes (logged
                          at start; the same records as at that --speed), live or a
                          backfill; the summary shows the rate achieved; no --speed,
                          no --shard
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
                          line is done, if sooner): 90s, 15m, 1h30m, 1d, or seconds
  --continuous            a line that has taken its number of readings starts a new batch
                          (count restarts at 1): the run ends on a signal or --duration
  --backfill FROM[..TO]   generate the history from FROM up to TO (default: now) on a
                          virtual clock, as fast as the sink accepts, then exit; FROM and
                          TO: RFC 3339 (2025-11-01T00:00:00Z), a date (2025-11-01, UTC
                          midnight) or a time ago (7d, 36h); TO not in the future; no
                          --speed; with --rate N, on a real clock at N records a second

Synthetic plants and shards:
  --generate-lines        a factory without an entry in the config gets generated lines
                          (soda names and numbers 5-20 drawn from the seed)
  --lines-per-factory N   generated lines per factory, 1-${MAX_LINES_PER_FACTORY}, on its sensors in turn
                          (default: one per sensor; needs --generate-lines)
  --shard I/N             simulate only shard I of N: the factories Fk with
                          (k-1) mod N = I-1; N processes with the same flags and seed
                          produce the whole plant together when the run ends by itself
                          (lines done, --duration, a backfill's TO): the same records,
                          live ones timed from each shard's own launch; stopped by a
                          signal, each shard stops where it is: together they are not
                          exactly the whole
  --workers N             split the factories (of --shard, if given) over N threads, 1-${MAX_WORKERS}
                          (default 1), each with its own producer and spool
                          (SPOOL-DIR/worker-IofN): a run uses N cores; the same records as
                          one thread; needs --sink kafka

Kafka producer:
  --client-id ID          client.id the brokers see (default factory-sim)
  --acks all|leader|none  acknowledgement to wait for (default all)
  --idempotent, --no-idempotent
                          idempotent producer: retries never duplicate or reorder
                          (default on; needs --acks all, off by default otherwise)
  --compression CODEC     record batch compression: none, gzip, zstd, lz4 or snappy
                          (default none; on a metered link zstd sends the fewest bytes)
  --linger-ms N           longest a record waits for its batch, 0-60000 (default 5)
  --batch-records N       most records of one topic per request, 1-100000 (default 5000);
                          a request also stays under about 1 MB (Kafka's default limit)
  --partitions N          partitions of topics factory-sim creates (default 3)
  --producers N           idempotent producers sending at once, 1-16, at most --partitions
                          (default 1); each sends the records of its own share of the
                          keys, one request in flight, with a spool file of its own
  --replication-factor N  replication factor of topics factory-sim creates
                          (default: 3, or the number of brokers when fewer)

Data contracts (values in Kafka; keys stay the sensor id):
  --format json|avro|protobuf|json-schema
                          json: the JSON contract, no schema (default); avro, protobuf,
                          json-schema: the schemas in schemas/, registered in a Schema
                          Registry, values in its wire format (a zero byte, the schema
                          id, the value); header content-type names the format
  --schema-registry URL   the registry's Confluent-compatible API (default
                          $SCHEMA_REGISTRY_URL; Apicurio: http://HOST:8081/apis/ccompat/v7);
                          needs --allow-net to it; asked only at start (ids resolved
                          before the first record; losing it later changes nothing)
  --no-auto-register      do not register the schemas: use each subject's latest
                          version, and refuse to run if it does not fit
  --subject-strategy topic|record|topic-record
                          subject names: <topic>-value (default), the record's name
                          (factorysim.v1.Reading...), or <topic>-<record name>; topics
                          shared by record types need record or topic-record

Store-and-forward (when Kafka does not acknowledge):
  --spool-dir PATH        durable spool for unsent records; the next run sends what it
                          holds first (default ./${DEFAULT_SPOOL_DIR})
  --spool-max-mb N        bound of the spool; when full the simulation waits (nothing
                          is dropped); 0 turns the spool off (default 512)
  --spool-sync normal|full
                          normal: a commit survives a crash of the process, a power cut
                          can lose the last ones; full: each commit is synced to disk
                          first (default normal)
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
  SCHEMA_REGISTRY_URL     registry when --schema-registry is not given
  SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD
                          the registry's basic auth (or SCHEMA_REGISTRY_PASSWORD_FILE)
  SCHEMA_REGISTRY_SSL_CA_LOCATION
                          PEM file of the CA that signed an https registry's certificate
  NO_COLOR                when set and not empty: no colours in the live status

Monitor (factory-sim monitor [flags]; flags go after "monitor"):
  Consumes both topics and shows, per sensor, the age of its last heartbeat, its
  status (alive, late, dead) and uptime; per line, readings received/expected,
  min/mean/max/last, and missing (gaps in count) and duplicated readings. On a
  terminal the table is redrawn in place; elsewhere it is printed every --interval.
  Runs until SIGINT or SIGTERM (exit 0). Takes --brokers, --readings-topic,
  --heartbeat-topic, --client-id (default factory-sim-monitor), --log-level, and:
  --labels-topic NAME     also read the run's fault labels and show the faults active
                          now (started, not ended) by their sensors and lines: the
                          table's FAULTS column, "!" lines and list, "activeFaults" in
                          --json, the dashboard's cards (may be the readings topic)
  --from-beginning        read the topics from their beginning (default: from now; a
                          topic created after the monitor started is read whole)
  --dead-after D          dead when no heartbeat for more than D (default 5s)
  --late-after D          late when no heartbeat for more than D (default: half of
                          --dead-after); a heartbeat's age counts from its timestamp,
                          or from its arrival when that is earlier
  --json                  JSON lines on stdout instead of the table: a "snapshot" every
                          --interval, and a "sensor-status" line at each status change
  --web [HOST:]PORT       serve a live dashboard on http://HOST:PORT/ (default host
                          127.0.0.1; 0.0.0.0 for every interface; port 0: a free one):
                          the plant's summary, and factory cards by page, search and
                          filter (sensor status, has fault)
  --interval D            time between redraws, snapshots and dashboard updates
                          (default 1s, at least 100ms)
  --group-id ID           consumer group (default factory-sim-monitor-<random>: every
                          monitor needs a group of its own; no offsets are committed)
  --schema-registry URL   resolve the schema ids of Avro, Protobuf and JSON Schema
                          values there (default $SCHEMA_REGISTRY_URL); each id asked
                          once; a value that cannot be decoded counts as invalid
  -q, --quiet             no table (with --web: the dashboard only); only warnings and
                          errors on stderr

Exit codes:
  0    done: every line finished (or --duration or the backfill's end was
       reached) and every record was delivered; monitor: stopped by a signal, or
       the reader of its stdout went away
  1    runtime failure: Kafka required but unreachable, login, TLS or authorization
       failed, delivery failed (unsent records stay in the spool), stdout could not
       be written (closed, broken pipe, full disk), the schema registry unreachable
       or refusing a schema at start
  2    bad flags or a bad config file
  3    a Deno permission the run needs was not granted
  130  stopped by SIGINT, after flushing what was produced, or keeping it in the
       spool when Kafka is down (143 for SIGTERM)
`;
}
