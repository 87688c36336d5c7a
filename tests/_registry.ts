/**
 * The real Schema Registry for the tests: Apicurio Registry's Confluent-compatible API.
 *
 * `ensureRegistry` finds one at SCHEMA_REGISTRY_TEST_URL (default the local one,
 * http://127.0.0.1:8081/apis/ccompat/v7), or starts the local one with registry/start.sh when Java
 * and Maven are there (as `ensureBroker` does for Kafka). It never skips: no registry fails the test.
 * `ScratchRegistry` is a registry of a test's own on another port (REGISTRY_SCRATCH_PORT, default
 * 8082), for tests that stop it or change its settings without touching the shared one.
 */
const ROOT = new URL("..", import.meta.url).pathname;

/** The ccompat base URL of the registry the tests share. */
export const REGISTRY = (Deno.env.get("SCHEMA_REGISTRY_TEST_URL") ?? "http://127.0.0.1:8081/apis/ccompat/v7")
  .replace(/\/+$/, "");

/** The port of scratch registries; REGISTRY_SCRATCH_PORT moves it. */
export const REGISTRY_SCRATCH_PORT = Number(Deno.env.get("REGISTRY_SCRATCH_PORT") || 8082);

/** The Content-Type of the Confluent Schema Registry API. */
const JSON_TYPE = "application/vnd.schemaregistry.v1+json";

let ready: Promise<string> | undefined;

/** The shared registry's ccompat base URL, once it answers; starts the local one if needed. */
export function ensureRegistry(): Promise<string> {
  ready ??= (async () => {
    if (await registryAnswers(REGISTRY)) return REGISTRY;
    const local = new URL(REGISTRY);
    if (local.hostname !== "127.0.0.1" && local.hostname !== "localhost") {
      throw new Error(`no Schema Registry answers at ${REGISTRY} (SCHEMA_REGISTRY_TEST_URL)`);
    }
    for (const tool of ["java", "mvn"]) {
      if (!(await commandExists(tool))) {
        throw new Error(
          `no Schema Registry at ${REGISTRY} and no ${tool} to start one: run 'deno task registry:start' or set SCHEMA_REGISTRY_TEST_URL`,
        );
      }
    }
    await runRegistryScript("start.sh", { REGISTRY_PORT: local.port || "80" });
    if (!(await registryAnswers(REGISTRY))) {
      throw new Error(`registry/start.sh could not start a registry at ${REGISTRY}`);
    }
    return REGISTRY;
  })();
  return ready;
}

/** True when GET /subjects at `url` answers a JSON array. */
export async function registryAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(3000) });
    const body = await response.text();
    return response.ok && body.startsWith("[");
  } catch {
    return false;
  }
}

/** A registry's answer: its HTTP status and the JSON body (Confluent's errors: `{error_code, message}`). */
export interface RegistryAnswer {
  status: number;
  body: unknown;
}

/** One request to the registry's REST API, the body sent as JSON. */
export async function registryRequest(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<RegistryAnswer> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": JSON_TYPE },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, body: parsed };
}

/** The schema types of the Confluent API; AVRO is the one a registration may leave out. */
export type SchemaType = "AVRO" | "PROTOBUF" | "JSON";

/** Registers `schema` under `subject` and returns its id; throws with the registry's answer when refused. */
export async function registerSchema(
  url: string,
  subject: string,
  schema: string,
  schemaType: SchemaType = "AVRO",
): Promise<number> {
  const answer = await registryRequest(url, "POST", `/subjects/${encodeURIComponent(subject)}/versions`, {
    schema,
    ...(schemaType === "AVRO" ? {} : { schemaType }),
  });
  const id = (answer.body as { id?: unknown }).id;
  if (answer.status !== 200 || typeof id !== "number") {
    throw new Error(`registering ${subject} at ${url}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return id;
}

/** Deletes `subject` for good (a soft delete, then the permanent one); a subject not there is fine. */
export async function deleteSubject(url: string, subject: string): Promise<void> {
  const path = `/subjects/${encodeURIComponent(subject)}`;
  for (const query of ["", "?permanent=true"]) {
    const { status, body } = await registryRequest(url, "DELETE", path + query);
    if (status !== 200 && status !== 404) {
      throw new Error(`deleting ${subject} at ${url}: HTTP ${status} ${JSON.stringify(body)}`);
    }
  }
}

/** A registry of a test's own (in memory) on REGISTRY_SCRATCH_PORT or `port`: start, stop, and its URL. */
export class ScratchRegistry {
  readonly url: string;
  readonly #env: Record<string, string>;

  constructor(port = REGISTRY_SCRATCH_PORT) {
    this.url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
    this.#env = {
      REGISTRY_PORT: String(port),
      REGISTRY_DATA_DIR: Deno.makeTempDirSync({ prefix: "factory-sim-registry-" }),
    };
  }

  async start(): Promise<void> {
    await runRegistryScript("start.sh", this.#env);
    try {
      Deno.statSync(`${this.#env.REGISTRY_DATA_DIR}/registry.pid`);
    } catch {
      throw new Error(`port ${this.#env.REGISTRY_PORT} is taken by a registry this test did not start: stop it first`);
    }
  }

  async stop(): Promise<void> {
    await runRegistryScript("stop.sh", this.#env);
  }

  /** Stops it and deletes its log dir. */
  async dispose(): Promise<void> {
    await this.stop();
    await Deno.remove(this.#env.REGISTRY_DATA_DIR, { recursive: true });
  }
}

/** Runs `body` with a scratch registry started; stops it after, whatever happens. */
export async function withScratchRegistry(
  body: (registry: ScratchRegistry) => Promise<void>,
  port = REGISTRY_SCRATCH_PORT,
): Promise<void> {
  const registry = new ScratchRegistry(port);
  try {
    await registry.start();
    await body(registry);
  } finally {
    await registry.dispose();
  }
}

async function runRegistryScript(script: string, env: Record<string, string>): Promise<string> {
  const { success, code, stdout, stderr } = await new Deno.Command("bash", {
    args: [`${ROOT}registry/${script}`],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    const detail = decoder.decode(stderr).trim() || decoder.decode(stdout).trim();
    throw new Error(`registry/${script} failed (exit ${code}): ${detail}`);
  }
  return decoder.decode(stdout);
}

async function commandExists(name: string): Promise<boolean> {
  const { success } = await new Deno.Command("bash", { args: ["-c", `command -v ${name}`], stdout: "null" }).output();
  return success;
}
