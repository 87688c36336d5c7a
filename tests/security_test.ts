/** Security settings from the environment: validation, secret files, and no secret in any message. */
import assert from "node:assert/strict";
import { hasControls } from "../lib/text.ts";
import { ConfigError, ExitCode, ExitError, UsageError } from "../lib/errors.ts";
import {
  describeSecurity,
  fileProblem,
  parseSecurity,
  readSecurity,
  SECURITY_FILE_MAX_BYTES,
  type SecurityEnv,
} from "../lib/security.ts";

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
    const security = await readSecurity({
      KAFKA_SECURITY_PROTOCOL: "sasl_ssl",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "sim",
      KAFKA_SASL_PASSWORD_FILE: `${dir}/password`,
      KAFKA_SSL_CA_LOCATION: `${dir}/ca.pem`,
    });
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
    const env = {
      KAFKA_SECURITY_PROTOCOL: "SSL",
      KAFKA_SSL_CA_LOCATION: `${dir}/missing.pem`,
      KAFKA_SSL_CERTIFICATE_LOCATION: `${dir}/cert.pem`,
      KAFKA_SSL_KEY_LOCATION: `${dir}/key.pem`,
    };
    await assert.rejects(readSecurity(env), (error: ConfigError) => {
      assert.deepEqual(error.lines, [
        `KAFKA_SSL_CA_LOCATION: "${dir}/missing.pem" cannot be read: no such file`,
        `KAFKA_SSL_CERTIFICATE_LOCATION: "${dir}/cert.pem" is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)`,
      ]);
      return true;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** The lines and exit code `readSecurity(env)` fails with. */
async function readProblems(env: SecurityEnv): Promise<{ lines: string[]; exitCode: number }> {
  try {
    await readSecurity(env);
  } catch (error) {
    assert.ok(error instanceof ExitError, String(error));
    return { lines: error.lines, exitCode: error.exitCode };
  }
  assert.fail("accepted");
}

Deno.test("every problem of every variable at once: each set variable the protocol ignores, and its files", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/empty.pem`, "\n");
    const { lines, exitCode } = await readProblems({
      KAFKA_SECURITY_PROTOCOL: "SSL",
      KAFKA_SASL_MECHANISM: "PLAIN",
      KAFKA_SASL_USERNAME: "sim",
      KAFKA_SASL_PASSWORD: "hunter2",
      KAFKA_SSL_CA_LOCATION: dir,
      KAFKA_SSL_CERTIFICATE_LOCATION: `${dir}/missing.pem`,
      KAFKA_SSL_KEY_LOCATION: `${dir}/empty.pem`,
    });
    assert.equal(exitCode, ExitCode.usage);
    assert.deepEqual(lines, [
      "KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL is SSL: set it to SASL_SSL (or SASL_PLAINTEXT)",
      "KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL is SSL: set it to SASL_SSL (or SASL_PLAINTEXT)",
      "KAFKA_SASL_PASSWORD is set but KAFKA_SECURITY_PROTOCOL is SSL: set it to SASL_SSL (or SASL_PLAINTEXT)",
      `KAFKA_SSL_CA_LOCATION: "${dir}" is a directory, not a file`,
      `KAFKA_SSL_CERTIFICATE_LOCATION: "${dir}/missing.pem" cannot be read: no such file`,
      `KAFKA_SSL_KEY_LOCATION: "${dir}/empty.pem" is empty`,
    ]);
    assert.ok(!lines.join("\n").includes("hunter2"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("an unknown protocol does not hide the other variables' problems", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/ca.pem`, "not PEM at all");
    const { lines } = await readProblems({
      KAFKA_SECURITY_PROTOCOL: "TLS\x1b[2J",
      KAFKA_SASL_MECHANISM: "GSSAPI",
      KAFKA_SSL_CA_LOCATION: `${dir}/ca.pem`,
      KAFKA_SSL_KEY_PASSWORD: "x",
      KAFKA_SASL_PASSWORD_FILE: "/dev/zero",
    });
    assert.deepEqual(lines, [
      'KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL: got "TLS\\u001b[2J"',
      'KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512: got "GSSAPI"',
      "KAFKA_SSL_KEY_PASSWORD is set without KAFKA_SSL_KEY_LOCATION",
      'KAFKA_SASL_PASSWORD_FILE: "/dev/zero" is not a regular file',
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a file too large for a certificate is refused without reading it", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/huge.pem`;
    using file = Deno.openSync(path, { write: true, create: true });
    file.truncateSync(SECURITY_FILE_MAX_BYTES + 1);
    const { lines } = await readProblems({ KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SSL_CA_LOCATION: path });
    assert.deepEqual(lines, [
      `KAFKA_SSL_CA_LOCATION: "${path}" is too large (${
        SECURITY_FILE_MAX_BYTES + 1
      } bytes; at most ${SECURITY_FILE_MAX_BYTES})`,
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("why a file cannot be read, in words", () => {
  // Tests run as root, where no file is unreadable: the mapping of what node:fs throws is checked here.
  assert.equal(fileProblem(Object.assign(new Error("x"), { code: "EACCES" })), "cannot be read: permission denied");
  assert.equal(fileProblem(Object.assign(new Error("x"), { code: "EISDIR" })), "is a directory, not a file");
  assert.equal(fileProblem(Object.assign(new Error("x"), { code: "EIO" })), "cannot be read: EIO");
});

Deno.test("a path full of control characters is shown escaped and bounded", async () => {
  const path = `/nonexistent/\x1b]0;owned\x07\n${"x".repeat(10_000)}`;
  const { lines } = await readProblems({ KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SSL_CA_LOCATION: path });
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^KAFKA_SSL_CA_LOCATION: "\/nonexistent\/\\u001b\]0;owned\\u0007\\nxxx/);
  assert.ok(lines[0].length < 250, lines[0]);
  assert.ok(!hasControls(lines[0]), lines[0]);
});

Deno.test("a run reports the security variables' problems before its start line, exit 2", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const command = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-prompt", "-P=sim", "main.ts", "--sink", "kafka", "--duration", "1s"],
      cwd: new URL("..", import.meta.url).pathname,
      env: { KAFKA_SECURITY_PROTOCOL: "SASL_SSL", KAFKA_SSL_CA_LOCATION: dir, KAFKA_SASL_MECHANISM: "PLAIN" },
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await command.output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, ExitCode.usage, text);
    assert.equal(stdout.length, 0);
    assert.equal(
      text,
      "error: KAFKA_SASL_USERNAME must be set for SASL_SSL\n" +
        "error: KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE must be set for SASL_SSL\n" +
        `error: KAFKA_SSL_CA_LOCATION: "${dir}" is a directory, not a file\n`,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a file Deno may not read is named with its variable and the flag to grant, exit 3", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/ca.pem`, "-----BEGIN CERTIFICATE-----\n");
    const root = new URL("..", import.meta.url).pathname;
    const command = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-prompt", `--allow-read=${root}`, "--allow-env", "main.ts", "--sink", "kafka"],
      cwd: root,
      env: { KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SSL_CA_LOCATION: `${dir}/ca.pem` },
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stderr } = await command.output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, ExitCode.permission, text);
    assert.match(text, new RegExp(`--allow-read=${dir}/ca\\.pem \\(for KAFKA_SSL_CA_LOCATION\\)\n$`));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
