/**
 * A bare KafkaJS admin client, its log off, for the code around the product that sets up and
 * cleans up topics and ACLs (benchmarks, tests). Loaded through `load.ts`, after the patches.
 */
import { type Admin, Kafka, logLevel } from "kafkajs";
import { kafkaBrokers } from "./client.ts";

/** KafkaJS's admin client (connect, topics, ACLs, disconnect). */
export type KafkaAdmin = Admin;

/**
 * An admin client for `brokers` (not connected yet). `connectTimeoutMs` and `retries` default to
 * KafkaJS's own (1 s, 5 retries).
 */
export function createKafkaAdmin(
  { brokers, clientId, connectTimeoutMs, retries }: {
    brokers: string[];
    clientId: string;
    connectTimeoutMs?: number;
    retries?: number;
  },
): KafkaAdmin {
  return new Kafka({
    clientId,
    ...kafkaBrokers(brokers),
    connectionTimeout: connectTimeoutMs,
    retry: retries === undefined ? undefined : { retries },
    logLevel: logLevel.NOTHING,
  }).admin();
}
