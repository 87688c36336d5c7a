/**
 * Fault tests against real brokers: a broker stopped mid-run, a stop signal while it is down.
 * Each checks completeness from the consumer side (kcat): every (factoryId, sodaName, count)
 * exactly once, each line in order, heartbeats without gaps (they are spooled like readings).
 * The figures each test produced are printed on the test's output.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import {
  assertComplete,
  assertHeartbeatsComplete,
  configuredLines,
  finishRun,
  producedPrefixes,
  reportTally,
  startRun,
  tallyReadings,
  withScratchBroker,
} from "./_scratch_broker.ts";
import { consumeAll, spawnCli, uniqueTopic, waitFor } from "./_kafka.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test({
  name: "a broker stopped for 10 s mid-run and started again: no reading lost or duplicated",
  fn: () =>
    withScratchBroker(async (broker, spoolDir) => {
      const run = await startRun(broker.brokers, { name: "outage", args: ["--seed=21", "--speed=2"], spoolDir });
      const { readingsTopic, heartbeatTopic } = run;
      await sleep(3_000);
      await broker.stop();
      await sleep(10_000);
      await broker.start();
      const { code, log } = await finishRun(run);
      assert.equal(code, ExitCode.ok, log);
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
      assertComplete(tally);
      assert.equal(readings.length + heartbeats.length, Number(summary[1]), "every record delivered once");
      assertHeartbeatsComplete(heartbeats);
    }),
});

Deno.test({
  name: "SIGTERM while the broker is down keeps everything in the spool; the next run sends it first",
  fn: () =>
    withScratchBroker(async (broker, spoolDir) => {
      const run = await startRun(broker.brokers, { name: "sigterm", args: ["--seed=22", "--speed=2"], spoolDir });
      const { readingsTopic, heartbeatTopic } = run;
      await sleep(3_000);
      await broker.stop();
      await waitFor(() => run.stderr.current.includes("spooling records to"), 10_000);
      await sleep(2_000);
      const signalledAt = performance.now();
      run.child.kill("SIGTERM");
      const { code, log } = await finishRun(run);
      const stopSeconds = (performance.now() - signalledAt) / 1000;
      assert.equal(code, ExitCode.sigterm, log);
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
      const replayed = /(\d+) replayed from the spool(?:, \d+ found already in Kafka and not sent again)?\)$/m.exec(
        nextLog,
      );
      // Less those of the request in doubt that Kafka had written without acknowledging them.
      const already = Number(/^info: (\d+) records in doubt were already in Kafka/m.exec(nextLog)?.[1] ?? 0);
      assert.ok(replayed && Number(replayed[1]) + already >= Number(kept[1]), "the kept records were replayed");

      const readings = await consumeAll(readingsTopic, broker.brokers);
      const heartbeats = await consumeAll(heartbeatTopic, broker.brokers);
      // The stopped run's lines did not finish: each must hold counts 1..n for the n it reached.
      const tally = tallyReadings(readings, producedPrefixes(readings));
      reportTally("SIGTERM while the broker was down, then a new run", tally);
      assert.equal(tally.sent, Number(produced[1]), "as many readings as the stopped run produced");
      assertComplete(tally);
      assert.equal(heartbeats.length, Number(produced[2]), "every heartbeat of the stopped run");
      assertHeartbeatsComplete(heartbeats);
    }),
});

Deno.test({
  name: "kill -9 while the broker is down loses nothing but the last linger window",
  fn: () =>
    withScratchBroker(async (broker, spoolDir) => {
      const run = await startRun(broker.brokers, { name: "crash", args: ["--seed=24", "--speed=2"], spoolDir });
      await sleep(3_000);
      await broker.stop();
      await waitFor(() => run.stderr.current.includes("spooling records to"), 10_000);
      await sleep(2_000);
      run.child.kill("SIGKILL");
      await finishRun(run);

      await broker.start();
      const next = await spawnCli([
        "--sink=kafka",
        `--brokers=${broker.brokers}`,
        "--factories=1",
        "--speed=100",
        `--readings-topic=${uniqueTopic("crash.next.readings")}`,
        `--heartbeat-topic=${uniqueTopic("crash.next.heartbeats")}`,
      ], { spoolDir }).output();
      const nextLog = new TextDecoder().decode(next.stderr);
      assert.equal(next.code, ExitCode.ok, nextLog);
      assert.match(nextLog, /the spool holds \d+ records from an earlier run: sending them first/);

      // What the killed run produced cannot be known from it; what reached Kafka must have no hole:
      // each line's counts 1..n and each sensor's heartbeats without a gap. Only the tail (the last
      // linger window) may be missing.
      const readings = await consumeAll(run.readingsTopic, broker.brokers);
      const tally = tallyReadings(readings, producedPrefixes(readings));
      reportTally("kill -9 while the broker was down, then a new run (tail excluded)", tally);
      assertComplete(tally);
      assertHeartbeatsComplete(await consumeAll(run.heartbeatTopic, broker.brokers));
    }),
});
