/**
 * Untrusted text (config values, flags, paths, environment, records read from Kafka) never reaches
 * the terminal raw: no control character, no forged line, and each value bounded on its own, through
 * the real CLI (a console run and validate) and the terminal renderers (the monitor's table, the live
 * status block).
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { renderMonitor } from "../lib/monitor/render.ts";
import { type InRecord, MonitorState } from "../lib/monitor/state.ts";
import { renderStatus } from "../lib/status.ts";
import { hasControls } from "../lib/text.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Escapes that clear the screen, retitle the window, colour, and reorder text; a newline that forges a line. */
const HOSTILE = "\x1b[2J\x1b]0;owned\x07\x1b[31m\u202e\u2066\x9b\r\nerror: forged";
/** A value of 10 MB. */
const HUGE = `${HOSTILE}${"s".repeat(10_000_000)}${HOSTILE}`;
/** The longest soda name a config may have (200 characters), hostile. */
const LONGEST_NAME = `${HOSTILE}${"s".repeat(200 - HOSTILE.length)}`;
/** A value of 1 MB, for the renderers (the bound is the same, the test quicker). */
const LARGE = `${HOSTILE}${"s".repeat(1_000_000)}`;
/** The most stderr a run of the hostile config may write (its useful lines are well below this). */
const STDERR_MAX = 16_000;

/** Runs the CLI as users do (`deno task sim`'s permissions): exit code, stdout size, stderr. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", "-P=sim", "main.ts", ...args],
    cwd: ROOT,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

/** stderr has only lines of the logger's form, none forged, none with a control character, and is bounded. */
function assertSafe(stderr: string): void {
  assert.ok(stderr.length < STDERR_MAX, `${stderr.length} characters of stderr`);
  assert.ok(stderr.endsWith("\n"));
  for (const line of stderr.slice(0, -1).split("\n")) {
    assert.match(line, /^(info|warning|error): /, line.slice(0, 200));
    assert.doesNotMatch(line, /^error: forged/);
    assert.ok(!hasControls(line), line.slice(0, 200));
  }
}

/** A config whose names, ids and keys are hostile, in a file whose path is hostile too. */
async function hostileConfig(dir: string): Promise<string> {
  const path = `${dir}/plant${HOSTILE}.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      F1: [
        { sodaName: LONGEST_NAME, number: 1, sensorID: "S1-1" },
        { sodaName: HOSTILE, number: 1, sensorID: `S1-9${HOSTILE}` },
      ],
      [`F9${HUGE}`]: [],
    }),
  );
  return path;
}

Deno.test("a console run of a hostile config at a hostile path: stderr escaped, unforged and bounded", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await hostileConfig(dir);
    const { code, stderr } = await cli([
      "--sink",
      "console",
      "--config",
      config,
      "--factories",
      "1",
      "--backfill",
      "1m",
    ]);
    assert.equal(code, ExitCode.ok, stderr.slice(0, 2000));
    assertSafe(stderr);
    // The summary's row of the longest soda name: escaped, cut, with how much was left out.
    assert.match(
      stderr,
      /^info: {3}F1 {7}S1-1 {4}\\x1b\[2J\\x1b\]0;owned\\x07\\x1b\[31m\\u202e…\(\+180 chars\)/m,
    );
    assert.match(stderr, /^warning: .*: F9\\x1b\[2J.*…\(\+9,999,\d{3} chars\) is not a simulated factory/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("validate of a hostile config: the same", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await hostileConfig(dir);
    const { code, stderr } = await cli(["validate", config, "--factories", "1"]);
    assert.equal(code, ExitCode.ok, stderr.slice(0, 2000));
    assertSafe(stderr);
    // A config that is not valid (a 10 MB soda name among its problems): its problems too.
    const bad = `${dir}/bad${HOSTILE}.json`;
    await Deno.writeTextFile(bad, JSON.stringify({ F1: [{ sodaName: HUGE, number: HOSTILE, sensorID: HUGE }] }));
    const refused = await cli(["validate", bad]);
    assert.equal(refused.code, ExitCode.usage);
    assertSafe(refused.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile flags, paths and environment are named escaped, one line each", async (t) => {
  const cases: [string, string[], Record<string, string>][] = [
    ["an unknown flag", [`--x${HOSTILE}`], {}],
    ["a bad value", ["--factories", HOSTILE], {}],
    ["a bad topic", ["--readings-topic", HOSTILE], {}],
    ["an unexpected argument", [HOSTILE], {}],
    ["a missing config", ["--config", `/nonexistent/${HOSTILE}`], {}],
    ["a bad spool dir", ["--sink", "kafka", "--spool-dir", `/proc/${HOSTILE}`, "--brokers", "127.0.0.1:1"], {}],
    ["a bad protocol", ["--sink", "kafka"], { KAFKA_SECURITY_PROTOCOL: HOSTILE }],
    ["a bad CA path", ["--sink", "kafka"], { KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SSL_CA_LOCATION: `/x${HOSTILE}` }],
  ];
  for (const [name, args, env] of cases) {
    await t.step(name, async () => {
      const { code, stderr } = await cli(args, env);
      assert.notEqual(code, ExitCode.ok);
      assertSafe(stderr);
      assert.match(stderr, /\\(x1b|u001b)\[2J/, stderr);
    });
  }
});

Deno.test("the monitor's table shows records' values escaped and bounded, its own colours only", () => {
  const monitor = new MonitorState({ readings: "R", heartbeats: "H", labels: "L" }, {
    lateAfterMs: 2_500,
    deadAfterMs: 5_000,
  });
  const at = Date.UTC(2026, 0, 1);
  const record = (topic: string, value: unknown): InRecord => ({
    topic,
    value: JSON.stringify(value),
    timestampMs: at,
    receivedMs: at,
  });
  monitor.add(record("H", { sensorId: `S1-1${LARGE}`, tier: HOSTILE, timestamp: "", status: "active" }));
  monitor.add(
    record("R", { factoryId: LARGE, sensorId: HOSTILE, tier: "1.1", sodaName: LARGE, reading: 1, count: 1, total: 2 }),
  );
  monitor.add(record("L", {
    faultId: LARGE,
    fault: HOSTILE,
    event: "start",
    factoryId: LARGE,
    sensorId: HOSTILE,
    sodaName: LARGE,
    timestamp: "2026-01-01T00:00:00.000Z",
  }));
  assert.equal(monitor.snapshot(at).activeFaults.length, 1);
  for (const color of [false, true]) {
    const lines = renderMonitor(monitor.snapshot(at), { width: 100, color });
    assert.ok(lines.some((line) => line.includes("\\x1b[2J")));
    assert.ok(lines.some((line) => line.startsWith("ACTIVE FAULT")), lines.join("\n"));
    for (const line of lines) {
      // Its own colours (SGR) are the only escapes; without colour there are none.
      // deno-lint-ignore no-control-regex -- the display\'s own colour codes, removed before the check
      const bare = line.replace(/\x1b\[\d+m/g, "");
      assert.ok(!hasControls(bare), bare);
      assert.ok(bare.length <= 100, `${bare.length}`);
      if (!color) assert.equal(bare, line);
    }
    // Unbounded, a line of the table would hold 10 MB; even unwrapped (no width) each value is cut.
    for (const line of renderMonitor(monitor.snapshot(at), { width: Infinity, color })) {
      assert.ok(line.length < 1_000, `${line.length}`);
    }
  }
});

Deno.test("the live status block shows ids and topics escaped and bounded, its own codes only", () => {
  const lines = renderStatus(
    {
      factories: [{ id: LARGE, lines: [{ count: 1, total: 2 }] }],
      rates: { [HOSTILE]: 1.5 },
      sink: { state: "connected", name: HOSTILE },
      elapsedMs: 1_000,
    },
    { width: 10_000, color: true },
  );
  for (const line of lines) {
    // deno-lint-ignore no-control-regex -- the display\'s own colour codes, removed before the check
    const bare = line.replace(/\x1b\[\d+m/g, "");
    assert.ok(!hasControls(bare), bare);
    assert.ok(bare.length < 500, `${bare.length}`);
  }
  assert.ok(lines.some((line) => line.includes("\\x1b]0;owned\\x07")));
});
