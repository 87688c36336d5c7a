/**
 * The JSON Schema of `factory_config.json`, for editors (completion, checks as you type). It is
 * generated from the zod schemas that validate a config, so the two cannot drift apart:
 * `deno task schema` writes it, and tests/config_schema_test.ts fails when the committed file
 * differs from what the schemas give.
 *
 * What JSON Schema cannot say stays with `factory-sim validate`: a signal's min below its max and
 * an integer between them (rules across fields), durations written as text beyond their bound,
 * nesting depth, the reserved keys (__proto__, constructor, prototype), and everything that depends
 * on the plant (a sensor the factory has, a factory that is simulated). Unknown fields in a line are
 * allowed (a run warns and ignores them), as are unknown top-level keys (a run takes every key
 * but `defaults` and `$schema` for a factory id).
 */
import { z } from "zod";
import { DEFAULTS_KEY, defaultsSchema, factoryLinesSchema, SCHEMA_KEY } from "./config.ts";

/** Where the schema is committed, at the repository root. */
export const CONFIG_SCHEMA_FILE = "factory_config.schema.json";

/** The JSON Schema (draft-07, which editors support best) of a config file. */
export function configJsonSchema(): Record<string, unknown> {
  const file = z.object({
    [SCHEMA_KEY]: z.string().meta({
      description: `The JSON Schema of this file, for editors (e.g. "./${CONFIG_SCHEMA_FILE}"); factory-sim ignores it`,
    }).optional(),
    [DEFAULTS_KEY]: defaultsSchema.optional(),
  }).catchall(factoryLinesSchema).meta({
    title: "factory-sim factory_config.json",
    description: "Production lines per factory: each key but defaults and $schema is a factory id (F1, F2, ...) " +
      "mapped to its lines. Check a file with: factory-sim validate PATH",
  });
  return z.toJSONSchema(file, { target: "draft-07", io: "input" }) as Record<string, unknown>;
}

/** The text of `factory_config.schema.json`: the schema as formatted JSON, ending with a newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
