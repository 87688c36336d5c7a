/**
 * The way into the parts of the Kafka layer that load KafkaJS. `loadKafka` installs the patches
 * first and only then imports the modules that import KafkaJS, so the order is kept by this code,
 * not by the order of anyone's imports. Outside this folder, nothing imports those modules but
 * for their types.
 */
import { installKafkaPatches } from "./patches.ts";

/** The Kafka layer's functions that load KafkaJS. */
export interface KafkaLayer {
  /** Connects a producer and returns the delivery pipeline's transport over it (`producer.ts`). */
  connectProducer: typeof import("./producer.ts").connectProducer;
  /** Starts the monitor's consumer (`consumer.ts`). */
  startMonitorConsumer: typeof import("./consumer.ts").startMonitorConsumer;
  /** An admin client for setting up topics in benchmarks and tests (`admin.ts`). */
  createKafkaAdmin: typeof import("./admin.ts").createKafkaAdmin;
}

/**
 * Installs KafkaJS's patches (unless `installKafkaPatches` was called already, with options of
 * its own), then loads the layer's KafkaJS side.
 */
export async function loadKafka(): Promise<KafkaLayer> {
  installKafkaPatches();
  const [{ connectProducer }, { startMonitorConsumer }, { createKafkaAdmin }] = await Promise.all([
    import("./producer.ts"),
    import("./consumer.ts"),
    import("./admin.ts"),
  ]);
  return { connectProducer, startMonitorConsumer, createKafkaAdmin };
}
