/**
 * The schema files in `schemas/` (one per record type and format), embedded in the program: they
 * are what a run registers, and the files users and their tools read. `tests/schemas_test.ts`
 * keeps them in agreement with the JSON contract.
 */
import readingAvro from "../../schemas/reading.avsc" with { type: "text" };
import heartbeatAvro from "../../schemas/heartbeat.avsc" with { type: "text" };
import labelAvro from "../../schemas/fault_label.avsc" with { type: "text" };
import readingProto from "../../schemas/reading.proto" with { type: "text" };
import heartbeatProto from "../../schemas/heartbeat.proto" with { type: "text" };
import labelProto from "../../schemas/fault_label.proto" with { type: "text" };
import readingJson from "../../schemas/reading.schema.json" with { type: "text" };
import heartbeatJson from "../../schemas/heartbeat.schema.json" with { type: "text" };
import labelJson from "../../schemas/fault_label.schema.json" with { type: "text" };
import type { RecordType, RegistryFormat } from "./format.ts";

/** Each format's schema text of each record type, as the files hold it. */
export const SCHEMA_TEXTS: Readonly<Record<RegistryFormat, Readonly<Record<RecordType, string>>>> = {
  avro: { reading: readingAvro, heartbeat: heartbeatAvro, label: labelAvro },
  protobuf: { reading: readingProto, heartbeat: heartbeatProto, label: labelProto },
  "json-schema": { reading: readingJson, heartbeat: heartbeatJson, label: labelJson },
};

/** The files under `schemas/`, by record type (for messages and docs). */
export const SCHEMA_FILES: Readonly<Record<RegistryFormat, Readonly<Record<RecordType, string>>>> = {
  avro: { reading: "schemas/reading.avsc", heartbeat: "schemas/heartbeat.avsc", label: "schemas/fault_label.avsc" },
  protobuf: {
    reading: "schemas/reading.proto",
    heartbeat: "schemas/heartbeat.proto",
    label: "schemas/fault_label.proto",
  },
  "json-schema": {
    reading: "schemas/reading.schema.json",
    heartbeat: "schemas/heartbeat.schema.json",
    label: "schemas/fault_label.schema.json",
  },
};
