/**
 * The tasks users run: the binary gets the permissions the tests exercise, and its module graph
 * holds everything it needs. (`deno compile` itself downloads its runtime, which CI cannot; see
 * docs/deployment.md for building offline with DENORT_BIN.)
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { simTaskFlags } from "./_kafka.ts";

const tasks = denoJson.tasks as Record<string, string | { command?: string; dependencies?: string[] }>;
const commandOf = (name: string) => {
  const task = tasks[name];
  return typeof task === "string" ? task : task.command ?? "";
};

/** The permission words of a task's command: `-P=NAME`, `--allow-*`, `-A`, `--no-prompt`. */
const permissionWords = (name: string) =>
  commandOf(name).split(/\s+/).filter((w) => /^(-P|--permission-set|--allow-|-A$|--no-prompt$)/.test(w));

Deno.test("the permissions of deno task sim are stated once, as the permission set sim", () => {
  assert.deepEqual(permissionWords("sim"), ["--no-prompt", "-P=sim"]);
  const sim = simTaskFlags();
  assert.ok(sim.includes("--allow-net") && sim.includes("--allow-write=factory-sim-spool"));
  assert.ok(!sim.includes("-A") && !sim.includes("--allow-all"), "no blanket permission");
  assert.ok(!("all" in denoJson.permissions.sim), "no blanket permission");
});

Deno.test("the compiled binaries get exactly the permissions of deno task sim, for both targets", () => {
  const targets: string[] = [];
  for (const name of (tasks.compile as { dependencies: string[] }).dependencies) {
    const words = commandOf(name).split(/\s+/);
    assert.deepEqual(permissionWords(name), ["--no-prompt", "-P=sim"], name);
    targets.push(words[words.indexOf("--target") + 1]);
    assert.equal(words.at(-1), "main.ts");
  }
  assert.deepEqual(targets, ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]);
});

Deno.test("the module graph the binary embeds holds the Kafka sink, the monitor and the client", async () => {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../main.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  const graph = JSON.parse(new TextDecoder().decode(stdout));
  const specifiers: string[] = graph.modules.map((m: { specifier: string }) => m.specifier);
  assert.ok(specifiers.some((s) => s.endsWith("/lib/sinks/kafka.ts")), "the dynamically imported Kafka sink");
  assert.ok(specifiers.some((s) => s.endsWith("/lib/monitor/command.ts")), "the dynamically imported monitor");
  assert.ok(specifiers.some((s) => s.endsWith("/lib/monitor/page.ts")), "the dashboard's page");
  assert.ok(Object.keys(graph.npmPackages).some((p) => p.startsWith("kafkajs@")), "kafkajs");
  assert.ok(specifiers.some((s) => s.endsWith("/deno.json")), "deno.json, for --version");
});

Deno.test("every module the program loads on demand is included in both binaries", async () => {
  // `deno compile` embeds the static module graph; a dynamic import() must be named with --include.
  const root = new URL("..", import.meta.url);
  const files = ["main.ts"];
  for await (const entry of Deno.readDir(new URL("lib/", root))) if (entry.isFile) files.push(`lib/${entry.name}`);
  for (const dir of ["kafka", "monitor", "run", "sinks", "formats"]) {
    for await (const entry of Deno.readDir(new URL(`lib/${dir}/`, root))) {
      if (entry.isFile) files.push(`lib/${dir}/${entry.name}`);
    }
  }
  const loaded = new Set<string>();
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, root));
    for (const [, target] of text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) {
      loaded.add(new URL(target, new URL(file, root)).pathname.slice(root.pathname.length));
    }
  }
  assert.ok(loaded.has("lib/formats/setup.ts") && loaded.has("lib/kafka/producer.ts"), [...loaded].join(" "));
  for (const name of (tasks.compile as { dependencies: string[] }).dependencies) {
    const included = [...commandOf(name).matchAll(/--include (\S+)/g)].map((m) => m[1]);
    for (const module of loaded) assert.ok(included.includes(module), `${name} lacks --include ${module}`);
  }
});

/** The `--v8-flags=` word of a task's command ("" when it has none). */
const v8FlagsOf = (name: string) =>
  commandOf(name).split(/\s+/).find((word) => word.startsWith("--v8-flags="))?.slice("--v8-flags=".length) ?? "";

Deno.test("deno task sim and both binaries run with the same V8 flags: no allocation-site pretenuring, nothing that costs timing", () => {
  // docs/operations.md, "Memory": the start's burst (every sensor's first heartbeat at once) made
  // V8 allocate every later record straight into the old generation, which grew to about four times
  // the live heap; without pretenuring the records die young. --heap-growing-percent=50 bounded the
  // heap too, but made 5-7% of a busy thread's batches late by more than 50 ms (bench/README.md,
  // "9. Workers"): it stays an opt-in.
  assert.equal(v8FlagsOf("sim"), "--no-allocation-site-pretenuring");
  for (const name of (tasks.compile as { dependencies: string[] }).dependencies) {
    assert.equal(v8FlagsOf(name), v8FlagsOf("sim"), name);
  }
});

Deno.test("deno task test:aarch64 runs test files and tests that exist", async () => {
  assert.equal(commandOf("test:aarch64"), "bash scripts/test_aarch64.sh");
  const root = new URL("..", import.meta.url);
  const script = await Deno.readTextFile(new URL("scripts/test_aarch64.sh", root));
  assert.ok(((await Deno.stat(new URL("scripts/test_aarch64.sh", root))).mode ?? 0) & 0o100, "executable");
  const files = [...new Set([...script.matchAll(/\btests\/\w+_test\.ts\b/g)].map((m) => m[0]))];
  assert.ok(files.includes("tests/kafka_e2e_test.ts") && files.includes("tests/console_sink_test.ts"), files.join());
  const names = new Map<string, string[]>();
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, root));
    names.set(file, [...text.matchAll(/Deno\.test\(\s*[`"]([^`"]+)[`"]/g)].map((m) => m[1]));
  }
  // The tests it picks out by name: renaming one must not leave the aarch64 run selecting nothing.
  const e2e = script.match(/^E2E_TEST="([^"]+)"$/m)?.[1];
  assert.ok(e2e, "E2E_TEST");
  assert.equal(names.get("tests/kafka_e2e_test.ts")!.filter((name) => name.startsWith(e2e)).length, 1, e2e);
  assert.equal(names.get("tests/fuzz_test.ts")!.filter((name) => name.startsWith("fuzz: ")).length, 1, "fuzz: ");
  assert.match(script, /--filter "\/\^\(fuzz: \|\$E2E_TEST\)\/"/);
});
