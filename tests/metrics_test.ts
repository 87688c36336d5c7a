/** `--metrics-port`: the exposition, /healthz and /readyz, scraped while a run goes on. */
import assert from "node:assert/strict";
import { parseCommand } from "../lib/cli.ts";
import { ExitCode, UsageError } from "../lib/errors.ts";
import { resetLogging } from "../lib/log.ts";
import type { OutRecord } from "../lib/messages.ts";
import { Metrics, readiness } from "../lib/metrics.ts";
import { sinkStatus } from "../lib/status.ts";
import type { Sink } from "../lib/sinks/sink.ts";
import { main } from "../main.ts";
import { finishRun, startRun, withScratchBroker } from "./_scratch_broker.ts";
import { MemorySink } from "./_helpers.ts";
import { BROKERS, collect, ensureBroker, simTaskFlags, spawnCli, uniqueTopic } from "./_kafka.ts";

const SAMPLE = new URL("../factory_config.json", import.meta.url).pathname;

/** Parses Prometheus text format 0.0.4: every line a sample, `# HELP`, `# TYPE` or blank. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        assert.match(meta[3], /^(counter|gauge|histogram|summary|untyped)$/, line);
        types.set(meta[2], meta[3]);
      }
      continue;
    }
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? ([-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|Inf|NaN))$/
        .exec(line);
    assert.ok(sample, `not a valid exposition line: ${line}`);
    const [, name, labels = "", value] = sample;
    const family = name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(name) || types.has(family), `no # TYPE before ${name}`);
    samples.set(`${name}${labels}`, Number(value.replace("Inf", "Infinity")));
  }
  return samples;
}

function countByTopic(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split("\n").filter(Boolean)) {
    const { topic } = JSON.parse(line);
    counts[topic] = (counts[topic] ?? 0) + 1;
  }
  return counts;
}

async function get(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text(), type: response.headers.get("content-type") };
}

function fakeSink(state: Partial<Sink>): Sink {
  return Object.assign(new MemorySink(), state);
}

Deno.test("--metrics-port and --metrics-host are validated like the other flags", () => {
  const run = (args: string[]) => {
    const command = parseCommand(args);
    assert.equal(command.kind, "run");
    return command.kind === "run" ? command.options.metrics : undefined;
  };
  assert.equal(run([]), undefined);
  assert.deepEqual(run(["--metrics-port", "9464"]), { host: "127.0.0.1", port: 9464 });
  assert.deepEqual(run(["--metrics-port", "0", "--metrics-host", "0.0.0.0"]), { host: "0.0.0.0", port: 0 });
  assert.deepEqual(run(["--metrics-port", "1", "--metrics-host", "[::1]"]), { host: "::1", port: 1 });
  for (
    const [args, message] of [
      [["--metrics-port", "65536"], /--metrics-port must be an integer from 0 to 65535: got "65536"/],
      [["--metrics-port", "-1"], /--metrics-port/],
      [["--metrics-port", "http"], /--metrics-port must be an integer/],
      [["--metrics-port", "9464", "--metrics-host", ""], /--metrics-host must not be empty/],
      [["--metrics-port", "9464", "--metrics-host", "a b"], /--metrics-host must be a host name or IP address/],
      [["--metrics-host", "0.0.0.0"], /--metrics-host needs --metrics-port/],
    ] as const
  ) {
    assert.throws(() => parseCommand([...args]), (error) => error instanceof UsageError && message.test(error.message));
  }
});

Deno.test("readiness: 200 while the sink delivers, 503 with a reason otherwise", () => {
  assert.deepEqual(readiness(fakeSink({ name: "kafka", stalled: false })), {
    ready: true,
    reason: "ok: delivering to kafka",
  });
  assert.equal(readiness(new MemorySink()).ready, true);
  const notYet = readiness(undefined);
  assert.equal(notYet.ready, false);
  assert.match(notYet.reason, /not connected yet/);
  const stalled = readiness(fakeSink({ name: "kafka", stalled: true, pending: 1234 } as Partial<Sink>));
  assert.equal(stalled.ready, false);
  assert.equal(stalled.reason, "not ready: kafka does not acknowledge: 1234 records pending");
  const fallback = readiness(fakeSink({ name: "console" }), { fallback: true });
  assert.equal(fallback.ready, false);
  assert.match(fallback.reason, /Kafka was unreachable/);
  for (const { reason } of [notYet, stalled, fallback]) assert.doesNotMatch(reason, /\n/);
});

Deno.test("readiness, the stalled gauge and the live status agree on the sink's state", async () => {
  const sinks = [
    { name: "kafka", stalled: false, pending: 0 },
    { name: "kafka", stalled: true, pending: 5 },
    { name: "console", pending: 0 },
  ];
  for (const state of sinks) {
    for (const fallback of [false, true]) {
      const sink = fakeSink(state as Partial<Sink>);
      const metrics = new Metrics({
        produced: () => ({}),
        activeLines: () => 0,
        sensors: () => 0,
        sink: () => sink,
        fallback: () => fallback,
      });
      const samples = parseExposition(await metrics.render());
      for (const spool of [false, true]) {
        const shown = sinkStatus(sink, { fellBack: fallback, spool }).state;
        const what = `${JSON.stringify(state)}, fallback ${fallback}, spool ${spool}: ${shown}`;
        assert.equal(readiness(sink, { fallback }).ready, shown === "connected", what);
        assert.equal(
          samples.get("factory_sim_kafka_stalled"),
          shown === "spooling" || shown === "stalled" ? 1 : 0,
          what,
        );
      }
    }
  }
});

Deno.test("Metrics renders counters, histograms and gauges from the run", async () => {
  let sink: Sink | undefined = undefined;
  const metrics = new Metrics({
    produced: () => ({ R: 7, H: 3 }),
    activeLines: () => 2,
    sensors: () => 14,
    sink: () => sink,
    fallback: () => false,
  }, { startTimeMs: 1_700_000_000_500 });
  let samples = parseExposition(await metrics.render());
  assert.equal(samples.get('factory_sim_records_total{topic="R",outcome="produced"}'), 7);
  assert.equal(samples.has('factory_sim_records_total{topic="R",outcome="delivered"}'), false);
  assert.equal(samples.has("factory_sim_sink_info"), false);
  assert.equal(samples.get("factory_sim_process_start_time_seconds"), 1_700_000_000.5);
  assert.ok((samples.get("factory_sim_heap_used_bytes") ?? 0) > 0, "the heap in use");

  const record = (topic: string): OutRecord => ({ topic, key: "S1-1", value: "{}", timestampMs: 0 });
  metrics.observeDelivery([record("R"), record("R"), record("H"), record("R")], 0.004);
  metrics.observeDelivery([record("H")]);
  metrics.observeLateness(3);
  sink = fakeSink({ name: "kafka", stalled: true, spoolRecords: 42 } as Partial<Sink>);
  samples = parseExposition(await metrics.render());
  assert.equal(samples.get('factory_sim_records_total{topic="R",outcome="delivered"}'), 3);
  assert.equal(samples.get('factory_sim_records_total{topic="H",outcome="delivered"}'), 2);
  assert.equal(samples.get("factory_sim_produce_latency_seconds_count"), 1);
  assert.equal(samples.get('factory_sim_produce_latency_seconds_bucket{le="0.0025"}'), 0);
  assert.equal(samples.get('factory_sim_produce_latency_seconds_bucket{le="0.005"}'), 1);
  assert.equal(samples.get("factory_sim_schedule_lateness_seconds_count"), 1);
  assert.equal(samples.get("factory_sim_schedule_lateness_seconds_sum"), 0.003);
  assert.equal(samples.get("factory_sim_active_lines"), 2);
  assert.equal(samples.get("factory_sim_sensors"), 14);
  assert.equal(samples.get("factory_sim_spool_records"), 42);
  assert.equal(samples.get("factory_sim_kafka_stalled"), 1);
  assert.equal(samples.get('factory_sim_sink_info{sink="kafka",fallback="false"}'), 1);
});

Deno.test("--rate's target is a gauge, only when set", async () => {
  const source = {
    produced: () => ({}),
    activeLines: () => 0,
    sensors: () => 0,
    sink: () => undefined,
    fallback: () => false,
  };
  const rated = parseExposition(await new Metrics({ ...source, targetRate: 5_000 }).render());
  assert.equal(rated.get("factory_sim_target_records_per_second"), 5_000);
  const unrated = parseExposition(await new Metrics(source).render());
  assert.equal(unrated.has("factory_sim_target_records_per_second"), false);
});

Deno.test("a console run serves /metrics, /healthz and /readyz while it goes, and closes the server at the end", async () => {
  // stdout holds the run still at a write (the 5th or later, once readings came), so the counters can be compared with what was emitted.
  const decoder = new TextDecoder();
  let received = "";
  let written = "";
  let writes = 0;
  let holding = false;
  const { promise: held, resolve: hold } = Promise.withResolvers<void>();
  const { promise: gate, resolve: release } = Promise.withResolvers<void>();
  const stdout = new WritableStream<Uint8Array>({
    async write(chunk) {
      const text = decoder.decode(chunk);
      received += text;
      // Once readings have come too: a held run has records of both topics.
      if (++writes >= 5 && !holding && received.includes('"topic":"SENSOR_READINGS"')) {
        holding = true;
        hold();
        await gate;
      }
      written += text;
    },
  });
  let stderr = "";
  const running = main(
    ["--sink", "console", "--config", SAMPLE, "--speed", "200", "--seed", "7", "--metrics-port", "0"],
    { env: {}, stdout, writeStderr: (line) => stderr += line },
  ).finally(() => resetLogging());
  let url = "";
  try {
    await held;
    url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)?.[1] ?? "";
    assert.ok(url, stderr);
    const scrape = await get(url);
    assert.equal(scrape.status, 200);
    assert.equal(scrape.type, "text/plain; version=0.0.4; charset=utf-8");
    const samples = parseExposition(scrape.body);
    const produced = countByTopic(received);
    const delivered = countByTopic(written);
    assert.deepEqual(Object.keys(produced).sort(), ["SENSOR_HEARTBEAT", "SENSOR_READINGS"]);
    for (const topic of Object.keys(produced)) {
      assert.equal(samples.get(`factory_sim_records_total{topic="${topic}",outcome="produced"}`), produced[topic]);
      assert.equal(samples.get(`factory_sim_records_total{topic="${topic}",outcome="delivered"}`), delivered[topic]);
    }
    assert.equal(samples.get("factory_sim_sensors"), Number(/(\d+) sensors/.exec(stderr)?.[1]));
    assert.ok(samples.get("factory_sim_active_lines")! > 0);
    assert.equal(samples.get('factory_sim_sink_info{sink="console",fallback="false"}'), 1);
    assert.equal(samples.get("factory_sim_kafka_stalled"), 0);
    assert.equal(samples.get("factory_sim_spool_records"), 0);
    assert.ok(samples.get("factory_sim_schedule_lateness_seconds_count")! > 0);
    assert.deepEqual(await get(url.replace("/metrics", "/healthz")), {
      status: 200,
      body: "ok\n",
      type: "text/plain; charset=utf-8",
    });
    const ready = await get(url.replace("/metrics", "/readyz"));
    assert.equal(ready.status, 200);
    assert.equal(ready.body, "ok: delivering to console\n");
    assert.equal((await get(url.replace("/metrics", "/nope"))).status, 404);
  } finally {
    release();
  }
  assert.equal(await running, ExitCode.ok, stderr);
  await assert.rejects(fetch(url), TypeError, "the server is closed after the run");
});

Deno.test("--metrics-port on a port in use: one line, exit 1, naming the flag", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  let stderr = "";
  const code = await main(["--sink", "console", "--config", SAMPLE, "--metrics-port", String(port)], {
    env: {},
    stdout: new WritableStream(),
    writeStderr: (line) => stderr += line,
  }).finally(() => resetLogging());
  assert.equal(code, ExitCode.failure);
  const errors = stderr.split("\n").filter((line) => line.startsWith("error:"));
  assert.deepEqual(errors, [
    `error: --metrics-port ${port}: 127.0.0.1:${port} is already in use (choose another port)`,
  ]);
});

Deno.test("--metrics-port without --allow-net for it: one line, exit 3, naming the flag to grant", async () => {
  const port = freePort();
  const flags = simTaskFlags().map((flag) => flag === "--allow-net" ? "--allow-net=127.0.0.1:9092" : flag);
  assert.ok(flags.includes("--allow-net=127.0.0.1:9092"));
  const child = spawnCli(["--sink", "console", "--metrics-port", String(port)], { flags });
  const { code, stderr } = await child.output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(code, ExitCode.permission, text);
  assert.deepEqual(text.split("\n").filter((line) => line.startsWith("error:")), [
    `error: missing permission: network access to 127.0.0.1:${port} for --metrics-port: ` +
    `grant --allow-net=127.0.0.1:${port}`,
  ]);
});

Deno.test({
  name: "a Kafka run: /readyz 200 once Kafka acknowledges, latency and delivered counts on /metrics",
  async fn() {
    await ensureBroker();
    const readings = uniqueTopic("metrics-readings");
    const heartbeats = uniqueTopic("metrics-heartbeats");
    const child = spawnCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--readings-topic=${readings}`,
      `--heartbeat-topic=${heartbeats}`,
      `--config=${SAMPLE}`,
      "--seed=7",
      "--speed=10",
      "--continuous",
      "--duration=10m",
      "--metrics-port=0",
    ]);
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    try {
      let url = "";
      let samples = new Map<string, number>();
      let ready = { status: 0, body: "" };
      const deadline = performance.now() + 30_000;
      for (;;) {
        url ||= /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr.current)?.[1] ?? "";
        if (url) {
          ready = await get(url.replace("/metrics", "/readyz"));
          samples = parseExposition((await get(url)).body);
          if (
            ready.status === 200 && (samples.get("factory_sim_produce_latency_seconds_count") ?? 0) > 0 &&
            (samples.get(`factory_sim_records_total{topic="${readings}",outcome="delivered"}`) ?? 0) > 0
          ) break;
        }
        assert.ok(performance.now() < deadline, `no delivery seen on /metrics: ${stderr.current}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(ready.body, "ok: delivering to kafka\n");
      assert.equal(samples.get('factory_sim_sink_info{sink="kafka",fallback="false"}'), 1);
      assert.equal(samples.get("factory_sim_kafka_stalled"), 0);
      for (const topic of [readings, heartbeats]) {
        const produced = samples.get(`factory_sim_records_total{topic="${topic}",outcome="produced"}`) ?? 0;
        const delivered = samples.get(`factory_sim_records_total{topic="${topic}",outcome="delivered"}`) ?? 0;
        assert.ok(delivered <= produced, `${topic}: ${delivered} delivered of ${produced} produced`);
      }
      assert.equal((await get(url.replace("/metrics", "/healthz"))).status, 200);
    } finally {
      child.kill("SIGINT");
    }
    const status = await child.status;
    await stdout.done;
    assert.equal(status.code, ExitCode.sigint, await stderr.done);
  },
});

Deno.test({
  name: "Kafka stopped mid-run: /readyz 503 and the spool on /metrics while it is down, 200 again once it is back",
  fn: () =>
    withScratchBroker(async (broker, spoolDir) => {
      const run = await startRun(broker.brokers, {
        name: "readyz",
        args: [`--config=${SAMPLE}`, "--seed=7", "--speed=10", "--continuous", "--metrics-port=0"],
        spoolDir,
      });
      let ended: { code: number; log: string } | undefined;
      try {
        // The address is logged before the sink connects: it is there once the run has connected.
        const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(run.stderr.current)?.[1] ?? "";
        assert.ok(url, run.stderr.current);
        const scrape = async () => ({
          ready: await get(url.replace("/metrics", "/readyz")),
          samples: parseExposition((await get(url)).body),
        });
        type Scraped = Awaited<ReturnType<typeof scrape>>;
        /** Scrapes every 100 ms until `done` holds; fails with the last scrape and the log after `timeoutMs`. */
        const scrapeUntil = async (what: string, done: (scraped: Scraped) => boolean, timeoutMs: number) => {
          const deadline = performance.now() + timeoutMs;
          for (;;) {
            const scraped = await scrape();
            if (done(scraped)) return scraped;
            if (performance.now() > deadline) {
              assert.fail(
                `${what}: not within ${timeoutMs} ms; /readyz ${scraped.ready.status} ${scraped.ready.body.trim()}, ` +
                  `stalled ${scraped.samples.get("factory_sim_kafka_stalled")}, ` +
                  `spool ${scraped.samples.get("factory_sim_spool_records")}\n${run.stderr.current}`,
              );
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        };
        const delivered = ({ samples }: Scraped) =>
          samples.get(`factory_sim_records_total{topic="${run.readingsTopic}",outcome="delivered"}`) ?? 0;

        const up = await scrapeUntil("delivering", (s) => s.ready.status === 200 && delivered(s) > 0, 30_000);
        assert.equal(up.ready.body, "ok: delivering to kafka\n");
        assert.equal(up.samples.get("factory_sim_kafka_stalled"), 0);
        assert.equal(up.samples.get("factory_sim_spool_records"), 0);

        await broker.stop();
        const down = await scrapeUntil(
          "not ready while Kafka is down",
          (s) =>
            s.ready.status === 503 && s.samples.get("factory_sim_kafka_stalled") === 1 &&
            (s.samples.get("factory_sim_spool_records") ?? 0) > 0,
          30_000,
        );
        assert.match(down.ready.body, /^not ready: kafka does not acknowledge: \d+ records pending\n$/);
        assert.equal(down.samples.get('factory_sim_sink_info{sink="kafka",fallback="false"}'), 1);
        assert.match(run.stderr.current, /spooling records to .*spool\.db until it does/);
        const deliveredWhileDown = delivered(down);

        await broker.start();
        const back = await scrapeUntil(
          "ready again once Kafka is back",
          // Readiness turns on the first acknowledgement; the delivered counter follows with its
          // request's records, so "again" is waited for too rather than read from the same scrape.
          (s) =>
            s.ready.status === 200 && s.samples.get("factory_sim_kafka_stalled") === 0 &&
            delivered(s) > deliveredWhileDown,
          60_000,
        );
        assert.equal(back.ready.body, "ok: delivering to kafka\n");
        assert.match(run.stderr.current, /Kafka acknowledges again after \d+ s/);
      } finally {
        run.child.kill("SIGINT");
        ended = await finishRun(run);
      }
      assert.equal(ended.code, ExitCode.sigint, ended.log);
    }),
});

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}
