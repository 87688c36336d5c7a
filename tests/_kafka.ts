/**
 * The real Kafka broker and the subprocess CLI, for end-to-end tests.
 *
 * `ensureBroker` finds a broker on KAFKA_TEST_BROKERS (default 127.0.0.1:9092), or starts the local
 * one with kafka/start.sh when Java and Maven are there. It never skips: no broker fails the test.
 * What landed in Kafka is read back with kcat, a client independent of the one under test.
 */
import denoJson from "../deno.json" with { type: "json" };

/** The broker the end-to-end tests use. */
export const BROKERS = Deno.env.get("KAFKA_TEST_BROKERS") ?? "127.0.0.1:9092";
const ROOT = new URL("..", import.meta.url).pathname;

let ready: Promise<void> | undefined;

/** Resolves once a broker serves metadata, starting the local one if needed. */
export function ensureBroker(): Promise<void> {
  ready ??= (async () => {
    if (await brokerAnswers()) return;
    for (const tool of ["java", "mvn"]) {
      if (!(await commandExists(tool))) {
        throw new Error(
          `no Kafka broker at ${BROKERS} and no ${tool} to start one: run 'deno task kafka:start' or set KAFKA_TEST_BROKERS`,
        );
      }
    }
    const start = await new Deno.Command("bash", {
      args: [`${ROOT}kafka/start.sh`],
      stdout: "inherit",
      stderr: "inherit",
    })
      .output();
    if (!start.success || !(await brokerAnswers())) {
      throw new Error(`kafka/start.sh could not start a broker at ${BROKERS}`);
    }
  })();
  return ready;
}

async function brokerAnswers(): Promise<boolean> {
  if (!(await commandExists("kcat"))) throw new Error("kcat is needed to read back from Kafka: apt-get install kcat");
  const { success } = await new Deno.Command("kcat", {
    args: ["-L", "-b", BROKERS, "-m", "3"],
    stdout: "null",
    stderr: "null",
  })
    .output();
  return success;
}

async function commandExists(name: string): Promise<boolean> {
  const { success } = await new Deno.Command("bash", { args: ["-c", `command -v ${name}`], stdout: "null" }).output();
  return success;
}

/** A topic name no other test run uses. */
export function uniqueTopic(prefix: string): string {
  return `test.${prefix}.${crypto.randomUUID().slice(0, 8)}`;
}

/** A readings and a heartbeat topic no other test run uses, and the flags naming them. */
export function uniqueTopics(prefix: string): { readings: string; heartbeats: string; flags: string[] } {
  const readings = uniqueTopic(`${prefix}-readings`);
  const heartbeats = uniqueTopic(`${prefix}-heartbeats`);
  return { readings, heartbeats, flags: [`--readings-topic=${readings}`, `--heartbeat-topic=${heartbeats}`] };
}

/** Writes `config` as factory_config.json in a new temporary directory; `remove` deletes it. */
export async function tempConfig(config: unknown): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "factory-sim-config-" });
  const path = `${dir}/factory_config.json`;
  await Deno.writeTextFile(path, JSON.stringify(config));
  return { path, remove: () => Deno.remove(dir, { recursive: true }) };
}

/** A record as kcat read it back. */
export interface Consumed {
  partition: number;
  offset: number;
  key: string;
  timestampMs: number;
  /** Record headers as kcat prints them: `name=value,name=value` ("" when none). */
  headers: string;
  value: Record<string, unknown>;
}

/** A record as kcat read it back, its value as the text kcat printed (`%s`: the bytes as written). */
export type ConsumedText = Omit<Consumed, "value"> & { value: string };

/** Every record of `topic` from the beginning, in partition then offset order (values parsed as JSON). */
export async function consumeAll(topic: string, brokers = BROKERS): Promise<Consumed[]> {
  return (await consumeAllText(topic, brokers)).map((record) => ({ ...record, value: JSON.parse(record.value) }));
}

/** Every record of `topic` from the beginning, in partition then offset order, values as kcat printed them. */
export async function consumeAllText(topic: string, brokers = BROKERS): Promise<ConsumedText[]> {
  // kcat -e stops at each partition's end as its fetches see it; on a loaded machine it has been
  // seen to stop short (154,031 of 191,028 records the broker had acknowledged and still held). The
  // partitions' end offsets, asked for first, say what is there: read again until it is all read.
  const ends = await endOffsets(topic, brokers);
  for (let attempt = 1;; attempt++) {
    const records = await readTopic(topic, brokers);
    const last = new Map<number, number>();
    for (const record of records) last.set(record.partition, Math.max(last.get(record.partition) ?? -1, record.offset));
    const short = [...ends].some(([partition, end]) => (last.get(partition) ?? -1) < end - 1);
    if (!short || attempt === 3) return records;
  }
}

/** What kcat prints on stdout; an error saying it could not do `what` when it fails. */
async function kcat(args: string[], what: string): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("kcat", { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!success) throw new Error(`kcat could not ${what}: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

/** Each partition of `topic` and its end offset (the offset its next record will get). */
export async function endOffsets(topic: string, brokers: string): Promise<Map<number, number>> {
  const metadata = JSON.parse(
    await kcat(["-L", "-J", "-b", brokers, "-t", topic, "-X", "allow.auto.create.topics=false"], `describe ${topic}`),
  ) as {
    topics: { partitions: { partition: number }[] }[];
  };
  const partitions = metadata.topics[0]?.partitions.map(({ partition }) => partition) ?? [];
  const ends = new Map<number, number>();
  if (partitions.length === 0) return ends;
  const queries = partitions.flatMap((p) => ["-t", `${topic}:${p}:-1`]);
  const offsets = await kcat(["-Q", "-b", brokers, ...queries], `read the end offsets of ${topic}`);
  for (const match of offsets.matchAll(/\[(\d+)\] offset (-?\d+)/g)) ends.set(Number(match[1]), Number(match[2]));
  return ends;
}

async function readTopic(topic: string, brokers: string): Promise<ConsumedText[]> {
  const format = "%p\t%o\t%k\t%T\t%h\t%s\n";
  const text = await kcat(
    ["-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", format],
    `read ${topic}`,
  );
  const records = text.split("\n").filter(Boolean).map((line) => {
    const [partition, offset, key, timestamp, headers, value] = line.split("\t");
    return {
      partition: Number(partition),
      offset: Number(offset),
      key,
      timestampMs: Number(timestamp),
      headers,
      value,
    };
  });
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/**
 * The permission flags of `deno task sim` (the compiled binary gets the same ones): its permission
 * set `sim` in deno.json, spelled as flags so a test can narrow one of them.
 */
export function simTaskFlags(): string[] {
  return ["--no-prompt", ...permissionFlags(denoJson.permissions.sim)];
}

/** A deno.json permission set as `--allow-*` flags (`true`: the whole permission; a list: those only). */
export function permissionFlags(set: Record<string, boolean | string[]>): string[] {
  return Object.entries(set).flatMap(([name, grant]) =>
    grant === true ? [`--allow-${name}`] : Array.isArray(grant) ? [`--allow-${name}=${grant.join(",")}`] : []
  );
}

/** Starts the CLI as `deno task sim` would, with piped stdout and stderr. */
export function spawnCli(
  args: string[],
  { flags = simTaskFlags(), env = {}, spoolDir }: {
    flags?: string[];
    env?: Record<string, string>;
    spoolDir?: string;
  } = {},
): Deno.ChildProcess {
  // Each run gets a spool of its own (a temporary one unless the test names it), so what one test
  // leaves in a spool cannot reach another; the task's write permission follows it.
  // The monitor has no spool.
  const ownSpool = spoolDir === undefined && args[0] !== "monitor" && !args.some((arg) => arg.startsWith("--spool-"));
  const dir = spoolDir ?? (ownSpool ? Deno.makeTempDirSync({ prefix: "factory-sim-spool-" }) : undefined);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags.map((flag) => flag.startsWith("--allow-write=") && dir ? `--allow-write=${dir}` : flag),
      `${ROOT}main.ts`,
      ...args,
      ...(dir && !args.some((arg) => arg.startsWith("--spool-dir")) ? [`--spool-dir=${dir}`] : []),
    ],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (ownSpool && dir) child.status.finally(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  return child;
}

/** Runs the CLI to its end. */
export async function runCli(
  args: string[],
  options: { flags?: string[]; env?: Record<string, string>; spoolDir?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await spawnCli(args, options).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** A child's output as it arrives (`current`) and in full once the stream ends (`done`). */
export function collect(stream: ReadableStream<Uint8Array>): { current: string; done: Promise<string> } {
  const state = { current: "", done: Promise.resolve("") };
  state.done = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) state.current += decoder.decode(chunk, { stream: true });
    return state.current;
  })();
  return state;
}

/** Polls `condition` every 50 ms; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs `bash kafka/<script> args...` from the repository root and returns its stdout; throws an
 * Error carrying its output when it fails.
 */
export async function runKafkaScript(
  script: string,
  args: string[],
  { env = {} }: { env?: Record<string, string> } = {},
): Promise<string> {
  const { success, code, stdout, stderr } = await new Deno.Command("bash", {
    args: [`${ROOT}kafka/${script}`, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    const detail = decoder.decode(stderr).trim() || decoder.decode(stdout).trim();
    throw new Error(`kafka/${script} ${args.join(" ")} failed (exit ${code}): ${detail}`);
  }
  return decoder.decode(stdout);
}
