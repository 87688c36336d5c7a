import assert from "node:assert/strict";
import { parseCommand } from "../lib/cli.ts";
import { DURATION_PATTERN, DURATION_WITH_UNIT, formatDuration, parseDuration } from "../lib/duration.ts";

Deno.test("durations: a unit, compounds as Go and systemd write them, or seconds", () => {
  const cases: [string | number, number][] = [
    ["500ms", 500],
    ["90s", 90_000],
    ["1.5h", 5_400_000],
    ["45", 45_000],
    [" 15m ", 900_000],
    ["2m30s", 150_000],
    ["1h30m", 5_400_000],
    ["1d12h", 129_600_000],
    ["1h 30m 15s", 5_415_000],
    ["1m500ms", 60_500],
    ["1.5m30s", 120_000],
    ["30s1m", 90_000],
    [2.5, 2_500],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, String(text));
});

Deno.test("durations: anything else is not one", () => {
  for (const text of ["", "s", "1x", "1h30", "30 1m", "-1s", "1e3s", "1h-30m", "h1", "1 h m", "1,5h", "1mss"]) {
    assert.equal(parseDuration(text), undefined, text);
  }
  assert.equal(parseDuration(`${"9".repeat(400)}d`), undefined, "too long to be a number");
  assert.equal(parseDuration(-1), undefined);
  assert.equal(parseDuration(Infinity), undefined);
});

Deno.test("the JSON Schema's pattern accepts exactly what parseDuration does", () => {
  const pattern = new RegExp(DURATION_PATTERN);
  for (const text of ["90s", "2m30s", "1h 30m", "45", ".5h", "", "1h30", "30 1m", "abc", "1mss"]) {
    assert.equal(pattern.test(text), parseDuration(text) !== undefined, text);
  }
});

Deno.test("a time ago needs its unit: a bare number is not one", () => {
  for (const text of ["7d", "36h", "1d12h", "2m30s"]) assert.ok(DURATION_WITH_UNIT.test(text), text);
  for (const text of ["7", "2025", "1h30"]) assert.ok(!DURATION_WITH_UNIT.test(text), text);
});

Deno.test("parsing a long hostile string stays linear", () => {
  const started = performance.now();
  for (const text of ["1m".repeat(100_000) + "x", "1".repeat(1_000_000) + "x", "1ms".repeat(100_000) + "q"]) {
    assert.equal(parseDuration(text), undefined);
  }
  assert.ok(performance.now() - started < 2_000, "well under two seconds");
});

Deno.test("formatDuration", () => {
  assert.equal(formatDuration(90_000), "90 s");
  assert.equal(formatDuration(900_000), "15 min");
  assert.equal(formatDuration(5_400_000), "90 min");
  assert.equal(formatDuration(86_400_000), "1 d");
  assert.equal(formatDuration(1_500), "1500 ms");
});

Deno.test("flags take compound durations: --duration, --backfill's times ago, the monitor's", () => {
  const nowMs = Date.UTC(2026, 0, 10);
  const run = parseCommand(["--duration", "1h30m"], {}, { nowMs });
  assert.equal(run.kind === "run" && run.options.durationMs, 5_400_000);
  const backfill = parseCommand(["--backfill", "1d12h..2m30s"], {}, { nowMs });
  assert.deepEqual(backfill.kind === "run" && backfill.options.backfill, {
    fromMs: nowMs - 129_600_000,
    toMs: nowMs - 150_000,
  });
  assert.throws(() => parseCommand(["--backfill", "1h30"], {}, { nowMs }), /--backfill FROM must be/);
});
