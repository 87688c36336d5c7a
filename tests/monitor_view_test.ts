import assert from "node:assert/strict";
import { type InRecord, MonitorState } from "../lib/monitor/state.ts";
import {
  dashboardViews,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  parseViewQuery,
  type ViewQuery,
} from "../lib/monitor/view.ts";

const T0 = Date.UTC(2026, 0, 1);
const TOPICS = { readings: "R", heartbeats: "H", labels: "L" };

function record(topic: string, value: unknown, atMs = T0): InRecord {
  return { topic, value: JSON.stringify(value), timestampMs: atMs, receivedMs: T0 };
}

/** 60 factories of 3 sensors, a line on each first sensor; F7's S7-2 silent for 10 s; a fault on F12. */
function plant(): MonitorState {
  const state = new MonitorState(TOPICS, { lateAfterMs: 2_500, deadAfterMs: 5_000 });
  for (let f = 1; f <= 60; f++) {
    for (let s = 1; s <= 3; s++) {
      const silent = f === 7 && s === 2;
      state.add(record("H", { sensorId: `S${f}-${s}`, tier: "1", status: "active" }, silent ? T0 - 10_000 : T0));
    }
    for (let count = 1; count <= 3; count++) {
      state.add(
        record("R", { factoryId: `F${f}`, sensorId: `S${f}-1`, sodaName: `Soda${f}`, reading: count, count, total: 9 }),
      );
    }
  }
  state.add(record("L", {
    faultId: "F12/0/0#1",
    fault: "stuck",
    event: "start",
    factoryId: "F12",
    sensorId: "S12-1",
    sodaName: "Soda12",
    timestamp: "2026-01-01T00:00:00.000Z",
  }));
  return state;
}

function views(state: MonitorState) {
  return dashboardViews(state.snapshot(T0), {
    readingsTopic: "R",
    recent: (line) => state.recent(line.factoryId, line.sensorId, line.sodaName),
  });
}

const query = (part: Partial<ViewQuery>): ViewQuery => ({ ...parseViewQuery(new URLSearchParams()), ...part });

Deno.test("dashboard view: the summary of the whole plant and one page of cards, with their recent readings", () => {
  const state = plant();
  const view = views(state)(query({}));
  assert.deepEqual(view.summary.sensors, { alive: 179, late: 0, dead: 1 });
  assert.equal(view.summary.factories, 60);
  assert.equal(view.summary.sensorCount, 180);
  assert.equal(view.summary.lines, 60);
  assert.equal(view.summary.activeFaults, 1);
  assert.equal(view.matching, 60);
  assert.equal(view.pages, 3);
  assert.deepEqual(view.factories.map((f) => f.id), Array.from({ length: DEFAULT_PAGE_SIZE }, (_, i) => `F${i + 1}`));
  assert.deepEqual(view.factories[0].lines[0].recent, [1, 2, 3]);
  assert.deepEqual(view.factories[11].faults.map((fault) => fault.faultId), ["F12/0/0#1"]);
  assert.deepEqual(view.factories[0].faults, []);
  // The last page holds the rest; a page past it is the last.
  assert.deepEqual(views(state)(query({ page: 3 })).factories.map((f) => f.id).slice(0, 2), ["F49", "F50"]);
  const past = views(state)(query({ page: 99 }));
  assert.equal(past.query.page, 3);
  assert.equal(past.factories.length, 12);
});

Deno.test("dashboard view: search by factory, sensor or soda; by sensor status; only factories with faults", () => {
  const state = plant();
  const ids = (part: Partial<ViewQuery>) => views(state)(query(part)).factories.map((f) => f.id);
  assert.deepEqual(ids({ search: "s42-3" }), ["F42"]);
  assert.deepEqual(ids({ search: "F5" }), ["F5", "F50", "F51", "F52", "F53", "F54", "F55", "F56", "F57", "F58", "F59"]);
  assert.deepEqual(ids({ search: "soda33" }), ["F33"]);
  assert.deepEqual(ids({ status: "dead" }), ["F7"]);
  assert.deepEqual(ids({ status: "late" }), []);
  assert.deepEqual(ids({ faulty: true }), ["F12"]);
  assert.deepEqual(ids({ faulty: true, status: "dead" }), []);
  const none = views(state)(query({ search: "nothing" }));
  assert.equal(none.matching, 0);
  assert.equal(none.pages, 1);
  assert.equal(none.query.page, 1);
});

Deno.test("dashboard view: the query of a page's address, bad values falling back to defaults", () => {
  const parse = (text: string) => parseViewQuery(new URLSearchParams(text));
  assert.deepEqual(parse(""), { search: "", status: "all", faulty: false, page: 1, size: DEFAULT_PAGE_SIZE });
  assert.deepEqual(parse("search=%20S1-2%20&status=dead&faulty=1&page=3&size=10"), {
    search: "S1-2",
    status: "dead",
    faulty: true,
    page: 3,
    size: 10,
  });
  assert.deepEqual(parse("status=on-fire&faulty=yes&page=-1&size=0"), parse(""));
  assert.equal(parse("size=100000").size, MAX_PAGE_SIZE);
  assert.equal(parse("page=1.5").page, 1);
  assert.equal(parse(`search=${"x".repeat(500)}`).search.length, 100);
});
