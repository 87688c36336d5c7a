/**
 * `deno task bench --only formats`: the value formats side by side. Each run is the CLI end to end,
 * as a user runs it (`deno run -P=sim main.ts --sink kafka --backfill FROM..TO --format F ...`,
 * start-up, registration and exit included), in a process of its own; the four formats alternate
 * within each round and their order rotates between rounds. Records/s is the records the run's
 * `--summary-json` says it produced over the process's wall time; bytes per record are read back
 * from the broker with kcat (an independent client): every record of the run's two topics.
 *
 * Its pieces (`addSizeLine`, `headerBytes`, `roundOrder`, `ratiosToJson`, and `readSizes` against
 * the broker) are tested in tests/bench_formats_test.ts; `formatsBenchmark` is called by bench/main.ts.
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
import { type Format, FORMATS } from "../lib/formats/format.ts";
import { type ProfileSummary, profileText, summarizeProfileDir } from "./_profile.ts";
import { median, round1 } from "./_stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The registry the benchmark uses unless told otherwise (`bash registry/start.sh` starts it). */
export const DEFAULT_REGISTRY = "http://127.0.0.1:8081/apis/ccompat/v7";

/** Issue 13's target: Avro and Protobuf at least JSON's records/s, with at most 60% of its bytes. */
export const FORMATS_TARGET = { recordsPerSecondRatio: 1, bytesRatio: 0.6, formats: ["avro", "protobuf"] } as const;

/** What bench/main.ts hands the benchmark. */
export interface FormatsContext extends CliRunContext {
  quick: boolean;
  registry: string;
  admin: KafkaAdmin;
  /** Topics and subjects of this benchmark start with it. */
  topicPrefix: string;
  /** Take CPU profiles where the records/s target is missed. */
  profileMisses: boolean;
  progress: (line: string) => void;
  /** Where the raw figures go (the `--json` output). */
  results: Record<string, unknown>;
}

// --- Pure pieces -------------------------------------------------------------------------------

/** Byte totals of records read back. */
export interface RecordSizes {
  records: number;
  keyBytes: number;
  valueBytes: number;
  headerBytes: number;
}

/** An empty tally. */
export function emptySizes(): RecordSizes {
  return { records: 0, keyBytes: 0, valueBytes: 0, headerBytes: 0 };
}

/** The kcat output format `addSizeLine` reads (kcat expands the escapes): key length, value length, headers. */
export const KCAT_SIZE_FORMAT = "%K\\t%S\\t%h\\n";

const utf8 = new TextEncoder();

/**
 * The bytes of a record's headers as kcat's `%h` prints them (`name=value,name=value`, "" when none):
 * each name and value in UTF-8, as they count in the record (the record's own length varints aside).
 * factory-sim's header names and values hold no `,` (its content types and message types).
 */
export function headerBytes(text: string): number {
  if (text === "") return 0;
  let bytes = 0;
  for (const header of text.split(",")) {
    const eq = header.indexOf("=");
    if (eq < 0) throw new Error(`a header without "=" in kcat's output: ${JSON.stringify(header.slice(0, 80))}`);
    bytes += utf8.encode(header.slice(0, eq)).length + utf8.encode(header.slice(eq + 1)).length;
  }
  return bytes;
}

/** Adds one line of kcat's `KCAT_SIZE_FORMAT` output to `sizes` (a null key or value, -1, counts 0). */
export function addSizeLine(sizes: RecordSizes, line: string): void {
  const first = line.indexOf("\t");
  const second = line.indexOf("\t", first + 1);
  const key = Number(line.slice(0, first));
  const value = Number(line.slice(first + 1, second));
  if (first < 0 || second < 0 || !Number.isInteger(key) || !Number.isInteger(value)) {
    throw new Error(`not a line of key length, value length and headers: ${JSON.stringify(line.slice(0, 80))}`);
  }
  sizes.records++;
  sizes.keyBytes += Math.max(0, key);
  sizes.valueBytes += Math.max(0, value);
  sizes.headerBytes += headerBytes(line.slice(second + 1));
}

/** Means per record: the value's bytes, and the record's (key + value + headers). */
export function perRecord(sizes: RecordSizes): { key: number; value: number; headers: number; record: number } {
  const mean = (bytes: number) => sizes.records === 0 ? NaN : round1(bytes / sizes.records);
  return {
    key: mean(sizes.keyBytes),
    value: mean(sizes.valueBytes),
    headers: mean(sizes.headerBytes),
    record: mean(sizes.keyBytes + sizes.valueBytes + sizes.headerBytes),
  };
}

/** The formats in the order round `round` (from 1) runs them: rotated by one a round. */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const shift = (round - 1) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** One run of one format in one round. */
export interface FormatRun {
  format: Format;
  round: number;
  records: number;
  wallSeconds: number;
  recordsPerSecond: number;
  /** factory-sim's CPU over the run, % of one core. */
  cpuPercent: number | null;
  /** The machine's and the broker's over the run. */
  machinePercent: number | null;
  brokerPercent: number | null;
}

/** Per format: median records/s over the rounds, and the median of each round's ratio to JSON's run. */
export function ratiosToJson(runs: readonly FormatRun[]) {
  return ratiosTo(runs, (run) => run.format, FORMATS, "json");
}

// --- The benchmark -----------------------------------------------------------------------------

/** The plant and the window every run simulates: the same records in every format. */
const plan = backfillPlan;

/** Runs the formats benchmark and returns its section of the report. */
export async function formatsBenchmark(ctx: FormatsContext): Promise<string> {
  const { progress } = ctx;
  const registryState = await ensureRegistry(ctx.registry, progress);
  const registryName = await registryVersion(ctx.registry);
  const p = plan(ctx.quick);
  progress(
    `formats: ${p.rounds} rounds of ${FORMATS.join(", ")}; ${p.factories} factories, --backfill ${p.from}..${p.to} ` +
      `--continuous --seed ${p.seed}`,
  );
  const runs: FormatRun[] = [];
  const sizes = new Map<Format, RecordSizes>();
  let profiles: { format: Format; profile: ProfileSummary }[] = [];
  try {
    // One small run of each format first (not counted): the module cache and the registry's first
    // registrations warm, so the first timed run pays no more than the others.
    progress("formats: one small run of each format to warm the module cache (not counted)");
    for (const format of FORMATS) {
      const topics = topicsOf(ctx, `warm.${format}`);
      await createTopics(ctx.admin, topics);
      await runCli(ctx, { ...p, factories: 10 }, format, topics, 0);
      await dropTopicsAndSubjects(ctx, [topics.readings, topics.heartbeats]);
    }
    for (let round = 1; round <= p.rounds; round++) {
      const made: string[] = [];
      for (const format of roundOrder(FORMATS, round)) {
        const topics = topicsOf(ctx, `r${round}.${format}`);
        made.push(topics.readings, topics.heartbeats);
        await createTopics(ctx.admin, topics);
        const run = await runCli(ctx, p, format, topics, round);
        runs.push(run);
        progress(
          `  round ${round}, ${format}: ${fmtInt(run.records)} records in ${run.wallSeconds} s, ` +
            `${fmtInt(run.recordsPerSecond)} records/s, CPU ${run.cpuPercent ?? "?"}%, broker ` +
            `${run.brokerPercent ?? "?"}%, machine ${run.machinePercent ?? "?"}%`,
        );
        await checkLanded(ctx.admin, topics, run.records);
        if (!sizes.has(format)) {
          const tally = emptySizes();
          for (const topic of [topics.readings, topics.heartbeats]) await readSizes(ctx.brokers, topic, tally);
          if (tally.records !== run.records) {
            throw new Error(`kcat read ${tally.records} records of the ${format} run, which produced ${run.records}`);
          }
          sizes.set(format, tally);
          const mean = perRecord(tally);
          progress(`  ${format}: ${mean.value} value bytes, ${mean.record} record bytes a record (read back)`);
        }
      }
      // Every run writes the same records: one that produced another count is not comparable.
      const counts = new Set(runs.map((run) => run.records));
      if (counts.size !== 1) throw new Error(`the runs produced different record counts: ${[...counts].join(", ")}`);
      await dropTopicsAndSubjects(ctx, made);
    }
    const ratios = ratiosToJson(runs);
    const misses = FORMATS_TARGET.formats.filter((format) =>
      (ratios.get(format)?.ratio ?? 0) < FORMATS_TARGET.recordsPerSecondRatio
    );
    if (misses.length > 0 && ctx.profileMisses) profiles = await profileRuns(ctx, p, ["json", ...misses]);
    ctx.results.formats = {
      plan: p,
      registry: ctx.registry,
      registryState,
      registryName,
      runs,
      sizes: Object.fromEntries(sizes),
      ratios: Object.fromEntries(ratios),
      profiles,
    };
    return report(p, runs, ratios, sizes, profiles, `${registryName} at ${ctx.registry}: ${registryState}`);
  } finally {
    await dropTopicsAndSubjects(ctx);
  }
}

function topicsOf(ctx: FormatsContext, tag: string): { readings: string; heartbeats: string } {
  const base = `${ctx.topicPrefix}.formats.${tag}`;
  return { readings: `${base}.readings`, heartbeats: `${base}.heartbeats` };
}

/** Creates both topics as the CLI would (3 partitions), so topic creation is not part of a run's time. */
function createTopics(admin: KafkaAdmin, topics: { readings: string; heartbeats: string }): Promise<void> {
  return createTopicsWithLeaders(admin, [topics.readings, topics.heartbeats]);
}

/** One run of the CLI in `format` (a profile into `profileDir` when given). */
async function runCli(
  ctx: FormatsContext,
  p: BackfillPlan,
  format: Format,
  topics: { readings: string; heartbeats: string },
  round: number,
  profileDir?: string,
): Promise<FormatRun> {
  const { log, readings: _readings, ...run } = await runCliBackfill(ctx, p, topics, {
    tag: `formats-${format}`,
    args: [`--format=${format}`, ...(format === "json" ? [] : [`--schema-registry=${ctx.registry}`])],
    profileDir,
  });
  for (const line of log) ctx.progress(`  sim (${format}): ${line}`);
  return { format, round, ...run };
}

/** Reads every record of `topic` with kcat and adds its sizes to `sizes`; reads again if kcat stopped short. */
export async function readSizes(brokers: string, topic: string, sizes: RecordSizes): Promise<void> {
  // kcat -e stops at each partition's end as its fetches see it; on a loaded machine it has been
  // seen to stop short (tests/_kafka.ts): read again until the count is the end offsets' sum.
  const expected = await endOffsetsSum(brokers, topic);
  for (let attempt = 1;; attempt++) {
    const tally = emptySizes();
    const child = new Deno.Command("kcat", {
      args: ["-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", KCAT_SIZE_FORMAT],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let tail = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (tail + chunk).split("\n");
      tail = lines.pop()!;
      for (const line of lines) addSizeLine(tally, line);
    }
    if (tail) addSizeLine(tally, tail);
    if (!(await child.status).success) throw new Error(`kcat could not read ${topic}: ${await stderr}`);
    if (tally.records === expected || attempt === 3) {
      for (const key of ["records", "keyBytes", "valueBytes", "headerBytes"] as const) sizes[key] += tally[key];
      return;
    }
  }
}

async function endOffsetsSum(brokers: string, topic: string): Promise<number> {
  const metadata = await kcatText(["-L", "-J", "-b", brokers, "-t", topic]);
  const partitions = (JSON.parse(metadata) as { topics: { partitions: { partition: number }[] }[] }).topics[0]
    ?.partitions.map(({ partition }) => partition) ?? [];
  if (partitions.length === 0) return 0;
  const offsets = await kcatText(["-Q", "-b", brokers, ...partitions.flatMap((p) => ["-t", `${topic}:${p}:-1`])]);
  return [...offsets.matchAll(/\[(\d+)\] offset (-?\d+)/g)].reduce((sum, match) => sum + Number(match[2]), 0);
}

async function kcatText(args: string[]): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("kcat", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("the formats benchmark reads records back with kcat: apt-get install kcat");
    }
    throw error;
  }
  if (!output.success) throw new Error(`kcat ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  return new TextDecoder().decode(output.stdout);
}

/** Deletes `topics` (default: every topic of this benchmark) and their subjects (`<topic>-value`). */
async function dropTopicsAndSubjects(ctx: FormatsContext, topics?: string[]): Promise<void> {
  const prefix = `${ctx.topicPrefix}.formats.`;
  const mine = topics ?? (await ctx.admin.listTopics()).filter((topic) => topic.startsWith(prefix));
  if (mine.length > 0) await ctx.admin.deleteTopics({ topics: mine }).catch(() => {});
  let subjects: string[] = [];
  try {
    const response = await fetch(`${ctx.registry}/subjects`, { signal: AbortSignal.timeout(10_000) });
    subjects = (await response.json() as string[]).filter((subject) =>
      topics ? topics.some((topic) => subject === `${topic}-value`) : subject.startsWith(prefix)
    );
  } catch {
    return; // no registry (it never answered): nothing was registered
  }
  for (const subject of subjects) {
    // A soft delete, then the permanent one (the Confluent API refuses the second without the first).
    for (const query of ["", "?permanent=true"]) {
      await fetch(`${ctx.registry}/subjects/${encodeURIComponent(subject)}${query}`, {
        method: "DELETE",
        signal: AbortSignal.timeout(10_000),
      }).then((response) => response.body?.cancel()).catch(() => {});
    }
  }
}

/** One profiled run of each of `formats` (in fresh topics), summarized. */
async function profileRuns(
  ctx: FormatsContext,
  p: BackfillPlan,
  formats: Format[],
): Promise<{ format: Format; profile: ProfileSummary }[]> {
  const out: { format: Format; profile: ProfileSummary }[] = [];
  for (const format of formats) {
    const topics = topicsOf(ctx, `profiled.${format}`);
    await createTopics(ctx.admin, topics);
    const dir = Deno.makeTempDirSync({ dir: ctx.scratch, prefix: `profile-formats-${format}-` });
    ctx.progress(`formats: profiling one ${format} run`);
    const run = await runCli(ctx, p, format, topics, 0, dir);
    ctx.progress(`  ${format} (profiled): ${fmtInt(run.recordsPerSecond)} records/s`);
    out.push({ format, profile: summarizeProfileDir(dir) });
    await dropTopicsAndSubjects(ctx, [topics.readings, topics.heartbeats]);
  }
  return out;
}

/** Starts the local registry with registry/start.sh when none answers at the default address. */
async function ensureRegistry(url: string, progress: (line: string) => void): Promise<string> {
  if (await registryAnswers(url)) return "already running";
  if (url !== DEFAULT_REGISTRY) throw new Error(`no Schema Registry answers at ${url} (--schema-registry)`);
  progress(`no Schema Registry at ${url}: starting the local one with registry/start.sh`);
  const status = await new Deno.Command("bash", {
    args: [`${ROOT}registry/start.sh`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!status.success || !(await registryAnswers(url))) throw new Error("registry/start.sh could not start a registry");
  return "started by this run with registry/start.sh (left running; `deno task registry:stop` stops it)";
}

/** Apicurio's name and version (its own API beside ccompat), or "a Schema Registry" for another one. */
async function registryVersion(url: string): Promise<string> {
  try {
    const response = await fetch(`${new URL(url).origin}/apis/registry/v2/system/info`, {
      signal: AbortSignal.timeout(3_000),
    });
    const info = await response.json() as { name?: unknown; version?: unknown };
    if (typeof info.name === "string" && typeof info.version === "string") return `${info.name} ${info.version}`;
  } catch {
    // not Apicurio, or no such endpoint
  }
  return "a Schema Registry";
}

async function registryAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(3_000) });
    return response.ok && (await response.text()).startsWith("[");
  } catch {
    return false;
  }
}

// --- The report --------------------------------------------------------------------------------

function report(
  p: BackfillPlan,
  runs: FormatRun[],
  ratios: ReturnType<typeof ratiosToJson>,
  sizes: Map<Format, RecordSizes>,
  profiles: { format: Format; profile: ProfileSummary }[],
  registry: string,
): string {
  const json = perRecord(sizes.get("json")!);
  const records = runs[0].records;
  const cpu = (format: Format, key: "cpuPercent" | "brokerPercent" | "machinePercent") => {
    const values = runs.filter((run) => run.format === format && run[key] !== null).map((run) => run[key]!);
    return values.length ? `${Math.round(median(values))}%` : "n/a";
  };
  const wall = (format: Format) =>
    round1(median(runs.filter((run) => run.format === format).map((run) => run.wallSeconds)));
  const rows = FORMATS.map((format) => {
    const mean = perRecord(sizes.get(format)!);
    const ratio = ratios.get(format)!;
    const valueRatio = mean.value / json.value;
    const recordRatio = mean.record / json.record;
    const target = (FORMATS_TARGET.formats as readonly string[]).includes(format)
      ? `records/s ${ratio.ratio >= FORMATS_TARGET.recordsPerSecondRatio ? "met" : "missed"}; value bytes ` +
        `${valueRatio <= FORMATS_TARGET.bytesRatio ? "met" : "missed"}; record bytes ` +
        `${recordRatio <= FORMATS_TARGET.bytesRatio ? "met" : "missed"}`
      : "";
    return `| ${format} | ${fmtInt(ratio.recordsPerSecond)} | **${ratio.ratio.toFixed(2)}x** | ` +
      `${ratio.perRound.map((x) => x.toFixed(2)).join(", ")} | ${wall(format)} s | ${cpu(format, "cpuPercent")} | ` +
      `${cpu(format, "brokerPercent")} | ${cpu(format, "machinePercent")} | ${mean.value} | ` +
      `**${pct(valueRatio)}** | ${mean.record} | **${pct(recordRatio)}** | ${target} |`;
  });
  const lines = [
    "## 6. Formats",
    "",
    `The CLI end to end, as a user runs it: \`deno run -P=sim main.ts --sink kafka --backfill ${p.from}..${p.to} ` +
    `--continuous --format F [--schema-registry URL] --seed ${p.seed} --factories ${fmtInt(p.factories)} ` +
    `--generate-lines -q --summary-json FILE\` (start-up, schema registration and exit included; topics created ` +
    `beforehand with 3 partitions), ${fmtInt(records)} records a run (readings and heartbeats, the same records in ` +
    `every format). ${p.rounds} rounds, the four formats alternating, the order rotated each round; medians. ` +
    `Records/s: records produced (the summary) / the process's wall time; "vs JSON": the median of each round's ratio ` +
    `to that round's JSON run. Bytes: every record of each format's first run (its two topics) read back with kcat; record = key + value ` +
    `+ header names and values. CPU in % of one core over the run (machine: ${
      navigator.hardwareConcurrency * 100
    }%); ` +
    `factory-sim's is the process's user + system time, start-up included. Registry: ${registry}.`,
    "",
    "| format | records/s | vs JSON | per round | wall | CPU factory-sim | CPU broker | CPU machine | value bytes/record | vs JSON | record bytes/record | vs JSON | target (Avro, Protobuf) |",
    "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...rows,
    "",
    `Target: Avro and Protobuf at least JSON's records/s (>= 1.00x) with at most 60% of its bytes per record.`,
  ];
  for (const { format, profile } of profiles) {
    lines.push("", profileText(`CPU profile of one ${format} run`, profile));
  }
  return lines.join("\n") + "\n";
}
