/**
 * The SASL/TLS Kafka broker of kafka/secure.sh, for tests of the client's security settings.
 *
 * One single-node broker with three client listeners on 127.0.0.1 (KAFKA_SECURE_BASE_PORT, default 9192, moves them):
 * SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SSL with required client certificates (mutual TLS; the certificate
 * CN=factory-sim-client becomes User:factory-sim-client), and PLAINTEXT, whose User:ANONYMOUS is a super user, for
 * setup and readback (e.g. with kcat). Auto-create is off and nothing is allowed without an ACL: User:sim and
 * User:factory-sim-client may Write, Describe, Create and DescribeConfigs topics prefixed `sim.`, Write and Describe
 * (no Create) topics prefixed `nocreate.`, and IdempotentWrite; `admin` is a super user; `outsider` has no ACLs.
 * SCRAM mechanisms: sim has both, admin SCRAM-SHA-512 only, outsider SCRAM-SHA-256 only; PLAIN: sim and admin.
 *
 * Each function runs `bash kafka/secure.sh ...` and throws an Error carrying the script's stderr when it fails.
 * kcat (librdkafka < 2.6.1) cannot log in with SCRAM to this Kafka 4.x broker: read back over `plaintext`.
 */
import { runKafkaScript } from "./_kafka.ts";

/** A user of the SASL_SSL listener; its password is random, made on the broker's first start. */
export type SecureUser = "sim" | "admin" | "outsider";

/** Where the secure broker listens, and its certificates and secrets (absolute paths, PEM files). */
export interface SecureBroker {
  /** `host:port` of the SASL_SSL listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; server certificate from the CA). */
  saslSsl: string;
  /** `host:port` of the SSL listener that requires a client certificate signed by the CA. */
  ssl: string;
  /** `host:port` of the PLAINTEXT listener (super user: setup and readback). */
  plaintext: string;
  /** The broker's directory, kafka/.secure by default. */
  dir: string;
  /** The test CA's certificate, which signed the broker's and the client's certificates. */
  caFile: string;
  /** An unrelated CA: trusting only it must fail the TLS handshake. */
  otherCaFile: string;
  /** The client certificate CN=factory-sim-client followed by the CA's (chain for mutual TLS). */
  clientCertFile: string;
  /** The client certificate's private key, unencrypted PKCS#8. */
  clientKeyFile: string;
  /** The same key, encrypted PKCS#8; its passphrase is in `clientKeyPasswordFile`. */
  encryptedClientKeyFile: string;
  /** The passphrase of `encryptedClientKeyFile`, without a trailing newline. */
  clientKeyPasswordFile: string;
  /** The password of `user` (for both SASL PLAIN and SCRAM). */
  password(user: SecureUser): string;
}

const USERS: readonly SecureUser[] = ["sim", "admin", "outsider"];

function secure(...args: string[]): Promise<string> {
  return runKafkaScript("secure.sh", args);
}

/** The KEY=value lines of `kafka/secure.sh env`. */
function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) env.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return env;
}

function required(env: Map<string, string>, key: string): string {
  const value = env.get(key);
  if (!value) throw new Error(`kafka/secure.sh env printed no ${key}`);
  return value;
}

/**
 * Starts the secure broker unless it runs (the first start makes the certificates and users, about 15 s; a restart
 * about 4 s) and resolves once it is ready: certificates in place, logins working, ACLs created.
 */
export async function startSecureBroker(): Promise<SecureBroker> {
  await secure("start");
  const env = parseEnv(await secure("env"));
  const dir = required(env, "SECURE_DIR");
  const passwords = new Map<SecureUser, string>();
  for (const user of USERS) passwords.set(user, await Deno.readTextFile(`${dir}/secrets/${user}.password`));
  return {
    saslSsl: required(env, "SECURE_SASL_SSL"),
    ssl: required(env, "SECURE_SSL"),
    plaintext: required(env, "SECURE_PLAINTEXT"),
    dir,
    caFile: `${dir}/ca.pem`,
    otherCaFile: `${dir}/other-ca.pem`,
    clientCertFile: `${dir}/client.pem`,
    clientKeyFile: `${dir}/client.key`,
    encryptedClientKeyFile: `${dir}/client-encrypted.key`,
    clientKeyPasswordFile: `${dir}/client-key.password`,
    password(user: SecureUser): string {
      const password = passwords.get(user);
      if (password === undefined) throw new Error(`no such user of the secure broker: ${user}`);
      return password;
    },
  };
}

/** Stops the secure broker (SIGTERM, then SIGKILL); `wipe` also deletes its data, certificates and secrets. */
export async function stopSecureBroker({ wipe = false }: { wipe?: boolean } = {}): Promise<void> {
  await secure("stop", ...(wipe ? ["--wipe"] : []));
}
