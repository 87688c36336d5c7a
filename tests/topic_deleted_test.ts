/**
 * A topic deleted while a run writes to it, on a broker of the test's own that does not create
 * topics on its own (auto.create.topics.enable=false): the run spools until the spool is full, then
 * waits, its warnings naming the missing topic; a stop signal still ends it at once, keeping what is
 * unsent; once the topic is back, the next run on the same spool delivers all of it.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import { consumeAll, runCli, waitFor } from "./_kafka.ts";
import { finishRun, startRun, withScratchBroker } from "./_scratch_broker.ts";

async function adminOf(brokers: string) {
  const admin = (await loadKafka("admin")).createKafkaAdmin({ clientId: "test-delete", brokers: [brokers] });
  await admin.connect();
  return admin;
}

Deno.test("a topic deleted mid-run: spooled until the spool is full, then waiting, the topic named; a stop still ends it", async () => {
  await withScratchBroker(async (broker, spoolDir) => {
    const run = await startRun(broker.brokers, {
      name: "deleted",
      spoolDir,
      args: [
        "--factories=50",
        "--generate-lines",
        "--continuous",
        "--speed=40",
        "--seed=6",
        "--spool-max-mb=1",
        "--duration=1h",
      ],
    });
    const { readingsTopic, heartbeatTopic } = run;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const admin = await adminOf(broker.brokers);
    try {
      await admin.deleteTopics({ topics: [readingsTopic] });
    } finally {
      await admin.disconnect();
    }
    const deletedMs = Date.now();

    // Spooling, with the reason named; then the spool fills and holds still: the run waits.
    await waitFor(() => run.stderr.current.includes("spooling records to"), 20_000);
    const spooling = run.stderr.current.split("\n").find((line) => line.includes("spooling records to"))!;
    assert.match(
      spooling,
      new RegExp(
        `^warning: Kafka has not acknowledged for 2 s \\(a topic of "${readingsTopic.replaceAll(".", "\\.")}", ` +
          `"${heartbeatTopic.replaceAll(".", "\\.")}" does not exist on the cluster any more ` +
          `\\(UNKNOWN_TOPIC_OR_PARTITION\\): deleted while the run writes\\? factory-sim creates its topics only ` +
          `when a run starts\\): spooling records to ${spoolDir}/spool\\.db until it does$`,
      ),
    );
    const inSpool = () =>
      [...run.stderr.current.matchAll(
        /Kafka has not acknowledged for (\d+) s.*: (\d+) records in the spool; retrying/g,
      )]
        .map((match) => ({ waitedS: Number(match[1]), count: Number(match[2]) }));
    await waitFor(() => inSpool().length >= 2, 60_000);
    const [first, second] = inSpool();
    assert.deepEqual([first.waitedS, second.waitedS], [5, 35]);
    assert.ok(first.count > 1_000, `${first.count} records spooled`);
    assert.equal(second.count, first.count, "the spool is full: the run waits instead of growing it");

    // A stop ends the waiting run promptly, keeping what is unsent.
    const stopMs = Date.now();
    run.child.kill("SIGTERM");
    // A run that does not stop is killed, and fails the exit code check below.
    const killer = setTimeout(() => run.child.kill("SIGKILL"), 15_000);
    const { code, log } = await finishRun(run).finally(() => clearTimeout(killer));
    const stopS = (Date.now() - stopMs) / 1000;
    assert.equal(code, ExitCode.sigterm, log);
    assert.ok(stopS < 10, `stopped in ${stopS} s`);
    const kept = /kept (\d+) unsent records in the spool/.exec(log);
    assert.ok(kept && Number(kept[1]) >= first.count, log);
    const ended = /; (\d+) records delivered to kafka \((\d+) spooled, 0 replayed from the spool\)$/m.exec(log);
    assert.ok(ended, log);
    assert.equal(ended[2], kept[1]);
    assert.ok(!/\n\s+at /.test(log), "no stack trace");
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `[fault] topic deleted: spool full with ${first.count} records ${((stopMs - deletedMs) / 1000).toFixed(0)} s ` +
          `later, stopped in ${stopS.toFixed(1)} s, ${kept[1]} kept\n`,
      ),
    );

    // The topic back: the next run on the same spool sends everything kept first.
    const again = await adminOf(broker.brokers);
    try {
      await again.createTopics({ topics: [{ topic: readingsTopic, numPartitions: 3 }] });
    } finally {
      await again.disconnect();
    }
    const before = (await consumeAll(heartbeatTopic, broker.brokers)).length;
    const next = await runCli([
      "--sink=kafka",
      `--brokers=${broker.brokers}`,
      "--factories=3",
      "--seed=6",
      "--speed=100",
      "--duration=1s",
      `--readings-topic=${readingsTopic}`,
      `--heartbeat-topic=${heartbeatTopic}`,
    ], { spoolDir });
    assert.equal(next.code, ExitCode.ok, next.stderr);
    assert.match(next.stderr, new RegExp(`the spool holds ${kept[1]} records from an earlier run: sending them first`));
    // The request in flight when the topic went away is in doubt: its heartbeats were written (their
    // topic was there), its readings not. Kafka is asked first; what it holds is not sent again.
    const already = Number(/^info: (\d+) records in doubt were already in Kafka/m.exec(next.stderr)?.[1] ?? 0);
    const replayed = /the spool is empty: (\d+) records replayed/.exec(next.stderr);
    assert.ok(replayed && Number(replayed[1]) + already >= Number(kept[1]), next.stderr);
    const readings = await consumeAll(readingsTopic, broker.brokers);
    const heartbeats = await consumeAll(heartbeatTopic, broker.brokers);
    const produced = /(\d+) readings and (\d+) heartbeats/.exec(next.stderr)!;
    // Everything kept arrived, once: the re-created topic holds the kept readings plus the new run's.
    assert.equal(
      readings.length + heartbeats.length - before - Number(produced[1]) - Number(produced[2]),
      Number(kept[1]) - already,
    );
    const ids = heartbeats.map((r) => `${r.key} ${JSON.stringify(r.value)}`);
    assert.equal(ids.length, new Set(ids).size, "no heartbeat twice");
  }, { properties: ["auto.create.topics.enable=false"] });
});
