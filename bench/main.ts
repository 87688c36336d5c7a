/**
 * `deno task bench`: the performance benchmarks of issue 4, against the local Kafka broker.
 *
 *   deno task bench                  # everything, ~10 min
 *   deno task bench --quick          # shorter steps and fewer rounds, ~3 min
 *   deno task bench --only throughput,start [--profile] [--json results.json]
 *   deno task bench --only formats [--schema-registry URL]
 *   deno task bench --only codecs
 *   deno task bench --only start [--baseline PATH]   # PATH: a checkout of another commit, launched alternately
 *   deno task bench --only workers [--baseline PATH] [--lines-steps 10,20,30,50@1.2] [--workers-speed 1.2]
 *   deno task bench --only memory [--memory-seconds 300]   # a longer measured window into Kafka
 *
 * 1. capacity    sensors simulated in real time (speed 1) into Kafka with p99 schedule lateness <= 50 ms
 * 2. throughput  backfill records/s against Kafka's Java producer benchmark, same broker, same run
 * 3. memory      RSS per extra simulated sensor (10k vs 100k, null sink); peak RSS at 100k into Kafka
 * 4. start       launch of `deno task sim --sink kafka` to the first record acknowledged, against Deno's
 *                own hello world launched alternately (and --baseline's tree, when given)
 * 5. spool       what a linger window committed to the spool costs, --spool-sync normal vs full
 * 6. formats     backfill records/s and bytes per record of --format json, avro, protobuf, json-schema
 *                (the CLI end to end; the Schema Registry at --schema-registry, started when none answers)
 * 7. codecs      backfill records/s and bytes on the wire per reading of --compression none, gzip, snappy,
 *                lz4, zstd (the CLI end to end; bytes: the topics' log sizes as the broker reports them)
 * 8. rate        a live `--rate N` run into Kafka: the rate achieved (its summary's, and Kafka's end offsets')
 *                against N, for the sample plant at three rates and a plant sized for speed 1
 * 9. workers     the CLI's real-time capacity: one thread, --workers 2, and --baseline's tree (one thread),
 *                alternating, at growing plants (bench/workers.ts)
 *
 * Every figure comes from a run in its own `deno run` subprocess (so RSS and CPU are per run), and
 * each comparison alternates its sides within this one run, because the machine is shared and
 * noisy. The broker is the one on --brokers (default 127.0.0.1:9092); when none answers there, the
 * local one is started with kafka/start.sh (and left running, as `deno task test` does). The
 * topics the benchmark creates are deleted at the end. Progress goes to stderr; the report
 * (markdown) to stdout. Where a target is missed, a CPU profile of the run says what bounds it.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import type { KafkaAdmin } from "../lib/kafka/admin.ts";
import { createTopicsWithLeaders } from "./_topics.ts";
import { loadKafka } from "../lib/kafka/load.ts";
import { CpuSampler, type CpuShare, describeMachine, localBrokerPid, type Machine } from "./_machine.ts";
import { type ProfileSummary, profileText, summarizeProfileDir } from "./_profile.ts";
import { backfillBenchmark } from "./backfill.ts";
import { DEFAULT_REGISTRY, formatsBenchmark } from "./formats.ts";
import { codecsBenchmark } from "./codecs.ts";
import { rateBenchmark } from "./rate.ts";
import { type CapacityTree, parseWorkersSteps, simFlagsOf, workersBenchmark } from "./workers.ts";
import { MAX_LINES_PER_FACTORY } from "../lib/run/options.ts";
import { median, round1 } from "./_stats.ts";
import { commitOf, TreeWatch } from "./_tree.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DEFAULT_BROKERS = "127.0.0.1:9092";
const KAFKA_VERSION = Deno.env.get("KAFKA_VERSION") ?? "4.1.1";
/** Issue 14's target: peak RSS at 100,000 sensors into Kafka. */
const KAFKA_PEAK_TARGET_MIB = 400;
/** The V8 flag docs/operations.md ("Memory") offers gateways short of memory, measured beside the shipped flags. */
const MEMORY_OPT_IN = "--heap-growing-percent=50";
const BENCHMARKS = [
  "capacity",
  "throughput",
  "backfill",
  "memory",
  "start",
  "spool",
  "formats",
  "codecs",
  "rate",
  "workers",
] as const;
type Benchmark = typeof BENCHMARKS[number];

/** The targets of issue 4 (the start's, of issue 14: launch to first ack over Deno's hello world). */
const TARGET = { latenessP99Ms: 50, sensors: 100_000, throughputRatio: 0.8, bytesPerSensor: 2048, startRatio: 4 };

/** The producers compared, in the order they alternate. */
const SIDES = [
  { side: "Java ProducerPerformance", tag: "java" },
  { side: "factory-sim", tag: "ours" },
  { side: "factory-sim, KafkaJS's stock varints", tag: "stock" },
] as const;

const encoder = new TextEncoder();
const progress = (line: string) => Deno.stderr.writeSync(encoder.encode(`[bench] ${line}\n`));

const { values } = parseArgs({
  args: Deno.args.filter((arg) => arg !== "--"),
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    brokers: { type: "string", default: DEFAULT_BROKERS },
    "schema-registry": { type: "string", default: DEFAULT_REGISTRY },
    steps: { type: "string" },
    "lines-steps": { type: "string" },
    "workers-speed": { type: "string" },
    "memory-seconds": { type: "string" },
    profile: { type: "boolean" },
    json: { type: "string" },
    baseline: { type: "string" },
  },
  strict: true,
});
const quick = values.quick;
const memoryKafkaSeconds = memorySeconds(values["memory-seconds"]) ?? (quick ? 10 : 15);
const brokers = values.brokers;
const only = new Set<Benchmark>(
  (values.only?.split(",") ?? BENCHMARKS).map((name) => {
    if (!(BENCHMARKS as readonly string[]).includes(name)) {
      throw new Error(`--only takes ${BENCHMARKS.join(",")}: got "${name}"`);
    }
    return name as Benchmark;
  }),
);
// Profiles are taken where a target is missed: always in a full run, on request in a quick one.
const profileMisses = values.profile ?? !quick;
const runId = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
const topicPrefix = `bench.${runId}`;
const scratch = Deno.makeTempDirSync({ prefix: "factory-sim-bench-" });

process.removeAllListeners("warning");
process.on("warning", () => {});

const report: string[] = [];
const results: Record<string, unknown> = { runId, quick };
let cpu: CpuSampler | undefined;
let admin: KafkaAdmin | undefined;

// The benchmarks that launch the CLI launch the tree again for every round.
const launched = new TreeWatch();
await launched.watch(ROOT);
if (values.baseline) await launched.watch(`${Deno.realPathSync(values.baseline)}/`);

try {
  const machine = await describeMachine();
  results.machine = machine;
  progress(`machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Deno ${machine.deno}`);
  const broker = await ensureBroker();
  const brokerPid = brokers === DEFAULT_BROKERS ? await localBrokerPid(ROOT) : undefined;
  cpu = new CpuSampler({ brokerPid, cores: machine.cores });
  admin = (await loadKafka("admin")).createKafkaAdmin({ clientId: "factory-sim-bench", brokers: brokers.split(",") });
  await admin.connect();
  report.push(header(machine, broker, brokerPid));

  if (only.has("capacity")) report.push(await capacity());
  if (only.has("throughput")) report.push(await throughput());
  else if (only.has("backfill")) report.push(await endToEnd());
  if (only.has("memory")) report.push(await memory());
  if (only.has("start")) report.push(await start());
  if (only.has("spool")) report.push(await spoolSync());
  if (only.has("formats")) {
    report.push(
      await formatsBenchmark({
        quick,
        brokers,
        registry: values["schema-registry"].replace(/\/+$/, ""),
        admin,
        topicPrefix,
        scratch,
        profileMisses,
        simFlags: simFlags(),
        progress,
        cpuBetween: (fromMs, toMs) => cpu!.between(fromMs, toMs),
        results,
      }),
    );
  }
  if (only.has("codecs")) {
    report.push(
      await codecsBenchmark({
        quick,
        brokers,
        admin,
        topicPrefix,
        scratch,
        simFlags: simFlags(),
        progress,
        cpuBetween: (fromMs, toMs) => cpu!.between(fromMs, toMs),
        results,
      }),
    );
  }
  if (only.has("rate")) {
    report.push(
      await rateBenchmark({ quick, brokers, admin, topicPrefix, scratch, simFlags: simFlags(), progress, results }),
    );
  }
  if (only.has("workers")) {
    const commit = await commitOf(ROOT);
    const trees: CapacityTree[] = [];
    if (values.baseline) {
      const root = `${Deno.realPathSync(values.baseline)}/`;
      trees.push({ label: `--baseline (${await commitOf(root)}), one thread`, root, extra: [] });
    }
    trees.push(
      { label: `this tree (${commit}), one thread`, root: ROOT, extra: [] },
      { label: `this tree (${commit}), --workers 2`, root: ROOT, extra: ["--workers", "2"] },
    );
    const steps = parseWorkersSteps(
      values["lines-steps"] ?? (quick ? "10,20,30" : "10,20,30,40,50"),
      workersSpeed(values["workers-speed"]),
      MAX_LINES_PER_FACTORY,
    );
    report.push(
      await workersBenchmark({
        quick,
        brokers,
        topicPrefix: `${topicPrefix}.workers`,
        trees,
        steps,
        progress,
        results,
      }),
    );
  }
} finally {
  await cpu?.stop();
  if (admin) {
    const mine = (await admin.listTopics()).filter((topic) => topic.startsWith(`${topicPrefix}.`));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => {});
    await admin.disconnect();
  }
  Deno.removeSync(scratch, { recursive: true });
}
const changed = await launched.changed();
for (const warning of changed) progress(warning);
report.splice(1, 0, ...changed.map((warning) => `**${warning}**\n`));
Deno.stdout.writeSync(encoder.encode(`${report.join("\n")}\n`));
if (values.json) Deno.writeTextFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);

// --- 1. Real-time capacity -------------------------------------------------------------------

interface CapacityResult {
  sensors: number;
  eventsPerSecond: number;
  ackedPerSecond: number;
  lateness: { meanMs: number; p50Ms: number; p99Ms: number; maxMs: number };
  latenessWholeRun: { p99Ms: number; maxMs: number };
  latenessCheck: { schedulerCount: number; schedulerMeanMs: number; schedulerMaxMs: number };
  cpuPercent: number;
  peakRssMiB: number;
  endRssMiB: number;
  unackedAtEnd: number;
  window: { fromMs: number; toMs: number };
}

async function capacity(): Promise<string> {
  const steps = values.steps?.split(",").map(Number) ??
    (quick ? [10_000, 50_000, 100_000] : [10_000, 25_000, 50_000, 75_000, 100_000, 125_000, 150_000]);
  const seconds = quick ? 10 : 20;
  const warmup = 5;
  const rows: (CapacityResult & CpuShare & { pass: boolean })[] = [];
  const runStep = async (sensors: number, profileDir?: string) => {
    progress(`capacity: ${sensors} sensors at speed 1 for ${warmup} + ${seconds} s${profileDir ? " (profiled)" : ""}`);
    const result = await worker<CapacityResult>("capacity.ts", [
      `--sensors=${sensors}`,
      `--seconds=${seconds}`,
      `--warmup=${warmup}`,
      `--brokers=${brokers}`,
      `--topic-prefix=${topicPrefix}.capacity.${sensors}${profileDir ? ".profiled" : ""}`,
      `--spool-dir=${scratch}/spool-capacity-${sensors}`,
    ], { permissions: kafkaWorkerPermissions(), profileDir, v8Flags: productV8Flags() || undefined });
    const row = { ...result, ...cpu!.between(result.window.fromMs, result.window.toMs) };
    progress(
      `  ${row.eventsPerSecond} events/s, ${row.ackedPerSecond} acked/s, lateness p50 ${row.lateness.p50Ms} ms ` +
        `p99 ${row.lateness.p99Ms} ms, CPU ${row.cpuPercent}%, broker ${row.brokerPercent ?? "?"}%, ` +
        `RSS ${row.peakRssMiB} MiB`,
    );
    return row;
  };
  for (const sensors of steps) {
    const row = await runStep(sensors);
    const pass = row.lateness.p99Ms <= TARGET.latenessP99Ms;
    rows.push({ ...row, pass });
    // The default steps go past the target to find the limit: the first miss ends them.
    if (!pass && !values.steps) break;
  }
  // One more step between the largest pass and the smallest miss (a full run only).
  const largestPass = rows.filter((row) => row.pass).at(-1);
  const firstMiss = rows.find((row) => !row.pass && (!largestPass || row.sensors > largestPass.sensors));
  if (!quick && !values.steps && firstMiss) {
    const low = largestPass?.sensors ?? 0;
    const mid = Math.round((low + firstMiss.sensors) / 2 / 5_000) * 5_000;
    if (mid > low && mid < firstMiss.sensors) {
      const row = await runStep(mid);
      rows.push({ ...row, pass: row.lateness.p99Ms <= TARGET.latenessP99Ms });
      rows.sort((a, b) => a.sensors - b.sensors);
    }
  }
  const capacitySensors = Math.max(0, ...rows.filter((row) => row.pass).map((row) => row.sensors));
  let profile: ProfileSummary | undefined;
  // The smallest step that misses the target is the one to explain.
  const profiledSensors = rows.find((row) => !row.pass)?.sensors ?? TARGET.sensors;
  if (capacitySensors < TARGET.sensors && profileMisses) {
    const dir = Deno.makeTempDirSync({ dir: scratch, prefix: "profile-capacity-" });
    await runStep(profiledSensors, dir);
    profile = summarizeProfileDir(dir);
  }
  results.capacity = { rows, capacitySensors, profile };

  const lines = [
    "## 1. Real-time capacity",
    "",
    `Speed 1, heartbeats plus one line per sensor, into Kafka through the product's sink with its defaults ` +
    `(acks=all, idempotent, linger 5 ms, 5,000 records a topic per request, 3 partitions, spool on). Each step in ` +
    `its own process: ${warmup} s warm-up, then ${seconds} s measured. Lateness: dispatch time minus due time of ` +
    `every event in the window. CPU in % of one core (machine: ${cpuMax()}%).`,
    "",
    "| sensors | events/s due | records/s acked | lateness p50 | p99 | max | p99 whole run | CPU factory-sim | CPU broker | CPU machine | peak RSS | p99 <= 50 ms |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ...rows.map((row) =>
      `| ${fmt(row.sensors)} | ${fmt(row.eventsPerSecond)} | ${fmt(row.ackedPerSecond)} | ${row.lateness.p50Ms} ms | ` +
      `${row.lateness.p99Ms} ms | ${row.lateness.maxMs} ms | ${row.latenessWholeRun.p99Ms} ms | ${row.cpuPercent}% | ` +
      `${pct(row.brokerPercent)} | ${pct(row.machinePercent)} | ${row.peakRssMiB} MiB | ${row.pass ? "yes" : "no"} |`
    ),
    "",
    `Capacity: **${fmt(capacitySensors)} sensors** (target ${fmt(TARGET.sensors)}: ` +
    `${capacitySensors >= TARGET.sensors ? "met" : "missed"}).`,
  ];
  if (profile) lines.push("", profileText(`CPU profile of the ${fmt(profiledSensors)}-sensor step`, profile));
  return lines.join("\n") + "\n";
}

// --- 2. Throughput ---------------------------------------------------------------------------

interface OursResult {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  payloadBytesPerRecord: number;
  valueBytesPerRecord: number;
  cpuPercent: number;
  peakRssMiB: number;
  window: { fromMs: number; toMs: number };
}

interface JavaResult {
  records: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  line: string;
  /** The JVM's CPU over its whole run (start-up included), % of one core. */
  processCpuPercent?: number;
  window: { fromMs: number; toMs: number };
}

async function throughput(): Promise<string> {
  const records = quick ? 200_000 : 500_000;
  const rounds = 2;
  const sensors = 1_000;
  const classpath = (await commandOutput("bash", [`${ROOT}bench/java_tools.sh`])).trim().split("\n").at(-1)!;
  const size = await payloadSize(sensors, records);
  progress(
    `throughput: ${fmt(records)} records a run; ours average ${size.payload} bytes of key + value + headers ` +
      `(value ${size.value}): Java records of ${size.payload} bytes`,
  );
  type Row = {
    partitions: number;
    round: number;
    side: string;
    tag: string;
    recordsPerSecond: number;
    mbPerSecond: number;
    processCpuPercent?: number;
  } & CpuShare;
  const rows: Row[] = [];
  for (const partitions of [1, 6]) {
    for (let round = 1; round <= rounds; round++) {
      for (const { side, tag } of SIDES) {
        const topic = `${topicPrefix}.throughput.p${partitions}.r${round}.${tag}`;
        await createTopic(topic, partitions);
        if (tag === "java") {
          const java = await runJava(classpath, { topic, records, recordSize: size.payload });
          rows.push({
            partitions,
            round,
            side,
            tag,
            recordsPerSecond: java.recordsPerSecond,
            mbPerSecond: java.mbPerSecond,
            processCpuPercent: java.processCpuPercent,
            ...cpu!.between(java.window.fromMs, java.window.toMs),
          });
        } else {
          const ours = await worker<OursResult>("throughput.ts", [
            `--topic=${topic}`,
            `--records=${records}`,
            `--sensors=${sensors}`,
            `--brokers=${brokers}`,
            `--spool-dir=${scratch}/spool-throughput`,
            ...(tag === "stock" ? ["--stock-varints"] : []),
          ], { permissions: kafkaWorkerPermissions() });
          rows.push({
            partitions,
            round,
            side,
            tag,
            recordsPerSecond: ours.recordsPerSecond,
            mbPerSecond: round1((ours.recordsPerSecond * ours.payloadBytesPerRecord) / 2 ** 20),
            processCpuPercent: ours.cpuPercent,
            ...cpu!.between(ours.window.fromMs, ours.window.toMs),
          });
        }
        const row = rows.at(-1)!;
        progress(
          `  ${partitions} partition(s), round ${round}, ${side}: ${fmt(row.recordsPerSecond)} records/s ` +
            `(${row.mbPerSecond} MB/s), broker CPU ${pct(row.brokerPercent)}, machine ${pct(row.machinePercent)}`,
        );
      }
    }
  }
  const ratios = [1, 6].map((partitions) => {
    const of = (tag: string, round: number) =>
      rows.find((row) => row.partitions === partitions && row.tag === tag && row.round === round)!.recordsPerSecond;
    const perRound = Array.from({ length: rounds }, (_, i) => of("ours", i + 1) / of("java", i + 1));
    const stockPerRound = Array.from({ length: rounds }, (_, i) => of("stock", i + 1) / of("java", i + 1));
    return { partitions, ratio: median(perRound), perRound, stock: median(stockPerRound) };
  });
  let profile: ProfileSummary | undefined;
  if (ratios.some((r) => r.ratio < TARGET.throughputRatio) && profileMisses) {
    const dir = Deno.makeTempDirSync({ dir: scratch, prefix: "profile-throughput-" });
    const topic = `${topicPrefix}.throughput.profiled`;
    await createTopic(topic, 6);
    progress("throughput: profiling one factory-sim run (6 partitions)");
    await worker<OursResult>("throughput.ts", [
      `--topic=${topic}`,
      `--records=${records}`,
      `--sensors=${sensors}`,
      `--brokers=${brokers}`,
      `--spool-dir=${scratch}/spool-throughput`,
    ], { permissions: kafkaWorkerPermissions(), profileDir: dir });
    profile = summarizeProfileDir(dir);
  }
  results.throughput = { records, payloadBytes: size, rows, ratios, profile };

  const lines = [
    "## 2. Throughput (backfill)",
    "",
    `${fmt(records)} records a run into a fresh topic, acks=all, no compression, idempotent, same broker. ` +
    `factory-sim: a ${fmt(sensors)}-sensor plant on the virtual clock through the product's sink (defaults: linger ` +
    `5 ms, 5,000 records a request, one request in flight), readings and heartbeats into the one topic; ` +
    `${size.payload} bytes a record on average (key ${
      size.payload - size.value - size.headers
    }, value ${size.value}, ` +
    `headers ${size.headers}). Java: \`org.apache.kafka.tools.ProducerPerformance\` (kafka-tools ${KAFKA_VERSION}, ` +
    `producer defaults: linger 5 ms, batch.size 16 KiB, 5 requests in flight) with --record-size ${size.payload}. ` +
    `Sides alternate: java, factory-sim, factory-sim with KafkaJS's stock varints, and again. MB = 2^20 bytes of ` +
    `payload. CPU in % of one core (machine: ${cpuMax()}%); Java's over its whole run, JVM start-up included.`,
    "",
    "| partitions | round | producer | records/s | MB/s | CPU producer | CPU broker | CPU machine |",
    "|---:|---:|---|---:|---:|---:|---:|---:|",
    ...rows.map((row) =>
      `| ${row.partitions} | ${row.round} | ${row.side} | ${fmt(row.recordsPerSecond)} | ${row.mbPerSecond} | ` +
      `${row.processCpuPercent === undefined ? "n/a" : `${row.processCpuPercent}%`} | ${pct(row.brokerPercent)} | ` +
      `${pct(row.machinePercent)} |`
    ),
    "",
    "| partitions | factory-sim / Java (median of rounds) | per round | with stock KafkaJS varints | target >= 0.8x |",
    "|---:|---:|---|---:|:---:|",
    ...ratios.map((r) =>
      `| ${r.partitions} | ${r.ratio.toFixed(2)}x | ${r.perRound.map((x) => x.toFixed(2)).join(", ")} | ` +
      `${r.stock.toFixed(2)}x | ${r.ratio >= TARGET.throughputRatio ? "met" : "missed"} |`
    ),
  ];
  if (profile) lines.push("", profileText("CPU profile of a factory-sim run (6 partitions)", profile));
  lines.push("", await endToEnd(classpath));
  return lines.join("\n") + "\n";
}

/** The CLI's backfill end to end against kcat -P and Java (`backfill.ts`); in `throughput`, or alone as `backfill`. */
async function endToEnd(classpath?: string): Promise<string> {
  classpath ??= (await commandOutput("bash", [`${ROOT}bench/java_tools.sh`])).trim().split("\n").at(-1)!;
  return await backfillBenchmark({
    quick,
    brokers,
    admin: admin!,
    topicPrefix,
    scratch,
    profileMisses,
    simFlags: simFlags(),
    progress,
    cpuBetween: (fromMs, toMs) => cpu!.between(fromMs, toMs),
    createTopic,
    java: (topic, records, recordSize) => runJava(classpath, { topic, records, recordSize }),
    results,
  });
}

/** Mean payload bytes (key + value + headers) of the first `records` records of the throughput plant. */
async function payloadSize(
  sensors: number,
  records: number,
): Promise<{ payload: number; value: number; headers: number }> {
  const { syntheticPlant } = await import("./_plant.ts");
  const { toRecords, DEFAULT_TOPICS } = await import("../lib/messages.ts");
  const { Rng } = await import("../lib/random.ts");
  const { Scheduler } = await import("../lib/scheduler.ts");
  const { runSimulation } = await import("../lib/simulation.ts");
  const controller = new AbortController();
  let count = 0;
  let payload = 0;
  let value = 0;
  let headers = 0;
  await runSimulation(syntheticPlant(sensors), {
    scheduler: new Scheduler({ startMs: Date.now() - 86_400_000, mode: "virtual" }),
    rng: new Rng(1),
    signal: controller.signal,
    emit: (events) => {
      for (const record of toRecords(events, DEFAULT_TOPICS)) {
        const headerBytes = Object.entries(record.headers ?? {}).reduce((sum, [k, v]) => sum + k.length + v.length, 0);
        payload += record.key.length + record.value.length + headerBytes;
        value += record.value.length;
        headers += headerBytes;
        count++;
      }
      if (count >= records) controller.abort();
    },
  });
  return {
    payload: Math.round(payload / count),
    value: Math.round(value / count),
    headers: Math.round(headers / count),
  };
}

async function runJava(
  classpath: string,
  { topic, records, recordSize }: { topic: string; records: number; recordSize: number },
): Promise<JavaResult> {
  const fromMs = Date.now();
  // Through bash, which reports its children's CPU time (cutime, cstime) once Java has exited.
  const output = await new Deno.Command("bash", {
    args: [
      "-c",
      'java "$@"; status=$?; cat /proc/$$/stat >&2; exit $status',
      "java",
      "-Xmx512m",
      `-Dkafka.logs.dir=${scratch}/java-logs`,
      `-Dlog4j2.configurationFile=${ROOT}kafka/log4j2.properties`,
      "-cp",
      classpath,
      "org.apache.kafka.tools.ProducerPerformance",
      "--topic",
      topic,
      "--num-records",
      String(records),
      "--record-size",
      String(recordSize),
      "--throughput",
      "-1",
      "--producer-props",
      `bootstrap.servers=${brokers}`,
      "acks=all",
      "compression.type=none",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const toMs = Date.now();
  const text = new TextDecoder().decode(output.stdout);
  const stat = new TextDecoder().decode(output.stderr).trim().split("\n").at(-1) ?? "";
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[13]) + Number(fields[14])) / 100; // cutime, cstime in USER_HZ
  const processCpuPercent = Number.isFinite(cpuSeconds)
    ? Math.round((cpuSeconds / ((toMs - fromMs) / 1000)) * 100)
    : undefined;
  const line = text.split("\n").filter((row) => / records sent, .* records\/sec /.test(row)).at(-1);
  const match = line && /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(line);
  if (!output.success || !match) {
    throw new Error(
      `ProducerPerformance failed: ${text.slice(-500)}${new TextDecoder().decode(output.stderr).slice(-500)}`,
    );
  }
  return {
    records: Number(match[1]),
    recordsPerSecond: Math.round(Number(match[2])),
    mbPerSecond: Number(match[3]),
    line,
    processCpuPercent,
    window: { fromMs, toMs },
  };
}

// --- 3. Memory -------------------------------------------------------------------------------

interface MemoryResult {
  sensors: number;
  events: number;
  peakRssBytes: number;
  endRssBytes: number;
  liveHeapBytes: number;
  cpuPercent: number;
}

async function memory(): Promise<string> {
  const seconds = quick ? 8 : 15;
  // Three rounds: peak RSS depends on when V8 happens to collect, and a median of three ignores
  // the one round in which it collected late.
  const rounds = quick ? 1 : 3;
  const sizes = [10_000, 100_000];
  const variants = memoryVariants().map(({ name, v8Flags }) => ({ name, v8Flags: withFlags("--expose-gc", v8Flags) }));
  const runs: (MemoryResult & { variant: string; round: number })[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      for (const sensors of sizes) {
        progress(`memory: ${fmt(sensors)} sensors, ${variant.name}, ${seconds} s (round ${round})`);
        const result = await worker<MemoryResult>("memory.ts", [`--sensors=${sensors}`, `--seconds=${seconds}`], {
          permissions: [],
          v8Flags: variant.v8Flags,
        });
        progress(
          `  peak RSS ${mibText(result.peakRssBytes)}, end RSS ${mibText(result.endRssBytes)}, live heap ` +
            `${mibText(result.liveHeapBytes)}, CPU ${result.cpuPercent}%`,
        );
        runs.push({ ...result, variant: variant.name, round });
      }
    }
  }
  const summary = variants.map(({ name }) => {
    const of = (sensors: number, key: keyof MemoryResult) =>
      median(runs.filter((run) => run.variant === name && run.sensors === sensors).map((run) => run[key]));
    const perSensor = (key: keyof MemoryResult) => (of(100_000, key) - of(10_000, key)) / 90_000;
    return {
      variant: name,
      small: {
        peakRss: of(10_000, "peakRssBytes"),
        liveHeap: of(10_000, "liveHeapBytes"),
        cpu: of(10_000, "cpuPercent"),
      },
      large: {
        peakRss: of(100_000, "peakRssBytes"),
        liveHeap: of(100_000, "liveHeapBytes"),
        cpu: of(100_000, "cpuPercent"),
      },
      peakRssPerSensor: Math.round(perSensor("peakRssBytes")),
      endRssPerSensor: Math.round(perSensor("endRssBytes")),
      liveHeapPerSensor: Math.round(perSensor("liveHeapBytes")),
    };
  });
  const kafka = await memoryIntoKafka();
  results.memory = { seconds, runs, summary, kafka: kafka.results };
  return [
    "## 3. Memory",
    "",
    `Null sink: each run simulates its sensors (one line each) at speed 1 for ${seconds} s and turns every event into ` +
    `its record, then drops it (no console, no Kafka client loaded). Peak RSS is sampled every 100 ms after the ` +
    `first second; the live heap is read after two forced full GCs with the plant still running. Per extra ` +
    `sensor = (100k figure - 10k figure) / 90,000; medians of ${rounds} round(s), the sizes and variants alternating.`,
    "",
    "| V8 flags | peak RSS 10k | peak RSS 100k | **peak RSS per extra sensor** | live heap 10k | live heap 100k | live heap per extra sensor | CPU 100k | target <= 2 KB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ...summary.map((s) =>
      `| ${s.variant} | ${mibText(s.small.peakRss)} | ${mibText(s.large.peakRss)} | ` +
      `**${kb(s.peakRssPerSensor)}** | ${mibText(s.small.liveHeap)} | ${mibText(s.large.liveHeap)} | ` +
      `${kb(s.liveHeapPerSensor)} | ${s.large.cpu}% | ${
        s.peakRssPerSensor <= TARGET.bytesPerSensor ? "met" : "missed"
      } |`
    ),
    "",
    ...kafka.report,
  ].join("\n");
}

/**
 * Peak RSS at 100,000 sensors into Kafka (the capacity worker: speed 1, the product's sink and
 * defaults), with V8's defaults and with the flags the product ships, alternating within each round.
 */
async function memoryIntoKafka(): Promise<{ report: string[]; results: unknown }> {
  const sensors = 100_000;
  const rounds = quick ? 1 : 3;
  const seconds = memoryKafkaSeconds;
  const warmup = 5;
  const variants = memoryVariants().map((variant) => ({ ...variant, v8Flags: variant.v8Flags || undefined }));
  const runs: (CapacityResult & { variant: string; round: number; endHeapUsedMiB: number })[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const [i, variant] of variants.entries()) {
      progress(
        `memory into Kafka: ${fmt(sensors)} sensors, ${variant.name}, ${warmup} + ${seconds} s (round ${round})`,
      );
      const result = await worker<CapacityResult & { endHeapUsedMiB: number }>("capacity.ts", [
        `--sensors=${sensors}`,
        `--seconds=${seconds}`,
        `--warmup=${warmup}`,
        `--brokers=${brokers}`,
        `--topic-prefix=${topicPrefix}.memory.kafka.r${round}.v${i}`,
        `--spool-dir=${scratch}/spool-memory-kafka-${round}-${i}`,
      ], { permissions: kafkaWorkerPermissions(), v8Flags: variant.v8Flags });
      progress(
        `  peak RSS ${result.peakRssMiB} MiB, heap at the end ${result.endHeapUsedMiB} MiB, ` +
          `p99 lateness ${result.lateness.p99Ms} ms, CPU ${result.cpuPercent}%`,
      );
      runs.push({ ...result, variant: variant.name, round });
    }
  }
  const summary = variants.map(({ name }) => {
    const mine = runs.filter((run) => run.variant === name);
    const of = (pick: (run: typeof runs[number]) => number) => median(mine.map(pick));
    return {
      variant: name,
      peakRssMiB: of((run) => run.peakRssMiB),
      perRound: mine.map((run) => run.peakRssMiB),
      endHeapUsedMiB: of((run) => run.endHeapUsedMiB),
      p99Ms: of((run) => run.lateness.p99Ms),
      eventsPerSecond: of((run) => run.eventsPerSecond),
      cpuPercent: of((run) => run.cpuPercent),
    };
  });
  const defaults = summary[0];
  const shipped = summary.find((s) => s.variant === variants.find((variant) => variant.shipped)?.name);
  return {
    results: { sensors, seconds, warmup, runs, summary },
    report: [
      `Into Kafka: ${fmt(sensors)} sensors at speed 1 through the product's sink (the capacity worker: ${warmup} s ` +
      `warm-up, then ${seconds} s measured; RSS sampled every 250 ms over the whole run), with V8's defaults, the ` +
      `flags the product ships (\`deno task sim\`, the binaries) and those with the opt-in ${MEMORY_OPT_IN}, ` +
      `alternating; medians of ${rounds} round(s).`,
      "",
      "| V8 flags | **peak RSS** | per round | heap used at the end | events/s | p99 lateness | CPU | target <= 400 MiB |",
      "|---|---:|---|---:|---:|---:|---:|:---:|",
      ...summary.map((s) =>
        `| ${s.variant} | **${s.peakRssMiB} MiB** | ${s.perRound.join(", ")} | ${s.endHeapUsedMiB} MiB | ` +
        `${fmt(s.eventsPerSecond)} | ${s.p99Ms} ms | ${s.cpuPercent}% | ${
          s.peakRssMiB <= KAFKA_PEAK_TARGET_MIB ? "met" : "missed"
        } |`
      ),
      "",
      shipped
        ? `Shipped / V8's defaults, peak RSS: **${round1(shipped.peakRssMiB / defaults.peakRssMiB)}x**.`
        : "The product ships V8's defaults.",
      "",
    ],
  };
}

// --- 4. Start --------------------------------------------------------------------------------

/** A tree whose `main.ts` the start benchmark launches: this one, or `--baseline`'s checkout. */
interface Tree {
  label: string;
  root: string;
}

async function start(): Promise<string> {
  const runs = quick ? 5 : 9;
  const existing = `${topicPrefix}.start`;
  await createTopic(`${existing}.readings`, 3);
  await createTopic(`${existing}.heartbeats`, 3);
  const hello = `${scratch}/hello.ts`;
  Deno.writeTextFileSync(hello, 'console.error("hello");\n');
  const trees: Tree[] = [{ label: `this tree (${await commitOf(ROOT)})`, root: ROOT }];
  if (values.baseline) {
    const root = `${Deno.realPathSync(values.baseline)}/`;
    trees.push({ label: `--baseline (${await commitOf(root)})`, root });
  }
  progress("start: one launch of each to warm the module caches (not counted)");
  await launchHello(hello);
  for (const tree of trees) await launchSim(tree, existing);
  const rows: {
    tree: string;
    topics: string;
    run: number;
    connectedMs: number;
    firstAckMs: number;
    internalMs: number;
    cpuMs: number;
  }[] = [];
  const hellos: number[] = [];
  const helloCpus: number[] = [];
  for (let run = 1; run <= runs; run++) {
    // Deno's own hello world and each tree, alternating: the ratios compare launches of one moment.
    const { lineMs, cpuMs } = await launchHello(hello);
    hellos.push(lineMs);
    helloCpus.push(cpuMs);
    for (const tree of run % 2 ? trees : [...trees].reverse()) {
      for (const topics of ["existing", "created by the run"]) {
        const prefix = topics === "existing" ? existing : `${topicPrefix}.start.${trees.indexOf(tree)}.new${run}`;
        const timing = await launchSim(tree, prefix);
        rows.push({ tree: tree.label, topics, run, ...timing });
        progress(
          `  run ${run}, ${tree.label}, topics ${topics}: connected after ${timing.connectedMs} ms, first ack after ` +
            `${timing.firstAckMs} ms (${timing.internalMs} ms by the process's own clock, ${timing.cpuMs} ms CPU); ` +
            `hello world ${hellos.at(-1)} ms (${helloCpus.at(-1)} ms CPU)`,
        );
      }
    }
  }
  const helloMs = median(hellos);
  // A hello world may exit before its CPU is read (/proc gone): the rounds where it was read.
  const helloCpuMs = median(helloCpus.filter(Number.isFinite));
  const summary = trees.flatMap((tree) =>
    ["existing", "created by the run"].map((topics) => {
      const mine = rows.filter((row) => row.tree === tree.label && row.topics === topics);
      const of = (key: "connectedMs" | "firstAckMs" | "internalMs" | "cpuMs") => median(mine.map((row) => row[key]));
      const all = mine.map((row) => row.firstAckMs);
      return {
        tree: tree.label,
        topics,
        connectedMs: of("connectedMs"),
        firstAckMs: of("firstAckMs"),
        internalMs: of("internalMs"),
        cpuMs: of("cpuMs"),
        min: Math.min(...all),
        max: Math.max(...all),
        // Each launch against the hello world of its own round, then the median of those.
        ratio: round1(median(mine.map((row) => row.firstAckMs / hellos[row.run - 1]))),
      };
    })
  );
  results.start = { helloMs, hellos, helloCpuMs, helloCpus, rows, summary };
  const sim = simFlags().join(" ");
  return [
    "## 4. Start",
    "",
    `\`deno run ${sim.length > 60 ? "<the flags of deno task sim>" : sim} main.ts --sink kafka --log-level debug\` ` +
    `(the sample config, 3 factories), warm module cache, ${runs} rounds. Time from spawning the process to ` +
    `the line \`connected to Kafka\` and to the line \`first records acknowledged\` (lib/sinks/delivery.ts, debug ` +
    `level) on its stderr; "own clock" is the process's \`performance.now()\` when it logs that line (it starts after ` +
    `the runtime has loaded). Each round launches Deno's own hello world first (\`deno run --quiet --no-prompt ` +
    `hello.ts\`, one \`console.error\`, timed from spawn to its line: median **${helloMs} ms**), then each tree` +
    `${trees.length > 1 ? " (their order alternating by round)" : ""}; "x hello" is the median over rounds of a ` +
    `launch's time over its round's hello world. "CPU" is the process's user and system time when its line arrives ` +
    `(/proc, 10 ms ticks; hello world: median **${helloCpuMs} ms**), which what else runs on the machine moves less ` +
    `than wall time.`,
    "",
    `| tree | topics | connected (median) | first record acknowledged (median) | min | max | own clock | CPU | ` +
    `x hello | CPU x hello's | target <= ${TARGET.startRatio}x |`,
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ...summary.map((s) =>
      `| ${s.tree} | ${s.topics} | ${s.connectedMs} ms | **${s.firstAckMs} ms** | ${s.min} ms | ${s.max} ms | ` +
      `${s.internalMs} ms | ${s.cpuMs} ms | **${s.ratio}x** | ${round1(s.cpuMs / helloCpuMs)}x | ` +
      `${s.ratio <= TARGET.startRatio ? "met" : "missed"} |`
    ),
    "",
  ].join("\n");
}

/** Launches Deno's own hello world as the simulator is launched; ms from spawn to its line, and its CPU then. */
async function launchHello(script: string): Promise<{ lineMs: number; cpuMs: number }> {
  const startedMs = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", script],
    cwd: scratch,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let lineMs = NaN;
  let cpuMs = NaN;
  for await (const chunk of child.stderr) {
    if (Number.isNaN(lineMs) && new TextDecoder().decode(chunk).includes("\n")) {
      lineMs = Math.round(performance.now() - startedMs);
      cpuMs = await cpuMsOf(child.pid);
    }
  }
  if (!(await child.status).success || Number.isNaN(lineMs)) throw new Error("Deno's hello world failed");
  return { lineMs, cpuMs };
}

/** Launches `tree`'s simulator as `deno task sim` would and times its start; stops it once it has acknowledgements. */
async function launchSim(
  tree: Tree,
  prefix: string,
): Promise<{ connectedMs: number; firstAckMs: number; internalMs: number; cpuMs: number }> {
  const spoolDir = Deno.makeTempDirSync({ dir: scratch, prefix: "spool-start-" });
  const startedMs = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...simFlags(),
      // The permission set grants ./factory-sim-spool; each launch has a new spool of its own.
      `--allow-write=${spoolDir}`,
      `${tree.root}main.ts`,
      "--sink=kafka",
      `--brokers=${brokers}`,
      "--log-level=debug",
      "--seed=1",
      `--readings-topic=${prefix}.readings`,
      `--heartbeat-topic=${prefix}.heartbeats`,
      `--spool-dir=${spoolDir}`,
    ],
    cwd: tree.root,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let connectedMs = NaN;
  let firstAckMs = NaN;
  let internalMs = NaN;
  let cpuMs = NaN;
  let tail = "";
  const decoder = new TextDecoder();
  const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    for await (const chunk of child.stderr) {
      const nowMs = Math.round(performance.now() - startedMs);
      tail += decoder.decode(chunk, { stream: true });
      const lines = tail.split("\n");
      tail = lines.pop()!;
      for (const line of lines) {
        if (Number.isNaN(connectedMs) && /connected to Kafka/.test(line)) connectedMs = nowMs;
        const ack = /first records acknowledged (\d+) ms/.exec(line);
        if (ack && Number.isNaN(firstAckMs)) {
          firstAckMs = nowMs;
          internalMs = Number(ack[1]);
          cpuMs = await cpuMsOf(child.pid);
          child.kill("SIGTERM");
        }
        if (/^(error|warning):/.test(line)) progress(`  sim: ${line}`);
      }
    }
  } finally {
    clearTimeout(timeout);
    await child.status;
  }
  if (Number.isNaN(firstAckMs)) throw new Error("the simulator exited before its first acknowledgement");
  return { connectedMs, firstAckMs, internalMs, cpuMs };
}

/**
 * CPU time (user and system, ms; 10 ms ticks) the process `pid` has used so far, from /proc (read
 * through `cat`, as `_machine.ts` does): less moved than wall time by what else the machine runs.
 */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await commandOutput("cat", [`/proc/${pid}/stat`]).catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The permission flags of `deno task sim`. */
// --- 5. Spool sync ----------------------------------------------------------------------------

interface SpoolSyncResult {
  sync: string;
  records: number;
  windows: number;
  msPerWindow: number;
  p50Ms: number;
  p99Ms: number;
  windowsPerSecond: number;
}

async function spoolSync(): Promise<string> {
  const rounds = quick ? 3 : 7;
  const windows = quick ? 200 : 500;
  // In the working directory, where the default --spool-dir is: /tmp may be a tmpfs, where a sync
  // costs nothing.
  const base = Deno.makeTempDirSync({ dir: ROOT, prefix: ".bench-spool-" });
  const filesystem = (await commandOutput("df", ["-T", base])).trim().split("\n").at(-1)!.split(/\s+/)[1];
  const sizes = [50, 1_000];
  const runs: (SpoolSyncResult & { round: number })[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const records of sizes) {
        for (const sync of round % 2 ? ["normal", "full"] : ["full", "normal"]) {
          const dir = `${base}/${sync}-${records}-${round}`;
          const result = await worker<SpoolSyncResult>(
            "spool_sync.ts",
            [`--sync=${sync}`, `--dir=${dir}`, `--records=${records}`, `--windows=${windows}`],
            { permissions: [`--allow-read=${base}`, `--allow-write=${base}`] },
          );
          progress(`spool: ${sync}, windows of ${records} records: ${result.msPerWindow} ms a window (round ${round})`);
          runs.push({ ...result, round });
          Deno.removeSync(dir, { recursive: true });
        }
      }
    }
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
  const of = (sync: string, records: number, key: "msPerWindow" | "p50Ms" | "p99Ms") =>
    median(runs.filter((run) => run.sync === sync && run.records === records).map((run) => run[key]));
  results.spool = { filesystem, rounds, windows, runs };
  return [
    "## 5. Spool sync",
    "",
    `What committing one linger window to the spool costs (\`Spool.append\`: one transaction), with ` +
    `\`--spool-sync normal\` (SQLite WAL, synchronous=NORMAL: no sync per commit) and \`full\` (a sync of the log per ` +
    `commit). Each run is its own process writing ${windows} windows of readings (about 330 bytes each) to a new ` +
    `spool on the working directory's filesystem (${filesystem}); medians of ${rounds} rounds, the modes alternating.`,
    "",
    "| records a window | normal: ms a window (p50, p99) | full: ms a window (p50, p99) | full / normal |",
    "|---:|---:|---:|---:|",
    ...sizes.map((records) =>
      `| ${records} | ${of("normal", records, "msPerWindow")} (${of("normal", records, "p50Ms")}, ` +
      `${of("normal", records, "p99Ms")}) | ${of("full", records, "msPerWindow")} (${of("full", records, "p50Ms")}, ` +
      `${of("full", records, "p99Ms")}) | ${
        round1(of("full", records, "msPerWindow") / of("normal", records, "msPerWindow"))
      }x |`
    ),
    "",
  ].join("\n");
}

/**
 * The V8 flags the product ships with (`--v8-flags=` of `deno task sim`, the same in the compiled
 * binaries: tests/tasks_test.ts holds them equal), "" when none.
 */
export function productV8Flags(): string {
  const flag = simFlags().find((word) => word.startsWith("--v8-flags="));
  return flag?.slice("--v8-flags=".length) ?? "";
}

/**
 * The V8 flags the memory benchmarks compare, alternating: V8's defaults, the product's (when it
 * ships any: `shipped` marks them), and the product's with the opt-in docs/operations.md offers
 * gateways short of memory.
 */
function memoryVariants(): { name: string; v8Flags: string; shipped: boolean }[] {
  const shipped = productV8Flags();
  return [
    { name: "V8's defaults", v8Flags: "", shipped: false },
    ...(shipped === "" ? [] : [{ name: `as shipped (${shipped})`, v8Flags: shipped, shipped: true }]),
    {
      name: `${shipped === "" ? "" : "as shipped + "}${MEMORY_OPT_IN}`,
      v8Flags: withFlags(shipped, MEMORY_OPT_IN),
      shipped: false,
    },
  ];
}

/** `--memory-seconds`: the measured window of the memory benchmark's runs into Kafka, if given. */
function memorySeconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!(Number.isInteger(seconds) && seconds >= 1 && seconds <= 3_600)) {
    throw new Error(`--memory-seconds: whole seconds from 1 to 3600, got ${text}`);
  }
  return seconds;
}

/** `--workers-speed`: the `--speed` of every workers step without its own `@S` (1 when not given). */
function workersSpeed(text: string | undefined): number {
  const speed = Number(text ?? 1);
  if (!(speed > 0 && Number.isFinite(speed))) throw new Error(`--workers-speed: a speed > 0, got ${text}`);
  return speed;
}

/** V8 flags joined for `--v8-flags=` (either side may be empty). */
function withFlags(...flags: string[]): string {
  return flags.filter((flag) => flag !== "").join(",");
}

function simFlags(): string[] {
  return simFlagsOf(ROOT);
}

// --- Shared ----------------------------------------------------------------------------------

/** Starts the local broker when none answers on --brokers (only for the default address). */
async function ensureBroker(): Promise<string> {
  if (await brokerAnswers()) return "already running";
  if (brokers !== DEFAULT_BROKERS) throw new Error(`no Kafka broker answers on ${brokers}`);
  progress(`no broker on ${brokers}: starting the local one with kafka/start.sh`);
  const status = await new Deno.Command("bash", {
    args: [`${ROOT}kafka/start.sh`],
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  if (!status.success || !(await brokerAnswers())) throw new Error("kafka/start.sh could not start a broker");
  return "started by this run with kafka/start.sh (left running; `deno task kafka:stop` stops it)";
}

async function brokerAnswers(): Promise<boolean> {
  const probe = (await loadKafka("admin")).createKafkaAdmin({
    clientId: "factory-sim-bench",
    brokers: brokers.split(","),
    connectTimeoutMs: 2_000,
    retries: 0,
  });
  try {
    await probe.connect();
    await probe.describeCluster();
    return true;
  } catch {
    return false;
  } finally {
    await probe.disconnect().catch(() => {});
  }
}

async function createTopic(topic: string, partitions: number): Promise<void> {
  await createTopicsWithLeaders(admin!, [topic], {
    partitions,
    configEntries: [{ name: "message.timestamp.after.max.ms", value: "9223372036854775807" }],
  });
}

function kafkaWorkerPermissions(): string[] {
  return [`--allow-net=${brokers}`, "--allow-read", `--allow-write=${scratch}`, "--allow-env"];
}

/** Runs a worker script in its own `deno run` and returns the JSON line it prints. */
async function worker<T>(
  script: string,
  args: string[],
  { permissions, v8Flags, profileDir }: { permissions: string[]; v8Flags?: string; profileDir?: string },
): Promise<T> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...permissions,
      ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
      ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
      `${ROOT}bench/${script}`,
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) throw new Error(`bench/${script} ${args.join(" ")} failed (exit ${output.code}): ${text}`);
  return JSON.parse(text.split("\n").at(-1)!) as T;
}

async function commandOutput(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "inherit" }).output();
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed (exit ${output.code})`);
  return new TextDecoder().decode(output.stdout);
}

function header(machine: Machine, broker: string, brokerPid: number | undefined): string {
  return [
    `# factory-sim benchmarks (${quick ? "quick" : "full"} run ${runId})`,
    "",
    `- Machine: ${machine.cores} cores (\`nproc\`), ${machine.cpuModel} (/proc/cpuinfo), ${machine.memoryGiB} GiB RAM, ` +
    `${machine.os}; load average at start ${machine.loadAverage.join(", ")}`,
    `- Deno ${machine.deno} (V8 ${machine.v8}); ${machine.java}; Kafka ${KAFKA_VERSION}, one local broker ` +
    `(KRaft, broker+controller in one JVM, kafka/start.sh) on ${brokers}: ${broker}` +
    (brokerPid ? ` (pid ${brokerPid})` : " (pid unknown: no broker CPU figures)"),
    `- Broker, benchmark and the producers share the machine's ${machine.cores} cores.`,
    "",
  ].join("\n");
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

function pct(value: number | null | undefined): string {
  return value === null || value === undefined ? "n/a" : `${value}%`;
}

function mibText(bytes: number): string {
  return `${round1(bytes / 2 ** 20)} MiB`;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(2)} KB`;
}

function cpuMax(): number {
  return navigator.hardwareConcurrency * 100;
}
