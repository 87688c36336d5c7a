/**
 * `deno task bench --only codecs`: the `--compression` codecs side by side. Each run is the CLI end
 * to end, as a user runs it (`deno run -P=sim main.ts --sink kafka --backfill FROM..TO
 * --compression C ...`, start-up, loading the codec and exit included), in a process of its own;
 * the five codecs alternate within each round and their order rotates between rounds. Records/s is
 * the records the run's `--summary-json` says it produced over the process's wall time. Bytes on
 * the wire are the record batches as the broker stored them: the size of the topics' log segments
 * (Kafka's `LogDirsCommand`, asked once a round), which is what the produce requests carried less
 * their request and partition headers (a few dozen bytes a request); per reading is the readings
 * topic's bytes over its readings, per record both topics' over all records.
 *
 * Its pure pieces (`parseLogDirs`, `ratiosToNone`) are tested in tests/bench_codecs_test.ts;
 * `codecsBenchmark` is called by bench/main.ts.
 */
import { createTopicsWithLeaders } from "./_topics.ts";
import {
  type BackfillPlan,
  backfillPlan,
  checkLanded,
  type CliRunContext,
  fmtInt,
  pct,
  ratiosTo,
  runCliBackfill,
} from "./_cli_backfill.ts";
import type { KafkaAdmin } from "../lib/kafka/admin.ts";
import { type Compression, COMPRESSIONS } from "../lib/kafka/settings.ts";
import { roundOrder } from "./formats.ts";
import { median, round1 } from "./_stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** What bench/main.ts hands the benchmark. */
export interface CodecsContext extends CliRunContext {
  quick: boolean;
  admin: KafkaAdmin;
  /** Topics of this benchmark start with it. */
  topicPrefix: string;
  progress: (line: string) => void;
  /** Where the raw figures go (the `--json` output). */
  results: Record<string, unknown>;
}

/** One run of one codec in one round. */
export interface CodecRun {
  codec: Compression;
  round: number;
  readings: number;
  records: number;
  wallSeconds: number;
  recordsPerSecond: number;
  /** The log bytes of the readings topic and of both topics. */
  readingsBytes: number;
  bytes: number;
  /** factory-sim's CPU over the run, % of one core; the machine's and the broker's. */
  cpuPercent: number | null;
  machinePercent: number | null;
  brokerPercent: number | null;
}

// --- Pure pieces -------------------------------------------------------------------------------

/** Bytes per topic in the JSON `LogDirsCommand --describe` prints (every partition of every log dir). */
export function parseLogDirs(output: string): Map<string, number> {
  const line = output.split("\n").find((text) => text.startsWith("{"));
  if (line === undefined) throw new Error(`no JSON in LogDirsCommand's output: ${output.slice(0, 200)}`);
  const json = JSON.parse(line) as {
    brokers: { logDirs: { error: string | null; partitions: { partition: string; size: number }[] }[] }[];
  };
  const sizes = new Map<string, number>();
  for (const dir of json.brokers.flatMap((broker) => broker.logDirs)) {
    if (dir.error) throw new Error(`a log dir answered with ${dir.error}`);
    for (const { partition, size } of dir.partitions) {
      const topic = partition.replace(/-\d+$/, "");
      sizes.set(topic, (sizes.get(topic) ?? 0) + size);
    }
  }
  return sizes;
}

/** Per codec: median records/s, and the median of each round's ratio to that round's uncompressed run. */
export function ratiosToNone(runs: readonly CodecRun[]) {
  return ratiosTo(runs, (run) => run.codec, COMPRESSIONS, "none");
}

// --- The benchmark -----------------------------------------------------------------------------

/** The plant and window every run simulates: the same records with every codec (as bench/formats.ts). */
const plan = backfillPlan;

type Topics = { readings: string; heartbeats: string };

/** Runs the codecs benchmark and returns its section of the report. */
export async function codecsBenchmark(ctx: CodecsContext): Promise<string> {
  const { progress } = ctx;
  const p = plan(ctx.quick);
  progress(
    `codecs: ${p.rounds} rounds of ${
      COMPRESSIONS.join(", ")
    }; ${p.factories} factories, --backfill ${p.from}..${p.to} ` +
      `--continuous --seed ${p.seed}`,
  );
  const classpath = await javaToolsClasspath();
  const runs: CodecRun[] = [];
  try {
    progress("codecs: one small run of each codec to warm the module cache (not counted)");
    for (const codec of COMPRESSIONS) {
      const topics = topicsOf(ctx, `warm.${codec}`);
      await createTopics(ctx.admin, topics);
      await runCli(ctx, { ...p, factories: 10 }, codec, topics);
      await ctx.admin.deleteTopics({ topics: [topics.readings, topics.heartbeats] }).catch(() => {});
    }
    for (let round = 1; round <= p.rounds; round++) {
      const made: { codec: Compression; topics: Topics; run: Omit<CodecRun, "readingsBytes" | "bytes"> }[] = [];
      for (const codec of roundOrder(COMPRESSIONS, round)) {
        const topics = topicsOf(ctx, `r${round}.${codec}`);
        await createTopics(ctx.admin, topics);
        const run = { ...await runCli(ctx, p, codec, topics), round };
        await checkLanded(ctx.admin, topics, run.records);
        made.push({ codec, topics, run });
        progress(
          `  round ${round}, ${codec}: ${fmtInt(run.records)} records in ${run.wallSeconds} s, ` +
            `${fmtInt(run.recordsPerSecond)} records/s, CPU ${run.cpuPercent ?? "?"}%, broker ` +
            `${run.brokerPercent ?? "?"}%`,
        );
      }
      const names = made.flatMap(({ topics }) => [topics.readings, topics.heartbeats]);
      const sizes = await logBytes(classpath, ctx.brokers, names);
      for (const { codec, topics, run } of made) {
        const readingsBytes = sizes.get(topics.readings);
        const heartbeatsBytes = sizes.get(topics.heartbeats);
        if (readingsBytes === undefined || heartbeatsBytes === undefined) {
          throw new Error(`the broker reported no log for the ${codec} run's topics`);
        }
        runs.push({ ...run, readingsBytes, bytes: readingsBytes + heartbeatsBytes });
        progress(
          `  round ${round}, ${codec}: ${round1(readingsBytes / run.readings)} bytes a reading, ` +
            `${round1((readingsBytes + heartbeatsBytes) / run.records)} a record in the broker's log`,
        );
      }
      const counts = new Set(runs.map((run) => run.records));
      if (counts.size !== 1) throw new Error(`the runs produced different record counts: ${[...counts].join(", ")}`);
      await ctx.admin.deleteTopics({ topics: names }).catch(() => {});
    }
    const ratios = ratiosToNone(runs);
    ctx.results.codecs = { plan: p, runs, ratios: Object.fromEntries(ratios) };
    return report(p, runs, ratios);
  } finally {
    const prefix = `${ctx.topicPrefix}.codecs.`;
    const left = (await ctx.admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (left.length > 0) await ctx.admin.deleteTopics({ topics: left }).catch(() => {});
  }
}

function topicsOf(ctx: CodecsContext, tag: string): Topics {
  const base = `${ctx.topicPrefix}.codecs.${tag}`;
  return { readings: `${base}.readings`, heartbeats: `${base}.heartbeats` };
}

/** Creates both topics as the CLI would (3 partitions), so topic creation is not part of a run's time. */
function createTopics(admin: KafkaAdmin, topics: Topics): Promise<void> {
  return createTopicsWithLeaders(admin, [topics.readings, topics.heartbeats]);
}

/** One run of the CLI with `codec`. */
async function runCli(
  ctx: CodecsContext,
  p: BackfillPlan,
  codec: Compression,
  topics: Topics,
): Promise<Omit<CodecRun, "round" | "readingsBytes" | "bytes">> {
  const { log: _log, ...run } = await runCliBackfill(ctx, p, topics, {
    tag: `codecs-${codec}`,
    args: [`--compression=${codec}`],
  });
  return { codec, ...run };
}

async function javaToolsClasspath(): Promise<string> {
  const output = await new Deno.Command("bash", { args: [`${ROOT}bench/java_tools.sh`], stderr: "inherit" }).output();
  if (!output.success) throw new Error("bench/java_tools.sh could not resolve Kafka's tools");
  return new TextDecoder().decode(output.stdout).trim();
}

/** The bytes of each topic's log, as the broker reports them (`LogDirsCommand --describe`). */
async function logBytes(classpath: string, brokers: string, topics: string[]): Promise<Map<string, number>> {
  const output = await new Deno.Command("java", {
    args: [
      "-cp",
      classpath,
      "org.apache.kafka.tools.LogDirsCommand",
      "--bootstrap-server",
      brokers,
      "--describe",
      "--topic-list",
      topics.join(","),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(`LogDirsCommand failed: ${new TextDecoder().decode(output.stderr).slice(-400)}`);
  return parseLogDirs(new TextDecoder().decode(output.stdout));
}

// --- The report --------------------------------------------------------------------------------

function report(p: BackfillPlan, runs: CodecRun[], ratios: ReturnType<typeof ratiosToNone>): string {
  const first = (codec: Compression) => runs.find((run) => run.codec === codec)!;
  const none = first("none");
  const perReading = (run: CodecRun) => run.readingsBytes / run.readings;
  const perRecord = (run: CodecRun) => run.bytes / run.records;
  const cpu = (codec: Compression, key: "cpuPercent" | "brokerPercent") => {
    const values = runs.filter((run) => run.codec === codec && run[key] !== null).map((run) => run[key]!);
    return values.length ? `${Math.round(median(values))}%` : "n/a";
  };
  const rows = COMPRESSIONS.map((codec) => {
    const ratio = ratios.get(codec)!;
    const run = first(codec);
    const wall = round1(median(runs.filter((r) => r.codec === codec).map((r) => r.wallSeconds)));
    return `| ${codec} | ${fmtInt(ratio.recordsPerSecond)} | **${ratio.ratio.toFixed(2)}x** | ` +
      `${ratio.perRound.map((x) => x.toFixed(2)).join(", ")} | ${wall} s | ${cpu(codec, "cpuPercent")} | ` +
      `${cpu(codec, "brokerPercent")} | ${round1(perReading(run))} | **${
        pct(perReading(run) / perReading(none))
      }** | ` +
      `${round1(perRecord(run))} | ${pct(perRecord(run) / perRecord(none))} |`;
  });
  return [
    "## 7. Codecs",
    "",
    `The CLI end to end, as a user runs it: \`deno run -P=sim main.ts --sink kafka --backfill ${p.from}..${p.to} ` +
    `--continuous --compression C --seed ${p.seed} --factories ${fmtInt(p.factories)} --generate-lines -q ` +
    `--summary-json FILE\` (start-up, loading the codec and exit included; topics created beforehand with 3 ` +
    `partitions), ${fmtInt(none.records)} records a run (${fmtInt(none.readings)} readings, JSON values). ` +
    `${p.rounds} rounds, the five codecs alternating, the order rotated each round; medians. "vs none": the ` +
    `median of each round's ratio to that round's uncompressed run. Bytes on the wire: the record batches as the ` +
    `broker's log holds them (LogDirsCommand's partition sizes; the produce requests carried these plus a few ` +
    `dozen bytes of request headers each), per reading from the readings topic, per record from both topics, ` +
    `of each codec's first run. CPU in % of one core over the run.`,
    "",
    "| codec | records/s | vs none | per round | wall | CPU factory-sim | CPU broker | bytes/reading | vs none | bytes/record | vs none |",
    "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
  ].join("\n");
}
