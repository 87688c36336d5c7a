/**
 * --no-auto-register's fit check (lib/formats/setup.ts misfitOf): which registered schemas can carry
 * what factory-sim writes, and that values written with such a schema read back right. No registry
 * needed: the schemas are given as the registry would hand them over.
 */
import assert from "node:assert/strict";
import { codecOf, unframe } from "../lib/formats/codec.ts";
import { SCHEMA_TEXTS } from "../lib/formats/schemas.ts";
import { contractReading, misfitOf, prepareFormat } from "../lib/formats/setup.ts";
import type { Reading } from "../lib/simulation.ts";

const READING: Reading = {
  kind: "reading",
  factoryId: "F1",
  sensorId: "S1-1",
  tier: "1.1",
  sodaName: "Cola",
  reading: 12.5,
  count: 3,
  total: 9,
  timeMs: Date.UTC(2025, 10, 1, 0, 0, 1, 250),
};

function avroReading(change: (fields: { name: string; type: unknown; default?: unknown }[]) => void): string {
  const schema = JSON.parse(SCHEMA_TEXTS.avro.reading);
  change(schema.fields);
  return JSON.stringify(schema);
}

function avroMisfit(text: string): string | undefined {
  return misfitOf("avro", "reading", codecOf({ schemaType: "AVRO", schema: text, references: [] }), text);
}

Deno.test("Avro: factory-sim's own schema fits; so does one with an extra field that has a default", () => {
  assert.equal(avroMisfit(SCHEMA_TEXTS.avro.reading), undefined);
  const extra = avroReading((fields) => fields.push({ name: "line", type: "string", default: "unknown" }));
  assert.equal(avroMisfit(extra), undefined);
  // Written with that schema, the extra field reads back as its default.
  const codec = codecOf({ schemaType: "AVRO", schema: extra, references: [] });
  const bytes = codec.encoder(42)(contractReading(READING));
  const framed = unframe(bytes, false)!;
  assert.equal(framed.id, 42);
  assert.deepEqual(codec.decode(framed.body, []), {
    factoryId: "F1",
    sensorId: "S1-1",
    tier: "1.1",
    sodaName: "Cola",
    reading: 12.5,
    count: 3,
    total: 9,
    timestamp: "2025-11-01T00:00:01.250Z",
    line: "unknown",
  });
});

Deno.test("Avro: a missing field, another type, or a required field factory-sim does not write does not fit", () => {
  assert.equal(
    avroMisfit(avroReading((fields) => fields.splice(fields.findIndex((f) => f.name === "tier"), 1))),
    'it has no field "tier"',
  );
  assert.equal(
    avroMisfit(avroReading((fields) => fields.find((f) => f.name === "count")!.type = "string")),
    'its field "count" is a string, factory-sim writes an integer',
  );
  assert.equal(
    avroMisfit(avroReading((fields) => fields.find((f) => f.name === "timestamp")!.type = "string")),
    'its field "timestamp" is a string, factory-sim writes a timestamp',
  );
  assert.equal(
    avroMisfit(avroReading((fields) => fields.push({ name: "line", type: "string" }))),
    'its field "line" has no default, and factory-sim does not write it',
  );
  assert.equal(avroMisfit('"string"'), "it is not a record (message) schema");
});

function protoMisfit(text: string): string | undefined {
  return misfitOf("protobuf", "reading", codecOf({ schemaType: "PROTOBUF", schema: text, references: [] }), text);
}

Deno.test("Protobuf: other field numbers and extra fields fit and read back; a missing or retyped field does not", () => {
  const renumbered = SCHEMA_TEXTS.protobuf.reading.replace(/= (\d+);/g, (_, n: string) => `= ${Number(n) + 10};`)
    .replace("message Reading {", "message Reading {\n  string plant = 1;");
  assert.equal(protoMisfit(renumbered), undefined);
  const codec = codecOf({ schemaType: "PROTOBUF", schema: renumbered, references: [] });
  const framed = unframe(codec.encoder(7)(contractReading(READING)), true)!;
  assert.deepEqual(framed.indexes, [0]);
  assert.equal((codec.decode(framed.body, framed.indexes) as { sodaName: string }).sodaName, "Cola");

  assert.equal(
    protoMisfit(SCHEMA_TEXTS.protobuf.reading.replace(/^ {2}string soda_name = 4;$/m, "")),
    'it has no field "soda_name"',
  );
  assert.equal(
    protoMisfit(SCHEMA_TEXTS.protobuf.reading.replace("double reading = 5;", "string reading = 5;")),
    'its field "reading" is a string, factory-sim writes a double',
  );
});

Deno.test("JSON Schema: a schema that refuses the contract's value does not fit, and says where", () => {
  const misfit = (schema: unknown) =>
    misfitOf(
      "json-schema",
      "reading",
      codecOf({ schemaType: "JSON", schema: "", references: [] }),
      JSON.stringify(schema),
    );
  assert.equal(misfit(JSON.parse(SCHEMA_TEXTS["json-schema"].reading)), undefined);
  assert.equal(misfit({ type: "object" }), undefined);
  assert.equal(
    misfit({ type: "object", properties: { reading: { type: "integer" } } }),
    "/reading must be integer",
  );
  assert.equal(
    misfit({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", required: ["plant"] }),
    "the value must have required property 'plant'",
  );
  assert.match(
    misfitOf("json-schema", "reading", codecOf({ schemaType: "JSON", schema: "", references: [] }), "{not json")!,
    /it is not JSON/,
  );
});

Deno.test("a subject another run is creating at the same moment (409 already exists) is asked again, not refused", async () => {
  // A registry that refuses the first registration as Apicurio refuses the loser of a race.
  let posts = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    if (request.method !== "POST") return new Response("{}", { status: 404 });
    posts++;
    return posts === 1
      ? Response.json({ error_code: 409, message: "An artifact with ID 'R-value' in group 'null' already exists." }, {
        status: 409,
      })
      : Response.json({ id: 77 });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const prepared = await prepareFormat(
      { format: "avro", access: { url }, autoRegister: true, subjectStrategy: "topic" },
      { readings: "R", heartbeats: "H" },
    );
    assert.deepEqual(prepared.subjects.map((s) => [s.subject, s.id]), [["R-value", 77], ["H-value", 77]]);
    assert.equal(posts, 3);
  } finally {
    await server.shutdown();
  }
});

Deno.test("an incompatible schema (409 without already exists) is refused at once, with the registry's reason", async () => {
  let posts = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    posts++;
    return Response.json({ error_code: 409, message: "Incompatible artifact: R-value [AVRO]" }, { status: 409 });
  });
  try {
    const error = await prepareFormat(
      {
        format: "avro",
        access: { url: `http://127.0.0.1:${server.addr.port}` },
        autoRegister: true,
        subjectStrategy: "topic",
      },
      { readings: "R", heartbeats: "H" },
    ).catch((e) => e);
    assert.match(
      String(error.message),
      /refused as incompatible .*: Incompatible artifact: R-value \[AVRO\] \(HTTP 409, error_code 409\)$/,
    );
    assert.equal(posts, 1);
  } finally {
    await server.shutdown();
  }
});
