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

/**
 * `--compression` values, and each codec's number in a record batch's attributes (Kafka's
 * `CompressionType`). gzip is KafkaJS's own; snappy, lz4 and zstd are `codecs.ts`'s.
 */
export const CODEC_IDS = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
/** A value of `--compression`. */
export type Compression = keyof typeof CODEC_IDS;
/** `--compression` values, in the order `--help` lists them. */
export const COMPRESSIONS = Object.keys(CODEC_IDS) as Compression[];

/** Kafka's rule for topic names, client ids and group ids: 1-249 of a-z A-Z 0-9 . _ - */
const KAFKA_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** What `isKafkaName` accepts, as messages say it. */
export const KAFKA_NAME_RULE = "1-249 of a-z A-Z 0-9 . _ -";

/** Whether `text` is a valid Kafka client id or group id (`topic`: a topic name, which may not be "." or ".."). */
export function isKafkaName(text: string, { topic = false }: { topic?: boolean } = {}): boolean {
  return KAFKA_NAME.test(text) && !(topic && (text === "." || text === ".."));
}

/** Kafka's default retention (`log.retention.hours=168`): what a backfill's topics keep beyond its span. */
export const RETENTION_MARGIN_MS = 7 * 86_400_000;

/** The history a run writes: its oldest record timestamp, and the wall clock now (epoch ms). */
export interface History {
  oldestMs: number;
  nowMs: number;
}

/**
 * The `retention.ms` of a topic a backfill creates: the age of its oldest record plus Kafka's
 * default retention of 7 days, in whole days. Kafka deletes a segment once its newest record is
 * older than that, so the backfilled history lasts as long as a fresh record would by default.
 */
export function backfillRetentionMs({ oldestMs, nowMs }: History): number {
  const day = 86_400_000;
  return Math.ceil((Math.max(0, nowMs - oldestMs) + RETENTION_MARGIN_MS) / day) * day;
}
