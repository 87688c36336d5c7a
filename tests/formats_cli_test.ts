/**
 * --format and the registry's flags and variables: what a run needs is checked before it starts,
 * one line each naming the flag or variable (exit 2), secrets never echoed; a console run prints
 * JSON whatever the format.
 */
import assert from "node:assert/strict";
import { parseCommand } from "../lib/cli.ts";
import { ConfigError, ExitCode, UsageError } from "../lib/errors.ts";
import { readRegistryAccess } from "../lib/formats/access.ts";
import type { RunOptions } from "../lib/run/options.ts";
import { main } from "../main.ts";
import { resetLogging } from "../lib/log.ts";
import { textCollector } from "./_helpers.ts";

const REGISTRY = "http://127.0.0.1:8081/apis/ccompat/v7";

function usageError(args: string[], env = {}): string {
  try {
    parseCommand(args, env);
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    assert.equal(error.exitCode, ExitCode.usage);
    return error.message;
  }
  assert.fail(`accepted ${args.join(" ")}`);
}

function runOptions(args: string[], env = {}): RunOptions {
  const command = parseCommand(args, env);
  assert.equal(command.kind, "run");
  return (command as { options: RunOptions }).options;
}

Deno.test("a registry format on a sink that may be Kafka needs a registry, from the flag or SCHEMA_REGISTRY_URL", () => {
  for (const format of ["avro", "protobuf", "json-schema"]) {
    assert.equal(
      usageError(["--format", format]),
      `--format ${format} needs a schema registry: --schema-registry URL or SCHEMA_REGISTRY_URL ` +
        "(for Apicurio, http://HOST:8081/apis/ccompat/v7)",
    );
    assert.equal(runOptions(["--format", format], { SCHEMA_REGISTRY_URL: REGISTRY }).values.registryUrl, REGISTRY);
    assert.equal(runOptions(["--format", format, "--sink", "console"]).values.registryUrl, undefined);
  }
  const flag = runOptions(["--format=avro", `--schema-registry=${REGISTRY}/`], { SCHEMA_REGISTRY_URL: "http://other" });
  assert.deepEqual(flag.values, {
    format: "avro",
    registryUrl: `${REGISTRY}/`,
    registryFromFlag: true,
    autoRegister: true,
    subjectStrategy: "topic",
  });
});

Deno.test("the registry flags need a registry format", () => {
  assert.equal(
    usageError(["--schema-registry", REGISTRY]),
    "--schema-registry needs --format avro, protobuf or json-schema (the JSON format has no schema)",
  );
  assert.equal(
    usageError(["--no-auto-register"]),
    "--no-auto-register needs --format avro, protobuf or json-schema (the JSON format has no schema)",
  );
  assert.equal(
    usageError(["--subject-strategy", "record"]),
    "--subject-strategy needs --format avro, protobuf or json-schema (the JSON format has no schema)",
  );
  // The environment is ambient: a JSON run with SCHEMA_REGISTRY_URL set just does not use it.
  assert.equal(runOptions([], { SCHEMA_REGISTRY_URL: REGISTRY }).values.registryUrl, undefined);
  assert.equal(usageError(["--format", "xml"]), '--format must be one of json, avro, protobuf, json-schema: got "xml"');
  assert.equal(
    usageError(["--format", "avro", "--sink", "console", "--subject-strategy", "wild"]),
    '--subject-strategy must be one of topic, record, topic-record: got "wild"',
  );
});

Deno.test("one subject per topic cannot hold two record types: a shared topic needs another strategy", () => {
  const args = ["--format", "avro", "--schema-registry", REGISTRY];
  assert.equal(
    usageError([...args, "--labels-topic", "SENSOR_READINGS"]),
    '--readings-topic and --labels-topic name the same topic "SENSOR_READINGS": with --format avro, ' +
      "--subject-strategy topic (the default) has one schema per topic; use --subject-strategy record or topic-record",
  );
  assert.match(
    usageError([...args, "--readings-topic", "all", "--heartbeat-topic", "all"]),
    /--readings-topic and --heartbeat-topic name the same topic "all"/,
  );
  for (const strategy of ["record", "topic-record"]) {
    const options = runOptions([
      ...args,
      "--subject-strategy",
      strategy,
      "--readings-topic",
      "all",
      "--heartbeat-topic",
      "all",
    ]);
    assert.equal(options.values.subjectStrategy, strategy);
  }
});

async function accessProblem(flag: string | undefined, env: Record<string, string>): Promise<ConfigError> {
  try {
    await readRegistryAccess(flag, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("accepted");
}

Deno.test("the registry's URL: http or https, no credentials in it (never echoed), no query", async () => {
  assert.deepEqual(await readRegistryAccess(`${REGISTRY}/`, {}), { url: REGISTRY });
  assert.deepEqual(await readRegistryAccess(undefined, { SCHEMA_REGISTRY_URL: REGISTRY }), { url: REGISTRY });
  assert.deepEqual((await accessProblem("ftp://r", {})).lines, [
    '--schema-registry must be an http:// or https:// URL: got "ftp://r"',
  ]);
  assert.deepEqual((await accessProblem(undefined, { SCHEMA_REGISTRY_URL: "not a url" })).lines, [
    'SCHEMA_REGISTRY_URL must be an http:// or https:// URL: got "not a url"',
  ]);
  const secret = await accessProblem("http://admin:s3cret@registry:8081", {});
  assert.deepEqual(secret.lines, [
    "--schema-registry must not hold credentials: put them in SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD (or _FILE)",
  ]);
  assert.ok(!secret.message.includes("s3cret"));
  assert.deepEqual((await accessProblem("http://r:8081/?x=1", {})).lines, [
    '--schema-registry must not have a query or fragment: got "http://r:8081/?x=1"',
  ]);
  assert.match((await accessProblem("http://r\u001b[31m", {})).message, /\\u001b\[31m|\\x1b\[31m/);
});

Deno.test("basic auth and the CA: every problem at once, one line each, secrets never printed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const passwordFile = `${dir}/password`;
    await Deno.writeTextFile(passwordFile, "from-file\n");
    assert.deepEqual(
      await readRegistryAccess(REGISTRY, {
        SCHEMA_REGISTRY_USERNAME: "sim",
        SCHEMA_REGISTRY_PASSWORD_FILE: passwordFile,
      }),
      { url: REGISTRY, auth: { username: "sim", password: "from-file" } },
    );
    assert.deepEqual(
      await readRegistryAccess(REGISTRY, { SCHEMA_REGISTRY_USERNAME: "sim", SCHEMA_REGISTRY_PASSWORD: "p" }),
      { url: REGISTRY, auth: { username: "sim", password: "p" } },
    );
    const notPem = `${dir}/ca.txt`;
    await Deno.writeTextFile(notPem, "hello");
    const all = await accessProblem("http://r:8081", {
      SCHEMA_REGISTRY_PASSWORD: "hunter2",
      SCHEMA_REGISTRY_PASSWORD_FILE: passwordFile,
      SCHEMA_REGISTRY_SSL_CA_LOCATION: notPem,
    });
    assert.deepEqual(all.lines, [
      "SCHEMA_REGISTRY_PASSWORD and SCHEMA_REGISTRY_PASSWORD_FILE: set one, not both",
      `SCHEMA_REGISTRY_SSL_CA_LOCATION: "${notPem}" is not a PEM certificate (no -----BEGIN CERTIFICATE----- line)`,
      "SCHEMA_REGISTRY_SSL_CA_LOCATION is set but the registry URL is http:, not https:",
    ]);
    assert.ok(!all.message.includes("hunter2"));
    assert.deepEqual((await accessProblem(REGISTRY, { SCHEMA_REGISTRY_PASSWORD: "x" })).lines, [
      "SCHEMA_REGISTRY_USERNAME must be set with SCHEMA_REGISTRY_PASSWORD",
    ]);
    assert.deepEqual((await accessProblem(REGISTRY, { SCHEMA_REGISTRY_USERNAME: "sim" })).lines, [
      "SCHEMA_REGISTRY_USERNAME needs SCHEMA_REGISTRY_PASSWORD or SCHEMA_REGISTRY_PASSWORD_FILE",
    ]);
    assert.deepEqual(
      (await accessProblem(REGISTRY, { SCHEMA_REGISTRY_USERNAME: "sim", SCHEMA_REGISTRY_PASSWORD_FILE: `${dir}/none` }))
        .lines,
      [`SCHEMA_REGISTRY_PASSWORD_FILE: "${dir}/none" cannot be read: no such file`],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("through the CLI: a registry problem is one line, exit 2, before the run starts", async () => {
  let stderr = "";
  const stdout = textCollector();
  try {
    const code = await main(["--format", "avro", "--sink", "kafka", "--backfill", "1m", "--seed", "1"], {
      env: { SCHEMA_REGISTRY_URL: REGISTRY, SCHEMA_REGISTRY_USERNAME: "sim" },
      stdout: stdout.stream,
      writeStderr: (line) => stderr += line,
    });
    assert.equal(code, ExitCode.usage);
  } finally {
    await resetLogging();
  }
  assert.equal(
    stderr,
    "error: SCHEMA_REGISTRY_USERNAME needs SCHEMA_REGISTRY_PASSWORD or SCHEMA_REGISTRY_PASSWORD_FILE\n",
  );
  assert.equal(stdout.text(), "");
});

Deno.test("a console run with a registry format prints the JSON contract and says so", async () => {
  let stderr = "";
  const json = textCollector();
  const avro = textCollector();
  try {
    const args = ["--sink", "console", "--backfill", "2025-11-01T00:00:00Z..2025-11-01T00:02:00Z", "--seed", "5"];
    const env = { SCHEMA_REGISTRY_URL: REGISTRY };
    assert.equal(await main(args, { env, stdout: json.stream, writeStderr: () => {} }), 0);
    await resetLogging();
    assert.equal(
      await main([...args, "--format", "avro"], { env, stdout: avro.stream, writeStderr: (line) => stderr += line }),
      0,
    );
  } finally {
    await resetLogging();
  }
  assert.ok(json.text().length > 1000);
  assert.equal(avro.text(), json.text());
  assert.match(stderr, /the console prints JSON lines: --format avro applies to what goes to Kafka/);
});
