/**
 * --format avro|protobuf|json-schema against a real broker and a real Schema Registry (Apicurio's
 * Confluent-compatible API): what a run wrote is read back by an independent client that decodes
 * through the registry (confluent-kafka for Python), every record exactly once, each equal field by
 * field to what a JSON run with the same seed gives. And what a user meets: --no-auto-register with
 * and without the subject, a subject that does not fit, a schema refused as incompatible, a
 * registry down at start or lost mid-run, basic auth and TLS, and the monitor reading every format.
 */
import assert from "node:assert/strict";
import { codecOf, unframe } from "../lib/formats/codec.ts";
import { CONTENT_TYPES, type RegistryFormat, SCHEMA_TYPES } from "../lib/formats/format.ts";
import { SCHEMA_TEXTS } from "../lib/formats/schemas.ts";
import type { Snapshot } from "../lib/monitor/state.ts";
import { BROKERS, collect, ensureBroker, runCli, spawnCli, tempConfig, uniqueTopic, waitFor } from "./_kafka.ts";
import { deleteSubject, ensureRegistry, registerSchema, registryRequest, withScratchRegistry } from "./_registry.ts";
import { readThroughRegistry, type RegistryRecord } from "./_sr_reader.ts";
import { finishRun, startRun, withScratchBroker } from "./_scratch_broker.ts";
import { ExitCode } from "../lib/errors.ts";

const FORMATS: RegistryFormat[] = ["avro", "protobuf", "json-schema"];
const BACKFILL = "2025-11-01T00:00:00Z..2025-11-01T00:02:30Z";
const SEED = "17";

/** Integer and decimal readings, and faults for the labels topic. */
const CONFIG = {
  F1: [
    { sodaName: "Cola", number: 12, sensorID: "S1-1" },
    {
      sodaName: 'Limonade "Öko"',
      number: 12,
      sensorID: "S1-2",
      signal: { type: "gaussian", setpoint: 50, sigma: 4, decimals: 3 },
      faults: [{ kind: "stuck", at: "10s", for: "20s" }, { kind: "spike", at: "40s", for: "5s", magnitude: 20 }],
    },
  ],
  F2: [{ sodaName: "Fanta", number: 10, sensorID: "S2-1" }],
};

interface Topics {
  readings: string;
  heartbeats: string;
  labels: string;
  flags: string[];
}

function topicsOf(prefix: string): Topics {
  const readings = uniqueTopic(`${prefix}-r`), heartbeats = uniqueTopic(`${prefix}-h`);
  const labels = uniqueTopic(`${prefix}-l`);
  return {
    readings,
    heartbeats,
    labels,
    flags: [`--readings-topic=${readings}`, `--heartbeat-topic=${heartbeats}`, `--labels-topic=${labels}`],
  };
}

/** A run of `format` into Kafka through the registry at `url`, on `topics`. */
function runFormat(topics: Topics, format: RegistryFormat, url: string, extra: string[]) {
  return runCli([
    "--sink=kafka",
    `--brokers=${BROKERS}`,
    `--format=${format}`,
    `--schema-registry=${url}`,
    ...extra,
    ...topics.flags,
  ]);
}

const subjectsOf = (topics: Topics) => [topics.readings, topics.heartbeats, topics.labels].map((t) => `${t}-value`);

/** A record reduced to what a comparison across formats keeps: topic kind, key and the contract's fields. */
function canonical(kind: string, key: string | null, value: Record<string, unknown>): string {
  const fields = Object.entries(value).map(([protoName, field]) => {
    // The reader keeps Protobuf's field names (sensor_id); proto3's JSON mapping gives the contract's.
    const name = protoName.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (name === "timestamp") return [name, Date.parse(String(field))];
    // Protobuf's JSON mapping writes int64 as text.
    if (name === "count" || name === "total" || name === "reading") return [name, Number(field)];
    return [name, field];
  }).sort(([a], [b]) => String(a) < String(b) ? -1 : 1);
  return JSON.stringify([kind, key, fields]);
}

/** The topics the broker has (a metadata request for all of them: it creates none). */
async function topicNames(): Promise<string[]> {
  const { stdout } = await new Deno.Command("kcat", { args: ["-b", BROKERS, "-L", "-J"], stdout: "piped" }).output();
  return (JSON.parse(new TextDecoder().decode(stdout)).topics as { topic: string }[]).map((t) => t.topic);
}

/** Every record of `topic` with its key and value bytes as they are (kcat's length-prefixed output). */
async function rawRecords(topic: string): Promise<{ key: string; value: Uint8Array }[]> {
  const { stdout, success } = await new Deno.Command("kcat", {
    args: ["-b", BROKERS, "-C", "-t", topic, "-e", "-q", "-f", "%K:%k%R%s"],
    stdout: "piped",
  }).output();
  assert.ok(success);
  const records: { key: string; value: Uint8Array }[] = [];
  const view = new DataView(stdout.buffer, stdout.byteOffset, stdout.byteLength);
  for (let at = 0; at < stdout.length;) {
    // The key's length as text, ":", the key, the value's length (4 bytes, big-endian), the value.
    const colon = stdout.indexOf(0x3a, at);
    const keyLength = Number(new TextDecoder().decode(stdout.subarray(at, colon)));
    const key = new TextDecoder().decode(stdout.subarray(colon + 1, colon + 1 + keyLength));
    at = colon + 1 + keyLength;
    const valueLength = view.getInt32(at);
    records.push({ key, value: stdout.subarray(at + 4, at + 4 + valueLength) });
    at += 4 + valueLength;
  }
  return records;
}

async function withTopicsCleaned(config: { remove: () => Promise<void> }, body: () => Promise<void>) {
  try {
    await body();
  } finally {
    await config.remove();
  }
}

const registry = await ensureRegistry();
await ensureBroker();

Deno.test("every format, and two shards at once: what was written, read back through the registry by confluent-kafka, equals the JSON run", async () => {
  const config = await tempConfig(CONFIG);
  await withTopicsCleaned(config, async () => {
    const common = [`--config=${config.path}`, "--factories=2", `--seed=${SEED}`, `--backfill=${BACKFILL}`];
    // The reference: the JSON contract, on the console.
    const json = await runCli([...common, "--sink=console", ...topicsOf("ref").flags]);
    assert.equal(json.code, 0, json.stderr);
    const reference = json.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const kindOf = (topic: string, topics: { readings: string; heartbeats: string }) =>
      topic === topics.readings ? "reading" : topic === topics.heartbeats ? "heartbeat" : "label";
    const refTopics = { readings: reference.find((r) => "reading" in r.value).topic, heartbeats: "" };
    refTopics.heartbeats = reference.find((r) => r.value.status === "active").topic;
    const expected = reference.map((r) => canonical(kindOf(r.topic, refTopics), r.key, r.value)).sort();
    assert.ok(reference.some((r) => r.value.event === "start"), "the run has fault labels");
    assert.ok(reference.some((r) => typeof r.value.reading === "number" && !Number.isInteger(r.value.reading)));

    // Each format in one run; and Protobuf from two shards at once, with the topic-record strategy.
    const cases = [
      ...FORMATS.map((format) => ({ format, shards: 1, strategy: "topic" })),
      { format: "protobuf" as const, shards: 2, strategy: "topic-record" },
    ];
    for (const { format, shards, strategy } of cases) {
      const topics = topicsOf(`${format}-${shards}`);
      const subjects = strategy === "topic" ? subjectsOf(topics) : [
        `${topics.readings}-factorysim.v1.Reading`,
        `${topics.heartbeats}-factorysim.v1.Heartbeat`,
        `${topics.labels}-factorysim.v1.FaultLabel`,
      ];
      try {
        const runs = await Promise.all(Array.from({ length: shards }, (_, i) =>
          runCli([
            ...common,
            "--sink=kafka",
            `--brokers=${BROKERS}`,
            `--format=${format}`,
            `--schema-registry=${registry}`,
            `--subject-strategy=${strategy}`,
            ...(shards > 1 ? [`--shard=${i + 1}/${shards}`] : []),
            ...topics.flags,
          ])));
        for (const run of runs) assert.equal(run.code, 0, run.stderr);
        const run = { stderr: runs.map((r) => r.stderr).join("\n") };
        // The subjects and their ids, logged at start.
        const ids = new Map<string, number>();
        for (const match of run.stderr.matchAll(/"([^"]+?)-(?:value|factorysim\.v1\.\w+)" id (\d+)/g)) {
          // Every shard registers the same schema and is given the same id.
          assert.equal(ids.get(match[1]) ?? Number(match[2]), Number(match[2]));
          ids.set(match[1], Number(match[2]));
        }
        assert.deepEqual([...ids.keys()].sort(), [topics.readings, topics.heartbeats, topics.labels].sort());

        const records: RegistryRecord[] = await readThroughRegistry({
          registry,
          topics: [topics.readings, topics.heartbeats, topics.labels],
          expected: reference.length,
        });
        const problems = records.filter((r) => r.error !== undefined);
        assert.deepEqual(problems, [], `${format}: records the reader could not decode`);
        assert.equal(records.length, reference.length, `${format}: as many records as the JSON run`);
        for (const record of records) {
          assert.equal(record.schemaId, ids.get(record.topic), `${format}: the id registered at start`);
          assert.equal(record.schemaType, SCHEMA_TYPES[format]);
          assert.equal(record.headers["content-type"], CONTENT_TYPES[format]);
        }
        const got = records.map((r) => canonical(kindOf(r.topic, topics), r.key, r.value as Record<string, unknown>));
        assert.deepEqual(got.sort(), expected, `${format} (${shards} shards): every record once, equal field by field`);
      } finally {
        for (const subject of subjects) await deleteSubject(registry, subject);
      }
    }
  });
});

Deno.test("--no-auto-register: refused without the subject (nothing produced), uses its latest version with it, refuses one that does not fit", async () => {
  const topics = topicsOf("noauto");
  const run = (extra: string[] = []) =>
    runFormat(topics, "avro", registry, [
      "--seed=3",
      "--backfill=2025-11-01T00:00:00Z..2025-11-01T00:00:20Z",
      ...extra,
    ]);
  try {
    const missing = await run(["--no-auto-register"]);
    assert.equal(missing.code, 1, missing.stderr);
    const line = missing.stderr.split("\n").find((l) => l.startsWith("error:"))!;
    assert.equal(
      line,
      `error: schema registry "${registry}": subject "${topics.readings}-value": not found, and --no-auto-register ` +
        `says not to register it (register it first, or drop the flag): No artifact with ID '${topics.readings}-value' ` +
        "in group 'null' was found. (HTTP 404, error_code 40401)",
    );
    assert.equal(missing.stderr.split("\n").filter((l) => l.startsWith("error:")).length, 1);
    assert.ok(!(await topicNames()).includes(topics.readings), "nothing produced: not even the topic was created");

    // Registered by a run, then used as it is.
    assert.equal((await run()).code, 0);
    const used = await run(["--no-auto-register"]);
    assert.equal(used.code, 0, used.stderr);
    assert.match(used.stderr, new RegExp(`"${topics.readings}-value" id \\d+ \\(version 1\\)`));

    // A newer version without a field factory-sim writes.
    const reading = JSON.parse(SCHEMA_TEXTS.avro.reading);
    reading.fields = reading.fields.filter((f: { name: string }) => f.name !== "sodaName");
    await registerSchema(registry, `${topics.readings}-value`, JSON.stringify(reading));
    const misfit = await run(["--no-auto-register"]);
    assert.equal(misfit.code, 1);
    assert.match(
      misfit.stderr,
      new RegExp(
        `error: schema registry "[^"]+": subject "${topics.readings}-value" version 2 \\(id \\d+\\) does not fit ` +
          `what factory-sim writes for factorysim.v1.Reading: it has no field "sodaName"\n`,
      ),
    );
  } finally {
    for (const subject of subjectsOf(topics)) await deleteSubject(registry, subject);
  }
});

Deno.test("a schema the registry refuses as incompatible: one line with the registry's reason, exit 1, nothing produced", async () => {
  const topics = topicsOf("incompat");
  const subject = `${topics.readings}-value`;
  try {
    await registerSchema(
      registry,
      subject,
      JSON.stringify({ type: "record", name: "Reading", namespace: "other", fields: [{ name: "x", type: "int" }] }),
    );
    const config = await registryRequest(registry, "PUT", `/config/${subject}`, { compatibility: "BACKWARD" });
    assert.equal(config.status, 200);
    const run = await runFormat(topics, "avro", registry, ["--backfill=2025-11-01T00:00:00Z..2025-11-01T00:00:20Z"]);
    assert.equal(run.code, 1, run.stderr);
    const errors = run.stderr.split("\n").filter((l) => l.startsWith("error:"));
    assert.equal(errors.length, 1);
    assert.match(
      errors[0],
      new RegExp(
        `^error: schema registry "[^"]+": subject "${subject}": the avro schema of factorysim.v1.Reading was refused ` +
          "as incompatible with the subject's versions: .*Incompatible artifact.* \\(HTTP 409, error_code 409\\)$",
      ),
    );
    assert.ok(!(await topicNames()).includes(topics.readings));
  } finally {
    for (const subject of subjectsOf(topics)) await deleteSubject(registry, subject);
  }
});

Deno.test("a registry down at start: one line naming it, exit 1, before anything is produced", async () => {
  const topics = topicsOf("down");
  // A port nothing listens on (fetch refuses the well-known "bad ports" such as 1 outright).
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const down = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  const run = await runFormat(topics, "protobuf", down, ["--backfill=1m"]);
  assert.equal(run.code, 1, run.stderr);
  const errors = run.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.deepEqual(errors, [
    `error: schema registry "${down}": subject "${topics.readings}-value": cannot be reached: connection refused ` +
    "(is the registry running?)",
  ]);
  assert.ok(!(await topicNames()).includes(topics.readings));
});

Deno.test("a registry lost mid-run changes nothing: the ids were resolved at start", async () => {
  await withScratchRegistry(async (scratch) => {
    const topics = topicsOf("lost");
    const summaryFile = await Deno.makeTempFile({ suffix: ".json" });
    const sim = spawnCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      "--format=avro",
      `--schema-registry=${scratch.url}`,
      "--seed=5",
      "--speed=20",
      "--duration=80s",
      `--summary-json=${summaryFile}`,
      ...topics.flags,
    ], { flags: ["--no-prompt", "-A"] });
    const err = collect(sim.stderr);
    const out = collect(sim.stdout);
    await waitFor(() => /format avro, schema registry/.test(err.current), 30_000);
    await scratch.stop();
    const { code } = await sim.status;
    const stderr = await err.done;
    await out.done;
    assert.equal(code, 0, stderr);
    const ids = new Map([...stderr.matchAll(/"([^"]+)-value" id (\d+)/g)].map((m) => [m[1], Number(m[2])]));
    const produced = JSON.parse(await Deno.readTextFile(summaryFile)).topics as Record<string, number>;
    await Deno.remove(summaryFile);
    for (const topic of [topics.readings, topics.heartbeats]) {
      const records = await rawRecords(topic);
      assert.ok(records.length > 0);
      assert.equal(records.length, produced[topic]);
      // Decoded with the schema the run registered (the scratch registry and its ids are gone).
      const type = topic === topics.readings ? "reading" : "heartbeat";
      const codec = codecOf({ schemaType: "AVRO", schema: SCHEMA_TEXTS.avro[type], references: [] });
      for (const record of records) {
        const framed = unframe(record.value, false)!;
        assert.equal(framed.id, ids.get(topic));
        assert.equal((codec.decode(framed.body, []) as { sensorId: string }).sensorId, record.key);
      }
    }
  });
});

/** A CA and a certificate for 127.0.0.1 signed by it, made with openssl in `dir`. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const script = `set -e
cd "${dir}"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test registry CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
printf "subjectAltName=IP:127.0.0.1\\n" > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem 2>/dev/null`;
  const { success, stderr } = await new Deno.Command("bash", { args: ["-c", script], stderr: "piped" }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return { ca: `${dir}/ca.pem`, cert: `${dir}/server.pem`, key: `${dir}/server.key` };
}

Deno.test("a registry behind TLS and basic auth: the CA and the credentials from the environment, never printed", async () => {
  const dir = await Deno.makeTempDir();
  const { ca, cert, key } = await makeCertificates(dir);
  const passwordFile = `${dir}/password`;
  await Deno.writeTextFile(passwordFile, "s3cret-registry\n");
  // An https front with basic auth for the test's registry, as a managed registry would be.
  const seen: string[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
    onListen: () => {},
  }, async (request) => {
    const authorization = request.headers.get("authorization") ?? "";
    seen.push(authorization);
    if (authorization !== `Basic ${btoa("sim:s3cret-registry")}`) {
      return Response.json({ error_code: 401, message: "Unauthorized" }, { status: 401 });
    }
    const url = new URL(request.url);
    const upstream = await fetch(`${registry}${url.pathname.replace(/^\/apis\/ccompat\/v7/, "")}${url.search}`, {
      method: request.method,
      headers: { "content-type": request.headers.get("content-type") ?? "application/json" },
      body: request.method === "GET" ? undefined : await request.text(),
    });
    return new Response(await upstream.text(), { status: upstream.status, headers: upstream.headers });
  });
  const url = `https://127.0.0.1:${server.addr.port}/apis/ccompat/v7`;
  const topics = topicsOf("tls");
  const run = (env: Record<string, string>) =>
    runCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      "--format=json-schema",
      "--backfill=2025-11-01T00:00:00Z..2025-11-01T00:00:15Z",
      ...topics.flags,
    ], { env: { SCHEMA_REGISTRY_URL: url, ...env } });
  try {
    const ok = await run({
      SCHEMA_REGISTRY_USERNAME: "sim",
      SCHEMA_REGISTRY_PASSWORD_FILE: passwordFile,
      SCHEMA_REGISTRY_SSL_CA_LOCATION: ca,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(!ok.stderr.includes("s3cret"));
    assert.match(
      ok.stderr,
      new RegExp(
        `format json-schema, schema registry ${url.replace(/[/.]/g, "\\$&")}: "${topics.readings}-value" id \\d+`,
      ),
    );
    assert.ok(seen.length >= 3 && seen.every((header) => header === `Basic ${btoa("sim:s3cret-registry")}`));

    const wrong = await run({
      SCHEMA_REGISTRY_USERNAME: "sim",
      SCHEMA_REGISTRY_PASSWORD: "guess",
      SCHEMA_REGISTRY_SSL_CA_LOCATION: ca,
    });
    assert.equal(wrong.code, 1);
    assert.ok(!wrong.stderr.includes("guess"));
    assert.match(
      wrong.stderr,
      /error: schema registry "https:[^"]+": subject "[^"]+": registering the json-schema schema of factorysim.v1.Reading failed: Unauthorized \(HTTP 401, error_code 401\)\n/,
    );

    const untrusted = await run({ SCHEMA_REGISTRY_USERNAME: "sim", SCHEMA_REGISTRY_PASSWORD_FILE: passwordFile });
    assert.equal(untrusted.code, 1);
    assert.match(
      untrusted.stderr,
      /error: schema registry "https:[^"]+": subject "[^"]+": cannot be reached: TLS failed: .*\n/,
    );
  } finally {
    await server.shutdown();
    for (const subject of subjectsOf(topics)) await deleteSubject(registry, subject);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the monitor reads every format through the registry, fault labels too; what it cannot decode is counted invalid", async () => {
  const config = await tempConfig(CONFIG);
  await withTopicsCleaned(config, async () => {
    for (const format of FORMATS) {
      const topics = topicsOf(`mon-${format}`);
      try {
        const run = await runCli([
          `--config=${config.path}`,
          "--factories=2",
          `--seed=${SEED}`,
          `--backfill=${BACKFILL}`,
          "--sink=kafka",
          `--brokers=${BROKERS}`,
          `--format=${format}`,
          `--schema-registry=${registry}`,
          ...topics.flags,
        ]);
        assert.equal(run.code, 0, run.stderr);
        const produced = new Map(
          [...run.stderr.matchAll(/(\S+) (\d+)(?:,|\n)/g)].map((m) => [m[1].replace(/^"|"$/g, ""), Number(m[2])]),
        );
        const readings = produced.get(topics.readings)!, heartbeats = produced.get(topics.heartbeats)!;
        const labels = produced.get(topics.labels)!;
        assert.ok(readings > 0 && heartbeats > 0 && labels > 0, run.stderr);

        // A value framed with a schema id the registry does not have, and one cut short.
        const garbage = `${await Deno.makeTempFile()}`;
        await Deno.writeFile(garbage, new Uint8Array([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]));
        const produce = await new Deno.Command("kcat", {
          args: ["-b", BROKERS, "-P", "-t", topics.readings, "-k", "S9-9", garbage],
        }).output();
        assert.ok(produce.success);
        await Deno.remove(garbage);

        for (const withRegistry of [true, false]) {
          const monitor = spawnCli([
            "monitor",
            "--json",
            "--from-beginning",
            `--brokers=${BROKERS}`,
            `--readings-topic=${topics.readings}`,
            `--heartbeat-topic=${topics.heartbeats}`,
            `--labels-topic=${topics.labels}`,
            "--interval=200ms",
            ...(withRegistry ? [`--schema-registry=${registry}`] : []),
          ]);
          const out = collect(monitor.stdout);
          const err = collect(monitor.stderr);
          const last = () =>
            out.current.split("\n").filter((l) => l.startsWith('{"type":"snapshot"')).map((l) =>
              JSON.parse(l) as Snapshot
            ).at(-1);
          try {
            await waitFor(() => {
              const topic = last()?.topics[topics.readings];
              return topic !== undefined && topic.received === readings + 1;
            }, 30_000);
            await waitFor(() => last()?.topics[topics.heartbeats]?.received === heartbeats, 30_000);
            await waitFor(() => last()?.topics[topics.labels]?.received === labels, 30_000);
          } finally {
            monitor.kill("SIGINT");
          }
          const { code } = await monitor.status;
          const stderr = await err.done;
          await out.done;
          assert.equal(code, 0, stderr);
          const snapshot = last()!;
          if (withRegistry) {
            assert.equal(snapshot.topics[topics.readings].invalid, 1, `${format}: only the garbage is invalid`);
            assert.equal(snapshot.topics[topics.heartbeats].invalid, 0);
            assert.equal(snapshot.topics[topics.labels].invalid, 0, `${format}: the fault labels decode too`);
            // The backfill's faults all ended before it did.
            assert.deepEqual(snapshot.activeFaults, []);
            const lines = snapshot.factories.flatMap((f) => f.lines);
            assert.equal(lines.reduce((sum, line) => sum + line.received, 0), readings);
            assert.match(stderr, /schema id 2147483632 from "[^"]+": .*its records count as invalid/);
          } else {
            assert.equal(snapshot.topics[topics.readings].invalid, readings + 1);
            assert.match(
              stderr,
              /records carry schema ids .* but no --schema-registry was given: they count as invalid/,
            );
          }
        }
      } finally {
        for (const subject of subjectsOf(topics)) await deleteSubject(registry, subject);
      }
    }
  });
});

Deno.test("what an Avro run spooled while Kafka was down, the next run (a JSON one) sends exactly as it was", () =>
  withScratchBroker(async (broker, spoolDir) => {
    const topics = topicsOf("spooled");
    let registered: string[] = [];
    try {
      const run = await startRun(broker.brokers, {
        name: "spooled",
        args: [
          "--seed=23",
          "--speed=2",
          "--format=avro",
          `--schema-registry=${registry}`,
          `--labels-topic=${topics.labels}`,
        ],
        spoolDir,
      });
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await broker.stop();
      await waitFor(() => run.stderr.current.includes("spooling records to"), 10_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      run.child.kill("SIGTERM");
      const { code, log } = await finishRun(run);
      assert.equal(code, ExitCode.sigterm, log);
      const kept = Number(/kept (\d+) unsent records in the spool/.exec(log)?.[1]);
      assert.ok(kept > 0, log);
      const produced = /^info: stopped: (\d+) readings and (\d+) heartbeats/m.exec(log)!;
      const ids = new Map([...log.matchAll(/"([^"]+)-value" id (\d+)/g)].map((m) => [m[1], Number(m[2])]));
      registered = [...ids.keys()].map((topic) => `${topic}-value`);

      await broker.start();
      const next = await runCli([
        "--sink=kafka",
        `--brokers=${broker.brokers}`,
        "--factories=1",
        "--speed=100",
        `--readings-topic=${uniqueTopic("spooled.next.r")}`,
        `--heartbeat-topic=${uniqueTopic("spooled.next.h")}`,
      ], { spoolDir });
      assert.equal(next.code, ExitCode.ok, next.stderr);
      assert.match(next.stderr, new RegExp(`the spool holds ${kept} records from an earlier run: sending them first`));

      // Everything the Avro run produced, spooled or not, decodes through the registry with the ids
      // it resolved at start: each reading and heartbeat once.
      const records = await readThroughRegistry({
        brokers: broker.brokers,
        registry,
        topics: [run.readingsTopic, run.heartbeatTopic],
        expected: Number(produced[1]) + Number(produced[2]),
      });
      assert.deepEqual(records.filter((r) => r.error !== undefined), []);
      const readings = records.filter((r) => r.topic === run.readingsTopic);
      assert.equal(readings.length, Number(produced[1]));
      assert.equal(records.length - readings.length, Number(produced[2]));
      for (const record of records) assert.equal(record.schemaId, ids.get(record.topic));
      const seen = new Set(readings.map((r) => canonical("reading", r.key, r.value as Record<string, unknown>)));
      assert.equal(seen.size, readings.length, "no reading twice");
    } finally {
      for (const subject of registered) await deleteSubject(registry, subject);
    }
  }));

Deno.test("a run not allowed to reach the registry: the flag to grant, exit 3, nothing produced", async () => {
  const topics = topicsOf("denied");
  const spool = await Deno.makeTempDir();
  const registryHost = new URL(registry).host;
  try {
    const run = await runCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      "--format=avro",
      `--schema-registry=${registry}`,
      "--backfill=1m",
      `--spool-dir=${spool}`,
      ...topics.flags,
    ], { flags: ["--no-prompt", "--allow-read", `--allow-net=${BROKERS}`, `--allow-write=${spool}`, "--allow-env"] });
    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `error: missing permission: Requires net access to "${registryHost}": grant --allow-net=${registryHost}\n`,
      ),
    );
    assert.ok(!(await topicNames()).includes(topics.readings));
  } finally {
    await Deno.remove(spool, { recursive: true });
  }
});

Deno.test("a stop signal while the registry has not answered yet ends the run at once, nothing produced", async () => {
  // A registry that takes the connection and never answers.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  const topics = topicsOf("silent");
  try {
    const sim = spawnCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      "--format=avro",
      `--schema-registry=http://127.0.0.1:${(silent.addr as Deno.NetAddr).port}/apis/ccompat/v7`,
      "--backfill=1m",
      ...topics.flags,
    ]);
    const err = collect(sim.stderr);
    const out = collect(sim.stdout);
    await waitFor(() => held.length > 0, 10_000);
    const signalledAt = performance.now();
    sim.kill("SIGINT");
    const { code } = await sim.status;
    const seconds = (performance.now() - signalledAt) / 1000;
    const stderr = await err.done;
    assert.equal(await out.done, "");
    assert.equal(code, ExitCode.sigint, stderr);
    assert.ok(seconds < 2, `stopped in ${seconds} s`);
    assert.match(stderr, /stopped before the run started: nothing was produced/);
    assert.ok(!(await topicNames()).includes(topics.readings));
  } finally {
    silent.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});
