import assert from "node:assert/strict";
import { helpText, parseCommand } from "../lib/cli.ts";
import type { ProducerOptions, RunOptions } from "../lib/run/options.ts";
import { ExitCode, UsageError } from "../lib/errors.ts";

function usageError(args: string[], env = {}): string {
  try {
    parseCommand(args, env);
  } catch (error) {
    assert.ok(error instanceof UsageError);
    assert.equal(error.exitCode, ExitCode.usage);
    return error.message;
  }
  assert.fail(`accepted ${args.join(" ")}`);
}

Deno.test("no flags give the documented defaults", () => {
  assert.deepEqual(parseCommand([]), {
    kind: "run",
    options: {
      factories: 3,
      config: "./factory_config.json",
      sink: "auto",
      brokers: ["localhost:9092"],
      speed: 1,
      rate: undefined,
      seed: undefined,
      topics: { readings: "SENSOR_READINGS", heartbeats: "SENSOR_HEARTBEAT" },
      logLevel: "info",
      producer: {
        clientId: "factory-sim",
        acks: "all",
        idempotent: true,
        compression: "none",
        lingerMs: 5,
        batchRecords: 5000,
        partitions: 3,
        replicationFactor: undefined,
        producers: 1,
      },
      spool: { dir: "factory-sim-spool", maxMb: 512, sync: "normal" },
      durationMs: undefined,
      continuous: false,
      backfill: undefined,
      generateLines: false,
      linesPerFactory: undefined,
      shard: undefined,
      workers: 1,
      summaryJson: undefined,
      metrics: undefined,
      quiet: false,
      values: {
        format: "json",
        registryUrl: undefined,
        registryFromFlag: false,
        autoRegister: true,
        subjectStrategy: "topic",
      },
    },
  });
});

Deno.test("--quiet keeps warnings and errors only", () => {
  const levelOf = (args: string[]) => {
    const command = parseCommand(args);
    if (command.kind !== "run") throw new Error(`not a run: ${command.kind}`);
    return command.options;
  };
  assert.deepEqual(pick(levelOf(["--quiet"])), { quiet: true, logLevel: "warning" });
  assert.deepEqual(pick(levelOf(["-q", "--log-level", "debug"])), { quiet: true, logLevel: "warning" });
  assert.deepEqual(pick(levelOf(["-q", "--log-level", "error"])), { quiet: true, logLevel: "error" });
  assert.deepEqual(pick(levelOf(["--log-level", "debug"])), { quiet: false, logLevel: "debug" });
});

function pick({ quiet, logLevel }: { quiet: boolean; logLevel: string }) {
  return { quiet, logLevel };
}

Deno.test("every flag is read", () => {
  const command = parseCommand([
    "--factories=7",
    "--config",
    "plant.json",
    "--sink",
    "console",
    "--brokers",
    "k1:9092, k2:19092,[::1]:9093",
    "--speed",
    "2.5",
    "--seed",
    "4294967295",
    "--readings-topic",
    "plant.readings",
    "--heartbeat-topic",
    "plant.heartbeats",
    "--log-level",
    "debug",
    "--client-id=gateway-7",
    "--acks=all",
    "--no-idempotent",
    "--compression=gzip",
    "--linger-ms=0",
    "--batch-records=500",
    "--partitions=6",
    "--replication-factor=2",
    "--producers=3",
    "--spool-dir=/var/lib/factory-sim",
    "--spool-max-mb=0",
    "--spool-sync=full",
    "--duration=1.5h",
    "--continuous",
    "--generate-lines",
    "--lines-per-factory=12",
    "--shard",
    "3/7",
    "--workers=1",
    "--summary-json",
    "out/summary.json",
    "--metrics-port=9464",
    "--metrics-host=0.0.0.0",
    "--format=avro",
    "--schema-registry=https://registry.plant:8081/apis/ccompat/v7",
    "--no-auto-register",
    "--subject-strategy",
    "topic-record",
  ]);
  assert.deepEqual(command, {
    kind: "run",
    options: {
      factories: 7,
      config: "plant.json",
      sink: "console",
      brokers: ["k1:9092", "k2:19092", "[::1]:9093"],
      speed: 2.5,
      rate: undefined,
      seed: 4294967295,
      topics: { readings: "plant.readings", heartbeats: "plant.heartbeats" },
      logLevel: "debug",
      producer: {
        clientId: "gateway-7",
        acks: "all",
        idempotent: false,
        compression: "gzip",
        lingerMs: 0,
        batchRecords: 500,
        partitions: 6,
        replicationFactor: 2,
        producers: 3,
      },
      spool: { dir: "/var/lib/factory-sim", maxMb: 0, sync: "full" },
      durationMs: 5_400_000,
      continuous: true,
      backfill: undefined,
      generateLines: true,
      linesPerFactory: 12,
      shard: { index: 3, count: 7 },
      workers: 1,
      summaryJson: "out/summary.json",
      metrics: { host: "0.0.0.0", port: 9464 },
      quiet: false,
      values: {
        format: "avro",
        registryUrl: "https://registry.plant:8081/apis/ccompat/v7",
        registryFromFlag: true,
        autoRegister: false,
        subjectStrategy: "topic-record",
      },
    },
  });
});

Deno.test("--rate is read live and with --backfill, and leaves --speed at its default", () => {
  const live = parseCommand(["--rate", "5000"]);
  assert.ok(live.kind === "run");
  assert.equal(live.options.rate, 5000);
  assert.equal(live.options.speed, 1);
  assert.equal(live.options.backfill, undefined);
  const backfill = parseCommand(["--rate=2.5e3", "--backfill=2025-12-01..2025-12-02"], {}, {
    nowMs: Date.UTC(2025, 11, 3),
  });
  assert.ok(backfill.kind === "run");
  assert.equal(backfill.options.rate, 2500);
  assert.deepEqual(backfill.options.backfill, { fromMs: Date.UTC(2025, 11, 1), toMs: Date.UTC(2025, 11, 2) });
});

Deno.test("brokers come from KAFKA_BROKERS unless --brokers is given", () => {
  const env = { KAFKA_BROKERS: "a:1,b:2" };
  assert.deepEqual((parseCommand([], env) as { options: { brokers: string[] } }).options.brokers, ["a:1", "b:2"]);
  assert.deepEqual(
    (parseCommand(["--brokers", "c:3"], env) as { options: { brokers: string[] } }).options.brokers,
    ["c:3"],
  );
  assert.equal(
    usageError([], { KAFKA_BROKERS: "nohost" }),
    'KAFKA_BROKERS must be a comma-separated list of host:port: got "nohost"',
  );
});

Deno.test("idempotence follows --acks as in Kafka's Java producer, and cannot be forced without acks=all", () => {
  const producer = (args: string[]) =>
    (parseCommand(args) as { options: { producer: ProducerOptions } }).options.producer;
  assert.equal(producer([]).idempotent, true);
  assert.equal(producer(["--acks=leader"]).idempotent, false);
  assert.equal(producer(["--acks=none"]).idempotent, false);
  assert.equal(producer(["--idempotent"]).idempotent, true);
  assert.equal(
    usageError(["--acks=leader", "--idempotent"]),
    "--idempotent needs --acks all: got --acks leader (or add --no-idempotent)",
  );
});

Deno.test("--help and --version win over everything else", () => {
  assert.deepEqual(parseCommand(["--factories", "x", "--help"]), { kind: "help" });
  assert.deepEqual(parseCommand(["-V"]), { kind: "version" });
  const help = helpText("1.2.3");
  for (
    const flag of [
      "--factories",
      "--config",
      "--sink",
      "--brokers",
      "--speed",
      "--seed",
      "--readings-topic",
      "--acks",
      "--no-idempotent",
      "--linger-ms",
      "--spool-dir",
      "--spool-max-mb",
      "--duration",
      "--continuous",
      "--backfill FROM[..TO]",
      "--generate-lines",
      "--lines-per-factory",
      "--shard I/N",
      "KAFKA_SASL_PASSWORD_FILE",
      "KAFKA_SSL_CA_LOCATION",
    ]
  ) {
    assert.ok(help.includes(flag), flag);
  }
  for (const code of ["0 ", "1 ", "2 ", "3 ", "130"]) assert.match(help, new RegExp(`^  ${code}`, "m"));
});

Deno.test("bad flags name the flag", async (t) => {
  const cases: [string[], string][] = [
    [["--factory", "3"], "unknown flag --factory (see --help)"],
    [["-x"], "unknown flag -x (see --help)"],
    [["--factories"], "--factories needs a value"],
    [["--help=yes"], "--help takes no value"],
    [["extra"], 'unexpected argument "extra" (see --help)'],
    [["--factories", "three"], '--factories must be an integer from 1 to 10000: got "three"'],
    [["--factories", "0"], '--factories must be an integer from 1 to 10000: got "0"'],
    [["--factories", "2.5"], '--factories must be an integer from 1 to 10000: got "2.5"'],
    [["--factories", "10001"], '--factories must be an integer from 1 to 10000: got "10001"'],
    [["--speed", "0"], '--speed must be a number greater than 0: got "0"'],
    [["--speed", "-2"], '--speed needs a value (for one that starts with "-", write --speed=VALUE)'],
    [["--speed=-2"], '--speed must be a number greater than 0: got "-2"'],
    [["--speed", "fast"], '--speed must be a number greater than 0: got "fast"'],
    [["--speed", "Infinity"], '--speed must be a number greater than 0: got "Infinity"'],
    [["--seed=-1"], '--seed must be an integer from 0 to 4294967295: got "-1"'],
    [["--seed", "1.5"], '--seed must be an integer from 0 to 4294967295: got "1.5"'],
    [["--seed", "4294967296"], '--seed must be an integer from 0 to 4294967295: got "4294967296"'],
    [["--sink", "file"], '--sink must be one of auto, kafka, console: got "file"'],
    [["--log-level", "verbose"], '--log-level must be one of debug, info, warning, error: got "verbose"'],
    [["--brokers", ""], '--brokers must list at least one host:port: got ""'],
    [["--brokers", "localhost"], '--brokers must be a comma-separated list of host:port: got "localhost"'],
    [["--brokers", "localhost:99999"], '--brokers must be a comma-separated list of host:port: got "localhost:99999"'],
    [
      ["--readings-topic", "bad topic"],
      '--readings-topic must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -): got "bad topic"',
    ],
    [
      ["--heartbeat-topic", ".."],
      '--heartbeat-topic must be a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -): got ".."',
    ],
    [["--config", ""], "--config must not be empty"],
    [["--acks=1"], '--acks must be one of all, leader, none: got "1"'],
    [["--compression=brotli"], '--compression must be one of none, gzip, snappy, lz4, zstd: got "brotli"'],
    [["--linger-ms=-1"], '--linger-ms must be an integer from 0 to 60000: got "-1"'],
    [["--batch-records=0"], '--batch-records must be an integer from 1 to 100000: got "0"'],
    [["--partitions=0"], '--partitions must be an integer from 1 to 10000: got "0"'],
    [["--replication-factor=0"], '--replication-factor must be an integer from 1 to 32: got "0"'],
    [["--spool-max-mb=lots"], '--spool-max-mb must be an integer from 0 to 1048576: got "lots"'],
    [["--spool-sync=off"], '--spool-sync must be one of normal, full: got "off"'],
    [["--spool-dir="], "--spool-dir must not be empty"],
    [["--summary-json="], "--summary-json must not be empty"],
    [["--summary-json"], "--summary-json needs a value"],
    [["--client-id=my client"], '--client-id must be 1-249 of a-z A-Z 0-9 . _ -: got "my client"'],
    [["--idempotent=no"], "--idempotent takes no value"],
    [["--duration", "soon"], '--duration must be a duration from 1ms to 3650d, such as 90s, 15m, 2h or 1d: got "soon"'],
    [["--duration", "0"], '--duration must be a duration from 1ms to 3650d, such as 90s, 15m, 2h or 1d: got "0"'],
    [["--duration", "0s"], '--duration must be a duration from 1ms to 3650d, such as 90s, 15m, 2h or 1d: got "0s"'],
    [["--duration=-5m"], '--duration must be a duration from 1ms to 3650d, such as 90s, 15m, 2h or 1d: got "-5m"'],
    [["--duration", "2w"], '--duration must be a duration from 1ms to 3650d, such as 90s, 15m, 2h or 1d: got "2w"'],
    [
      ["--duration", "3651d"],
      '--duration must be a duration from 1ms to 3650d, such as 90s, 15m, 2h or 1d: got "3651d"',
    ],
    [["--continuous=yes"], "--continuous takes no value"],
    [["--generate-lines=3"], "--generate-lines takes no value"],
    [["--lines-per-factory", "3"], "--lines-per-factory needs --generate-lines"],
    [
      ["--generate-lines", "--lines-per-factory", "0"],
      '--lines-per-factory must be an integer from 1 to 50: got "0"',
    ],
    [
      ["--generate-lines", "--lines-per-factory", "51"],
      '--lines-per-factory must be an integer from 1 to 50: got "51"',
    ],
    [["--shard", "2"], '--shard must be I/N with 1 <= I <= N <= 10000: got "2"'],
    [["--shard", "0/3"], '--shard must be I/N with 1 <= I <= N <= 10000: got "0/3"'],
    [["--shard", "4/3"], '--shard must be I/N with 1 <= I <= N <= 10000: got "4/3"'],
    [["--shard", "1/0"], '--shard must be I/N with 1 <= I <= N <= 10000: got "1/0"'],
    [["--shard", "a/b"], '--shard must be I/N with 1 <= I <= N <= 10000: got "a/b"'],
    [["--shard", "1.5/3"], '--shard must be I/N with 1 <= I <= N <= 10000: got "1.5/3"'],
    [
      ["--shard", "1/4"],
      '--shard must not have more shards than --factories (3), or some would be empty: got "1/4"',
    ],
    [
      ["--backfill", "7d", "--speed", "10"],
      "--backfill takes no --speed: a backfill runs as fast as the sink accepts (--rate N paces it to N records a second)",
    ],
    [
      ["--rate", "5000", "--speed", "10"],
      "--rate takes no --speed: the run's speed is the rate over the plant's own records a second",
    ],
    [
      ["--speed=10", "--rate=5000", "--backfill=7d"],
      "--rate takes no --speed: the run's speed is the rate over the plant's own records a second",
    ],
    [
      ["--rate", "5000", "--shard", "1/3"],
      "--rate takes no --shard: each shard would run at a speed of its own; give every shard the same --speed " +
      "(a --rate run without --shard logs the speed it implies)",
    ],
    [["--rate", "0"], '--rate must be a number of records a second from 0.01 to 10000000: got "0"'],
    [["--rate", "0.001"], '--rate must be a number of records a second from 0.01 to 10000000: got "0.001"'],
    [["--rate", "1e8"], '--rate must be a number of records a second from 0.01 to 10000000: got "1e8"'],
    [["--rate", "5k"], '--rate must be a number of records a second from 0.01 to 10000000: got "5k"'],
    [["--rate", "NaN"], '--rate must be a number of records a second from 0.01 to 10000000: got "NaN"'],
    [["--rate", "Infinity"], '--rate must be a number of records a second from 0.01 to 10000000: got "Infinity"'],
    [["--rate="], '--rate must be a number of records a second from 0.01 to 10000000: got ""'],
    [["--rate", "-5"], '--rate needs a value (for one that starts with "-", write --rate=VALUE)'],
    [["validate", "--rate", "10"], "validate takes only [PATH], --config, --factories and --seed: got --rate"],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" ") || "(empty)", () => assert.equal(usageError(args), message));
  }
});

Deno.test("--backfill takes RFC 3339 times, dates and times ago, up to now", async (t) => {
  const nowMs = Date.UTC(2025, 11, 3, 14, 30, 0, 0);
  const backfill = (text: string) =>
    (parseCommand(["--backfill", text], {}, { nowMs }) as { options: RunOptions }).options.backfill;
  const at = (iso: string) => Date.parse(iso);

  await t.step("FROM alone runs up to now", () => {
    assert.deepEqual(backfill("2025-11-01T00:00:00Z"), { fromMs: at("2025-11-01T00:00:00Z"), toMs: nowMs });
  });
  await t.step("a date is UTC midnight", () => {
    assert.deepEqual(backfill("2025-11-01..2025-11-08"), {
      fromMs: at("2025-11-01T00:00:00Z"),
      toMs: at("2025-11-08T00:00:00Z"),
    });
  });
  await t.step("RFC 3339 with fractions and offsets", () => {
    assert.deepEqual(backfill("2025-11-01T02:00:00.250+02:00..2025-11-01T00:00:01.5Z"), {
      fromMs: at("2025-11-01T00:00:00.250Z"),
      toMs: at("2025-11-01T00:00:01.500Z"),
    });
  });
  await t.step("a time ago counts back from now", () => {
    assert.deepEqual(backfill("7d"), { fromMs: nowMs - 7 * 86_400_000, toMs: nowMs });
    assert.deepEqual(backfill("36h..90m"), { fromMs: nowMs - 36 * 3_600_000, toMs: nowMs - 90 * 60_000 });
  });
});

Deno.test("a --backfill that is not a span of the past names the flag", async (t) => {
  const nowMs = Date.UTC(2025, 11, 3, 14, 30, 0, 0);
  const cases: [string, string][] = [
    [
      "yesterday",
      '--backfill FROM must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): got "yesterday"',
    ],
    [
      "2025",
      '--backfill FROM must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): got "2025"',
    ],
    [
      "2025-02-30",
      '--backfill FROM must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): got "2025-02-30"',
    ],
    [
      "2025-11-01T24:00:00Z",
      '--backfill FROM must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): got "2025-11-01T24:00:00Z"',
    ],
    [
      "2025-11-01T00:00:00",
      '--backfill FROM must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): got "2025-11-01T00:00:00"',
    ],
    [
      "2025-11-01..soon",
      '--backfill TO must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): got "soon"',
    ],
    [
      "2025-11-01..",
      '--backfill TO must be an RFC 3339 time (2025-11-01T00:00:00Z), a date (2025-11-01) or a time ago (7d, 36h): got ""',
    ],
    ["1d..2d..3d", '--backfill must be FROM or FROM..TO: got "1d..2d..3d"'],
    [
      "2025-11-08..2025-11-01",
      '--backfill must start before it ends: got "2025-11-08..2025-11-01", from 2025-11-08T00:00:00.000Z to 2025-11-01T00:00:00.000Z',
    ],
    [
      "1d..1d",
      '--backfill must start before it ends: got "1d..1d", from 2025-12-02T14:30:00.000Z to 2025-12-02T14:30:00.000Z',
    ],
    ["2025-12-04", '--backfill must start in the past: got "2025-12-04", which starts at 2025-12-04T00:00:00.000Z'],
    [
      "2025-12-01..2025-12-04",
      '--backfill must end by now (2025-12-03T14:30:00.000Z): got "2025-12-01..2025-12-04", which ends at 2025-12-04T00:00:00.000Z',
    ],
    ["1960-01-01..1970-01-02", '--backfill must start in 1970 or later: got "1960-01-01..1970-01-02"'],
    [
      "3651d",
      '--backfill must span at most 3650d: got "3651d"',
    ],
    ["2000-01-01", '--backfill must span at most 3650d: got "2000-01-01"'],
  ];
  for (const [text, message] of cases) {
    await t.step(text, () => {
      try {
        parseCommand(["--backfill", text], {}, { nowMs });
      } catch (error) {
        assert.ok(error instanceof UsageError);
        assert.equal(error.message, message);
        return;
      }
      assert.fail(`accepted --backfill ${text}`);
    });
  }
});

Deno.test("validate takes the config as PATH or --config, and --factories and --seed as a run does", async (t) => {
  await t.step("defaults", () => {
    assert.deepEqual(parseCommand(["validate"]), {
      kind: "validate",
      path: "./factory_config.json",
      factories: 3,
      seed: undefined,
    });
  });
  await t.step("a PATH", () => {
    assert.deepEqual(parseCommand(["validate", "plant.json"]), {
      kind: "validate",
      path: "plant.json",
      factories: 3,
      seed: undefined,
    });
  });
  await t.step("--config, --factories and --seed, before or after the command", () => {
    assert.deepEqual(parseCommand(["--factories", "5", "validate", "--config", "plant.json", "--seed", "7"]), {
      kind: "validate",
      path: "plant.json",
      factories: 5,
      seed: 7,
    });
  });
});

Deno.test("validate refuses a run's other flags, two paths and bad values; other commands stay unknown", () => {
  assert.equal(
    usageError(["validate", "--sink", "console"]),
    "validate takes only [PATH], --config, --factories and --seed: got --sink",
  );
  assert.equal(
    usageError(["validate", "--speed=10"]),
    "validate takes only [PATH], --config, --factories and --seed: got --speed",
  );
  assert.equal(
    usageError(["validate", "a.json", "--config", "b.json"]),
    "validate takes the config as PATH or as --config PATH, not both",
  );
  assert.equal(usageError(["validate", "a.json", "b.json"]), 'unexpected argument "b.json" (see --help)');
  assert.equal(usageError(["validate", "--factories", "0"]), '--factories must be an integer from 1 to 10000: got "0"');
  assert.equal(usageError(["check"]), 'unexpected argument "check" (see --help)');
});

Deno.test("--help lists the validate command", () => {
  const help = helpText("1.2.3");
  assert.match(help, /^Usage: factory-sim \[options\]\n {7}factory-sim validate \[PATH\]/m);
  assert.match(help, /^Commands:\n/m);
  assert.match(help, /^ {2}validate \[PATH\] /m);
});
