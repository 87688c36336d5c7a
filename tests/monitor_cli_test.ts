import assert from "node:assert/strict";
import { helpText, parseCommand } from "../lib/cli.ts";
import { ExitCode, UsageError } from "../lib/errors.ts";
import { renderMonitor } from "../lib/monitor/render.ts";
import { MonitorState } from "../lib/monitor/state.ts";
import { resetLogging } from "../lib/log.ts";
import { main } from "../main.ts";
import { runMain, textCollector } from "./_helpers.ts";

function monitorOptions(args: string[], env = {}) {
  const command = parseCommand(["monitor", ...args], env);
  assert.equal(command.kind, "monitor");
  return command.options;
}

function usageError(args: string[]): string {
  try {
    parseCommand(args);
  } catch (error) {
    assert.ok(error instanceof UsageError);
    assert.equal(error.exitCode, ExitCode.usage);
    return error.message;
  }
  assert.fail(`accepted ${args.join(" ")}`);
}

Deno.test("monitor: the documented defaults", () => {
  const { groupId, ...options } = monitorOptions([]);
  assert.match(groupId, /^factory-sim-monitor-[0-9a-f]{8}$/);
  assert.notEqual(groupId, monitorOptions([]).groupId, "every monitor gets a group of its own");
  assert.deepEqual(options, {
    brokers: ["localhost:9092"],
    topics: { readings: "SENSOR_READINGS", heartbeats: "SENSOR_HEARTBEAT" },
    clientId: "factory-sim-monitor",
    fromBeginning: false,
    lateAfterMs: 2_500,
    deadAfterMs: 5_000,
    json: false,
    web: undefined,
    intervalMs: 1_000,
    logLevel: "info",
    quiet: false,
    schemaRegistry: undefined,
  });
});

Deno.test("monitor: every flag", () => {
  const options = monitorOptions([
    "--brokers=k1:9092,k2:9093",
    "--readings-topic=r",
    "--heartbeat-topic=h",
    "--labels-topic=l",
    "--group-id=ops.monitor",
    "--client-id=mon",
    "--from-beginning",
    "--dead-after=10s",
    "--late-after=3s",
    "--json",
    "--web=0.0.0.0:8080",
    "--interval=250ms",
    "--quiet",
    "--schema-registry=https://registry:8081/apis/ccompat/v7",
  ]);
  assert.deepEqual(options, {
    brokers: ["k1:9092", "k2:9093"],
    topics: { readings: "r", heartbeats: "h", labels: "l" },
    groupId: "ops.monitor",
    clientId: "mon",
    fromBeginning: true,
    lateAfterMs: 3_000,
    deadAfterMs: 10_000,
    json: true,
    web: { host: "0.0.0.0", port: 8080 },
    intervalMs: 250,
    logLevel: "warning",
    quiet: true,
    schemaRegistry: "https://registry:8081/apis/ccompat/v7",
  });
  assert.deepEqual(monitorOptions([], { KAFKA_BROKERS: "k:1" }).brokers, ["k:1"]);
  assert.equal(monitorOptions(["--dead-after", "8s"]).lateAfterMs, 4_000);
});

Deno.test("monitor: --web takes PORT, :PORT, HOST:PORT and [IPv6]:PORT", () => {
  assert.deepEqual(monitorOptions(["--web", "8080"]).web, { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(monitorOptions(["--web", ":0"]).web, { host: "127.0.0.1", port: 0 });
  assert.deepEqual(monitorOptions(["--web", "localhost:80"]).web, { host: "localhost", port: 80 });
  assert.deepEqual(monitorOptions(["--web", "[::1]:8080"]).web, { host: "::1", port: 8080 });
});

Deno.test("monitor: bad flags are one-line usage errors naming the flag", () => {
  assert.equal(usageError(["monitor", "--speed", "2"]), "unknown flag --speed for monitor (see --help)");
  assert.equal(
    usageError(["--brokers", "k:1", "monitor"]),
    "monitor must come first, before its flags: factory-sim monitor [flags]",
  );
  assert.equal(usageError(["monitor", "now"]), `unexpected argument "now" for monitor (see --help)`);
  assert.match(usageError(["monitor", "--dead-after", "soon"]), /^--dead-after must be a duration .*: got "soon"$/);
  assert.match(usageError(["monitor", "--interval", "10ms"]), /^--interval must be a duration from 100ms/);
  assert.equal(
    usageError(["monitor", "--dead-after", "4s", "--late-after", "4s"]),
    `--late-after must be shorter than --dead-after (4 s): got "4s"`,
  );
  assert.match(usageError(["monitor", "--web", "localhost"]), /^--web must be \[HOST\]:PORT or PORT/);
  assert.match(usageError(["monitor", "--web", "99999"]), /^--web must be/);
  assert.match(usageError(["monitor", "--group-id", "a b"]), /^--group-id must be 1-249 of/);
  assert.match(usageError(["monitor", "--brokers", "nope"]), /^--brokers must be a comma-separated list/);
  assert.equal(parseCommand(["monitor", "--help"]).kind, "help");
  assert.match(helpText("0.0.0"), /--dead-after D +dead when no heartbeat for more than D \(default 5s\)/);
});

Deno.test("the monitor's table: header, sensors (dead first), lines, and a row budget", () => {
  const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
  const monitor = new MonitorState({ readings: "R", heartbeats: "H" }, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  for (let i = 1; i <= 6; i++) {
    monitor.add({
      topic: "H",
      value: JSON.stringify({ sensorId: `S1-${i}`, tier: `1.${i}`, status: "active" }),
      timestampMs: T0 - (i === 4 ? 9_000 : 0),
      receivedMs: T0,
    });
  }
  for (const count of [1, 3]) {
    monitor.add({
      topic: "R",
      value: JSON.stringify({
        factoryId: "F1",
        sensorId: "S1-1",
        sodaName: "Coca-Cola",
        reading: 40 + count,
        count,
        total: 10,
      }),
      timestampMs: T0,
      receivedMs: T0,
    });
  }
  const lines = renderMonitor(monitor.snapshot(T0), { width: 100 });
  assert.deepEqual(lines.slice(0, 5), [
    "factory-sim monitor  12:00:00Z  sensors: 5 alive, 0 late, 1 dead",
    "topics: R 0.0/s (2), H 0.0/s (6)",
    "",
    "SENSOR    TIER   STATUS  LAST HB  UPTIME   BEATS FAULTS",
    "S1-4      1.4    dead      9.0 s   55.6%       1", // 4 s of 9 past dead-after
  ]);
  assert.equal(
    lines.at(-1),
    "  F1 S1-1 Coca-Cola                   2/10      41      42      43      43       1     0",
  );
  assert.ok(lines.every((line) => line.length <= 100));
  const short = renderMonitor(monitor.snapshot(T0), { width: 30, maxRows: 10 });
  assert.ok(short.length <= 10, short.join("\n"));
  assert.ok(short.includes("... and 4 more sensors"), short.join("\n"));
  assert.ok(short.every((line) => line.length <= 30));
  const colored = renderMonitor(monitor.snapshot(T0), { color: true });
  assert.ok(colored[4].includes("\x1b[31mdead  \x1b[0m"), colored[4]);
});

Deno.test("--quiet still shows the address of a server on a free port: --metrics-port 0 and monitor --web :0", async () => {
  const sample = new URL("../factory_config.json", import.meta.url).pathname;
  const run = await runMain(
    ["--sink", "console", "--config", sample, "--speed", "5000", "--seed", "7", "--metrics-port", "0", "--quiet"],
  );
  assert.equal(run.code, ExitCode.ok, run.stderr);
  assert.match(run.stderr, /^info: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics \(and \/healthz, \/readyz\)\n$/);

  // The monitor: its dashboard listens before it connects; stopped while connecting, it exits 0.
  const controller = new AbortController();
  let stderr = "";
  const monitor = main(["monitor", "--web", ":0", "--quiet", "--brokers", "127.0.0.1:1"], {
    env: {},
    stdout: textCollector().stream,
    writeStderr: (line) => {
      stderr += line;
      if (line.includes("dashboard on")) controller.abort("SIGINT");
    },
    signal: controller.signal,
  });
  try {
    assert.equal(await monitor, ExitCode.ok);
    assert.match(stderr, /^info: dashboard on http:\/\/127\.0\.0\.1:\d+\/\n$/);
  } finally {
    await resetLogging();
  }
});

Deno.test("the monitor's table: active faults by their sensor, a marked line, and a list that fits 80 columns", () => {
  const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
  const topics = { readings: "R", heartbeats: "H", labels: "L" };
  const monitor = new MonitorState(topics, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  const at = (topic: string, value: unknown) =>
    monitor.add({ topic, value: JSON.stringify(value), timestampMs: T0, receivedMs: T0 });
  for (const sensorId of ["S1-1", "S1-2"]) at("H", { sensorId, tier: "1", status: "active" });
  for (const [sensorId, sodaName] of [["S1-1", "Coca-Cola"], ["S1-2", "Sprite"]]) {
    at("R", { factoryId: "F1", sensorId, sodaName, reading: 5, count: 1, total: 9 });
  }
  const label = (faultId: string, fault: string, event: string, sodaName = "Coca-Cola") =>
    at("L", {
      faultId,
      fault,
      event,
      factoryId: "F1",
      sensorId: sodaName === "Coca-Cola" ? "S1-1" : "S1-2",
      sodaName,
      timestamp: "2026-01-01T11:59:58.250Z",
    });
  label("F1/0/0#1", "stuck", "start");
  label("F1/0/1#1", "drift", "start");
  label("F1/1/0#1", "spike", "start", "Sprite");
  label("F1/1/0#1", "spike", "end", "Sprite");
  for (let i = 0; i < 6; i++) label(`F9/0/${i}#1`, "dropout", "start", "Fanta");
  const lines = renderMonitor(monitor.snapshot(T0), { width: 79 });
  assert.equal(lines[0], "factory-sim monitor  12:00:00Z  sensors: 2 alive, 0 late, 0 dead; 8 faults");
  assert.ok(lines.includes("S1-1      1      alive     0.0 s  100.0%       1 stuck,drift"), lines.join("\n"));
  assert.ok(lines.includes("S1-2      1      alive     0.0 s  100.0%       1 dropout"), lines.join("\n"));
  assert.ok(lines.some((line) => line.startsWith("! F1 S1-1 Coca-Cola ")), lines.join("\n"));
  assert.ok(lines.some((line) => line.startsWith("  F1 S1-2 Sprite ")), "the ended fault marks nothing");
  const list = lines.slice(lines.indexOf("ACTIVE FAULT LINE                         SINCE     ID"));
  assert.deepEqual(list, [
    "ACTIVE FAULT LINE                         SINCE     ID",
    "stuck        F1 S1-1 Coca-Cola            11:59:58Z F1/0/0#1",
    "drift        F1 S1-1 Coca-Cola            11:59:58Z F1/0/1#1",
    "dropout      F1 S1-2 Fanta                11:59:58Z F9/0/0#1",
    "dropout      F1 S1-2 Fanta                11:59:58Z F9/0/1#1",
    "... and 4 more faults",
  ]);
  assert.ok(lines.every((line) => line.length <= 79));
  const short = renderMonitor(monitor.snapshot(T0), { width: 79, maxRows: 16 });
  assert.ok(short.length <= 16, short.join("\n"));
  assert.ok(short.includes("... and 7 more faults") || short.some((l) => l.startsWith("ACTIVE FAULT")));
});
