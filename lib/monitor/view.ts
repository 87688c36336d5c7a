/**
 * What the dashboard shows at one moment, for one page's query: the plant's summary (sensors by
 * status, factories, sensors, lines, readings/s, active faults) and one page of the factories that
 * match its filter (search, sensor status, "has fault"), each with its sensors, lines (with their
 * last readings) and faults. A page of a 10,000-factory plant gets its own cards only, never the
 * whole plant. Pure: a snapshot and a query in, a view out.
 */
import type { FaultView, LineView, SensorStatus, SensorView, Snapshot, TopicView } from "./state.ts";

/** Which factories a page shows: a search, a sensor status, only those with faults, and which page of them. */
export interface ViewQuery {
  /** Case-insensitive part of a factory id, sensor id or soda name; "" for all. */
  search: string;
  /** Factories with at least one sensor in this status; "all" for any. */
  status: SensorStatus | "all";
  /** Only factories with an active fault. */
  faulty: boolean;
  /** 1-based; past the last page means the last page. */
  page: number;
  /** Factory cards per page. */
  size: number;
}

/** Cards per page unless the page asks for another number; the most it may ask for. */
export const DEFAULT_PAGE_SIZE = 24;
export const MAX_PAGE_SIZE = 100;
/** The longest search kept (a longer one is cut). */
const MAX_SEARCH = 100;
const STATUSES = new Set(["all", "alive", "late", "dead"]);

/** The plant at a glance. */
export interface DashboardSummary {
  time: string;
  topics: Record<string, TopicView>;
  sensors: Record<SensorStatus, number>;
  factories: number;
  sensorCount: number;
  lines: number;
  /** Records per second on the readings topic. */
  readingsPerSecond: number;
  activeFaults: number;
}

/** A factory's card: its sensors, its lines with their last readings, and its active faults. */
export interface FactoryCard {
  id: string;
  sensors: SensorView[];
  lines: LineView[];
  faults: FaultView[];
}

/** What one page gets each interval. */
export interface DashboardView {
  type: "view";
  summary: DashboardSummary;
  /** The query as understood (page clamped to the pages there are). */
  query: ViewQuery;
  /** Factories that match the filter, and the pages they fill. */
  matching: number;
  pages: number;
  factories: FactoryCard[];
}

/** The query of a page's address (`?search=S12-3&status=dead&faulty=1&page=2&size=24`); bad values fall back to defaults. */
export function parseViewQuery(params: URLSearchParams): ViewQuery {
  const status = params.get("status") ?? "all";
  const whole = (name: string, fallback: number, max: number) => {
    const value = Number(params.get(name) ?? fallback);
    return Number.isSafeInteger(value) && value >= 1 ? Math.min(value, max) : fallback;
  };
  return {
    search: (params.get("search") ?? "").trim().slice(0, MAX_SEARCH),
    status: STATUSES.has(status) ? status as ViewQuery["status"] : "all",
    faulty: params.get("faulty") === "1",
    page: whole("page", 1, Number.MAX_SAFE_INTEGER),
    size: whole("size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
  };
}

/** The summary of `snapshot`. */
export function dashboardSummary(snapshot: Snapshot, readingsTopic: string): DashboardSummary {
  let sensorCount = 0;
  let lines = 0;
  for (const factory of snapshot.factories) {
    sensorCount += factory.sensors.length;
    lines += factory.lines.length;
  }
  return {
    time: snapshot.time,
    topics: snapshot.topics,
    sensors: snapshot.sensors,
    factories: snapshot.factories.length,
    sensorCount,
    lines,
    readingsPerSecond: snapshot.topics[readingsTopic]?.rate ?? 0,
    activeFaults: snapshot.activeFaults.length,
  };
}

/**
 * Ready to answer the queries of every open page from one snapshot: the summary and the faults by
 * factory are worked out once; `recent` gives a line's last readings for the cards shown.
 */
export function dashboardViews(
  snapshot: Snapshot,
  { readingsTopic, recent }: { readingsTopic: string; recent: (line: LineView) => number[] },
): (query: ViewQuery) => DashboardView {
  const summary = dashboardSummary(snapshot, readingsTopic);
  const faultsOf = new Map<string, FaultView[]>();
  for (const fault of snapshot.activeFaults) {
    const list = faultsOf.get(fault.factoryId);
    if (list === undefined) faultsOf.set(fault.factoryId, [fault]);
    else list.push(fault);
  }
  return (query) => {
    const search = query.search.toLowerCase();
    const matches = snapshot.factories.filter((factory) =>
      (!query.faulty || faultsOf.has(factory.id)) &&
      (query.status === "all" || factory.sensors.some((sensor) => sensor.status === query.status)) &&
      (search === "" || factory.id.toLowerCase().includes(search) ||
        factory.sensors.some((sensor) => sensor.sensorId.toLowerCase().includes(search)) ||
        factory.lines.some((line) =>
          line.sensorId.toLowerCase().includes(search) || line.sodaName.toLowerCase().includes(search)
        ))
    );
    const pages = Math.max(1, Math.ceil(matches.length / query.size));
    const page = Math.min(query.page, pages);
    const shown = matches.slice((page - 1) * query.size, page * query.size);
    return {
      type: "view",
      summary,
      query: { ...query, page },
      matching: matches.length,
      pages,
      factories: shown.map((factory) => ({
        id: factory.id,
        sensors: factory.sensors,
        lines: factory.lines.map((line) => ({ ...line, recent: recent(line) })),
        faults: faultsOf.get(factory.id) ?? [],
      })),
    };
  };
}
