/**
 * The store-and-forward spool: a durable FIFO of records on local disk (SQLite through Deno's
 * built-in `node:sqlite`), for the time Kafka does not acknowledge. Rows keep their insertion
 * order, so replaying oldest first keeps every sensor's records in their original order.
 *
 * One process owns a spool at a time: the database is opened with an exclusive lock, so a second
 * process on the same directory fails at once instead of sending the same records twice.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { describeError, isPermissionDenial, PermissionError, permissionError, RunError } from "../errors.ts";
import { type OutRecord, recordsWithin } from "../messages.ts";
import { shown } from "../text.ts";

/** The spool's file inside `--spool-dir`. */
export const SPOOL_FILE = "spool.db";

/** A batch read from the spool: its records, oldest first, and the id to remove them up to. */
export interface SpoolBatch {
  records: readonly OutRecord[];
  lastId: number;
}

/** A durable FIFO of records in `dir`, bounded by `maxBytes` of database pages. */
export class Spool {
  /** The database file. */
  readonly path: string;
  readonly maxBytes: number;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #insertAt: StatementSync;
  readonly #peek: StatementSync;
  readonly #remove: StatementSync;
  #count: number;
  #bytes = 0;

  private constructor(path: string, db: DatabaseSync, maxBytes: number) {
    this.path = path;
    this.maxBytes = maxBytes;
    this.#db = db;
    this.#insert = db.prepare("INSERT INTO records (topic, key, value, ts, headers) VALUES (?, ?, ?, ?, ?)");
    this.#insertAt = db.prepare(
      "INSERT INTO records (id, topic, key, value, ts, headers) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.#peek = db.prepare("SELECT id, topic, key, value, ts, headers FROM records ORDER BY id LIMIT ?");
    this.#remove = db.prepare("DELETE FROM records WHERE id <= ?");
    this.#count = Number((db.prepare("SELECT COUNT(*) AS n FROM records").get() as { n: number }).n);
    this.#measure();
  }

  /**
   * Opens (creating when missing) the spool in `dir`. Throws `PermissionError` when the process may
   * not read or write there, `RunError` when the directory cannot be used or another process holds
   * the spool.
   */
  static open(dir: string, { maxBytes }: { maxBytes: number }): Spool {
    const path = join(resolve(dir), SPOOL_FILE);
    let db: DatabaseSync | undefined;
    try {
      mkdirSync(dir, { recursive: true });
      db = new DatabaseSync(path);
      // WAL with synchronous=NORMAL: a committed batch survives a crash of the process (kill -9);
      // a power cut may lose the last commits. EXCLUSIVE: one process per spool.
      db.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
      db.exec(
        "CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, " +
          "key TEXT NOT NULL, value TEXT NOT NULL, ts INTEGER NOT NULL, headers TEXT)",
      );
      return new Spool(path, db, maxBytes);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // Already failing: the first error is the one to report.
      }
      if (isPermissionDenial(error)) {
        throw new PermissionError(`${permissionError(error).message} (for the spool in --spool-dir ${shown(dir)})`);
      }
      const message = describeError(error);
      if (/locked|busy/i.test(message)) {
        throw new RunError(
          `--spool-dir ${shown(dir)} is in use by another factory-sim process (${shown(path)} is locked)`,
        );
      }
      throw new RunError(`cannot use --spool-dir ${shown(dir)}: ${shown(message)}`);
    }
  }

  /** Records in the spool. */
  get count(): number {
    return this.#count;
  }

  /** Bytes of database pages in use. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether the spool has reached its bound (appending more waits for room; see the sink). */
  get full(): boolean {
    return this.#bytes >= this.maxBytes;
  }

  /** Appends `records` in one transaction: all of them are durable when this returns. */
  append(records: readonly OutRecord[]): void {
    if (records.length === 0) return;
    this.#transaction(() => {
      for (const { topic, key, value, timestampMs, headers } of records) {
        this.#insert.run(topic, key, value, timestampMs, headers ? JSON.stringify(headers) : null);
      }
    });
    this.#count += records.length;
    this.#measure();
  }

  /**
   * Puts `records` before everything the spool holds, in their order: for records that are older
   * than the spooled ones (a request that was in flight when Kafka went away). Returns them as a
   * batch, for `remove` once Kafka acknowledges them after all.
   */
  prepend(records: readonly OutRecord[]): SpoolBatch {
    if (records.length === 0) return { records, lastId: 0 };
    const { first } = this.#db.prepare("SELECT MIN(id) AS first FROM records").get() as { first: number | null };
    const start = Number(first ?? 1) - records.length;
    this.#transaction(() => {
      records.forEach(({ topic, key, value, timestampMs, headers }, i) => {
        this.#insertAt.run(start + i, topic, key, value, timestampMs, headers ? JSON.stringify(headers) : null);
      });
    });
    this.#count += records.length;
    this.#measure();
    return { records, lastId: start + records.length - 1 };
  }

  /** The oldest `limit` records (and at most `maxBytes` by `recordBytes`, at least one), without removing them. */
  peek(limit: number, maxBytes = Infinity): SpoolBatch {
    const rows = this.#peek.all(limit) as {
      id: number;
      topic: string;
      key: string;
      value: string;
      ts: number;
      headers: string | null;
    }[];
    const records = rows.map((row): OutRecord => ({
      topic: row.topic,
      key: row.key,
      value: row.value,
      timestampMs: Number(row.ts),
      ...(row.headers === null ? {} : { headers: JSON.parse(row.headers) }),
    }));
    const { count } = recordsWithin(records, { maxBytes });
    records.length = count;
    return { records, lastId: count > 0 ? Number(rows[count - 1].id) : 0 };
  }

  /** Removes the records up to `lastId` (of a batch from `peek`, once Kafka acknowledged it). */
  remove({ lastId, records }: SpoolBatch): void {
    if (records.length === 0) return;
    this.#transaction(() => this.#remove.run(lastId));
    this.#count -= records.length;
    this.#measure();
  }

  /** Closes the database; what it holds stays for the next run. */
  close(): void {
    this.#db.close();
  }

  #transaction(body: () => void): void {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        body();
        this.#db.exec("COMMIT");
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
    } catch (error) {
      const message = describeError(error);
      throw new RunError(`cannot write to the spool ${shown(this.path)}: ${shown(message)}`);
    }
  }

  #measure(): void {
    const pragma = (name: string) => Number((this.#db.prepare(`PRAGMA ${name}`).get() as Record<string, number>)[name]);
    this.#bytes = (pragma("page_count") - pragma("freelist_count")) * pragma("page_size");
  }
}
