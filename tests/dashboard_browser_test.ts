/**
 * The monitor's web dashboard in a real headless Chromium (Debian's, driven by playwright-core;
 * nothing downloaded): a broker, a simulator and a monitor with `--web` run for real, and the page
 * must show the factories, their lines with counts that keep rising, message rates, a sensor the
 * simulator takes offline turning dead, and every sensor dead once the simulator is stopped. And a
 * 10,000-factory plant fed to the monitor's state in-process: the summary, pages, search and
 * filters, and an interval's redraw of the visible cards only, measured against drawing them all.
 * With DASHBOARD_SCREENSHOT=PATH it also saves the screenshot the README shows.
 */
import assert from "node:assert/strict";
import { BROKERS, collect, ensureBroker, spawnCli, tempConfig, uniqueTopic, uniqueTopics, waitFor } from "./_kafka.ts";
import { MonitorState } from "../lib/monitor/state.ts";
import { dashboardViews, parseViewQuery } from "../lib/monitor/view.ts";
import { serveDashboard } from "../lib/monitor/web.ts";

/** Polls `condition` every 100 ms until it holds; throws `what` after `timeoutMs`. */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Debian's Chromium (`apt-get install chromium`); CI installs it. */
const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

Deno.test({
  name: "dashboard: factories, lines, live counts and rates, an offline sensor and a stopped simulator, in Chromium",
}, async () => {
  await ensureBroker();
  // playwright-core bundles is-wsl, which probes /proc/sys at import time (a path Deno grants only
  // with --allow-all); its own switch defers the probe, which only Playwright's "open in app" uses.
  Deno.env.set("__IS_WSL_TEST__", "1");
  const { chromium } = await import("playwright-core");

  const { heartbeats, flags } = uniqueTopics("dashboard");
  const topicFlags = [...flags, `--labels-topic=${uniqueTopic("dashboard-labels")}`];
  // S1-2 goes offline 6 s (simulated) into the run and stays offline.
  const config = await tempConfig({
    F1: [
      {
        sodaName: "Coca-Cola",
        number: 40,
        sensorID: "S1-1",
        signal: { type: "sine", base: 60, amplitude: 25, period: "40s" },
      },
      { sodaName: "Sprite", number: 40, sensorID: "S1-2", faults: [{ kind: "offline", at: "6s", for: "1h" }] },
      {
        sodaName: "Fanta",
        number: 40,
        sensorID: "S1-3",
        signal: { type: "walk", setpoint: 50, volatility: 4, reversion: 0.1 },
      },
    ],
    F2: [
      { sodaName: "Pepsi", number: 40, sensorID: "S2-1", signal: { type: "gaussian", setpoint: 70, sigma: 6 } },
      { sodaName: "7Up", number: 40, sensorID: "S2-2" },
    ],
  });
  const monitor = spawnCli([
    "monitor",
    `--brokers=${BROKERS}`,
    ...topicFlags,
    "--web=127.0.0.1:0",
    "--dead-after=3s",
    "--interval=250ms",
    "--json",
  ]);
  const monitorOut = collect(monitor.stdout);
  const monitorErr = collect(monitor.stderr);
  let sim: Deno.ChildProcess | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    await waitFor(() => /dashboard on (http:\S+)/.test(monitorErr.current), 15_000);
    const url = /dashboard on (http:\S+)/.exec(monitorErr.current)![1];
    sim = spawnCli([
      "--sink=kafka",
      `--brokers=${BROKERS}`,
      `--config=${config.path}`,
      "--factories=2",
      "--seed=5",
      "--speed=3",
      ...topicFlags,
    ]);
    const simErr = collect(sim.stderr);
    collect(sim.stdout);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const errors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(url);
    assert.equal(await page.title(), "factory-sim monitor");

    // Factories and their lines appear.
    await page.waitForSelector('[data-factory="F2"] [data-line="F2/S2-1/Pepsi"]', { timeout: 20_000 });
    await page.waitForSelector('[data-factory="F1"] [data-line="F1/S1-1/Coca-Cola"]', { timeout: 20_000 });
    assert.deepEqual(
      await page.locator("[data-factory]").evaluateAll((cards) => cards.map((c) => c.getAttribute("data-factory"))),
      [
        "F1",
        "F2",
      ],
    );

    // Counts keep rising while the simulator runs, and the rates show.
    const received = async () => Number(await page.locator('[data-line="F1/S1-1/Coca-Cola"] .received').textContent());
    const before = await received();
    await until("the count rises", async () => await received() > before, 15_000);
    assert.equal(await page.locator('[data-line="F1/S1-1/Coca-Cola"] .expected').textContent(), "40");
    const rate = page.locator(`[data-topic="${heartbeats}"] .rate`);
    await until("a heartbeat rate shows", async () => Number(await rate.textContent()) > 0, 10_000);

    // The sensor the simulator took offline turns dead; the others stay alive.
    await page.waitForSelector('[data-sensor="S1-2"][data-status="dead"]', { timeout: 20_000 });
    // Its fault, from the labels topic, marks its tile, its line and its card.
    await page.waitForSelector('[data-sensor="S1-2"][data-fault="offline"]', { timeout: 10_000 });
    assert.equal(await page.locator('[data-line="F1/S1-2/Sprite"]').getAttribute("data-fault"), "offline");
    assert.equal(await page.locator('[data-factory="F1"] [data-fault-id="F1/1/0#1"]').count(), 1);
    assert.equal(await page.locator("#fault-count").textContent(), "1");
    assert.equal(await page.locator('[data-factory="F2"] [data-fault]').count(), 0);
    assert.equal(await page.locator('[data-sensor="S1-1"]').getAttribute("data-status"), "alive");
    assert.equal(await page.locator('[data-sensor="S2-1"]').getAttribute("data-status"), "alive");
    assert.equal(await page.locator("#dead").textContent(), "1");
    await page.waitForSelector('[data-line="F1/S1-1/Coca-Cola"] svg.spark polyline', { timeout: 10_000 });
    const screenshot = Deno.env.get("DASHBOARD_SCREENSHOT");
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

    // A stopped simulator: every sensor turns dead.
    sim.kill("SIGINT");
    await sim.status;
    await simErr.done;
    sim = undefined;
    const sensors = await page.locator("[data-sensor]").count();
    assert.ok(sensors >= 5, `${sensors} sensor tiles`);
    const dead = page.locator('[data-sensor][data-status="dead"]');
    await until("every sensor is dead", async () => await dead.count() === sensors, 10_000);
    assert.equal(await page.locator("#alive").textContent(), "0");
    // The stopped run ended its fault: no card shows it any more.
    await until("the fault ended", async () => await page.locator("[data-fault]").count() === 0, 10_000);
    assert.equal(await page.locator("#fault-count").textContent(), "0");
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    sim?.kill("SIGKILL");
    await sim?.status;
    monitor.kill("SIGINT");
    const { code } = await monitor.status;
    await monitorOut.done;
    await config.remove();
    assert.equal(code, 0, monitorErr.current);
  }
});

Deno.test({
  name: "dashboard: a 10,000-factory plant: the summary, pages, search, filters and faults; an interval draws the " +
    "visible cards only",
}, async () => {
  Deno.env.set("__IS_WSL_TEST__", "1");
  const { chromium } = await import("playwright-core");
  const FACTORIES = 10_000;
  const T0 = Date.UTC(2026, 0, 1);
  let nowMs = T0;
  const state = new MonitorState({ readings: "R", heartbeats: "H", labels: "L" }, {
    lateAfterMs: 2_500,
    deadAfterMs: 5_000,
  });
  const add = (topic: string, value: unknown) =>
    state.add({ topic, value: JSON.stringify(value), timestampMs: nowMs, receivedMs: nowMs });
  // 4 sensors a factory; every 100th factory's S-4 silent for 10 s (dead); a line on each S-1 with
  // 40 readings; a stuck fault on every 400th factory's line.
  for (let f = 1; f <= FACTORIES; f++) {
    for (let s = 1; s <= 4; s++) {
      const silent = f % 100 === 0 && s === 4;
      state.add({
        topic: "H",
        value: JSON.stringify({ sensorId: `S${f}-${s}`, tier: `${f}.${s}`, status: "active" }),
        timestampMs: silent ? T0 - 10_000 : T0,
        receivedMs: T0,
      });
    }
    for (let count = 1; count <= 40; count++) {
      add("R", {
        factoryId: `F${f}`,
        sensorId: `S${f}-1`,
        sodaName: "Cola",
        reading: 50 + ((f * count) % 40),
        count,
        total: 60,
      });
    }
    if (f % 400 === 0) {
      add("L", {
        faultId: `F${f}/0/0#1`,
        fault: "stuck",
        event: "start",
        factoryId: `F${f}`,
        sensorId: `S${f}-1`,
        sodaName: "Cola",
        timestamp: new Date(T0).toISOString(),
      });
    }
  }
  // And one whose text would be markup if it were not escaped.
  const HOSTILE = `<img src=x onerror="document.title='owned'">\u202e`;
  add("L", {
    faultId: "F9999/9/9#1",
    fault: "<b>boom</b>",
    event: "start",
    factoryId: "F9999",
    sensorId: "S9999-1",
    sodaName: HOSTILE,
    timestamp: new Date(T0).toISOString(),
  });
  const views = () =>
    dashboardViews(state.snapshot(nowMs), {
      readingsTopic: "R",
      recent: (line) => state.recent(line.factoryId, line.sensorId, line.sodaName),
    });
  const dashboard = serveDashboard({
    host: "127.0.0.1",
    port: 0,
    brokers: "in-process",
    current: (query) => views()(query),
    snapshot: () => state.snapshot(nowMs, { recent: true }),
  });
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(dashboard.url);
    const text = (selector: string) => page.locator(selector).textContent();
    const cards = () =>
      page.locator("[data-factory]").evaluateAll((all) => all.map((card) => card.getAttribute("data-factory")));
    await page.waitForSelector('[data-factory="F24"]', { timeout: 20_000 });

    // The summary of the whole plant, and the first page only.
    assert.equal(await text("#factory-count"), "10000");
    assert.equal(await text("#sensor-count"), "40000");
    assert.equal(await text("#line-count"), "10000");
    assert.equal(await text("#alive"), "39900");
    assert.equal(await text("#dead"), "100");
    assert.equal(await text("#fault-count"), "26");
    assert.equal(await text("#pageinfo"), "page 1 of 417 \u00b7 10000 factories");
    assert.deepEqual(await cards(), Array.from({ length: 24 }, (_, i) => `F${i + 1}`));

    // Pages.
    await page.click("#next");
    await page.waitForSelector('[data-factory="F25"]');
    assert.deepEqual((await cards()).slice(0, 2), ["F25", "F26"]);
    assert.equal(await page.locator("[data-factory]").count(), 24);
    assert.match(page.url(), /\?page=2$/);

    // Search finds a sensor: its factory alone, the tile marked.
    await page.fill("#search", "S4321-2");
    await page.waitForSelector('[data-factory="F4321"] [data-sensor="S4321-2"].match');
    assert.deepEqual(await cards(), ["F4321"]);
    assert.equal(await text("#pageinfo"), "page 1 of 1 \u00b7 1 of 10000 factories");

    // "Has fault": the 25 factories with a stuck line, the line and the card marked.
    await page.fill("#search", "");
    await page.check("#faulty");
    await page.waitForSelector('[data-factory="F400"]');
    assert.equal(await text("#pageinfo"), "page 1 of 2 \u00b7 26 of 10000 factories");
    assert.equal(
      await page.locator('[data-factory="F400"] [data-line="F400/S400-1/Cola"]').getAttribute("data-fault"),
      "stuck",
    );
    assert.equal(
      await page.locator('[data-factory="F400"] [data-sensor="S400-1"]').getAttribute("data-fault"),
      "stuck",
    );
    assert.equal(await page.locator("[data-factory].faulty").count(), 24);

    // Untrusted text from a label is shown as text, escaped.
    await page.uncheck("#faulty");
    await page.fill("#search", "F9999");
    await page.waitForSelector('[data-factory="F9999"] [data-fault-id="F9999/9/9#1"]');
    assert.equal(
      await text('[data-fault-id="F9999/9/9#1"]'),
      `<b>boom</b> \u00b7 S9999-1 <img src=x onerror="document.title='owned'">\\u202e`,
    );
    assert.equal(await page.locator('[data-factory="F9999"] img, [data-fault-id="F9999/9/9#1"] *').count(), 0);
    assert.equal(await page.title(), "factory-sim monitor");
    await page.fill("#search", "");

    // A status: the factories with a dead sensor.
    await page.selectOption("#status", "dead");
    await page.waitForSelector('[data-factory="F100"]');
    assert.equal(await text("#pageinfo"), "page 1 of 5 \u00b7 100 of 10000 factories");
    assert.equal(
      await page.locator('[data-factory="F100"] [data-sensor="S100-4"]').getAttribute("data-status"),
      "dead",
    );

    // One interval on the first page: every card changes (ages), only the 24 shown are drawn.
    await page.selectOption("#status", "all");
    await page.waitForSelector('[data-factory="F1"]');
    // In the page (this file is type-checked without the DOM's types): count the cards added to
    // the page, wait for the next view, and time drawing a view against drawing every card.
    await page.evaluate(`
      window.added = 0;
      new MutationObserver((records) => {
        for (const record of records) {
          for (const node of record.addedNodes) if (node.matches && node.matches("[data-factory]")) window.added++;
        }
      }).observe(document.getElementById("factories"), { childList: true });
      // Listens for the next view before it is published; the promise is awaited after.
      window.nextView = () => {
        window.viewSeen = new Promise((resolve) =>
          source.addEventListener("view", () => setTimeout(resolve, 0), { once: true }));
      };
      window.timeDrawing = ([viewJson, plantJson]) => {
        const median = (runs) => runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)];
        const page = [];
        for (let i = 0; i < 5; i++) {
          drawn.clear();
          const started = performance.now();
          render(JSON.parse(viewJson));
          void document.body.offsetHeight;
          page.push(performance.now() - started);
        }
        const all = [];
        for (let i = 0; i < 3; i++) {
          const started = performance.now();
          const snapshot = JSON.parse(plantJson);
          const every = document.createElement("main");
          every.innerHTML = snapshot.factories.map((f) => cardHtml(f, "")).join("");
          document.body.appendChild(every);
          void document.body.offsetHeight;
          all.push(performance.now() - started);
          every.remove();
        }
        return { page: median(page), all: median(all) };
      };
    `);
    const inPage = (name: string, arg?: unknown) =>
      page.evaluate(
        ([name, arg]) => (globalThis as unknown as Record<string, (arg: unknown) => unknown>)[name](arg),
        [
          name as string,
          arg,
        ] as const,
      );
    const nextView = () => inPage("nextView");
    nowMs += 1_000;
    await nextView();
    dashboard.publish(views());
    await page.evaluate("window.viewSeen");
    const interval = await page.evaluate(`({
      added: window.added,
      redrawn: Number(document.body.dataset.redrawn),
      cards: document.querySelectorAll("[data-factory]").length,
    })`);
    assert.deepEqual(interval, { added: 24, redrawn: 24, cards: 24 });
    // The same moment again: nothing changed, nothing is drawn.
    await nextView();
    dashboard.publish(views());
    await page.evaluate("window.viewSeen");
    assert.equal(await page.getAttribute("body", "data-redrawn"), "0");

    // Bytes a page gets each interval, against the whole plant (what every interval pushed before),
    // and the time to draw them (JSON parsed, cards drawn, laid out).
    nowMs += 1_000;
    const viewText = JSON.stringify(views()(parseViewQuery(new URLSearchParams())));
    const servedText = await (await fetch(new URL("view.json", dashboard.url))).text();
    assert.equal(servedText.length, viewText.length, "/view.json serves the page's view");
    const plantText = JSON.stringify(state.snapshot(nowMs, { recent: true }));
    const bytes = {
      view: new TextEncoder().encode(viewText).length,
      plant: new TextEncoder().encode(plantText).length,
    };
    const times = await inPage("timeDrawing", [viewText, plantText]) as { page: number; all: number };
    Deno.stderr.writeSync(new TextEncoder().encode(
      `[dashboard] 10000 factories, one interval: ${bytes.view} bytes (the page's view) vs ${bytes.plant} ` +
        `(the whole plant): ${(bytes.plant / bytes.view).toFixed(0)}x fewer; drawn in ${times.page.toFixed(1)} ms ` +
        `vs ${times.all.toFixed(1)} ms for every card: ${(times.all / times.page).toFixed(0)}x faster\n`,
    ));
    assert.ok(bytes.plant / bytes.view > 50, JSON.stringify(bytes));
    assert.ok(times.all / times.page > 10, JSON.stringify(times));
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await dashboard.close();
  }
});
