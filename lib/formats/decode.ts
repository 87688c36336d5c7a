/**
 * The monitor's side of the formats: a record's value back to the JSON contract's shape, whatever
 * format it was written in. A value in the Confluent wire format (a zero byte first, which JSON
 * text never has) is decoded with the schema its id names, fetched from the registry once and
 * cached; anything else is read as JSON text. A value that cannot be decoded is `undefined` (the
 * monitor counts it invalid), never an exception.
 */
import type { Buffer } from "node:buffer";
import { describeError } from "../errors.ts";
import { log } from "../log.ts";
import { quoted, shown } from "../text.ts";
import type { RegistryAccess } from "./access.ts";
import { type Codec, codecOf, unframe } from "./codec.ts";
import { isFramed } from "./format.ts";
import { RegistryError, SchemaRegistry } from "./registry.ts";

/** How long a schema id the registry could not give is not asked for again. */
export const RETRY_FAILED_ID_MS = 10_000;

/** Decodes record values; one per monitor. */
export class ValueDecoder {
  readonly #registry: SchemaRegistry | undefined;
  readonly #codecs = new Map<number, Promise<{ codec: Codec; protobuf: boolean }>>();
  readonly #failedAt = new Map<number, number>();
  readonly #now: () => number;
  #warnedNoRegistry = false;

  constructor(access: RegistryAccess | undefined, { now = Date.now }: { now?: () => number } = {}) {
    this.#registry = access === undefined ? undefined : new SchemaRegistry(access);
    this.#now = now;
  }

  /** The value of `bytes` in the contract's shape; undefined when it cannot be decoded. */
  async decode(bytes: Buffer | null): Promise<unknown> {
    if (bytes === null) return undefined;
    if (!isFramed(bytes)) {
      try {
        return JSON.parse(bytes.toString("utf8"));
      } catch {
        return undefined;
      }
    }
    if (bytes.length < 5) return undefined;
    const id = bytes.readUInt32BE(1);
    const schema = await this.#codec(id);
    if (schema === undefined) return undefined;
    try {
      const { indexes, body } = unframe(bytes, schema.protobuf)!;
      return schema.codec.decode(body, indexes);
    } catch {
      return undefined;
    }
  }

  /** Frees the registry client. */
  close(): void {
    this.#registry?.close();
  }

  async #codec(id: number): Promise<{ codec: Codec; protobuf: boolean } | undefined> {
    const registry = this.#registry;
    if (registry === undefined) {
      if (!this.#warnedNoRegistry) {
        this.#warnedNoRegistry = true;
        log("monitor").warn(
          "records carry schema ids (Avro, Protobuf or JSON Schema) but no --schema-registry was given: they count as invalid",
        );
      }
      return undefined;
    }
    const failedAt = this.#failedAt.get(id);
    if (failedAt !== undefined && this.#now() - failedAt < RETRY_FAILED_ID_MS) return undefined;
    let entry = this.#codecs.get(id);
    if (entry === undefined) {
      entry = (async () => {
        const schema = await registry.byId(id);
        const referenced = await registry.referencedSchemas(schema);
        return { codec: codecOf(schema, referenced), protobuf: schema.schemaType === "PROTOBUF" };
      })();
      this.#codecs.set(id, entry);
    }
    try {
      const codec = await entry;
      this.#failedAt.delete(id);
      return codec;
    } catch (error) {
      this.#codecs.delete(id);
      if (!this.#failedAt.has(id)) {
        const reason = error instanceof RegistryError ? error.describe() : shown(describeError(error));
        log("monitor").warn(`schema id ${id} from ${quoted(registry.url)}: ${reason}; its records count as invalid`);
      }
      this.#failedAt.set(id, this.#now());
      return undefined;
    }
  }
}
