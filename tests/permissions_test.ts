/** A missing Deno permission is a one-line error naming the flag to grant, never a prompt or a stack trace. */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { runCli } from "./_kafka.ts";

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
