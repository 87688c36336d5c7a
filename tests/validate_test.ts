/** `factory-sim validate`, end to end: the CLI in a child process with only the permissions it needs. */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { runCli } from "./_kafka.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** `deno run <flags> main.ts validate ...args` (runCli would add a spool flag, which validate refuses). */
async function validate(args: string[], flags = ["--no-prompt", "--allow-read"]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, `${ROOT}main.ts`, "validate", ...args],
    cwd: ROOT,
    env: {},
    clearEnv: true,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

async function tempConfig(config: unknown): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "factory-config-", suffix: ".json" });
  await Deno.writeTextFile(path, typeof config === "string" ? config : JSON.stringify(config, null, 2));
  return path;
}

const warningsOf = (stderr: string) => stderr.split("\n").filter((line) => line.startsWith("warning: "));

Deno.test("validate says ok on stdout and exits 0 for the shipped config, with read permission only", async () => {
  const { code, stdout, stderr } = await validate([]);
  assert.equal(code, ExitCode.ok, stderr);
  assert.equal(
    stdout,
    "ok: ./factory_config.json: the file has 3 factory entries and 8 lines; a run with --factories 3 simulates " +
      "3 factories, 9-15 sensors (3-5 a factory, by seed) and 8 lines\n",
  );
  assert.equal(stderr, "");
});

Deno.test("validate lists every problem of a bad config, the lines a run prints, and exits 2", async () => {
  const path = await tempConfig({
    $schema: "./factory_config.schema.json",
    F1: [{ sodaName: "", number: -3, sensorID: "S1-1" }, { sodaName: "Cola", number: 3, sensorID: "S1-2" }],
    F2: {},
    defaults: { signal: { type: "square" } },
  });
  try {
    const checked = await validate([path]);
    const run = await runCli(["--sink", "console", "--config", path]);
    assert.equal(checked.code, ExitCode.usage);
    assert.equal(checked.stdout, "");
    assert.deepEqual(checked.stderr.trimEnd().split("\n"), [
      `error: ${path}: F1[0].sodaName must be a non-empty string: got ""`,
      `error: ${path}: F1[0].number must be a positive integer: got -3`,
      `error: ${path}: F2 must be an array of lines: got {}`,
      `error: ${path}: defaults.signal.type must be one of uniform, gaussian, sine, walk: got "square"`,
    ]);
    assert.equal(run.code, ExitCode.usage);
    assert.equal(checked.stderr, run.stderr, "the same lines as a run");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("validate gives a run's warnings for the same --factories, and still exits 0", async (t) => {
  const path = await tempConfig({
    F1: [{ sodaName: "Cola", number: 3, sensorID: "S1-1", colour: "red" }],
    F2: [],
    F7: [{ sodaName: "Lemon", number: 2, sensorID: "S7-1" }],
  });
  try {
    for (const factories of ["3", "7"]) {
      await t.step(`--factories ${factories}`, async () => {
        const checked = await validate([path, "--factories", factories]);
        const run = await runCli(["--sink", "console", "--config", path, "--factories", factories, "--speed", "1000"]);
        assert.equal(checked.code, ExitCode.ok, checked.stderr);
        assert.equal(run.code, ExitCode.ok, run.stderr);
        assert.ok(warningsOf(checked.stderr).length >= 2);
        assert.deepEqual(warningsOf(checked.stderr), warningsOf(run.stderr));
        assert.equal(checked.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("warning: ")).length, 0);
        assert.equal(
          checked.stdout,
          `ok: ${path}: the file has 3 factory entries and 2 lines; a run with --factories ${factories} simulates ` +
            `${factories} factories, ${3 * Number(factories)}-${
              5 * Number(factories)
            } sensors (3-5 a factory, by seed) ` +
            `and ${factories === "3" ? 1 : 2} ${factories === "3" ? "line" : "lines"}\n`,
        );
      });
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("validate warns about sensors only some seeds give, unless --seed names the run's", async () => {
  const path = await tempConfig({
    F1: [
      { sodaName: "Cola", number: 3, sensorID: "S1-5" },
      { sodaName: "Lemon", number: 2, sensorID: "S1-9" },
    ],
  });
  try {
    const checked = await validate(["--config", path, "--factories", "1"]);
    assert.equal(checked.code, ExitCode.ok, checked.stderr);
    assert.equal(
      checked.stdout,
      `ok: ${path}: the file has 1 factory entry and 2 lines; a run with --factories 1 simulates 1 factory, ` +
        "3-5 sensors (3-5 a factory, by seed) and 0-1 lines (by seed)\n",
    );
    assert.deepEqual(warningsOf(checked.stderr), [
      `warning: ${path}: F1[1].sensorID "S1-9" is not a sensor of F1 (it has S1-1..S1-5): line "Lemon" skipped`,
      `warning: ${path}: F1[0].sensorID "S1-5" exists only when the seed gives F1 5 or more sensors (3-5 are ` +
      `drawn): other runs skip line "Cola" (validate --seed N checks one seed)`,
    ]);
    for (const seed of ["1", "2", "3"]) {
      const seeded = await validate(["--config", path, "--factories", "1", "--seed", seed]);
      const run = await runCli([
        "--sink",
        "console",
        "--config",
        path,
        "--factories",
        "1",
        "--seed",
        seed,
        "--speed",
        "1000",
        "--duration",
        "30s",
      ]);
      assert.equal(seeded.code, ExitCode.ok, seeded.stderr);
      // A run adds until when heartbeats go on without lines (here: until --duration has passed).
      const untilCut = (lines: string[]) =>
        lines.map((line) => line.replace(/^(warning: no production lines).*/, "$1"));
      assert.deepEqual(untilCut(warningsOf(seeded.stderr)), untilCut(warningsOf(run.stderr)), `seed ${seed}`);
      // What validate says a run simulates is what the run says it simulates.
      const [, sensors, lines] = /^info: 1 factory, (\d+) sensors, (\d+) lines?;/m.exec(run.stderr)!;
      assert.equal(
        seeded.stdout,
        `ok: ${path}: the file has 1 factory entry and 2 lines; a run with --factories 1 --seed ${seed} simulates ` +
          `1 factory, ${sensors} sensors and ${lines} ${lines === "1" ? "line" : "lines"}\n`,
      );
    }
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("validate of a missing file exits 2, and without read permission 3", async (t) => {
  await t.step("a missing file", async () => {
    const { code, stdout, stderr } = await validate(["no-such-config.json"]);
    assert.equal(code, ExitCode.usage);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      "error: no-such-config.json: cannot be read: no such file (pass --config PATH to use another file)\n",
    );
  });
  await t.step("no --allow-read", async () => {
    const { code, stdout, stderr } = await validate([], ["--no-prompt"]);
    assert.equal(code, ExitCode.permission);
    assert.equal(stdout, "");
    assert.match(stderr, /^error: missing permission: .*--allow-read/);
  });
});
