/** Each signal's statistics, on simulated time: mean, spread, period, drift, range and rounding. */
import assert from "node:assert/strict";
import { Rng } from "../lib/random.ts";
import { createSignal, SIGNAL_LIMIT, type SignalConfig, signalRange, signalSchema } from "../lib/waveforms.ts";

const START = Date.UTC(2026, 0, 1);

/** `n` values of `config`, one every `stepMs` of simulated time. */
function sample(config: SignalConfig | undefined, { n = 20_000, stepMs = 3_000, seed = 1 } = {}): number[] {
  const signal = createSignal(config, START);
  const rng = new Rng(seed).derive("value");
  return Array.from({ length: n }, (_, i) => signal(START + i * stepMs, rng));
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
  const signal = createSignal(config, START);
  const rng = new Rng(1);
  for (const t of [0, 75_000, 150_000, 290_000]) {
    assert.ok(Math.abs(signal(START + t, rng) - signal(START + t + 600_000, rng)) < 0.01, `period at ${t} ms`);
  }
  assert.equal(signal(START + 150_000, rng), 70, "peak a quarter period in");
});

Deno.test("walk: wanders but reverts to its setpoint", () => {
  const values = sample({ type: "walk", setpoint: 60, volatility: 1, reversion: 0.01 });
  assert.ok(Math.abs(mean(values) - 60) < 2, `mean ${mean(values)}`);
  const steps = values.slice(1).map((v, i) => Math.abs(v - values[i]));
  assert.ok(mean(steps) < 3, "moves by small steps, not jumps");
  assert.ok(stdDev(values) > 2, "but does wander");
});

Deno.test("drift adds its units per hour; noise composes with the shape", () => {
  const drifting = createSignal({ type: "gaussian", setpoint: 10, sigma: 0, drift: 6 }, START);
  const rng = new Rng(1);
  assert.equal(drifting(START, rng), 10);
  assert.equal(drifting(START + 3_600_000, rng), 16);
  assert.equal(drifting(START + 1_800_000, rng), 13);
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

/** A seeded draw of a signal's parameters, each at a bound, near one, or anywhere between. */
function drawSignal(rng: Rng): Record<string, unknown> {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(rng.next() * values.length)];
  const level = () => pick([-SIGNAL_LIMIT, SIGNAL_LIMIT, 0, -1e-9, 1e-9, (rng.next() * 2 - 1) * SIGNAL_LIMIT]);
  const spread = () => pick([0, SIGNAL_LIMIT, 1e-9, rng.next() * SIGNAL_LIMIT, rng.next() * 10]);
  const type = pick(["uniform", "gaussian", "sine", "walk"]);
  const signal: Record<string, unknown> = { type };
  if (type === "gaussian") Object.assign(signal, { setpoint: level(), sigma: spread() });
  if (type === "sine") {
    Object.assign(signal, { base: level(), amplitude: level(), period: pick([0.001, 315_360_000, "1h30m", 7]) });
  }
  if (type === "walk") {
    Object.assign(signal, { setpoint: level(), volatility: spread(), reversion: pick([0, 1, 1e-9, rng.next()]) });
  }
  for (const [field, draw] of [["noise", spread], ["drift", level], ["min", level], ["max", level]] as const) {
    if (rng.next() < 0.6) signal[field] = draw();
  }
  if (rng.next() < 0.7) signal.decimals = Math.floor(rng.next() * 7);
  return signal;
}

Deno.test("signals drawn at their bounds give finite values, in range and exact to their decimals, for 10 years", () => {
  const seed = 20261130;
  const rng = new Rng(seed);
  const tenYearsMs = 3_650 * 86_400_000;
  let accepted = 0;
  for (let i = 0; i < 400; i++) {
    const drawn = drawSignal(rng);
    const parsed = signalSchema.safeParse(drawn);
    if (!parsed.success) continue;
    accepted++;
    const config = parsed.data;
    const { min, max, decimals } = signalRange(config);
    const signal = createSignal(config, START);
    const values = new Rng(seed).derive(`value/${i}`);
    // Readings 2-5 s apart at the start, then at the end of the longest run (3650 days).
    let timeMs = START;
    for (let n = 0; n < 600; n++) {
      if (n === 300) timeMs = START + tenYearsMs - 1_000_000;
      timeMs += 2_000 + Math.floor(rng.next() * 3_000);
      const value = signal(timeMs, values);
      const where = `${JSON.stringify(drawn)} at +${timeMs - START} ms: ${value}`;
      assert.ok(Number.isFinite(value), where);
      assert.notEqual(JSON.stringify(value), "null", where);
      assert.ok(value >= min - 10 ** -decimals && value <= max + 10 ** -decimals, `out of range: ${where}`);
      assert.ok(Number(value.toFixed(decimals)) === value, `not exact to ${decimals} decimals: ${where}`);
    }
  }
  assert.ok(accepted > 150, `${accepted} of 400 draws were valid signals`);
  Deno.stderr.writeSync(
    new TextEncoder().encode(`[bounds] seed ${seed}: ${accepted} signals, 600 values each, checked\n`),
  );
});

Deno.test("what once gave null readings is refused by the schema, naming the field and its bound", () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ type: "uniform", min: -1e308, max: 1e308 }, "min", "must be a number from -1e9 to 1e9"],
    [{ type: "gaussian", setpoint: 1e308, sigma: 1e308, max: 1e308 }, "setpoint", "must be a number from -1e9 to 1e9"],
    [{ type: "walk", setpoint: 0, volatility: 1e200, reversion: 0, max: 1e300 }, "volatility", "from 0 to 1e9"],
    [{ type: "walk", setpoint: 0, volatility: 1, reversion: 5 }, "reversion", "must be a number from 0 to 1"],
    [{ type: "sine", base: 0, amplitude: 1, period: 1e12 }, "period", "from 1ms to 3650d"],
    [{ type: "gaussian", setpoint: 0, sigma: 1, drift: -1e300, min: -1e300 }, "drift", "from -1e9 to 1e9"],
    [{ type: "uniform", noise: 1e300 }, "noise", "from 0 to 1e9"],
    [{ type: "uniform", min: 0.2, max: 0.8 }, "", "must have an integer between min and max"],
  ];
  for (const [config, field, message] of cases) {
    const result = signalSchema.safeParse(config);
    assert.ok(!result.success, JSON.stringify(config));
    const issue = result.error.issues.find((issue) => issue.path.join(".") === field);
    assert.ok(issue, `${JSON.stringify(config)}: ${JSON.stringify(result.error.issues)}`);
    assert.match(issue.message, new RegExp(message.replace(/[()]/g, "\\$&")));
  }
  // Why: the same parameters, run, gave what the message contract forbids.
  const broken = createSignal({ type: "uniform", min: -1e308, max: 1e308, decimals: 2 }, START);
  assert.ok(!Number.isFinite(broken(START, new Rng(1))), "unbounded, a uniform draw overflows");
});
