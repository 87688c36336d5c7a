import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { type LogLevel, resetLogging, setupLogging } from "../lib/log.ts";
import { handleStopSignals, SIGNAL_REPEAT_MS, VERSION } from "../main.ts";
import { runMain } from "./_helpers.ts";

const SAMPLE = new URL("../factory_config.json", import.meta.url).pathname;

Deno.test("a console run streams every reading and heartbeat as JSON lines, then exits 0", async () => {
  const { code, stdout, stderr } = await runMain([
    "--sink",
    "console",
    "--config",
    SAMPLE,
    "--speed",
    "2000",
    "--seed",
    "7",
  ]);
  assert.equal(code, ExitCode.ok, stderr);
  const records = stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
  const readings = records.filter((r) => r.topic === "SENSOR_READINGS");
  assert.equal(readings.length, 62, "10+8+6 + 12+5 + 7+9+5 readings");
  assert.ok(records.some((r) => r.topic === "SENSOR_HEARTBEAT"));
  for (const record of records) {
    assert.deepEqual(Object.keys(record), ["topic", "key", "headers", "value"]);
    assert.equal(record.headers["content-type"], "application/json");
    assert.equal(record.key, record.value.sensorId);
  }
  assert.match(stderr, /^info: 3 factories, \d+ sensors, 8 lines; seed 7; speed 2000$/m);
  assert.match(
    stderr,
    /^info: done: 62 readings and \d+ heartbeats over [\d.]+ s of simulated time; \d+ records delivered to console$/m,
  );
});

Deno.test("without --seed a fresh seed is drawn and logged so the run can be repeated", async () => {
  const { code, stderr } = await runMain([
    "--sink",
    "console",
    "--config",
    SAMPLE,
    "--speed",
    "5000",
    "--factories",
    "1",
  ]);
  assert.equal(code, ExitCode.ok);
  assert.match(stderr, /seed (\d+) \(repeat with --seed \1\)/);
});

Deno.test("a bad config exits 2 with every problem and nothing on stdout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bad.json`;
    await Deno.writeTextFile(path, '{"F1": [{"sodaName": "", "number": -3, "sensorID": "S1-1"}], "F2": 7}');
    const { code, stdout, stderr } = await runMain(["--sink", "console", "--config", path]);
    assert.equal(code, ExitCode.usage);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      `error: ${path}: F1[0].sodaName must be a non-empty string: got ""\n` +
        `error: ${path}: F1[0].number must be a positive integer: got -3\n` +
        `error: ${path}: F2 must be an array of lines: got 7\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad flag exits 2 with one line naming it", async () => {
  const { code, stdout, stderr } = await runMain(["--speed", "0"]);
  assert.equal(code, ExitCode.usage);
  assert.equal(stdout, "");
  assert.equal(stderr, 'error: --speed must be a number greater than 0: got "0"\n');
});

Deno.test("--help and --version print on stdout and exit 0", async () => {
  const help = await runMain(["--help"]);
  assert.equal(help.code, ExitCode.ok);
  assert.match(help.stdout, /^Usage: factory-sim \[options\]$/m);
  const version = await runMain(["--version"]);
  assert.match(version.stdout, new RegExp(`^factory-sim ${VERSION} \\(commit ([0-9a-f]{7,}(-dirty)?|dev)\\)\n$`));
});

Deno.test("an abort stops the run, flushes and exits with the signal's code", async () => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort("SIGTERM"), 300);
  try {
    const { code, stdout, stderr } = await runMain(
      ["--sink", "console", "--config", SAMPLE, "--speed", "10", "--seed", "1"],
      { signal: controller.signal },
    );
    assert.equal(code, ExitCode.sigterm);
    assert.match(stderr, /^info: stopped: \d+ readings/m);
    assert.ok(stdout.endsWith("\n"), "the last record is whole");
    assert.ok(stdout.split("\n").filter(Boolean).every((line) => JSON.parse(line)));
  } finally {
    clearTimeout(timer);
  }
});

/** Two stop signals through `handleStopSignals`, logging at `level`: the exits asked for and stderr. */
async function twoSignals(level: LogLevel): Promise<{ exits: number[]; stderr: string; reason: unknown }> {
  const handlers = new Map<string, () => void>();
  const exits: number[] = [];
  let stderr = "";
  const controller = new AbortController();
  await setupLogging({ level, write: (line) => stderr += line });
  try {
    handleStopSignals(controller, {
      addSignalListener: (name, handler) => handlers.set(name, handler),
      exit: (code) => exits.push(code),
      writeStderr: (line) => stderr += line,
    });
    assert.deepEqual([...handlers.keys()], ["SIGINT", "SIGTERM"]);
    handlers.get("SIGINT")!();
    const reason = controller.signal.reason;
    assert.deepEqual(exits, []);
    handlers.get("SIGTERM")!();
    return { exits, stderr, reason };
  } finally {
    await resetLogging();
  }
}

Deno.test("the first stop signal aborts the run, a second exits at once", async () => {
  const { exits, stderr, reason } = await twoSignals("info");
  assert.equal(reason, "SIGINT");
  assert.deepEqual(exits, [ExitCode.sigterm]);
  assert.equal(
    stderr,
    "info: SIGINT received: stopping and flushing (send it again to exit at once)\n" +
      "error: second SIGTERM: exiting at once without flushing\n",
  );
});

Deno.test("the stop signal's info line follows the log level; the second signal's error is always shown", async () => {
  for (const level of ["warning", "error"] as const) {
    const { exits, stderr, reason } = await twoSignals(level);
    assert.equal(reason, "SIGINT");
    assert.deepEqual(exits, [ExitCode.sigterm]);
    assert.equal(stderr, "error: second SIGTERM: exiting at once without flushing\n", level);
  }
});

Deno.test("the same signal again within 300 ms is the same stop (timeout -s INT under deno task); later, it exits", () => {
  const handlers = new Map<string, () => void>();
  const exits: number[] = [];
  let clock = 1_000;
  const controller = new AbortController();
  handleStopSignals(controller, {
    addSignalListener: (name, handler) => handlers.set(name, handler),
    exit: (code) => exits.push(code),
    writeStderr: () => {},
    now: () => clock,
  });
  handlers.get("SIGINT")!();
  clock += SIGNAL_REPEAT_MS - 1;
  handlers.get("SIGINT")!();
  assert.equal(controller.signal.reason, "SIGINT");
  assert.deepEqual(exits, []);
  clock += 1;
  handlers.get("SIGINT")!();
  assert.deepEqual(exits, [ExitCode.sigint]);
});

Deno.test("the monitor's stop line says it stops, without flushing", async () => {
  let stderr = "";
  await setupLogging({ level: "info", write: (line) => stderr += line });
  try {
    const handlers = new Map<string, () => void>();
    handleStopSignals(new AbortController(), {
      addSignalListener: (name, handler) => handlers.set(name, handler),
      exit: () => {},
      writeStderr: () => {},
      stopping: "stopping",
    });
    handlers.get("SIGTERM")!();
    assert.equal(stderr, "info: SIGTERM received: stopping (send it again to exit at once)\n");
  } finally {
    await resetLogging();
  }
});
