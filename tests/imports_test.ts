/** The project's module graph: no import circle, type-only imports included. */
import { deepEqual as assertEquals } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** Every TypeScript file of the project outside its tests (tests import freely, nothing imports them). */
async function sourceFiles(): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url);
      else if (entry.name.endsWith(".ts")) files.push(url.href);
    }
  };
  for (const dir of ["lib/", "bench/", "scripts/"]) await walk(new URL(dir, ROOT));
  return [new URL("main.ts", ROOT).href, ...files.sort()];
}

/** The graph `deno info` sees from `roots`: each project module and the project modules it imports. */
async function moduleGraph(roots: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const root of roots) {
    if (graph.has(root)) continue;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", root],
      cwd: new URL(".", ROOT),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      modules: { specifier: string; dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[] }[];
    };
    for (const module of info.modules) {
      if (!module.specifier.startsWith(ROOT.href)) continue;
      const deps = (module.dependencies ?? [])
        .flatMap((dep) => [dep.code?.specifier, dep.type?.specifier])
        .filter((dep): dep is string => dep !== undefined && dep.startsWith(ROOT.href));
      graph.set(module.specifier, [...new Set(deps)]);
    }
  }
  return graph;
}

/** Each circle of `graph` once, as the list of its modules (relative to the project). */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push(stack.slice(stack.indexOf(next)).concat(next));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found.map((circle) => circle.map((specifier) => specifier.slice(ROOT.href.length)));
}

Deno.test("no module of the project imports itself through others (type-only imports count)", async () => {
  const graph = await moduleGraph(await sourceFiles());
  assertEquals(circles(graph), []);
});

Deno.test("the circle finder finds a circle", () => {
  const graph = new Map([
    [`${ROOT.href}a.ts`, [`${ROOT.href}b.ts`]],
    [`${ROOT.href}b.ts`, [`${ROOT.href}c.ts`]],
    [`${ROOT.href}c.ts`, [`${ROOT.href}a.ts`]],
  ]);
  assertEquals(circles(graph), [["a.ts", "b.ts", "c.ts", "a.ts"]]);
});

/** The modules `root` imports before any of its code runs: static imports only, not import() or types. */
async function staticGraph(root: string): Promise<{ local: string[]; npm: string[] }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", root],
    cwd: new URL(".", ROOT),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    redirects: Record<string, string>;
    modules: {
      specifier: string;
      kind?: string;
      npmPackage?: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const modules = new Map(info.modules.map((module) => [module.specifier, module]));
  const local = new Set<string>();
  const npm = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const specifier = info.redirects[stack.at(-1)!] ?? stack.at(-1)!;
    stack.pop();
    const module = modules.get(specifier);
    if (module?.kind === "npm" || specifier.startsWith("npm:")) {
      npm.add((module?.npmPackage ?? specifier).replace(/^npm:\/?/, "").replace(/@[^@/]+$/, ""));
      continue;
    }
    if (local.has(specifier) || module === undefined) continue;
    local.add(specifier);
    for (const dep of module.dependencies ?? []) if (dep.code && !dep.isDynamic) stack.push(dep.code.specifier);
  }
  return {
    local: [...local].filter((s) => s.startsWith(ROOT.href)).map((s) => s.slice(ROOT.href.length)).sort(),
    npm: [...npm].sort(),
  };
}

Deno.test("main.ts loads only the logger before it knows the command: the rest loads on demand", async () => {
  // Start-up time (bench/README.md, "Start"): the config's schemas (zod, jsonc-parser), the Kafka
  // client, prom-client, the codecs and the monitor load when a command needs them.
  const { local, npm } = await staticGraph(new URL("main.ts", ROOT).href);
  assertEquals(npm, ["@logtape/logtape"]);
  for (
    const module of ["lib/run/command.ts", "lib/config.ts", "lib/metrics.ts", "lib/validate.ts", "lib/sinks/kafka.ts"]
  ) {
    assertEquals(local.includes(module), false, `${module} is imported statically by main.ts`);
  }
});
