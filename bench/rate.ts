/**
 * `deno task bench --only rate`: does a live `--rate N` run into Kafka achieve N records a second?
 * Each run is the CLI end to end, as a user runs it (`main.ts --sink kafka --rate N --continuous
 * --duration D`), in a process of its own, with a `--duration` that makes it last about a fixed
 * wall time. Two figures per run, each against the target:
 *
 * - the run's own: `--summary-json`'s `rate.achieved` (records produced over the run's wall time,
 *   from the start of the simulation to the end of the final flush);
 * - Kafka's: while the run goes, this benchmark reads the topics' end offsets every 250 ms with the
 *   admin client, an independent observer, and takes their growth per second over the steady
 *   middle of the run: from the time every line has taken its first reading (5 s of simulated time,
 *   the longest interval; at least 1 s) after the first record landed, to 1 s before the last growth.
 *
 * After each run the topics' end offsets must add up to what the run says it produced (acks=all).
 * The cases alternate within each round and their order rotates between rounds; medians are
 * reported. `rateBenchmark` is called by bench/main.ts; `steadyRate` is tested in tests/bench_rate_test.ts.
 */
import { loadConfig } from "../lib/config.ts";
import type { KafkaAdmin } from "../lib/kafka/admin.ts";
import { plantRate } from "../lib/pacing.ts";
import { buildPlant } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import { READING_INTERVAL_MS } from "../lib/simulation.ts";
import { median } from "./_stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SEED = 7;
/** How often Kafka's end offsets are read during a run. */
const POLL_MS = 250;

/** Achieved within this fraction of the target counts as held. */
export const RATE_TOLERANCE = 0.05;

/** What bench/main.ts hands the benchmark. */
export interface RateContext {
  quick: boolean;
  brokers: string;
  admin: KafkaAdmin;
  /** Topics of this benchmark start with it. */
  topicPrefix: string;
  /** A scratch directory the runs may write (spools, summaries). */
  scratch: string;
  /** The permission flags of `deno task sim` (`--quiet --no-prompt -P=sim`). */
  simFlags: string[];
  progress: (line: string) => void;
  /** Where the raw figures go (the `--json` output). */
  results: Record<string, unknown>;
}

/** A plant and a rate to run it at. */
interface RateCase {
  name: string;
  factories: number;
  generateLines: boolean;
  rate: number;
}

/** The sample config's plant at three rates (speeds of about 100 to 2000), and a plant sized for about speed 1. */
const CASES: RateCase[] = [
  { name: "sample", factories: 3, generateLines: false, rate: 1_000 },
  { name: "sample", factories: 3, generateLines: false, rate: 5_000 },
  { name: "sample", factories: 3, generateLines: false, rate: 20_000 },
  { name: "generated", factories: 1_300, generateLines: true, rate: 5_000 },
];

/** One run's figures. */
interface RateRun {
  case: string;
  rate: number;
  round: number;
  speed: number;
  records: number;
  wallSeconds: number;
  /** The run's own: records produced over its wall time. */
  achieved: number;
  /** Kafka's: end offsets' growth per second over the steady middle of the run; null when too short to tell. */
  kafkaRate: number | null;
}

/** Offsets read at a moment: epoch ms and the topics' end offsets added up. */
export interface OffsetSample {
  atMs: number;
  records: number;
}

/**
 * Records a second Kafka took over the steady middle of a run: from `warmUpMs` (at least 1 s) after
 * the first sample with records to 1 s before the last sample that still grew; null when that
 * leaves under 2 s.
 */
export function steadyRate(samples: readonly OffsetSample[], warmUpMs = 1_000): number | null {
  const first = samples.find((sample) => sample.records > 0);
  const final = samples.at(-1);
  if (first === undefined || final === undefined) return null;
  const lastGrowth = samples.findLast((sample) => sample.records < final.records) ?? first;
  const from = samples.find((sample) => sample.atMs >= first.atMs + Math.max(1_000, warmUpMs));
  const to = samples.findLast((sample) => sample.atMs <= lastGrowth.atMs - 1_000);
  if (from === undefined || to === undefined || to.atMs - from.atMs < 2_000) return null;
  return (to.records - from.records) * 1000 / (to.atMs - from.atMs);
}

/** Runs every case `rounds` times, alternating; returns the report's markdown. */
export async function rateBenchmark(ctx: RateContext): Promise<string> {
  const rounds = ctx.quick ? 1 : 3;
  const wallSeconds = ctx.quick ? 12 : 20;
  const runs: RateRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    // Rotate the order, so no case always runs first (or right after the heaviest).
    const order = CASES.map((_, i) => CASES[(i + round - 1) % CASES.length]);
    for (const c of order) {
      const run = await runOnce(ctx, c, round, wallSeconds);
      ctx.progress(
        `rate ${c.name} ${c.rate}/s round ${round}: speed ${run.speed}, ${run.records} records in ${run.wallSeconds} s, ` +
          `achieved ${Math.round(run.achieved)}/s, Kafka ${
            run.kafkaRate === null ? "n/a" : Math.round(run.kafkaRate)
          }/s`,
      );
      runs.push(run);
    }
  }
  ctx.results.rate = { wallSeconds, rounds, tolerance: RATE_TOLERANCE, runs };
  return report(runs, { wallSeconds, rounds });
}

/** The `--duration` that makes a continuous run of `c` last about `wallSeconds` at its rate. */
async function durationFor(c: RateCase, wallSeconds: number): Promise<number> {
  const { factories: config } = await loadConfig(`${ROOT}factory_config.json`);
  const { plant } = buildPlant(config, {
    factoryCount: c.factories,
    rng: new Rng(SEED),
    generate: c.generateLines ? {} : undefined,
  });
  const { perSecond } = plantRate(plant, { continuous: true, limitMs: undefined });
  return Math.round(wallSeconds * c.rate / perSecond * 1000);
}

async function runOnce(ctx: RateContext, c: RateCase, round: number, wallSeconds: number): Promise<RateRun> {
  const dir = Deno.makeTempDirSync({ dir: ctx.scratch, prefix: `rate-${c.name}-${c.rate}-` });
  const summaryPath = `${dir}/summary.json`;
  const base = `${ctx.topicPrefix}.rate.${c.name}.${c.rate}.${round}`;
  const topics = [`${base}.readings`, `${base}.heartbeats`];
  const args = [
    "run",
    ...ctx.simFlags,
    `--allow-write=${dir}`,
    `${ROOT}main.ts`,
    "--sink=kafka",
    `--brokers=${ctx.brokers}`,
    `--rate=${c.rate}`,
    "--continuous",
    `--duration=${await durationFor(c, wallSeconds)}ms`,
    `--seed=${SEED}`,
    `--factories=${c.factories}`,
    ...(c.generateLines ? ["--generate-lines"] : []),
    `--readings-topic=${topics[0]}`,
    `--heartbeat-topic=${topics[1]}`,
    `--spool-dir=${dir}/spool`,
    "-q",
    `--summary-json=${summaryPath}`,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const samples: OffsetSample[] = [];
  let exited = false;
  const status = child.status.finally(() => exited = true);
  while (!exited) {
    const atMs = performance.now();
    const records = await endOffsets(ctx.admin, topics);
    if (records !== undefined) samples.push({ atMs, records });
    await Promise.race([status, new Promise((resolve) => setTimeout(resolve, POLL_MS))]);
  }
  const { success, code } = await status;
  const errors = (await stderr).trim();
  if (!success) {
    throw new Error(`the rate ${c.rate} run failed (exit ${code}): ${errors.split("\n").slice(-5).join(" | ")}`);
  }
  for (const line of errors.split("\n")) if (line.trim()) ctx.progress(`  sim (rate ${c.rate}): ${line}`);
  const summary = JSON.parse(Deno.readTextFileSync(summaryPath)) as {
    outcome: string;
    speed: number;
    wallSeconds: number;
    topics: Record<string, number>;
    rate: { target: number; achieved: number } | null;
  };
  if (summary.outcome !== "done" || summary.rate === null) {
    throw new Error(`the rate ${c.rate} run ended ${summary.outcome}`);
  }
  const records = Object.values(summary.topics).reduce((sum, n) => sum + n, 0);
  const landed = await endOffsets(ctx.admin, topics);
  if (landed !== records) {
    throw new Error(`${landed} records landed in Kafka, the rate ${c.rate} run produced ${records}`);
  }
  Deno.removeSync(dir, { recursive: true });
  return {
    case: c.name,
    rate: c.rate,
    round,
    speed: summary.speed,
    records,
    wallSeconds: summary.wallSeconds,
    achieved: summary.rate.achieved,
    // Every line's first reading comes within the longest interval: the plant is steady from then on.
    kafkaRate: steadyRate(samples, READING_INTERVAL_MS.max / summary.speed),
  };
}

/** The topics' end offsets added up (every partition starts at 0); undefined while a topic does not exist yet. */
async function endOffsets(admin: KafkaAdmin, topics: string[]): Promise<number | undefined> {
  let total = 0;
  for (const topic of topics) {
    try {
      for (const { high } of await admin.fetchTopicOffsets(topic)) total += Number(high);
    } catch {
      return undefined;
    }
  }
  return total;
}

function report(runs: RateRun[], { wallSeconds, rounds }: { wallSeconds: number; rounds: number }): string {
  const lines = [
    "## Rate: `--rate N` live into Kafka",
    "",
    `Each case runs \`main.ts --sink kafka --rate N --continuous --duration D\` (seed ${SEED}, D for about ` +
    `${wallSeconds} s of wall time), ${rounds} ${rounds === 1 ? "round" : "rounds"}, the cases alternating; medians. ` +
    "Achieved: records produced over the run's wall time (`--summary-json`); Kafka: the topics' end offsets' growth " +
    `per second over the steady middle of the run (from the time every line has taken its first reading to 1 s before ` +
    `the end), read every ${POLL_MS} ms by the admin client. Held: both within ` +
    `${RATE_TOLERANCE * 100}% of N.`,
    "",
    "| plant | --rate N | speed | records | achieved | achieved / N | Kafka | Kafka / N | held |",
    "| ----- | -------: | ----: | ------: | -------: | -----------: | ----: | --------: | ---- |",
  ];
  for (const c of CASES) {
    const mine = runs.filter((run) => run.case === c.name && run.rate === c.rate);
    const achieved = median(mine.map((run) => run.achieved));
    const kafkaRates = mine.map((run) => run.kafkaRate).filter((rate): rate is number => rate !== null);
    const kafka = kafkaRates.length > 0 ? median(kafkaRates) : null;
    const ratio = (value: number) => (value / c.rate).toFixed(3);
    const held = Math.abs(achieved / c.rate - 1) <= RATE_TOLERANCE &&
      (kafka === null || Math.abs(kafka / c.rate - 1) <= RATE_TOLERANCE);
    const plant = c.generateLines ? `${c.factories} factories, --generate-lines` : `sample (${c.factories} factories)`;
    lines.push(
      `| ${plant} | ${c.rate} | ${mine[0].speed} | ${Math.round(median(mine.map((run) => run.records)))} | ` +
        `${Math.round(achieved)} | ${ratio(achieved)} | ${kafka === null ? "n/a" : Math.round(kafka)} | ` +
        `${kafka === null ? "n/a" : ratio(kafka)} | ${held ? "yes" : "no"} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
