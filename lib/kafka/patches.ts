/**
 * Fixes to KafkaJS 2.2.4 internals, installed by one call, `installKafkaPatches`, before KafkaJS
 * loads (`load.ts` makes that call before it imports the modules that import KafkaJS). Modules
 * are replaced through KafkaJS's require cache, and classes changed in place:
 *
 * - linear grouping of a request's messages by partition (`_grouping.ts`; KafkaJS's is quadratic)
 * - each record in one exactly sized buffer (`_record.ts`)
 * - CRC-32C eight bytes a step (`_crc32c.ts`)
 * - each uncompressed partition of a produce request written once (`_produce_request.ts`)
 * - each request framed in one exactly sized buffer (`_request_frame.ts`)
 * - the request queue checks for waiting requests only while some wait (`_pending_check.ts`)
 * - varints written straight into the encoder's buffer (`_varints.ts`)
 * - Metadata requests that can ask for no topics (`_metadata.ts`): a producer's first, and the
 *   admin client's description of the brokers, no longer fetch every topic of the cluster
 *
 * They depend on KafkaJS's private modules, so they are installed only on the release they were
 * written for, and only when every module they touch has the shape they use; otherwise KafkaJS
 * runs as shipped, none of them installed, and one warning says why. `tests/kafka_patches_test.ts`
 * checks each gives what the original gives, byte for byte.
 */
import { log } from "../log.ts";
import { crc32c } from "./_crc32c.ts";
import { groupMessagesPerPartition } from "./_grouping.ts";
import {
  ENCODER_METHODS,
  KAFKAJS_VERSION,
  type KafkaJsEncoderClass,
  type ModuleLoader,
  MODULES,
  nodeRequire,
} from "./_kafkajs.ts";
import { produceRequest } from "./_produce_request.ts";
import { encodeRecord } from "./_record.ts";
import { frameRequest } from "./_request_frame.ts";
import { installPendingCheck, type RequestQueueClass } from "./_pending_check.ts";
import { installFastVarints, type VarintEncoderClass } from "./_varints.ts";
import { metadataRequestV1, metadataRequestV4 } from "./_metadata.ts";

/** The patches, by name. */
export const KAFKA_PATCHES = [
  "groupMessagesPerPartition",
  "record",
  "crc32C",
  "produceRequest",
  "requestFrame",
  "pendingCheck",
  "fastVarints",
  "metadataNoTopics",
] as const;
/** The name of a patch. */
export type KafkaPatch = typeof KAFKA_PATCHES[number];
/** Which patches are installed. */
export type KafkaPatchStatus = Readonly<Record<KafkaPatch, boolean>>;

/** Options of `installKafkaPatches`. */
export interface KafkaPatchOptions {
  /** Patches to leave out: the throughput benchmark measures KafkaJS's own varints with `["fastVarints"]`. */
  skip?: readonly KafkaPatch[];
  /** The CommonJS loader KafkaJS loads through (default: Node's `require`; tests hand in a stand-in). */
  require?: ModuleLoader;
  /** Where the warning goes when KafkaJS runs as shipped (default: the "kafka" logger, once a process). */
  warn?: (text: string) => void;
}

/** What the first call for each loader installed: later calls change nothing. */
const installed = new WeakMap<ModuleLoader, KafkaPatchStatus>();

/**
 * Installs the patches into KafkaJS unless they are already installed, and says which are. Call
 * it before anything loads KafkaJS: a KafkaJS module that already holds what a patch replaces
 * would keep it. When KafkaJS is not 2.2.4, was loaded before, or a module a patch touches is not
 * what the patches were written for, installs none and warns once.
 */
export function installKafkaPatches(
  { skip = [], require = nodeRequire, warn = warnOnce }: KafkaPatchOptions = {},
): KafkaPatchStatus {
  let status = installed.get(require);
  if (status) return status;
  status = install(require, new Set(skip), warn);
  installed.set(require, status);
  return status;
}

let warned = false;

function warnOnce(text: string): void {
  if (warned) return;
  warned = true;
  log("kafka").warn(text);
}

function statusOf(patches: Iterable<KafkaPatch>): KafkaPatchStatus {
  const on = new Set(patches);
  return Object.fromEntries(KAFKA_PATCHES.map((patch) => [patch, on.has(patch)])) as Record<KafkaPatch, boolean>;
}

function install(require: ModuleLoader, skip: Set<KafkaPatch>, warn: (text: string) => void): KafkaPatchStatus {
  const none = statusOf([]);
  const cachedBefore = new Set(Object.keys(require.cache));
  const replaced: { path: string; original: unknown }[] = [];
  const done = new Set<KafkaPatch>();
  const replace = (patch: KafkaPatch, module: string, replacement: unknown) => {
    if (skip.has(patch)) return;
    const path = require.resolve(module);
    replaced.push({ path, original: require(path) });
    require.cache[path]!.exports = replacement;
    done.add(patch);
  };
  try {
    const problem = incompatibility(require);
    if (problem) {
      warn(`${problem}: KafkaJS runs as shipped, without factory-sim's patches`);
      return none;
    }
    // Leaves first, then what requires them: v3's produce request keeps the record and CRC-32C
    // modules it finds.
    replace("groupMessagesPerPartition", MODULES.grouping, groupMessagesPerPartition);
    replace("record", MODULES.record, encodeRecord);
    replace("crc32C", MODULES.crc32C, crc32c);
    replace("requestFrame", MODULES.request, frameRequest);
    if (!skip.has("metadataNoTopics")) {
      replace("metadataNoTopics", MODULES.metadataV1, metadataRequestV1(require(MODULES.metadataV1) as never));
      replace("metadataNoTopics", MODULES.metadataV4, metadataRequestV4(require(MODULES.metadataV4) as never));
    }
    // These two require the modules above, so they could only be looked at now.
    const late = mismatch(require, MODULES.produceRequest, isFunctionOfOne, "a function of one argument") ??
      mismatch(require, MODULES.recordBatch, hasRecordBatch, "an object with a RecordBatch function");
    if (late) {
      restore(require, replaced, cachedBefore);
      warn(`${late}: KafkaJS runs as shipped, without factory-sim's patches`);
      return none;
    }
    replace("produceRequest", MODULES.produceRequest, produceRequest);
  } catch (error) {
    restore(require, replaced, cachedBefore);
    warn(`KafkaJS's modules could not be patched (${String(error)}): KafkaJS runs as shipped`);
    return none;
  }
  if (!skip.has("pendingCheck")) {
    installPendingCheck(require(MODULES.requestQueue) as RequestQueueClass);
    done.add("pendingCheck");
  }
  if (!skip.has("fastVarints") && installFastVarints(require(MODULES.encoder) as VarintEncoderClass)) {
    done.add("fastVarints");
  }
  return statusOf(done);
}

/** Puts back what was replaced, and forgets what loaded meanwhile, so KafkaJS loads as shipped. */
function restore(
  require: ModuleLoader,
  replaced: { path: string; original: unknown }[],
  cachedBefore: Set<string>,
): void {
  for (const { path, original } of replaced) {
    const entry = require.cache[path];
    if (entry) entry.exports = original;
  }
  for (const path of Object.keys(require.cache)) if (!cachedBefore.has(path)) delete require.cache[path];
}

/**
 * Why the patches cannot go in, or undefined when they can: another release, KafkaJS already
 * loaded, or a module whose shape differs from what the patches use. Loads only modules that do
 * not keep what a patch replaces.
 */
function incompatibility(require: ModuleLoader): string | undefined {
  const version = (load(require, MODULES.packageJson) as { version?: unknown } | undefined)?.version;
  if (version !== KAFKAJS_VERSION) {
    return `KafkaJS ${String(version)} is not ${KAFKAJS_VERSION}, the release factory-sim's patches were written for`;
  }
  const users = [
    MODULES.sendMessages,
    MODULES.recordBatch,
    MODULES.produceRequest,
    ...MODULES.produceRequestUsers,
    MODULES.connection,
    ...MODULES.metadataUsers,
  ];
  const loaded = users.find((user) => require.resolve(user) in require.cache);
  if (loaded) return `KafkaJS was loaded before its patches (${loaded})`;
  return mismatch(require, MODULES.encoder, isEncoderClass, `a class with ${ENCODER_METHODS.join(", ")}`) ??
    mismatch(require, MODULES.long, isLong, "an object with fromInt and fromValue") ??
    mismatch(require, MODULES.apiKeys, hasProduceKey, "an object with a numeric Produce") ??
    mismatch(require, MODULES.grouping, isFunctionOfOne, "a function of one argument") ??
    mismatch(require, MODULES.record, isFunctionOfOne, "a function of one argument") ??
    mismatch(require, MODULES.crc32C, isFunctionOfOne, "a function of one argument") ??
    mismatch(require, MODULES.request, isFunctionOfOne, "a function of one argument") ??
    mismatch(require, MODULES.metadataV1, isFunctionOfOne, "a function of one argument") ??
    mismatch(require, MODULES.metadataV4, isFunctionOfOne, "a function of one argument") ??
    mismatch(require, MODULES.requestQueue, isRequestQueue, "a class with scheduleCheckPendingRequests");
}

/** "module is not what": when `module` cannot be loaded or `fits` rejects what it exports. */
function mismatch(
  require: ModuleLoader,
  module: string,
  fits: (exports: unknown) => boolean,
  what: string,
): string | undefined {
  return fits(load(require, module)) ? undefined : `KafkaJS's ${module} is not ${what}`;
}

/** What `module` exports, or undefined when it cannot be loaded. */
function load(require: ModuleLoader, module: string): unknown {
  try {
    return require(module);
  } catch {
    return undefined;
  }
}

function isFunctionOfOne(exports: unknown): boolean {
  return typeof exports === "function" && exports.length === 1;
}

function isEncoderClass(exports: unknown): boolean {
  if (typeof exports !== "function") return false;
  const Encoder = exports as unknown as KafkaJsEncoderClass;
  const proto = Encoder.prototype as unknown as Record<string, unknown>;
  return ENCODER_METHODS.every((method) => typeof proto[method] === "function") &&
    typeof Encoder.sizeOfVarInt === "function" && typeof Encoder.sizeOfVarLong === "function";
}

function isLong(exports: unknown): boolean {
  const long = exports as { fromInt?: unknown; fromValue?: unknown } | undefined;
  return typeof long?.fromInt === "function" && typeof long.fromValue === "function";
}

function hasProduceKey(exports: unknown): boolean {
  return typeof (exports as { Produce?: unknown } | undefined)?.Produce === "number";
}

function hasRecordBatch(exports: unknown): boolean {
  return typeof (exports as { RecordBatch?: unknown } | undefined)?.RecordBatch === "function";
}

function isRequestQueue(exports: unknown): boolean {
  const proto = (exports as { prototype?: Record<string, unknown> } | undefined)?.prototype;
  return typeof exports === "function" && typeof proto?.scheduleCheckPendingRequests === "function" &&
    typeof proto.checkPendingRequests === "function";
}
