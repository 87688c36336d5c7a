/**
 * The message contract (docs/configuration.md#messages, docs/signals-and-faults.md), as a check:
 * what a record's value may hold, field by field. Tests that run hostile or extreme configs assert
 * that every record they get passes it.
 */

/** RFC 3339 in UTC with milliseconds and `Z`, a four-digit year. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const FIELDS = {
  "factory-sim.reading.v1": ["factoryId", "sensorId", "tier", "sodaName", "reading", "count", "total", "timestamp"],
  "factory-sim.heartbeat.v1": ["sensorId", "tier", "timestamp", "status"],
  "factory-sim.fault.v1": ["faultId", "fault", "event", "factoryId", "sensorId", "sodaName", "timestamp"],
} as const;

/** What is wrong with a record's value (JSON text or parsed) of `type`; undefined when it keeps the contract. */
export function contractProblem(type: string, value: unknown, timestampMs?: number): string | undefined {
  const fields = FIELDS[type as keyof typeof FIELDS];
  if (fields === undefined) return `unknown message type ${JSON.stringify(type)}`;
  const parsed = typeof value === "string" ? JSON.parse(value) : value;
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return "the value is not an object";
  const record = parsed as Record<string, unknown>;
  if (Object.keys(record).join() !== fields.join()) return `fields ${Object.keys(record).join()}`;
  for (const field of fields) {
    if (field === "timestamp" || field === "reading" || field === "count" || field === "total") continue;
    if (typeof record[field] !== "string") return `${field} is not a string: ${JSON.stringify(record[field])}`;
  }
  const timestamp = record.timestamp as string;
  if (typeof timestamp !== "string" || !TIMESTAMP.test(timestamp)) return `timestamp ${JSON.stringify(timestamp)}`;
  const ms = Date.parse(timestamp);
  if (new Date(ms).toISOString() !== timestamp) return `timestamp ${timestamp} is not a real time`;
  if (ms < 0) return `timestamp ${timestamp} is before 1970 (Kafka timestamps are not negative)`;
  if (timestampMs !== undefined && timestampMs !== ms) return `record timestamp ${timestampMs} is not ${timestamp}`;
  if (type === "factory-sim.reading.v1") {
    if (typeof record.reading !== "number" || !Number.isFinite(record.reading)) {
      return `reading ${JSON.stringify(record.reading)} is not a finite number`;
    }
    const { count, total } = record;
    if (!Number.isSafeInteger(total) || (total as number) < 1) return `total ${JSON.stringify(total)}`;
    if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > (total as number)) {
      return `count ${JSON.stringify(count)} of ${total}`;
    }
  }
  if (type === "factory-sim.heartbeat.v1" && record.status !== "active") return `status ${record.status}`;
  if (type === "factory-sim.fault.v1" && record.event !== "start" && record.event !== "end") {
    return `event ${record.event}`;
  }
  return undefined;
}

/** What is wrong with one line of a console run's stdout; undefined when it keeps the contract. */
export function consoleLineProblem(line: string): string | undefined {
  let parsed: { topic?: unknown; key?: unknown; headers?: Record<string, string>; value?: Record<string, unknown> };
  try {
    parsed = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  if (typeof parsed.topic !== "string" || typeof parsed.key !== "string") return "no topic or key";
  const type = parsed.headers?.["message-type"];
  if (type === undefined) return "no message-type header";
  if (parsed.key !== parsed.value?.sensorId) return `key ${parsed.key} is not the sensorId`;
  return contractProblem(type, parsed.value);
}
