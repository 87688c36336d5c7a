/**
 * The monitor's table for a terminal or a log: a header with the topics' rates and the sensors by
 * status, then a row per sensor and a row per line. Pure: a snapshot in, lines of text out.
 */
import { shown } from "../text.ts";
import type { LineView, SensorStatus, SensorView, Snapshot } from "./state.ts";

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

/** The lines of the table for `snapshot`, none wider than `width` visible columns. */
export function renderMonitor(
  snapshot: Snapshot,
  { width = 100, color = false, maxRows }: MonitorRenderOptions = {},
): string[] {
  const paint = (style: string, text: string) => (color ? `${style}${text}${RESET}` : text);
  const cut = (text: string) => text.length > width ? text.slice(0, width) : text;
  const { alive, late, dead } = snapshot.sensors;
  const out: string[] = [];
  const head = cut(
    `factory-sim monitor  ${snapshot.time.slice(11, 19)}Z  sensors: ${alive} alive, ${late} late, ${dead} dead`,
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
  // Rows left for the two tables (each has a blank line and a heading): sensors first, up to half.
  let sensorRows = sensors.length;
  let lineRows = lines.length;
  if (maxRows !== undefined) {
    const room = Math.max(2, maxRows - out.length - 4);
    const half = Math.ceil(room / 2);
    sensorRows = Math.min(sensors.length, Math.max(half, room - lines.length));
    lineRows = Math.min(lines.length, room - sensorRows);
  }

  out.push("");
  out.push(cut(sensorHeading()));
  if (sensors.length === 0) out.push(cut("(no heartbeats yet)"));
  const shownSensors = more(sensors, sensorRows);
  for (const sensor of shownSensors.rows) out.push(paintStatus(cut(sensorRow(sensor)), sensor.status, paint));
  if (shownSensors.hidden > 0) out.push(cut(`... and ${shownSensors.hidden} more sensors`));

  out.push("");
  out.push(cut(lineHeading()));
  if (lines.length === 0) out.push(cut("(no readings yet)"));
  const shownLines = more(lines, lineRows);
  for (const line of shownLines.rows) out.push(cut(lineRow(line)));
  if (shownLines.hidden > 0) out.push(cut(`... and ${shownLines.hidden} more lines`));
  return out;
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
  } ${"BEATS".padStart(7)}`;
}

function sensorRow(sensor: SensorView): string {
  return `${field(sensor.sensorId).padEnd(9)} ${field(sensor.tier).padEnd(6)} ${sensor.status.padEnd(6)} ${
    formatAge(sensor.lastHeartbeatAgeMs).padStart(8)
  } ${`${sensor.uptimePct.toFixed(1)}%`.padStart(7)} ${String(sensor.heartbeats).padStart(7)}`;
}

function paintStatus(row: string, status: SensorStatus, paint: (style: string, text: string) => string): string {
  // The status word only (columns 17-22), so the row stays readable without colour.
  const at = 17;
  return row.length < at ? row : row.slice(0, at) + paint(STYLE[status], row.slice(at, at + 6)) + row.slice(at + 6);
}

function lineHeading(): string {
  return `${"LINE".padEnd(28)} ${"RECEIVED".padStart(13)} ${"MIN".padStart(7)} ${"MEAN".padStart(7)} ${
    "MAX".padStart(7)
  } ${"LAST".padStart(7)} ${"MISSING".padStart(7)} ${"DUPS".padStart(5)}`;
}

function lineRow(line: LineView): string {
  const name = `${field(line.factoryId)} ${field(line.sensorId)} ${field(line.sodaName)}`;
  return `${(name.length > 28 ? `${name.slice(0, 27)}~` : name).padEnd(28)} ${
    `${line.received}/${line.expected}`.padStart(13)
  } ${formatValue(line.min).padStart(7)} ${formatValue(line.mean).padStart(7)} ${formatValue(line.max).padStart(7)} ${
    formatValue(line.last).padStart(7)
  } ${String(line.missing).padStart(7)} ${String(line.duplicates).padStart(5)}`;
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
