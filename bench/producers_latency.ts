/**
 * `--producers` where the round trip bounds a backfill: the CLI's backfill through a link with
 * latency (Toxiproxy 2.5.0 in front of a scratch broker that advertises the proxy, as
 * tests/bad_link_test.ts does), with 1 and with several producers, alternating. With one request
 * in flight a producer sends at most one request a round trip; each extra producer adds one.
 *
 *   KAFKA_SCRATCH_PORT=9800 TOXIPROXY_API_PORT=9804 flock /tmp/factory-sim-bench.lock \
 *     deno run -A bench/producers_latency.ts [--latency-ms 20] [--rounds 2] [--producers 1,3] [--minutes 4]
 *
 * Uses the scratch broker's ports (KAFKA_SCRATCH_PORT and the next), the proxy's two above, and
 * Toxiproxy's API on TOXIPROXY_API_PORT. Prints one markdown table.
 */
import { parseArgs } from "node:util";
import { median } from "./_stats.ts";
import { SCRATCH_PORT, ScratchBroker } from "../tests/_scratch_broker.ts";
import { Toxiproxy } from "../tests/_toxiproxy.ts";
import denoJson from "../deno.json" with { type: "json" };

const ROOT = new URL("..", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: {
    "latency-ms": { type: "string", default: "20" },
    rounds: { type: "string", default: "2" },
    producers: { type: "string", default: "1,3" },
    minutes: { type: "string", default: "4" },
  },
});
const latencyMs = Number(values["latency-ms"]);
const rounds = Number(values.rounds);
const counts = values.producers.split(",").map(Number);
const proxyAddress = `127.0.0.1:${SCRATCH_PORT + 2}`;
const command = denoJson.tasks.sim.command.split(/\s+/);
const simFlags = command.slice(command.indexOf("run") + 1, command.indexOf("main.ts"));
const toMs = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
const window = `${new Date(toMs - Number(values.minutes) * 60_000).toISOString()}..${new Date(toMs).toISOString()}`;

const toxiproxy = await Toxiproxy.start();
const broker = new ScratchBroker({ advertised: proxyAddress });
const scratch = Deno.makeTempDirSync({ prefix: "producers-latency-" });
const rows: { producers: number; round: number; seconds: number; records: number }[] = [];
try {
  await toxiproxy.createProxy("kafka", proxyAddress, broker.brokers);
  await broker.start();
  await toxiproxy.addToxic("kafka", {
    name: "latency",
    type: "latency",
    stream: "downstream",
    attributes: { latency: latencyMs, jitter: 0 },
  });
  for (let round = 1; round <= rounds; round++) {
    for (const producers of counts) {
      const id = `lat.r${round}.p${producers}.${crypto.randomUUID().slice(0, 8)}`;
      const summary = `${scratch}/${id}.json`;
      const started = performance.now();
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...simFlags,
          `--allow-write=${scratch}`,
          "main.ts",
          "--sink=kafka",
          `--brokers=${proxyAddress}`,
          "--backfill",
          window,
          "--continuous",
          "--seed=13",
          "--factories=300",
          "--generate-lines",
          "-q",
          "--partitions=6",
          `--producers=${producers}`,
          `--readings-topic=${id}.readings`,
          `--heartbeat-topic=${id}.heartbeats`,
          `--spool-dir=${scratch}/${id}`,
          `--summary-json=${summary}`,
        ],
        cwd: ROOT,
        stdout: "null",
        stderr: "piped",
      }).output();
      const seconds = (performance.now() - started) / 1000;
      if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
      const { topics } = JSON.parse(Deno.readTextFileSync(summary)) as { topics: Record<string, number> };
      const records = Object.values(topics).reduce((sum, n) => sum + n, 0);
      rows.push({ producers, round, seconds, records });
      Deno.stderr.writeSync(
        new TextEncoder().encode(
          `round ${round}, --producers ${producers}: ${records} records in ${seconds.toFixed(2)} s\n`,
        ),
      );
    }
  }
} finally {
  await broker.dispose().catch(() => {});
  await toxiproxy.stop().catch(() => {});
  Deno.removeSync(scratch, { recursive: true });
}

const rate = (row: { seconds: number; records: number }) => row.records / row.seconds;
const out: string[] = [
  `Backfill ${window} (${rows[0].records} records), ${latencyMs} ms added to every response, 6 partitions\n`,
  "| --producers | records/s (median) | per round | vs --producers 1 |",
  "|---:|---:|---|---:|",
];
const base = rows.filter((row) => row.producers === counts[0]);
for (const producers of counts) {
  const mine = rows.filter((row) => row.producers === producers);
  const ratios = mine.map((row, i) => rate(row) / rate(base[i]));
  out.push(
    `| ${producers} | ${Math.round(median(mine.map(rate))).toLocaleString("en-US")} | ` +
      `${mine.map((row) => Math.round(rate(row)).toLocaleString("en-US")).join(", ")} | ${
        median(ratios).toFixed(2)
      }x |`,
  );
}
Deno.stdout.writeSync(new TextEncoder().encode(out.join("\n") + "\n"));
