/**
 * The product's Kafka sink for the benchmark workers, opened as `main.ts` opens it with the default
 * producer settings (acks=all, idempotent, no compression, linger 5 ms, 5,000 records per topic
 * and request), its store-and-forward spool included (in `spoolDir`, removed on close; no spool
 * when undefined).
 */
import { connectKafkaSink } from "../lib/sinks/kafka.ts";
import { Spool } from "../lib/sinks/spool.ts";

/** A Kafka sink as `main.ts` opens it with its default producer settings, and what closes it. */
export async function openKafkaSink(
  { brokers, topics, spoolDir }: { brokers: string[]; topics: string[]; spoolDir?: string },
): Promise<{ sink: Awaited<ReturnType<typeof connectKafkaSink>>; close: () => Promise<void> }> {
  const sink = await connectKafkaSink({
    brokers,
    topics,
    connectTimeoutMs: 10_000,
    acks: "all",
    idempotent: true,
    compression: "none",
    delivery: { spool: spoolDir ? Spool.open(spoolDir, { maxBytes: 512 * 1024 * 1024 }) : undefined },
  });
  return {
    sink,
    close: async () => {
      try {
        await sink.close();
      } finally {
        if (spoolDir) Deno.removeSync(spoolDir, { recursive: true });
      }
    },
  };
}
