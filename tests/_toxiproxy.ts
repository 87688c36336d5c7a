/**
 * Toxiproxy 2.5.0, a TCP proxy that injects faults ("toxics": latency, a bandwidth cap, resets, a
 * black hole) between the simulator and a broker, driven through its HTTP API.
 *
 * The server is found, or built with Go, by `ensure_toxiproxy` in scripts/_install.sh (the same
 * step scripts/test.sh runs on a fresh machine), so a test started on its own gets it too.
 * TOXIPROXY_API_PORT moves its API (default 8474), TOXIPROXY_SERVER names a server to use.
 */
const ROOT = new URL("..", import.meta.url).pathname;

/** The port of the API of the Toxiproxy tests start. */
export const TOXIPROXY_API_PORT = Number(Deno.env.get("TOXIPROXY_API_PORT") || 8474);

/** Which way a toxic works: `upstream` is client to broker (requests), `downstream` the responses. */
export type Stream = "upstream" | "downstream";

/** A toxic as the API takes it (https://github.com/Shopify/toxiproxy#toxics). */
export interface Toxic {
  name: string;
  type: "latency" | "bandwidth" | "timeout" | "reset_peer" | "limit_data" | "slow_close" | "slicer";
  stream: Stream;
  /** Share of connections it applies to, 0-1 (default 1). */
  toxicity?: number;
  attributes: Record<string, number>;
}

/** The path of the Toxiproxy server, installed (built with Go) when it is missing. */
async function serverPath(): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("bash", {
    args: ["-c", "set -euo pipefail; source scripts/_install.sh; ensure_toxiproxy; toxiproxy_path"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!success) throw new Error(`Toxiproxy could not be installed: ${decoder.decode(stderr).trim()}`);
  return decoder.decode(stdout).trim();
}

/** A Toxiproxy server of the test's own; `stop` ends it. */
export class Toxiproxy {
  readonly api: string;
  readonly #child: Deno.ChildProcess;
  #log = "";

  private constructor(port: number, child: Deno.ChildProcess) {
    this.api = `http://127.0.0.1:${port}`;
    this.#child = child;
    (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) this.#log = (this.#log + decoder.decode(chunk)).slice(-20_000);
    })();
  }

  /** Starts a server with its API on `port`; resolves once the API answers. */
  static async start(port = TOXIPROXY_API_PORT): Promise<Toxiproxy> {
    if (await answers(`http://127.0.0.1:${port}/version`)) {
      throw new Error(
        `port ${port} already serves a Toxiproxy this test did not start: stop it or set TOXIPROXY_API_PORT`,
      );
    }
    const child = new Deno.Command(await serverPath(), {
      args: ["-host", "127.0.0.1", "-port", String(port), "-seed", "1"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const proxy = new Toxiproxy(port, child);
    const deadline = performance.now() + 10_000;
    while (!(await answers(`${proxy.api}/version`))) {
      if (performance.now() > deadline) {
        await proxy.stop();
        throw new Error(`Toxiproxy did not answer on port ${port} within 10 s:\n${proxy.#log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return proxy;
  }

  /** A proxy `name` listening on `listen` (HOST:PORT) and forwarding to `upstream`. */
  async createProxy(name: string, listen: string, upstream: string): Promise<void> {
    await this.#call("POST", "/proxies", { name, listen, upstream, enabled: true });
  }

  async addToxic(proxy: string, toxic: Toxic): Promise<void> {
    await this.#call("POST", `/proxies/${proxy}/toxics`, { toxicity: 1, ...toxic });
  }

  async removeToxic(proxy: string, name: string): Promise<void> {
    await this.#call("DELETE", `/proxies/${proxy}/toxics/${name}`);
  }

  /** Removes every toxic and enables every proxy. */
  async reset(): Promise<void> {
    await this.#call("POST", "/reset");
  }

  /** Ends the server (its proxies close every connection). */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#child.status;
  }

  async #call(method: string, path: string, body?: unknown): Promise<void> {
    const response = await fetch(`${this.api}${path}`, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Toxiproxy ${method} ${path}: ${response.status} ${text}`);
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
