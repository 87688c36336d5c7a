import assert from "node:assert/strict";
import { allLines, allSensors, buildPlant, GENERATED_NUMBER, shardOf, SODA_NAMES } from "../lib/plant.ts";
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

Deno.test("--generate-lines gives a factory without config one line per sensor, drawn from the seed", async (t) => {
  const generated = (seed: number, linesPerFactory?: number) =>
    buildPlant({}, { factoryCount: 40, rng: new Rng(seed), generate: { linesPerFactory } });
  const { plant, warnings } = generated(7);

  await t.step("one line per sensor, on each sensor in turn", () => {
    for (const factory of plant.factories) {
      assert.deepEqual(factory.lines.map((line) => line.sensor), factory.sensors);
      assert.deepEqual(factory.lines.map((line) => line.index), factory.sensors.map((_, i) => i));
      assert.ok(factory.lines.every((line) => line.factoryId === factory.id));
    }
  });
  await t.step("soda names from the fixed list, numbers from 5 to 20, all of them used", () => {
    const lines = allLines(plant);
    assert.ok(lines.every((line) => (SODA_NAMES as readonly string[]).includes(line.sodaName)));
    assert.ok(lines.every((line) => Number.isInteger(line.total) && line.total >= 5 && line.total <= 20));
    assert.equal(new Set(lines.map((line) => line.sodaName)).size, SODA_NAMES.length);
    assert.equal(Math.min(...lines.map((line) => line.total)), GENERATED_NUMBER.min);
    assert.equal(Math.max(...lines.map((line) => line.total)), GENERATED_NUMBER.max);
  });
  await t.step("no warning for factories that got generated lines", () => assert.deepEqual(warnings, []));
  await t.step("the same seed generates the same lines, another seed others", () => {
    assert.deepEqual(generated(7).plant, plant);
    assert.notDeepEqual(allLines(generated(8).plant), allLines(plant));
  });
  await t.step("--lines-per-factory N puts N lines on the sensors in turn", () => {
    for (const factory of generated(7, 12).plant.factories) {
      assert.deepEqual(
        factory.lines.map((line) => line.sensor.sensorId),
        Array.from({ length: 12 }, (_, i) => factory.sensors[i % factory.sensors.length].sensorId),
      );
    }
    const one = generated(7, 1).plant.factories;
    assert.ok(one.every((factory) => factory.lines.length === 1 && factory.lines[0].sensor === factory.sensors[0]));
  });
});

Deno.test("a factory's generated lines do not depend on how many factories there are", () => {
  const small = buildPlant({}, { factoryCount: 3, rng: new Rng(5), generate: {} }).plant;
  const large = buildPlant({}, { factoryCount: 3_000, rng: new Rng(5), generate: {} }).plant;
  assert.deepEqual(large.factories.slice(0, 3), small.factories);
  // Without --generate-lines the same factories get the same sensors, and no lines.
  const idle = buildPlant({}, { factoryCount: 3, rng: new Rng(5) }).plant;
  assert.deepEqual(idle.factories.map((f) => f.sensors), small.factories.map((f) => f.sensors));
});

Deno.test("with --generate-lines, config entries still win and an empty entry stays without lines", () => {
  const config = { F1: SAMPLE_CONFIG.F1, F2: [] };
  const { plant, warnings } = buildPlant(config, { factoryCount: 4, rng: new Rng(1), generate: {}, file: "cfg.json" });
  const [f1, f2, f3, f4] = plant.factories;
  assert.deepEqual(f1.lines.map((line) => line.sodaName), ["Coca-Cola", "Sprite", "Fanta"]);
  assert.deepEqual(f2.lines, []);
  assert.equal(f3.lines.length, f3.sensors.length);
  assert.equal(f4.lines.length, f4.sensors.length);
  assert.deepEqual(warnings, ["cfg.json: F2 has no production lines: their sensors only send heartbeats"]);
});

Deno.test("shards split the plant: every factory in exactly one shard, as in the whole plant", async (t) => {
  const config = {
    ...SAMPLE_CONFIG,
    F7: [{ sodaName: "Tonic", number: 4, sensorID: "S7-1" }],
    F9: [{ sodaName: "Ghost", number: 4, sensorID: "S9-1" }],
  };
  const factoryCount = 8;
  const whole = buildPlant(config, { factoryCount, rng: new Rng(21), generate: {} });
  for (const count of [1, 2, 3, 5, 8]) {
    await t.step(`${count} shards`, () => {
      const shards = Array.from(
        { length: count },
        (_, i) => buildPlant(config, { factoryCount, rng: new Rng(21), generate: {}, shard: { index: i + 1, count } }),
      );
      shards.forEach(({ plant }, i) => {
        assert.ok(plant.factories.length > 0, `shard ${i + 1} is not empty`);
        for (const factory of plant.factories) assert.equal(shardOf(Number(factory.id.slice(1)), count), i + 1);
      });
      const union = shards.flatMap(({ plant }) => plant.factories)
        .sort((a, b) => Number(a.id.slice(1)) - Number(b.id.slice(1)));
      assert.deepEqual(union, whole.plant.factories, "each factory once, with the same sensors and lines");
      const timings = whole.plant.factories.flatMap((factory) =>
        factory.lines.map(({ factoryId, index, total }) => ({ factoryId, index, total }))
      );
      for (const { plant } of shards) {
        assert.deepEqual(plant.wholePlantLines, timings, "each shard times every line of the whole plant");
      }
      for (const { warnings } of shards) {
        assert.deepEqual(
          warnings,
          ["factory_config.json: F9 is not a simulated factory (factories are F1..F8): its lines are ignored"],
          "no warning about another shard's factories",
        );
      }
    });
  }
  await t.step("factory Fk is in shard ((k-1) mod N)+1", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((k) => shardOf(k, 3)), [1, 2, 3, 1, 2, 3, 1]);
    const second = buildPlant({}, { factoryCount: 10, rng: new Rng(1), shard: { index: 2, count: 4 } }).plant;
    assert.deepEqual(second.factories.map((factory) => factory.id), ["F2", "F6", "F10"]);
  });
});

Deno.test("200,000 lines on one sensor: all bound, and one warning for the sensor, not one a line", () => {
  const n = 200_000;
  const config = {
    F1: Array.from({ length: n }, (_, i) => ({ sodaName: `Soda ${i}`, number: 1 + (i % 5), sensorID: "S1-1" })),
  };
  const { plant, warnings } = buildPlant(config, { factoryCount: 1, rng: new Rng(1), file: "cfg.json" });
  assert.equal(plant.factories[0].lines.length, n);
  assert.deepEqual(warnings, [
    `cfg.json: F1[1], F1[2], F1[3] and ${n - 4} more use sensor S1-1 as F1[0] does: ` +
    `the readings of these ${n} lines share one key`,
  ]);
});
