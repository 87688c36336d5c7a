/**
 * The dashboard's one page: HTML, CSS and a small script that renders each view the server pushes
 * over Server-Sent Events (`/events?QUERY`): the plant's summary, and the cards of one page of the
 * factories its search and filters match. A card is drawn again only when its markup changed, and
 * only the cards of the page shown exist. No build step and nothing fetched from elsewhere.
 * Elements carry `data-*` attributes (factory, line, sensor, status, fault) that tests select by;
 * `body[data-render-ms]` and `body[data-redrawn]` tell how long the last view took to draw and how
 * many cards it drew.
 */
import { shown, SHOWN_MAX, UNSAFE_CHARACTERS } from "../text.ts";

/** The page, for a monitor of `brokers`. */
export function dashboardPage({ brokers }: { brokers: string }): string {
  return PAGE.replace("{{BROKERS}}", escapeHtml(shown(brokers, 200)));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>factory-sim monitor</title>
<style>
  :root {
    --bg: #0f1419; --card: #182029; --line: #243040; --text: #e6edf3; --muted: #8b98a5;
    --alive: #2ea043; --late: #d29922; --dead: #da3633; --accent: #58a6ff;
  }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--text);
         font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  header { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: baseline;
           padding: 14px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; font-weight: 600; }
  header .muted { color: var(--muted); }
  .pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
          background: var(--line); color: var(--muted); }
  .pill.live { background: rgba(46,160,67,.2); color: #56d364; }
  .pill.down { background: rgba(218,54,51,.2); color: #ff7b72; }
  .stats { display: flex; flex-wrap: wrap; gap: 8px 20px; padding: 10px 20px; color: var(--muted); }
  .stats b { color: var(--text); font-variant-numeric: tabular-nums; }
  .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 4px; }
  .dot.alive { background: var(--alive); } .dot.late { background: var(--late); } .dot.dead { background: var(--dead); }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 14px; padding: 6px 20px 20px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  .card h2 { font-size: 16px; margin: 0 0 8px; display: flex; justify-content: space-between; }
  .card h2 small { color: var(--muted); font-weight: 400; font-size: 12px; }
  .tiles { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 10px; }
  .tile { min-width: 74px; padding: 4px 8px; border-radius: 6px; font-size: 12px; color: #fff; }
  .tile.alive { background: var(--alive); } .tile.late { background: var(--late); } .tile.dead { background: var(--dead); }
  .tile .age { display: block; opacity: .85; font-size: 11px; font-variant-numeric: tabular-nums; }
  .line { display: grid; grid-template-columns: 1fr 120px; gap: 2px 10px; padding: 6px 0; border-top: 1px solid var(--line); }
  .line .name { font-weight: 500; }
  .line .name small { color: var(--muted); font-weight: 400; }
  .line .nums { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
  .line .nums b { color: var(--text); font-weight: 500; }
  .line .warn { color: #ff7b72; }
  .bar { grid-column: 1; height: 6px; background: var(--line); border-radius: 3px; overflow: hidden; }
  .bar > div { height: 100%; background: var(--accent); }
  .bar.done > div { background: var(--alive); }
  svg.spark { grid-column: 2; grid-row: 1 / span 3; width: 120px; height: 44px; align-self: center; }
  svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
  .empty { color: var(--muted); padding: 40px 20px; }
  .controls { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; padding: 0 20px 8px; color: var(--muted); }
  .controls input, .controls select, .controls button { background: var(--card); color: var(--text);
    border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; font: inherit; }
  .controls input[type=search] { width: 240px; }
  .controls button:disabled { opacity: .4; }
  .card.faulty { border-color: var(--dead); }
  .badge { display: inline-block; padding: 0 6px; margin: 0 4px 4px 0; border-radius: 8px; font-size: 11px;
           background: rgba(218,54,51,.25); color: #ff7b72; }
  .tile .fault { display: block; font-size: 11px; font-weight: 600; }
  .tile.match { outline: 2px solid var(--accent); }
</style>
</head>
<body>
<header>
  <h1>factory-sim monitor</h1>
  <span class="muted">Kafka at {{BROKERS}}</span>
  <span id="conn" class="pill">connecting</span>
  <span id="time" class="muted"></span>
</header>
<div class="stats" id="stats"></div>
<div class="controls">
  <input id="search" type="search" placeholder="factory, sensor or soda" aria-label="search factories, sensors and sodas">
  <select id="status" aria-label="sensor status">
    <option value="all">all factories</option>
    <option value="alive">with an alive sensor</option>
    <option value="late">with a late sensor</option>
    <option value="dead">with a dead sensor</option>
  </select>
  <label><input id="faulty" type="checkbox"> has fault</label>
  <button id="prev" type="button">&lsaquo; prev</button>
  <span id="pageinfo"></span>
  <button id="next" type="button">next &rsaquo;</button>
</div>
<main id="factories"><div class="empty">Waiting for records...</div></main>
<script>
"use strict";
// Values come from Kafka records: shown escaped (HTML, and control and bidirectional characters as
// \\x1b, \\u202e) and bounded, as the terminal table shows them.
var esc = function (text) {
  var points = Array.from(String(text));
  var shown = points.length > ${SHOWN_MAX}
    ? points.slice(0, ${SHOWN_MAX}).join("") + "\\u2026(+" + (points.length - ${SHOWN_MAX}) + " chars)"
    : String(text);
  return shown
    .replace(new RegExp(${JSON.stringify(UNSAFE_CHARACTERS)}, "g"), function (c) {
      var code = c.charCodeAt(0);
      return code < 0x100 ? "\\\\x" + (code < 16 ? "0" : "") + code.toString(16) : "\\\\u" + code.toString(16);
    })
    .replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
};
var num = function (value) {
  if (typeof value !== "number" || !isFinite(value)) return "-";
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 1 : 2);
};
var age = function (ms) {
  var s = ms / 1000;
  if (s < 100) return s.toFixed(1) + " s";
  if (s < 6000) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
};
var spark = function (values) {
  if (!values || values.length < 2) return '<svg class="spark" viewBox="0 0 120 44"></svg>';
  var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
  var span = hi - lo || 1;
  var points = values.map(function (v, i) {
    var x = (i / (values.length - 1)) * 116 + 2;
    var y = 40 - ((v - lo) / span) * 36;
    return x.toFixed(1) + "," + y.toFixed(1);
  }).join(" ");
  return '<svg class="spark" viewBox="0 0 120 44" aria-label="recent readings"><polyline points="' + points + '"/></svg>';
};
var faultText = function (fault) {
  return esc(fault.fault) + " since " + esc(String(fault.since).replace("T", " ").slice(0, 19)) + " (" + esc(fault.faultId) + ")";
};
// One factory's card. The faults of the card's sensors and lines mark them (data-fault) and are listed.
var cardHtml = function (f, search) {
  var faults = f.faults || [];
  var needle = (search || "").toLowerCase();
  var tiles = f.sensors.map(function (sensor) {
    var mine = faults.filter(function (x) { return x.sensorId === sensor.sensorId; });
    var kinds = mine.map(function (x) { return x.fault; }).filter(function (k, i, all) { return all.indexOf(k) === i; });
    var match = needle !== "" && sensor.sensorId.toLowerCase().indexOf(needle) >= 0;
    return '<div class="tile ' + sensor.status + (match ? " match" : "") + '" data-sensor="' + esc(sensor.sensorId) +
      '" data-status="' + sensor.status + '"' + (kinds.length ? ' data-fault="' + esc(kinds.join(" ")) + '"' : "") +
      ' title="tier ' + esc(sensor.tier) + ", uptime " + sensor.uptimePct.toFixed(1) + '%">' +
      esc(sensor.sensorId) + '<span class="age">' + sensor.status + " " + age(sensor.lastHeartbeatAgeMs) + "</span>" +
      (kinds.length ? '<span class="fault">&#9888; ' + esc(kinds.join(", ")) + "</span>" : "") + "</div>";
  }).join("");
  var lines = f.lines.map(function (l) {
    var pct = l.total > 0 ? Math.min(100, (100 * l.count) / l.total) : 0;
    var done = l.count >= l.total;
    var mine = faults.filter(function (x) { return x.sensorId === l.sensorId && x.sodaName === l.sodaName; });
    return '<div class="line" data-line="' + esc(f.id + "/" + l.sensorId + "/" + l.sodaName) + '"' +
      (mine.length ? ' data-fault="' + esc(mine.map(function (x) { return x.fault; }).join(" ")) + '"' : "") + ">" +
      '<div class="name">' + esc(l.sodaName) + " <small>" + esc(l.sensorId) + "</small> " +
      mine.map(function (x) { return '<span class="badge" title="' + faultText(x) + '">' + esc(x.fault) + "</span>"; }).join("") +
      "</div>" + spark(l.recent) +
      '<div class="bar' + (done ? " done" : "") + '"><div style="width:' + pct.toFixed(1) + '%"></div></div>' +
      '<div class="nums"><b class="received">' + l.received + '</b>/<span class="expected">' + l.expected +
      "</span> received &middot; last <b>" + num(l.last) + "</b> &middot; min " + num(l.min) + " mean " +
      num(l.mean) + " max " + num(l.max) +
      (l.missing > 0 ? ' &middot; <span class="warn missing">' + l.missing + " missing</span>" : "") +
      (l.duplicates > 0 ? ' &middot; <span class="warn">' + l.duplicates + " dup</span>" : "") + "</div></div>";
  }).join("");
  var dead = f.sensors.filter(function (x) { return x.status === "dead"; }).length;
  var list = faults.map(function (x) {
    return '<span class="badge" data-fault-id="' + esc(x.faultId) + '" title="' + faultText(x) + '">' + esc(x.fault) +
      " &middot; " + esc(x.sensorId) + " " + esc(x.sodaName) + "</span>";
  }).join("");
  return '<section class="card' + (faults.length ? " faulty" : "") + '" data-factory="' + esc(f.id) + '"><h2>' +
    esc(f.id) + " <small>" + f.sensors.length + " sensors" + (dead > 0 ? ", " + dead + " dead" : "") + ", " +
    f.lines.length + " lines" + (faults.length ? ", " + faults.length + (faults.length === 1 ? " fault" : " faults") : "") + "</small></h2>" +
    '<div class="tiles">' + (tiles || '<span class="muted">no heartbeats yet</span>') + "</div>" +
    (list ? '<div class="faults">' + list + "</div>" : "") + lines + "</section>";
};
var main = document.getElementById("factories");
var drawn = new Map(); // factory id -> { html, el }: a card is drawn again only when its markup changed
var template = document.createElement("template");
var render = function (view) {
  var started = performance.now();
  var sum = view.summary;
  document.getElementById("time").textContent = sum.time.replace("T", " ").slice(0, 19) + " UTC";
  var rates = Object.keys(sum.topics).map(function (topic) {
    var t = sum.topics[topic];
    return '<span data-topic="' + esc(topic) + '">' + esc(topic) + ': <b class="rate">' + t.rate.toFixed(1) +
      '</b>/s, <b class="received">' + t.received + "</b> received" +
      (t.invalid > 0 ? ', <b class="invalid">' + t.invalid + "</b> invalid" : "") + "</span>";
  });
  var s = sum.sensors;
  document.getElementById("stats").innerHTML =
    '<span><span class="dot alive"></span><b id="alive">' + s.alive + "</b> alive</span>" +
    '<span><span class="dot late"></span><b id="late">' + s.late + "</b> late</span>" +
    '<span><span class="dot dead"></span><b id="dead">' + s.dead + "</b> dead</span>" +
    '<span><b id="factory-count">' + sum.factories + "</b> factories</span>" +
    '<span><b id="sensor-count">' + sum.sensorCount + "</b> sensors</span>" +
    '<span><b id="line-count">' + sum.lines + "</b> lines</span>" +
    '<span><b id="readings-rate">' + sum.readingsPerSecond.toFixed(1) + "</b> readings/s</span>" +
    '<span><b id="fault-count">' + sum.activeFaults + "</b> active fault" + (sum.activeFaults === 1 ? "" : "s") + "</span>" + rates.join("");
  query.page = view.query.page;
  document.getElementById("pageinfo").textContent = "page " + view.query.page + " of " + view.pages + " \u00b7 " +
    view.matching + (view.matching === sum.factories ? "" : " of " + sum.factories) + " factories";
  document.getElementById("prev").disabled = view.query.page <= 1;
  document.getElementById("next").disabled = view.query.page >= view.pages;
  var redrawn = 0;
  var cards = view.factories.map(function (f) {
    var html = cardHtml(f, view.query.search);
    var had = drawn.get(f.id);
    if (had && had.html === html) return had.el;
    template.innerHTML = html;
    redrawn++;
    var card = { html: html, el: template.content.firstElementChild };
    drawn.set(f.id, card);
    return card.el;
  });
  if (cards.length === 0) {
    main.innerHTML = '<div class="empty">' + (sum.factories === 0 ? "Waiting for records..." : "No factory matches.") + "</div>";
  } else {
    for (var i = 0; i < cards.length; i++) {
      if (main.children[i] !== cards[i]) main.insertBefore(cards[i], main.children[i] || null);
    }
    while (main.children.length > cards.length) main.lastElementChild.remove();
  }
  var shown = new Set(view.factories.map(function (f) { return f.id; }));
  drawn.forEach(function (_, id) { if (!shown.has(id)) drawn.delete(id); });
  document.body.dataset.redrawn = String(redrawn);
  document.body.dataset.renderMs = (performance.now() - started).toFixed(2);
};
// The query is the page's address (?search=&status=&faulty=1&page=&size=), so a reload keeps it.
var params = new URLSearchParams(location.search);
var query = {
  search: params.get("search") || "",
  status: params.get("status") || "all",
  faulty: params.get("faulty") === "1",
  page: Math.max(1, parseInt(params.get("page"), 10) || 1),
  size: params.get("size") || ""
};
var searchBox = document.getElementById("search");
var statusBox = document.getElementById("status");
var faultyBox = document.getElementById("faulty");
searchBox.value = query.search;
statusBox.value = query.status;
faultyBox.checked = query.faulty;
var conn = document.getElementById("conn");
var source;
var connect = function () {
  var p = new URLSearchParams();
  if (query.search) p.set("search", query.search);
  if (query.status !== "all") p.set("status", query.status);
  if (query.faulty) p.set("faulty", "1");
  if (query.page > 1) p.set("page", String(query.page));
  if (query.size) p.set("size", query.size);
  var qs = p.toString();
  history.replaceState(null, "", qs ? "?" + qs : location.pathname);
  if (source) source.close();
  source = new EventSource("events" + (qs ? "?" + qs : ""));
  source.addEventListener("open", function () { conn.textContent = "live"; conn.className = "pill live"; });
  source.addEventListener("error", function () { conn.textContent = "reconnecting"; conn.className = "pill down"; });
  source.addEventListener("view", function (event) { render(JSON.parse(event.data)); });
};
var typing;
searchBox.addEventListener("input", function () {
  clearTimeout(typing);
  typing = setTimeout(function () { query.search = searchBox.value.trim(); query.page = 1; connect(); }, 250);
});
statusBox.addEventListener("change", function () { query.status = statusBox.value; query.page = 1; connect(); });
faultyBox.addEventListener("change", function () { query.faulty = faultyBox.checked; query.page = 1; connect(); });
document.getElementById("prev").addEventListener("click", function () { query.page = Math.max(1, query.page - 1); connect(); });
document.getElementById("next").addEventListener("click", function () { query.page++; connect(); });
connect();
</script>
</body>
</html>
`;
