/**
 * The store-and-forward spool: a durable FIFO of records on local disk (SQLite through Deno's
 * built-in `node:sqlite`), for the time Kafka does not acknowledge. Rows keep their insertion
 * order, so replaying oldest first keeps every sensor's records in their original order.
 *
 * One process owns a spool at a time: the database is opened with an exclusive lock, so a second
 * process on the same directory fails at once instead of sending the same records twice.
 *
 * The spool also knows which of its records are in doubt: sent to Kafka without an
 * acknowledgement the spool has seen (put there while in flight, or sent from it and not yet
 * removed). They are always its oldest, so one id marks them (`runs.doubt_through`: the records up
 * to it), written once per request sent from the spool. A run that opens a spool with records in
 * doubt asks Kafka which of them it holds before sending anything (`sinks/delivery.ts`).
 */
import { Buffer } from "node:buffer";
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { describeError, isPermissionDenial, PermissionError, permissionError, RunError } from "../errors.ts";
import { isEncodedValue } from "../json_bytes.ts";
import { log } from "../log.ts";
import { type OutRecord, recordsWithin } from "../messages.ts";
import { shown } from "../text.ts";

/** The spool's file inside `--spool-dir`. */
export const SPOOL_FILE = "spool.db";

/**
 * The format of the spool this version writes and reads, kept in the database's `user_version`. A
 * spool of a later format (a newer factory-sim) is refused, not guessed at. Format 0 is a spool of
 * a version before formats were stored: the same table, adopted as format 1.
 */
export const SPOOL_FORMAT = 1;
/** `PRAGMA application_id` of a spool ("FSIM"): what tells a spool from another SQLite database. */
export const SPOOL_APPLICATION_ID = 0x4653494d;

/** How SQLite syncs a commit to disk (`--spool-sync`). */
export type SpoolSync = "normal" | "full";

/** How a spool is opened. */
export interface SpoolOptions {
  /** The bound of `full`, in bytes of database pages. */
  maxBytes: number;
  /**
   * `normal` (default): a commit survives a crash of the process; a power cut may lose the last
   * commits. `full`: each commit is synced to disk before `append` returns.
   */
  sync?: SpoolSync;
  /** Told what opening had to do (a corrupt spool moved aside); default: a warning on the log. */
  warn?: (line: string) => void;
  /** The database's file name in the directory (default `spool.db`; one a producer: `sinks/lanes.ts`). */
  file?: string;
}

/**
 * A write to the spool failed (a full disk, an I/O error): nothing more can be kept in it. What it
 * held before stays intact (each batch is one transaction).
 */
export class SpoolWriteError extends RunError {
  constructor(message: string) {
    super(message);
    this.name = "SpoolWriteError";
  }
}

/** A batch read from the spool: its records, oldest first, and the id to remove them up to. */
export interface SpoolBatch {
  records: readonly OutRecord[];
  lastId: number;
}

/** The records in doubt, oldest first, with their ids (to remove the ones Kafka holds already). */
export interface InDoubt {
  records: readonly OutRecord[];
  ids: readonly number[];
}

interface RecordRow {
  id: number;
  topic: string;
  key: string;
  /** JSON text, or a registry format's bytes (a BLOB, read back as a Uint8Array). */
  value: string | Uint8Array;
  ts: number;
  headers: string | null;
}

/** A record's value as the spool keeps it: JSON as text (a request's parts too), a registry format's bytes as they are. */
function storedValue(value: OutRecord["value"]): string | Uint8Array {
  return isEncodedValue(value) ? String(value) : value;
}

function recordOf(row: RecordRow): OutRecord {
  return {
    topic: row.topic,
    key: row.key,
    value: typeof row.value === "string"
      ? row.value
      : Buffer.from(row.value.buffer, row.value.byteOffset, row.value.byteLength),
    timestampMs: Number(row.ts),
    ...(row.headers === null ? {} : { headers: JSON.parse(row.headers) }),
  };
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
  readonly #markDoubt: StatementSync;
  #count: number;
  #bytes = 0;
  #runId = 0;
  /** The records with an id up to this are in doubt (none when undefined). */
  #doubtThrough: number | undefined;

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
    this.#markDoubt = db.prepare("UPDATE runs SET doubt_through = ? WHERE id = ?");
    this.#count = Number((db.prepare("SELECT COUNT(*) AS n FROM records").get() as { n: number }).n);
    this.#measure();
  }

  /**
   * Opens (creating when missing) the spool in `dir`. Throws `PermissionError` when the process may
   * not read or write there, `RunError` when the directory cannot be used, another process holds
   * the spool, or the spool was written by a newer factory-sim. A spool that is not a readable
   * database (truncated, overwritten) is moved aside, with a warning naming both paths, and a new
   * one started: its records are kept on disk, never silently dropped.
   */
  static open(
    dir: string,
    { maxBytes, sync = "normal", warn = (line) => log("kafka").warn(line), file = SPOOL_FILE }: SpoolOptions,
  ): Spool {
    const path = join(resolve(dir), file);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw openError(error, dir, path);
    }
    setAsideCorruptWal(path, warn);
    const started = (spool: Spool) => {
      try {
        spool.#startRun(warn, sync);
      } catch (error) {
        spool.close();
        throw openError(error, dir, path);
      }
      return spool;
    };
    try {
      return started(new Spool(path, openDatabase(path, sync), maxBytes));
    } catch (error) {
      if (!isCorruption(error)) throw openError(error, dir, path);
      const aside = setAside(path, dir);
      warn(
        `the spool ${shown(path)} is corrupt (${shown(describeError(error))}): moved to ${shown(aside)}, ` +
          "its records are not sent; starting a new spool",
      );
      let spool;
      try {
        spool = new Spool(path, openDatabase(path, sync), maxBytes);
      } catch (again) {
        throw openError(again, dir, path);
      }
      return started(spool);
    }
  }

  /**
   * Notes this run in the spool (its `runs` row, closed by `close`). A row left open is a run that
   * ended without closing the spool: killed, crashed, a power cut. Its loss is said here; it
   * cannot be counted, since what was lost never reached the disk.
   */
  #startRun(warn: (line: string) => void, sync: SpoolSync): void {
    const last = this.#db.prepare("SELECT started_ms, closed_ms, doubt_through FROM runs ORDER BY id DESC LIMIT 1")
      .get() as
        | { started_ms: number; closed_ms: number | null; doubt_through: number | null }
        | undefined;
    this.#doubtThrough = last?.doubt_through === null || last === undefined ? undefined : Number(last.doubt_through);
    if (last && last.closed_ms === null) {
      warn(
        `the run that used the spool ${shown(this.path)} last (started ${
          new Date(Number(last.started_ms)).toISOString()
        }) ` +
          `ended without closing it (killed, a crash, a power cut or a full disk): the ${this.#count} records it ` +
          "kept are sent first; the records it had not committed yet (at most one request in flight and one linger " +
          "window) were lost and cannot be counted" +
          (sync === "normal" ? "; after a power cut also its last commits (--spool-sync full keeps them)" : ""),
      );
    }
    this.#transaction(() => {
      this.#db.exec("DELETE FROM runs");
      this.#runId = Number(
        this.#db.prepare("INSERT INTO runs (started_ms, doubt_through) VALUES (?, ?)")
          .run(Date.now(), this.#doubtThrough ?? null).lastInsertRowid,
      );
    });
  }

  /** How commits are synced to disk, as SQLite reports it (`PRAGMA synchronous`). */
  get sync(): SpoolSync {
    const { synchronous } = this.#db.prepare("PRAGMA synchronous").get() as { synchronous: number };
    return synchronous >= 2 ? "full" : "normal";
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

  /**
   * Records in doubt: sent to Kafka by an earlier run (or this one) without an acknowledgement
   * that removed them. Kafka may hold them already.
   */
  get inDoubt(): number {
    if (this.#doubtThrough === undefined || this.#count === 0) return 0;
    return Number(
      (this.#db.prepare("SELECT COUNT(*) AS n FROM records WHERE id <= ?").get(this.#doubtThrough) as { n: number }).n,
    );
  }

  /** The records in doubt, oldest first, with their ids. */
  peekInDoubt(): InDoubt {
    if (this.#doubtThrough === undefined) return { records: [], ids: [] };
    const rows = this.#db.prepare("SELECT id, topic, key, value, ts, headers FROM records WHERE id <= ? ORDER BY id")
      .all(this.#doubtThrough) as unknown as RecordRow[];
    return { records: rows.map(recordOf), ids: rows.map((row) => Number(row.id)) };
  }

  /**
   * Marks `batch` (from `peek`) in doubt before it is sent: a crash between Kafka's acknowledgement
   * and `remove` leaves it marked, and the next run checks it instead of sending it again. One
   * small write (a row of `runs`), none when the batch is marked already.
   */
  markInDoubt(batch: SpoolBatch): void {
    if (batch.records.length === 0 || (this.#doubtThrough !== undefined && this.#doubtThrough >= batch.lastId)) return;
    this.#transaction(() => this.#markDoubt.run(batch.lastId, this.#runId));
    this.#doubtThrough = batch.lastId;
  }

  /**
   * Settles the doubt once Kafka has been asked: removes the records of `ids` (Kafka holds them)
   * and marks the rest as not in doubt (they are sent as usual), in one transaction.
   */
  resolveDoubt(ids: readonly number[]): void {
    this.#transaction(() => {
      const remove = this.#db.prepare("DELETE FROM records WHERE id = ?");
      for (const id of ids) remove.run(id);
      this.#markDoubt.run(null, this.#runId);
    });
    this.#doubtThrough = undefined;
    this.#count -= ids.length;
    this.#measure();
  }

  /** Appends `records` in one transaction: all of them are durable when this returns. */
  append(records: readonly OutRecord[]): void {
    if (records.length === 0) return;
    this.#transaction(() => {
      for (const { topic, key, value, timestampMs, headers } of records) {
        this.#insert.run(topic, key, storedValue(value), timestampMs, headers ? JSON.stringify(headers) : null);
      }
    });
    this.#count += records.length;
    this.#measure();
  }

  /**
   * Puts `records` before everything the spool holds, in their order: for records that are older
   * than the spooled ones (a request that was in flight when Kafka went away). They were sent, so
   * they are in doubt (in the same transaction). Returns them as a batch, for `remove` once Kafka
   * acknowledges them after all.
   */
  prepend(records: readonly OutRecord[]): SpoolBatch {
    if (records.length === 0) return { records, lastId: 0 };
    const { first } = this.#db.prepare("SELECT MIN(id) AS first FROM records").get() as { first: number | null };
    const start = Number(first ?? 1) - records.length;
    const lastId = start + records.length - 1;
    // The records in doubt are always the oldest: these, and those already marked after them.
    const doubtThrough = Math.max(lastId, this.#doubtThrough ?? lastId);
    this.#transaction(() => {
      records.forEach(({ topic, key, value, timestampMs, headers }, i) => {
        this.#insertAt.run(
          start + i,
          topic,
          key,
          storedValue(value),
          timestampMs,
          headers ? JSON.stringify(headers) : null,
        );
      });
      this.#markDoubt.run(doubtThrough, this.#runId);
    });
    this.#doubtThrough = doubtThrough;
    this.#count += records.length;
    this.#measure();
    return { records, lastId };
  }

  /** The oldest `limit` records (and at most `maxBytes` by `recordBytes`, at least one), without removing them. */
  peek(limit: number, maxBytes = Infinity): SpoolBatch {
    const rows = this.#peek.all(limit) as unknown as RecordRow[];
    const records = rows.map(recordOf);
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

  /** Closes the database; what it holds stays for the next run (even when the disk is full). */
  close(): void {
    try {
      if (this.#db.isOpen) this.#db.prepare("UPDATE runs SET closed_ms = ? WHERE id = ?").run(Date.now(), this.#runId);
    } catch {
      // A full disk: the next run says that this one did not close the spool, which is true enough.
    }
    try {
      this.#db.close();
    } catch {
      // Closing only checkpoints the write-ahead log: what it holds is read back by the next run.
    }
  }

  /** One transaction: all of `body`'s writes are committed, or none (SQLite rolls back a failed one). */
  #transaction(body: () => void): void {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        body();
        this.#db.exec("COMMIT");
      } catch (error) {
        // SQLite has already rolled back after some errors (a full disk): then there is nothing to undo.
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw error;
      }
    } catch (error) {
      const message = describeError(error);
      if (/disk is full|SQLITE_FULL/i.test(message)) {
        throw new SpoolWriteError(`the disk holding the spool ${shown(this.path)} is full (${shown(message)})`);
      }
      throw new SpoolWriteError(`cannot write to the spool ${shown(this.path)}: ${shown(message)}`);
    }
  }

  #measure(): void {
    const pragma = (name: string) => Number((this.#db.prepare(`PRAGMA ${name}`).get() as Record<string, number>)[name]);
    this.#bytes = (pragma("page_count") - pragma("freelist_count")) * pragma("page_size");
  }
}

/**
 * Opens and checks the database at `path`: readable throughout (`quick_check`), a spool of a
 * format this version knows. Throws what SQLite throws (`isCorruption` tells a damaged file), or a
 * `RunError` for a spool of a newer factory-sim or a database that is not a spool.
 */
function openDatabase(path: string, sync: SpoolSync): DatabaseSync {
  const db = new DatabaseSync(path);
  try {
    // WAL: a committed batch survives a crash of the process (kill -9). synchronous=NORMAL syncs
    // at checkpoints only, so a power cut may lose the last commits; FULL syncs every commit.
    // EXCLUSIVE: one process per spool.
    db.exec(`PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync.toUpperCase()}`);
    const problems = (db.prepare("PRAGMA quick_check(3)").all() as { quick_check: string }[])
      .map((row) => row.quick_check);
    if (problems.join() !== "ok") throw new Error(`database disk image is malformed: ${problems.join("; ")}`);
    const pragma = (name: string) => Number((db.prepare(`PRAGMA ${name}`).get() as Record<string, number>)[name]);
    const format = pragma("user_version");
    const application = pragma("application_id");
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[])
      .map((row) => row.name).filter((name) => !name.startsWith("sqlite_"));
    const foreign = application !== 0 && application !== SPOOL_APPLICATION_ID ||
      tables.some((name) => name !== "records" && name !== "runs");
    if (format > SPOOL_FORMAT && !foreign) {
      throw new RunError(
        `the spool ${shown(path)} was written by a newer factory-sim (spool format ${format}; this version reads ` +
          `format ${SPOOL_FORMAT}): send its records with that version, or move the file away to start a new spool`,
      );
    }
    if (foreign) {
      throw new RunError(
        `${shown(path)} is not a factory-sim spool (another SQLite database): give --spool-dir a directory of its own`,
      );
    }
    db.exec(
      "CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, " +
        "key TEXT NOT NULL, value TEXT NOT NULL, ts INTEGER NOT NULL, headers TEXT); " +
        "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, closed_ms INTEGER, " +
        "doubt_through INTEGER)",
    );
    // A spool of a version before the in-doubt mark: the column is added (an older version reading
    // this spool ignores it, and sends the records in doubt again: at least once, as it always did).
    const runColumns = (db.prepare("PRAGMA table_info(runs)").all() as { name: string }[]).map((row) => row.name);
    if (!runColumns.includes("doubt_through")) db.exec("ALTER TABLE runs ADD COLUMN doubt_through INTEGER");
    if (format !== SPOOL_FORMAT || application !== SPOOL_APPLICATION_ID) {
      db.exec(`PRAGMA user_version = ${SPOOL_FORMAT}; PRAGMA application_id = ${SPOOL_APPLICATION_ID}`);
    }
    return db;
  } catch (error) {
    try {
      db.close();
    } catch {
      // Already failing: the first error is the one to report.
    }
    throw error;
  }
}

/** Whether SQLite's `error` says the file is damaged or not a database at all. */
function isCorruption(error: unknown): boolean {
  return !(error instanceof RunError) && /malformed|not a database|corrupt/i.test(describeError(error));
}

/** The error of a spool that cannot be opened, in one line. */
function openError(error: unknown, dir: string, path: string): Error {
  if (error instanceof RunError) return error;
  if (isPermissionDenial(error)) {
    return new PermissionError(`${permissionError(error).message} (for the spool in --spool-dir ${shown(dir)})`);
  }
  const message = describeError(error);
  if (/locked|busy/i.test(message)) {
    return new RunError(
      `--spool-dir ${shown(dir)} is in use by another factory-sim process (${shown(path)} is locked)`,
    );
  }
  if (/disk is full/i.test(message)) {
    return new RunError(`cannot use --spool-dir ${shown(dir)}: the disk is full (${shown(message)})`);
  }
  return new RunError(`cannot use --spool-dir ${shown(dir)}: ${shown(message)}`);
}

/** `spool.db.corrupt-20261130T025901Z`: where a damaged file is moved, stamped with the time. */
function asidePath(path: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  let aside = `${path}.corrupt-${stamp}`;
  for (let n = 2; existsSync(aside) || existsSync(`${aside}-wal`); n++) aside = `${path}.corrupt-${stamp}-${n}`;
  return aside;
}

/**
 * Moves the spool's files (`spool.db` and its `-wal` and `-shm`) aside together, so SQLite can
 * still open the set there; returns the new path of `spool.db`.
 */
function setAside(path: string, dir: string): string {
  const aside = asidePath(path);
  try {
    for (const suffix of ["-wal", "-shm", ""]) {
      if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
    }
  } catch (error) {
    throw new RunError(
      `the spool ${shown(path)} is corrupt and cannot be moved to ${shown(aside)} (${shown(describeError(error))}): ` +
        `move it away to start a new spool in --spool-dir ${shown(dir)}`,
    );
  }
  return aside;
}

/** The first bytes of a SQLite write-ahead log: its magic (big- or little-endian checksums). */
const WAL_MAGIC = [0x377f0682, 0x377f0683];
const WAL_HEADER_BYTES = 32;

/**
 * A write-ahead log SQLite would ignore (no valid header) loses the commits it holds without a
 * word: it is moved aside (`spool.db-wal.corrupt-<time>`) with a warning instead. A log cut short
 * (a torn write) is not: SQLite keeps its commits up to the cut, as it is made to.
 */
function setAsideCorruptWal(path: string, warn: (line: string) => void): void {
  const wal = `${path}-wal`;
  let header: Uint8Array;
  try {
    const fd = openSync(wal, "r");
    try {
      header = new Uint8Array(WAL_HEADER_BYTES);
      header = header.subarray(0, readSync(fd, header, 0, WAL_HEADER_BYTES, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return; // No log (the usual case after a clean close), or one SQLite cannot read either.
  }
  if (header.length === 0 || walHeaderValid(header)) return;
  const aside = `${wal}.corrupt-${asidePath(path).split(".corrupt-")[1]}`;
  try {
    renameSync(wal, aside);
  } catch (error) {
    throw new RunError(
      `the spool's write-ahead log ${shown(wal)} is corrupt and cannot be moved to ${shown(aside)} ` +
        `(${shown(describeError(error))}): move it away to use the spool`,
    );
  }
  warn(
    `the spool's write-ahead log ${shown(wal)} is corrupt (no valid header): moved to ${shown(aside)}; ` +
      "the records it held, if any, are not sent",
  );
}

/** Whether `header` is a WAL header with SQLite's magic and a matching checksum. */
function walHeaderValid(header: Uint8Array): boolean {
  if (header.length < WAL_HEADER_BYTES) return false;
  const view = new DataView(header.buffer, header.byteOffset, WAL_HEADER_BYTES);
  const magic = view.getUint32(0);
  if (!WAL_MAGIC.includes(magic)) return false;
  const littleEndian = (magic & 1) === 0;
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < 24; i += 8) {
    s1 = (s1 + view.getUint32(i, littleEndian) + s2) >>> 0;
    s2 = (s2 + view.getUint32(i + 4, littleEndian) + s1) >>> 0;
  }
  return s1 === view.getUint32(24) && s2 === view.getUint32(28);
}
