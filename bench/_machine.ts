/**
 * What the orchestrator knows of the machine: its description for the report, and CPU use over
 * time of the whole machine and of the broker, sampled from `/proc` (read through `cat`, since
 * Deno grants `/proc` only with --allow-all).
 */

/** The machine, as the report describes it. */
export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  deno: string;
  v8: string;
  java: string;
  loadAverage: number[];
}

/** Runs `command` and returns its stdout (stderr with `stderr: true`); "" when it fails to start. */
export async function commandText(command: string, args: string[], { stderr = false } = {}): Promise<string> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
    return new TextDecoder().decode(stderr ? output.stderr : output.stdout);
  } catch {
    return "";
  }
}

/** Describes this machine. */
export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await commandText("cat", ["/proc/cpuinfo"]);
  const java = (await commandText("java", ["-version"], { stderr: true })).split("\n")[0].trim();
  return {
    cores: navigator.hardwareConcurrency,
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    java: java || "not found",
    loadAverage: Deno.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

interface CpuSample {
  atMs: number;
  /** Jiffies of all cores: busy and total. */
  busy: number;
  total: number;
  /** The broker's user + system jiffies, when its pid is known. */
  broker?: number;
}

/** CPU use between two points in time, in % of one core (the machine's maximum is cores x 100). */
export interface CpuShare {
  machinePercent: number | null;
  brokerPercent: number | null;
}

const CLOCK_TICKS = 100; // USER_HZ

/** Samples the machine's and the broker's CPU time every `intervalMs` until stopped. */
export class CpuSampler {
  readonly #samples: CpuSample[] = [];
  readonly #brokerPid: number | undefined;
  readonly #cores: number;
  #running = true;
  readonly #loop: Promise<void>;

  constructor({ brokerPid, cores, intervalMs = 500 }: { brokerPid?: number; cores: number; intervalMs?: number }) {
    this.#brokerPid = brokerPid;
    this.#cores = cores;
    this.#loop = (async () => {
      while (this.#running) {
        await this.sample();
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  /** Takes one sample now. */
  async sample(): Promise<void> {
    const files = ["/proc/stat", ...(this.#brokerPid ? [`/proc/${this.#brokerPid}/stat`] : [])];
    const text = await commandText("cat", files);
    const cpu = /^cpu\s+(.+)$/m.exec(text)?.[1].trim().split(/\s+/).map(Number);
    if (!cpu) return;
    const total = cpu.slice(0, 8).reduce((sum, value) => sum + value, 0); // user..steal
    const idle = cpu[3] + (cpu[4] ?? 0); // idle + iowait
    let broker: number | undefined;
    if (this.#brokerPid) {
      const line = text.split("\n").find((row) => row.startsWith(`${this.#brokerPid} (`));
      if (line) {
        const fields = line.slice(line.lastIndexOf(")") + 2).split(" ");
        broker = Number(fields[11]) + Number(fields[12]); // utime, stime
      }
    }
    this.#samples.push({ atMs: Date.now(), busy: total - idle, total, broker });
  }

  /** CPU use between `fromMs` and `toMs` (epoch ms), from the samples nearest outside them. */
  between(fromMs: number, toMs: number): CpuShare {
    const before = this.#samples.findLast((sample) => sample.atMs <= fromMs) ?? this.#samples[0];
    const after = this.#samples.find((sample) => sample.atMs >= toMs) ?? this.#samples.at(-1);
    if (!before || !after || after.atMs <= before.atMs) return { machinePercent: null, brokerPercent: null };
    const seconds = (after.atMs - before.atMs) / 1000;
    const machinePercent = after.total > before.total
      ? Math.round(((after.busy - before.busy) / (after.total - before.total)) * this.#cores * 100)
      : null;
    const brokerPercent = before.broker !== undefined && after.broker !== undefined
      ? Math.round(((after.broker - before.broker) / CLOCK_TICKS / seconds) * 100)
      : null;
    return { machinePercent, brokerPercent };
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}

/** The pid of the local broker kafka/start.sh started (from its pid file), if it runs. */
export async function localBrokerPid(root: string): Promise<number | undefined> {
  const dataDir = Deno.env.get("KAFKA_DATA_DIR") ?? `${root}kafka/.data`;
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(`${dataDir}/kafka.pid`).trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const cmdline = await commandText("cat", [`/proc/${pid}/cmdline`]);
  return cmdline.includes("kafka.Kafka") ? pid : undefined;
}
