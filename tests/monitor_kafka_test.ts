/**
 * `factory-sim monitor` against a real broker: a simulator runs with a sensor taken offline by a
 * fault, the monitor (a process of its own, as a user runs it) reports what landed as JSON lines,
 * and kcat reads the same topics back to check the monitor's counts.
 */
import assert from "node:assert/strict";
import { BROKERS, collect, consumeAll, ensureBroker, spawnCli, tempConfig, uniqueTopics, waitFor } from "./_kafka.ts";
import type { Snapshot, StatusChange } from "../lib/monitor/state.ts";

const DEAD_AFTER_MS = 2_000;
const INTERVAL_MS = 200;

/** The JSON lines a monitor printed so far. */
function jsonLines(text: string): (Snapshot | StatusChange)[] {
  return text.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}

function snapshots(text: string): Snapshot[] {
  return jsonLines(text).filter((item): item is Snapshot => item.type === "snapshot");
}

function changes(text: string): StatusChange[] {
  return jsonLines(text).filter((item): item is StatusChange => item.type === "sensor-status");
}

async function stop(child: Deno.ChildProcess, stderr: { done: Promise<string> }): Promise<number> {
  child.kill("SIGINT");
  const { code } = await child.status;
  await stderr.done;
  return code;
}

Deno.test({
  name: "monitor: counts what landed, notices an offline sensor and a stopped simulator within --dead-after; " +
    "from the beginning and from now; an unreachable broker",
}, async () => {
  await ensureBroker();
  const { readings, heartbeats, flags: topicFlags } = uniqueTopics("monitor");
  // S1-1 goes offline 3 s (simulated) into the run for 12 s: no heartbeats and no readings.
  const config = await tempConfig({
    F1: [
      { sodaName: "Cola", number: 5, sensorID: "S1-1", faults: [{ kind: "offline", at: "3s", for: "12s" }] },
      { sodaName: "Lemon", number: 5, sensorID: "S1-2" },
    ],
  });
  // Meanwhile (it takes the 10 s connect timeout): a monitor of a broker that is not there.
  const unreachable = spawnCli(["monitor", "--brokers=127.0.0.1:1", "--json"]).output();
  try {
    // The monitor starts first: it waits for the topics, then reads them whole.
    const monitor = spawnCli([
      "monitor",
      "--json",
      `--brokers=${BROKERS}`,
      ...topicFlags,
      `--dead-after=${DEAD_AFTER_MS}ms`,
      `--interval=${INTERVAL_MS}ms`,
    ]);
    const out = collect(monitor.stdout);
    const err = collect(monitor.stderr);
    await waitFor(() => err.current.includes("waiting for"), 15_000);

    const sim = spawnCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--config=${config.path}`,
      "--factories=1",
      "--seed=11",
      "--speed=3",
      ...topicFlags,
    ]);
    const simErr = collect(sim.stderr);
    await collect(sim.stdout).done;
    const { code: simCode } = await sim.status;
    const simEndMs = Date.now();
    assert.equal(simCode, 0, await simErr.done);

    // Every sensor is dead soon after the simulator ended.
    const allDead = () => {
      const sensors = snapshots(out.current).at(-1)?.sensors;
      return sensors !== undefined && sensors.alive + sensors.late === 0 && sensors.dead > 0;
    };
    await waitFor(allDead, DEAD_AFTER_MS + 5_000);
    const allDeadMs = Date.now() - simEndMs;
    assert.equal(await stop(monitor, err), 0, err.current);
    const text = await out.done;

    // During the run, S1-1 (offline) turned dead while S1-2 stayed alive, and came back.
    const s11 = changes(text).filter((change) => change.sensorId === "S1-1").map((change) => change.to);
    assert.deepEqual(s11.slice(0, 4), ["alive", "late", "dead", "alive"], JSON.stringify(changes(text)));
    const offline = changes(text).find((change) => change.sensorId === "S1-1" && change.to === "dead")!;
    // Noticed within --dead-after (plus the refresh interval the check runs on).
    assert.ok(offline.lastHeartbeatAgeMs <= DEAD_AFTER_MS + INTERVAL_MS + 100, JSON.stringify(offline));
    const duringOffline = snapshots(text).find((snapshot) => snapshot.time >= offline.time)!;
    const sensors = duringOffline.factories[0].sensors;
    assert.equal(sensors.find((sensor) => sensor.sensorId === "S1-1")?.status, "dead");
    assert.ok(
      sensors.filter((sensor) => sensor.sensorId !== "S1-1").every((sensor) => sensor.status !== "dead"),
      JSON.stringify(sensors),
    );
    assert.ok(allDeadMs < DEAD_AFTER_MS + 3_000, `all dead ${allDeadMs} ms after the simulator ended`);

    // The last snapshot agrees with what kcat reads back.
    const last = snapshots(text).at(-1)!;
    const landed = (await consumeAll(readings)).map((record) => record.value);
    const lines = last.factories[0].lines;
    assert.deepEqual(lines.map((line) => line.sodaName), ["Cola", "Lemon"]);
    for (const line of lines) {
      const mine = landed.filter((value) => value.sodaName === line.sodaName);
      const values = mine.map((value) => value.reading as number);
      assert.equal(line.received, mine.length);
      assert.equal(line.expected, 5);
      assert.equal(line.missing, 5 - mine.length, "what the offline fault swallowed is missing");
      assert.equal(line.min, Math.min(...values));
      assert.equal(line.max, Math.max(...values));
      assert.equal(line.last, values.at(-1));
    }
    assert.ok(lines[0].missing > 0, "the offline fault swallowed some of S1-1's readings");
    assert.equal(lines[1].missing, 0);
    const beats = await consumeAll(heartbeats);
    assert.equal(last.topics[heartbeats].received, beats.length);
    assert.equal(
      last.factories[0].sensors.reduce((sum, sensor) => sum + sensor.heartbeats, 0),
      beats.length,
    );

    // Started now: --from-beginning reads it all again; from now reads nothing (the run is over).
    const again = spawnCli(["monitor", "--json", `--brokers=${BROKERS}`, ...topicFlags, "--from-beginning"]);
    const fresh = spawnCli(["monitor", "--json", `--brokers=${BROKERS}`, ...topicFlags, "--interval=200ms"]);
    const againOut = collect(again.stdout);
    const againErr = collect(again.stderr);
    const freshOut = collect(fresh.stdout);
    const freshErr = collect(fresh.stderr);
    await waitFor(
      () => snapshots(againOut.current).at(-1)?.topics[heartbeats]?.received === beats.length,
      20_000,
    );
    await waitFor(() => freshErr.current.includes("consuming"), 20_000);
    assert.equal(await stop(again, againErr), 0);
    assert.equal(await stop(fresh, freshErr), 0);
    const replayed = snapshots(await againOut.done).at(-1)!;
    assert.deepEqual(
      replayed.factories[0].lines.map((line) => [line.received, line.missing]),
      lines.map((line) => [line.received, line.missing]),
    );
    assert.deepEqual(
      replayed.factories[0].sensors.map((sensor) => sensor.heartbeats),
      last.factories[0].sensors.map((sensor) => sensor.heartbeats),
    );
    const nothing = snapshots(await freshOut.done).at(-1)!;
    assert.equal(nothing.topics[readings].received, 0);
    assert.deepEqual(nothing.factories, []);

    const { code, stdout, stderr } = await unreachable;
    const message = new TextDecoder().decode(stderr);
    assert.equal(code, 1, message);
    assert.match(message, /^error: Kafka at 127\.0\.0\.1:1 is unreachable \(gave up after 10 s\): .+\n$/m);
    assert.ok(!/\n\s+at /.test(message), "no stack trace");
    assert.equal(new TextDecoder().decode(stdout), "");
  } finally {
    await config.remove();
  }
});
