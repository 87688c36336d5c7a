/**
 * `deno task bench --only workers`: real-time capacity of the CLI as users run it, one thread
 * against `--workers N`, and against another commit (`--baseline PATH`, a checkout). Each run is
 * `deno run <that tree's sim task flags> main.ts --sink kafka --factories 10000 --generate-lines
 * --lines-per-factory L --continuous --metrics-port 0` in that tree, at speed 1, in a process of its
 * own; the plant grows with L (10,000 factories hold about 40,000 sensors, the most one process
 * simulates, so a larger plant is more lines on them). After the run has produced its first records
 * and `warmup` more seconds, `/metrics` is read twice, `seconds` apart: the records produced in
 * between give the rate, and the schedule-lateness histogram's buckets the share of batches
 * dispatched within 50 ms of their due time. A plant is held when at least 99% were (p99 <= 50 ms;
 * the histogram's bucket bound, each batch's most late event) and the rate is at least 95% of the
 * plant's own. Trees alternate within each step, their order rotating; each step runs `rounds`
 * times and its median share decides.
 */
import { plantRate } from "../lib/pacing.ts";
import { loadConfig } from "../lib/config.ts";
import { buildPlant } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import { median } from "./_stats.ts";

const SEED = 7;
const FACTORIES = 10_000;
/** The lateness bound of "held", seconds (a bucket bound of factory_sim_schedule_lateness_seconds). */
const HELD_LATENESS_S = 0.05;

/** A tree the benchmark launches. */
export interface CapacityTree {
  label: string;
  /** The checkout's root, with a trailing slash. */
  root: string;
  /** Flags after the run's own (`--workers 2`). */
  extra: string[];
}

/** What bench/main.ts hands the benchmark. */
export interface WorkersContext {
  quick: boolean;
  brokers: string;
  topicPrefix: string;
  trees: CapacityTree[];
  /** Lines per factory of each step. */
  steps: number[];
  /**
   * `--speed` of every run (1 unless asked): past the largest plant one process simulates (10,000
   * factories of 50 lines), a faster clock is the only way to offer a run more records a second.
   */
  speed: number;
  progress: (line: string) => void;
  results: Record<string, unknown>;
}

/** One run's figures. */
interface RunFigures {
  tree: string;
  linesPerFactory: number;
  /** The plant's own records a second (heartbeats, readings). */
  plantRate: number;
  /** Records produced a second over the window. */
  rate: number;
  /** Share of batches dispatched within 50 ms of their due time over the window. */
  withinShare: number;
  /** Batches over the window. */
  batches: number;
  held: boolean;
}

/** The metrics text's value of `name` with exactly `labels` (`le="0.05"`), summed over its series. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

/** Reads the sim's stderr until its metrics address appears; the rest is drained. */
async function metricsUrl(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the run ended before its metrics address: ${text.slice(-500)}`);
    text += value;
    const match = /metrics on (http:\/\/\S+\/metrics)/.exec(text);
    if (match) {
      (async () => {
        while (!(await reader.read()).done) { /* drained */ }
      })();
      return match[1];
    }
  }
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  return await response.text();
}

/** The Deno flags of `deno task sim` in the checkout at `root` (a trailing slash): the words between `run` and `main.ts`. */
export function simFlagsOf(root: string): string[] {
  const tasks = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks;
  const command: string[] = (typeof tasks.sim === "string" ? tasks.sim : tasks.sim.command).split(/\s+/);
  return command.slice(command.indexOf("run") + 1, command.indexOf("main.ts"));
}

async function runOnce(
  tree: CapacityTree,
  linesPerFactory: number,
  { brokers, topicPrefix, warmupS, seconds, plantRecords, speed }: {
    brokers: string;
    topicPrefix: string;
    warmupS: number;
    seconds: number;
    plantRecords: number;
    speed: number;
  },
): Promise<RunFigures> {
  const id = crypto.randomUUID().slice(0, 8);
  const command = new Deno.Command(Deno.execPath(), {
    cwd: tree.root,
    args: [
      "run",
      ...simFlagsOf(tree.root),
      "main.ts",
      "--sink",
      "kafka",
      "--brokers",
      brokers,
      "--factories",
      String(FACTORIES),
      "--generate-lines",
      "--lines-per-factory",
      String(linesPerFactory),
      "--continuous",
      "--seed",
      String(SEED),
      "--readings-topic",
      `${topicPrefix}.r`,
      "--heartbeat-topic",
      `${topicPrefix}.h`,
      "--spool-dir",
      `factory-sim-spool/bench-${id}`,
      "--metrics-port",
      "0",
      "--quiet",
      ...(speed === 1 ? [] : ["--speed", String(speed)]),
      ...tree.extra,
    ],
    stdout: "null",
    stderr: "piped",
  });
  const child = command.spawn();
  try {
    const url = await metricsUrl(child.stderr);
    const produced = (text: string) => metricValue(text, "factory_sim_records_total", { outcome: "produced" });
    // Running: the first records produced (the plant is built and the producers connected).
    while (produced(await scrape(url)) === 0) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, warmupS * 1000));
    const first = await scrape(url);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const last = await scrape(url);
    const elapsedS = (performance.now() - t0) / 1000;
    const lateness = "factory_sim_schedule_lateness_seconds";
    const within = (text: string) => metricValue(text, `${lateness}_bucket`, { le: String(HELD_LATENESS_S) });
    const count = (text: string) => metricValue(text, `${lateness}_count`);
    const batches = count(last) - count(first);
    const withinShare = batches > 0 ? (within(last) - within(first)) / batches : 0;
    const rate = (produced(last) - produced(first)) / elapsedS;
    return {
      tree: tree.label,
      linesPerFactory,
      plantRate: plantRecords,
      rate,
      withinShare,
      batches,
      held: withinShare >= 0.99 && rate >= 0.95 * plantRecords,
    };
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* ended */ }
    await child.status;
    removeIfPresent(`${tree.root}factory-sim-spool/bench-${id}`);
  }
}

/**
 * Removes a run's spool dir. A run that ended before its sink opened (refused flags, no broker)
 * made none: its own error is the one to see.
 */
function removeIfPresent(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** The plant's own records a second at `linesPerFactory` (heartbeats and readings). */
async function plantRecordsAt(root: string, linesPerFactory: number): Promise<number> {
  const loaded = await loadConfig(`${root}factory_config.json`);
  const { plant } = buildPlant(loaded.factories, {
    factoryCount: FACTORIES,
    rng: new Rng(SEED),
    generate: { linesPerFactory },
  });
  return plantRate(plant, { continuous: true, limitMs: undefined }).perSecond;
}

export async function workersBenchmark(context: WorkersContext): Promise<string> {
  const { quick, trees, steps, progress, speed } = context;
  const rounds = quick ? 1 : 3;
  const warmupS = 5;
  const seconds = quick ? 10 : 20;
  const runs: RunFigures[] = [];
  for (const step of steps) {
    const plantRecords = await plantRecordsAt(trees[0].root, step) * speed;
    for (let round = 0; round < rounds; round++) {
      const order = trees.map((_, i) => trees[(i + round + step) % trees.length]);
      for (const tree of order) {
        const figures = await runOnce(tree, step, { ...context, warmupS, seconds, plantRecords });
        progress(
          `workers: ${tree.label}, ${step} lines a factory: ${Math.round(figures.rate)} records/s of ` +
            `${Math.round(plantRecords)}, ${(figures.withinShare * 100).toFixed(2)}% of ${figures.batches} batches ` +
            `within 50 ms: ${figures.held ? "held" : "not held"}`,
        );
        runs.push(figures);
      }
    }
  }
  context.results.workers = runs;
  const rows = [
    "| tree | lines a factory | plant's records/s | records/s (median) | batches within 50 ms (median) | held |",
  ];
  rows.push("| --- | ---: | ---: | ---: | ---: | :---: |");
  const largest = new Map<string, number>();
  for (const tree of trees) {
    for (const step of steps) {
      const mine = runs.filter((run) => run.tree === tree.label && run.linesPerFactory === step);
      const share = median(mine.map((run) => run.withinShare));
      const rate = median(mine.map((run) => run.rate));
      const held = share >= 0.99 && rate >= 0.95 * mine[0].plantRate;
      if (held) largest.set(tree.label, Math.max(largest.get(tree.label) ?? 0, mine[0].plantRate));
      rows.push(
        `| ${tree.label} | ${step} | ${Math.round(mine[0].plantRate)} | ${Math.round(rate)} | ${
          (share * 100).toFixed(2)
        }% | ${held ? "yes" : "no"} |`,
      );
    }
  }
  const base = largest.get(trees[0].label);
  const lines = [
    "## Real-time capacity of the CLI: threads and commits (`--only workers`)",
    "",
    ...(speed === 1
      ? []
      : [`Every run at \`--speed ${speed}\`: the plant's records/s are its own times ${speed}.`, ""]),
    ...rows,
    "",
    ...trees.map((tree) => {
      const held = largest.get(tree.label);
      const ratio = held !== undefined && base ? ` (${(held / base).toFixed(2)}x ${trees[0].label})` : "";
      return held === undefined
        ? `- ${tree.label}: no plant run was held`
        : `- ${tree.label}: the largest plant held produces ${Math.round(held)} records/s${ratio}`;
    }),
  ];
  return lines.join("\n");
}
