/**
 * The codecs of the registry formats: a schema as the registry holds it turned into a function from
 * a value in the JSON contract's shape to the encoded bytes and back, and the Confluent wire format
 * around them (a zero byte, the schema id in 4 bytes big-endian, for Protobuf the message indexes,
 * then the value). Pure JavaScript (avsc, protobufjs, the JSON text itself): it runs inside
 * `deno compile`.
 *
 * How the contract's fields map (schemas/README.md): `timestamp` is Avro `timestamp-millis` (a long),
 * Protobuf `google.protobuf.Timestamp`, JSON Schema the RFC 3339 text; `reading` is a double;
 * `count` and `total` are Avro `long`, Protobuf `int64`, JSON Schema integers.
 */
import { Buffer } from "node:buffer";
import avro from "avsc";
import protobuf from "protobufjs";
import { formatTimestamp } from "../timestamps.ts";
import { MAGIC_BYTE } from "./format.ts";
import type { RegistrySchema } from "./registry.ts";

/** The magic byte and the schema id. */
export const PREFIX_BYTES = 5;

/** A value in the contract's shape: field names as in the JSON format, `timestamp` in epoch ms. */
export type ContractValue = Record<string, string | number>;

/** Encodes a contract-shaped value to the bytes of a record's value, framed (it may change `value`). */
export type Encode = (value: ContractValue) => Buffer;

/** One schema's codec. */
export interface Codec {
  /** The value's bytes in the wire format, with schema id `id`. */
  encoder(id: number): Encode;
  /** A framed value's bytes after the prefix (and the message indexes) back to the contract's shape. */
  decode(body: Uint8Array, indexes: readonly number[]): Record<string, unknown>;
  /** The names of the fields this schema has (of the message `message` for Protobuf), with their kinds. */
  fields(message?: string): Map<string, FieldKind> | undefined;
  /** Checks `value` against the schema; the problem in a few words, or undefined when it fits. */
  check(value: ContractValue, message?: string): string | undefined;
}

/** A field's kind, as far as fitting the contract goes. */
export type FieldKind = "string" | "double" | "integer" | "timestamp" | "other";

/** The codec of a registry schema; `referenced` holds the texts of the schemas it references. */
export function codecOf(schema: RegistrySchema, referenced: readonly string[] = []): Codec {
  switch (schema.schemaType) {
    case "AVRO":
      return avroCodec(schema.schema, referenced);
    case "PROTOBUF":
      return protobufCodec(schema.schema, referenced);
    case "JSON":
      return jsonSchemaCodec();
  }
}

/** The wire-format prefix: magic byte and schema id. */
function prefix(id: number): Buffer {
  const head = Buffer.alloc(PREFIX_BYTES);
  head[0] = MAGIC_BYTE;
  head.writeUInt32BE(id, 1);
  return head;
}

/** Text (the contract's JSON) framed with schema id `id`: the bytes of a JSON Schema value. */
export function textFramer(id: number): (text: string) => Buffer {
  return (text) => {
    const out = Buffer.allocUnsafe(PREFIX_BYTES + Buffer.byteLength(text));
    out[0] = MAGIC_BYTE;
    out.writeUInt32BE(id, 1);
    out.write(text, PREFIX_BYTES);
    return out;
  };
}

function avroCodec(text: string, referenced: readonly string[]): Codec {
  const registry: Record<string, avro.Type> = {};
  for (const other of referenced) avro.Type.forSchema(JSON.parse(other), { registry });
  const raw = JSON.parse(text);
  const type = avro.Type.forSchema(raw, { registry });
  // Kinds from the schema as written: avsc drops the logical types it has no class for.
  const fieldsOf = () => {
    if (!(type instanceof avro.types.RecordType) || !Array.isArray(raw?.fields)) return undefined;
    const fields = new Map<string, FieldKind>();
    for (const field of raw.fields as { name: string; type: unknown }[]) fields.set(field.name, avroKind(field.type));
    return fields;
  };
  return {
    encoder(id) {
      const head = prefix(id);
      // Encoded into a scratch buffer after the prefix, then copied out: one allocation a value.
      let scratch = Buffer.alloc(4096);
      head.copy(scratch, 0);
      return (value) => {
        let end = type.encode(value, scratch, PREFIX_BYTES);
        if (end < 0) {
          scratch = Buffer.alloc(Math.max(scratch.length * 2, PREFIX_BYTES - end * 2));
          head.copy(scratch, 0);
          end = type.encode(value, scratch, PREFIX_BYTES);
        }
        const out = Buffer.allocUnsafe(end);
        scratch.copy(out, 0, 0, end);
        return out;
      };
    },
    decode(body) {
      const value = type.fromBuffer(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) as Record<
        string,
        unknown
      >;
      const out: Record<string, unknown> = { ...value };
      const fields = fieldsOf();
      for (const [name, kind] of fields ?? []) {
        if (kind === "timestamp" && typeof out[name] === "number") out[name] = formatTimestamp(out[name] as number);
      }
      return out;
    },
    fields: fieldsOf,
    check(value) {
      const paths: string[] = [];
      type.isValid(value, { errorHook: (path) => paths.push(path.join(".") || "the value") });
      return paths.length === 0 ? undefined : `${paths[0]} does not fit`;
    },
  };
}

function avroKind(type: unknown): FieldKind {
  if (typeof type === "object" && type !== null && !Array.isArray(type)) {
    const { type: base, logicalType } = type as { type?: unknown; logicalType?: unknown };
    if (logicalType === "timestamp-millis") return "timestamp";
    if (logicalType !== undefined) return "other";
    return avroKind(base);
  }
  switch (type) {
    case "string":
      return "string";
    case "double":
    case "float":
      return "double";
    case "long":
    case "int":
      return "integer";
  }
  return "other";
}

function protobufCodec(text: string, referenced: readonly string[]): Codec {
  const root = new protobuf.Root();
  for (const other of referenced) protobuf.parse(other, root);
  const parsed = protobuf.parse(text, root);
  // The well-known types are not sent as references: protobufjs carries the ones a schema imports.
  for (const file of parsed.imports ?? []) {
    const common = (protobuf.common as unknown as { get(file: string): protobuf.INamespace | null }).get(file);
    if (common?.nested) root.addJSON(common.nested);
  }
  root.resolveAll();
  // The file's own messages in order, their nested ones under them: what message indexes count.
  const pkg = parsed.package ? root.lookup(parsed.package) as protobuf.Namespace : root;
  const topLevel = messagesOf(pkg).filter((type) => !isWellKnown(type));
  const find = (name?: string) =>
    name === undefined ? topLevel[0] : topLevel.find((type) => type.fullName.replace(/^\./, "") === name);
  return {
    encoder(id) {
      const type = topLevel[0];
      const timestamps = timestampFields(type);
      // The prefix goes through the writer too, so a value is one buffer: the magic byte, the id
      // big-endian (a little-endian fixed32 of the id's bytes reversed), the message index 0.
      const swapped = (((id & 0xff) << 24) | ((id & 0xff00) << 8) | ((id >>> 8) & 0xff00) | (id >>> 24)) >>> 0;
      return (value) => {
        const writer = protobuf.Writer.create().uint32(MAGIC_BYTE).fixed32(swapped).uint32(0);
        const out = type.encode(withTimestamps(value, timestamps), writer).finish();
        // protobufjs's BufferWriter gives a Buffer already (KafkaJS writes only Buffers as bytes).
        return Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      };
    },
    decode(body, indexes) {
      let type: protobuf.Type | undefined = topLevel[indexes[0] ?? 0];
      for (const index of indexes.slice(1)) type = type && messagesOf(type)[index];
      if (type === undefined) throw new Error(`no message at indexes [${indexes.join(", ")}]`);
      const message = type.decode(body);
      return fromProtobuf(type.toObject(message, { longs: Number, defaults: true }));
    },
    fields(message) {
      const type = find(message);
      if (type === undefined) return undefined;
      const fields = new Map<string, FieldKind>();
      for (const field of type.fieldsArray) fields.set(field.name, protobufKind(field));
      return fields;
    },
    check(value, message) {
      const type = find(message);
      if (type === undefined) return `no message ${message}`;
      return type.verify(toProtobuf(type, value)) ?? undefined;
    },
  };
}

function isWellKnown(type: protobuf.Type): boolean {
  return type.fullName.startsWith(".google.protobuf.");
}

function messagesOf(namespace: protobuf.NamespaceBase): protobuf.Type[] {
  return namespace.nestedArray.filter((nested): nested is protobuf.Type => nested instanceof protobuf.Type);
}

function protobufKind(field: protobuf.Field): FieldKind {
  if (field.repeated || field.map) return "other";
  switch (field.type) {
    case "string":
      return "string";
    case "double":
    case "float":
      return "double";
    case "int64":
    case "uint64":
    case "sint64":
    case "int32":
    case "uint32":
    case "sint32":
    case "fixed64":
    case "sfixed64":
      return "integer";
  }
  return field.resolvedType?.fullName === ".google.protobuf.Timestamp" ? "timestamp" : "other";
}

/** The fields of `type` that are google.protobuf.Timestamp. */
function timestampFields(type: protobuf.Type): string[] {
  return type.fieldsArray.filter((field) => field.resolvedType?.fullName === ".google.protobuf.Timestamp")
    .map((field) => field.name);
}

/** Timestamps (epoch ms in the contract value) become google.protobuf.Timestamp, in a copy of `value`. */
function toProtobuf(type: protobuf.Type, value: ContractValue): Record<string, unknown> {
  return withTimestamps({ ...value }, timestampFields(type));
}

/** `value` with its `timestamps` fields (epoch ms) turned into google.protobuf.Timestamp, in place. */
function withTimestamps(value: Record<string, unknown>, timestamps: readonly string[]): Record<string, unknown> {
  for (const name of timestamps) {
    const ms = value[name];
    if (typeof ms === "number") {
      const seconds = Math.floor(ms / 1000);
      value[name] = { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
    }
  }
  return value;
}

/** google.protobuf.Timestamp values back to RFC 3339 text, as the JSON format has them. */
function fromProtobuf(value: Record<string, unknown>): Record<string, unknown> {
  for (const [name, field] of Object.entries(value)) {
    if (field !== null && typeof field === "object" && "seconds" in field && "nanos" in field) {
      const { seconds, nanos } = field as { seconds: number; nanos: number };
      value[name] = formatTimestamp(seconds * 1000 + Math.floor(nanos / 1_000_000));
    }
  }
  return value;
}

function jsonSchemaCodec(): Codec {
  return {
    encoder(id) {
      const frame = textFramer(id);
      return (value) => frame(JSON.stringify(value));
    },
    decode(body) {
      return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    },
    fields: () => undefined,
    check: () => undefined,
  };
}

/**
 * A framed value's parts: the schema id, the Protobuf message indexes (when `protobuf`), and the
 * body; undefined when `bytes` is not in the wire format.
 */
export function unframe(
  bytes: Uint8Array,
  protobufIndexes: boolean,
): { id: number; indexes: number[]; body: Uint8Array } | undefined {
  if (bytes.length < PREFIX_BYTES || bytes[0] !== MAGIC_BYTE) return undefined;
  const id = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  if (!protobufIndexes) return { id, indexes: [], body: bytes.subarray(PREFIX_BYTES) };
  // A count, then that many indexes, each a zigzag varint; a lone 0 means [0].
  let at = PREFIX_BYTES;
  const varint = () => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= bytes.length) throw new Error("message indexes cut short");
      const byte = bytes[at++];
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (result >>> 1) ^ -(result & 1);
    }
    throw new Error("message index too long");
  };
  const count = varint();
  if (count < 0 || count > 100) throw new Error("bad message index count");
  const indexes = count === 0 ? [0] : Array.from({ length: count }, varint);
  return { id, indexes, body: bytes.subarray(at) };
}
