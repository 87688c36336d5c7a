/**
 * A full disk under the spool, injected where a test cannot mount a small filesystem: SQLite is
 * told to grow the spool to at most `pages` pages (`PRAGMA max_page_count`), so its writes beyond
 * that fail with SQLITE_FULL, the error SQLite gives for ENOSPC ("database or disk is full").
 * Patches `DatabaseSync` for spools opened after the call; the returned function undoes it.
 */
import { DatabaseSync } from "node:sqlite";

export function capSpoolPages(pages: number): () => void {
  const exec = DatabaseSync.prototype.exec;
  DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string) {
    const result = exec.call(this, sql);
    // The spool sets its journal mode first thing after opening: cap it right after.
    if (/journal_mode/.test(sql)) exec.call(this, `PRAGMA max_page_count = ${pages}`);
    return result;
  };
  return () => DatabaseSync.prototype.exec = exec;
}
