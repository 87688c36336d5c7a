/** The rate benchmark's reading of Kafka's end offsets (bench/rate.ts). */
import assert from "node:assert/strict";
import { type OffsetSample, steadyRate } from "../bench/rate.ts";

/** Samples every 250 ms: nothing for `idle` ms, then `perSecond` records a second until `stopMs`, then flat. */
function samples(
  { idle, perSecond, stopMs, endMs }: { idle: number; perSecond: number; stopMs: number; endMs: number },
) {
  const out: OffsetSample[] = [];
  for (let atMs = 0; atMs <= endMs; atMs += 250) {
    const running = Math.max(0, Math.min(atMs, stopMs) - idle);
    out.push({ atMs, records: Math.floor(running * perSecond / 1000) });
  }
  return out;
}

Deno.test("Kafka's rate is the end offsets' growth over the steady middle of the run", () => {
  const rate = steadyRate(samples({ idle: 600, perSecond: 5_000, stopMs: 10_600, endMs: 11_500 }));
  assert.ok(rate !== null && Math.abs(rate - 5_000) < 5, `${rate}`);
});

Deno.test("a start-up burst and a tail are left out of Kafka's rate", () => {
  const base = samples({ idle: 500, perSecond: 1_000, stopMs: 8_500, endMs: 9_000 });
  // 3000 records at once when the first batch lands, and a slow last second.
  const bursty = base.map((sample) => ({
    ...sample,
    records: sample.records > 0 ? sample.records + 3_000 : 0,
  }));
  bursty.splice(-3, 3, { atMs: 8_750, records: bursty.at(-4)!.records + 50 }, {
    atMs: 9_000,
    records: bursty.at(-4)!.records + 60,
  });
  const rate = steadyRate(bursty);
  assert.ok(rate !== null && Math.abs(rate - 1_000) < 20, `${rate}`);
});

Deno.test("a warm-up longer than 1 s starts the window later", () => {
  // Half the rate for the first 5 s (lines not yet reading), then the full rate.
  const out: OffsetSample[] = [];
  for (let atMs = 0; atMs <= 12_000; atMs += 250) {
    const t = Math.min(atMs, 11_000);
    out.push({ atMs, records: Math.round(t < 5_000 ? t / 2 : 2_500 + (t - 5_000)) });
  }
  const early = steadyRate(out);
  const late = steadyRate(out, 5_000);
  assert.ok(early !== null && early < 900, `${early}`);
  assert.ok(late !== null && Math.abs(late - 1_000) < 1, `${late}`);
});

Deno.test("too short a run, or no records, has no Kafka rate", () => {
  assert.equal(steadyRate([]), null);
  assert.equal(steadyRate([{ atMs: 0, records: 0 }, { atMs: 5_000, records: 0 }]), null);
  assert.equal(steadyRate(samples({ idle: 0, perSecond: 1_000, stopMs: 3_000, endMs: 3_500 })), null);
});
