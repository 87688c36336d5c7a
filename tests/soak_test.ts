/** The soak's leak figures (bench/soak.ts): least-squares slopes of per-minute floors between restarts. */
import assert from "node:assert/strict";
import { floors, slope, steady } from "../bench/soak.ts";

Deno.test("slope: the least-squares slope of a line, NaN without two distinct points", () => {
  assert.equal(slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]), 2);
  assert.ok(Number.isNaN(slope([{ x: 1, y: 1 }])));
  assert.ok(Number.isNaN(slope([{ x: 1, y: 1 }, { x: 1, y: 2 }])));
});

Deno.test("floors: a sawtooth heap growing 12 MiB/h gives 12 MiB/h; flat teeth give 0", () => {
  // Samples every 10 s for 30 min; a tooth rises 50 MiB over 40 s, then a collection drops it.
  const heap = (t: number, growthPerHour: number) => 100 + (t % 40) * 1.25 + growthPerHour * t / 3600;
  for (const growth of [0, 12]) {
    const samples = Array.from({ length: 180 }, (_, i) => ({ t: i * 10, y: heap(i * 10, growth) }));
    const fit = slope(floors(samples, (s) => s.y).map(({ t, y }) => ({ x: t / 3600, y })));
    assert.ok(Math.abs(fit - growth) < 0.5, `growth ${growth}: fitted ${fit}`);
    // The raw samples of a short stretch mislead: the last tooth decides.
    const raw = slope(samples.slice(0, 11).map((s) => ({ x: s.t / 3600, y: s.y })));
    assert.ok(Math.abs(raw - growth) > 100, `raw fit ${raw}`);
  }
});

Deno.test("floors: a minute cut short at the end is left out", () => {
  const samples = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120].map((t) => ({ t }));
  assert.deepEqual(floors(samples, (s) => s.t).map((f) => f.t), [0, 60]);
});

Deno.test("steady: samples during a restart and the 2 minutes after it are left out", () => {
  const samples = [0, 50, 100, 130, 200, 249, 250, 300].map((t) => ({ t }));
  assert.deepEqual(steady(samples, [{ from: 100, to: 130 }]).map((s) => s.t), [0, 50, 250, 300]);
  assert.deepEqual(steady(samples, []).length, samples.length);
});
