/** The end-of-run summary through `main`: the log table and `--summary-json`. */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import type { SummaryDocument } from "../lib/summary.ts";
import { VERSION } from "../main.ts";
import { runMain } from "./_helpers.ts";

const SAMPLE = new URL("../factory_config.json", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const RUN = ["--sink", "console", "--config", SAMPLE, "--speed", "2000", "--seed", "7"];

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--summary-json writes what the run emitted: per topic and per line", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/summary.json`;
    const { code, stdout, stderr } = await runMain([...RUN, "--summary-json", path]);
    assert.equal(code, ExitCode.ok, stderr);
    const records = stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
    const summary: SummaryDocument = JSON.parse(await Deno.readTextFile(path));
    assert.deepEqual(Object.keys(summary), [
      "schemaVersion",
      "version",
      "outcome",
      "exitCode",
      "signal",
      "error",
      "seed",
      "plant",
      "speed",
      "rate",
      "backfill",
      "continuous",
      "durationLimitMs",
      "startedAt",
      "endedAt",
      "simulatedSeconds",
      "wallSeconds",
      "readings",
      "heartbeats",
      "labels",
      "topics",
      "sink",
      "lines",
    ]);
    assert.equal(summary.version, VERSION);
    assert.equal(summary.outcome, "done");
    assert.equal(summary.exitCode, 0);
    assert.equal(summary.seed, 7);
    assert.equal(summary.speed, 2000);
    assert.deepEqual(summary.plant, { factories: 3, sensors: summary.plant.sensors, lines: 8, shard: null });
    const perTopic: Record<string, number> = {};
    for (const record of records) perTopic[record.topic] = (perTopic[record.topic] ?? 0) + 1;
    assert.deepEqual(summary.topics, perTopic);
    assert.equal(summary.readings, 62);
    assert.deepEqual(summary.sink, {
      name: "console",
      delivered: records.length,
      spooled: null,
      replayed: null,
      alreadyInKafka: null,
    });
    assert.equal(summary.lines.length, 8);
    for (const line of summary.lines) {
      const values = records
        .filter((r) =>
          r.value.sodaName === line.sodaName && r.key === line.sensorId && r.value.factoryId === line.factoryId
        )
        .map((r) => r.value);
      assert.equal(line.sent, values.length, line.sodaName);
      assert.equal(line.taken, line.total);
      assert.equal(line.sent, line.total);
      const readings = values.map((v) => v.reading);
      assert.equal(line.min, Math.min(...readings));
      assert.equal(line.max, Math.max(...readings));
      assert.equal(line.mean, Math.round(readings.reduce((a, b) => a + b, 0) / readings.length * 1000) / 1000);
      assert.equal(line.firstAt, values[0].timestamp);
      assert.equal(line.lastAt, values.at(-1).timestamp);
    }
    assert.ok(summary.startedAt < summary.endedAt);
  });
});

Deno.test("the end-of-run summary follows the done line on stderr; --log-level warning silences it", async (t) => {
  await t.step("at info", async () => {
    const { code, stderr } = await runMain(RUN);
    assert.equal(code, ExitCode.ok);
    const lines = stderr.split("\n");
    const done = lines.findIndex((line) => line.startsWith("info: done: "));
    assert.match(
      lines[done + 1],
      /^info: summary: 8 lines, 62 readings \(min \d+, mean [\d.]+, max \d+\) over [\d.]+ s simulated, [\d.]+ s wall$/,
    );
    assert.equal(lines[done + 2], "info:   factory  sensor  soda          count/total  min  mean  max");
    assert.match(lines[done + 3], /^info: {3}F1 {7}S1-1 {4}Coca-Cola {5}10\/10 {8}\d+ +[\d.]+ +\d+$/);
    assert.match(
      lines[done + 11],
      /^info: summary: records produced per topic: SENSOR_READINGS 62, SENSOR_HEARTBEAT \d+$/,
    );
  });
  await t.step("at warning", async () => {
    const { code, stderr } = await runMain([...RUN, "--log-level", "warning"]);
    assert.equal(code, ExitCode.ok);
    assert.equal(stderr, "");
  });
});

Deno.test("--summary-json is written when a signal stops the run, and when the run fails", async (t) => {
  await t.step("stopped", async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/summary.json`;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort("SIGTERM"), 300);
      try {
        const args = ["--sink", "console", "--config", SAMPLE, "--speed", "10", "--seed", "1", "--summary-json", path];
        const { code, stdout } = await runMain(args, { signal: controller.signal });
        assert.equal(code, ExitCode.sigterm);
        const summary: SummaryDocument = JSON.parse(await Deno.readTextFile(path));
        assert.equal(summary.outcome, "stopped");
        assert.equal(summary.exitCode, ExitCode.sigterm);
        assert.equal(summary.signal, "SIGTERM");
        const records = stdout.trimEnd().split("\n").filter(Boolean);
        assert.equal(summary.sink.delivered, records.length);
        assert.equal(Object.values(summary.topics).reduce((a, b) => a + b, 0), records.length);
      } finally {
        clearTimeout(timer);
      }
    });
  });
  await t.step("failed: stdout closed", async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/summary.json`;
      let writes = 0;
      const stdout = {
        stream: new WritableStream<Uint8Array>({
          write() {
            if (++writes > 3) throw new Error("broken pipe");
          },
        }),
        text: () => "",
      };
      const { code, stderr } = await runMain([...RUN, "--summary-json", path], { stdout });
      assert.equal(code, ExitCode.failure);
      const written = /^error: stdout: cannot write: broken pipe: (\d+) records written, the next \d+ not$/m.exec(
        stderr,
      );
      assert.ok(written, stderr);
      const summary: SummaryDocument = JSON.parse(await Deno.readTextFile(path));
      assert.equal(summary.outcome, "failed");
      assert.equal(summary.exitCode, ExitCode.failure);
      assert.match(summary.error!, /^stdout: cannot write: broken pipe/);
      // Only what stdout took counts as delivered.
      assert.equal(summary.sink.delivered, Number(written[1]));
      assert.equal(summary.lines[0].taken, null);
    });
  });
});

Deno.test("--summary-json without write permission for it exits 3 before the run, naming the flag", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/summary.json`;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", MAIN, ...RUN, "--summary-json", path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, ExitCode.permission);
    assert.equal(new TextDecoder().decode(stdout), "", "nothing was produced");
    assert.match(
      new TextDecoder().decode(stderr),
      new RegExp(
        `^error: missing permission: Requires write access to "${path}": grant --allow-write=${path} ` +
          `\\(for --summary-json ${path}\\)$`,
        "m",
      ),
    );
  });
});

Deno.test("--summary-json needs write permission for its file only, as docs/operations.md says", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/summary.json`;
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", `--allow-write=${path}`, MAIN, ...RUN, "--summary-json", path],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, ExitCode.ok, new TextDecoder().decode(stderr));
    const document: SummaryDocument = JSON.parse(await Deno.readTextFile(path));
    assert.equal(document.outcome, "done");
  });
});
