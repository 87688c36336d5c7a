/**
 * A client of the Confluent Schema Registry REST API (Confluent's, Apicurio's ccompat API, Redpanda's,
 * Karapace): register a schema under a subject, a subject's latest version, a schema by id. Each
 * failure is a `RegistryError` carrying the registry's own reason (its `message` and `error_code`),
 * or what kept the request from an answer (refused, timed out, TLS).
 */
import { describeError, isPermissionDenial, permissionError } from "../errors.ts";
import { quoted, shown } from "../text.ts";
import type { RegistryAccess } from "./access.ts";

/** The most of a registry's reason a message shows (Apicurio's name every incompatible field). */
export const REASON_MAX = 600;

/** How long one request may take. */
export const REGISTRY_TIMEOUT_MS = 10_000;

/** A schema as the registry holds it. */
export interface RegistrySchema {
  schemaType: "AVRO" | "PROTOBUF" | "JSON";
  schema: string;
  references: { name: string; subject: string; version: number }[];
}

/** A subject's version. */
export interface SubjectVersion extends RegistrySchema {
  id: number;
  version: number;
}

/** A request the registry refused or did not answer, with its reason. */
export class RegistryError extends Error {
  /** HTTP status; undefined when no answer came. */
  readonly status: number | undefined;
  /** The registry's `error_code` (40401 subject not found, 40403 schema not found, 409 incompatible...). */
  readonly code: number | undefined;
  /** The registry's own words, or why there was no answer. */
  readonly reason: string;
  constructor(reason: string, status?: number, code?: number) {
    super(reason);
    this.name = "RegistryError";
    this.reason = reason;
    this.status = status;
    this.code = code;
  }

  /** Whether the registry said the subject (or its version) does not exist. */
  get notFound(): boolean {
    return this.status === 404 && (this.code === undefined || this.code === 40401 || this.code === 40402);
  }

  /** The reason with the status and code, for one line: `...: reason (HTTP 409, error_code 409)`. */
  describe(): string {
    const status = this.status === undefined
      ? ""
      : ` (HTTP ${this.status}${this.code === undefined ? "" : `, error_code ${this.code}`})`;
    return `${shown(this.reason, REASON_MAX)}${status}`;
  }
}

/** The registry at `access.url`. */
export class SchemaRegistry {
  readonly url: string;
  readonly #headers: Record<string, string>;
  readonly #client: Deno.HttpClient | undefined;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal | undefined;

  /** `signal`: a stop signal that ends a request waiting for its answer. */
  constructor(
    access: RegistryAccess,
    { timeoutMs = REGISTRY_TIMEOUT_MS, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
  ) {
    this.url = access.url;
    this.#timeoutMs = timeoutMs;
    this.#signal = signal;
    this.#headers = { accept: "application/vnd.schemaregistry.v1+json, application/json" };
    if (access.auth) {
      const token = btoa(
        String.fromCharCode(...new TextEncoder().encode(`${access.auth.username}:${access.auth.password}`)),
      );
      this.#headers.authorization = `Basic ${token}`;
    }
    this.#client = access.caCerts === undefined ? undefined : Deno.createHttpClient({ caCerts: [access.caCerts] });
  }

  /** Registers `schema` under `subject` (or finds it there); its id. */
  async register(subject: string, schema: Omit<RegistrySchema, "references">): Promise<number> {
    const body = {
      schema: schema.schema,
      // Avro is the registry's default type; older registries refuse the field for it.
      ...(schema.schemaType === "AVRO" ? {} : { schemaType: schema.schemaType }),
    };
    const answer = await this.#request("POST", `/subjects/${encodeURIComponent(subject)}/versions`, body);
    return idOf(answer);
  }

  /** The latest version of `subject`. */
  async latest(subject: string): Promise<SubjectVersion> {
    const answer = await this.#request("GET", `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    return { ...schemaOf(answer), id: idOf(answer), version: Number((answer as { version?: unknown }).version) };
  }

  /** A version of `subject` (a reference's). */
  async version(subject: string, version: number): Promise<SubjectVersion> {
    const answer = await this.#request("GET", `/subjects/${encodeURIComponent(subject)}/versions/${version}`);
    return { ...schemaOf(answer), id: idOf(answer), version };
  }

  /** The texts of the schemas `schema` references, in its order. */
  async referencedSchemas(schema: RegistrySchema): Promise<string[]> {
    const texts: string[] = [];
    for (const reference of schema.references) {
      texts.push((await this.version(reference.subject, reference.version)).schema);
    }
    return texts;
  }

  /** The schema with id `id`. */
  async byId(id: number): Promise<RegistrySchema> {
    return schemaOf(await this.#request("GET", `/schemas/ids/${id}`));
  }

  /** Frees the TLS client, if any. */
  close(): void {
    this.#client?.close();
  }

  async #request(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: body === undefined
          ? this.#headers
          : { ...this.#headers, "content-type": "application/vnd.schemaregistry.v1+json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: this.#signal
          ? AbortSignal.any([AbortSignal.timeout(this.#timeoutMs), this.#signal])
          : AbortSignal.timeout(this.#timeoutMs),
        ...(this.#client ? { client: this.#client } : {}),
      });
    } catch (error) {
      if (isPermissionDenial(error)) throw permissionError(error);
      if (this.#signal?.aborted) throw new RegistryError("stopped before it answered");
      throw new RegistryError(unreachable(error, this.#timeoutMs));
    }
    const text = await response.text().catch(() => "");
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const { message, error_code: code } = (json ?? {}) as { message?: unknown; error_code?: unknown };
      const reason = typeof message === "string" && message !== ""
        ? message
        : response.status === 401
        ? "unauthorized (check SCHEMA_REGISTRY_USERNAME and its password)"
        : response.status === 403
        ? "forbidden"
        : `${response.statusText || "error"}${text === "" ? "" : `: ${text.slice(0, 200)}`}`;
      throw new RegistryError(reason, response.status, typeof code === "number" ? code : undefined);
    }
    if (json === undefined) {
      throw new RegistryError(
        `answered ${method} ${path} with something that is not JSON: ${quoted(text.slice(0, 80))}`,
      );
    }
    return json;
  }
}

function idOf(answer: unknown): number {
  const id = (answer as { id?: unknown }).id;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > 0x7fff_ffff) {
    throw new RegistryError(`answered without a schema id: ${quoted(JSON.stringify(answer).slice(0, 80))}`);
  }
  return id;
}

function schemaOf(answer: unknown): RegistrySchema {
  const { schema, schemaType, references } = answer as {
    schema?: unknown;
    schemaType?: unknown;
    references?: unknown;
  };
  if (typeof schema !== "string") {
    throw new RegistryError(`answered without a schema: ${quoted(JSON.stringify(answer).slice(0, 80))}`);
  }
  const type = schemaType === undefined || schemaType === null ? "AVRO" : String(schemaType);
  if (type !== "AVRO" && type !== "PROTOBUF" && type !== "JSON") {
    throw new RegistryError(`holds a schema of a type factory-sim does not read: ${quoted(type)}`);
  }
  return { schemaType: type, schema, references: Array.isArray(references) ? references : [] };
}

/** Why a request got no answer, in a few words. */
function unreachable(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `no answer within ${timeoutMs / 1000} s`;
  }
  // fetch's own words are "fetch failed"; what happened is in its cause.
  const cause = (error as { cause?: unknown }).cause;
  const text = cause === undefined ? describeError(error) : `${describeError(error)}: ${describeError(cause)}`;
  if (/Connection refused|ECONNREFUSED/i.test(text)) return "connection refused (is the registry running?)";
  if (/dns error|failed to lookup|Name or service not known|ENOTFOUND/i.test(text)) return "unknown host";
  if (/certificate|tls|ssl|InvalidContentType/i.test(text)) {
    return `TLS failed: ${shown(text.replace(/^.*client error \(Connect\): /, ""))}`;
  }
  if (/Requests to port \d+ are blocked/i.test(text)) return `${shown(text.replace(/^Fetch failed: /, ""))} (by fetch)`;
  return shown(text);
}
