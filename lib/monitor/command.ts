/**
 * `factory-sim monitor`: consumes the readings and heartbeat topics (and the labels topic, with
 * `--labels-topic`) and shows what landed, as a
 * table (redrawn in place on a terminal), as JSON lines (`--json`) and on a live web dashboard
 * (`--web`), every `--interval`, until a stop signal.
 */
import { type ProcessIo, StdoutError } from "../io.ts";
import { loadKafka } from "../kafka/load.ts";
import { announce, log } from "../log.ts";
import { readRegistryAccess } from "../formats/access.ts";
import { readSecurity } from "../security.ts";
import { colorAllowed } from "../status.ts";
import { renderMonitor } from "./render.ts";
import type { MonitorOptions } from "./options.ts";
import { MonitorState, type Snapshot } from "./state.ts";
import { dashboardViews } from "./view.ts";
import { type Dashboard, serveDashboard } from "./web.ts";
import { shown } from "../text.ts";

/** How long the monitor tries to reach Kafka before giving up. */
const CONNECT_TIMEOUT_MS = 10_000;

/** What the monitor needs of the process, injectable for tests. */
export type MonitorIo =
  & Pick<ProcessIo, "env" | "stdout" | "stdoutIsTerminal" | "consoleSize" | "signal" | "checkNet" | "now">
  & {
    /** Told the dashboard's address once it listens. */
    onDashboard?: (url: string) => void;
  };

/** Runs the monitor until `io.signal` is aborted or stdout is closed (exit code 0); throws on failures. */
export async function runMonitor(options: MonitorOptions, io: MonitorIo): Promise<number> {
  const logger = log("monitor");
  const now = io.now ?? Date.now;
  const security = await readSecurity(io.env);
  // Values with schema ids are decoded through the registry, when there is one.
  const registryUrl = options.schemaRegistry ?? (io.env.SCHEMA_REGISTRY_URL || undefined);
  const registry = registryUrl === undefined ? undefined : await readRegistryAccess(options.schemaRegistry, io.env);
  const { ValueDecoder } = await import("../formats/decode.ts");
  const decoder = new ValueDecoder(registry, { now });
  for (const broker of options.brokers) io.checkNet?.(broker);
  const state = new MonitorState(options.topics, options);
  const terminal = io.stdoutIsTerminal?.() ?? false;
  const color = terminal && colorAllowed(io.env);

  const views = (snapshot: Snapshot) =>
    dashboardViews(snapshot, {
      readingsTopic: options.topics.readings,
      recent: (line) => state.recent(line.factoryId, line.sensorId, line.sodaName),
    });
  let dashboard: Dashboard | undefined;
  if (options.web) {
    dashboard = serveDashboard({
      ...options.web,
      brokers: options.brokers.join(","),
      current: (query) => views(state.snapshot(now()))(query),
      snapshot: () => state.snapshot(now(), { recent: true }),
    });
    announce(`dashboard on ${dashboard.url}`);
    io.onDashboard?.(dashboard.url);
  }

  const output = new Output(io.stdout);
  let consumer;
  try {
    const { startMonitorConsumer } = await loadKafka("consumer");
    consumer = await startMonitorConsumer({
      brokers: options.brokers,
      security,
      clientId: options.clientId,
      groupId: options.groupId,
      // Readings, heartbeats and labels may share a topic: it is read once.
      topics: [
        ...new Set([
          options.topics.readings,
          options.topics.heartbeats,
          ...(options.topics.labels === undefined ? [] : [options.topics.labels]),
        ]),
      ],
      fromBeginning: options.fromBeginning,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      signal: io.signal,
      now,
      onSubscribed: (topics) => state.readFromBeginning(topics),
      decode: (bytes) => decoder.decode(bytes),
      onRecords: (records) => {
        for (const record of records) state.add(record);
      },
    });
  } catch (error) {
    await dashboard?.close();
    if (io.signal?.aborted) return 0;
    throw error;
  }

  const show = () => {
    const nowMs = now();
    const changes = state.tick(nowMs);
    const snapshot = state.snapshot(nowMs);
    if (dashboard) dashboard.publish(views(snapshot));
    if (options.json) {
      output.write([...changes, snapshot].map((item) => `${JSON.stringify(item)}\n`).join(""));
      return;
    }
    // On a terminal the table shows the changes; in a log they are lines of their own.
    if (!terminal) {
      for (const change of changes) {
        if (change.from === "new") continue;
        const message = `${shown(change.sensorId)} is ${change.to} (last heartbeat ${
          (change.lastHeartbeatAgeMs / 1000).toFixed(1)
        } s ago)`;
        if (change.to === "dead") logger.warn(message);
        else logger.info(message);
      }
    }
    if (options.quiet) return;
    if (terminal) {
      const size = io.consoleSize?.() ?? { columns: 80, rows: 24 };
      const lines = renderMonitor(snapshot, {
        width: Math.max(40, (size.columns || 80) - 1),
        color,
        maxRows: Math.max(8, (size.rows || 24) - 1),
      });
      // Home, each line over the old one, then clear what is left below.
      output.write(`\x1b[H${lines.map((line) => `${line}\x1b[K`).join("\n")}\n\x1b[J`);
    } else {
      output.write(`${renderMonitor(snapshot).join("\n")}\n\n`);
    }
  };

  if (terminal && !options.json && !options.quiet) output.write("\x1b[2J");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    show();
    timer = setTimeout(tick, options.intervalMs);
  };
  const stopped = new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  try {
    tick();
    await Promise.race([stopped, output.closed, consumer.failed]);
  } finally {
    clearTimeout(timer);
    await consumer.stop().catch(() => {});
    await dashboard?.close();
  }
  // A last snapshot with what arrived up to the end (scripts read the last line).
  if (options.json) show();
  await output.close();
  // A reader that went away (`| head`) ends the monitor as a stop does; any other failure is one.
  if (output.failure) throw output.failure;
  return 0;
}

/** Writes to stdout in order; `closed` resolves when the reader went away (a closed pipe). */
class Output {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #encoder = new TextEncoder();
  #resolveClosed: () => void = () => {};
  readonly closed = new Promise<void>((resolve) => this.#resolveClosed = resolve);
  #broken = false;
  #last: Promise<void> = Promise.resolve();
  /** Why stdout stopped taking output, unless its reader went away (a broken pipe). */
  failure: unknown;

  constructor(stdout: WritableStream<Uint8Array>) {
    this.#writer = stdout.getWriter();
  }

  write(text: string): void {
    if (this.#broken) return;
    this.#last = this.#writer.write(this.#encoder.encode(text)).catch((error) => {
      if (!(error instanceof StdoutError && error.brokenPipe)) this.failure ??= error;
      this.#broken = true;
      this.#resolveClosed();
    });
  }

  /** Waits for what was written to be flushed, and lets go of stdout. */
  async close(): Promise<void> {
    await this.#last;
    this.#writer.releaseLock();
  }
}
