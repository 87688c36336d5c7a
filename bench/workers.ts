/**
 * `deno task bench --only workers`: real-time capacity of the CLI as users run it, one thread
 * against `--workers N`, and against another commit (`--baseline PATH`, a checkout). Each run is
 * `deno run <that tree's sim task flags> main.ts --sink kafka --factories 10000 --generate-lines
 * --lines-per-factory L --continuous --metrics-port 0 [--speed S]` in that tree, in a process of its
 * own; the plant grows with L (10,000 factories hold about 40,000 sensors, the most one process
 * simulates, so a larger plant is more lines on them). After the run has produced its first records
 * and `warmup` more seconds, `/metrics` is read twice, `seconds` apart: the records produced in
 * between give the rate, and the schedule-lateness histogram's buckets the share of batches
 * dispatched within 50 ms of their due time. A plant is held when at least 99% were (p99 <= 50 ms;
 * the histogram's bucket bound, each batch's most late event) and the rate is at least 95% of the
 * plant's own. Trees alternate within each step, their order rotating; each step runs `rounds`
 * times and its median share decides. A tree that did not hold a step is not run at the later steps
 * of as many records a second or more. Each tree's capacity is bracketed between the largest plant
 * it held and the smallest it did not, so a ratio of two trees is a range: its low end the one
 * tree's held plant over the other's smallest plant not held.
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
  /** The steps, in the order they run. */
  steps: WorkersStep[];
  progress: (line: string) => void;
  results: Record<string, unknown>;
}

/**
 * A plant the benchmark offers every tree: lines per factory, and the clock's speed (past the
 * largest plant one process simulates, 10,000 factories of 50 lines, a faster clock is the only way
 * to offer a run more records a second).
 */
export interface WorkersStep {
  lines: number;
  speed: number;
}

/**
 * `--lines-steps`: comma-separated `L` or `L@S` (lines a factory, at speed S; `defaultSpeed` when
 * not given). Throws a one-line message naming the flag for anything else.
 */
export function parseWorkersSteps(text: string, defaultSpeed: number, maxLines: number): WorkersStep[] {
  return text.split(",").map((item) => {
    const match = /^(\d+)(?:@(\d+(?:\.\d+)?))?$/.exec(item.trim());
    const lines = Number(match?.[1]);
    const speed = match?.[2] === undefined ? defaultSpeed : Number(match[2]);
    if (!match || !(lines >= 1 && lines <= maxLines) || !(speed > 0 && speed <= 100)) {
      throw new Error(
        `--lines-steps: each step is L or L@S, L lines a factory from 1 to ${maxLines} (the CLI's ` +
          `--lines-per-factory) and S a speed above 0 up to 100, got ${JSON.stringify(item.slice(0, 40))}`,
      );
    }
    return { lines, speed };
  });
}

/** "L" at speed 1, "L@S" otherwise. */
function stepName({ lines, speed }: WorkersStep): string {
  return speed === 1 ? String(lines) : `${lines}@${speed}`;
}

/** The benchmark's "held": at least 99% of batches within 50 ms and at least 95% of the plant's rate. */
function isHeld(withinShare: number, rate: number, plantRate: number): boolean {
  return withinShare >= 0.99 && rate >= 0.95 * plantRate;
}

/** One run's figures. */
interface RunFigures {
  tree: string;
  step: string;
  linesPerFactory: number;
  speed: number;
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
  step: WorkersStep,
  { brokers, topicPrefix, warmupS, seconds, plantRecords }: {
    brokers: string;
    topicPrefix: string;
    warmupS: number;
    seconds: number;
    plantRecords: number;
  },
): Promise<RunFigures> {
  const { lines: linesPerFactory, speed } = step;
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
      step: stepName(step),
      linesPerFactory,
      speed,
      plantRate: plantRecords,
      rate,
      withinShare,
      batches,
      held: isHeld(withinShare, rate, plantRecords),
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
  const { quick, trees, steps, progress } = context;
  const rounds = quick ? 1 : 3;
  const warmupS = 5;
  const seconds = quick ? 10 : 20;
  const runs: RunFigures[] = [];
  const skipped: { tree: string; step: string; plantRate: number; failed: number }[] = [];
  const verdicts: { tree: string; step: string; plantRate: number; rate: number; share: number; held: boolean }[] = [];
  /** A tree's largest plant (records/s) held and smallest not held so far, each undefined when there is none. */
  const bracket = (label: string) => {
    const mine = verdicts.filter((v) => v.tree === label);
    const largest = Math.max(-Infinity, ...mine.filter((v) => v.held).map((v) => v.plantRate));
    const smallest = Math.min(Infinity, ...mine.filter((v) => !v.held).map((v) => v.plantRate));
    return {
      held: Number.isFinite(largest) ? largest : undefined,
      notHeld: Number.isFinite(smallest) ? smallest : undefined,
    };
  };
  for (const [index, step] of steps.entries()) {
    const plantRecords = await plantRecordsAt(trees[0].root, step.lines) * step.speed;
    const running = trees.filter((tree) => {
      const failed = bracket(tree.label).notHeld;
      if (failed === undefined || plantRecords < failed) return true;
      skipped.push({ tree: tree.label, step: stepName(step), plantRate: plantRecords, failed });
      progress(`workers: ${tree.label}, step ${stepName(step)}: not run (it did not hold ${Math.round(failed)})`);
      return false;
    });
    const mine: RunFigures[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = running.map((_, i) => running[(i + round + index) % running.length]);
      for (const tree of order) {
        const figures = await runOnce(tree, step, { ...context, warmupS, seconds, plantRecords });
        progress(
          `workers: ${tree.label}, step ${stepName(step)}: ${Math.round(figures.rate)} records/s of ` +
            `${Math.round(plantRecords)}, ${(figures.withinShare * 100).toFixed(2)}% of ${figures.batches} batches ` +
            `within 50 ms: ${figures.held ? "held" : "not held"}`,
        );
        mine.push(figures);
      }
    }
    runs.push(...mine);
    for (const tree of running) {
      const own = mine.filter((run) => run.tree === tree.label);
      const share = median(own.map((run) => run.withinShare));
      const rate = median(own.map((run) => run.rate));
      verdicts.push({
        tree: tree.label,
        step: stepName(step),
        plantRate: plantRecords,
        rate,
        share,
        held: isHeld(share, rate, plantRecords),
      });
    }
  }
  context.results.workers = { runs, skipped };
  const rows = [
    "| tree | step (lines a factory[@speed]) | plant's records/s | records/s (median) | batches within 50 ms (median) | held |",
  ];
  rows.push("| --- | --- | ---: | ---: | ---: | :---: |");
  for (const tree of trees) {
    for (const step of steps) {
      const name = stepName(step);
      const verdict = verdicts.find((v) => v.tree === tree.label && v.step === name);
      const skip = skipped.find((v) => v.tree === tree.label && v.step === name);
      if (verdict) {
        rows.push(
          `| ${tree.label} | ${name} | ${Math.round(verdict.plantRate)} | ${Math.round(verdict.rate)} | ${
            (verdict.share * 100).toFixed(2)
          }% | ${verdict.held ? "yes" : "no"} |`,
        );
      } else if (skip) {
        rows.push(`| ${tree.label} | ${name} | ${Math.round(skip.plantRate)} | not run | not run | no |`);
      }
    }
  }
  const base = bracket(trees[0].label);
  const speeds = [...new Set(steps.map((step) => step.speed))];
  const lines = [
    "## Real-time capacity of the CLI: threads and commits (`--only workers`)",
    "",
    ...(speeds.length === 1 && speeds[0] === 1
      ? []
      : ["A step `L@S` runs at `--speed S`: its plant's records/s are the plant's own times S.", ""]),
    ...rows,
    "",
    ...trees.map((tree) => {
      const { held, notHeld } = bracket(tree.label);
      const range = `held ${held === undefined ? "none" : Math.round(held)}, not held ${
        notHeld === undefined ? "none (all held)" : Math.round(notHeld)
      } records/s`;
      if (tree === trees[0]) return `- ${tree.label}: ${range}`;
      const low = held !== undefined && base.notHeld !== undefined ? (held / base.notHeld).toFixed(2) + "x" : "?";
      const high = notHeld !== undefined && base.held !== undefined ? (notHeld / base.held).toFixed(2) + "x" : "?";
      return `- ${tree.label}: ${range}; against ${trees[0].label}: from ${low} to ${high}`;
    }),
  ];
  return lines.join("\n");
}
