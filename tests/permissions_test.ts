/** A missing Deno permission is a one-line error naming the flag to grant, never a prompt or a stack trace. */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { BROKERS, consumeAll, ensureBroker, runCli, simTaskFlags, uniqueTopic } from "./_kafka.ts";

Deno.test("each missing permission names the flag to grant and exits 3", async (t) => {
  const cases: [string, string[], string[], RegExp][] = [
    [
      "read access to the config",
      ["--no-prompt"],
      ["--sink=console"],
      /^error: missing permission: Requires read access to "\.\/factory_config\.json": grant --allow-read=\.\/factory_config\.json$/m,
    ],
    [
      "network access to the broker",
      ["--no-prompt", "--allow-read"],
      ["--sink=kafka", "--brokers=127.0.0.1:9092"],
      /^error: missing permission: network access to 127\.0\.0\.1:9092: grant --allow-net=127\.0\.0\.1:9092$/m,
    ],
    [
      "the environment the Kafka client reads",
      ["--no-prompt", "--allow-read", "--allow-net", "--allow-write"],
      ["--sink=auto"],
      /^error: missing permission: Requires env access to "NODE_ENV": grant --allow-env=NODE_ENV$/m,
    ],
  ];
  for (const [name, flags, args, message] of cases) {
    await t.step(name, async () => {
      const { code, stdout, stderr } = await runCli(args, { flags });
      assert.equal(code, ExitCode.permission, stderr);
      assert.match(stderr, message);
      assert.equal(stdout, "");
      assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
    });
  }
});

Deno.test("a console run needs neither network nor environment access", async () => {
  const { code, stderr } = await runCli(["--sink=console", "--speed=5000", "--factories=1"], {
    flags: ["--no-prompt", "--allow-read"],
  });
  assert.equal(code, ExitCode.ok, stderr);
});

Deno.test("the spool cannot be written outside the directory the task grants", async () => {
  const elsewhere = Deno.makeTempDirSync({ prefix: "not-granted-" });
  try {
    // The task's own flags: --allow-write=factory-sim-spool, nothing else.
    const { code, stderr } = await runCli(["--sink=kafka", `--spool-dir=${elsewhere}/spool`], {
      flags: simTaskFlags(),
    });
    assert.equal(code, ExitCode.permission, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^error: missing permission: Requires write access to "${elsewhere}/spool": grant --allow-write=${elsewhere}/spool \\(for the spool in --spool-dir ${elsewhere}/spool\\)$`,
        "m",
      ),
    );
    assert.deepEqual([...Deno.readDirSync(elsewhere)], [], "nothing written there");
  } finally {
    Deno.removeSync(elsewhere, { recursive: true });
  }
});

Deno.test("a run granted only the broker's address and its spool dir delivers everything", async () => {
  await ensureBroker();
  const flags = simTaskFlags().map((flag) => flag === "--allow-net" ? `--allow-net=${BROKERS}` : flag);
  const readingsTopic = uniqueTopic("scoped.readings");
  const { code, stderr } = await runCli([
    "--sink=kafka",
    `--brokers=${BROKERS}`,
    "--factories=1",
    "--speed=200",
    `--readings-topic=${readingsTopic}`,
    `--heartbeat-topic=${uniqueTopic("scoped.heartbeats")}`,
  ], { flags });
  assert.equal(code, ExitCode.ok, stderr);
  assert.equal((await consumeAll(readingsTopic)).length, 24, "factory F1's 10 + 8 + 6 readings");
});
