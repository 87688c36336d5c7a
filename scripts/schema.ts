/** Writes factory_config.schema.json from the zod schemas of the config (`deno task schema`). */
import { CONFIG_SCHEMA_FILE, configJsonSchemaText } from "../lib/config_schema.ts";

await Deno.writeTextFile(new URL(`../${CONFIG_SCHEMA_FILE}`, import.meta.url), configJsonSchemaText());
