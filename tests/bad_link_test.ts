/**
 * A bad link, end to end: the simulator reaches a broker of the test's own only through Toxiproxy
 * (the broker advertises the proxy's address, so every connection after the bootstrap crosses it
 * too), and the proxy adds latency, caps the bandwidth, resets the connections, or swallows
 * everything for 30 s. Each case checks completeness from the consumer side (kcat, with the link
 * healthy again): every (factoryId, sodaName, count) exactly once, each line in order, each
 * sensor's heartbeats without a gap, and prints its figures.
 *
 * Ports: the broker on KAFKA_SCRATCH_PORT (its controller on the next), the proxy two above it,
 * Toxiproxy's API on TOXIPROXY_API_PORT.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import {
  assertComplete,
  assertHeartbeatsComplete,
  configuredLines,
  finishRun,
  type LiveRun,
  reportTally,
  SCRATCH_PORT,
  ScratchBroker,
  startRun,
  tallyReadings,
} from "./_scratch_broker.ts";
import { consumeAll, tempConfig, waitFor } from "./_kafka.ts";
import { Toxiproxy } from "./_toxiproxy.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The proxy in front of the broker: the address the broker advertises and the runs bootstrap from. */
const PROXY = "kafka";
const PROXY_ADDRESS = `127.0.0.1:${SCRATCH_PORT + 2}`;

interface RunSummaryJson {
  readings: number;
  heartbeats: number;
  wallSeconds: number;
  sink: { delivered: number; spooled: number; replayed: number };
  lines: { factoryId: string; sodaName: string; total: number; sent: number }[];
}

interface Outcome {
  log: string;
  summary: RunSummaryJson;
  /** Wall seconds from the start of the run to its end. */
  seconds: number;
}

/**
 * Runs the simulator through the proxy with `args`, calls `during` once it has connected, waits
 * for its end, and checks what landed: every reading once and in order, every heartbeat.
 */
async function runThroughProxy(
  { broker, toxiproxy }: { broker: ScratchBroker; toxiproxy: Toxiproxy },
  { name, args, expected, during }: {
    name: string;
    args: string[];
    /** line → readings it must have; default: the run's own lines, each of which must be complete. */
    expected?: Map<string, number>;
    during: (run: LiveRun) => Promise<void>;
  },
): Promise<Outcome> {
  const spoolDir = Deno.makeTempDirSync({ prefix: "factory-sim-spool-" });
  try {
    const summaryPath = `${spoolDir}/summary.json`;
    const startedAt = performance.now();
    const run = await startRun(PROXY_ADDRESS, {
      name: `bad-link.${name.replace(/\W+/g, "-")}`,
      args: [...args, `--summary-json=${summaryPath}`],
      spoolDir,
    });
    let code: number;
    let log: string;
    try {
      await during(run);
    } finally {
      ({ code, log } = await finishRun(run));
      await toxiproxy.reset();
    }
    const seconds = (performance.now() - startedAt) / 1000;
    assert.equal(code, ExitCode.ok, log);
    const summary = JSON.parse(Deno.readTextFileSync(summaryPath)) as RunSummaryJson;

    const lines = expected ?? new Map(summary.lines.map((line) => [`${line.factoryId}/${line.sodaName}`, line.total]));
    for (const line of summary.lines) assert.equal(line.sent, line.total, `${line.factoryId}/${line.sodaName} done`);
    const readings = await consumeAll(run.readingsTopic, broker.brokers);
    const heartbeats = await consumeAll(run.heartbeatTopic, broker.brokers);
    const tally = tallyReadings(readings, lines);
    reportTally(
      name,
      tally,
      `heartbeats ${heartbeats.length}; ${summary.sink.spooled} spooled, ${summary.sink.replayed} replayed; ` +
        `run ${seconds.toFixed(1)} s`,
    );
    assertComplete(tally);
    assert.equal(tally.received, summary.readings, "every reading the run produced, once");
    assert.equal(heartbeats.length, summary.heartbeats, "every heartbeat the run produced, once");
    assert.equal(summary.sink.delivered, summary.readings + summary.heartbeats, "every record acknowledged once");
    assertHeartbeatsComplete(heartbeats);
    return { log, summary, seconds };
  } finally {
    Deno.removeSync(spoolDir, { recursive: true });
  }
}

Deno.test({
  name: "a bad link: every reading once and in order through a TCP fault proxy",
  fn: async (t) => {
    const toxiproxy = await Toxiproxy.start();
    const broker = new ScratchBroker({ advertised: PROXY_ADDRESS });
    const link = { broker, toxiproxy };
    try {
      await toxiproxy.createProxy(PROXY, PROXY_ADDRESS, broker.brokers);
      await broker.start();

      await t.step("latency 300 ms with 100 ms jitter on every response", async () => {
        const { summary } = await runThroughProxy(link, {
          name: "latency 300 ms ± 100 ms",
          args: ["--seed=31", "--speed=4"],
          expected: configuredLines(),
          during: async () => {
            await toxiproxy.addToxic(PROXY, {
              name: "latency",
              type: "latency",
              stream: "downstream",
              attributes: { latency: 300, jitter: 100 },
            });
          },
        });
        // Slower acknowledgements, but never the 2 s that count as Kafka down.
        assert.equal(summary.sink.spooled, 0, "nothing spooled");
      });

      await t.step("a bandwidth cap below the run's rate: the spool takes the excess and drains", async () => {
        // 4 factories of 3 lines each, every soda name once (a reading is told apart by its
        // factory and soda name), heartbeats from every sensor: about 25 KB/s at --speed 10.
        const config: Record<string, { sodaName: string; number: number; sensorID: string }[]> = {};
        for (let f = 1; f <= 4; f++) {
          config[`F${f}`] = [1, 2, 3].map((s) => ({ sodaName: `Soda ${f}.${s}`, number: 12, sensorID: `S${f}-${s}` }));
        }
        const { path, remove } = await tempConfig(config);
        try {
          const expected = new Map(
            Object.entries(config).flatMap(([f, lines]) => lines.map((line) => [`${f}/${line.sodaName}`, line.number])),
          );
          const { log, summary } = await runThroughProxy(link, {
            name: "bandwidth capped at 8 KB/s",
            args: ["--seed=32", "--speed=10", "--factories=4", `--config=${path}`],
            expected,
            during: async () => {
              await toxiproxy.addToxic(PROXY, {
                name: "bandwidth",
                type: "bandwidth",
                stream: "upstream",
                attributes: { rate: 8 },
              });
            },
          });
          assert.ok(summary.sink.spooled > 0, "the excess went to the spool");
          assert.equal(summary.sink.replayed, summary.sink.spooled, "the spool drained");
          assert.match(log, /the spool is empty: \d+ records replayed/);
        } finally {
          await remove();
        }
      });

      await t.step("connections reset every 3 s", async () => {
        let resets = 0;
        const { log } = await runThroughProxy(link, {
          name: "connections reset every 3 s",
          // KafkaJS says at debug level which connections it lost.
          args: ["--seed=33", "--speed=2", "--log-level=debug"],
          expected: configuredLines(),
          during: async (run) => {
            let ended = false;
            run.child.status.finally(() => ended = true);
            while (!ended) {
              await sleep(3_000);
              if (ended) break;
              await toxiproxy.addToxic(PROXY, {
                name: "reset",
                type: "reset_peer",
                stream: "upstream",
                attributes: { timeout: 0 },
              });
              // Long enough for the producer's next request to cross it (and be reset).
              await sleep(500);
              await toxiproxy.removeToxic(PROXY, "reset");
              resets++;
            }
          },
        });
        const reset = log.match(/Connection error: read ECONNRESET/g)?.length ?? 0;
        Deno.stderr.writeSync(
          new TextEncoder().encode(
            `[fault] connections reset every 3 s: ${resets} windows, ${reset} connections reset\n`,
          ),
        );
        assert.ok(resets >= 3 && reset >= 3, `${resets} reset windows, ${reset} connections reset`);
      });

      await t.step("a 30 s black hole: nothing passes, then the link is back", async () => {
        const { log, summary } = await runThroughProxy(link, {
          name: "black hole 30 s",
          args: ["--seed=34", "--speed=2"],
          expected: configuredLines(),
          during: async (run) => {
            await sleep(3_000);
            for (const stream of ["upstream", "downstream"] as const) {
              await toxiproxy.addToxic(PROXY, {
                name: `hole-${stream}`,
                type: "timeout",
                stream,
                attributes: { timeout: 0 },
              });
            }
            await waitFor(() => run.stderr.current.includes("spooling records to"), 10_000);
            await sleep(27_000);
            await toxiproxy.reset();
          },
        });
        assert.ok(summary.sink.spooled > 0, "records were spooled during the black hole");
        assert.equal(summary.sink.replayed, summary.sink.spooled, "the spool drained");
        assert.match(log, /Kafka acknowledges again after \d+ s/);
      });
    } finally {
      await broker.dispose();
      await toxiproxy.stop();
    }
  },
});
