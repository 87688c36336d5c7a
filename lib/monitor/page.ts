/**
 * The dashboard's one page: HTML, CSS and a small script that renders each snapshot the server
 * pushes over Server-Sent Events (`/events`). No build step and nothing fetched from elsewhere.
 * Elements carry `data-*` attributes (factory, line, sensor, status) that tests select by.
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
var render = function (snap) {
  document.getElementById("time").textContent = snap.time.replace("T", " ").slice(0, 19) + " UTC";
  var rates = Object.keys(snap.topics).map(function (topic) {
    var t = snap.topics[topic];
    return '<span data-topic="' + esc(topic) + '">' + esc(topic) + ': <b class="rate">' + t.rate.toFixed(1) +
      '</b>/s, <b class="received">' + t.received + "</b> received</span>";
  });
  var s = snap.sensors;
  document.getElementById("stats").innerHTML =
    '<span><span class="dot alive"></span><b id="alive">' + s.alive + "</b> alive</span>" +
    '<span><span class="dot late"></span><b id="late">' + s.late + "</b> late</span>" +
    '<span><span class="dot dead"></span><b id="dead">' + s.dead + "</b> dead</span>" + rates.join("");
  if (snap.factories.length === 0) return;
  document.getElementById("factories").innerHTML = snap.factories.map(function (f) {
    var tiles = f.sensors.map(function (sensor) {
      return '<div class="tile ' + sensor.status + '" data-sensor="' + esc(sensor.sensorId) + '" data-status="' +
        sensor.status + '" title="tier ' + esc(sensor.tier) + ", uptime " + sensor.uptimePct.toFixed(1) + '%">' +
        esc(sensor.sensorId) + '<span class="age">' + sensor.status + " " + age(sensor.lastHeartbeatAgeMs) + "</span></div>";
    }).join("");
    var lines = f.lines.map(function (l) {
      var pct = l.total > 0 ? Math.min(100, (100 * l.count) / l.total) : 0;
      var done = l.count >= l.total;
      return '<div class="line" data-line="' + esc(f.id + "/" + l.sensorId + "/" + l.sodaName) + '">' +
        '<div class="name">' + esc(l.sodaName) + " <small>" + esc(l.sensorId) + "</small></div>" +
        spark(l.recent) +
        '<div class="bar' + (done ? " done" : "") + '"><div style="width:' + pct.toFixed(1) + '%"></div></div>' +
        '<div class="nums"><b class="received">' + l.received + '</b>/<span class="expected">' + l.expected +
        "</span> received &middot; last <b>" + num(l.last) + "</b> &middot; min " + num(l.min) + " mean " +
        num(l.mean) + " max " + num(l.max) +
        (l.missing > 0 ? ' &middot; <span class="warn missing">' + l.missing + " missing</span>" : "") +
        (l.duplicates > 0 ? ' &middot; <span class="warn">' + l.duplicates + " dup</span>" : "") + "</div></div>";
    }).join("");
    var dead = f.sensors.filter(function (x) { return x.status === "dead"; }).length;
    return '<section class="card" data-factory="' + esc(f.id) + '"><h2>' + esc(f.id) + " <small>" +
      f.sensors.length + " sensors" + (dead > 0 ? ", " + dead + " dead" : "") + ", " + f.lines.length + " lines</small></h2>" +
      '<div class="tiles">' + (tiles || '<span class="muted">no heartbeats yet</span>') + "</div>" + lines + "</section>";
  }).join("");
};
var conn = document.getElementById("conn");
var source = new EventSource("events");
source.addEventListener("open", function () { conn.textContent = "live"; conn.className = "pill live"; });
source.addEventListener("error", function () { conn.textContent = "reconnecting"; conn.className = "pill down"; });
source.addEventListener("snapshot", function (event) { render(JSON.parse(event.data)); });
</script>
</body>
</html>
`;
