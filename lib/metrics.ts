/**
 * `--metrics-port`: Prometheus metrics (`/metrics`, text exposition format 0.0.4, rendered by
 * `prom-client`), liveness (`/healthz`) and readiness (`/readyz`) over HTTP.
 *
 * Cheap by design: counts per topic come from the run's summary and the sink's counters when
 * Prometheus scrapes; only the sink's acknowledgements (one call per request, not per record) and
 * the scheduler's batches (one call per batch) feed the metrics as they happen.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { listen, textResponse } from "./http.ts";
import { announce } from "./log.ts";
import type { OutRecord } from "./messages.ts";
import type { Scheduler } from "./scheduler.ts";
import type { RunOptions } from "./run/options.ts";
import { countByTopic, type DeliveryObserver, type Sink } from "./sinks/sink.ts";
import { type SinkStatus, sinkStatus } from "./status.ts";
import type { RunSummary } from "./summary.ts";

/** What the metrics read from the run when scraped; each getter is called once per scrape. */
export interface MetricsSource {
  /** Records produced (handed to the sink) per topic. */
  produced(): Record<string, number>;
  /** Production lines still taking readings. */
  activeLines(): number;
  /** Sensors simulated. */
  sensors(): number;
  /** The sink, once it is open. */
  sink(): Sink | undefined;
  /** Whether the sink is the console because Kafka was unreachable (`--sink auto`). */
  fallback(): boolean;
  /** `--rate`: records a second the run is paced to; undefined without it (no such gauge). */
  targetRate?: number;
}

/** Buckets of the produce latency (seconds): 1 ms to 30 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets of the schedule lateness (seconds): 1 ms to 10 s. */
const LATENESS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The run's metrics in a registry of their own (no process-global state). */
export class Metrics {
  readonly registry: Registry = new Registry();
  readonly #delivered = new Map<string, number>();
  readonly #latency: Histogram;
  readonly #lateness: Histogram;

  constructor(source: MetricsSource, { startTimeMs = performance.timeOrigin }: { startTimeMs?: number } = {}) {
    const registers = [this.registry];
    const delivered = this.#delivered;
    new Counter({
      name: "factory_sim_records_total",
      help: "Records by topic: produced (handed to the sink) and delivered (acknowledged by Kafka, or written)",
      labelNames: ["topic", "outcome"] as const,
      registers,
      collect() {
        this.reset();
        for (const [topic, n] of Object.entries(source.produced())) this.inc({ topic, outcome: "produced" }, n);
        for (const [topic, n] of delivered) this.inc({ topic, outcome: "delivered" }, n);
      },
    });
    this.#latency = new Histogram({
      name: "factory_sim_produce_latency_seconds",
      help: "Produce request latency: from its first send to Kafka's acknowledgement (retries included)",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#lateness = new Histogram({
      name: "factory_sim_schedule_lateness_seconds",
      help: "How late the scheduler dispatched each batch of due events (its most late event; real time only)",
      buckets: LATENESS_BUCKETS,
      registers,
    });
    new Gauge({
      name: "factory_sim_active_lines",
      help: "Production lines still taking readings",
      registers,
      collect() {
        this.set(source.activeLines());
      },
    });
    new Gauge({
      name: "factory_sim_sensors",
      help: "Sensors simulated",
      registers,
      collect() {
        this.set(source.sensors());
      },
    });
    new Gauge({
      name: "factory_sim_spool_records",
      help: "Records in the store-and-forward spool on disk",
      registers,
      collect() {
        const sink = source.sink() as { spoolRecords?: number } | undefined;
        this.set(sink?.spoolRecords ?? 0);
      },
    });
    new Gauge({
      name: "factory_sim_kafka_stalled",
      help: "1 while Kafka does not acknowledge (records are spooled or wait in memory), else 0",
      registers,
      collect() {
        const sink = source.sink();
        const state = sink && sinkState(sink, source.fallback()).state;
        this.set(state === "spooling" || state === "stalled" ? 1 : 0);
      },
    });
    new Gauge({
      name: "factory_sim_sink_info",
      help: "The sink records go to (fallback: console because Kafka was unreachable with --sink auto)",
      labelNames: ["sink", "fallback"] as const,
      registers,
      collect() {
        this.reset();
        const sink = source.sink();
        if (sink) this.set({ sink: sink.name, fallback: String(source.fallback()) }, 1);
      },
    });
    if (source.targetRate !== undefined) {
      new Gauge({
        name: "factory_sim_target_records_per_second",
        help: "--rate: records a second the run is paced to (compare rate(factory_sim_records_total[1m]))",
        registers,
      }).set(source.targetRate);
    }
    new Gauge({
      name: "factory_sim_heap_used_bytes",
      help: "JavaScript heap in use (V8's heapUsed), bytes",
      registers,
      collect() {
        this.set(Deno.memoryUsage().heapUsed);
      },
    });
    new Gauge({
      name: "factory_sim_process_start_time_seconds",
      help: "Start time of the process since the Unix epoch in seconds",
      registers,
    }).set(Math.round(startTimeMs) / 1000);
  }

  /** A sink's delivery observer: counts delivered records per topic, and the request's latency. */
  readonly observeDelivery: DeliveryObserver = Object.assign(
    (records: readonly OutRecord[], latencySeconds?: number): void => {
      countByTopic(records, this.#countDelivered);
      if (latencySeconds !== undefined) this.#latency.observe(latencySeconds);
    },
    { counted: (topic: string, records: number): void => this.#countDelivered(topic, records) },
  );

  /** Adds `records` delivered to `topic`'s count. */
  readonly #countDelivered = (topic: string, records: number): void => {
    this.#delivered.set(topic, (this.#delivered.get(topic) ?? 0) + records);
  };

  /** The scheduler's lateness observer: one call per batch, in milliseconds. */
  readonly observeLateness = (maxMs: number): void => {
    this.#lateness.observe(maxMs / 1000);
  };

  /** The exposition text. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * Whether the sink delivers: 200 when it does, 503 with a one-line reason when it does not. The
 * sink's state is `sinkStatus`'s, the one the live status shows; only `connected` is ready.
 */
export function readiness(sink: Sink | undefined, { fallback = false }: { fallback?: boolean } = {}): {
  ready: boolean;
  reason: string;
} {
  if (sink === undefined) return { ready: false, reason: "not ready: the sink is not connected yet" };
  const status = sinkState(sink, fallback);
  switch (status.state) {
    case "connected":
      return { ready: true, reason: `ok: delivering to ${status.name}` };
    case "fallback":
      return { ready: false, reason: "not ready: Kafka was unreachable: writing to the console instead (--sink auto)" };
    case "spooling":
    case "stalled":
      return {
        ready: false,
        reason: `not ready: ${sink.name} does not acknowledge: ${status.records} records pending`,
      };
  }
}

/**
 * The sink's state by `sinkStatus`. Spooling and stalled are alike here (neither acknowledges;
 * the spool has a metric of its own), so the spool is not asked about.
 */
function sinkState(sink: Sink, fallback: boolean): SinkStatus {
  return sinkStatus(sink, { fellBack: fallback, spool: false });
}

/** A running metrics server. */
export interface MetricsServer {
  /** The `/metrics` address, with the port chosen (for `--metrics-port 0`). */
  readonly url: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Serves `/metrics`, `/healthz` and `/readyz` on `host:port` (port 0: a free one). A port in use is a
 * `RunError`, a missing `--allow-net` a `PermissionError`, both naming the flag. The server does not
 * keep the process alive.
 */
export function serveMetrics(
  { host, port, metrics, ready }: {
    host: string;
    port: number;
    metrics: Metrics;
    ready: () => { ready: boolean; reason: string };
  },
): MetricsServer {
  const listener = listen({
    host,
    port,
    portFlag: "--metrics-port",
    hostFlag: "--metrics-host",
    handler: async (request) => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return textResponse(405, "method not allowed", { allow: "GET, HEAD" });
      }
      switch (new URL(request.url).pathname) {
        case "/metrics":
          return new Response(await metrics.render(), { headers: { "content-type": metrics.registry.contentType } });
        case "/healthz":
          return textResponse(200, "ok");
        case "/readyz": {
          const { ready: isReady, reason } = ready();
          return textResponse(isReady ? 200 : 503, reason);
        }
        default:
          return textResponse(404, "not found: try /metrics, /healthz or /readyz");
      }
    },
  });
  return { url: `${listener.origin}/metrics`, close: () => listener.close() };
}

/** How a run tells the metrics what it has built; every hook is optional (no server: none is set). */
export interface RunProbe {
  /** The run's summary (counts per topic and line) and its number of sensors. */
  started?(summary: RunSummary, sensors: number): void;
  /** The sink, once open, and whether it is the console because `--sink auto` found no Kafka. */
  sinkOpened?(sink: Sink, fellBack: boolean): void;
  /** The scheduler, once made. */
  scheduling?(scheduler: Pick<Scheduler, "onLateness">): void;
}

/**
 * Runs `run` with a metrics server when `options.metrics` asks for one (logging its address), and
 * stops the server when the run ends, however it ends.
 */
export async function withMetricsServer(
  options: Pick<RunOptions, "metrics" | "continuous" | "rate">,
  run: (probe: RunProbe) => Promise<number>,
): Promise<number> {
  if (options.metrics === undefined) return await run({});
  let summary: RunSummary | undefined;
  let sensors = 0;
  let sink: Sink | undefined;
  let fellBack = false;
  const fallback = () => fellBack;
  const metrics = new Metrics({
    produced: () => summary?.topicCounts() ?? {},
    activeLines: () => summary?.activeLines(options.continuous) ?? 0,
    sensors: () => sensors,
    sink: () => sink,
    fallback,
    targetRate: options.rate,
  });
  const server = serveMetrics({
    ...options.metrics,
    metrics,
    ready: () => readiness(sink, { fallback: fallback() }),
  });
  announce(`metrics on ${server.url} (and /healthz, /readyz)`);
  try {
    return await run({
      started: (runSummary, sensorCount) => {
        summary = runSummary;
        sensors = sensorCount;
      },
      sinkOpened: (opened, openedFellBack) => {
        sink = opened;
        fellBack = openedFellBack;
        opened.observer = metrics.observeDelivery;
      },
      scheduling: (scheduler) => {
        scheduler.onLateness = metrics.observeLateness;
      },
    });
  } finally {
    await server.close();
  }
}
