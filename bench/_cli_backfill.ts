/**
 * What the benchmarks that run the CLI's backfill end to end share (bench/formats.ts,
 * bench/codecs.ts): the plant and window every run simulates, one timed run of the CLI with its
 * CPU, the check that Kafka holds what a run produced, and the per-round ratios to a reference side.
 */
import type { KafkaAdmin } from "../lib/kafka/admin.ts";
import type { CpuShare } from "./_machine.ts";
import { median } from "./_stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The plant and window of every run: 1,000 generated factories, 5 simulated minutes, continuous. */
export interface BackfillPlan {
  factories: number;
  from: string;
  to: string;
  seed: number;
  rounds: number;
}

/**
 * About 3,950 sensors for 5 simulated minutes (about 1.14 million records, several seconds a
 * run). The window ends a minute before the benchmark starts: a backfill's TO is not in the
 * future, and topics' 7-day retention keeps recent records.
 */
export function backfillPlan(quick: boolean): BackfillPlan {
  const toMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
  const minutes = 5;
  return {
    factories: 1_000,
    from: new Date(toMs - minutes * 60_000).toISOString(),
    to: new Date(toMs).toISOString(),
    seed: 13,
    rounds: quick ? 3 : 5,
  };
}

/** What a CLI run needs of its benchmark. */
export interface CliRunContext {
  brokers: string;
  /** A scratch directory the runs may write (spools, summaries, profiles). */
  scratch: string;
  /** The permission flags of `deno task sim` (`--quiet --no-prompt -P=sim`). */
  simFlags: string[];
  /** CPU of the machine and of the broker between two epoch ms (bench/_machine.ts's sampler). */
  cpuBetween: (fromMs: number, toMs: number) => CpuShare;
}

/** One timed run. */
export interface CliRun {
  records: number;
  /** Records on the readings topic. */
  readings: number;
  wallSeconds: number;
  recordsPerSecond: number;
  /** factory-sim's CPU over the run, % of one core; the machine's and the broker's. */
  cpuPercent: number | null;
  machinePercent: number | null;
  brokerPercent: number | null;
  /** What the run logged on stderr (warnings: it runs with -q). */
  log: string[];
}

/**
 * One backfill of `plan` through the CLI into `topics`, with `args` (the side's own flags), timed
 * from spawn to exit; its CPU from the wrapping shell's children's time. `tag` names it in errors.
 */
export async function runCliBackfill(
  ctx: CliRunContext,
  plan: BackfillPlan,
  topics: { readings: string; heartbeats: string },
  { tag, args: sideArgs, profileDir }: { tag: string; args: string[]; profileDir?: string },
): Promise<CliRun> {
  const dir = Deno.makeTempDirSync({ dir: ctx.scratch, prefix: `${tag}-` });
  const summaryPath = `${dir}/summary.json`;
  const args = [
    "run",
    ...ctx.simFlags,
    `--allow-write=${dir}`,
    ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
    `${ROOT}main.ts`,
    "--sink=kafka",
    `--brokers=${ctx.brokers}`,
    `--backfill=${plan.from}..${plan.to}`,
    "--continuous",
    ...sideArgs,
    `--seed=${plan.seed}`,
    `--factories=${plan.factories}`,
    "--generate-lines",
    `--readings-topic=${topics.readings}`,
    `--heartbeat-topic=${topics.heartbeats}`,
    `--spool-dir=${dir}/spool`,
    "-q",
    `--summary-json=${summaryPath}`,
  ];
  const started = performance.now();
  const fromMs = Date.now();
  // Through bash, which reports its children's CPU time (cutime, cstime) once the run has exited.
  const output = await new Deno.Command("bash", {
    args: ["-c", '"$0" "$@"; status=$?; cat /proc/$$/stat >&2; exit $status', Deno.execPath(), ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const wallSeconds = (performance.now() - started) / 1000;
  const { machinePercent, brokerPercent } = ctx.cpuBetween(fromMs, Date.now());
  const stderr = new TextDecoder().decode(output.stderr).trim().split("\n");
  const stat = stderr.pop() ?? "";
  if (!output.success) {
    throw new Error(`the ${tag} run failed (exit ${output.code}): ${stderr.slice(-5).join(" | ")}`);
  }
  const summary = JSON.parse(Deno.readTextFileSync(summaryPath)) as { outcome: string; topics: Record<string, number> };
  if (summary.outcome !== "done") throw new Error(`the ${tag} run ended ${summary.outcome}`);
  const records = Object.values(summary.topics).reduce((sum, n) => sum + n, 0);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[13]) + Number(fields[14])) / 100; // cutime, cstime in USER_HZ
  Deno.removeSync(dir, { recursive: true });
  return {
    records,
    readings: summary.topics[topics.readings] ?? 0,
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
    recordsPerSecond: Math.round(records / wallSeconds),
    cpuPercent: Number.isFinite(cpuSeconds) ? Math.round((cpuSeconds / wallSeconds) * 100) : null,
    machinePercent,
    brokerPercent,
    log: stderr.filter((line) => line.trim() !== ""),
  };
}

/** The topics' end offsets add up to what the run says it produced (acks=all: all of it is there). */
export async function checkLanded(
  admin: KafkaAdmin,
  topics: { readings: string; heartbeats: string },
  records: number,
): Promise<void> {
  let landed = 0;
  for (const topic of [topics.readings, topics.heartbeats]) {
    for (const { high, low } of await admin.fetchTopicOffsets(topic)) landed += Number(high) - Number(low);
  }
  if (landed !== records) throw new Error(`${landed} records landed in Kafka, the run produced ${records}`);
}

/**
 * Per side: median records/s over the rounds, and the median of each round's ratio to the
 * `reference` side's run of that round.
 */
export function ratiosTo<K extends string, R extends { round: number; recordsPerSecond: number }>(
  runs: readonly R[],
  sideOf: (run: R) => K,
  sides: readonly K[],
  reference: K,
): Map<K, { recordsPerSecond: number; ratio: number; perRound: number[] }> {
  const rounds = [...new Set(runs.map((run) => run.round))].sort((a, b) => a - b);
  const of = (side: K, round: number) =>
    runs.find((run) => sideOf(run) === side && run.round === round)?.recordsPerSecond;
  const out = new Map<K, { recordsPerSecond: number; ratio: number; perRound: number[] }>();
  for (const side of sides) {
    const mine = runs.filter((run) => sideOf(run) === side).map((run) => run.recordsPerSecond);
    if (mine.length === 0) continue;
    const perRound = rounds.flatMap((round) => {
      const ours = of(side, round);
      const base = of(reference, round);
      return ours === undefined || base === undefined ? [] : [ours / base];
    });
    out.set(side, { recordsPerSecond: median(mine), ratio: median(perRound), perRound });
  }
  return out;
}

/** A ratio as a percentage. */
export function pct(ratio: number): string {
  return `${Math.round(ratio * 100)}%`;
}

/** An integer with thousands separators. */
export function fmtInt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}
