/**
 * `--shard I/N`: N processes with the same flags and seed produce the whole plant together. For
 * every way a run can end (its lines done, --duration, the backfill's TO, --continuous with
 * --duration; live and backfill), the whole run and each shard run in process on the console sink,
 * with faults and their labels on, and the shards' records together are the whole run's, byte for
 * byte, as a multiset.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { resetLogging } from "../lib/log.ts";
import { main } from "../main.ts";
import { textCollector } from "./_helpers.ts";

/** The launch time every in-process run sees. */
const NOW_MS = Date.UTC(2025, 11, 3, 14, 30, 0, 0);
const SHARDS = 3;

/**
 * Lines of the config's own (one with a fault that is still active when the lines are done) and
 * generated ones, every line with random faults of each kind that touches heartbeats or records.
 */
const CONFIG = {
  defaults: {
    faults: [
      { kind: "offline", perHour: 40, for: "20s" },
      { kind: "spike", perHour: 30, for: "15s" },
      { kind: "duplicate", perHour: 20, for: "10s" },
      { kind: "late", perHour: 20, for: "10s", lateBy: "5s" },
    ],
  },
  F2: [
    { sodaName: "Cola", number: 6, sensorID: "S2-1", faults: [{ kind: "stuck", at: "5s", for: "1h" }] },
    { sodaName: "Lime", number: 9, sensorID: "S2-1" },
  ],
};

let configPath = "";

async function run(args: string[]): Promise<{ lines: string[]; stderr: string }> {
  const stdout = textCollector();
  let stderr = "";
  try {
    const code = await main(
      ["--sink", "console", "--config", configPath, "--seed", "9", "--labels-topic", "LABELS", ...args],
      { env: {}, stdout: stdout.stream, writeStderr: (line) => stderr += line, now: () => NOW_MS },
    );
    assert.equal(code, ExitCode.ok, stderr);
  } finally {
    await resetLogging();
  }
  return { lines: stdout.text().split("\n").filter(Boolean), stderr };
}

/** Runs the whole plant and each of its shards with `args`; asserts the union is the whole. */
async function assertShardsAddUp(
  args: string[],
): Promise<{ whole: string[]; stderr: string; shardStderr: string[] }> {
  const whole = await run(args);
  const union: string[] = [];
  const shardStderr: string[] = [];
  for (let index = 1; index <= SHARDS; index++) {
    const shard = await run([...args, "--shard", `${index}/${SHARDS}`]);
    union.push(...shard.lines);
    shardStderr.push(shard.stderr);
  }
  const sorted = (lines: string[]) => [...lines].sort();
  const topics = new Set(whole.lines.map((line) => JSON.parse(line).topic));
  assert.deepEqual([...topics].sort(), ["LABELS", "SENSOR_HEARTBEAT", "SENSOR_READINGS"], "faults and labels on");
  assert.equal(union.length, whole.lines.length, "as many records as the whole");
  assert.deepEqual(sorted(union), sorted(whole.lines));
  return { whole: whole.lines, stderr: whole.stderr, shardStderr };
}

Deno.test("shards add up to the whole plant, whichever way the run ends", async (t) => {
  const dir = await Deno.makeTempDir();
  configPath = `${dir}/config.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(CONFIG));
  const plant = ["--factories", "11", "--generate-lines", "--lines-per-factory", "3"];
  const lastTime = (lines: string[]) => Math.max(...lines.map((line) => Date.parse(JSON.parse(line).value.timestamp)));
  try {
    await t.step("a backfill that ends when the lines are done", async () => {
      const { whole, stderr } = await assertShardsAddUp([...plant, "--backfill", "2025-12-01..2025-12-02"]);
      // The lines ended it, long before TO; the last heartbeats and the end labels come then.
      assert.ok(lastTime(whole) < Date.UTC(2025, 11, 1, 1), stderr);
      const stuckEnd = whole.find((line) => line.includes('"faultId":"F2/0/0#1","fault":"stuck","event":"end"'));
      assert.ok(stuckEnd, "the fault still active when the lines are done ends with them");
      assert.equal(Date.parse(JSON.parse(stuckEnd).value.timestamp), lastTime(whole));
    });
    await t.step("a backfill that ends at TO, before the lines are done", async () => {
      await assertShardsAddUp([...plant, "--backfill", "2025-12-01T00:00:00Z..2025-12-01T00:00:40Z"]);
    });
    await t.step("a backfill that ends at --duration", async () => {
      await assertShardsAddUp([...plant, "--backfill", "2025-12-01..2025-12-02", "--duration", "45s"]);
    });
    await t.step("a continuous backfill that ends at TO", async () => {
      await assertShardsAddUp([...plant, "--backfill", "2025-12-01T00:00:00Z..2025-12-01T00:03:00Z", "--continuous"]);
    });
    await t.step("a live run that ends when the lines are done", async () => {
      await assertShardsAddUp([...plant, "--speed", "100000"]);
    });
    await t.step("a live run that ends at --duration", async () => {
      await assertShardsAddUp([...plant, "--speed", "100000", "--duration", "40s"]);
    });
    await t.step("a continuous live run that ends at --duration", async () => {
      await assertShardsAddUp([...plant, "--speed", "100000", "--duration", "2m", "--continuous"]);
    });
    await t.step("shards without lines of their own heartbeat until the plant's lines are done", async () => {
      configPath = `${dir}/one_line.json`;
      await Deno.writeTextFile(configPath, JSON.stringify({ ...CONFIG, F1: [], F3: [] }));
      const { whole, shardStderr } = await assertShardsAddUp([
        "--factories",
        "3",
        "--backfill",
        "2025-12-01..2025-12-02",
      ]);
      const last = lastTime(whole);
      assert.ok(last < Date.UTC(2025, 11, 1, 1), "the lines ended the run");
      for (const stderr of [shardStderr[0], shardStderr[2]]) {
        assert.doesNotMatch(stderr, /no production lines to run/);
        assert.match(stderr, new RegExp(`^info: done: backfill from \\S+ to ${new Date(last).toISOString()} `, "m"));
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
