/**
 * IPv6 brokers: `[::1]:PORT` in --brokers and KAFKA_BROKERS, for a run and for the monitor, against
 * a broker of the test's own listening on ::1 (and advertising [::1]); malformed addresses refused.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { parseBrokerFlag } from "../lib/flags.ts";
import { collect, consumeAll, runCli, spawnCli, uniqueTopics, waitFor } from "./_kafka.ts";
import { SCRATCH_PORT, withScratchBroker } from "./_scratch_broker.ts";

/** The IPv6 broker's client port (its controller's is the next one): two above the scratch brokers'. */
const IPV6_PORT = SCRATCH_PORT + 2;

Deno.test("a bracketed IPv6 broker is taken as it is; malformed ones are refused naming the flag or variable", () => {
  assert.deepEqual(parseBrokerFlag("[::1]:9092, kafka:9092,[2001:db8::7]:19092", {}), [
    "[::1]:9092",
    "kafka:9092",
    "[2001:db8::7]:19092",
  ]);
  assert.deepEqual(parseBrokerFlag(undefined, { KAFKA_BROKERS: "[::ffff:10.0.0.1]:9092" }), ["[::ffff:10.0.0.1]:9092"]);
  const refused: [string | undefined, string, RegExp][] = [
    ["::1:9092", "", /^--brokers must be a comma-separated list of host:port, with an IPv6 address in brackets/],
    ["[::1]", "", /^--brokers .* in brackets, such as \[::1\]:9092: got "\[::1\]"$/],
    ["[::1:9092", "", /^--brokers .* in brackets/],
    [
      "[zz::1]:9092",
      "",
      /^--brokers .*: between \[ and \] an IPv6 address, such as \[::1\]:9092: got "\[zz::1\]:9092"$/,
    ],
    ["[1:2:3:4:5:6:7:8:9]:9092", "", /between \[ and \] an IPv6 address/],
    ["[::1]:0", "", /^--brokers must be a comma-separated list of host:port: got "\[::1\]:0"$/],
    ["[::1]:99999", "", /^--brokers must be a comma-separated list of host:port: got/],
    [undefined, "fe80::1:9092", /^KAFKA_BROKERS must be .* in brackets/],
    ["[::1\u001b[2J]:1", "", /got "\[::1\\u001b\[2J\]:1"$/],
  ];
  for (const [flag, env, message] of refused) {
    assert.throws(() => parseBrokerFlag(flag, env ? { KAFKA_BROKERS: env } : {}), (error: Error) => {
      assert.match(error.message, message, `${flag ?? env}: ${error.message}`);
      return true;
    });
  }
});

Deno.test("the run exits 2 naming --brokers for a malformed IPv6 broker, with no network needed", async () => {
  const { code, stdout, stderr } = await runCli(["--sink=kafka", "--brokers=[::1:9092", "--duration=1s"]);
  assert.equal(code, ExitCode.usage, stderr);
  assert.equal(stdout, "");
  assert.match(
    stderr,
    /^error: --brokers must be a comma-separated list of host:port, with an IPv6 address in brackets/,
  );
  assert.equal(stderr.split("\n").filter(Boolean).length, 1, stderr);
  const monitor = await runCli(["monitor", "--json"], { env: { KAFKA_BROKERS: "::1:9092" } });
  assert.equal(monitor.code, ExitCode.usage, monitor.stderr);
  assert.match(monitor.stderr, /^error: KAFKA_BROKERS must be .* in brackets/);
});

Deno.test("a run and the monitor reach a broker on [::1], with --allow-net for that address only", async () => {
  await withScratchBroker(async (broker, spoolDir) => {
    assert.equal(broker.brokers, `[::1]:${IPV6_PORT}`);
    const { readings, heartbeats, flags: topicFlags } = uniqueTopics("ipv6");
    const narrow = [
      "--no-prompt",
      "--allow-read",
      `--allow-write=${spoolDir}`,
      `--allow-net=${broker.brokers}`,
      "--allow-env",
    ];
    const run = await runCli(
      ["--sink=kafka", `--brokers=${broker.brokers}`, "--seed=3", "--speed=100", "--duration=20s", ...topicFlags],
      { flags: narrow, spoolDir },
    );
    assert.equal(run.code, ExitCode.ok, run.stderr);
    const produced = /(\d+) readings and (\d+) heartbeats/.exec(run.stderr);
    assert.ok(produced, run.stderr);
    assert.equal((await consumeAll(readings, broker.brokers)).length, Number(produced[1]));
    assert.equal((await consumeAll(heartbeats, broker.brokers)).length, Number(produced[2]));
    assert.match(run.stderr, new RegExp(`connected to Kafka at \\[::1\\]:${IPV6_PORT}`));

    // The monitor, told by KAFKA_BROKERS, reads the same records back.
    const monitor = spawnCli(
      ["monitor", "--json", "--from-beginning", "--interval=200ms", ...topicFlags],
      { flags: narrow.filter((flag) => !flag.startsWith("--allow-write")), env: { KAFKA_BROKERS: broker.brokers } },
    );
    const out = collect(monitor.stdout);
    const err = collect(monitor.stderr);
    const received = () => {
      const last = out.current.split("\n").filter((line) => line.includes('"type":"snapshot"')).at(-1);
      return last === undefined ? -1 : JSON.parse(last).topics[heartbeats]?.received;
    };
    await waitFor(() => received() === Number(produced[2]), 20_000).catch(() => {
      throw new Error(`the monitor received ${received()} heartbeats of ${produced[2]}: ${err.current}`);
    });
    monitor.kill("SIGINT");
    assert.equal((await monitor.status).code, 0, await err.done);
    await out.done;
  }, { host: "::1", port: IPV6_PORT });
});
