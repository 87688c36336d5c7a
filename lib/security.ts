/**
 * How to authenticate to Kafka and encrypt the connection: SASL (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512) and TLS (a CA file, optionally a client certificate and key for mutual TLS).
 *
 * Settings come only from environment variables named after the client properties Kafka users
 * know (`security.protocol` is `KAFKA_SECURITY_PROTOCOL`...), and secrets from those variables or
 * from files (`..._FILE`), never from flags, so they stay out of shell history and process
 * lists. No message here or elsewhere contains a secret.
 */
import { readFile } from "node:fs/promises";
import { ConfigError, isPermissionDenial, PermissionError, permissionError, UsageError } from "./errors.ts";

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

/**
 * Validates the security variables of `env`, all problems at once. Throws `UsageError` (exit 2)
 * naming each variable at fault; never quotes a secret.
 */
export function parseSecurity(env: SecurityEnv): SecuritySettings {
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
        `got "${env.KAFKA_SECURITY_PROTOCOL}"`,
    );
  }
  const usesSasl = protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL";
  const usesTls = protocol === "SSL" || protocol === "SASL_SSL";
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
  if (protocol && !usesSasl && saslNames.length > 0) {
    problems.push(
      `${saslNames[0]} is set but KAFKA_SECURITY_PROTOCOL is ${protocol}: set it to SASL_SSL (or SASL_PLAINTEXT)`,
    );
  }
  if (usesSasl) {
    const mechanism = SASL_MECHANISMS.find((m) => m === mechanismText?.toUpperCase());
    const username = text("KAFKA_SASL_USERNAME");
    const password = secret("KAFKA_SASL_PASSWORD");
    if (mechanismText === undefined) {
      problems.push(`KAFKA_SASL_MECHANISM must be set for ${protocol}: one of ${SASL_MECHANISMS.join(", ")}`);
    } else if (!mechanism) {
      problems.push(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(", ")}: got "${mechanismText}"`);
    }
    if (username === undefined) problems.push(`KAFKA_SASL_USERNAME must be set for ${protocol}`);
    if (password === undefined) {
      problems.push(`KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE must be set for ${protocol}`);
    }
    if (mechanism && username !== undefined && password) sasl = { mechanism, username, password };
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
  if (protocol && !usesTls && tlsNames.length > 0) {
    problems.push(`${tlsNames[0]} is set but KAFKA_SECURITY_PROTOCOL is ${protocol}: set it to SSL or SASL_SSL`);
  }
  if (usesTls) {
    if ((certFile === undefined) !== (keyFile === undefined)) {
      problems.push(
        "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION go together (a client certificate and its key)",
      );
    }
    if (keyPassword && keyFile === undefined) {
      problems.push(`${keyPassword.from} is set without KAFKA_SSL_KEY_LOCATION`);
    }
    tls = { caFile, certFile, keyFile, keyPassword };
  }

  if (problems.length === 1) throw new UsageError(problems[0]);
  if (problems.length > 1) throw new ConfigError(problems);
  return { protocol: protocol!, sasl, tls };
}

/**
 * Reads the files the settings name. Throws `ConfigError` (exit 2) naming the variable and the
 * path of a file that cannot be read, `PermissionError` (exit 3) when Deno may not read it.
 */
export async function loadSecurity(settings: SecuritySettings): Promise<Security> {
  const problems: string[] = [];
  const read = async (name: string, path: string | undefined): Promise<string | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path, "utf8");
    } catch (error) {
      if (isPermissionDenial(error)) throw new PermissionError(`${permissionError(error).message} (for ${name})`);
      const code = (error as { code?: string }).code;
      problems.push(`${name}: cannot read "${path}"${code === "ENOENT" ? ": no such file" : code ? `: ${code}` : ""}`);
      return undefined;
    }
  };
  const reveal = async (secret: Secret | undefined): Promise<string | undefined> => {
    if (secret === undefined) return undefined;
    if ("value" in secret) return secret.value;
    const content = await read(secret.from, secret.file);
    // A secret file usually ends with a newline that is not part of the secret.
    return content?.replace(/\r?\n$/, "");
  };

  const security: Security = { protocol: settings.protocol };
  if (settings.sasl) {
    const password = await reveal(settings.sasl.password);
    if (password !== undefined) {
      security.sasl = { mechanism: settings.sasl.mechanism, username: settings.sasl.username, password };
    }
  }
  if (settings.tls) {
    const { caFile, certFile, keyFile, keyPassword } = settings.tls;
    const [ca, cert, key, passphrase] = [
      await read("KAFKA_SSL_CA_LOCATION", caFile),
      await read("KAFKA_SSL_CERTIFICATE_LOCATION", certFile),
      await read("KAFKA_SSL_KEY_LOCATION", keyFile),
      await reveal(keyPassword),
    ];
    for (const [name, content] of [["KAFKA_SSL_CA_LOCATION", ca], ["KAFKA_SSL_CERTIFICATE_LOCATION", cert]]) {
      if (content !== undefined && !content.includes("-----BEGIN CERTIFICATE-----")) {
        problems.push(`${name}: "${name === "KAFKA_SSL_CA_LOCATION" ? caFile : certFile}" is not a PEM certificate`);
      }
    }
    if (key !== undefined && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
      problems.push(`KAFKA_SSL_KEY_LOCATION: "${keyFile}" is not a PEM private key`);
    }
    security.tls = { ca, cert, key, passphrase };
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return security;
}

/** One line for the start-up log: protocol, mechanism and user; never a secret. */
export function describeSecurity(security: Security): string {
  const parts: string[] = [security.protocol];
  if (security.sasl) parts.push(`${security.sasl.mechanism} as "${security.sasl.username}"`);
  if (security.tls?.cert) parts.push("client certificate");
  return parts.join(", ");
}
