/**
 * Summarizes a V8 CPU profile (`deno run --cpu-prof`): where the samples fell, by area of code
 * (KafkaJS, factory-sim's lib/, the runtime's own code, garbage collection, idle) and by function
 * (self time), so the benchmark can say what bounds a run.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Share of the profile's time, in %, by area and by function. */
export interface ProfileSummary {
  seconds: number;
  areas: { area: string; percent: number }[];
  functions: { name: string; area: string; percent: number }[];
}

/** Reads the newest `.cpuprofile` in `dir` and summarizes it (the `top` functions by self time). */
export function summarizeProfileDir(dir: string, top = 15): ProfileSummary & { file: string } {
  const files = [...Deno.readDirSync(dir)].filter((entry) => entry.name.endsWith(".cpuprofile"))
    .map((entry) => `${dir}/${entry.name}`)
    .sort((a, b) => (Deno.statSync(b).mtime?.getTime() ?? 0) - (Deno.statSync(a).mtime?.getTime() ?? 0));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return { file: files[0], ...summarizeProfile(JSON.parse(Deno.readTextFileSync(files[0])), top) };
}

/** Self time by area and by function of `profile`. */
export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  // timeDeltas[i] is the time before sample i; attribute each interval to the sample that ends it.
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0);
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + delta);
    totalUs += delta;
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, { area: string; us: number }>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}${
      frame.url ? `:${frame.lineNumber + 1}` : ""
    }`;
    const entry = functions.get(name) ?? { area, us: 0 };
    entry.us += us;
    functions.set(name, entry);
  }
  const percent = (us: number) => Math.round((us / totalUs) * 1000) / 10;
  return {
    seconds: Math.round(totalUs / 1e5) / 10,
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, percent: percent(us) })),
    functions: [...functions].sort((a, b) => b[1].us - a[1].us).slice(0, top)
      .map(([name, { area, us }]) => ({ name, area, percent: percent(us) })),
  };
}

function areaOf({ functionName, url }: CallFrame): string {
  if (url === "") {
    if (functionName === "(idle)") return "idle (waiting for I/O or timers)";
    if (functionName === "(garbage collector)") return "garbage collector";
    if (functionName === "(program)") return "runtime (native, outside JS)";
    return `native: ${functionName}`;
  }
  if (url.includes("/kafkajs/")) return "KafkaJS";
  if (url.includes("/logtape/")) return "logtape";
  if (url.includes("/avsc/")) return "avsc (Avro)";
  if (url.includes("/protobufjs/") || url.includes("/@protobufjs/")) return "protobufjs";
  if (url.includes("/ajv/")) return "ajv";
  if (/\/lib\/formats\//.test(url)) return "factory-sim lib/formats";
  if (/\/lib\/sinks\//.test(url)) return "factory-sim lib/sinks";
  if (/\/lib\//.test(url)) return "factory-sim lib (simulation, messages)";
  if (/\/bench\//.test(url)) return "bench harness";
  if (url.startsWith("node:") || url.startsWith("ext:")) return "Deno runtime JS (node compat, ext)";
  return "other";
}

function shortUrl(url: string): string {
  const npm = /\/node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?(.+)$/.exec(url) ?? /\/npm\/[^/]+\/(.+)$/.exec(url);
  if (npm) return npm[1];
  const local = /\/(lib|bench|main\.ts)(\/.*)?$/.exec(url);
  if (local) return local[0].slice(1);
  return url.replace(/^ext:/, "ext:").replace(/^file:\/\//, "");
}

/** A profile summary as markdown: the areas on one line, then the top functions by self time. */
export function profileText(title: string, profile: ProfileSummary): string {
  return [
    `${title} (\`--cpu-prof\`, ${profile.seconds} s sampled), share of samples by area, then the top functions by self time:`,
    "",
    profile.areas.filter((area) => area.percent >= 1).map((area) => `${area.area} ${area.percent}%`).join(" · "),
    "",
    "| self | function |",
    "|---:|---|",
    ...profile.functions.slice(0, 12).map((fn) => `| ${fn.percent}% | \`${fn.name}\` |`),
  ].join("\n");
}
