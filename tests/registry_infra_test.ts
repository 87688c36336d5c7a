/**
 * The test loop's Schema Registry and its independent reader, before any product code uses them:
 * the local Apicurio Registry answers the Confluent-compatible API, a record of each format written
 * by confluent-kafka's own serializers reads back field by field through the registry, a value
 * that is not framed is reported as undecodable, and a registry of a test's own refuses an
 * incompatible schema and stops.
 */
import assert from "node:assert/strict";
import { BROKERS, ensureBroker, uniqueTopic } from "./_kafka.ts";
import {
  deleteSubject,
  ensureRegistry,
  registerSchema,
  REGISTRY_SCRATCH_PORT,
  registryAnswers,
  registryRequest,
  withScratchRegistry,
} from "./_registry.ts";
import { produceThroughRegistry, readThroughRegistry } from "./_sr_reader.ts";

const AVRO = JSON.stringify({
  type: "record",
  name: "Reading",
  namespace: "test.registry",
  fields: [
    { name: "sensor_id", type: "string" },
    { name: "reading", type: "int" },
    { name: "unit", type: ["null", "string"], default: null },
    { name: "timestamp", type: { type: "long", logicalType: "timestamp-millis" } },
  ],
});

const PROTO = `syntax = "proto3";
package test.registry;
import "google/protobuf/timestamp.proto";
message Reading {
  string sensor_id = 1;
  int64 reading = 2;
  google.protobuf.Timestamp timestamp = 3;
  bool fault = 4;
}
`;

const JSON_SCHEMA = JSON.stringify({
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  properties: {
    sensor_id: { type: "string" },
    reading: { type: "number" },
    timestamp: { type: "string", format: "date-time" },
  },
  required: ["sensor_id", "reading", "timestamp"],
  additionalProperties: false,
});

const TIMESTAMP_MS = Date.UTC(2026, 10, 30, 5, 36, 41, 123);
const TIMESTAMP = new Date(TIMESTAMP_MS).toISOString(); // 2026-11-30T05:36:41.123Z

Deno.test("the local registry answers the Confluent-compatible API", async () => {
  const registry = await ensureRegistry();
  assert.ok(await registryAnswers(registry));
  const types = await registryRequest(registry, "GET", "/schemas/types");
  assert.equal(types.status, 200);
  assert.deepEqual([...(types.body as string[])].sort(), ["AVRO", "JSON", "PROTOBUF"]);
});

Deno.test("a record of each format, written by confluent-kafka's serializers, reads back field by field through the registry", async () => {
  const [registry] = await Promise.all([ensureRegistry(), ensureBroker()]);
  const topic = { avro: uniqueTopic("sr-avro"), proto: uniqueTopic("sr-proto"), json: uniqueTopic("sr-json") };
  const subjects = Object.values(topic).map((t) => `${t}-value`);
  try {
    const ids = {
      avro: await registerSchema(registry, `${topic.avro}-value`, AVRO),
      proto: await registerSchema(registry, `${topic.proto}-value`, PROTO, "PROTOBUF"),
      json: await registerSchema(registry, `${topic.json}-value`, JSON_SCHEMA, "JSON"),
    };
    await produceThroughRegistry({
      registry,
      records: [
        {
          topic: topic.avro,
          format: "AVRO",
          schema: AVRO,
          key: "F1-S1",
          value: { sensor_id: "F1-S1", reading: -17, unit: "C", timestamp: TIMESTAMP_MS },
        },
        {
          topic: topic.proto,
          format: "PROTOBUF",
          schema: PROTO,
          key: "F1-S2",
          value: { sensor_id: "F1-S2", reading: "9007199254740993", timestamp: TIMESTAMP },
        },
        {
          topic: topic.json,
          format: "JSON",
          schema: JSON_SCHEMA,
          key: "F1-S3",
          value: { sensor_id: "F1-S3", reading: 20.5, timestamp: TIMESTAMP },
        },
      ],
    });
    // A value without the framing beside the framed one, as a schemaless producer writes it.
    await produceRaw(topic.json, "F1-S4", JSON.stringify({ sensor_id: "F1-S4", reading: 1 }));

    const records = await readThroughRegistry({ registry, topics: Object.values(topic), expected: 4 });
    assert.equal(records.length, 4);
    const byKey = new Map(records.map((record) => [record.key, record]));

    const avro = byKey.get("F1-S1")!;
    assert.equal(avro.topic, topic.avro);
    assert.equal(avro.schemaId, ids.avro);
    assert.equal(avro.schemaType, "AVRO");
    // timestamp-millis comes back as a datetime, printed as RFC 3339 with ms and Z.
    assert.deepEqual(avro.value, { sensor_id: "F1-S1", reading: -17, unit: "C", timestamp: TIMESTAMP });

    const proto = byKey.get("F1-S2")!;
    assert.equal(proto.topic, topic.proto);
    assert.equal(proto.schemaId, ids.proto);
    assert.equal(proto.schemaType, "PROTOBUF");
    // MessageToDict: field names as in the .proto, defaults included, int64 as a string (no precision lost).
    assert.deepEqual(proto.value, {
      sensor_id: "F1-S2",
      reading: "9007199254740993",
      timestamp: TIMESTAMP,
      fault: false,
    });

    const json = byKey.get("F1-S3")!;
    assert.equal(json.topic, topic.json);
    assert.equal(json.schemaId, ids.json);
    assert.equal(json.schemaType, "JSON");
    assert.deepEqual(json.value, { sensor_id: "F1-S3", reading: 20.5, timestamp: TIMESTAMP });

    const plain = byKey.get("F1-S4")!;
    assert.equal(plain.topic, topic.json);
    assert.equal(plain.value, undefined);
    assert.equal(plain.schemaId, null);
    assert.match(plain.error ?? "", /not in the Confluent wire format .*starts with 0x7b/);
  } finally {
    for (const subject of subjects) await deleteSubject(registry, subject);
  }
  const left = (await registryRequest(registry, "GET", "/subjects")).body as string[];
  assert.ok(subjects.every((subject) => !left.includes(subject)), "subjects deleted");
});

Deno.test("a registry of the test's own: BACKWARD refuses an incompatible schema with 409, then it stops", async () => {
  await withScratchRegistry(async ({ url }) => {
    // Compatibility is NONE out of the box; a subject's own setting turns checking on.
    assert.deepEqual((await registryRequest(url, "GET", "/config")).body, { compatibilityLevel: "NONE" });
    const subject = "sensor-readings-value";
    await registerSchema(url, subject, AVRO);
    const put = await registryRequest(url, "PUT", `/config/${subject}`, { compatibility: "BACKWARD" });
    assert.equal(put.status, 200);
    const changed = JSON.stringify({
      type: "record",
      name: "Reading",
      namespace: "test.registry",
      fields: [{ name: "sensor_id", type: "int" }],
    });
    const refused = await registryRequest(url, "POST", `/subjects/${subject}/versions`, { schema: changed });
    assert.equal(refused.status, 409);
    const body = refused.body as { error_code: number; message: string };
    assert.equal(body.error_code, 409);
    assert.match(body.message, /Incompatible artifact: sensor-readings-value \[AVRO\]/);
    const missing = await registryRequest(url, "GET", "/subjects/no-such-value/versions/latest");
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { error_code: number }).error_code, 40401);
  });
  assert.equal(await registryAnswers(`http://127.0.0.1:${REGISTRY_SCRATCH_PORT}/apis/ccompat/v7`), false, "stopped");
});

/** Writes one record as it is (no framing) with kcat. */
async function produceRaw(topic: string, key: string, value: string): Promise<void> {
  const child = new Deno.Command("kcat", {
    args: ["-P", "-b", BROKERS, "-t", topic, "-k", key],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(value));
  await writer.close();
  const { success, stderr } = await child.output();
  if (!success) throw new Error(`kcat could not write to ${topic}: ${new TextDecoder().decode(stderr)}`);
}
