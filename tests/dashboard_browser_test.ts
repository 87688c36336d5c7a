/**
 * The monitor's web dashboard in a real headless Chromium (Debian's, driven by playwright-core;
 * nothing downloaded): a broker, a simulator and a monitor with `--web` run for real, and the page
 * must show the factories, their lines with counts that keep rising, message rates, a sensor the
 * simulator takes offline turning dead, and every sensor dead once the simulator is stopped.
 * With DASHBOARD_SCREENSHOT=PATH it also saves the screenshot the README shows.
 */
import assert from "node:assert/strict";
import { BROKERS, collect, ensureBroker, spawnCli, tempConfig, uniqueTopics, waitFor } from "./_kafka.ts";

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

  const { heartbeats, flags: topicFlags } = uniqueTopics("dashboard");
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
