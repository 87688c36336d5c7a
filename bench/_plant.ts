/**
 * Synthetic plants for the benchmarks, built in-process (no config file, no CLI flags): factories
 * F1..Fn of `sensorsPerFactory` sensors each, and one production line per sensor. Ids, tiers and
 * soda names follow the product's conventions, so records have the size and shape of real ones.
 */
import type { Factory, Line, Plant, Sensor } from "../lib/plant.ts";

/** The soda names of the shipped factory_config.json, used in turn. */
const SODA_NAMES = ["Coca-Cola", "Sprite", "Fanta", "Pepsi", "7Up", "Dr Pepper", "Mountain Dew", "Schweppes"];

/**
 * A plant of exactly `sensorCount` sensors, `sensorsPerFactory` a factory (the last factory may
 * have fewer), each sensor with one line of `readingsPerLine` readings.
 */
export function syntheticPlant(
  sensorCount: number,
  { sensorsPerFactory = 4, readingsPerLine = 999 }: { sensorsPerFactory?: number; readingsPerLine?: number } = {},
): Plant {
  const factories: Factory[] = [];
  for (let i = 1, made = 0; made < sensorCount; i++) {
    const id = `F${i}`;
    const sensors: Sensor[] = [];
    const lines: Line[] = [];
    for (let j = 1; j <= sensorsPerFactory && made < sensorCount; j++, made++) {
      const sensor = { factoryId: id, sensorId: `S${i}-${j}`, tier: `${i}.${j}` };
      sensors.push(sensor);
      lines.push({
        factoryId: id,
        index: j - 1,
        sodaName: SODA_NAMES[made % SODA_NAMES.length],
        total: readingsPerLine,
        sensor,
      });
    }
    factories.push({ id, sensors, lines });
  }
  return { factories };
}
