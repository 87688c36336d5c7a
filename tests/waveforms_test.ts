/** Each signal's statistics, on simulated time: mean, spread, period, drift, range and rounding. */
import assert from "node:assert/strict";
import { Rng } from "../lib/random.ts";
import { createSignal, type SignalConfig } from "../lib/waveforms.ts";

const START = Date.UTC(2026, 0, 1);

/** `n` values of `config`, one every `stepMs` of simulated time. */
function sample(config: SignalConfig | undefined, { n = 20_000, stepMs = 3_000, seed = 1 } = {}): number[] {
  const signal = createSignal(config, new Rng(seed).derive("value"), START);
  return Array.from({ length: n }, (_, i) => signal(START + i * stepMs));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function stdDev(values: number[]): number {
  const m = mean(values);
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
}

Deno.test("no signal is today's: uniform integers 0..100 with the same draws", () => {
  const rng = new Rng(1).derive("value");
  const today = Array.from({ length: 1_000 }, () => rng.int(0, 100));
  assert.deepEqual(sample(undefined, { n: 1_000 }), today);
  assert.deepEqual(sample({ type: "uniform" }, { n: 1_000 }), today, "an explicit default is the same");
});

Deno.test("gaussian: mean at the setpoint, spread of sigma", () => {
  const values = sample({ type: "gaussian", setpoint: 40, sigma: 5 });
  assert.ok(Math.abs(mean(values) - 40) < 0.2, `mean ${mean(values)}`);
  assert.ok(Math.abs(stdDev(values) - 5) < 0.2, `spread ${stdDev(values)}`);
});

Deno.test("sine: swings between base - amplitude and base + amplitude with its period", () => {
  const config: SignalConfig = { type: "sine", base: 50, amplitude: 20, period: "10m" };
  const values = sample(config, { n: 600, stepMs: 1_000 });
  assert.ok(Math.abs(Math.max(...values) - 70) < 0.01 && Math.abs(Math.min(...values) - 30) < 0.01);
  const signal = createSignal(config, new Rng(1), START);
  for (const t of [0, 75_000, 150_000, 290_000]) {
    assert.ok(Math.abs(signal(START + t) - signal(START + t + 600_000)) < 0.01, `period at ${t} ms`);
  }
  assert.equal(signal(START + 150_000), 70, "peak a quarter period in");
});

Deno.test("walk: wanders but reverts to its setpoint", () => {
  const values = sample({ type: "walk", setpoint: 60, volatility: 1, reversion: 0.01 });
  assert.ok(Math.abs(mean(values) - 60) < 2, `mean ${mean(values)}`);
  const steps = values.slice(1).map((v, i) => Math.abs(v - values[i]));
  assert.ok(mean(steps) < 3, "moves by small steps, not jumps");
  assert.ok(stdDev(values) > 2, "but does wander");
});

Deno.test("drift adds its units per hour; noise composes with the shape", () => {
  const drifting = createSignal({ type: "gaussian", setpoint: 10, sigma: 0, drift: 6 }, new Rng(1), START);
  assert.equal(drifting(START), 10);
  assert.equal(drifting(START + 3_600_000), 16);
  assert.equal(drifting(START + 1_800_000), 13);
  const noisy = sample({ type: "sine", base: 50, amplitude: 10, period: 3600, noise: 2 }, { stepMs: 1_000 });
  const clean = sample({ type: "sine", base: 50, amplitude: 10, period: 3600 }, { stepMs: 1_000 });
  const residual = noisy.map((v, i) => v - clean[i]);
  assert.ok(Math.abs(stdDev(residual) - 2) < 0.1, `noise ${stdDev(residual)}`);
});

Deno.test("values stay in the instrument range and keep the decimals asked for", () => {
  const values = sample({ type: "gaussian", setpoint: 95, sigma: 10, min: 0, max: 100, decimals: 1 });
  assert.ok(values.every((v) => v >= 0 && v <= 100));
  assert.ok(values.some((v) => v === 100), "clamped at the top");
  assert.ok(values.every((v) => Math.round(v * 10) === v * 10 || Math.abs(Math.round(v * 10) - v * 10) < 1e-9));
  assert.ok(values.some((v) => !Number.isInteger(v)));
  const integers = sample({ type: "walk", setpoint: 5, volatility: 2, reversion: 0.1, decimals: 0, min: -10, max: 10 });
  assert.ok(integers.every((v) => Number.isInteger(v) && v >= -10 && v <= 10));
});

Deno.test("a seeded signal gives the same values every time", () => {
  const config: SignalConfig = { type: "walk", setpoint: 50, volatility: 0.5, reversion: 0.05, noise: 1, drift: 1 };
  assert.deepEqual(sample(config, { n: 500 }), sample(config, { n: 500 }));
  assert.notDeepEqual(sample(config, { n: 500 }), sample(config, { n: 500, seed: 2 }));
});
