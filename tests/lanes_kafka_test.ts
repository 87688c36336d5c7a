/**
 * Several producers (`--producers 3`) against a broker of the test's own, read back with kcat: a
 * broker stopped mid-run, and kill -9 while it is down followed by a run with another
 * `--producers`. Every reading exactly once and in order, heartbeats without gaps, as with one
 * producer (broker_outage_test.ts). Each prints its figures.
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

/** The lanes' spool files in `dir`. */
const laneFiles = (dir: string) =>
  [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".db")).sort();

/** Records each partition of `topic` got, as kcat read them. */
function partitionsUsed(records: { partition: number }[]): number {
  return new Set(records.map((record) => record.partition)).size;
}

Deno.test({
  name: "3 producers, a broker stopped for 10 s mid-run: every lane spools and replays, nothing lost or duplicated",
  fn: () =>
    withScratchBroker(async (broker, spoolDir) => {
      const run = await startRun(broker.brokers, {
        name: "lanes-outage",
        args: ["--seed=31", "--speed=2", "--producers=3"],
        spoolDir,
      });
      assert.match(run.stderr.current, /connected to Kafka at .* \(3 producers\)/);
      await sleep(3_000);
      await broker.stop();
      await sleep(10_000);
      await broker.start();
      const { code, log } = await finishRun(run);
      assert.equal(code, ExitCode.ok, log);
      assert.deepEqual(laneFiles(spoolDir), ["spool-1of3.db", "spool-2of3.db", "spool-3of3.db"]);
      assert.match(log, /spooling records to .*spool-\dof3\.db until it does/);
      const summary = /; (\d+) records delivered to kafka \((\d+) spooled, (\d+) replayed from the spool\)$/m
        .exec(log);
      assert.ok(summary, log);
      assert.ok(Number(summary[2]) > 0 && summary[2] === summary[3], "what was spooled was replayed");

      const readings = await consumeAll(run.readingsTopic, broker.brokers);
      const heartbeats = await consumeAll(run.heartbeatTopic, broker.brokers);
      assert.equal(partitionsUsed(readings), 3, "the readings reached all 3 partitions");
      const tally = tallyReadings(readings, configuredLines());
      reportTally("3 producers, broker stopped 10 s", tally);
      assertComplete(tally);
      assert.equal(readings.length + heartbeats.length, Number(summary[1]), "every record delivered once");
      assertHeartbeatsComplete(heartbeats);
    }),
});

Deno.test({
  name: "3 producers killed (-9) while the broker is down; a run with --producers 1 sends the 3 lanes first",
  fn: () =>
    withScratchBroker(async (broker, spoolDir) => {
      const run = await startRun(broker.brokers, {
        name: "lanes-crash",
        args: ["--seed=32", "--speed=2", "--producers=3"],
        spoolDir,
      });
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
        "--producers=1",
        `--readings-topic=${uniqueTopic("lanes-crash.next.readings")}`,
        `--heartbeat-topic=${uniqueTopic("lanes-crash.next.heartbeats")}`,
      ], { spoolDir }).output();
      const nextLog = new TextDecoder().decode(next.stderr);
      assert.equal(next.code, ExitCode.ok, nextLog);
      assert.match(
        nextLog,
        /holds \d+ records kept by a run with 3 producers: this run uses 3 too \(--producers 1 applies once they are sent\)/,
      );
      assert.match(nextLog, /connected to Kafka at .* \(3 producers\)/);

      // What reached Kafka has no hole and nothing twice: each line's counts 1..n, each sensor's
      // heartbeats without a gap (only the killed run's last linger window may be missing).
      const readings = await consumeAll(run.readingsTopic, broker.brokers);
      const tally = tallyReadings(readings, producedPrefixes(readings));
      reportTally("3 producers killed -9 while the broker was down, then a run with 1 (tail excluded)", tally);
      assertComplete(tally);
      assertHeartbeatsComplete(await consumeAll(run.heartbeatTopic, broker.brokers));

      // The lanes are empty now: the next run uses --producers as asked, and the old files are gone.
      const third = await spawnCli([
        "--sink=kafka",
        `--brokers=${broker.brokers}`,
        "--factories=1",
        "--speed=100",
        "--producers=1",
        `--readings-topic=${uniqueTopic("lanes-crash.third.readings")}`,
        `--heartbeat-topic=${uniqueTopic("lanes-crash.third.heartbeats")}`,
      ], { spoolDir }).output();
      assert.equal(third.code, ExitCode.ok, new TextDecoder().decode(third.stderr));
      assert.deepEqual(laneFiles(spoolDir), ["spool.db"]);
    }),
});
