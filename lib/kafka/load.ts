/**
 * The way into the parts of the Kafka layer that load KafkaJS. `loadKafka` installs the patches
 * first and only then imports the part asked for, so the order is kept by this code, not by the
 * order of anyone's imports; and a run loads the producer only, the monitor the consumer only.
 * Outside this folder, nothing imports those modules but for their types.
 */
import { installKafkaPatches } from "./patches.ts";

/** The parts of the layer that load KafkaJS, by name. */
const PARTS = {
  /** `connectProducer`: the delivery pipeline's transport over a connected producer. */
  producer: () => import("./producer.ts"),
  /** `startMonitorConsumer`: the monitor's consumer. */
  consumer: () => import("./consumer.ts"),
  /** `createKafkaAdmin`: an admin client for setting up topics in benchmarks and tests. */
  admin: () => import("./admin.ts"),
};

/** A part of the layer that loads KafkaJS. */
export type KafkaPart = keyof typeof PARTS;

/**
 * Installs KafkaJS's patches (unless `installKafkaPatches` was called already, with options of
 * its own), then loads `part` of the layer.
 */
export async function loadKafka<P extends KafkaPart>(part: P): Promise<Awaited<ReturnType<typeof PARTS[P]>>> {
  installKafkaPatches();
  return await PARTS[part]() as Awaited<ReturnType<typeof PARTS[P]>>;
}
