/**
 * `factory-sim monitor --labels-topic` against a real broker: a simulator runs with scheduled faults
 * and `--labels-topic`; monitors (processes of their own, as a user runs them) show the faults
 * while they are active, as JSON lines and in the table, and no more once they ended; one that
 * joins mid-fault sees only its end, which is no error. kcat reads the labels back to check the
 * monitor's counts.
 */
import assert from "node:assert/strict";
import {
  BROKERS,
  collect,
  consumeAll,
  ensureBroker,
  spawnCli,
  tempConfig,
  uniqueTopic,
  uniqueTopics,
  waitFor,
} from "./_kafka.ts";
import type { Snapshot } from "../lib/monitor/state.ts";

function snapshots(text: string): Snapshot[] {
  return text.split("\n").filter((line) => line.startsWith('{"type":"snapshot"')).map((line) => JSON.parse(line));
}

async function stop(child: Deno.ChildProcess, stderr: { done: Promise<string> }): Promise<number> {
  child.kill("SIGINT");
  const { code } = await child.status;
  await stderr.done;
  return code;
}

Deno.test({
  name: "monitor --labels-topic: active faults in the JSON lines and the table while they last, gone once ended; " +
    "a monitor that joins mid-fault sees only its end",
}, async () => {
  await ensureBroker();
  const { flags: topicFlags } = uniqueTopics("labels");
  const labels = uniqueTopic("labels-labels");
  // Cola is stuck from 1 s to the end of the run (whose end closes it), with a 3 s spike at 2 s;
  // S1-2 is offline from 2 s for 4 s.
  const config = await tempConfig({
    F1: [
      {
        sodaName: "Cola",
        number: 20,
        sensorID: "S1-1",
        faults: [{ kind: "stuck", at: "1s", for: "1h" }, { kind: "spike", at: "2s", for: "3s" }],
      },
      { sodaName: "Lemon", number: 20, sensorID: "S1-2", faults: [{ kind: "offline", at: "2s", for: "4s" }] },
    ],
  });
  const monitorFlags = [`--brokers=${BROKERS}`, ...topicFlags, `--labels-topic=${labels}`, "--interval=200ms"];
  try {
    // Both start before the simulator: they wait for the topics and read them whole.
    const json = spawnCli(["monitor", "--json", ...monitorFlags]);
    const table = spawnCli(["monitor", ...monitorFlags]);
    const jsonOut = collect(json.stdout);
    const jsonErr = collect(json.stderr);
    const tableOut = collect(table.stdout);
    const tableErr = collect(table.stderr);
    await waitFor(() => jsonErr.current.includes("waiting for") && tableErr.current.includes("waiting for"), 15_000);
    assert.match(jsonErr.current, new RegExp(`waiting for .*${labels.replaceAll(".", "\\.")}`));

    const sim = spawnCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--config=${config.path}`,
      "--factories=1",
      "--seed=11",
      "--speed=3",
      ...topicFlags,
      `--labels-topic=${labels}`,
    ]);
    const simErr = collect(sim.stderr);
    const simOut = collect(sim.stdout);

    // The stuck fault shows while the run goes on; then a monitor joins from now, mid-fault.
    const active = (snapshot: Snapshot | undefined) => (snapshot?.activeFaults ?? []).map((fault) => fault.faultId);
    await waitFor(() => active(snapshots(jsonOut.current).at(-1)).includes("F1/0/0#1"), 20_000);
    const late = spawnCli(["monitor", "--json", ...monitorFlags]);
    const lateOut = collect(late.stdout);
    const lateErr = collect(late.stderr);
    await waitFor(() => lateErr.current.includes("consuming"), 15_000);

    await simOut.done;
    const { code: simCode } = await sim.status;
    assert.equal(simCode, 0, await simErr.done);
    const landed = await consumeAll(labels);
    // Every label reached the monitors: then none is active.
    const settled = (text: string) => {
      const last = snapshots(text).at(-1);
      return last?.topics[labels]?.received === landed.length && last.activeFaults.length === 0;
    };
    const tables = (text: string) => text.split(/^(?=factory-sim monitor {2})/m).filter((table) => table !== "");
    await waitFor(() => settled(jsonOut.current) && !tables(tableOut.current).at(-2)?.includes("ACTIVE FAULT"), 10_000);
    assert.equal(await stop(json, jsonErr), 0, jsonErr.current);
    assert.equal(await stop(table, tableErr), 0, tableErr.current);
    assert.equal(await stop(late, lateErr), 0, lateErr.current);

    // What kcat read: each fault's start and end.
    const events = landed.map((record) => `${record.value.faultId} ${record.value.event}`).sort();
    assert.deepEqual(events, [
      "F1/0/0#1 end",
      "F1/0/0#1 start",
      "F1/0/1#1 end",
      "F1/0/1#1 start",
      "F1/1/0#1 end",
      "F1/1/0#1 start",
    ]);

    // JSON lines: each fault active for a while, with its line; the spike and the offline ended
    // while the stuck fault went on.
    const all = snapshots(await jsonOut.done);
    const seen = new Map<string, unknown>();
    for (const snapshot of all) for (const fault of snapshot.activeFaults) seen.set(fault.faultId, fault);
    assert.deepEqual(seen.get("F1/1/0#1"), {
      faultId: "F1/1/0#1",
      fault: "offline",
      factoryId: "F1",
      sensorId: "S1-2",
      sodaName: "Lemon",
      since: landed.find((r) => r.value.faultId === "F1/1/0#1" && r.value.event === "start")!.value.timestamp,
    });
    assert.deepEqual([...seen.keys()].sort(), ["F1/0/0#1", "F1/0/1#1", "F1/1/0#1"]);
    assert.ok(
      all.some((snapshot) => active(snapshot).join() === "F1/0/0#1"),
      "a snapshot with the stuck fault alone (after the spike and the offline ended)",
    );
    const last = all.at(-1)!;
    assert.deepEqual(last.activeFaults, []);
    assert.deepEqual(last.topics[labels], { received: 6, rate: last.topics[labels].rate, invalid: 0 });

    // The table: the FAULTS column, the marked line and the list, while the stuck fault was active.
    const text = await tableOut.done;
    assert.match(text, /^S1-1 +\S+ +\w+ +[\d.]+ s +[\d.]+% +\d+ stuck(,spike)?$/m);
    assert.match(text, /^! F1 S1-1 Cola +\d+\/20 /m);
    assert.match(text, /^ACTIVE FAULT LINE +SINCE +ID$/m);
    assert.match(text, /^stuck +F1 S1-1 Cola +\d\d:\d\d:\d\dZ F1\/0\/0#1$/m);
    assert.match(text, /^offline +F1 S1-2 Lemon +\d\d:\d\d:\d\dZ F1\/1\/0#1$/m);
    // Its last table: no fault left.
    const lastTable = tables(text).at(-1)!;
    assert.ok(!lastTable.includes("ACTIVE FAULT"), lastTable);
    assert.ok(!/^! /m.test(lastTable), lastTable);

    // Joined mid-fault: the stuck fault's end (and any later label) is no error, and nothing is active.
    const lateLast = snapshots(await lateOut.done).at(-1)!;
    assert.ok(lateLast.topics[labels].received >= 1, JSON.stringify(lateLast.topics));
    assert.equal(lateLast.topics[labels].invalid, 0);
    assert.deepEqual(lateLast.activeFaults, []);
    assert.ok(!/error|warning/.test(lateErr.current), lateErr.current);
  } finally {
    await config.remove();
  }
});
