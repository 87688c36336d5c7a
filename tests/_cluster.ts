/**
 * The three-node Kafka cluster of kafka/cluster.sh, for fault tests (killing a partition's leader mid-run).
 *
 * Each function runs `bash kafka/cluster.sh ...` and throws an Error carrying the script's stderr when it fails.
 * After `killNode`, the surviving nodes keep naming the dead node as leader until the controller fences it
 * (broker.session.timeout.ms, 9 s; about 11 s when the active controller died with it): poll `leaderOf` until it
 * differs. `startNode` right after a kill waits out that same session before the node can register again.
 */
import { runKafkaScript } from "./_kafka.ts";

/** The cluster's bootstrap list (nodes 1, 2, 3; KAFKA_CLUSTER_BASE_PORT moves all of them). */
export const CLUSTER_BROKERS: string = clusterBrokers(Number(Deno.env.get("KAFKA_CLUSTER_BASE_PORT") || 19092));

function clusterBrokers(basePort: number): string {
  return [0, 1, 2].map((i) => `127.0.0.1:${basePort + i}`).join(",");
}

function cluster(...args: string[]): Promise<string> {
  return runKafkaScript("cluster.sh", args);
}

/** Starts every node that is not running and resolves once all three serve metadata. */
export async function startCluster(): Promise<void> {
  await cluster("start");
}

/** Stops all nodes (SIGTERM, then SIGKILL); `wipe` also deletes their data (kafka/.cluster). */
export async function stopCluster({ wipe = false }: { wipe?: boolean } = {}): Promise<void> {
  await cluster("stop", ...(wipe ? ["--wipe"] : []));
}

/** SIGKILLs node `id` (1, 2 or 3), no controlled shutdown; resolves once the process is gone. */
export async function killNode(id: number): Promise<void> {
  await cluster("kill", String(id));
}

/** Starts node `id` (1, 2 or 3) again and resolves once it serves metadata. */
export async function startNode(id: number): Promise<void> {
  await cluster("start-node", String(id));
}

/** The node id that leads `partition` of `topic`, as the metadata of a live node says. */
export async function leaderOf(topic: string, partition = 0): Promise<number> {
  const out = (await cluster("leader", topic, String(partition))).trim();
  const id = Number(out);
  if (out === "" || !Number.isInteger(id)) throw new Error(`kafka/cluster.sh leader printed '${out}', not a node id`);
  return id;
}
