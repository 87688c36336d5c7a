/** Security settings from the environment: validation, secret files, and no secret in any message. */
import assert from "node:assert/strict";
import { ConfigError, ExitCode, UsageError } from "../lib/errors.ts";
import { describeSecurity, loadSecurity, parseSecurity, type SecurityEnv } from "../lib/security.ts";

function problems(env: SecurityEnv): string[] {
  try {
    parseSecurity(env);
  } catch (error) {
    assert.ok(error instanceof UsageError || error instanceof ConfigError);
    assert.equal(error.exitCode, ExitCode.usage);
    return error.lines;
  }
  assert.fail("accepted");
}

Deno.test("no variables mean plaintext without authentication", () => {
  assert.deepEqual(parseSecurity({}), { protocol: "PLAINTEXT", sasl: undefined, tls: undefined });
});

Deno.test("SASL_SSL with SCRAM reads the password from a file, without its trailing newline", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/password`, "s3cret\n");
    Deno.writeTextFileSync(`${dir}/ca.pem`, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const settings = parseSecurity({
      KAFKA_SECURITY_PROTOCOL: "sasl_ssl",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "sim",
      KAFKA_SASL_PASSWORD_FILE: `${dir}/password`,
      KAFKA_SSL_CA_LOCATION: `${dir}/ca.pem`,
    });
    const security = await loadSecurity(settings);
    assert.deepEqual(security.sasl, { mechanism: "SCRAM-SHA-512", username: "sim", password: "s3cret" });
    assert.match(security.tls!.ca!, /BEGIN CERTIFICATE/);
    assert.equal(describeSecurity(security), 'SASL_SSL, SCRAM-SHA-512 as "sim"');
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("inconsistent settings list every problem, naming the variables and never a secret", () => {
  const lines = problems({
    KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
    KAFKA_SASL_MECHANISM: "GSSAPI",
    KAFKA_SASL_PASSWORD: "hunter2",
    KAFKA_SASL_PASSWORD_FILE: "/run/secrets/kafka",
    KAFKA_SSL_CERTIFICATE_LOCATION: "/etc/client.pem",
  });
  assert.deepEqual(lines, [
    "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: keep one",
    'KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512: got "GSSAPI"',
    "KAFKA_SASL_USERNAME must be set for SASL_SSL",
    "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION go together (a client certificate and its key)",
  ]);
  assert.ok(!lines.join("\n").includes("hunter2"));
});

Deno.test("settings that the protocol would ignore are refused", async (t) => {
  const cases: [SecurityEnv, string][] = [
    [
      { KAFKA_SECURITY_PROTOCOL: "TLS" },
      'KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL: got "TLS"',
    ],
    [
      { KAFKA_SASL_USERNAME: "sim" },
      "KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT: set it to SASL_SSL (or SASL_PLAINTEXT)",
    ],
    [
      {
        KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM: "PLAIN",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "p",
        KAFKA_SSL_CA_LOCATION: "/ca.pem",
      },
      "KAFKA_SSL_CA_LOCATION is set but KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT: set it to SSL or SASL_SSL",
    ],
    [
      { KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SSL_KEY_PASSWORD: "x" },
      "KAFKA_SSL_KEY_PASSWORD is set without KAFKA_SSL_KEY_LOCATION",
    ],
    [
      { KAFKA_SECURITY_PROTOCOL: "SASL_SSL", KAFKA_SASL_MECHANISM: "PLAIN", KAFKA_SASL_USERNAME: "u" },
      "KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE must be set for SASL_SSL",
    ],
  ];
  for (const [env, message] of cases) {
    await t.step(message, () => assert.deepEqual(problems(env), [message]));
  }
});

Deno.test("files that cannot be read or are not PEM are named with their variable", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/cert.pem`, "not a certificate");
    Deno.writeTextFileSync(`${dir}/key.pem`, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n");
    const settings = parseSecurity({
      KAFKA_SECURITY_PROTOCOL: "SSL",
      KAFKA_SSL_CA_LOCATION: `${dir}/missing.pem`,
      KAFKA_SSL_CERTIFICATE_LOCATION: `${dir}/cert.pem`,
      KAFKA_SSL_KEY_LOCATION: `${dir}/key.pem`,
    });
    await assert.rejects(loadSecurity(settings), (error: ConfigError) => {
      assert.deepEqual(error.lines, [
        `KAFKA_SSL_CA_LOCATION: cannot read "${dir}/missing.pem": no such file`,
        `KAFKA_SSL_CERTIFICATE_LOCATION: "${dir}/cert.pem" is not a PEM certificate`,
      ]);
      return true;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
