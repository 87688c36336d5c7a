import assert from "node:assert/strict";
import { allLines, allSensors, buildPlant } from "../lib/plant.ts";
import { Rng } from "../lib/random.ts";
import { SAMPLE_CONFIG } from "./_helpers.ts";

Deno.test("factories F1..Fn each get 3-5 sensors named Si-j with tier i.j", () => {
  const { plant } = buildPlant({}, { factoryCount: 50, rng: new Rng(3) });
  assert.deepEqual(plant.factories.map((factory) => factory.id), Array.from({ length: 50 }, (_, i) => `F${i + 1}`));
  const counts = new Set<number>();
  plant.factories.forEach((factory, i) => {
    counts.add(factory.sensors.length);
    assert.ok(factory.sensors.length >= 3 && factory.sensors.length <= 5);
    factory.sensors.forEach((sensor, j) => {
      assert.deepEqual(sensor, { factoryId: `F${i + 1}`, sensorId: `S${i + 1}-${j + 1}`, tier: `${i + 1}.${j + 1}` });
    });
  });
  assert.deepEqual([...counts].sort(), [3, 4, 5], "every size from 3 to 5 occurs");
});

Deno.test("the same seed builds the same plant, another seed another one", () => {
  const shape = (seed: number) =>
    buildPlant({}, { factoryCount: 20, rng: new Rng(seed) }).plant.factories.map((f) => f.sensors.length);
  assert.deepEqual(shape(11), shape(11));
  assert.notDeepEqual(shape(11), shape(12));
});

Deno.test("adding factories does not change the existing ones", () => {
  const small = buildPlant({}, { factoryCount: 3, rng: new Rng(5) }).plant;
  const large = buildPlant({}, { factoryCount: 30, rng: new Rng(5) }).plant;
  assert.deepEqual(large.factories.slice(0, 3), small.factories);
});

Deno.test("each factory takes only its own lines, bound to its own sensors", () => {
  const { plant, warnings } = buildPlant(SAMPLE_CONFIG, { factoryCount: 3, rng: new Rng(1) });
  for (const factory of plant.factories) {
    assert.deepEqual(
      factory.lines.map((line) => [line.sodaName, line.total, line.sensor.sensorId]),
      SAMPLE_CONFIG[factory.id].map((entry) => [entry.sodaName, entry.number, entry.sensorID]),
    );
    for (const line of factory.lines) assert.ok(factory.sensors.includes(line.sensor));
  }
  assert.deepEqual(warnings, []);
  assert.equal(allLines(plant).length, 8);
  assert.equal(allSensors(plant).length, plant.factories.reduce((n, f) => n + f.sensors.length, 0));
});

Deno.test("what does not fit the plant is a warning, and the run goes on", async (t) => {
  const line = (sodaName: string, sensorID: string) => ({ sodaName, number: 3, sensorID });
  // Seed 1 gives F1 at least three sensors; S1-9 never exists.
  const config = {
    F1: [line("Cola", "S1-1"), line("Lemon", "S1-9"), line("Lime", "S1-1")],
    F7: [line("Tonic", "S7-1")],
    Plant9: [line("Root beer", "S9-1")],
  };
  const { plant, warnings } = buildPlant(config, { factoryCount: 3, rng: new Rng(1), file: "cfg.json" });
  const f1 = plant.factories[0];

  await t.step("a line on a sensor the factory lacks is skipped, naming the sensor", () => {
    assert.ok(
      warnings.some((w) => /^cfg\.json: F1\[1\]\.sensorID "S1-9" is not a sensor of F1 .*"Lemon" skipped$/.test(w)),
    );
    assert.deepEqual(f1.lines.map((l) => l.sodaName), ["Cola", "Lime"]);
  });
  await t.step("two lines on one sensor both run, with a warning", () => {
    assert.ok(
      warnings.includes("cfg.json: F1[2] and F1[0] both use sensor S1-1: its readings of both lines share one key"),
    );
  });
  await t.step("factories without config still exist (they heartbeat), named in one warning", () => {
    assert.ok(warnings.includes("cfg.json: F2, F3 have no production lines: their sensors only send heartbeats"));
    assert.equal(plant.factories.length, 3);
    assert.ok(plant.factories[1].sensors.length >= 3);
  });
  await t.step("config for factories that were not created is named", () => {
    assert.ok(
      warnings.includes("cfg.json: F7 is not a simulated factory (factories are F1..F3): its lines are ignored"),
    );
    assert.ok(
      warnings.includes("cfg.json: Plant9 is not a simulated factory (factories are F1..F3): its lines are ignored"),
    );
  });
});

Deno.test("thousands of factories without config produce one short warning", () => {
  const { warnings } = buildPlant({}, { factoryCount: 2_000, rng: new Rng(1) });
  assert.deepEqual(warnings, [
    "factory_config.json: F1, F2, F3, F4, F5, F6, F7, F8, F9, F10 and 1990 more have no production lines: " +
    "their sensors only send heartbeats",
  ]);
});
