/**
 * The Kafka sink: the delivery pipeline (`delivery.ts`) over the Kafka layer's producer transport
 * (`../kafka/producer.ts`, loaded through `../kafka/load.ts`); with several producers, one pipeline
 * a producer behind `lanes.ts`. Loaded on demand.
 */
import { loadKafka } from "../kafka/load.ts";
import type { ConnectProducerOptions } from "../kafka/producer.ts";
import { type DeliveryOptions, DeliverySink } from "./delivery.ts";
import { LanesSink } from "./lanes.ts";
import type { Spool } from "./spool.ts";

/** How to reach Kafka and how to produce. */
export interface KafkaSinkOptions extends ConnectProducerOptions {
  /** Linger, batch size and (with one producer and no `spools`) the spool: see `DeliveryOptions`. */
  delivery?: DeliveryOptions;
  /** Producers, each with its pipeline (default 1); with `spools`, one a spool. */
  producers?: number;
  /** One spool a producer (`openLaneSpools`); their number is the number of producers. */
  spools?: readonly Spool[];
}

/** Loads the producer part of the Kafka layer (KafkaJS, after its patches); `load.ts` starts this early. */
export async function loadProducer(): Promise<void> {
  await loadKafka("producer");
}

/**
 * Connects the producers to `brokers`, creates the missing topics and returns the sink. Throws a
 * one-line `RunError` when no broker answers within `connectTimeoutMs`, the login or the TLS
 * handshake fails, or the topics cannot be used; `PermissionError` when Deno may not connect.
 */
export async function connectKafkaSink(options: KafkaSinkOptions): Promise<DeliverySink | LanesSink> {
  const { delivery = {}, producers = 1, spools, ...producer } = options;
  const count = spools?.length || producers;
  const { connectProducers } = await loadKafka("producer");
  const { transports, laneOf } = await connectProducers({ ...producer, producers: count });
  const lanes = transports.map((transport, lane) =>
    new DeliverySink(transport, { ...delivery, spool: spools?.[lane] })
  );
  return lanes.length === 1 ? lanes[0] : new LanesSink(lanes, laneOf);
}
