/**
 * Rates from counters: `RateWindow` turns counts that only grow (records per topic) into counts
 * per second over the last few seconds of wall time. Used by the live status and the monitor.
 * `formatRate` writes a rate as the run's status, summary and start line show it.
 */

/** Per-second rates of growing counters over a sliding window. */
export class RateWindow {
  readonly #windowMs: number;
  #samples: { atMs: number; counts: Record<string, number> }[] = [];

  constructor(windowMs = 5_000) {
    this.#windowMs = windowMs;
  }

  /** Records `counts` at `nowMs` and returns each counter's growth per second since the window's start. */
  sample(nowMs: number, counts: Record<string, number>): Record<string, number> {
    const samples = this.#samples;
    samples.push({ atMs: nowMs, counts: { ...counts } });
    // Keep one sample at or before the window's start as the base.
    while (samples.length > 2 && samples[1].atMs <= nowMs - this.#windowMs) samples.shift();
    const base = samples[0];
    const seconds = (nowMs - base.atMs) / 1000;
    const rates: Record<string, number> = {};
    for (const [name, n] of Object.entries(counts)) {
      rates[name] = seconds > 0 ? Math.max(0, n - (base.counts[name] ?? 0)) / seconds : 0;
    }
    return rates;
  }
}

/** A rate as a run shows it: whole numbers from 100 on, else one decimal (two digits below 0.1, but 0). */
export function formatRate(rate: number): string {
  return rate >= 100 ? String(Math.round(rate)) : rate >= 0.1 || rate === 0 ? rate.toFixed(1) : rate.toPrecision(2);
}
