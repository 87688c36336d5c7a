/**
 * Part of `deno task bench --only throughput`: a backfill through the CLI end to end (spawn to
 * exit, start-up included) against `kcat -P` sending the same records from files, and Kafka's Java
 * `ProducerPerformance` sending as many records of the same mean size, alternating in one run.
 *
 * The records: one console run of the same backfill (`--sink console`, a fixed FROM..TO, a fixed
 * seed) gives every record's topic, key, headers and value; they are written to one file per topic
 * and header set as `key<TAB>value` lines, which kcat sends with `-l -K '\t'` and the set's `-H`
 * headers (one kcat per file, all at once: kcat at its fastest), with `enable.idempotence=true` and
 * `acks=all`, as the CLI sends them. Each side writes into fresh topics of its own (created
 * beforehand, as many partitions for each); after each CLI and kcat run the topics' end offsets
 * must add up to the records of the console run. Records/s: records / wall seconds of the process
 * (kcat: of all its processes); Java's is its own report (after the JVM has started), with its wall
 * figure beside it.
 */
import type { KafkaAdmin } from "../lib/kafka/admin.ts";
import { type ProfileSummary, profileText, summarizeProfileDir } from "./_profile.ts";
import type { CpuShare } from "./_machine.ts";
import { median } from "./_stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** What the orchestrator (`main.ts`) lends this benchmark. */
export interface BackfillContext {
  quick: boolean;
  brokers: string;
  admin: KafkaAdmin;
  topicPrefix: string;
  scratch: string;
  profileMisses: boolean;
  /** The Deno flags of `deno task sim` (its permissions). */
  simFlags: string[];
  progress: (line: string) => void;
  cpuBetween: (fromMs: number, toMs: number) => CpuShare;
  createTopic: (topic: string, partitions: number) => Promise<void>;
  /** Runs ProducerPerformance: records/s as it reports them, its CPU and wall-clock bounds. */
  java: (topic: string, records: number, recordSize: number) => Promise<{
    recordsPerSecond: number;
    processCpuPercent?: number;
    window: { fromMs: number; toMs: number };
  }>;
  results: Record<string, unknown>;
}

/** The sides, in the order they alternate. */
const SIDES = [
  { tag: "java", side: "Java ProducerPerformance" },
  { tag: "kcat", side: "kcat -P (librdkafka), from files" },
  { tag: "cli", side: "factory-sim --backfill (CLI)" },
  { tag: "cli3", side: "factory-sim --backfill --producers 3 (CLI)" },
  { tag: "cliw2", side: "factory-sim --backfill --workers 2 (CLI)" },
] as const;
type Tag = typeof SIDES[number]["tag"];

/** One file of records for kcat: its topic's role and header set. */
interface KcatFile {
  path: string;
  role: "readings" | "heartbeats";
  headers: [string, string][];
  records: number;
}

interface Row extends CpuShare {
  round: number;
  tag: Tag;
  side: string;
  records: number;
  wallSeconds: number;
  recordsPerSecond: number;
  /** Java: records / wall seconds of the whole process. */
  wallRecordsPerSecond?: number;
  processCpuPercent?: number;
}

const PARTITIONS = 6;
const FACTORIES = 300;
const SEED = 13;

export async function backfillBenchmark(ctx: BackfillContext): Promise<string> {
  const rounds = ctx.quick ? 2 : 3;
  // A fixed window in the past: every run generates the same records.
  const toMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
  const window = `${new Date(toMs - 4 * 60_000).toISOString()}..${new Date(toMs).toISOString()}`;
  const backfillArgs = [
    "--backfill",
    window,
    "--continuous",
    `--seed=${SEED}`,
    `--factories=${FACTORIES}`,
    "--generate-lines",
    "-q",
  ];
  ctx.progress(`throughput (end to end): the records of a console run of --backfill ${window}`);
  const { files, records, payloadBytes } = await recordFiles(ctx, backfillArgs);
  ctx.progress(
    `  ${records.toLocaleString("en-US")} records in ${files.length} files, ${payloadBytes} bytes of key + value + ` +
      "headers a record on average",
  );
  const rows: Row[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const { tag, side } of SIDES) {
      const base = `${ctx.topicPrefix}.e2e.r${round}.${tag}`;
      let row: Row;
      if (tag === "java") {
        await ctx.createTopic(base, PARTITIONS);
        const started = performance.now();
        const java = await ctx.java(base, records, payloadBytes);
        const wallSeconds = (performance.now() - started) / 1000;
        row = {
          round,
          tag,
          side,
          records,
          wallSeconds,
          recordsPerSecond: java.recordsPerSecond,
          wallRecordsPerSecond: Math.round(records / wallSeconds),
          processCpuPercent: java.processCpuPercent,
          ...ctx.cpuBetween(java.window.fromMs, java.window.toMs),
        };
      } else {
        const topics = { readings: `${base}.readings`, heartbeats: `${base}.heartbeats` };
        await ctx.createTopic(topics.readings, PARTITIONS);
        await ctx.createTopic(topics.heartbeats, PARTITIONS);
        const run = tag === "kcat"
          ? await timed("bash", ["-c", kcatScript(ctx.brokers, files, topics)])
          : await timed(Deno.execPath(), [
            "run",
            ...ctx.simFlags,
            `--allow-write=${ctx.scratch}`,
            "main.ts",
            "--sink=kafka",
            `--brokers=${ctx.brokers}`,
            ...backfillArgs,
            `--partitions=${PARTITIONS}`,
            `--readings-topic=${topics.readings}`,
            `--heartbeat-topic=${topics.heartbeats}`,
            `--spool-dir=${ctx.scratch}/spool-e2e-${round}-${tag}`,
            ...(tag === "cli3" ? ["--producers=3"] : []),
            ...(tag === "cliw2" ? ["--workers=2"] : []),
          ]);
        const landed = (await endOffsets(ctx.admin, topics.readings)) +
          (await endOffsets(ctx.admin, topics.heartbeats));
        if (landed !== records) throw new Error(`${side} wrote ${landed} records, not ${records}`);
        row = {
          round,
          tag,
          side,
          records,
          wallSeconds: run.wallSeconds,
          recordsPerSecond: Math.round(records / run.wallSeconds),
          processCpuPercent: run.cpuPercent,
          ...ctx.cpuBetween(run.fromMs, run.toMs),
        };
      }
      rows.push(row);
      ctx.progress(
        `  round ${round}, ${side}: ${row.recordsPerSecond.toLocaleString("en-US")} records/s, ` +
          `${row.wallSeconds.toFixed(2)} s, CPU ${pct(row.processCpuPercent)}`,
      );
    }
  }
  const of = (tag: Tag, round: number) => rows.find((row) => row.tag === tag && row.round === round)!.recordsPerSecond;
  const ratio = (a: Tag, b: Tag) => {
    const perRound = Array.from({ length: rounds }, (_, i) => of(a, i + 1) / of(b, i + 1));
    return { ratio: median(perRound), perRound };
  };
  const ratios = {
    cliVsKcat: ratio("cli", "kcat"),
    cliVsJava: ratio("cli", "java"),
    cli3VsKcat: ratio("cli3", "kcat"),
    cli3VsJava: ratio("cli3", "java"),
    cliW2VsKcat: ratio("cliw2", "kcat"),
    cliW2VsJava: ratio("cliw2", "java"),
  };
  let profile: ProfileSummary | undefined;
  if (ctx.profileMisses && (ratios.cliVsKcat.ratio < 1 || ratios.cliVsJava.ratio < 2)) {
    const dir = Deno.makeTempDirSync({ dir: ctx.scratch, prefix: "profile-e2e-" });
    const base = `${ctx.topicPrefix}.e2e.profiled`;
    await ctx.createTopic(`${base}.readings`, PARTITIONS);
    await ctx.createTopic(`${base}.heartbeats`, PARTITIONS);
    ctx.progress("throughput (end to end): profiling one CLI backfill");
    await timed(Deno.execPath(), [
      "run",
      ...ctx.simFlags,
      `--allow-write=${ctx.scratch}`,
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      "main.ts",
      "--sink=kafka",
      `--brokers=${ctx.brokers}`,
      ...backfillArgs,
      `--partitions=${PARTITIONS}`,
      `--readings-topic=${base}.readings`,
      `--heartbeat-topic=${base}.heartbeats`,
      `--spool-dir=${ctx.scratch}/spool-e2e-profiled`,
    ]);
    profile = summarizeProfileDir(dir);
  }
  ctx.results.throughputEndToEnd = { window, records, payloadBytes, rows, ratios, profile };

  const x = (r: { ratio: number; perRound: number[] }) =>
    `**${r.ratio.toFixed(2)}x** (${r.perRound.map((v) => v.toFixed(2)).join(", ")})`;
  const lines = [
    "### Backfill end to end: the CLI against kcat -P and Java",
    "",
    `\`deno run -P=sim main.ts --sink kafka ${backfillArgs.join(" ")} --partitions ${PARTITIONS}\` ` +
    `(${records.toLocaleString("en-US")} records, ${payloadBytes} bytes of key + value + headers a record on ` +
    `average), timed from spawn to exit; kcat -P sending the same records from files (one kcat a file, at once, ` +
    "`-X enable.idempotence=true -X acks=all`); Java's ProducerPerformance sending as many records of the mean size " +
    `(acks=all, its defaults otherwise). ${PARTITIONS} partitions a topic, fresh topics each run; ${rounds} rounds, ` +
    "the sides alternating. CPU in % of one core; kcat's and the CLI's over their whole run.",
    "",
    "| round | producer | records/s | wall | CPU producer | CPU broker | CPU machine |",
    "|---:|---|---:|---:|---:|---:|---:|",
    ...rows.map((row) =>
      `| ${row.round} | ${row.side} | ${row.recordsPerSecond.toLocaleString("en-US")}` +
      (row.wallRecordsPerSecond ? ` (wall: ${row.wallRecordsPerSecond.toLocaleString("en-US")})` : "") +
      ` | ${row.wallSeconds.toFixed(2)} s | ${pct(row.processCpuPercent)} | ${pct(row.brokerPercent)} | ` +
      `${pct(row.machinePercent)} |`
    ),
    "",
    "| ratio (median of rounds; per round) | --producers 1 (default) | --producers 3 | --workers 2 | target |",
    "|---|---:|---:|---:|---:|",
    `| CLI / kcat -P | ${x(ratios.cliVsKcat)} | ${x(ratios.cli3VsKcat)} | ${x(ratios.cliW2VsKcat)} | >= 1x |`,
    `| CLI / Java ProducerPerformance | ${x(ratios.cliVsJava)} | ${x(ratios.cli3VsJava)} | ${
      x(ratios.cliW2VsJava)
    } | >= 2x |`,
  ];
  if (profile) lines.push("", profileText("CPU profile of a CLI backfill (6 partitions, --producers 1)", profile));
  return lines.join("\n") + "\n";
}

/**
 * Runs the console backfill once and writes its records to one file per topic and header set, as
 * `key<TAB>value` lines (value: the JSON text as the console printed it, which is the record's).
 */
async function recordFiles(
  ctx: BackfillContext,
  backfillArgs: string[],
): Promise<{ files: KcatFile[]; records: number; payloadBytes: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...ctx.simFlags, "main.ts", "--sink=console", ...backfillArgs],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const byGroup = new Map<string, { file: KcatFile; text: string[]; handle: Deno.FsFile }>();
  const encoder = new TextEncoder();
  let records = 0;
  let payload = 0;
  let tail = "";
  const flush = async (group: { text: string[]; handle: Deno.FsFile }) => {
    if (group.text.length === 0) return;
    await group.handle.write(encoder.encode(group.text.join("")));
    group.text = [];
  };
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    const lines = (tail + chunk).split("\n");
    tail = lines.pop()!;
    for (const line of lines) {
      // {"topic":..,"key":..,"headers":{..},"value":<the value's JSON text>}
      const at = line.indexOf(',"value":');
      const head = JSON.parse(line.slice(0, at) + "}") as {
        topic: string;
        key: string;
        headers?: Record<string, string>;
      };
      const value = line.slice(at + ',"value":'.length, -1);
      if (/[\t\n]/.test(head.key) || value.includes("\n")) throw new Error(`a record kcat cannot take: ${line}`);
      const headers = Object.entries(head.headers ?? {});
      const id = JSON.stringify([head.topic, headers]);
      let group = byGroup.get(id);
      if (group === undefined) {
        const path = `${ctx.scratch}/e2e-records-${byGroup.size}.txt`;
        const role = head.topic === "SENSOR_HEARTBEAT" ? "heartbeats" : "readings";
        group = {
          file: { path, role, headers, records: 0 },
          text: [],
          handle: await Deno.open(path, { write: true, create: true, truncate: true }),
        };
        byGroup.set(id, group);
      }
      group.text.push(`${head.key}\t${value}\n`);
      group.file.records++;
      records++;
      payload += head.key.length + value.length + headers.reduce((sum, [k, v]) => sum + k.length + v.length, 0);
      if (group.text.length >= 10_000) await flush(group);
    }
  }
  for (const group of byGroup.values()) {
    await flush(group);
    group.handle.close();
  }
  if (!(await child.status).success) throw new Error("the console backfill failed");
  return { files: [...byGroup.values()].map((g) => g.file), records, payloadBytes: Math.round(payload / records) };
}

function pct(value: number | null | undefined): string {
  return value === null || value === undefined ? "n/a" : `${value}%`;
}

/** A bash script that runs one `kcat -P` a file, all at once, and waits for them all. */
function kcatScript(brokers: string, files: KcatFile[], topics: { readings: string; heartbeats: string }): string {
  const q = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const runs = files.map((file) =>
    [
      "kcat -P -q",
      `-b ${q(brokers)}`,
      "-X enable.idempotence=true -X acks=all",
      `-t ${q(topics[file.role])}`,
      ...file.headers.map(([name, value]) => `-H ${q(`${name}=${value}`)}`),
      `-l -K '\\t' ${q(file.path)} &`,
    ].join(" ")
  );
  return `${runs.join("\n")}\nstatus=0; for job in $(jobs -p); do wait $job || status=1; done; exit $status`;
}

/**
 * Runs a command with its output discarded (stderr kept for a failure); its wall seconds and CPU
 * (user + system of it and its children, % of one core, through bash's view of its children).
 */
async function timed(
  command: string,
  args: string[],
): Promise<{ wallSeconds: number; cpuPercent?: number; fromMs: number; toMs: number }> {
  const fromMs = Date.now();
  const started = performance.now();
  const output = await new Deno.Command("bash", {
    args: ["-c", '"$0" "$@"; status=$?; cat /proc/$$/stat >&2; exit $status', command, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const wallSeconds = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr).trim().split("\n");
  const stat = stderr.pop() ?? "";
  if (!output.success) throw new Error(`${command} failed (exit ${output.code}): ${stderr.slice(-5).join(" | ")}`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[13]) + Number(fields[14])) / 100; // cutime, cstime in USER_HZ
  return {
    wallSeconds,
    cpuPercent: Number.isFinite(cpuSeconds) ? Math.round((cpuSeconds / wallSeconds) * 100) : undefined,
    fromMs,
    toMs: Date.now(),
  };
}

async function endOffsets(admin: KafkaAdmin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, { high }) => sum + Number(high), 0);
}
