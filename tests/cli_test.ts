import assert from "node:assert/strict";
import { helpText, parseCommand, type ProducerOptions } from "../lib/cli.ts";
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
      seed: undefined,
      topics: { readings: "SENSOR_READINGS", heartbeats: "SENSOR_HEARTBEAT" },
      logLevel: "info",
      producer: {
        clientId: "factory-sim",
        acks: "all",
        idempotent: true,
        compression: "none",
        lingerMs: 5,
        batchRecords: 2000,
        partitions: 3,
        replicationFactor: undefined,
      },
      spool: { dir: "factory-sim-spool", maxMb: 512 },
    },
  });
});

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
    "--spool-dir=/var/lib/factory-sim",
    "--spool-max-mb=0",
  ]);
  assert.deepEqual(command, {
    kind: "run",
    options: {
      factories: 7,
      config: "plant.json",
      sink: "console",
      brokers: ["k1:9092", "k2:19092", "[::1]:9093"],
      speed: 2.5,
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
      },
      spool: { dir: "/var/lib/factory-sim", maxMb: 0 },
    },
  });
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
    [["--compression=zstd"], '--compression must be one of none, gzip: got "zstd"'],
    [["--linger-ms=-1"], '--linger-ms must be an integer from 0 to 60000: got "-1"'],
    [["--batch-records=0"], '--batch-records must be an integer from 1 to 100000: got "0"'],
    [["--partitions=0"], '--partitions must be an integer from 1 to 10000: got "0"'],
    [["--replication-factor=0"], '--replication-factor must be an integer from 1 to 32: got "0"'],
    [["--spool-max-mb=lots"], '--spool-max-mb must be an integer from 0 to 1048576: got "lots"'],
    [["--spool-dir="], "--spool-dir must not be empty"],
    [["--client-id=my client"], '--client-id must be 1-249 of a-z A-Z 0-9 . _ -: got "my client"'],
    [["--idempotent=no"], "--idempotent takes no value"],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" ") || "(empty)", () => assert.equal(usageError(args), message));
  }
});
