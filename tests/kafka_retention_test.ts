/**
 * Backfilled history and Kafka's retention, against the real broker: topics a backfill creates keep
 * the span (retention.ms read back with the admin client), and a backfill into an existing topic
 * that would delete it warns, naming the topic, its retention.ms and the oldest timestamp.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import type { KafkaAdmin } from "../lib/kafka/admin.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import { backfillRetentionMs } from "../lib/kafka/settings.ts";
import { BROKERS, consumeAll, ensureBroker, runCli, uniqueTopics } from "./_kafka.ts";

const DAY_MS = 86_400_000;
const TOPIC = 2; // ConfigResourceTypes.TOPIC

async function withAdmin<T>(body: (admin: KafkaAdmin) => Promise<T>): Promise<T> {
  const admin = (await loadKafka("admin")).createKafkaAdmin({ clientId: "test-retention", brokers: [BROKERS] });
  await admin.connect();
  try {
    return await body(admin);
  } finally {
    await admin.disconnect();
  }
}

async function retentionMs(topics: string[]): Promise<Record<string, number>> {
  const { resources } = await withAdmin((admin) =>
    admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: TOPIC, name, configNames: ["retention.ms"] })),
    })
  );
  return Object.fromEntries(
    resources.map((
      r,
    ) => [r.resourceName, Number(r.configEntries.find((e) => e.configName === "retention.ms")?.configValue)]),
  );
}

Deno.test("the retention of a backfill's topics: the oldest record's age plus 7 days, in whole days", () => {
  const nowMs = Date.parse("2026-11-30T12:00:00Z");
  assert.equal(backfillRetentionMs({ oldestMs: nowMs - 10 * DAY_MS, nowMs }), 17 * DAY_MS);
  assert.equal(backfillRetentionMs({ oldestMs: nowMs - 10 * DAY_MS - 1, nowMs }), 18 * DAY_MS);
  assert.equal(backfillRetentionMs({ oldestMs: nowMs - 3_600_000, nowMs }), 8 * DAY_MS);
  assert.equal(backfillRetentionMs({ oldestMs: nowMs, nowMs }), 7 * DAY_MS);
});

Deno.test("a backfill 10d..9d creates topics that keep it; a later backfill further back warns about them", async () => {
  await ensureBroker();
  const { readings, heartbeats, flags } = uniqueTopics("retention");
  const startMs = Date.now();
  const first = await runCli(["--sink=kafka", `--brokers=${BROKERS}`, "--seed=2", "--backfill=10d..9d", ...flags]);
  assert.equal(first.code, ExitCode.ok, first.stderr);
  const endMs = Date.now();
  const kept = await retentionMs([readings, heartbeats]);
  // The oldest record is 10 days before the run started: kept 10 + 7 days, rounded up to a day.
  for (const topic of [readings, heartbeats]) {
    assert.ok(
      [
        backfillRetentionMs({ oldestMs: startMs - 10 * DAY_MS, nowMs: startMs }),
        backfillRetentionMs({
          oldestMs: startMs - 10 * DAY_MS,
          nowMs: endMs,
        }),
      ].includes(kept[topic]),
      `${topic}: retention.ms ${kept[topic]}`,
    );
    assert.ok(kept[topic] > 17 * DAY_MS - 1, `${topic} keeps more than Kafka's default 7 days`);
  }
  assert.match(
    first.stderr,
    /^info: created topics .*, retention\.ms \d+ \(18 d: the backfill's oldest record, .*, plus 7 d\)\)$/m,
  );
  const produced = /(\d+) readings and (\d+) heartbeats/.exec(first.stderr)!;
  assert.equal((await consumeAll(readings)).length, Number(produced[1]));
  assert.ok(!/^warning/m.test(first.stderr), first.stderr);

  // A backfill 30 days back into the same topics: their 18 days would delete most of it.
  const second = await runCli(["--sink=kafka", `--brokers=${BROKERS}`, "--seed=2", "--backfill=30d..719h", ...flags]);
  assert.equal(second.code, ExitCode.ok, second.stderr);
  for (const topic of [readings, heartbeats]) {
    const line = second.stderr.split("\n").find((l) => l.startsWith(`warning: topic "${topic}" keeps records`));
    assert.ok(line, second.stderr);
    assert.match(
      line,
      new RegExp(
        `retention\\.ms=${
          kept[topic]
        } \\(18 d\\), less than the age of this backfill's oldest record, \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z`,
      ),
    );
    const oldest = Date.parse(/oldest record, (\S+Z)/.exec(line)![1]);
    assert.ok(Math.abs(oldest - (startMs - 30 * DAY_MS)) < 5 * 60_000, line);
    assert.match(line, /raise the topic's retention\.ms to at least \d+ to keep it$/);
  }
});

Deno.test("a backfill into an existing topic with a 1 h retention warns about that topic only", async () => {
  await ensureBroker();
  const { readings, heartbeats, flags } = uniqueTopics("short-retention");
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [
        { topic: readings, numPartitions: 1, configEntries: [{ name: "retention.ms", value: "3600000" }] },
        { topic: heartbeats, numPartitions: 1 },
      ],
    })
  );
  const { code, stderr } = await runCli([
    "--sink=kafka",
    `--brokers=${BROKERS}`,
    "--seed=4",
    "--backfill=2h..1h",
    ...flags,
  ]);
  assert.equal(code, ExitCode.ok, stderr);
  const warnings = stderr.split("\n").filter((line) => line.startsWith("warning:"));
  assert.equal(warnings.length, 1, stderr);
  assert.match(
    warnings[0],
    new RegExp(
      `^warning: topic "${readings}" keeps records for retention\\.ms=3600000 \\(1 h\\), less than the age of this backfill's oldest record`,
    ),
  );
  // Nothing created, nothing changed: the existing topics keep their own settings.
  assert.deepEqual(await retentionMs([readings, heartbeats]), { [readings]: 3_600_000, [heartbeats]: 7 * DAY_MS });
});
