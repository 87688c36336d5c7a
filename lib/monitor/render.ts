/**
 * The monitor's table for a terminal or a log: a header with the topics' rates, the sensors by
 * status and the active faults, then a row per sensor (with the faults on its lines), a row per
 * line (marked `!` while a fault is active on it) and a row per active fault. Pure: a snapshot in,
 * lines of text out.
 */
import { shown } from "../text.ts";
import type { FaultView, LineView, SensorStatus, SensorView, Snapshot } from "./state.ts";

/** The most characters of a value from a record (sensor, tier, factory, soda, topic) the table shows. */
const FIELD_MAX = 40;

/** A value read from Kafka, as the table shows it: escaped (inert on a terminal) and bounded. */
function field(value: string): string {
  return shown(value, FIELD_MAX);
}

/** How to render: visible columns, ANSI colour, most rows (undefined: all; sensors and lines share them). */
export interface MonitorRenderOptions {
  width?: number;
  color?: boolean;
  maxRows?: number;
}

const STYLE: Record<SensorStatus, string> = { alive: "\x1b[32m", late: "\x1b[33m", dead: "\x1b[31m" };
const BOLD = "\x1b[1m";
const RESET = "\x1b[0m";
/** Dead sensors first, then late ones, then the alive ones. */
const RANK: Record<SensorStatus, number> = { dead: 0, late: 1, alive: 2 };
/** Most rows of the active faults' list (the last one "... and N more" when there are more). */
const FAULT_ROWS = 5;

/** The lines of the table for `snapshot`, none wider than `width` visible columns. */
export function renderMonitor(
  snapshot: Snapshot,
  { width = 100, color = false, maxRows }: MonitorRenderOptions = {},
): string[] {
  const paint = (style: string, text: string) => (color ? `${style}${text}${RESET}` : text);
  const cut = (text: string) => text.length > width ? text.slice(0, width) : text;
  const { alive, late, dead } = snapshot.sensors;
  const faults = snapshot.activeFaults;
  const out: string[] = [];
  const head = cut(
    `factory-sim monitor  ${snapshot.time.slice(11, 19)}Z  sensors: ${alive} alive, ${late} late, ${dead} dead${
      faults.length > 0 ? `; ${faults.length} fault${faults.length === 1 ? "" : "s"}` : ""
    }`,
  );
  out.push(head.replace(/^factory-sim monitor/, (title) => paint(BOLD, title)));
  const topics = Object.entries(snapshot.topics).map(([topic, view]) =>
    `${field(topic)} ${formatRate(view.rate)}/s (${view.received}${
      view.invalid > 0 ? `, ${view.invalid} invalid` : ""
    })`
  );
  out.push(cut(`topics: ${topics.join(", ")}`));

  const sensors = snapshot.factories.flatMap((factory) => factory.sensors)
    .sort((a, b) => RANK[a.status] - RANK[b.status]);
  const lines = snapshot.factories.flatMap((factory) => factory.lines);
  // The kinds of the faults active on each sensor and on each line.
  const bySensor = new Map<string, string[]>();
  const byLine = new Set<string>();
  for (const fault of faults) {
    const kinds = bySensor.get(fault.sensorId) ?? [];
    if (!kinds.includes(fault.fault)) kinds.push(fault.fault);
    bySensor.set(fault.sensorId, kinds);
    byLine.add(lineKey(fault));
  }
  // The active faults' list (a blank line, a heading and its rows) comes off the top.
  const faultRows = Math.min(faults.length, FAULT_ROWS);
  // Rows left for the two tables (each has a blank line and a heading): sensors first, up to half.
  let sensorRows = sensors.length;
  let lineRows = lines.length;
  if (maxRows !== undefined) {
    const room = Math.max(2, maxRows - out.length - 4 - (faultRows > 0 ? faultRows + 2 : 0));
    const half = Math.ceil(room / 2);
    sensorRows = Math.min(sensors.length, Math.max(half, room - lines.length));
    lineRows = Math.min(lines.length, room - sensorRows);
  }

  out.push("");
  out.push(cut(sensorHeading()));
  if (sensors.length === 0) out.push(cut("(no heartbeats yet)"));
  const shownSensors = more(sensors, sensorRows);
  for (const sensor of shownSensors.rows) {
    out.push(paintStatus(cut(sensorRow(sensor, bySensor.get(sensor.sensorId))), sensor.status, paint));
  }
  if (shownSensors.hidden > 0) out.push(cut(`... and ${shownSensors.hidden} more sensors`));

  out.push("");
  out.push(cut(lineHeading()));
  if (lines.length === 0) out.push(cut("(no readings yet)"));
  const shownLines = more(lines, lineRows);
  for (const line of shownLines.rows) out.push(cut(lineRow(line, byLine.has(lineKey(line)))));
  if (shownLines.hidden > 0) out.push(cut(`... and ${shownLines.hidden} more lines`));

  if (faults.length > 0) {
    out.push("");
    out.push(cut(faultHeading()));
    const shownFaults = more(faults, faultRows);
    for (const fault of shownFaults.rows) out.push(cut(faultRow(fault)));
    if (shownFaults.hidden > 0) out.push(cut(`... and ${shownFaults.hidden} more faults`));
  }
  return out;
}

function lineKey(line: { factoryId: string; sensorId: string; sodaName: string }): string {
  return `${line.factoryId}\0${line.sensorId}\0${line.sodaName}`;
}

/** The first rows, leaving one for "... and N more" when some do not fit. */
function more<T>(rows: T[], room: number): { rows: T[]; hidden: number } {
  if (rows.length <= room) return { rows, hidden: 0 };
  const shown = Math.max(0, room - 1);
  return { rows: rows.slice(0, shown), hidden: rows.length - shown };
}

function sensorHeading(): string {
  return `${"SENSOR".padEnd(9)} ${"TIER".padEnd(6)} ${"STATUS".padEnd(6)} ${"LAST HB".padStart(8)} ${
    "UPTIME".padStart(7)
  } ${"BEATS".padStart(7)} FAULTS`;
}

function sensorRow(sensor: SensorView, faults: string[] = []): string {
  return `${field(sensor.sensorId).padEnd(9)} ${field(sensor.tier).padEnd(6)} ${sensor.status.padEnd(6)} ${
    formatAge(sensor.lastHeartbeatAgeMs).padStart(8)
  } ${`${sensor.uptimePct.toFixed(1)}%`.padStart(7)} ${String(sensor.heartbeats).padStart(7)}${
    faults.length > 0 ? ` ${faults.map(field).join(",")}` : ""
  }`.trimEnd();
}

function paintStatus(row: string, status: SensorStatus, paint: (style: string, text: string) => string): string {
  // The status word only (columns 17-22), so the row stays readable without colour.
  const at = 17;
  return row.length < at ? row : row.slice(0, at) + paint(STYLE[status], row.slice(at, at + 6)) + row.slice(at + 6);
}

function lineHeading(): string {
  return `  ${"LINE".padEnd(26)} ${"RECEIVED".padStart(13)} ${"MIN".padStart(7)} ${"MEAN".padStart(7)} ${
    "MAX".padStart(7)
  } ${"LAST".padStart(7)} ${"MISSING".padStart(7)} ${"DUPS".padStart(5)}`;
}

/** A line's row: `!` first while a fault is active on it. */
function lineRow(line: LineView, faulty = false): string {
  const name = `${field(line.factoryId)} ${field(line.sensorId)} ${field(line.sodaName)}`;
  return `${faulty ? "!" : " "} ${(name.length > 26 ? `${name.slice(0, 25)}~` : name).padEnd(26)} ${
    `${line.received}/${line.expected}`.padStart(13)
  } ${formatValue(line.min).padStart(7)} ${formatValue(line.mean).padStart(7)} ${formatValue(line.max).padStart(7)} ${
    formatValue(line.last).padStart(7)
  } ${String(line.missing).padStart(7)} ${String(line.duplicates).padStart(5)}`;
}

function faultHeading(): string {
  return `${"ACTIVE FAULT".padEnd(12)} ${"LINE".padEnd(28)} ${"SINCE".padEnd(9)} ID`;
}

function faultRow(fault: FaultView): string {
  const line = `${field(fault.factoryId)} ${field(fault.sensorId)} ${field(fault.sodaName)}`;
  // The start's time of day (HH:MM:SSZ) when it is RFC 3339, else as much of it as fits.
  const since = /T(\d\d:\d\d:\d\d)/.exec(fault.since)?.[1];
  return `${field(fault.fault).padEnd(12)} ${(line.length > 28 ? `${line.slice(0, 27)}~` : line).padEnd(28)} ${
    (since === undefined ? field(fault.since).slice(0, 9) : `${since}Z`).padEnd(9)
  } ${field(fault.faultId)}`;
}

function formatAge(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 100) return `${seconds.toFixed(1)} s`;
  if (seconds < 6_000) return `${Math.round(seconds / 60)} min`;
  if (seconds < 360_000) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

function formatValue(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toFixed(2);
}

function formatRate(rate: number): string {
  return rate >= 100 ? String(Math.round(rate)) : rate.toFixed(1);
}
