/** The live status and --quiet through `main`. */
// deno-lint-ignore-file no-control-regex -- the tests look for ANSI escape codes
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { resetLogging } from "../lib/log.ts";
import { main, type MainIo } from "../main.ts";
import { runMain, textCollector } from "./_helpers.ts";
import { BROKERS, collect, ensureBroker, spawnCli, uniqueTopic, waitFor } from "./_kafka.ts";

const SAMPLE = new URL("../factory_config.json", import.meta.url).pathname;
const RUN = ["--sink", "console", "--config", SAMPLE, "--speed", "2000", "--seed", "7"];
const ANSI_COLOR = /\x1b\[\d+m/;

/** Runs `main` with stderr as a fake terminal (or not), and stdout too when `stdoutTerminal`. */
async function runOn(
  args: string[],
  { terminal, stdoutTerminal = false, env = {} }: { terminal: boolean; stdoutTerminal?: boolean; env?: MainIo["env"] },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = textCollector();
  let stderr = "";
  try {
    const code = await main(args, {
      env,
      stdout: stdout.stream,
      writeStderr: (text) => stderr += text,
      stderrIsTerminal: () => terminal,
      stdoutIsTerminal: () => stdoutTerminal,
      consoleSize: () => ({ columns: 100, rows: 30 }),
    });
    return { code, stdout: stdout.text(), stderr };
  } finally {
    await resetLogging();
  }
}

/** What a terminal shows at the end: each clear erases the block drawn before it. */
function finalScreen(stderr: string): string {
  let screen: string[] = [];
  let rest = stderr;
  for (;;) {
    const match = /\x1b\[(\d+)A\r\x1b\[J/.exec(rest);
    const text = match ? rest.slice(0, match.index) : rest;
    screen.push(...text.split("\n").slice(0, -1));
    if (!match) break;
    screen = screen.slice(0, screen.length - Number(match[1]));
    rest = rest.slice(match.index + match[0].length);
  }
  return screen.join("\n");
}

const withoutTimes = (text: string) => text.replace(/"timestamp":"[^"]*"/g, '"timestamp":_');
const withoutWallTime = (text: string) =>
  text.replace(/\d+\.\d s wall/g, "_ s wall").replace(/in \d+\.\d s/g, "in _ s");

Deno.test("on a terminal, the status is drawn, log lines stay above it and it is gone before the summary", async () => {
  const { code, stdout, stderr } = await runOn(RUN, { terminal: true });
  assert.equal(code, ExitCode.ok, stderr);
  assert.match(stderr, /factory-sim\x1b\[0m \d+\.\d s simulated: 3 factories, \d+\/8 lines done/);
  assert.match(stderr, /\nsink: \x1b\[32mconsole connected\x1b\[0m\n/);
  assert.ok(ANSI_COLOR.test(stderr), "coloured");
  // Once cleared, the terminal holds the log lines only, as on a plain stderr.
  const screen = finalScreen(stderr);
  assert.doesNotMatch(screen, /simulated: 3 factories|^sink: |^rates: /m);
  const plain = await runOn(RUN, { terminal: false });
  assert.equal(withoutWallTime(screen), withoutWallTime(plain.stderr.trimEnd()));
  assert.equal(withoutTimes(stdout), withoutTimes(plain.stdout), "data on stdout unchanged");
  assert.match(stderr.slice(stderr.lastIndexOf("\x1b[J")), /^\x1b\[Jinfo: done: /);
});

Deno.test("with --rate, the status's rates line shows the total against the target", async () => {
  const args = ["--sink", "console", "--config", SAMPLE, "--rate", "20000", "--seed", "7"];
  const { code, stderr } = await runOn(args, { terminal: true });
  assert.equal(code, ExitCode.ok, stderr);
  assert.match(stderr, /\nrates: [\d.]+\/s of --rate 20000/);
  assert.match(
    finalScreen(stderr),
    /^info: summary: rate \d+ records\/s achieved, \d+% of --rate 20000 \(speed [\d.]+\)$/m,
  );
});

Deno.test("NO_COLOR: the status is drawn without colour", async () => {
  const { code, stderr } = await runOn(RUN, { terminal: true, env: { NO_COLOR: "1" } });
  assert.equal(code, ExitCode.ok, stderr);
  assert.match(stderr, /\nsink: console connected\n/);
  assert.doesNotMatch(stderr, ANSI_COLOR);
});

Deno.test("when stderr is not a terminal, the output has no status and no escape codes", async () => {
  const { code, stderr } = await runOn(RUN, { terminal: false });
  assert.equal(code, ExitCode.ok, stderr);
  assert.doesNotMatch(stderr, /\x1b/);
  assert.doesNotMatch(stderr, /simulated: 3 factories|^sink: /m);
  const viaHelper = await runMain(RUN);
  assert.equal(withoutWallTime(stderr), withoutWallTime(viaHelper.stderr));
});

Deno.test("--quiet: no info lines, no summary, no live status; warnings still shown; stdout unchanged", async (t) => {
  const loud = await runMain(RUN);
  await t.step("a run that goes well writes nothing on stderr", async () => {
    const { code, stdout, stderr } = await runMain([...RUN, "--quiet"]);
    assert.equal(code, ExitCode.ok);
    assert.equal(stderr, "");
    assert.equal(withoutTimes(stdout), withoutTimes(loud.stdout));
  });
  await t.step("not even on a terminal", async () => {
    const { code, stderr } = await runOn([...RUN, "-q"], { terminal: true });
    assert.equal(code, ExitCode.ok);
    assert.equal(stderr, "");
  });
  await t.step("warnings are still shown", async () => {
    // Factory F4 is not in the sample config: a warning.
    const { code, stderr } = await runMain([...RUN, "--factories", "4", "--quiet"]);
    assert.equal(code, ExitCode.ok);
    assert.notEqual(stderr, "");
    for (const line of stderr.trimEnd().split("\n")) assert.match(line, /^warning: /);
  });
  await t.step("errors are still shown", async () => {
    const { code, stderr } = await runMain([...RUN, "--config", "/nonexistent/config.json", "--quiet"]);
    assert.equal(code, ExitCode.usage);
    assert.match(stderr, /^error: /);
  });
});

Deno.test("records on stdout to the same terminal: no live status, plain log lines as on a pipe", async (t) => {
  const plain = await runOn(RUN, { terminal: false });
  await t.step("--sink console", async () => {
    const { code, stdout, stderr } = await runOn(RUN, { terminal: true, stdoutTerminal: true });
    assert.equal(code, ExitCode.ok, stderr);
    assert.doesNotMatch(stderr, /\x1b/);
    assert.equal(withoutWallTime(stderr), withoutWallTime(plain.stderr));
    assert.equal(withoutTimes(stdout), withoutTimes(plain.stdout), "data on stdout unchanged");
  });
  await t.step("--sink auto, fallen back to the console", async () => {
    // Nothing listens on port 1: the run falls back to the console after the connect timeout.
    const args = [...RUN.slice(2), "--sink", "auto", "--brokers", "127.0.0.1:1", "--spool-max-mb", "0"];
    const { code, stdout, stderr } = await runOn(args, { terminal: true, stdoutTerminal: true });
    assert.equal(code, ExitCode.ok, stderr);
    assert.match(stderr, /writing records to stdout instead \(--sink auto\)/);
    assert.doesNotMatch(stderr, /\x1b/);
    assert.doesNotMatch(stderr, /simulated: 3 factories|^sink: /m);
    assert.equal(withoutTimes(stdout), withoutTimes(plain.stdout), "data on stdout unchanged");
  });
  await t.step("stdout not a terminal: the status is drawn", async () => {
    const { code, stderr } = await runOn(RUN, { terminal: true, stdoutTerminal: false });
    assert.equal(code, ExitCode.ok, stderr);
    assert.match(stderr, /\nsink: \x1b\[32mconsole connected\x1b\[0m\n/);
  });
});

Deno.test({
  name: "records to Kafka: the status is drawn though stdout is a terminal (nothing is written there)",
  async fn() {
    await ensureBroker();
    const args = [
      ...RUN.slice(2),
      "--sink",
      "kafka",
      "--brokers",
      BROKERS,
      "--factories",
      "1",
      "--spool-max-mb",
      "0",
      "--readings-topic",
      uniqueTopic("status-readings"),
      "--heartbeat-topic",
      uniqueTopic("status-heartbeats"),
    ];
    const { code, stdout, stderr } = await runOn(args, { terminal: true, stdoutTerminal: true });
    assert.equal(code, ExitCode.ok, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, /\nsink: \x1b\[32mkafka connected\x1b\[0m\n/);
  },
});

Deno.test({
  name: "a stop signal's info line follows the log level: none with --quiet or --log-level warning",
  async fn(t) {
    for (const flags of [[], ["--quiet"], ["--log-level", "warning"], ["--log-level", "error"]]) {
      await t.step(flags.join(" ") || "default level", async () => {
        const child = spawnCli(["--sink", "console", "--config", SAMPLE, "--speed", "10", "--continuous", ...flags]);
        const stdout = collect(child.stdout);
        const stderr = collect(child.stderr);
        try {
          await waitFor(() => stdout.current.includes('"topic":"SENSOR_HEARTBEAT"'), 30_000);
        } finally {
          child.kill("SIGINT");
        }
        const { code } = await child.status;
        await stdout.done;
        const log = await stderr.done;
        assert.equal(code, ExitCode.sigint, log);
        if (flags.length === 0) {
          assert.match(log, /^info: SIGINT received: stopping and flushing \(send it again to exit at once\)$/m);
          assert.match(log, /^info: stopped: /m);
        } else {
          assert.equal(log, "");
        }
      });
    }
  },
});
