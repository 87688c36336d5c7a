/**
 * What Kafka itself defines and factory-sim's flags offer: acknowledgement levels, compression
 * codecs and the rule for names. Part of the Kafka layer that does not load KafkaJS, so the flag
 * parsers and `--help` can use it without paying for the client.
 */

/** `--acks` values and what each means on the wire (all: every in-sync replica; leader; none). */
export const ACKS = { all: -1, leader: 1, none: 0 } as const;
/** A value of `--acks`. */
export type Acks = keyof typeof ACKS;
/** `--acks` values, in the order `--help` lists them. */
export const ACKS_CHOICES = Object.keys(ACKS) as Acks[];

/** `--compression` values (gzip is built into KafkaJS). */
export const COMPRESSIONS = ["none", "gzip"] as const;
/** A value of `--compression`. */
export type Compression = typeof COMPRESSIONS[number];

/** Kafka's rule for topic names, client ids and group ids: 1-249 of a-z A-Z 0-9 . _ - */
const KAFKA_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** What `isKafkaName` accepts, as messages say it. */
export const KAFKA_NAME_RULE = "1-249 of a-z A-Z 0-9 . _ -";

/** Whether `text` is a valid Kafka client id or group id (`topic`: a topic name, which may not be "." or ".."). */
export function isKafkaName(text: string, { topic = false }: { topic?: boolean } = {}): boolean {
  return KAFKA_NAME.test(text) && !(topic && (text === "." || text === ".."));
}
