import assert from "node:assert/strict";
import { helpText, parseCommand } from "../lib/cli.ts";
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

Deno.test("--help and --version win over everything else", () => {
  assert.deepEqual(parseCommand(["--factories", "x", "--help"]), { kind: "help" });
  assert.deepEqual(parseCommand(["-V"]), { kind: "version" });
  const help = helpText("1.2.3");
  for (const flag of ["--factories", "--config", "--sink", "--brokers", "--speed", "--seed", "--readings-topic"]) {
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
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" ") || "(empty)", () => assert.equal(usageError(args), message));
  }
});
