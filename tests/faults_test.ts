/**
 * Fault tests against real brokers: a broker stopped mid-run, a stop signal while it is down.
 * Each checks completeness from the consumer side (kcat): every (factoryId, sodaName, count)
 * exactly once, each line in order, heartbeats without gaps (they are spooled like readings).
 * The figures each test produced are printed on the test's output.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import {
  configuredLines,
  heartbeatGaps,
  producedPrefixes,
  reportTally,
  ScratchBroker,
  tallyReadings,
} from "./_faults.ts";
import { collect, consumeAll, spawnCli, uniqueTopic, waitFor } from "./_kafka.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Heartbeats come every 1-2 s of simulated time; a longer gap means some were lost. */
const MAX_HEARTBEAT_GAP_MS = 2_000;

Deno.test({
  name: "a broker stopped for 10 s mid-run and started again: no reading lost or duplicated",
  sanitizeResources: false,
  async fn() {
    const broker = new ScratchBroker();
    await broker.start();
    const spoolDir = Deno.makeTempDirSync({ prefix: "factory-sim-spool-" });
    try {
      const readingsTopic = uniqueTopic("outage.readings");
      const heartbeatTopic = uniqueTopic("outage.heartbeats");
      const child = spawnCli([
        "--sink=kafka",
        `--brokers=${broker.brokers}`,
        "--seed=21",
        "--speed=2",
        `--readings-topic=${readingsTopic}`,
        `--heartbeat-topic=${heartbeatTopic}`,
      ], { spoolDir });
      const stderr = collect(child.stderr);
      const stdout = collect(child.stdout);
      await waitFor(() => stderr.current.includes("connected to Kafka"), 20_000);
      await sleep(3_000);
      await broker.stop();
      await sleep(10_000);
      await broker.start();
      const status = await child.status;
      const log = await stderr.done;
      await stdout.done;
      assert.equal(status.code, ExitCode.ok, log);
      assert.match(log, /spooling records to .*spool\.db until it does/);
      assert.match(log, /Kafka acknowledges again after \d+ s: replaying \d+ spooled records/);
      const summary = /; (\d+) records delivered to kafka \((\d+) spooled, (\d+) replayed from the spool\)$/m
        .exec(log);
      assert.ok(summary, log);
      assert.ok(Number(summary[2]) > 0 && summary[2] === summary[3], "what was spooled was replayed");

      const readings = await consumeAll(readingsTopic, broker.brokers);
      const heartbeats = await consumeAll(heartbeatTopic, broker.brokers);
      const tally = tallyReadings(readings, configuredLines());
      reportTally("broker stopped 10 s", tally);
      assert.deepEqual({ ...tally, sent: 0, received: 0 }, {
        sent: 0,
        received: 0,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
      });
      assert.equal(readings.length + heartbeats.length, Number(summary[1]), "every record delivered once");
      const gaps = heartbeatGaps(heartbeats);
      assert.ok(gaps.inOrder, "each sensor's heartbeats in order");
      assert.ok(gaps.maxGapMs <= MAX_HEARTBEAT_GAP_MS, `longest heartbeat gap ${gaps.maxGapMs} ms: ${gaps.where}`);
    } finally {
      await broker.dispose();
      Deno.removeSync(spoolDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "SIGTERM while the broker is down keeps everything in the spool; the next run sends it first",
  sanitizeResources: false,
  async fn() {
    const broker = new ScratchBroker();
    await broker.start();
    const spoolDir = Deno.makeTempDirSync({ prefix: "factory-sim-spool-" });
    try {
      const readingsTopic = uniqueTopic("sigterm.readings");
      const heartbeatTopic = uniqueTopic("sigterm.heartbeats");
      const child = spawnCli([
        "--sink=kafka",
        `--brokers=${broker.brokers}`,
        "--seed=22",
        "--speed=2",
        `--readings-topic=${readingsTopic}`,
        `--heartbeat-topic=${heartbeatTopic}`,
      ], { spoolDir });
      const stderr = collect(child.stderr);
      const stdout = collect(child.stdout);
      await waitFor(() => stderr.current.includes("connected to Kafka"), 20_000);
      await sleep(3_000);
      await broker.stop();
      await waitFor(() => stderr.current.includes("spooling records to"), 10_000);
      await sleep(2_000);
      const signalledAt = performance.now();
      child.kill("SIGTERM");
      const status = await child.status;
      const stopSeconds = (performance.now() - signalledAt) / 1000;
      const log = await stderr.done;
      await stdout.done;
      assert.equal(status.code, ExitCode.sigterm, log);
      assert.ok(stopSeconds < 5, `stopped in ${stopSeconds} s`);
      const kept = /kept (\d+) unsent records in the spool/.exec(log);
      assert.ok(kept && Number(kept[1]) > 0, log);
      const produced = /^info: stopped: (\d+) readings and (\d+) heartbeats/m.exec(log);
      assert.ok(produced, log);

      await broker.start();
      const next = spawnCli([
        "--sink=kafka",
        `--brokers=${broker.brokers}`,
        "--factories=1",
        "--speed=100",
        `--readings-topic=${uniqueTopic("sigterm.next.readings")}`,
        `--heartbeat-topic=${uniqueTopic("sigterm.next.heartbeats")}`,
      ], { spoolDir });
      const nextOutput = await next.output();
      const nextLog = new TextDecoder().decode(nextOutput.stderr);
      assert.equal(nextOutput.code, ExitCode.ok, nextLog);
      assert.match(nextLog, new RegExp(`the spool holds ${kept[1]} records from an earlier run: sending them first`));
      const replayed = /(\d+) replayed from the spool\)$/m.exec(nextLog);
      assert.ok(replayed && Number(replayed[1]) >= Number(kept[1]), "the kept records were replayed");

      const readings = await consumeAll(readingsTopic, broker.brokers);
      const heartbeats = await consumeAll(heartbeatTopic, broker.brokers);
      // The stopped run's lines did not finish: each must hold counts 1..n for the n it reached.
      const tally = tallyReadings(readings, producedPrefixes(readings));
      reportTally("SIGTERM while the broker was down, then a new run", tally);
      assert.equal(tally.sent, Number(produced[1]), "as many readings as the stopped run produced");
      assert.deepEqual({ ...tally, sent: 0, received: 0 }, {
        sent: 0,
        received: 0,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
      });
      assert.equal(heartbeats.length, Number(produced[2]), "every heartbeat of the stopped run");
      const gaps = heartbeatGaps(heartbeats);
      assert.ok(
        gaps.inOrder && gaps.maxGapMs <= MAX_HEARTBEAT_GAP_MS,
        `longest heartbeat gap ${gaps.maxGapMs} ms: ${gaps.where}`,
      );
    } finally {
      await broker.dispose();
      Deno.removeSync(spoolDir, { recursive: true });
    }
  },
});
