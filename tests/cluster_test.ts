/**
 * Against a three-broker KRaft cluster on loopback (kafka/cluster.sh: replication factor 3,
 * min.insync.replicas=2): the leader of the readings partition killed mid-run loses and
 * duplicates nothing; a run granted network access to one broker only cannot reach the others.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { CLUSTER_BROKERS, killNode, leaderOf, startCluster, stopCluster } from "./_cluster.ts";
import {
  assertComplete,
  assertHeartbeatsComplete,
  configuredLines,
  finishRun,
  reportTally,
  startRun,
  tallyReadings,
} from "./_scratch_broker.ts";
import { consumeAll, runCli, simTaskFlags, uniqueTopic } from "./_kafka.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test({
  name: "a three-broker cluster",
  async fn(t) {
    await startCluster();
    try {
      await t.step("a run granted only one broker's address cannot open the others", async () => {
        const [first] = CLUSTER_BROKERS.split(",");
        const flags = simTaskFlags().map((flag) => flag === "--allow-net" ? `--allow-net=${first}` : flag);
        const started = performance.now();
        const { code, stderr } = await runCli([
          "--sink=kafka",
          `--brokers=${first}`,
          `--readings-topic=${uniqueTopic("scoped.readings")}`,
          `--heartbeat-topic=${uniqueTopic("scoped.heartbeats")}`,
        ], { flags });
        assert.equal(code, ExitCode.permission, stderr);
        const others = CLUSTER_BROKERS.split(",").slice(1).map((b) => b.replaceAll(".", "\\.")).join("|");
        assert.match(
          stderr,
          new RegExp(
            `^error: missing permission: network access to (${others}) \\(a broker of the cluster\\): grant --allow-net=(${others})$`,
            "m",
          ),
        );
        assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
        assert.ok(performance.now() - started < 10_000, "a refusal, not a hang until the connect timeout");
      });

      await t.step("the readings partition's leader killed mid-run: nothing lost or duplicated", async () => {
        const run = await startRun(CLUSTER_BROKERS, {
          name: "leaderkill",
          args: ["--seed=23", "--speed=2", "--partitions=1", "--replication-factor=3"],
        });
        const { readingsTopic, heartbeatTopic } = run;
        await sleep(3_000);
        const leader = await leaderOf(readingsTopic, 0);
        await killNode(leader);
        const { code, log } = await finishRun(run);
        assert.equal(code, ExitCode.ok, log);
        assert.match(log, /replication factor 3/);

        const readings = await consumeAll(readingsTopic, CLUSTER_BROKERS);
        const heartbeats = await consumeAll(heartbeatTopic, CLUSTER_BROKERS);
        const tally = tallyReadings(readings, configuredLines());
        reportTally(`leader (node ${leader}) of the readings partition killed`, tally);
        assertComplete(tally);
        assert.notEqual(await leaderOf(readingsTopic, 0), leader, "another broker leads now");
        assertHeartbeatsComplete(heartbeats);
      });
    } finally {
      await stopCluster({ wipe: true });
    }
  },
});
