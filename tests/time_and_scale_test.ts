/**
 * Time control and scale through the whole program: `--backfill`, `--duration`, `--continuous`,
 * `--generate-lines` and `--shard`, run in process on the console sink, plus one run of the CLI.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { resetLogging } from "../lib/log.ts";
import { main } from "../main.ts";
import { textCollector } from "./_helpers.ts";
import { runCli } from "./_kafka.ts";

const SAMPLE = new URL("../factory_config.json", import.meta.url).pathname;
/** The launch time the in-process runs see. */
const NOW_MS = Date.UTC(2025, 11, 3, 14, 30, 0, 0);

interface ConsoleRecord {
  topic: string;
  key: string;
  value: { sensorId: string; timestamp: string; count?: number; factoryId?: string };
}

async function runMain(args: string[], { now = () => NOW_MS }: { now?: () => number } = {}) {
  const stdout = textCollector();
  let stderr = "";
  try {
    const code = await main(["--sink", "console", "--config", SAMPLE, "--seed", "5", ...args], {
      env: {},
      stdout: stdout.stream,
      writeStderr: (line) => stderr += line,
      now,
    });
    const records: ConsoleRecord[] = stdout.text().split("\n").filter(Boolean).map((line) => JSON.parse(line));
    return { code, records, stdout: stdout.text(), stderr };
  } finally {
    await resetLogging();
  }
}

const timeOf = (record: ConsoleRecord) => Date.parse(record.value.timestamp);

Deno.test("a backfill writes history from FROM up to TO on virtual time, then exits 0", async (t) => {
  const fromMs = Date.UTC(2025, 11, 1, 0, 0, 0);
  const toMs = Date.UTC(2025, 11, 1, 2, 0, 0);

  await t.step("with --continuous it fills the whole span", async () => {
    const wallStart = performance.now();
    const { code, records, stderr } = await runMain([
      "--backfill",
      "2025-12-01T00:00:00Z..2025-12-01T02:00:00Z",
      "--continuous",
      "--factories",
      "5",
      "--generate-lines",
    ]);
    assert.equal(code, ExitCode.ok, stderr);
    assert.ok(performance.now() - wallStart < 20_000, "two simulated hours in seconds");
    assert.ok(records.every((record) => timeOf(record) >= fromMs && timeOf(record) < toMs), "within [FROM, TO)");
    assert.equal(records[0].topic, "SENSOR_HEARTBEAT");
    assert.equal(timeOf(records[0]), fromMs, "the first heartbeat at FROM");
    assert.ok(toMs - timeOf(records.at(-1)!) <= 2_000, "up to TO");
    const factories = new Set(records.filter((r) => r.topic === "SENSOR_READINGS").map((r) => r.value.factoryId));
    assert.deepEqual([...factories].sort(), ["F1", "F2", "F3", "F4", "F5"], "F4 and F5 got generated lines");
    assert.match(
      stderr,
      /^info: 5 factories, \d+ sensors, \d+ lines; seed 5; backfill from 2025-12-01T00:00:00\.000Z to 2025-12-01T02:00:00\.000Z; continuous$/m,
    );
    assert.match(
      stderr,
      /^info: done: backfill from 2025-12-01T00:00:00\.000Z to 2025-12-01T02:00:00\.000Z in [\d.]+ s: \d+ readings and \d+ heartbeats over 7200\.0 s of simulated time; \d+ records delivered to console$/m,
    );
    assert.doesNotMatch(stderr, /no production lines/);
  });
  await t.step("without --continuous it ends when the lines are done", async () => {
    const { code, records, stderr } = await runMain(["--backfill", "2025-12-01..2025-12-02"]);
    assert.equal(code, ExitCode.ok, stderr);
    assert.equal(records.filter((r) => r.topic === "SENSOR_READINGS").length, 62);
    const lastMs = timeOf(records.at(-1)!);
    assert.ok(lastMs < fromMs + 3_600_000);
    assert.match(
      stderr,
      new RegExp(`^info: done: backfill from 2025-12-01T00:00:00\\.000Z to ${new Date(lastMs).toISOString()} in `, "m"),
    );
  });
  await t.step("a time ago counts back from the launch", async () => {
    const { code, records } = await runMain(["--backfill", "90s", "--continuous"]);
    assert.equal(code, ExitCode.ok);
    assert.equal(timeOf(records[0]), NOW_MS - 90_000);
    assert.ok(records.every((record) => timeOf(record) < NOW_MS));
  });
  await t.step("--duration ends a backfill before TO", async () => {
    const { code, records, stderr } = await runMain(["--backfill", "1d", "--continuous", "--duration", "10m"]);
    assert.equal(code, ExitCode.ok);
    assert.ok(records.every((record) => timeOf(record) < NOW_MS - 86_400_000 + 600_000));
    assert.match(stderr, /over 600\.0 s of simulated time/);
  });
  await t.step("a plant without lines heartbeats until TO, and says so", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/empty.json`, "{}");
      const { code, records, stderr } = await runMain(["--backfill", "1m", "--config", `${dir}/empty.json`]);
      assert.equal(code, ExitCode.ok, stderr);
      assert.ok(records.every((record) => record.topic === "SENSOR_HEARTBEAT" && timeOf(record) < NOW_MS));
      assert.ok(NOW_MS - timeOf(records.at(-1)!) <= 2_000);
      assert.match(stderr, /^warning: no production lines to run: heartbeats go on until the end of the backfill$/m);
      assert.match(stderr, /^info: done: backfill from \S+ to 2025-12-03T14:30:00\.000Z in /m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("--duration ends a live run once that much simulated time has passed: done, exit 0", async () => {
  let nowMs = NOW_MS;
  const { code, records, stderr } = await runMain(["--duration", "20s", "--speed", "2000", "--continuous"], {
    now: () => nowMs++,
  });
  assert.equal(code, ExitCode.ok, stderr);
  const startMs = timeOf(records[0]);
  assert.ok(startMs >= NOW_MS && startMs < NOW_MS + 10, "a live run starts at the launch");
  assert.ok(records.every((record) => timeOf(record) < startMs + 20_000));
  assert.ok(startMs + 20_000 - timeOf(records.at(-1)!) <= 2_000);
  const counts = records.filter((r) => r.topic === "SENSOR_READINGS").map((r) => r.value.count);
  assert.ok(counts.length > 0);
  assert.match(stderr, /^info: 3 factories, \d+ sensors, 8 lines; seed 5; speed 2000; duration 20 s; continuous$/m);
  assert.match(stderr, /^info: done: \d+ readings and \d+ heartbeats over 20\.0 s of simulated time; /m);
});

Deno.test("N shards together produce exactly the records of the whole plant", async () => {
  const args = ["--backfill", "2025-12-01T00:00:00Z..2025-12-01T00:05:00Z", "--continuous", "--factories", "10"];
  const whole = await runMain([...args, "--generate-lines"]);
  assert.equal(whole.code, ExitCode.ok);
  const shards = [];
  for (let index = 1; index <= 4; index++) {
    const shard = await runMain([...args, "--generate-lines", "--shard", `${index}/4`]);
    assert.equal(shard.code, ExitCode.ok, shard.stderr);
    shards.push(shard);
  }
  assert.match(
    shards[1].stderr,
    /^info: shard 2\/4: 3 of 10 factories, \d+ sensors, \d+ lines; seed 5; backfill from /m,
  );
  const sensorsOf = (records: ConsoleRecord[]) =>
    new Set(records.map((record) => record.value.sensorId.replace(/-\d+$/, "")));
  assert.deepEqual([...sensorsOf(shards[1].records)].sort(), ["S10", "S2", "S6"]);
  assert.doesNotMatch(shards[0].stderr, /not a simulated factory|have no production lines|has no production lines/);
  const lines = (stdout: string) => stdout.split("\n").filter(Boolean).sort();
  assert.deepEqual(lines(shards.map((shard) => shard.stdout).join("")), lines(whole.stdout));
});

Deno.test("the CLI backfills two hours of a generated plant in the past and exits 0", async () => {
  const launchMs = Date.now();
  const { code, stdout, stderr } = await runCli([
    "--backfill",
    "2h",
    "--factories",
    "2",
    "--generate-lines",
    "--sink",
    "console",
    "--seed",
    "5",
  ]);
  const endMs = Date.now();
  assert.equal(code, ExitCode.ok, stderr);
  const records: ConsoleRecord[] = stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line));
  assert.ok(records.length > 0);
  const times = records.map(timeOf);
  assert.ok(times.every((t) => t >= launchMs - 7_200_000 && t < endMs - 7_200_000 + 3_600_000), "hours in the past");
  assert.ok(times[0] <= endMs - 7_200_000, "starting two hours before the launch");
  assert.equal(records.filter((r) => r.topic === "SENSOR_READINGS").length, 41, "F1 and F2 of the sample config");
  assert.match(stderr, /^info: done: backfill from \S+ to \S+ in [\d.]+ s: 41 readings and \d+ heartbeats over /m);
});
