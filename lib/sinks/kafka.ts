/**
 * The Kafka sink: the delivery pipeline (`delivery.ts`) over the Kafka layer's producer transport
 * (`../kafka/producer.ts`, loaded through `../kafka/load.ts`). Loaded on demand.
 */
import { loadKafka } from "../kafka/load.ts";
import type { ConnectProducerOptions } from "../kafka/producer.ts";
import { type DeliveryOptions, DeliverySink } from "./delivery.ts";

/** How to reach Kafka and how to produce. */
export interface KafkaSinkOptions extends ConnectProducerOptions {
  /** Linger, batch size and the spool: see `DeliveryOptions`. */
  delivery?: DeliveryOptions;
}

/** Loads the producer part of the Kafka layer (KafkaJS, after its patches); `load.ts` starts this early. */
export async function loadProducer(): Promise<void> {
  await loadKafka("producer");
}

/**
 * Connects a producer to `brokers`, creates the missing topics and returns the sink. Throws a
 * one-line `RunError` when no broker answers within `connectTimeoutMs`, the login or the TLS
 * handshake fails, or the topics cannot be used; `PermissionError` when Deno may not connect.
 */
export async function connectKafkaSink(options: KafkaSinkOptions): Promise<DeliverySink> {
  const { delivery = {}, ...producer } = options;
  const { connectProducer } = await loadKafka("producer");
  return new DeliverySink(await connectProducer(producer), delivery);
}
