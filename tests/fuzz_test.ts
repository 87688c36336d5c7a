/**
 * A seeded fuzz test of the config boundary: the shipped factory_config.json, mutated (types
 * swapped, extreme numbers, deletions, control and odd Unicode characters, deep nesting, reserved
 * keys, huge strings, duplicates, signals and faults with drawn parameters), then `validate` and a
 * short console run of each, in-process. Each must exit 0 or 2, never with an unexpected failure;
 * `validate` and the run must agree; stderr is one line per message; stdout keeps the message
 * contract. The seed is printed (FUZZ_SEED=N reruns another); a failure names the case and its mutations.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { Rng } from "../lib/random.ts";
import { LINE_MAX } from "../lib/text.ts";
import { consoleLineProblem } from "./_contract.ts";
import { runMain } from "./_helpers.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261130);
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 200);
const SHIPPED = await Deno.readTextFile(new URL("../factory_config.json", import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Text put in place of a sentinel string once the tree is written: what JSON.stringify cannot write. */
const RAW: Record<string, string> = {
  "\u0000big": "1e400",
  "\u0000-big": "-1e400",
  "\u0000tiny": "1e-400",
  "\u0000deep": "[".repeat(5_000) + "]".repeat(5_000),
  "\u0000unclosed": "[".repeat(5_000),
  "\u0000objects": '{"a":'.repeat(3_000) + "1" + "}".repeat(3_000),
};

const STRINGS = [
  "",
  " ",
  "\u001b[2J\u001b]0;pwned\u0007",
  "line\nerror: forged",
  "\u2028\u2029\u202e\u2066",
  "\ud800",
  "😀🥤",
  "S1-1",
  "S9-9",
  "10m",
  "2m30s",
  "1h30m",
  "1h30",
  "-5s",
  "99999999999999999999999d",
  "3651d",
  "uniform",
  "late",
  "__proto__",
];
const NUMBERS = [
  0,
  -0,
  -1,
  0.5,
  1,
  2,
  3,
  100,
  1e9,
  -1e9,
  1e9 + 1,
  2 ** 53,
  2 ** 53 + 2,
  5e-324,
  1e-7,
  1e300,
  1e308,
  -1e308,
  3600,
  315_360_000,
];
const EXTREMES = [1e308, -1e308, 1e300, -1e300, 1e15, 1e12, 1e10, 1e9, -1e9, 1e9 + 1, 5e-324, 1e-300, 1e6];
const EXTREME_DURATIONS = ["99999999999999999999d", 1e12, 1e15, "3650d", "3651d", "1h30m", "2m30s", 0.0001, 1e-9];
const SANE_SIGNALS: Record<string, Json>[] = [
  { type: "uniform" },
  { type: "gaussian", setpoint: 50, sigma: 2 },
  { type: "sine", base: 50, amplitude: 10, period: 60 },
  { type: "walk", setpoint: 50, volatility: 1, reversion: 0.1 },
];
const KEYS = ["__proto__", "constructor", "prototype", "defaults", "$schema", "F1", "F4", "signal", "faults", "x"];
const SIGNAL_TYPES = ["uniform", "gaussian", "sine", "walk"] as const;
const FAULT_KINDS = ["spike", "dip", "stuck", "dropout", "offline", "out_of_range", "duplicate", "late"];

class Mutator {
  readonly #rng: Rng;
  constructor(rng: Rng) {
    this.#rng = rng;
  }
  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.#rng.next() * values.length)];
  }
  chance(p: number): boolean {
    return this.#rng.next() < p;
  }
  number(): number | string {
    if (this.chance(0.15)) return this.pick(["\u0000big", "\u0000-big", "\u0000tiny"]);
    return this.chance(0.7) ? this.pick(NUMBERS) : (this.#rng.next() * 2 - 1) * 10 ** Math.floor(this.#rng.next() * 12);
  }
  duration(): number | string {
    return this.chance(0.5) ? this.pick(STRINGS.filter((s) => /\d/.test(s))) : this.number();
  }
  value(): Json {
    switch (Math.floor(this.#rng.next() * 8)) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.number();
      case 3:
        return this.pick(STRINGS);
      case 4:
        return [];
      case 5:
        return {};
      case 6:
        return this.pick(["\u0000deep", "\u0000unclosed", "\u0000objects"]);
      default:
        return this.chance(0.5) ? "x".repeat(300_000) : [this.number(), this.pick(STRINGS)];
    }
  }
  signal(): Json {
    const type = this.pick(SIGNAL_TYPES);
    const fields = {
      uniform: [],
      gaussian: ["setpoint", "sigma"],
      sine: ["base", "amplitude"],
      walk: ["setpoint", "volatility", "reversion"],
    }[type]!;
    const signal: Record<string, Json> = { type };
    // Mostly well-formed, so that the bounds are what is tested, not a missing field.
    for (const field of fields) signal[field] = this.chance(0.9) ? this.number() : this.value();
    if (type === "sine") signal.period = this.duration();
    for (const field of ["noise", "drift", "min", "max"]) if (this.chance(0.5)) signal[field] = this.number();
    if (this.chance(0.5)) signal.decimals = this.pick([0, 2, 6, 7, -1, 1.5]);
    return signal;
  }
  /** A sane signal with one or two parameters pushed to an extreme: valid-looking, the run's hardest case. */
  extremeSignal(): Json {
    const signal: Record<string, Json> = structuredClone(this.pick(SANE_SIGNALS));
    if (this.chance(0.7)) signal.decimals = this.pick([0, 2, 6]);
    for (let i = 0; i < 1 + Math.floor(this.#rng.next() * 2); i++) {
      const field = this.pick([...Object.keys(signal).filter((f) => f !== "type"), "min", "max", "noise", "drift"]);
      signal[field] = field === "period" ? this.pick(EXTREME_DURATIONS) : this.pick(EXTREMES);
    }
    return signal;
  }
  /** A fault active from the start with one parameter pushed to an extreme. */
  extremeFault(): Json {
    const fault: Record<string, Json> = { kind: this.pick(FAULT_KINDS), at: 0, for: "1m" };
    const field = this.pick(["lateBy", "lateBy", "magnitude", "perHour", "at", "for"]);
    if (field === "perHour") delete fault.at;
    if (field === "lateBy") fault.kind = "late";
    fault[field] = field === "magnitude" || field === "perHour" ? this.pick(EXTREMES) : this.pick(EXTREME_DURATIONS);
    return fault;
  }
  fault(): Json {
    const fault: Record<string, Json> = { kind: this.pick(FAULT_KINDS) };
    if (this.chance(0.6)) fault.at = this.duration();
    else fault.perHour = this.number();
    for (const field of ["for", "lateBy"]) if (this.chance(0.5)) fault[field] = this.duration();
    if (this.chance(0.4)) fault.magnitude = this.number();
    return fault;
  }
}

/** Every container in `tree` with its key, as [parent, key] pairs (the root has none). */
function slots(tree: Json): [Json[] | Record<string, Json>, string | number][] {
  const out: [Json[] | Record<string, Json>, string | number][] = [];
  const stack: Json[] = [tree];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        out.push([node, i]);
        stack.push(child);
      });
    } else if (node !== null && typeof node === "object") {
      for (const key of Object.keys(node)) {
        out.push([node, key]);
        stack.push(node[key]);
      }
    }
  }
  return out;
}

function setOwn(target: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** One mutation of `tree` (in place, or a new tree), and its name for the failure message. */
function mutate(tree: Json, m: Mutator): { tree: Json; name: string } {
  const all = slots(tree);
  const objects = [tree, ...all.map(([parent, key]) => (parent as Record<string, Json>)[key as string])]
    .filter((node): node is Record<string, Json> => node !== null && typeof node === "object" && !Array.isArray(node));
  const arrays = all.map(([parent, key]) => (parent as Record<string, Json>)[key as string])
    .filter((node): node is Json[] => Array.isArray(node));
  const kind = m.pick([
    "type swap",
    "extreme number",
    "deletion",
    "odd text",
    "deep nesting",
    "reserved key",
    "huge string",
    "duplicate",
    // Signals and faults twice as often: their bounds are what a run depends on.
    "signal",
    "signal",
    "faults",
    "faults",
    "defaults",
  ]);
  switch (kind) {
    case "type swap": {
      if (all.length === 0) return { tree: m.value(), name: "root swapped" };
      const [parent, key] = m.pick(all);
      (parent as Record<string, Json>)[key as string] = m.value();
      return { tree, name: `${kind} at ${String(key)}` };
    }
    case "extreme number":
    case "odd text": {
      const leaves = all.filter(([p, k]) => typeof (p as Record<string, Json>)[k as string] !== "object");
      if (leaves.length === 0) return { tree, name: "nothing" };
      const [parent, key] = m.pick(leaves);
      (parent as Record<string, Json>)[key as string] = kind === "odd text" ? m.pick(STRINGS) : m.number();
      return { tree, name: `${kind} at ${String(key)}` };
    }
    case "deletion": {
      if (all.length === 0) return { tree, name: "nothing" };
      const [parent, key] = m.pick(all);
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      return { tree, name: `deleted ${String(key)}` };
    }
    case "deep nesting": {
      if (all.length === 0) return { tree: "\u0000deep", name: kind };
      const [parent, key] = m.pick(all);
      (parent as Record<string, Json>)[key as string] = m.pick(["\u0000deep", "\u0000unclosed", "\u0000objects"]);
      return { tree, name: `${kind} at ${String(key)}` };
    }
    case "reserved key": {
      if (objects.length === 0) return { tree, name: "nothing" };
      const key = m.pick(["__proto__", "constructor", "prototype"]);
      setOwn(m.pick(objects), key, m.chance(0.5) ? structuredClone(m.pick(arrays.length ? arrays : [[]])) : m.value());
      return { tree, name: `key ${key}` };
    }
    case "huge string": {
      const text = m.pick(["a", "\u001b", "😀"]).repeat(300_000);
      if (objects.length > 0 && m.chance(0.3)) setOwn(m.pick(objects), text, []);
      else if (all.length > 0) {
        const [parent, key] = m.pick(all);
        (parent as Record<string, Json>)[key as string] = text;
      }
      return { tree, name: kind };
    }
    case "duplicate": {
      if (arrays.length > 0 && m.chance(0.5)) {
        const array = m.pick(arrays);
        if (array.length > 0) array.push(structuredClone(m.pick(array)));
        return { tree, name: "duplicate element" };
      }
      // A duplicate key: JSON.parse keeps the last, so it is written as text (see toText).
      return { tree, name: "duplicate key" };
    }
    case "signal":
    case "faults":
    case "defaults": {
      const lines = objects.filter((o) => "sodaName" in o);
      const target = kind === "defaults" || lines.length === 0
        ? ((objects[0] ??= {})[m.pick(KEYS.slice(3, 4))] ??= {}) as Record<string, Json>
        : m.pick(lines);
      if (target === null || typeof target !== "object" || Array.isArray(target)) return { tree, name: "nothing" };
      const extreme = m.chance(0.6);
      if (kind !== "faults" && m.chance(0.7)) target.signal = extreme ? m.extremeSignal() : m.signal();
      if (kind !== "signal") {
        target.faults = Array.from({ length: m.pick([1, 1, 2]) }, () => extreme ? m.extremeFault() : m.fault());
      }
      return { tree, name: `${kind} drawn` };
    }
  }
  return { tree, name: kind };
}

/** The tree as file text, sentinels replaced by what JSON cannot hold, and a duplicate key when asked. */
function toText(tree: Json, duplicateKey: boolean): string {
  let text = JSON.stringify(tree, null, 1) ?? "null";
  for (const [sentinel, raw] of Object.entries(RAW)) text = text.replaceAll(JSON.stringify(sentinel), raw);
  if (duplicateKey && text.startsWith("{\n")) {
    text = `{\n "F1": [{"sodaName": "Dup", "number": -1, "sensorID": "S1-1"}],\n${text.slice(2)}`;
  }
  return text;
}

/** What is wrong with one fuzz case's validate and run; undefined when nothing is. */
function problemsOf(
  validate: { code: number; stdout: string; stderr: string },
  run: { code: number; stdout: string; stderr: string },
): string[] {
  const problems: string[] = [];
  for (const [what, result] of [["validate", validate], ["run", run]] as const) {
    if (result.code !== ExitCode.ok && result.code !== ExitCode.usage) problems.push(`${what} exited ${result.code}`);
    if (result.stderr.includes("unexpected failure")) problems.push(`${what}: ${result.stderr.slice(0, 300)}`);
    for (const line of result.stderr.split("\n").slice(0, -1)) {
      if (!/^(error|warning|info): /.test(line)) {
        problems.push(`${what}: stderr line ${JSON.stringify(line.slice(0, 200))}`);
      }
      // safeLine bounds a line, escapes included, to LINE_MAX characters and the count of what it left out.
      if (line.length > LINE_MAX + 60) problems.push(`${what}: a stderr line of ${line.length} characters`);
      if ([...line].some((c) => c.charCodeAt(0) < 0x20 || c === "\u2028")) {
        problems.push(`${what}: a control character on stderr: ${JSON.stringify(line.slice(0, 200))}`);
      }
    }
    if (result.code === ExitCode.usage && result.stdout !== "") problems.push(`${what} exited 2 with stdout`);
  }
  if (validate.code !== run.code) problems.push(`validate exited ${validate.code}, the run ${run.code}`);
  if (validate.code === ExitCode.ok && !/^ok: [^\n]*\n$/.test(validate.stdout)) {
    problems.push(`validate stdout ${JSON.stringify(validate.stdout.slice(0, 200))}`);
  }
  const lines = run.stdout.split("\n").slice(0, -1);
  if (run.code === ExitCode.ok && lines.length === 0) problems.push("the run exited 0 with nothing on stdout");
  for (const line of lines) {
    const problem = consoleLineProblem(line);
    if (problem !== undefined) problems.push(`run stdout: ${problem}: ${line.slice(0, 300)}`);
  }
  return problems;
}

Deno.test(`fuzz: mutated shipped configs exit 0 or 2, validate agrees with a run, stdout keeps the contract`, async () => {
  const rng = new Rng(SEED);
  const dir = await Deno.makeTempDir({ prefix: "factory-sim-fuzz-" });
  const started = performance.now();
  const codes = { ok: 0, usage: 0 };
  const failures: string[] = [];
  try {
    for (let i = 0; i < CASES; i++) {
      const m = new Mutator(rng.derive(`case/${i}`));
      let tree: Json = JSON.parse(SHIPPED);
      const names: string[] = [];
      const count = 1 + Math.floor(m.pick([0, 0, 1, 2]));
      for (let j = 0; j < count; j++) {
        const mutated = mutate(tree, m);
        tree = mutated.tree;
        names.push(mutated.name);
      }
      const path = `${dir}/case-${i}.json`;
      await Deno.writeTextFile(path, toText(tree, names.includes("duplicate key")));
      const validate = await runMain(["validate", path]);
      const run = await runMain(["--sink", "console", "--config", path, "--seed", String(i), "--backfill", "2m"]);
      const problems = problemsOf(validate, run);
      if (validate.code === ExitCode.ok) codes.ok++;
      else codes.usage++;
      if (problems.length > 0) failures.push(`case ${i} (${names.join(", ")}): ${problems.slice(0, 3).join("; ")}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `[fuzz] seed ${SEED} (rerun with FUZZ_SEED=${SEED}): ${CASES} cases in ${seconds} s, ` +
        `${codes.ok} usable (exit 0), ${codes.usage} refused (exit 2), ${failures.length} failed\n`,
    ),
  );
  assert.deepEqual(failures, [], `seed ${SEED}`);
  assert.ok(codes.ok > CASES / 10 && codes.usage > CASES / 10, `both verdicts are exercised: ${JSON.stringify(codes)}`);
});

Deno.test("signals and faults at their bounds keep every record within the contract, from the earliest start allowed", async () => {
  const extreme = { min: -1e9, max: 1e9, decimals: 6, noise: 1e9, drift: -1e9 };
  const config = {
    F1: [
      {
        sodaName: "uniform",
        number: 2 ** 53 - 1,
        sensorID: "S1-1",
        signal: { type: "uniform", ...extreme },
        faults: [
          { kind: "out_of_range", perHour: 3600, for: 0, magnitude: 1e9 },
          { kind: "spike", at: 0, for: "3650d", magnitude: 1e9 },
          { kind: "late", perHour: 3600, for: "10m", lateBy: "3650d" },
        ],
      },
      {
        sodaName: "walk",
        number: 1_000_000,
        sensorID: "S1-2",
        signal: { type: "walk", setpoint: 1e9, volatility: 1e9, reversion: 0, ...extreme },
        faults: [{ kind: "late", at: 0, for: "3650d", lateBy: 315_360_000 }, { kind: "stuck", perHour: 0.00001 }],
      },
      {
        sodaName: "sine",
        number: 1_000_000,
        sensorID: "S1-3",
        signal: { type: "sine", base: -1e9, amplitude: -1e9, period: 0.001, ...extreme },
        faults: [{ kind: "dip", at: 0, for: "3650d", magnitude: 1e9 }, { kind: "duplicate", perHour: 3600 }],
      },
      {
        sodaName: "gaussian",
        number: 1_000_000,
        sensorID: "S1-1",
        signal: { type: "gaussian", setpoint: 1e9, sigma: 1e9, ...extreme, decimals: 0 },
        faults: [{ kind: "out_of_range", at: "1h30m", for: "3650d", magnitude: 1e9 }],
      },
    ],
  };
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify(config));
    const validate = await runMain(["validate", path, "--factories", "1"]);
    assert.equal(validate.code, ExitCode.ok, validate.stderr);
    // A late fault stamps readings up to 3650 days early: the earliest backfill it allows.
    const earliest = "1979-12-30T00:00:00Z";
    const args = ["--sink", "console", "--config", path, "--factories", "1", "--seed", "3", "--labels-topic", "L"];
    const refused = await runMain([...args, "--backfill", "1979-12-29T23:59:59Z..1979-12-30T03:00:00Z"]);
    assert.equal(refused.code, ExitCode.usage, refused.stderr);
    assert.match(refused.stderr, /start the backfill at 1979-12-30T00:00:00.000Z or later\n$/);
    const run = await runMain([...args, "--backfill", `${earliest}..1979-12-30T03:00:00Z`]);
    assert.equal(run.code, ExitCode.ok, run.stderr);
    const lines = run.stdout.split("\n").slice(0, -1);
    const readings = lines.filter((line) => line.includes('"factory-sim.reading.v1"'));
    assert.ok(readings.length > 8_000, `${readings.length} readings`);
    for (const line of lines) assert.equal(consoleLineProblem(line), undefined, line);
    const values = readings.map((line) => JSON.parse(line).value);
    assert.ok(values.some((v) => v.timestamp === "1970-01-01T00:00:00.000Z" || v.timestamp.startsWith("1970-")));
    assert.ok(values.some((v) => v.reading === 2e9), "out_of_range at its bound: max + magnitude");
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `[bounds] 3 h from ${earliest}: ${lines.length} records, every one within the contract\n`,
      ),
    );
  } finally {
    await Deno.remove(path);
  }
});
