/**
 * A run's registry format, made ready at start: each record type's schema registered under its
 * subject (or, with `--no-auto-register`, the subject's latest version fetched and checked to fit
 * what factory-sim writes), the ids resolved, and the `ValueEncoder` that writes every value with
 * them. Nothing here is asked of the registry once the run produces: a registry lost mid-run
 * changes nothing. Every failure is one line naming the registry, the subject and the registry's
 * own reason (exit 1).
 */
import type { Buffer } from "node:buffer";
import { Ajv } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import { RunError } from "../errors.ts";
import type { FaultLabel } from "../faults.ts";
import {
  heartbeatFields,
  heartbeatValue,
  labelFields,
  labelValue,
  readingFields,
  readingValue,
  type Topics,
  type ValueEncoder,
} from "../messages.ts";
import type { Heartbeat, Reading } from "../simulation.ts";
import { quoted, shown } from "../text.ts";
import type { RegistryAccess } from "./access.ts";
import { type Codec, codecOf, type ContractValue, type FieldKind, textFramer } from "./codec.ts";
import {
  CONTENT_TYPES,
  RECORD_NAMES,
  type RecordType,
  type RegistryFormat,
  SCHEMA_TYPES,
  subjectOf,
  type SubjectStrategy,
} from "./format.ts";
import { RegistryError, SchemaRegistry, type SubjectVersion } from "./registry.ts";
import { SCHEMA_TEXTS } from "./schemas.ts";

/** What a run asked of its format. */
export interface RegistryFormatOptions {
  format: RegistryFormat;
  access: RegistryAccess;
  /** Register the schemas at start (default); false: use each subject's latest version. */
  autoRegister: boolean;
  subjectStrategy: SubjectStrategy;
}

/** A record type's schema as the run uses it. */
export interface ResolvedSubject {
  type: RecordType;
  topic: string;
  subject: string;
  id: number;
  /** The subject's version used, with `--no-auto-register`. */
  version?: number;
}

/** The encoder of a run's registry format and the subjects it writes with. */
export interface PreparedFormat {
  encoder: ValueEncoder;
  subjects: ResolvedSubject[];
}

/** The record types a run writes, with their topics (labels only with a labels topic). */
export function typesInUse(topics: Topics): { type: RecordType; topic: string }[] {
  return [
    { type: "reading", topic: topics.readings },
    { type: "heartbeat", topic: topics.heartbeats },
    ...(topics.labels === undefined ? [] : [{ type: "label" as const, topic: topics.labels }]),
  ];
}

/**
 * Registers (or looks up) the schemas of every record type the run writes and builds the encoder.
 * Throws a one-line `RunError` when the registry cannot be reached, refuses a schema, lacks a
 * subject under `--no-auto-register`, or holds one that does not fit.
 */
export async function prepareFormat(
  options: RegistryFormatOptions,
  topics: Topics,
  signal?: AbortSignal,
): Promise<PreparedFormat> {
  const registry = new SchemaRegistry(options.access, { signal });
  try {
    const subjects: ResolvedSubject[] = [];
    const encoders = new Map<RecordType, (value: ContractValue) => Buffer>();
    const texts = new Map<RecordType, (text: string) => Buffer>();
    for (const { type, topic } of typesInUse(topics)) {
      const subject = subjectOf(options.subjectStrategy, topic, type);
      const where = `schema registry ${quoted(registry.url)}: subject ${quoted(subject)}`;
      const { id, version, codec } = options.autoRegister
        ? await register(registry, options.format, type, where, subject)
        : await useLatest(registry, options.format, type, where, subject);
      subjects.push({ type, topic, subject, id, ...(version === undefined ? {} : { version }) });
      if (options.format === "json-schema") texts.set(type, textFramer(id));
      else encoders.set(type, codec.encoder(id));
    }
    return { encoder: makeEncoder(options.format, encoders, texts), subjects };
  } finally {
    registry.close();
  }
}

async function register(
  registry: SchemaRegistry,
  format: RegistryFormat,
  type: RecordType,
  where: string,
  subject: string,
): Promise<{ id: number; version?: number; codec: Codec }> {
  const schema = { schemaType: SCHEMA_TYPES[format], schema: SCHEMA_TEXTS[format][type] };
  try {
    const id = await registerRacing(registry, subject, schema);
    return { id, codec: codecOf({ ...schema, references: [] }) };
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    const what = error.status === 409
      ? `the ${format} schema of ${RECORD_NAMES[type]} was refused as incompatible with the subject's versions`
      : error.status === undefined
      ? "cannot be reached"
      : `registering the ${format} schema of ${RECORD_NAMES[type]} failed`;
    throw new RunError(`${where}: ${what}: ${error.describe()}`);
  }
}

/** Registrations a subject's creation by another run may refuse before one goes through. */
export const REGISTER_ATTEMPTS = 5;

/**
 * Registers `schema` under `subject`. Two runs creating the same subject at once (shards started
 * together) race in the registry: Apicurio refuses the loser with 409 "already exists". Asked
 * again, it finds the schema the winner registered and answers with its id.
 */
async function registerRacing(
  registry: SchemaRegistry,
  subject: string,
  schema: { schemaType: "AVRO" | "PROTOBUF" | "JSON"; schema: string },
): Promise<number> {
  for (let attempt = 1;; attempt++) {
    try {
      return await registry.register(subject, schema);
    } catch (error) {
      const raced = error instanceof RegistryError && error.status === 409 && /already exists/i.test(error.reason);
      if (!raced || attempt >= REGISTER_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

async function useLatest(
  registry: SchemaRegistry,
  format: RegistryFormat,
  type: RecordType,
  where: string,
  subject: string,
): Promise<{ id: number; version?: number; codec: Codec }> {
  let latest: SubjectVersion;
  let referenced: string[];
  try {
    latest = await registry.latest(subject);
    referenced = await registry.referencedSchemas(latest);
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    const what = error.notFound
      ? "not found, and --no-auto-register says not to register it (register it first, or drop the flag)"
      : error.status === undefined
      ? "cannot be reached"
      : "reading its latest version failed";
    throw new RunError(`${where}: ${what}: ${error.describe()}`);
  }
  const at = `${where} version ${latest.version} (id ${latest.id})`;
  if (latest.schemaType !== SCHEMA_TYPES[format]) {
    throw new RunError(`${at} holds a ${latest.schemaType} schema; --format ${format} needs ${SCHEMA_TYPES[format]}`);
  }
  let codec: Codec;
  try {
    codec = codecOf(latest, referenced);
  } catch (error) {
    throw new RunError(`${at} cannot be read: ${shown(error instanceof Error ? error.message : String(error))}`);
  }
  const misfit = misfitOf(format, type, codec, latest.schema);
  if (misfit !== undefined) {
    throw new RunError(`${at} does not fit what factory-sim writes for ${RECORD_NAMES[type]}: ${misfit}`);
  }
  return { id: latest.id, version: latest.version, codec };
}

/**
 * Why a registered schema cannot carry a record type's values as factory-sim writes them: a field
 * it lacks or types otherwise, a field it requires that factory-sim does not write, or a sample
 * value it refuses. Undefined when it fits.
 */
export function misfitOf(format: RegistryFormat, type: RecordType, codec: Codec, text: string): string | undefined {
  const sample = SAMPLES[type];
  if (format === "json-schema") return jsonSchemaMisfit(text, type);
  const ours = codecOf({ schemaType: SCHEMA_TYPES[format], schema: SCHEMA_TEXTS[format][type], references: [] })
    .fields()!;
  const theirs = codec.fields();
  if (theirs === undefined) return "it is not a record (message) schema";
  for (const [name, kind] of ours) {
    const their = theirs.get(format === "protobuf" ? snake(name) : name) ?? theirs.get(name);
    if (their === undefined) return `it has no field ${quoted(format === "protobuf" ? snake(name) : name)}`;
    if (their !== kind) return `its field ${quoted(name)} is ${kindName(their)}, factory-sim writes ${kindName(kind)}`;
  }
  if (format === "avro") {
    const withDefaults = avroFieldsWithDefaults(text);
    for (const name of theirs.keys()) {
      if (!ours.has(name) && !withDefaults.has(name)) {
        return `its field ${quoted(name)} has no default, and factory-sim does not write it`;
      }
    }
  }
  const problem = codec.check(sample);
  return problem === undefined ? undefined : shown(problem);
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function kindName(kind: FieldKind): string {
  return kind === "other"
    ? "another type"
    : kind === "timestamp"
    ? "a timestamp"
    : kind === "integer"
    ? "an integer"
    : `a ${kind}`;
}

function avroFieldsWithDefaults(text: string): Set<string> {
  const schema = JSON.parse(text) as { fields?: { name: string; default?: unknown }[] };
  return new Set((schema.fields ?? []).filter((field) => "default" in field).map((field) => field.name));
}

function jsonSchemaMisfit(text: string, type: RecordType): string | undefined {
  let schema: Record<string, unknown>;
  try {
    schema = JSON.parse(text);
  } catch {
    return "it is not JSON";
  }
  const draft2020 = typeof schema.$schema === "string" && /2019-09|2020-12/.test(schema.$schema);
  const ajv = draft2020
    ? new Ajv2020({ strict: false, validateFormats: false })
    : new Ajv({ strict: false, validateFormats: false });
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    return `it does not compile: ${shown(error instanceof Error ? error.message : String(error))}`;
  }
  const sample = JSON.parse(SAMPLE_TEXTS[type]);
  if (validate(sample)) return undefined;
  const error = validate.errors?.[0];
  return shown(`${error?.instancePath || "the value"} ${error?.message ?? "is refused"}`);
}

/** An event of each record type, for the fit checks. */
const SAMPLE_MS = Date.UTC(2025, 11, 3, 14, 30, 45, 123);
const SAMPLE_READING: Reading = {
  kind: "reading",
  factoryId: "F1",
  sensorId: "S1-1",
  tier: "1.1",
  sodaName: "Coca-Cola",
  reading: 42.5,
  count: 5,
  total: 10,
  timeMs: SAMPLE_MS,
};
const SAMPLE_HEARTBEAT: Heartbeat = {
  kind: "heartbeat",
  factoryId: "F1",
  sensorId: "S1-1",
  tier: "1.1",
  status: "active",
  timeMs: SAMPLE_MS,
};
const SAMPLE_LABEL: FaultLabel = {
  kind: "label",
  event: "start",
  fault: "stuck",
  faultId: "F1-0-stuck-1",
  factoryId: "F1",
  sensorId: "S1-1",
  sodaName: "Coca-Cola",
  timeMs: SAMPLE_MS,
};

/** The samples in the contract's shape (`timestamp` in epoch ms), as the Avro and Protobuf codecs take them. */
const SAMPLES: Readonly<Record<RecordType, ContractValue>> = {
  reading: contractReading(SAMPLE_READING),
  heartbeat: contractHeartbeat(SAMPLE_HEARTBEAT),
  label: contractLabel(SAMPLE_LABEL),
};

/** The samples' JSON text, as the JSON format writes them. */
const SAMPLE_TEXTS: Readonly<Record<RecordType, string>> = {
  reading: readingValue(SAMPLE_READING),
  heartbeat: heartbeatValue(SAMPLE_HEARTBEAT),
  label: labelValue(SAMPLE_LABEL),
};

/** A reading in the contract's shape, `timestamp` in epoch ms (fields in contract order). */
export function contractReading(event: Reading): ContractValue {
  return readingFields(event, event.timeMs);
}

/** A heartbeat in the contract's shape. */
export function contractHeartbeat(event: Heartbeat): ContractValue {
  return heartbeatFields(event, event.timeMs);
}

/** A fault label in the contract's shape. */
export function contractLabel(event: FaultLabel): ContractValue {
  return labelFields(event, event.timeMs);
}

function makeEncoder(
  format: RegistryFormat,
  encoders: Map<RecordType, (value: ContractValue) => Buffer>,
  texts: Map<RecordType, (text: string) => Buffer>,
): ValueEncoder {
  // JSON Schema values are the contract's JSON text; Avro's and Protobuf's are encoded from its fields.
  const json = format === "json-schema";
  const of = <E>(type: RecordType, text: (event: E) => string, fields: (event: E) => ContractValue) => {
    const frame = texts.get(type), encode = encoders.get(type);
    if (json && frame) return (event: E) => frame(text(event));
    if (!json && encode) return (event: E) => encode(fields(event));
    return () => {
      throw new Error(`no schema was resolved for ${type} records`);
    };
  };
  return {
    contentType: CONTENT_TYPES[format],
    reading: of("reading", readingValue, contractReading),
    heartbeat: of("heartbeat", heartbeatValue, contractHeartbeat),
    label: of("label", labelValue, contractLabel),
  };
}
