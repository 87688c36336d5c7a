import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { parseConfig } from "../lib/config.ts";
import { CONFIG_SCHEMA_FILE, configJsonSchema, configJsonSchemaText } from "../lib/config_schema.ts";
import { ConfigError } from "../lib/errors.ts";

Deno.test("the committed factory_config.schema.json is the one the config's zod schemas give", async () => {
  const committed = await Deno.readTextFile(new URL(`../${CONFIG_SCHEMA_FILE}`, import.meta.url));
  assert.equal(
    committed,
    configJsonSchemaText(),
    `${CONFIG_SCHEMA_FILE} is out of date: regenerate it with deno task schema`,
  );
  const schema = JSON.parse(committed);
  assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
  assert.equal(schema.title, "factory-sim factory_config.json");
  assert.ok(schema.properties.defaults.properties.signal, "defaults.signal");
  assert.ok(schema.properties.defaults.properties.faults, "defaults.faults");
  const line = schema.additionalProperties.items;
  assert.deepEqual(line.required, ["sodaName", "number", "sensorID"]);
  assert.ok(line.properties.signal.description && line.properties.faults.description);
});

const LINE = { sodaName: "Cola", number: 3, sensorID: "S1-1" };

/** Configs both validators accept. */
const VALID: [string, unknown][] = [
  ["lines of two factories", { F1: [LINE, { ...LINE, sensorID: "S1-2" }], F2: [{ ...LINE, sensorID: "S2-1" }] }],
  ["a factory without lines", { F1: [] }],
  ["an editor's $schema key", { $schema: "./factory_config.schema.json", F1: [LINE] }],
  ["defaults, signals and faults", {
    defaults: { signal: { type: "gaussian", setpoint: 50, sigma: 3 }, faults: [{ kind: "spike", perHour: 2 }] },
    F1: [
      { ...LINE, signal: { type: "sine", base: 20, amplitude: 5, period: "10m", noise: 0.5, decimals: 1 } },
      { ...LINE, signal: { type: "walk", setpoint: 5, volatility: 1, reversion: 0.1, min: 0, max: 10 } },
      { ...LINE, faults: [{ kind: "late", at: "30s", for: 60, lateBy: "5m" }, { kind: "dropout", at: 10 }] },
    ],
  }],
  ["an unknown field in a line (a run warns and ignores it)", { F1: [{ ...LINE, colour: "red" }] }],
];

/** Configs both validators refuse. */
const INVALID: [string, unknown][] = [
  ["a top level that is an array", []],
  ["a factory that is not an array", { F1: { sodaName: "x" } }],
  ["a line without number", { F1: [{ sodaName: "Cola", sensorID: "S1-1" }] }],
  ["a negative number", { F1: [{ ...LINE, number: -3 }] }],
  ["a fractional number", { F1: [{ ...LINE, number: 1.5 }] }],
  ["an empty sodaName", { F1: [{ ...LINE, sodaName: "" }] }],
  ["a sensorID that is not a string", { F1: [{ ...LINE, sensorID: 7 }] }],
  ["an unknown signal type", { F1: [{ ...LINE, signal: { type: "square" } }] }],
  ["a gaussian signal without sigma", { F1: [{ ...LINE, signal: { type: "gaussian", setpoint: 1 } }] }],
  ["an unknown signal field", { F1: [{ ...LINE, signal: { type: "uniform", colour: 1 } }] }],
  ["decimals above 6", { F1: [{ ...LINE, signal: { type: "uniform", decimals: 7 } }] }],
  ["a period that is not a duration", {
    F1: [{ ...LINE, signal: { type: "sine", base: 1, amplitude: 1, period: "10 minutes" } }],
  }],
  ["an unknown fault kind", { F1: [{ ...LINE, faults: [{ kind: "fire", at: 1 }] }] }],
  ["a fault with neither at nor perHour", { F1: [{ ...LINE, faults: [{ kind: "spike" }] }] }],
  ["a fault with both at and perHour", { F1: [{ ...LINE, faults: [{ kind: "spike", at: 1, perHour: 1 }] }] }],
  ["a fault lasting a negative time", { F1: [{ ...LINE, faults: [{ kind: "stuck", at: 1, for: -5 }] }] }],
  ["a fault with an unknown field", { F1: [{ ...LINE, faults: [{ kind: "spike", at: 1, size: 3 }] }] }],
  ["defaults with an unknown field", { defaults: { number: 3 }, F1: [LINE] }],
  ["a $schema that is not a string", { $schema: 3, F1: [LINE] }],
];

/** Rules across fields that JSON Schema does not express: only the validator refuses these. */
const VALIDATOR_ONLY: [string, unknown][] = [
  ["a signal range with min above max", { F1: [{ ...LINE, signal: { type: "uniform", min: 10, max: 5 } }] }],
];

/** Ajv in strict mode (no unknown keywords, no ignored ones); `required` in a `oneOf` branch names
 * properties defined beside it, the standard way to say "at or perHour", which strictRequired flags. */
function schemaValidator() {
  return new Ajv({ strict: true, strictRequired: false, allErrors: true }).compile(configJsonSchema());
}

function zodAccepts(config: unknown): boolean {
  try {
    parseConfig(new TextEncoder().encode(JSON.stringify(config)), "factory_config.json");
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return false;
    throw error;
  }
}

Deno.test("the JSON Schema and the validator agree on a corpus of configs", async (t) => {
  const schemaAccepts = schemaValidator();
  for (const [name, config] of VALID) {
    await t.step(`both accept ${name}`, () => {
      assert.ok(zodAccepts(config), "the validator refuses it");
      assert.ok(schemaAccepts(config), `the schema refuses it: ${JSON.stringify(schemaAccepts.errors)}`);
    });
  }
  for (const [name, config] of INVALID) {
    await t.step(`both refuse ${name}`, () => {
      assert.ok(!zodAccepts(config), "the validator accepts it");
      assert.ok(!schemaAccepts(config), "the schema accepts it");
    });
  }
  for (const [name, config] of VALIDATOR_ONLY) {
    await t.step(`only the validator refuses ${name}`, () => {
      assert.ok(!zodAccepts(config), "the validator accepts it");
      assert.ok(schemaAccepts(config), "the schema refuses it: move it to INVALID");
    });
  }
});

Deno.test("the shipped sample config passes the JSON Schema", async () => {
  const sample = JSON.parse(await Deno.readTextFile(new URL("../factory_config.json", import.meta.url)));
  const schemaAccepts = schemaValidator();
  assert.ok(schemaAccepts(sample), JSON.stringify(schemaAccepts.errors));
});
