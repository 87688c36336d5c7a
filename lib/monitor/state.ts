/**
 * What `factory-sim monitor` knows about the plant, from the records that landed in Kafka: per
 * sensor its heartbeats (status alive, late or dead by the age of the last one; uptime), per line
 * its readings (received and expected, min/mean/max/last, gaps in `count`), the faults active now
 * (from the labels topic: a start without its end yet), per topic the records and their rate.
 * Pure: records and the wall clock come in, snapshots go out.
 */
import { RateWindow } from "../rates.ts";

/** A sensor's heartbeat state: alive (recent), late (older than late-after), dead (older than dead-after). */
export type SensorStatus = "alive" | "late" | "dead";

/** When a sensor counts as late and dead, by the age of its last heartbeat. */
export interface Thresholds {
  lateAfterMs: number;
  deadAfterMs: number;
}

/** One record from Kafka: its topic, value and record timestamp, and when the monitor received it. */
export interface InRecord {
  topic: string;
  /** The value as text (JSON); null for none, or for a value in a registry format (see `decoded`). */
  value: string | null;
  /** A registry format's value, decoded to the contract's shape; undefined when it could not be. */
  decoded?: unknown;
  /** The record's timestamp (epoch ms); NaN when it has none. */
  timestampMs: number;
  /** Wall clock when the record arrived (epoch ms). */
  receivedMs: number;
  /** The record's `message-type` header (`factory-sim.reading.v1`...), when it has one. */
  type?: string;
}

/** A sensor as snapshots show it. */
export interface SensorView {
  sensorId: string;
  tier: string;
  factoryId: string;
  status: SensorStatus;
  /** Milliseconds since the last heartbeat was sent (or received, when its timestamp is ahead). */
  lastHeartbeatAgeMs: number;
  /** Share of the time since its first heartbeat that it was not dead, 0-100. */
  uptimePct: number;
  heartbeats: number;
  /** The `status` field of the last heartbeat ("active"). */
  reported: string;
}

/** A production line as snapshots show it. */
export interface LineView {
  factoryId: string;
  sensorId: string;
  sodaName: string;
  /** Readings received since the monitor started watching. */
  received: number;
  /** Readings the line was to send since the monitor started watching (from each batch's `total`). */
  expected: number;
  /** `count` and `total` of the last reading: progress in the current batch. */
  count: number;
  total: number;
  /** Batches seen (a continuous run starts a new one when `count` goes back). */
  batches: number;
  min: number;
  mean: number;
  max: number;
  last: number;
  /** Readings never received: gaps in `count`, and the unsent rest of a batch that was followed by a new one. */
  missing: number;
  /** Readings received twice (the same `count` again). */
  duplicates: number;
  /** The last readings, oldest first (snapshots for the web page only). */
  recent?: number[];
}

/** A fault that started and has not ended yet, from the labels topic. */
export interface FaultView {
  faultId: string;
  /** Its kind (`stuck`, `offline`...). */
  fault: string;
  factoryId: string;
  sensorId: string;
  sodaName: string;
  /** The start label's timestamp, as it came (RFC 3339). */
  since: string;
}

/** Records per topic. */
export interface TopicView {
  received: number;
  /** Records per second over the last few seconds of wall time. */
  rate: number;
  /** Records that were not the JSON the topic carries (counted, otherwise ignored). */
  invalid: number;
}

/** Everything the monitor shows at one moment. */
export interface Snapshot {
  type: "snapshot";
  /** Wall clock, RFC 3339. */
  time: string;
  topics: Record<string, TopicView>;
  sensors: Record<SensorStatus, number>;
  factories: { id: string; sensors: SensorView[]; lines: LineView[] }[];
  /** The faults active now (started, not ended), by factory, sensor, line and id; empty without a labels topic. */
  activeFaults: FaultView[];
}

/** A sensor's status changed (emitted by `tick`). */
export interface StatusChange {
  type: "sensor-status";
  time: string;
  sensorId: string;
  factoryId: string;
  from: SensorStatus | "new";
  to: SensorStatus;
  lastHeartbeatAgeMs: number;
}

/** The readings a line keeps for its sparkline. */
export const RECENT_READINGS = 40;
/** Wall time the rates are averaged over. */
const RATE_WINDOW_MS = 5_000;
/**
 * Most active faults kept: a run killed before it sent their ends leaves starts that never end;
 * past this many, the oldest are forgotten.
 */
export const MAX_ACTIVE_FAULTS = 100_000;

interface SensorState {
  sensorId: string;
  tier: string;
  factoryId: string;
  reported: string;
  heartbeats: number;
  firstSeenMs: number;
  /** When the last heartbeat was sent: its timestamp, or when it arrived if that is earlier. */
  lastSeenMs: number;
  /** Dead time between heartbeats so far (gaps longer than dead-after, less dead-after). */
  downMs: number;
  /** The status last reported by `tick`. */
  status: SensorStatus | "new";
}

/** A line as the state keeps it: its view's counts, with the sum for the mean and the recent readings always. */
type LineState = Omit<LineView, "mean" | "recent"> & { sum: number; recent: number[] };

/** The topics a monitor reads: readings, heartbeats and, with `--labels-topic`, fault labels (any may be one topic). */
export interface MonitorTopics {
  readings: string;
  heartbeats: string;
  labels?: string;
}

/** The kinds of record the monitor reads. */
type Kind = "reading" | "heartbeat" | "label";

/** The kind a `message-type` header names: `factory-sim.fault.v1` is a label. */
const KIND_OF_TYPE: Record<string, Kind> = { reading: "reading", heartbeat: "heartbeat", fault: "label" };

const FAULT_EVENTS = new Set(["start", "end"]);

/** The monitor's state over the records it consumed. */
export class MonitorState {
  readonly #thresholds: Thresholds;
  readonly #topics: MonitorTopics;
  /** The kinds each topic carries (more than one when topics are shared). */
  readonly #kinds = new Map<string, Kind[]>();
  readonly #sensors = new Map<string, SensorState>();
  readonly #lines = new Map<string, LineState>();
  /** Active faults by id, oldest first. */
  readonly #faults = new Map<string, FaultView>();
  readonly #counts = new Map<string, { received: number; invalid: number }>();
  readonly #rates = new RateWindow(RATE_WINDOW_MS);
  /** Whether the readings topic is read from its beginning (a line's first batch is then expected whole). */
  #readingsWhole = false;

  constructor(topics: MonitorTopics, thresholds: Thresholds) {
    this.#topics = topics;
    this.#thresholds = thresholds;
    const kinds: [Kind, string | undefined][] = [
      ["reading", topics.readings],
      ["heartbeat", topics.heartbeats],
      ["label", topics.labels],
    ];
    for (const [kind, topic] of kinds) {
      if (topic === undefined) continue;
      this.#counts.set(topic, { received: 0, invalid: 0 });
      this.#kinds.set(topic, [...(this.#kinds.get(topic) ?? []), kind]);
    }
  }

  /**
   * Tells which topics are read from their beginning. A line whose first reading has `count` 3 then
   * missed 1 and 2; read from now, they came before the monitor was watching.
   */
  readFromBeginning(topics: readonly string[]): void {
    this.#readingsWhole = topics.includes(this.#topics.readings);
  }

  /** Takes in one record; returns false when it was not a reading, heartbeat or fault label (counted as invalid). */
  add(record: InRecord): boolean {
    let counts = this.#counts.get(record.topic);
    if (counts === undefined) this.#counts.set(record.topic, counts = { received: 0, invalid: 0 });
    counts.received++;
    let value: unknown;
    try {
      value = "decoded" in record ? record.decoded : record.value === null ? undefined : JSON.parse(record.value);
    } catch {
      value = undefined;
    }
    const kind = this.#kind(record, value);
    const ok = kind === "heartbeat"
      ? this.#heartbeat(value, record)
      : kind === "reading"
      ? this.#reading(value)
      : kind === "label"
      ? this.#label(value)
      : kind === "other";
    if (!ok) counts.invalid++;
    return ok;
  }

  /**
   * What a record is: by its topic, or on a topic kinds share, by its `message-type` header (else
   * by its shape: a reading has a `reading` field, a label a `faultId`). A record of a kind the
   * monitor does not read on that topic (a fault label without `--labels-topic`) is "other",
   * neither shown nor invalid.
   */
  #kind(record: InRecord, value: unknown): Kind | "other" | undefined {
    const kinds = this.#kinds.get(record.topic);
    if (kinds === undefined) return undefined;
    if (kinds.length === 1) return kinds[0];
    if (record.type !== undefined && record.type.startsWith("factory-sim.")) {
      const kind = KIND_OF_TYPE[record.type.split(".")[1]];
      return kind !== undefined && kinds.includes(kind) ? kind : "other";
    }
    const shaped: Kind = isObject(value) && "reading" in value
      ? "reading"
      : isObject(value) && "faultId" in value
      ? "label"
      : "heartbeat";
    return kinds.includes(shaped) ? shaped : "other";
  }

  /**
   * A fault's start or end: a start is active until its end. An end without its start (a monitor
   * that joined mid-fault) is valid and changes nothing.
   */
  #label(value: unknown): boolean {
    if (
      !isObject(value) || typeof value.faultId !== "string" || value.faultId === "" ||
      typeof value.fault !== "string" || value.fault === "" || !FAULT_EVENTS.has(value.event as string) ||
      typeof value.factoryId !== "string" || typeof value.sensorId !== "string" ||
      typeof value.sodaName !== "string" || typeof value.timestamp !== "string" ||
      !Number.isFinite(Date.parse(value.timestamp))
    ) return false;
    const { faultId, fault, factoryId, sensorId, sodaName, timestamp } = value;
    if (value.event === "end") {
      this.#faults.delete(faultId);
      return true;
    }
    this.#faults.delete(faultId);
    this.#faults.set(faultId, { faultId, fault, factoryId, sensorId, sodaName, since: timestamp });
    if (this.#faults.size > MAX_ACTIVE_FAULTS) this.#faults.delete(this.#faults.keys().next().value!);
    return true;
  }

  #heartbeat(value: unknown, record: InRecord): boolean {
    if (!isObject(value) || typeof value.sensorId !== "string" || value.sensorId === "") return false;
    const sentMs = Number.isFinite(record.timestampMs) ? record.timestampMs : Date.parse(String(value.timestamp));
    // A heartbeat's own time, unless it is ahead of the monitor's clock (a run at --speed above 1).
    const seenMs = Number.isFinite(sentMs) ? Math.min(sentMs, record.receivedMs) : record.receivedMs;
    const sensorId = value.sensorId;
    let sensor = this.#sensors.get(sensorId);
    if (sensor === undefined) {
      sensor = {
        sensorId,
        tier: "",
        factoryId: factoryOf(sensorId),
        reported: "",
        heartbeats: 0,
        firstSeenMs: seenMs,
        lastSeenMs: seenMs,
        downMs: 0,
        status: "new",
      };
      this.#sensors.set(sensorId, sensor);
    }
    if (typeof value.tier === "string") sensor.tier = value.tier;
    if (typeof value.status === "string") sensor.reported = value.status;
    sensor.heartbeats++;
    if (seenMs > sensor.lastSeenMs) {
      sensor.downMs += Math.max(0, seenMs - sensor.lastSeenMs - this.#thresholds.deadAfterMs);
      sensor.lastSeenMs = seenMs;
    }
    if (seenMs < sensor.firstSeenMs) sensor.firstSeenMs = seenMs;
    return true;
  }

  #reading(value: unknown): boolean {
    if (
      !isObject(value) || typeof value.factoryId !== "string" || typeof value.sensorId !== "string" ||
      typeof value.sodaName !== "string" || typeof value.reading !== "number" || !Number.isFinite(value.reading) ||
      !Number.isSafeInteger(value.count) || !Number.isSafeInteger(value.total)
    ) return false;
    const { factoryId, sensorId, sodaName, reading } = value;
    const count = value.count as number;
    const total = value.total as number;
    const key = `${factoryId}\0${sensorId}\0${sodaName}`;
    let line = this.#lines.get(key);
    if (line === undefined) {
      line = {
        factoryId,
        sensorId,
        sodaName,
        received: 0,
        // Watching from the middle of a batch: the readings before the first one seen are not expected.
        expected: this.#readingsWhole ? total : Math.max(1, total - count + 1),
        count,
        total,
        batches: 1,
        sum: 0,
        min: reading,
        max: reading,
        last: reading,
        missing: this.#readingsWhole ? Math.max(0, count - 1) : 0,
        duplicates: 0,
        recent: [],
      };
      this.#lines.set(key, line);
    } else if (count === line.count) {
      line.duplicates++;
    } else if (count < line.count) {
      // A new batch (a continuous run): what the last one did not send is missing.
      line.missing += Math.max(0, line.total - line.count);
      line.expected += total;
      line.batches++;
      line.missing += count - 1;
    } else {
      line.missing += count - line.count - 1;
      if (total !== line.total) line.expected += total - line.total;
    }
    line.count = count;
    line.total = total;
    line.received++;
    line.sum += reading;
    line.last = reading;
    if (reading < line.min) line.min = reading;
    if (reading > line.max) line.max = reading;
    line.recent.push(reading);
    if (line.recent.length > RECENT_READINGS) line.recent.shift();
    return true;
  }

  /** The status of every sensor at `nowMs`; reports the sensors whose status changed since the last call. */
  tick(nowMs: number): StatusChange[] {
    const changes: StatusChange[] = [];
    for (const sensor of this.#sensors.values()) {
      const age = Math.max(0, nowMs - sensor.lastSeenMs);
      const status = this.#status(age);
      if (status !== sensor.status) {
        changes.push({
          type: "sensor-status",
          time: new Date(nowMs).toISOString(),
          sensorId: sensor.sensorId,
          factoryId: sensor.factoryId,
          from: sensor.status,
          to: status,
          lastHeartbeatAgeMs: Math.round(age),
        });
        sensor.status = status;
      }
    }
    return changes.sort((a, b) => compareIds(a.sensorId, b.sensorId));
  }

  /** Everything at `nowMs`; `recent` adds each line's last readings. */
  snapshot(nowMs: number, { recent = false }: { recent?: boolean } = {}): Snapshot {
    const rates = this.#rates.sample(
      nowMs,
      Object.fromEntries([...this.#counts].map(([topic, counts]) => [topic, counts.received])),
    );
    const topics: Record<string, TopicView> = {};
    for (const [topic, { received, invalid }] of this.#counts) {
      topics[topic] = { received, rate: round(rates[topic] ?? 0, 2), invalid };
    }
    const sensors: Record<SensorStatus, number> = { alive: 0, late: 0, dead: 0 };
    const factories = new Map<string, { id: string; sensors: SensorView[]; lines: LineView[] }>();
    const factory = (id: string) => {
      let entry = factories.get(id);
      if (entry === undefined) factories.set(id, entry = { id, sensors: [], lines: [] });
      return entry;
    };
    for (const sensor of this.#sensors.values()) {
      const view = this.#sensorView(sensor, nowMs);
      sensors[view.status]++;
      factory(view.factoryId).sensors.push(view);
    }
    for (const line of this.#lines.values()) {
      factory(line.factoryId).lines.push({
        factoryId: line.factoryId,
        sensorId: line.sensorId,
        sodaName: line.sodaName,
        received: line.received,
        expected: line.expected,
        count: line.count,
        total: line.total,
        batches: line.batches,
        min: line.min,
        mean: round(line.sum / line.received, 3),
        max: line.max,
        last: line.last,
        missing: line.missing,
        duplicates: line.duplicates,
        ...(recent ? { recent: [...line.recent] } : {}),
      });
    }
    const sorted = [...factories.values()].sort((a, b) => compareIds(a.id, b.id));
    for (const entry of sorted) {
      entry.sensors.sort((a, b) => compareIds(a.sensorId, b.sensorId));
      entry.lines.sort((a, b) => compareIds(a.sensorId, b.sensorId) || a.sodaName.localeCompare(b.sodaName));
    }
    const activeFaults = [...this.#faults.values()].sort((a, b) =>
      compareIds(a.factoryId, b.factoryId) || compareIds(a.sensorId, b.sensorId) ||
      a.sodaName.localeCompare(b.sodaName) || compareIds(a.faultId, b.faultId)
    );
    return {
      type: "snapshot",
      time: new Date(nowMs).toISOString(),
      topics,
      sensors,
      factories: sorted,
      activeFaults,
    };
  }

  /** The last readings of a line (for the dashboard's sparklines of the cards it shows). */
  recent(factoryId: string, sensorId: string, sodaName: string): number[] {
    return [...(this.#lines.get(`${factoryId}\0${sensorId}\0${sodaName}`)?.recent ?? [])];
  }

  #sensorView(sensor: SensorState, nowMs: number): SensorView {
    const age = Math.max(0, nowMs - sensor.lastSeenMs);
    const { deadAfterMs } = this.#thresholds;
    const span = nowMs - sensor.firstSeenMs;
    const down = sensor.downMs + Math.max(0, age - deadAfterMs);
    return {
      sensorId: sensor.sensorId,
      tier: sensor.tier,
      factoryId: sensor.factoryId,
      status: this.#status(age),
      lastHeartbeatAgeMs: Math.round(age),
      uptimePct: span > 0 ? round(100 * Math.max(0, 1 - down / span), 1) : 100,
      heartbeats: sensor.heartbeats,
      reported: sensor.reported,
    };
  }

  #status(ageMs: number): SensorStatus {
    const { lateAfterMs, deadAfterMs } = this.#thresholds;
    return ageMs > deadAfterMs ? "dead" : ageMs > lateAfterMs ? "late" : "alive";
  }
}

/** `S12-3` belongs to `F12`; an id of another shape to "?" (the monitor reads any producer's records). */
export function factoryOf(sensorId: string): string {
  const match = /^S(\d+)-\d+$/.exec(sensorId);
  return match ? `F${match[1]}` : "?";
}

/** Orders ids by their numbers: F2 before F10, S1-2 before S1-10. */
export function compareIds(a: string, b: string): number {
  return ID_ORDER.compare(a, b);
}

/** One collator for every comparison (`localeCompare` with options builds one per call). */
const ID_ORDER = new Intl.Collator("en", { numeric: true });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
