/**
 * The value formats a run can write (`--format`) and what each record type is called in them: the
 * names the flag parsers, the help and the headers use. No codec is loaded here (see `encode.ts`).
 */

/** `--format`: schemaless JSON (the default), or a registry format in the Confluent wire format. */
export const FORMATS = ["json", "avro", "protobuf", "json-schema"] as const;
/** A value format. */
export type Format = typeof FORMATS[number];
/** A format whose values carry a schema id from a Schema Registry. */
export type RegistryFormat = Exclude<Format, "json">;

/** The first byte of every value in the Confluent wire format (JSON text never starts with it). */
export const MAGIC_BYTE = 0;

/** Whether `bytes` is a value in the Confluent wire format (else it is read as JSON text). */
export function isFramed(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === MAGIC_BYTE;
}

/** `--subject-strategy`: how a schema's subject is named (Confluent's subject name strategies). */
export const SUBJECT_STRATEGIES = ["topic", "record", "topic-record"] as const;
/** A subject name strategy. */
export type SubjectStrategy = typeof SUBJECT_STRATEGIES[number];

/** The record types factory-sim writes, one schema each. */
export const RECORD_TYPES = ["reading", "heartbeat", "label"] as const;
/** A record type. */
export type RecordType = typeof RECORD_TYPES[number];

/** The fully qualified name of each record type's schema (Avro namespace and Protobuf package `factorysim.v1`). */
export const RECORD_NAMES: Readonly<Record<RecordType, string>> = {
  reading: "factorysim.v1.Reading",
  heartbeat: "factorysim.v1.Heartbeat",
  label: "factorysim.v1.FaultLabel",
};

/**
 * The `content-type` header of each format's values. The registry formats' values are in the
 * Confluent wire format (a zero byte, the schema id in 4 bytes, for Protobuf the message indexes,
 * then the encoded value).
 */
export const CONTENT_TYPES: Readonly<Record<Format, string>> = {
  json: "application/json",
  avro: "application/avro",
  protobuf: "application/protobuf",
  "json-schema": "application/json-schema",
};

/** The registry's name for each registry format (`schemaType`). */
export const SCHEMA_TYPES: Readonly<Record<RegistryFormat, "AVRO" | "PROTOBUF" | "JSON">> = {
  avro: "AVRO",
  protobuf: "PROTOBUF",
  "json-schema": "JSON",
};

/** The subject a record type's schema is registered under, on `topic`, by `strategy`. */
export function subjectOf(strategy: SubjectStrategy, topic: string, type: RecordType): string {
  switch (strategy) {
    case "topic":
      return `${topic}-value`;
    case "record":
      return RECORD_NAMES[type];
    case "topic-record":
      return `${topic}-${RECORD_NAMES[type]}`;
  }
}
