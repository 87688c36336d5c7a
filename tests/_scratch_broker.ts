/**
 * Fault-test helpers: brokers of a test's own that it may stop and start, and the completeness
 * check every fault test applies from the consumer side.
 */
import assert from "node:assert/strict";
import { collect, type Consumed, runKafkaScript, spawnCli, uniqueTopic, waitFor } from "./_kafka.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The client port of scratch brokers (the controller's is the next one); KAFKA_SCRATCH_PORT moves them. */
export const SCRATCH_PORT = Number(Deno.env.get("KAFKA_SCRATCH_PORT") || 9392);

/** Where a scratch broker listens, and the address it tells clients to use. */
export interface ScratchBrokerOptions {
  /** Its client port (the controller's is the next one). */
  port?: number;
  /**
   * HOST:PORT the broker advertises (default: its own address): a proxy in front of it, so that
   * every connection a client opens after the bootstrap crosses the proxy.
   */
  advertised?: string;
  /** The address it listens on and advertises (default 127.0.0.1; `::1` for an IPv6 broker). */
  host?: string;
  /** Broker settings of its own, `key=value` each (`auto.create.topics.enable=false`). */
  properties?: string[];
}

/** A single-node broker in a temporary data dir, on ports of its own, for a test to stop and start. */
export class ScratchBroker {
  /** Its own address (bootstrap straight to the broker). */
  readonly brokers: string;
  /** The address it advertises: `brokers` unless a proxy stands in front of it. */
  readonly advertised: string;
  readonly #env: Record<string, string>;

  constructor({ port = SCRATCH_PORT, host = "127.0.0.1", properties = [], advertised }: ScratchBrokerOptions = {}) {
    this.brokers = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.advertised = advertised ?? this.brokers;
    this.#env = {
      KAFKA_HOST: host,
      KAFKA_EXTRA_PROPERTIES: properties.join("\n"),
      KAFKA_PORT: String(port),
      KAFKA_CONTROLLER_PORT: String(port + 1),
      KAFKA_ADVERTISED: this.advertised,
      KAFKA_DATA_DIR: Deno.makeTempDirSync({ prefix: "factory-sim-kafka-" }),
      KAFKA_HEAP_OPTS: "-Xmx384m",
    };
  }

  async start(): Promise<void> {
    await this.#script("start.sh");
    try {
      Deno.statSync(`${this.#env.KAFKA_DATA_DIR}/kafka.pid`);
    } catch {
      throw new Error(`port ${this.#env.KAFKA_PORT} is taken by a broker this test did not start: stop it first`);
    }
  }

  stop(): Promise<void> {
    return this.#script("stop.sh");
  }

  /** Stops the broker and deletes its data. */
  async dispose(): Promise<void> {
    await this.#script("stop.sh");
    await Deno.remove(this.#env.KAFKA_DATA_DIR, { recursive: true });
  }

  async #script(name: string, ...args: string[]): Promise<void> {
    await runKafkaScript(name, args, { env: this.#env });
  }
}

/** Runs `body` with a scratch broker started and a spool dir of its own; removes both after. */
export async function withScratchBroker(
  body: (broker: ScratchBroker, spoolDir: string) => Promise<void>,
  options: ScratchBrokerOptions = {},
): Promise<void> {
  const broker = new ScratchBroker(options);
  await broker.start();
  const spoolDir = Deno.makeTempDirSync({ prefix: "factory-sim-spool-" });
  try {
    await body(broker, spoolDir);
  } finally {
    await broker.dispose();
    Deno.removeSync(spoolDir, { recursive: true });
  }
}

/** The figures a fault test reports: what was sent, what a consumer received, and what went wrong. */
export interface Tally {
  sent: number;
  received: number;
  lost: number;
  duplicated: number;
  /** Records of a line seen after a later one of the same line (in partition order). */
  outOfOrder: number;
}

/** One production line's readings: `factoryId/sodaName`. */
export function lineOf(value: Record<string, unknown>): string {
  return `${value.factoryId}/${value.sodaName}`;
}

/**
 * Checks `readings` against `expected` (line → the number of readings it must have, counts 1..n):
 * every (factoryId, sodaName, count) exactly once, each line's counts in order within its partition.
 */
export function tallyReadings(readings: Consumed[], expected: Map<string, number>): Tally {
  const seen = new Map<string, number>();
  const lastCount = new Map<string, number>();
  let outOfOrder = 0;
  for (const record of readings) {
    const line = lineOf(record.value);
    const count = Number(record.value.count);
    const id = `${line}#${count}`;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (count < (lastCount.get(line) ?? 0)) outOfOrder++;
    lastCount.set(line, Math.max(count, lastCount.get(line) ?? 0));
  }
  let sent = 0;
  let lost = 0;
  for (const [line, total] of expected) {
    sent += total;
    for (let count = 1; count <= total; count++) if (!seen.has(`${line}#${count}`)) lost++;
  }
  let duplicated = 0;
  for (const n of seen.values()) duplicated += n - 1;
  return { sent, received: readings.length, lost, duplicated, outOfOrder };
}

/** The longest gap between two heartbeats of one sensor, and whether each sensor's are in order. */
export function heartbeatGaps(
  heartbeats: Consumed[],
): { maxGapMs: number; inOrder: boolean; sensors: number; where: string } {
  const bySensor = new Map<string, number[]>();
  for (const beat of heartbeats) {
    const times = bySensor.get(beat.key) ?? [];
    times.push(Date.parse(String(beat.value.timestamp)));
    bySensor.set(beat.key, times);
  }
  let maxGapMs = 0;
  let inOrder = true;
  let where = "";
  for (const [sensor, times] of bySensor) {
    for (let i = 1; i < times.length; i++) {
      if (times[i] < times[i - 1]) inOrder = false;
      if (times[i] - times[i - 1] > maxGapMs) {
        maxGapMs = times[i] - times[i - 1];
        where = `${sensor} between ${new Date(times[i - 1]).toISOString()} and ${new Date(times[i]).toISOString()}`;
      }
    }
  }
  return { maxGapMs, inOrder, sensors: bySensor.size, where };
}

/** The lines of `factory_config.json` (the CLI's default config) with their totals. */
export function configuredLines(): Map<string, number> {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}factory_config.json`)) as Record<
    string,
    { sodaName: string; number: number }[]
  >;
  const lines = new Map<string, number>();
  for (const [factoryId, entries] of Object.entries(config)) {
    for (const { sodaName, number } of entries) lines.set(`${factoryId}/${sodaName}`, number);
  }
  return lines;
}

/** The lines and counts seen per line, for a stopped run whose lines did not finish. */
export function producedPrefixes(readings: Consumed[]): Map<string, number> {
  const lines = new Map<string, number>();
  for (const record of readings) {
    const line = lineOf(record.value);
    lines.set(line, Math.max(lines.get(line) ?? 0, Number(record.value.count)));
  }
  return lines;
}

/**
 * Prints a fault test's figures on the test output (stderr): `[fault] NAME: sent ..., lost ...`,
 * then `; more` when given (figures of the fault itself).
 */
export function reportTally(name: string, tally: Tally, more?: string): void {
  const line = `[fault] ${name}: sent ${tally.sent}, received ${tally.received}, lost ${tally.lost}, ` +
    `duplicated ${tally.duplicated}, out of order ${tally.outOfOrder}${more ? `; ${more}` : ""}\n`;
  Deno.stderr.writeSync(new TextEncoder().encode(line));
}

/** Heartbeats come every 1-2 s of simulated time; a longer gap means some were lost. */
export const MAX_HEARTBEAT_GAP_MS = 2_000;

/** Asserts that a tally found nothing lost, duplicated or out of order. */
export function assertComplete(tally: Tally): void {
  assert.deepEqual(
    { lost: tally.lost, duplicated: tally.duplicated, outOfOrder: tally.outOfOrder },
    { lost: 0, duplicated: 0, outOfOrder: 0 },
  );
}

/** Asserts each sensor's heartbeats are in order and none is missing (no gap over 2 s). */
export function assertHeartbeatsComplete(heartbeats: Consumed[]): void {
  const gaps = heartbeatGaps(heartbeats);
  assert.ok(gaps.inOrder, "each sensor's heartbeats in order");
  assert.ok(gaps.maxGapMs <= MAX_HEARTBEAT_GAP_MS, `longest heartbeat gap ${gaps.maxGapMs} ms: ${gaps.where}`);
}

/** A simulator run on topics of its own, its output collected as it arrives. */
export interface LiveRun {
  child: Deno.ChildProcess;
  stderr: { current: string; done: Promise<string> };
  stdout: { current: string; done: Promise<string> };
  readingsTopic: string;
  heartbeatTopic: string;
}

/**
 * Starts a `--sink=kafka` run against `brokers` (with Deno `flags` instead of `deno task sim`'s
 * when given) and resolves once it has connected.
 */
export async function startRun(
  brokers: string,
  { name, args, spoolDir, flags }: { name: string; args: string[]; spoolDir?: string; flags?: string[] },
): Promise<LiveRun> {
  const readingsTopic = uniqueTopic(`${name}.readings`);
  const heartbeatTopic = uniqueTopic(`${name}.heartbeats`);
  const child = spawnCli([
    "--sink=kafka",
    `--brokers=${brokers}`,
    ...args,
    `--readings-topic=${readingsTopic}`,
    `--heartbeat-topic=${heartbeatTopic}`,
  ], { spoolDir, flags });
  const run = { child, stderr: collect(child.stderr), stdout: collect(child.stdout), readingsTopic, heartbeatTopic };
  try {
    await waitFor(() => run.stderr.current.includes("connected to Kafka"), 30_000);
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone: its output says why.
    }
    await finishRun(run);
    throw new Error(`the run did not connect within 30 s:\n${run.stderr.current}`);
  }
  return run;
}

/** Waits for the run to end; its exit code and its log. */
export async function finishRun(run: LiveRun): Promise<{ code: number; log: string }> {
  const { code } = await run.child.status;
  const log = await run.stderr.done;
  await run.stdout.done;
  return { code, log };
}
