/**
 * The live status block shown on stderr when it is a terminal: a line per factory with a progress
 * bar per production line, messages per second per topic, and the sink's state. `renderStatus` is
 * pure (a snapshot in, the lines to draw out); `LiveStatus` redraws it in place and keeps log lines
 * above it.
 */
import { formatRate } from "./rates.ts";
import { shown } from "./text.ts";

/** What the sink is doing, as the status shows it. */
export type SinkStatus =
  | { state: "connected"; name: string }
  | { state: "fallback" }
  | { state: "spooling"; records: number }
  | { state: "stalled"; records: number };

/**
 * The sink's state: the one rule for it, which the live status shows and `/readyz` answers from
 * (`readiness` in metrics.ts). `fellBack` when `--sink auto` writes to the console because Kafka
 * was unreachable; a sink that stopped being acknowledged is spooling (with a spool) or stalled
 * (without one), with the records it holds; otherwise connected.
 */
export function sinkStatus(
  sink: { readonly name: string; readonly pending: number; readonly stalled?: boolean },
  { fellBack, spool }: { fellBack: boolean; spool: boolean },
): SinkStatus {
  if (fellBack) return { state: "fallback" };
  if (sink.stalled) {
    return spool ? { state: "spooling", records: sink.pending } : { state: "stalled", records: sink.pending };
  }
  return { state: "connected", name: sink.name };
}

/** What the status shows at one moment. */
export interface StatusSnapshot {
  /** Per factory, its lines' progress in the current batch (`count` of `total` readings). */
  factories: { id: string; lines: { count: number; total: number }[] }[];
  /** Messages per second per topic, over the last few seconds of wall time. */
  rates: Record<string, number>;
  sink: SinkStatus;
  /** Simulated time since the run started. */
  elapsedMs: number;
  /** `--rate`: the records a second asked for, shown against the rates' total; undefined without it. */
  targetRate?: number;
}

/** How to render: visible columns per line, ANSI colour, most factory lines before "... and M more". */
export interface RenderOptions {
  width?: number;
  color?: boolean;
  maxFactories?: number;
}

/** Plants with more factories than this show the first ones and "... and M more". */
export const STATUS_MAX_FACTORIES = 20;
/** The most characters of a factory id the block shows. */
const ID_MAX = 24;
/** Cells of one line's progress bar. */
const BAR_CELLS = 8;

const ANSI = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  cyan: "\x1b[36m",
};
type Style = Exclude<keyof typeof ANSI, "reset">;

/** Whether colour is allowed by the environment: a non-empty `NO_COLOR` turns it off (no-color.org). */
export function colorAllowed(env: { NO_COLOR?: string }): boolean {
  return env.NO_COLOR === undefined || env.NO_COLOR === "";
}

/**
 * The lines of the status block for `snapshot`, none longer than `width` visible columns: a header
 * with the simulated time and the totals, a line per factory (the first `maxFactories`, then
 * "... and M more factories"), the rates and the sink's state.
 */
export function renderStatus(
  snapshot: StatusSnapshot,
  { width = 80, color = false, maxFactories = STATUS_MAX_FACTORIES }: RenderOptions = {},
): string[] {
  const paint = (style: Style, text: string) => color && text !== "" ? `${ANSI[style]}${text}${ANSI.reset}` : text;
  const out: string[] = [];
  let lines = 0;
  let done = 0;
  let count = 0;
  let total = 0;
  for (const factory of snapshot.factories) {
    for (const line of factory.lines) {
      lines++;
      if (line.count >= line.total) done++;
      count += Math.min(line.count, line.total);
      total += line.total;
    }
  }
  const factories = snapshot.factories.length;
  out.push(fit(
    [
      { text: "factory-sim", style: "bold" },
      { text: ` ${formatElapsed(snapshot.elapsedMs)} simulated: ` },
      { text: `${factories} ${factories === 1 ? "factory" : "factories"}, ` },
      { text: `${done}/${lines} lines done, ${count}/${total} readings` },
    ],
    width,
    paint,
  ));
  const visible = snapshot.factories.slice(0, Math.max(0, maxFactories));
  // Ids and topics are drawn escaped and bounded: the block's own codes are the only ones on the terminal.
  const ids = visible.map((factory) => shown(factory.id, ID_MAX));
  const idWidth = Math.max(0, ...ids.map((id) => id.length));
  for (const [i, factory] of visible.entries()) {
    const parts: Part[] = [{ text: ids[i].padEnd(idWidth) }];
    if (factory.lines.length === 0) parts.push({ text: "  no lines", style: "dim" });
    for (const line of factory.lines) {
      const filled = line.total > 0 ? Math.min(BAR_CELLS, Math.floor(BAR_CELLS * line.count / line.total)) : 0;
      const complete = line.count >= line.total;
      parts.push(
        { text: "  [" },
        { text: "#".repeat(filled), style: complete ? "green" : "cyan" },
        { text: `${"-".repeat(BAR_CELLS - filled)}] ${line.count}/${line.total}`, atomic: true },
      );
    }
    out.push(fit(parts, width, paint));
  }
  if (factories > visible.length) {
    out.push(fit([{ text: `... and ${factories - visible.length} more factories` }], width, paint));
  }
  const rates = Object.entries(snapshot.rates).map(([topic, rate]) => `${shown(topic)} ${formatRate(rate)}/s`);
  const parts: Part[] = [{ text: "rates: " }];
  if (snapshot.targetRate !== undefined) {
    // First, so a narrow terminal cuts the topics rather than the rate asked for.
    const total = Object.values(snapshot.rates).reduce((sum, rate) => sum + rate, 0);
    parts.push({ text: `${formatRate(total)}/s of --rate ${formatRate(snapshot.targetRate)}` }, {
      text: rates.length > 0 ? ": " : "",
    });
  }
  parts.push({ text: rates.length > 0 ? rates.join(", ") : snapshot.targetRate === undefined ? "-" : "" });
  out.push(fit(parts, width, paint));
  out.push(fit([{ text: "sink: " }, sinkPart(snapshot.sink)], width, paint));
  return out;
}

interface Part {
  text: string;
  style?: Style;
  /** Ends a unit that is dropped whole (with the parts since the previous unit) when it does not fit. */
  atomic?: boolean;
}

function sinkPart(sink: SinkStatus): Part {
  switch (sink.state) {
    case "connected":
      return { text: `${shown(sink.name)} connected`, style: "green" };
    case "fallback":
      return { text: "falling back to console (Kafka unreachable)", style: "yellow" };
    case "spooling":
      return { text: `Kafka not acknowledging: spooling (${sink.records} records)`, style: "yellow" };
    case "stalled":
      return { text: `Kafka not acknowledging: stalled (${sink.records} records waiting)`, style: "red" };
  }
}

/**
 * Joins `parts` into at most `width` visible columns. Bars that do not fit are dropped whole and
 * replaced by " ..."; other text is cut.
 */
function fit(parts: Part[], width: number, paint: (style: Style, text: string) => string): string {
  let out = "";
  let used = 0;
  let unit = "";
  let unitWidth = 0;
  const hasUnits = parts.some((part) => part.atomic);
  for (const [i, part] of parts.entries()) {
    const text = part.style ? paint(part.style, part.text) : part.text;
    if (hasUnits && i > 0) {
      unit += text;
      unitWidth += part.text.length;
      if (!part.atomic) continue;
      // Room for this unit and, unless it is the last, for " ..." after it.
      const last = !parts.slice(i + 1).some((rest) => rest.atomic);
      if (used + unitWidth + (last ? 0 : 4) > width) {
        return used + 4 <= width ? `${out} ...` : out;
      }
      out += unit;
      used += unitWidth;
      unit = "";
      unitWidth = 0;
      continue;
    }
    const room = width - used;
    if (part.text.length > room) {
      return out + (part.style ? paint(part.style, part.text.slice(0, room)) : part.text.slice(0, room));
    }
    out += text;
    used += part.text.length;
  }
  return out;
}

function formatElapsed(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor(whole / 60) % 60;
  const s = whole % 60;
  const mmss = `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}
