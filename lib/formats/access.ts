/**
 * Where the Schema Registry is and how to reach it: `--schema-registry` (or `SCHEMA_REGISTRY_URL`),
 * basic auth from `SCHEMA_REGISTRY_USERNAME` with `SCHEMA_REGISTRY_PASSWORD` or
 * `SCHEMA_REGISTRY_PASSWORD_FILE`, and the CA of its TLS certificate from
 * `SCHEMA_REGISTRY_SSL_CA_LOCATION`. Every problem is collected, one line each (exit 2), before
 * the run says it starts; secrets are never printed.
 */
import { ConfigError, PermissionError } from "../errors.ts";
import { readSecurityFile } from "../security.ts";
import { quoted } from "../text.ts";

/** The environment variables read here. */
export const REGISTRY_ENV = [
  "SCHEMA_REGISTRY_URL",
  "SCHEMA_REGISTRY_USERNAME",
  "SCHEMA_REGISTRY_PASSWORD",
  "SCHEMA_REGISTRY_PASSWORD_FILE",
  "SCHEMA_REGISTRY_SSL_CA_LOCATION",
] as const;

/** Those variables' values. */
export type RegistryEnv = Partial<Record<typeof REGISTRY_ENV[number], string>>;

/** What a registry client needs. */
export interface RegistryAccess {
  /** The base URL without a trailing slash (for Apicurio: `http://host:8081/apis/ccompat/v7`). */
  url: string;
  /** Basic auth; undefined: none. */
  auth?: { username: string; password: string };
  /** PEM certificates to trust for an https registry (besides the system's); undefined: the system's. */
  caCerts?: string;
  /** Where the CA came from, for messages. */
  caFile?: string;
}

/**
 * The registry URL from the flag or the environment: http or https, no credentials, query or
 * fragment in it. Throws a `ConfigError` line naming where it came from.
 */
export function parseRegistryUrl(text: string, from: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ConfigError([`${from} must be an http:// or https:// URL: got ${quoted(text)}`]);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError([`${from} must be an http:// or https:// URL: got ${quoted(text)}`]);
  }
  if (url.username !== "" || url.password !== "") {
    // Never echo it: it holds a password.
    throw new ConfigError([
      `${from} must not hold credentials: put them in SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD (or _FILE)`,
    ]);
  }
  if (url.search !== "" || url.hash !== "") {
    throw new ConfigError([`${from} must not have a query or fragment: got ${quoted(text)}`]);
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * Everything about reaching the registry, files read: `flag` is `--schema-registry`'s value if
 * given. Every problem at once (exit 2); a file Deno may not read: exit 3.
 */
export async function readRegistryAccess(flag: string | undefined, env: RegistryEnv): Promise<RegistryAccess> {
  const problems: string[] = [];
  const denied: string[] = [];
  let url = "";
  try {
    url = flag !== undefined
      ? parseRegistryUrl(flag, "--schema-registry")
      : parseRegistryUrl(env.SCHEMA_REGISTRY_URL ?? "", "SCHEMA_REGISTRY_URL");
  } catch (error) {
    problems.push(...(error as ConfigError).lines);
  }
  const read = async (name: string, path: string) => {
    const result = await readSecurityFile(name, path);
    if ("content" in result) return result.content;
    if ("denied" in result) denied.push(result.denied);
    else problems.push(result.problem);
    return undefined;
  };
  const { SCHEMA_REGISTRY_USERNAME: username, SCHEMA_REGISTRY_PASSWORD: password } = env;
  const passwordFile = env.SCHEMA_REGISTRY_PASSWORD_FILE;
  let auth: RegistryAccess["auth"];
  if (password !== undefined && passwordFile !== undefined) {
    problems.push("SCHEMA_REGISTRY_PASSWORD and SCHEMA_REGISTRY_PASSWORD_FILE: set one, not both");
  } else if (username === undefined || username === "") {
    if (password !== undefined || passwordFile !== undefined) {
      problems.push(
        `SCHEMA_REGISTRY_USERNAME must be set with ${
          password !== undefined ? "SCHEMA_REGISTRY_PASSWORD" : "SCHEMA_REGISTRY_PASSWORD_FILE"
        }`,
      );
    }
  } else if (username.includes(":")) {
    problems.push('SCHEMA_REGISTRY_USERNAME must not contain ":" (basic auth cannot carry it)');
  } else if (password === undefined && passwordFile === undefined) {
    problems.push("SCHEMA_REGISTRY_USERNAME needs SCHEMA_REGISTRY_PASSWORD or SCHEMA_REGISTRY_PASSWORD_FILE");
  } else {
    const secret = password ?? (await read("SCHEMA_REGISTRY_PASSWORD_FILE", passwordFile!))?.replace(/\r?\n$/, "");
    if (secret !== undefined) auth = { username, password: secret };
  }
  const caFile = env.SCHEMA_REGISTRY_SSL_CA_LOCATION;
  let caCerts: string | undefined;
  if (caFile !== undefined) {
    caCerts = await read("SCHEMA_REGISTRY_SSL_CA_LOCATION", caFile);
    if (caCerts !== undefined && !caCerts.includes("-----BEGIN CERTIFICATE-----")) {
      problems.push(
        `SCHEMA_REGISTRY_SSL_CA_LOCATION: ${
          quoted(caFile)
        } is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)`,
      );
    }
    if (url.startsWith("http:")) {
      problems.push(`SCHEMA_REGISTRY_SSL_CA_LOCATION is set but the registry URL is http:, not https:`);
    }
  }
  if (denied.length > 0) throw new PermissionError(denied[0]);
  if (problems.length > 0) throw new ConfigError(problems);
  return { url, ...(auth ? { auth } : {}), ...(caCerts !== undefined ? { caCerts, caFile } : {}) };
}
