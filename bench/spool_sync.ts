/**
 * Worker of `deno task bench --only spool`: commits linger windows to a spool with one
 * `--spool-sync` mode and prints, as one JSON line, what a window costs.
 *
 *   deno run -A bench/spool_sync.ts --sync=full --dir=DIR --records=50 --windows=400
 */
import { parseArgs } from "node:util";
import type { OutRecord } from "../lib/messages.ts";
import { Spool, type SpoolSync } from "../lib/sinks/spool.ts";
import { writeResult } from "./_worker.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sync: { type: "string" },
    dir: { type: "string" },
    records: { type: "string" },
    windows: { type: "string" },
  },
  strict: true,
});
const sync = values.sync as SpoolSync;
const perWindow = Number(values.records);
const windows = Number(values.windows);

/** A reading as the simulator writes it (about 330 bytes with its headers). */
function reading(i: number): OutRecord {
  return {
    topic: "SENSOR_READINGS",
    key: `S${i % 997}-${i % 5}`,
    value: JSON.stringify({
      factoryId: `F${i % 997}`,
      sensorId: `S${i % 997}-${i % 5}`,
      tier: "1.1",
      sodaName: "Dr Pepper",
      reading: 61.4 + (i % 100) / 10,
      count: i,
      total: 1_000_000,
      timestamp: new Date(1_767_225_600_000 + i * 10).toISOString(),
    }),
    timestampMs: 1_767_225_600_000 + i * 10,
    headers: { "content-type": "application/json", "message-type": "factory-sim.reading.v1" },
  };
}

const spool = Spool.open(values.dir!, { maxBytes: 1 << 30, sync });
const times: number[] = [];
let next = 0;
const started = performance.now();
for (let w = 0; w < windows; w++) {
  const batch = Array.from({ length: perWindow }, () => reading(next++));
  const t0 = performance.now();
  spool.append(batch);
  times.push(performance.now() - t0);
}
const wallMs = performance.now() - started;
const actual = spool.sync;
spool.close();
times.sort((a, b) => a - b);
const ms = (value: number) => Math.round(value * 1000) / 1000;
writeResult({
  sync: actual === sync ? sync : `requested ${sync}, got ${actual}`,
  records: perWindow,
  windows,
  msPerWindow: ms(times.reduce((sum, t) => sum + t, 0) / times.length),
  p50Ms: ms(times[Math.floor(times.length / 2)]),
  p99Ms: ms(times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)]),
  windowsPerSecond: windows / (wallMs / 1000),
});
