/**
 * A patch of KafkaJS (installed by `patches.ts`): linear grouping of a request's messages by
 * partition, in place of `producer/groupMessagesPerPartition.js`.
 */

/** What KafkaJS's `producer/groupMessagesPerPartition.js` takes. */
export interface GroupArgs<M> {
  topic: string;
  partitionMetadata: unknown[];
  messages: M[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: M }) => number;
}

/**
 * The messages of one topic by partition, in order: what KafkaJS's `groupMessagesPerPartition`
 * returns. KafkaJS appends each message with `[...current, message]`, copying the partition's
 * array every time: quadratic in the messages of a request (5,000 by default, 100,000 at most).
 */
export function groupMessagesPerPartition<M>(
  { topic, partitionMetadata, messages, partitioner }: GroupArgs<M>,
): Record<number, M[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<number, M[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}
