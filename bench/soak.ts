/**
 * `deno task soak`: days of uptime, compressed. A continuous run at speed 1 into a scratch broker
 * of its own that is stopped and started again every few minutes, then two checks:
 *
 * - completeness, from the consumer side (kcat, streamed): every reading and heartbeat the run
 *   produced exactly once, each line's counts in sequence (1..total, again and again), each
 *   sensor's heartbeats in order without a gap over 2 s;
 * - no leak: RSS (/proc/PID/status), the JavaScript heap (the run's /metrics) and open file
 *   descriptors (/proc/PID/fd) of the simulator, sampled all along; after the warm-up (and a minute
 *   after the first restart), the least-squares slope per hour of each minute's lowest value must
 *   stay under its limit (SLOPE_LIMITS).
 *
 *   deno task soak                                          # 30 min, 10,000 sensors, restart every 5 min
 *   deno task soak --minutes 10 --sensors 2000 --restart-every 4m --warm-up 2m  # a short trial
 *
 * Flags (or environment): --minutes (SOAK_MINUTES), --sensors (SOAK_SENSORS), --restart-every
 * (SOAK_RESTART_EVERY), --warm-up (SOAK_WARM_UP), --sample-every, --seed, --samples PATH (every
 * sample as CSV). The broker's ports: KAFKA_SCRATCH_PORT (default 9392) and the next one.
 * Progress goes to stderr, the report to stdout; exit 0 when every check passes, else 1.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { formatDuration, parseDuration } from "../lib/duration.ts";
import { ExitCode } from "../lib/errors.ts";
import { collect, endOffsets, spawnCli, uniqueTopic, waitFor } from "../tests/_kafka.ts";
import { MAX_HEARTBEAT_GAP_MS, ScratchBroker } from "../tests/_scratch_broker.ts";

/**
 * Most growth per hour after the warm-up that counts as flat. A run's memory is its plant (fixed),
 * the spool's SQLite cache (bounded) and what is in flight; none of it should grow with time. 32
 * and 16 MiB an hour are 0.75 and 0.4 GiB a day, which a gateway would run out of within days;
 * smaller slopes are within the noise of a 30-minute fit. A file descriptor lost per broker
 * restart (12 an hour) fails.
 */
const SLOPE_LIMITS = { rssMiB: 32, heapMiB: 16, fds: 6 };

/** Factories have 3-5 sensors (4 on average). */
const SENSORS_PER_FACTORY = 4;

const MIB = 1024 * 1024;
const say = (line: string) => process.stderr.write(`[soak] ${line}\n`);

interface Options {
  minutes: number;
  sensors: number;
  restartEveryMs: number;
  warmUpMs: number;
  sampleEveryMs: number;
  seed: number;
  samplesPath?: string;
}

function options(): Options {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      minutes: { type: "string" },
      sensors: { type: "string" },
      "restart-every": { type: "string" },
      "warm-up": { type: "string" },
      "sample-every": { type: "string" },
      seed: { type: "string" },
      samples: { type: "string" },
    },
  });
  const env = (name: string) => Deno.env.get(name) || undefined;
  const number = (flag: string, text: string, min: number) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) usage(`--${flag} must be a number >= ${min}, got ${text}`);
    return value;
  };
  const duration = (flag: string, text: string) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) usage(`--${flag} must be a duration (90s, 5m), got ${text}`);
    return ms!;
  };
  const minutes = number("minutes", values.minutes ?? env("SOAK_MINUTES") ?? "30", 1);
  const warmUpMs = duration("warm-up", values["warm-up"] ?? env("SOAK_WARM_UP") ?? "5m");
  if (warmUpMs >= minutes * 60_000) usage(`--warm-up must be shorter than the run (${minutes} min)`);
  return {
    minutes,
    sensors: Math.round(number("sensors", values.sensors ?? env("SOAK_SENSORS") ?? "10000", 3)),
    restartEveryMs: duration("restart-every", values["restart-every"] ?? env("SOAK_RESTART_EVERY") ?? "5m"),
    warmUpMs,
    sampleEveryMs: duration("sample-every", values["sample-every"] ?? "10s"),
    seed: Math.round(number("seed", values.seed ?? "7", 0)),
    samplesPath: values.samples,
  };
}

function usage(message: string): never {
  process.stderr.write(`soak: ${message}\n`);
  Deno.exit(2);
}

/** One look at the simulator process. */
interface Sample {
  /** Seconds since the run started. */
  t: number;
  rssBytes: number;
  heapBytes: number;
  fds: number;
  delivered: number;
  spooled: number;
}

/** A metric's value in a Prometheus text exposition, summed over its series that have `label`. */
function metric(text: string, name: string, label = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
    if (label && !line.slice(0, line.indexOf(" ")).includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function sample(pid: number, metricsUrl: string, startedAt: number): Promise<Sample | undefined> {
  try {
    // Through a shell: Deno grants another process's /proc entries only with --allow-all.
    const { stdout } = await new Deno.Command("bash", {
      args: ["-c", 'grep "^VmRSS:" "/proc/$1/status" && ls "/proc/$1/fd" | wc -l', "-", String(pid)],
      stdout: "piped",
      stderr: "null",
    }).output();
    const [rssLine, fdsLine] = new TextDecoder().decode(stdout).split("\n");
    const rssKiB = Number(/^VmRSS:\s+(\d+) kB/.exec(rssLine)?.[1]);
    const fds = Number(fdsLine);
    if (!Number.isFinite(rssKiB) || !Number.isFinite(fds) || fdsLine === "") return undefined;
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    return {
      t: (performance.now() - startedAt) / 1000,
      rssBytes: rssKiB * 1024,
      heapBytes: metric(text, "factory_sim_heap_used_bytes"),
      fds,
      delivered: metric(text, "factory_sim_records_total", 'outcome="delivered"'),
      spooled: metric(text, "factory_sim_spool_records"),
    };
  } catch {
    return undefined; // the process is ending
  }
}

/** Least-squares slope of `y` over `x`. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const { x, y } of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** The window each floor is taken over: a few scavenges of the heap at 2,000-10,000 sensors. */
const FLOOR_WINDOW_S = 60;

/**
 * The lowest value of each minute, at its time (a minute with fewer than half the samples of the
 * fullest, the last one cut short, is left out). The heap saws up and down by tens of MiB between
 * collections, so a fit of the raw samples of a short run mostly measures where the last tooth
 * was; the troughs follow what survives collection, which is what a leak grows.
 */
export function floors<S extends { t: number }>(
  samples: readonly S[],
  pick: (s: S) => number,
): { t: number; y: number }[] {
  if (samples.length === 0) return [];
  const start = samples[0].t;
  const windows = new Map<number, { t: number; y: number; n: number }>();
  for (const s of samples) {
    const window = Math.floor((s.t - start) / FLOOR_WINDOW_S);
    const y = pick(s);
    const low = windows.get(window);
    if (low === undefined) windows.set(window, { t: s.t, y, n: 1 });
    else {
      low.n++;
      if (y < low.y) Object.assign(low, { t: s.t, y });
    }
  }
  const fullest = Math.max(...[...windows.values()].map((w) => w.n));
  return [...windows.values()].filter((w) => w.n * 2 >= fullest).map(({ t, y }) => ({ t, y }));
}

/**
 * How long after a restart the run counts as recovering: it replays the spool, and its heap's troughs
 * stay up for a minute or more (seen in trials at 2,000 sensors).
 */
const RECOVERY_S = 120;

/**
 * The samples taken between restarts, not during one or its recovery: a restart shortly before the
 * end would otherwise raise the last floors (its replay) and pass for growth.
 */
export function steady<S extends { t: number }>(
  samples: readonly S[],
  outages: readonly { from: number; to: number }[],
): S[] {
  return samples.filter((s) => !outages.some(({ from, to }) => s.t >= from && s.t < to + RECOVERY_S));
}

/** What a streamed topic held, per key, checked as it is read. */
interface Check {
  received: number;
  unique: number;
  duplicated: number;
  outOfOrder: number;
  /** Readings missing inside a line's sequence; heartbeat gaps over 2 s. */
  holes: number;
  /** The longest gap between two heartbeats of one sensor (ms). */
  maxGapMs: number;
}

/**
 * Streams every record of `topic` through `onValue` (partition order), reading again from the
 * beginning when kcat stops short of the end offsets (it can on a loaded machine).
 */
async function streamTopic(
  topic: string,
  brokers: string,
  start: () => (value: Record<string, unknown>) => void,
): Promise<void> {
  const ends = await endOffsets(topic, brokers);
  for (let attempt = 1;; attempt++) {
    const onValue = start();
    const seen = new Map<number, number>();
    const child = new Deno.Command("kcat", {
      args: ["-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%p\t%s\n"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const tab = line.indexOf("\t");
        const partition = Number(line.slice(0, tab));
        seen.set(partition, (seen.get(partition) ?? 0) + 1);
        onValue(JSON.parse(line.slice(tab + 1)));
      }
    }
    await child.status;
    const short = [...ends].some(([partition, end]) => (seen.get(partition) ?? 0) < end);
    if (!short) return;
    if (attempt === 3) throw new Error(`kcat read ${topic} short of its end offsets three times`);
    say(`kcat stopped short of the end of ${topic}: reading it again`);
  }
}

function newCheck(): Check {
  return { received: 0, unique: 0, duplicated: 0, outOfOrder: 0, holes: 0, maxGapMs: 0 };
}

/** Readings: each line's counts go 1..total and again, timestamps rising. */
async function checkReadings(topic: string, brokers: string): Promise<Check> {
  let check = newCheck();
  await streamTopic(topic, brokers, () => {
    check = newCheck();
    const lines = new Map<string, { ts: number; count: number }>();
    return (value) => {
      check.received++;
      const line = `${value.factoryId}/${value.sensorId}/${value.sodaName}`;
      const ts = Date.parse(String(value.timestamp));
      const count = Number(value.count);
      const total = Number(value.total);
      const last = lines.get(line);
      if (last && ts <= last.ts) {
        if (ts === last.ts && count === last.count) check.duplicated++;
        else check.outOfOrder++;
        return;
      }
      const expected = last ? last.count % total + 1 : 1;
      check.holes += (count - expected + total) % total;
      check.unique++;
      lines.set(line, { ts, count });
    };
  });
  return check;
}

/** Heartbeats: each sensor's timestamps rising, no gap over 2 s. */
async function checkHeartbeats(topic: string, brokers: string): Promise<Check> {
  let check = newCheck();
  await streamTopic(topic, brokers, () => {
    check = newCheck();
    const sensors = new Map<string, number>();
    return (value) => {
      check.received++;
      const sensor = String(value.sensorId);
      const ts = Date.parse(String(value.timestamp));
      const last = sensors.get(sensor);
      if (last !== undefined && ts <= last) {
        if (ts === last) check.duplicated++;
        else check.outOfOrder++;
        return;
      }
      if (last !== undefined) {
        check.maxGapMs = Math.max(check.maxGapMs, ts - last);
        if (ts - last > MAX_HEARTBEAT_GAP_MS) check.holes++;
      }
      check.unique++;
      sensors.set(sensor, ts);
    };
  });
  return check;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => (bytes / MIB).toFixed(1);

async function main(): Promise<number> {
  const opts = options();
  const factories = Math.max(1, Math.round(opts.sensors / SENSORS_PER_FACTORY));
  const runMs = opts.minutes * 60_000;
  const broker = new ScratchBroker();
  const spoolDir = Deno.makeTempDirSync({ prefix: "factory-sim-soak-" });
  const summaryPath = `${spoolDir}/summary.json`;
  const readingsTopic = uniqueTopic("soak.readings");
  const heartbeatTopic = uniqueTopic("soak.heartbeats");
  let stopRun = async () => {};
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => interrupted = true);
  try {
    say(`starting a scratch broker on ${broker.brokers}`);
    await broker.start();
    say(
      `${opts.minutes} min, ${factories} factories (about ${opts.sensors} sensors), restart every ` +
        `${formatDuration(opts.restartEveryMs)}, warm-up ${formatDuration(opts.warmUpMs)}`,
    );
    const child = spawnCli([
      "--sink=kafka",
      `--brokers=${broker.brokers}`,
      "--continuous",
      "--generate-lines",
      `--factories=${factories}`,
      `--seed=${opts.seed}`,
      "--metrics-port=0",
      `--summary-json=${summaryPath}`,
      `--readings-topic=${readingsTopic}`,
      `--heartbeat-topic=${heartbeatTopic}`,
    ], { spoolDir });
    const stderr = collect(child.stderr);
    const stdout = collect(child.stdout);
    let exited = false;
    child.status.finally(() => exited = true);
    // Whatever happens to the soak, the run does not outlive it.
    stopRun = async () => {
      if (!exited) child.kill("SIGKILL");
      await child.status;
    };
    await waitFor(() => exited || /connected to Kafka/.test(stderr.current), 120_000);
    const metricsUrl = /metrics on (http:\/\/\S+\/metrics) /.exec(stderr.current)?.[1];
    if (exited || !metricsUrl) throw new Error(`the run did not start:\n${stderr.current}`);
    const plant = /(\d+) factories, (\d+) sensors, (\d+) lines/.exec(stderr.current);
    say(`running: ${plant?.[0] ?? "?"}; metrics on ${metricsUrl}`);

    const startedAt = performance.now();
    const samples: Sample[] = [];
    const restarts: number[] = [];
    /** Each restart, in seconds into the run. */
    const outages: { from: number; to: number }[] = [];
    /** Seconds into the run when the first restart was over. */
    let firstRestartEnd: number | undefined;
    let nextRestart = opts.restartEveryMs;
    let nextProgress = 60_000;
    // No restart in the last RECOVERY_S + 1 min: the fit ends on a steady stretch, the run with
    // Kafka up and the spool empty.
    while (!exited && performance.now() - startedAt < runMs) {
      if (interrupted) throw new Error("interrupted");
      const s = await sample(child.pid, metricsUrl, startedAt);
      if (s) samples.push(s);
      const elapsed = performance.now() - startedAt;
      if (s && elapsed >= nextProgress) {
        say(
          `${formatDuration(Math.round(elapsed / 1000) * 1000)}: RSS ${mib(s.rssBytes)} MiB, heap ${
            mib(s.heapBytes)
          } MiB, fds ${s.fds}, delivered ${s.delivered}, spool ${s.spooled}`,
        );
        nextProgress += 60_000;
      }
      if (elapsed >= nextRestart && elapsed < runMs - (RECOVERY_S + 60) * 1000) {
        const down = performance.now();
        await broker.stop();
        await broker.start();
        restarts.push((performance.now() - down) / 1000);
        outages.push({ from: (down - startedAt) / 1000, to: (performance.now() - startedAt) / 1000 });
        firstRestartEnd ??= outages.at(-1)!.to;
        say(`broker restarted (down ${restarts.at(-1)!.toFixed(1)} s)`);
        nextRestart = performance.now() - startedAt + opts.restartEveryMs;
      }
      await sleep(Math.max(0, opts.sampleEveryMs - (performance.now() - startedAt - elapsed)));
    }
    if (exited) throw new Error(`the run ended early:\n${stderr.current}`);
    // Stop it with the spool empty, so everything produced is in Kafka.
    const drainDeadline = performance.now() + 180_000;
    while (performance.now() < drainDeadline) {
      const s = await sample(child.pid, metricsUrl, startedAt);
      if (s && s.spooled === 0) break;
      await sleep(1_000);
    }
    child.kill("SIGTERM");
    const { code } = await child.status;
    const log = await stderr.done;
    await stdout.done;
    const wallMinutes = (performance.now() - startedAt) / 60_000;
    if (code !== ExitCode.sigterm) {
      throw new Error(`the run exited ${code}, not ${ExitCode.sigterm} (SIGTERM):\n${log.slice(-4_000)}`);
    }
    const summary = JSON.parse(Deno.readTextFileSync(summaryPath)) as {
      readings: number;
      heartbeats: number;
      plant: { sensors: number; factories: number; lines: number };
      sink: { delivered: number; spooled: number; replayed: number };
    };
    if (opts.samplesPath) {
      Deno.writeTextFileSync(
        opts.samplesPath,
        "seconds,rss_bytes,heap_bytes,fds,delivered,spool_records\n" +
          samples.map((s) => `${s.t.toFixed(1)},${s.rssBytes},${s.heapBytes},${s.fds},${s.delivered},${s.spooled}`)
            .join("\n") +
          "\n",
      );
    }

    say("reading back with kcat");
    const readings = await checkReadings(readingsTopic, broker.brokers);
    const heartbeats = await checkHeartbeats(heartbeatTopic, broker.brokers);

    // The fit starts after the warm-up, and a minute after the first restart: the first reconnection
    // and replay settle the client's connections and the spool's pages once (seen: one more fd, and
    // RSS up tens of MiB, both the same after every later restart).
    const fitFrom = Math.max(opts.warmUpMs / 1000, firstRestartEnd === undefined ? 0 : firstRestartEnd + 60);
    const warm = steady(samples.filter((s) => s.t >= fitFrom), outages);
    const perHour = (pick: (s: Sample) => number) => slope(floors(warm, pick).map(({ t, y }) => ({ x: t / 3600, y })));
    const trends = [
      {
        name: "RSS",
        unit: "MiB",
        value: mib(warm.at(-1)?.rssBytes ?? NaN),
        slope: perHour((s) => s.rssBytes / MIB),
        limit: SLOPE_LIMITS.rssMiB,
      },
      {
        name: "heap",
        unit: "MiB",
        value: mib(warm.at(-1)?.heapBytes ?? NaN),
        slope: perHour((s) => s.heapBytes / MIB),
        limit: SLOPE_LIMITS.heapMiB,
      },
      {
        name: "open fds",
        unit: "",
        value: String(warm.at(-1)?.fds ?? NaN),
        slope: perHour((s) => s.fds),
        limit: SLOPE_LIMITS.fds,
      },
    ];
    const readingsLost = summary.readings - readings.unique;
    const heartbeatsLost = summary.heartbeats - heartbeats.unique;
    const complete = readingsLost === 0 && heartbeatsLost === 0 && readings.duplicated + heartbeats.duplicated === 0 &&
      readings.outOfOrder + heartbeats.outOfOrder === 0 && readings.holes + heartbeats.holes === 0;
    const flat = trends.every((t) => Number.isFinite(t.slope) && t.slope <= t.limit);

    const out = [
      `soak: ${wallMinutes.toFixed(1)} min at speed 1, ${summary.plant.sensors} sensors (${summary.plant.factories} ` +
      `factories, ${summary.plant.lines} lines, --continuous), seed ${opts.seed}`,
      `broker restarted ${restarts.length} time${restarts.length === 1 ? "" : "s"}, down ${
        restarts.map((s) => s.toFixed(1)).join(", ") || "-"
      } s; ` +
      `${summary.sink.delivered} records delivered, ${summary.sink.spooled} spooled, ${summary.sink.replayed} replayed`,
      `readings: produced ${summary.readings}, received ${readings.received}, lost ${readingsLost}, duplicated ` +
      `${readings.duplicated}, out of order ${readings.outOfOrder}, holes in a line's counts ${readings.holes}`,
      `heartbeats: produced ${summary.heartbeats}, received ${heartbeats.received}, lost ${heartbeatsLost}, duplicated ` +
      `${heartbeats.duplicated}, out of order ${heartbeats.outOfOrder}, longest gap ${heartbeats.maxGapMs} ms`,
      `from ${Math.round(fitFrom)} s (the ${formatDuration(opts.warmUpMs)} warm-up${
        firstRestartEnd === undefined ? "" : ", and a minute after the first restart"
      }), outside restarts and the 2 minutes after each: ${warm.length} samples, every ` +
      `${formatDuration(opts.sampleEveryMs)}; slopes fitted to each minute's lowest value`,
      ...trends.map((t) => {
        const unit = t.unit && ` ${t.unit}`;
        const fit = Number.isFinite(t.slope)
          ? `slope ${t.slope >= 0 ? "+" : ""}${t.slope.toFixed(2)}${unit}/h (limit ${t.limit}): ${
            t.slope <= t.limit ? "ok" : "FAIL"
          }`
          : "too few whole minutes to fit a slope: FAIL";
        return `  ${t.name}: ${t.value}${unit} at the end, ${fit}`;
      }),
      `${complete ? "complete" : "INCOMPLETE"}, ${flat ? "flat" : "NOT FLAT"}: ${complete && flat ? "PASS" : "FAIL"}`,
    ];
    process.stdout.write(out.join("\n") + "\n");
    return complete && flat ? 0 : 1;
  } finally {
    await stopRun();
    await broker.dispose();
    Deno.removeSync(spoolDir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main());
