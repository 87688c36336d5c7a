/**
 * How to authenticate to Kafka and encrypt the connection: SASL (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512) and TLS (a CA file, optionally a client certificate and key for mutual TLS).
 *
 * Settings come only from environment variables named after the client properties Kafka users
 * know (`security.protocol` is `KAFKA_SECURITY_PROTOCOL`...), and secrets from those variables or
 * from files (`..._FILE`), never from flags, so they stay out of shell history and process
 * lists. No message here or elsewhere contains a secret.
 */
import { open } from "node:fs/promises";
import { ConfigError, ExitCode, ExitError, isPermissionDenial, permissionError, UsageError } from "./errors.ts";
import { quoted } from "./text.ts";

/** `security.protocol` values. */
export const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;
/** `sasl.mechanism` values. */
export const SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;

/** Every environment variable the security settings read. */
export const SECURITY_ENV = [
  "KAFKA_SECURITY_PROTOCOL",
  "KAFKA_SASL_MECHANISM",
  "KAFKA_SASL_USERNAME",
  "KAFKA_SASL_PASSWORD",
  "KAFKA_SASL_PASSWORD_FILE",
  "KAFKA_SSL_CA_LOCATION",
  "KAFKA_SSL_CERTIFICATE_LOCATION",
  "KAFKA_SSL_KEY_LOCATION",
  "KAFKA_SSL_KEY_PASSWORD",
  "KAFKA_SSL_KEY_PASSWORD_FILE",
] as const;

/** The environment the settings are read from. */
export type SecurityEnv = Partial<Record<typeof SECURITY_ENV[number], string>>;

/** A secret given directly or as a file to read. */
type Secret = { value: string; from: string } | { file: string; from: string };

/** Validated settings, before any file is read. */
export interface SecuritySettings {
  protocol: typeof SECURITY_PROTOCOLS[number];
  sasl?: { mechanism: typeof SASL_MECHANISMS[number]; username: string; password: Secret };
  tls?: { caFile?: string; certFile?: string; keyFile?: string; keyPassword?: Secret };
}

/** What a client needs to connect: file contents and secrets, read. */
export interface Security {
  protocol: SecuritySettings["protocol"];
  sasl?: { mechanism: typeof SASL_MECHANISMS[number]; username: string; password: string };
  tls?: { ca?: string; cert?: string; key?: string; passphrase?: string };
}

/** The largest file a security variable may name: certificates, keys and secrets are a few KiB. */
export const SECURITY_FILE_MAX_BYTES = 1024 * 1024;

/**
 * Validates the security variables of `env`, all problems at once. Throws `UsageError` (exit 2)
 * naming each variable at fault; never quotes a secret.
 */
export function parseSecurity(env: SecurityEnv): SecuritySettings {
  const { settings, problems } = checkSecurity(env);
  if (problems.length === 1) throw new UsageError(problems[0]);
  if (problems.length > 1) throw new ConfigError(problems);
  return settings!;
}

/**
 * The security settings of `env`, validated and their files read: every problem of every
 * variable at once, a line each naming the variable (exit 2), or the files Deno may not read
 * (exit 3). What a run and the monitor call before they start.
 */
export async function readSecurity(env: SecurityEnv): Promise<Security> {
  const { settings, problems, files } = checkSecurity(env);
  const { contents, denied } = await readFiles(files, problems);
  if (settings) problems.push(...pemProblems(settings, contents));
  if (problems.length > 0) throw new ConfigError(problems);
  if (denied.length > 0) throw new ExitError(denied, ExitCode.permission);
  return assemble(settings!, contents);
}

/** One line for the start-up log: protocol, mechanism and user; never a secret. */
export function describeSecurity(security: Security): string {
  const parts: string[] = [security.protocol];
  if (security.sasl) parts.push(`${security.sasl.mechanism} as ${quoted(security.sasl.username)}`);
  if (security.tls?.cert) parts.push("client certificate");
  return parts.join(", ");
}

/** A file a variable names. */
interface NamedFile {
  name: string;
  path: string;
}

/**
 * Every problem of `env`'s variables, a line each, and the files to read: those of the settings
 * when they are valid; when only the protocol is not, the files the other variables name (so
 * their problems are found in the same go).
 */
function checkSecurity(env: SecurityEnv): { settings?: SecuritySettings; problems: string[]; files: NamedFile[] } {
  const problems: string[] = [];
  const text = (name: keyof SecurityEnv) => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const protocolText = text("KAFKA_SECURITY_PROTOCOL")?.toUpperCase() ?? "PLAINTEXT";
  const protocol = SECURITY_PROTOCOLS.find((p) => p === protocolText);
  if (!protocol) {
    problems.push(
      `KAFKA_SECURITY_PROTOCOL must be one of ${SECURITY_PROTOCOLS.join(", ")}: ` +
        `got ${quoted(env.KAFKA_SECURITY_PROTOCOL ?? "")}`,
    );
  }
  // An unknown protocol: check the other variables as the protocol they fit would.
  const usesSasl = protocol ? protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL" : undefined;
  const usesTls = protocol ? protocol === "SSL" || protocol === "SASL_SSL" : undefined;
  const secret = (name: "KAFKA_SASL_PASSWORD" | "KAFKA_SSL_KEY_PASSWORD"): Secret | undefined => {
    const direct = env[name];
    const file = text(`${name}_FILE`);
    if (direct !== undefined && direct !== "" && file !== undefined) {
      problems.push(`${name} and ${name}_FILE are both set: keep one`);
    }
    if (file !== undefined) return { file, from: `${name}_FILE` };
    if (direct !== undefined && direct !== "") return { value: direct, from: name };
    return undefined;
  };

  let sasl: SecuritySettings["sasl"];
  const mechanismText = text("KAFKA_SASL_MECHANISM");
  const saslNames = ["KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE"]
    .filter((name) => text(name as keyof SecurityEnv) !== undefined);
  if (usesSasl === false) {
    for (const name of saslNames) {
      problems.push(
        `${name} is set but KAFKA_SECURITY_PROTOCOL is ${protocol}: set it to SASL_SSL (or SASL_PLAINTEXT)`,
      );
    }
  }
  const password = usesSasl !== false ? secret("KAFKA_SASL_PASSWORD") : undefined;
  if (usesSasl) {
    const mechanism = SASL_MECHANISMS.find((m) => m === mechanismText?.toUpperCase());
    const username = text("KAFKA_SASL_USERNAME");
    if (mechanismText === undefined) {
      problems.push(`KAFKA_SASL_MECHANISM must be set for ${protocol}: one of ${SASL_MECHANISMS.join(", ")}`);
    } else if (!mechanism) {
      problems.push(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(", ")}: got ${quoted(mechanismText)}`);
    }
    if (username === undefined) problems.push(`KAFKA_SASL_USERNAME must be set for ${protocol}`);
    if (password === undefined) {
      problems.push(`KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE must be set for ${protocol}`);
    }
    if (mechanism && username !== undefined && password) sasl = { mechanism, username, password };
  } else if (usesSasl === undefined && mechanismText !== undefined) {
    if (!SASL_MECHANISMS.some((m) => m === mechanismText.toUpperCase())) {
      problems.push(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(", ")}: got ${quoted(mechanismText)}`);
    }
  }

  let tls: SecuritySettings["tls"];
  const caFile = text("KAFKA_SSL_CA_LOCATION");
  const certFile = text("KAFKA_SSL_CERTIFICATE_LOCATION");
  const keyFile = text("KAFKA_SSL_KEY_LOCATION");
  const keyPassword = secret("KAFKA_SSL_KEY_PASSWORD");
  const tlsNames = [
    ["KAFKA_SSL_CA_LOCATION", caFile],
    ["KAFKA_SSL_CERTIFICATE_LOCATION", certFile],
    ["KAFKA_SSL_KEY_LOCATION", keyFile],
    [keyPassword?.from, keyPassword],
  ].filter(([, value]) => value !== undefined).map(([name]) => name);
  if (usesTls === false) {
    for (const name of tlsNames) {
      problems.push(`${name} is set but KAFKA_SECURITY_PROTOCOL is ${protocol}: set it to SSL or SASL_SSL`);
    }
  } else {
    if ((certFile === undefined) !== (keyFile === undefined)) {
      problems.push(
        "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION go together (a client certificate and its key)",
      );
    }
    if (keyPassword && keyFile === undefined) {
      problems.push(`${keyPassword.from} is set without KAFKA_SSL_KEY_LOCATION`);
    }
    if (usesTls) tls = { caFile, certFile, keyFile, keyPassword };
  }

  const files: NamedFile[] = [];
  const add = (name: string, path: string | undefined) => path !== undefined && files.push({ name, path });
  if (usesSasl !== false && password && "file" in password) add(password.from, password.file);
  if (usesTls !== false) {
    add("KAFKA_SSL_CA_LOCATION", caFile);
    add("KAFKA_SSL_CERTIFICATE_LOCATION", certFile);
    add("KAFKA_SSL_KEY_LOCATION", keyFile);
    if (keyPassword && "file" in keyPassword) add(keyPassword.from, keyPassword.file);
  }
  if (problems.length > 0) return { problems, files };
  return { settings: { protocol: protocol!, sasl, tls }, problems, files };
}

/**
 * Reads `files`: their contents by variable, a line in `problems` for each that cannot be used, and
 * the lines of those Deno may not read.
 */
async function readFiles(
  files: NamedFile[],
  problems: string[],
): Promise<{ contents: Map<string, string>; denied: string[] }> {
  const contents = new Map<string, string>();
  const denied: string[] = [];
  for (const { name, path } of files) {
    const read = await readSecurityFile(name, path);
    if ("content" in read) contents.set(name, read.content);
    else if ("denied" in read) denied.push(read.denied);
    else problems.push(read.problem);
  }
  return { contents, denied };
}

/**
 * Reads the file `path` that the variable `name` names: its content, or one line saying why it
 * cannot be used (a directory, missing, unreadable, not a regular file, empty, too large), or
 * the line of a read Deno does not allow (exit 3).
 */
export async function readSecurityFile(
  name: string,
  path: string,
): Promise<{ content: string } | { problem: string } | { denied: string }> {
  const at = `${name}: ${quoted(path)}`;
  let file;
  try {
    file = await open(path, "r");
  } catch (error) {
    if (isPermissionDenial(error)) return { denied: `${permissionError(error).message} (for ${name})` };
    return { problem: `${at} ${fileProblem(error)}` };
  }
  try {
    const stat = await file.stat();
    if (stat.isDirectory()) return { problem: `${at} is a directory, not a file` };
    if (!stat.isFile()) return { problem: `${at} is not a regular file` };
    if (stat.size > SECURITY_FILE_MAX_BYTES) {
      return { problem: `${at} is too large (${stat.size} bytes; at most ${SECURITY_FILE_MAX_BYTES})` };
    }
    const content = await file.readFile("utf8");
    if (content.trim() === "") return { problem: `${at} is empty` };
    return { content };
  } catch (error) {
    if (isPermissionDenial(error)) return { denied: `${permissionError(error).message} (for ${name})` };
    return { problem: `${at} ${fileProblem(error)}` };
  } finally {
    await file.close();
  }
}

/** Why a file could not be opened or read (`error` as thrown by node:fs), as the end of a line. */
export function fileProblem(error: unknown): string {
  switch ((error as { code?: string }).code) {
    case "ENOENT":
      return "cannot be read: no such file";
    case "EISDIR":
      return "is a directory, not a file";
    case "EACCES":
    case "EPERM":
      return "cannot be read: permission denied";
    case "ENOTDIR":
      return "cannot be read: no such file (a part of its path is not a directory)";
    case "ELOOP":
      return "cannot be read: too many symbolic links";
  }
  const code = (error as { code?: string }).code;
  return `cannot be read${code ? `: ${code}` : ""}`;
}

/** The certificate and key files of `settings` that are not PEM, a line each. */
function pemProblems(settings: SecuritySettings, contents: Map<string, string>): string[] {
  const problems: string[] = [];
  const tls = settings.tls;
  if (!tls) return problems;
  for (
    const [name, path] of [["KAFKA_SSL_CA_LOCATION", tls.caFile], ["KAFKA_SSL_CERTIFICATE_LOCATION", tls.certFile]]
  ) {
    const content = contents.get(name!);
    if (content !== undefined && !content.includes("-----BEGIN CERTIFICATE-----")) {
      problems.push(`${name}: ${quoted(path!)} is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)`);
    }
  }
  const key = contents.get("KAFKA_SSL_KEY_LOCATION");
  if (key !== undefined && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    problems.push(
      `KAFKA_SSL_KEY_LOCATION: ${
        quoted(tls.keyFile!)
      } is not a PEM private key (no -----BEGIN ... PRIVATE KEY----- line)`,
    );
  }
  return problems;
}

/** What a client needs, from valid settings and the files read. */
function assemble(settings: SecuritySettings, contents: Map<string, string>): Security {
  // A secret file usually ends with a newline that is not part of the secret.
  const reveal = (secret: Secret | undefined) =>
    secret === undefined
      ? undefined
      : "value" in secret
      ? secret.value
      : contents.get(secret.from)?.replace(/\r?\n$/, "");
  const security: Security = { protocol: settings.protocol };
  if (settings.sasl) {
    const password = reveal(settings.sasl.password);
    if (password !== undefined) {
      security.sasl = { mechanism: settings.sasl.mechanism, username: settings.sasl.username, password };
    }
  }
  if (settings.tls) {
    security.tls = {
      ca: contents.get("KAFKA_SSL_CA_LOCATION"),
      cert: contents.get("KAFKA_SSL_CERTIFICATE_LOCATION"),
      key: contents.get("KAFKA_SSL_KEY_LOCATION"),
      passphrase: reveal(settings.tls.keyPassword),
    };
  }
  return security;
}
