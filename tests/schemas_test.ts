/**
 * The schema files in schemas/ agree with the JSON contract: the same fields in the same order for
 * each record type and format, each documented, of the mapped types; and every value of a run with
 * signals, decimals and faults fits each schema and comes back from each codec equal, field by field,
 * to its JSON value.
 */
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import type { FactoryConfig } from "../lib/config.ts";
import { codecOf, unframe } from "../lib/formats/codec.ts";
import { RECORD_NAMES, RECORD_TYPES, type RecordType, SCHEMA_TYPES } from "../lib/formats/format.ts";
import { SCHEMA_FILES, SCHEMA_TEXTS } from "../lib/formats/schemas.ts";
import { contractHeartbeat, contractLabel, contractReading } from "../lib/formats/setup.ts";
import { heartbeatValue, labelValue, readingValue } from "../lib/messages.ts";
import type { SimEvent } from "../lib/simulation.ts";
import { plantOf, runVirtual } from "./_helpers.ts";

/** A plant whose run has integer and decimal readings, every fault kind's labels, and heartbeats. */
const CONFIG: FactoryConfig = {
  F1: [
    { sodaName: "Cola", number: 40, sensorID: "S1-1" },
    {
      sodaName: 'Ünïcode "quoted" soda',
      number: 40,
      sensorID: "S1-2",
      signal: { type: "gaussian", setpoint: 50, sigma: 3, decimals: 6 },
      faults: [
        { kind: "spike", at: "5s", for: "10s", magnitude: 30 },
        { kind: "stuck", at: "30s", for: "20s" },
        { kind: "offline", at: "60s", for: "10s" },
        { kind: "late", at: "80s", for: "10s", lateBy: "5m" },
      ],
    },
  ],
};

const { events } = await runVirtual(plantOf(CONFIG, { seed: 11, factoryCount: 2 }), { seed: 11 });

/** Each event as the JSON format writes it, and in the codecs' contract shape. */
function forms(event: SimEvent): { type: RecordType; json: string; contract: Record<string, string | number> } {
  switch (event.kind) {
    case "reading":
      return { type: "reading", json: readingValue(event), contract: contractReading(event) };
    case "heartbeat":
      return { type: "heartbeat", json: heartbeatValue(event), contract: contractHeartbeat(event) };
    case "label":
      return { type: "label", json: labelValue(event), contract: contractLabel(event) };
  }
}

const byType = new Map<RecordType, SimEvent>();
for (const event of events) if (!byType.has(forms(event).type)) byType.set(forms(event).type, event);

Deno.test("the run behind these tests has every record type, decimals and labels", () => {
  assert.deepEqual([...byType.keys()].sort(), ["heartbeat", "label", "reading"]);
  assert.ok(events.some((e) => e.kind === "reading" && !Number.isInteger(e.reading)));
  assert.ok(events.some((e) => e.kind === "reading" && Number.isInteger(e.reading)));
});

/** The contract's field names of a record type, in order: those of its JSON value. */
function contractFields(type: RecordType): string[] {
  return Object.keys(JSON.parse(forms(byType.get(type)!).json));
}

for (const type of RECORD_TYPES) {
  Deno.test(`${type}: the Avro schema has the contract's fields, in order, documented, mapped`, () => {
    const schema = JSON.parse(SCHEMA_TEXTS.avro[type]);
    assert.equal(`${schema.namespace}.${schema.name}`, RECORD_NAMES[type]);
    assert.ok(schema.doc.length > 20);
    assert.deepEqual(schema.fields.map((f: { name: string }) => f.name), contractFields(type));
    for (const field of schema.fields) {
      assert.ok(typeof field.doc === "string" && field.doc.length > 5, `${field.name} has a doc`);
      const json = JSON.parse(forms(byType.get(type)!).json)[field.name];
      const expected = field.name === "timestamp"
        ? { type: "long", logicalType: "timestamp-millis" }
        : typeof json === "string"
        ? "string"
        : field.name === "reading"
        ? "double"
        : "long";
      assert.deepEqual(field.type, expected, field.name);
    }
  });

  Deno.test(`${type}: the Protobuf schema has the contract's fields, in order, documented, mapped`, () => {
    const text = SCHEMA_TEXTS.protobuf[type];
    assert.match(text, /^syntax = "proto3";$/m);
    assert.match(text, /^package factorysim\.v1;$/m);
    const message = new RegExp(`^message ${RECORD_NAMES[type].split(".").pop()} \\{$`, "m");
    assert.match(text, message);
    const lines = text.split("\n");
    const fields: string[] = [];
    lines.forEach((line, i) => {
      const field = /^ {2}(\S+) (\w+) = (\d+);$/.exec(line);
      if (!field) return;
      const [, kind, name, number] = field;
      assert.equal(Number(number), fields.length + 1, `${name} is numbered in order`);
      assert.match(lines[i - 1], /^ {2}\/\/ \S/, `${name} has a comment`);
      const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      fields.push(camel);
      const json = JSON.parse(forms(byType.get(type)!).json)[camel];
      const expected = camel === "timestamp"
        ? "google.protobuf.Timestamp"
        : typeof json === "string"
        ? "string"
        : camel === "reading"
        ? "double"
        : "int64";
      assert.equal(kind, expected, name);
    });
    assert.deepEqual(fields, contractFields(type));
  });

  Deno.test(`${type}: the JSON Schema has the contract's fields, in order, documented, required, closed`, () => {
    const schema = JSON.parse(SCHEMA_TEXTS["json-schema"][type]);
    assert.equal(schema.title, RECORD_NAMES[type]);
    assert.deepEqual(Object.keys(schema.properties), contractFields(type));
    assert.deepEqual(schema.required, contractFields(type));
    assert.equal(schema.additionalProperties, false);
    for (const [name, property] of Object.entries(schema.properties as Record<string, { description?: string }>)) {
      assert.ok((property.description ?? "").length > 5, `${name} has a description`);
    }
  });
}

Deno.test("the files are where SCHEMA_FILES says, and are what the program embeds", async () => {
  for (const format of ["avro", "protobuf", "json-schema"] as const) {
    for (const type of RECORD_TYPES) {
      const text = await Deno.readTextFile(new URL(`../${SCHEMA_FILES[format][type]}`, import.meta.url));
      assert.equal(text, SCHEMA_TEXTS[format][type]);
    }
  }
});

Deno.test("every JSON value of the run is valid against its JSON Schema", () => {
  const ajv = new Ajv({ strict: true, allErrors: true });
  // RFC 3339 as Date.parse reads it (the schemas' own pattern narrows it to the contract's form).
  ajv.addFormat("date-time", (text: string) => !Number.isNaN(Date.parse(text)));
  const validators = Object.fromEntries(
    RECORD_TYPES.map((type) => [type, ajv.compile(JSON.parse(SCHEMA_TEXTS["json-schema"][type]))]),
  );
  for (const event of events) {
    const { type, json } = forms(event);
    const validate = validators[type];
    assert.ok(validate(JSON.parse(json)), `${json}: ${JSON.stringify(validate.errors)}`);
  }
});

for (const format of ["avro", "protobuf"] as const) {
  Deno.test(`every value of the run goes through ${format} and back equal to its JSON value`, () => {
    let checked = 0;
    for (const type of RECORD_TYPES) {
      const codec = codecOf({ schemaType: SCHEMA_TYPES[format], schema: SCHEMA_TEXTS[format][type], references: [] });
      const encode = codec.encoder(1234);
      for (const event of events) {
        const { type: its, json, contract } = forms(event);
        if (its !== type) continue;
        const bytes = encode(contract);
        const framed = unframe(bytes, format === "protobuf")!;
        assert.equal(framed.id, 1234);
        assert.deepEqual(codec.decode(framed.body, framed.indexes), JSON.parse(json));
        checked++;
      }
    }
    assert.equal(checked, events.length);
  });
}
