/**
 * A stdout that cannot be written, through the real CLI: a reader that goes away (a pipe closed
 * early), a full disk (/dev/full), a closed descriptor (`>&-`). Each is one line naming stdout and
 * the cause, exit 1, and a console run counts only what it wrote.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { closedAtStart } from "../lib/io.ts";
import { BROKERS, ensureBroker, runCli, uniqueTopics } from "./_kafka.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SIM = ["run", "--quiet", "--no-prompt", "-P=sim", "main.ts"];

/** Runs `deno SIM args` under bash with `redirect` applied to its stdout: exit code and stderr. */
async function withStdout(redirect: string, args: string[], deno = SIM): Promise<{ code: number; stderr: string }> {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const { code, stderr } = await new Deno.Command("bash", {
    args: ["-c", `exec ${[Deno.execPath(), ...deno, ...args].map(quote).join(" ")} ${redirect}`],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/** Runs the CLI with a stdout pipe whose reader goes away after `keepBytes` bytes (0: at once). */
async function pipeClosedAfter(args: string[], keepBytes: number): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...SIM, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  let read = 0;
  while (read < keepBytes) {
    const { value, done } = await reader.read();
    if (done) break;
    read += value.length;
  }
  await reader.cancel();
  const { code } = await child.status;
  return { code, stderr: await stderr };
}

Deno.test("--help, --version and validate into a full disk: one line naming stdout, exit 1", async (t) => {
  for (const args of [["--help"], ["--version"], ["validate"]]) {
    await t.step(args.join(" "), async () => {
      const { code, stderr } = await withStdout("> /dev/full", args);
      assert.equal(code, ExitCode.failure, stderr);
      assert.equal(stderr, "error: stdout: no space left on device\n");
    });
  }
});

Deno.test("validate and --help into a pipe whose reader has gone: one line, exit 1", async (t) => {
  for (const args of [["--help"], ["validate"]]) {
    await t.step(args.join(" "), async () => {
      const { code, stderr } = await pipeClosedAfter(args, 0);
      assert.equal(code, ExitCode.failure, stderr);
      assert.equal(stderr, "error: stdout: broken pipe (its reader went away)\n");
    });
  }
});

Deno.test("a console run into a pipe closed early stops, says what it wrote, and exits 1", async () => {
  const { code, stderr } = await pipeClosedAfter(
    ["--sink", "console", "--backfill", "2025-12-01T00:00:00Z..2025-12-01T06:00:00Z", "--continuous", "--seed", "3"],
    64 * 1024,
  );
  assert.equal(code, ExitCode.failure, stderr);
  const end = /^info: stopped: .* (\d+) readings and (\d+) heartbeats .*; (\d+) records delivered to console$/m.exec(
    stderr,
  );
  assert.ok(end, stderr);
  const error = /^error: stdout: broken pipe \(its reader went away\): (\d+) records written, the next (\d+) not\n$/m
    .exec(stderr);
  assert.ok(error, stderr);
  const [produced, delivered, written, unwritten] = [
    Number(end[1]) + Number(end[2]),
    Number(end[3]),
    Number(error[1]),
    Number(error[2]),
  ];
  assert.equal(delivered, written, "the end line counts what was written");
  assert.equal(produced, written + unwritten, "what was produced was written, or named as not");
  assert.ok(written > 0);
  assert.match(stderr, /^info: summary: records produced per topic: /m);
  assert.ok(stderr.endsWith(`${error[0]}`), "the error is the last line");
});

Deno.test("a console run into a full disk: the same, nothing counted as delivered", async () => {
  const { code, stderr } = await withStdout("> /dev/full", ["--sink", "console", "--backfill", "1m", "--seed", "1"]);
  assert.equal(code, ExitCode.failure, stderr);
  assert.match(stderr, /; 0 records delivered to console$/m);
  assert.match(stderr, /^error: stdout: no space left on device: 0 records written, the next \d+ not\n$/m);
});

Deno.test("stdout closed (>&-) where /proc may be read: one line, exit 1, nothing delivered", async (t) => {
  const deno = ["run", "--quiet", "--no-prompt", "-A", "main.ts"];
  await t.step("a console run", async () => {
    const { code, stderr } = await withStdout(">&-", ["--sink", "console", "--backfill", "1m"], deno);
    assert.equal(code, ExitCode.failure, stderr);
    assert.match(stderr, /; 0 records delivered to console$/m);
    assert.match(stderr, /^error: stdout: closed \(bad file descriptor\): 0 records written, the next \d+ not\n$/m);
  });
  await t.step("validate", async () => {
    const { code, stderr } = await withStdout(">&-", ["validate"], deno);
    assert.equal(code, ExitCode.failure, stderr);
    assert.equal(stderr, "error: stdout: closed (bad file descriptor)\n");
  });
});

Deno.test("stdout closed under deno task sim's permissions (no /proc): the run says its records are discarded", async () => {
  for (const redirect of [">&-", "> /dev/null"]) {
    const { code, stderr } = await withStdout(redirect, ["--sink", "console", "--backfill", "1m"]);
    assert.equal(code, ExitCode.ok, stderr);
    assert.match(
      stderr,
      /^warning: stdout is \/dev\/null \(where a closed stdout ends up too\): the records are discarded$/m,
    );
    assert.match(stderr, /records delivered to console \(stdout is \/dev\/null: discarded\)$/m);
  }
});

Deno.test("a closed stdout is told from /dev/null by how the runtime opened it", () => {
  const info = (flags: string) => `pos:\t0\nflags:\t${flags}\nmnt_id:\t24\nino:\t3\n`;
  assert.equal(closedAtStart("/dev/null", info("0100002")), true, "read and write: put there for a closed stdout");
  assert.equal(closedAtStart("/dev/null", info("0100001")), false, "write only: the shell's >/dev/null");
  assert.equal(closedAtStart("/tmp/out", info("0100002")), false);
  assert.equal(closedAtStart("/dev/null", undefined), false);
});

Deno.test("the monitor: a full disk is a failure (exit 1), a reader that has had enough a stop (exit 0)", async () => {
  await ensureBroker();
  const topics = uniqueTopics("output");
  const sim = await runCli(["--sink", "kafka", "--brokers", BROKERS, ...topics.flags, "--backfill", "30s", "--quiet"]);
  assert.equal(sim.code, ExitCode.ok, sim.stderr);
  const monitor = [
    "monitor",
    "--brokers",
    BROKERS,
    ...topics.flags,
    "--json",
    "--from-beginning",
    "--interval",
    "200ms",
  ];
  const full = await withStdout("> /dev/full", [...monitor, "--quiet"]);
  assert.equal(full.code, ExitCode.failure, full.stderr);
  assert.equal(full.stderr, "error: stdout: no space left on device\n");
  const head = await pipeClosedAfter([...monitor, "--quiet"], 1);
  assert.equal(head.code, ExitCode.ok, head.stderr);
  assert.equal(head.stderr, "");
});
