/** The spool: a durable FIFO on disk, one process at a time. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { DatabaseSync } from "node:sqlite";
import { ExitCode, RunError } from "../lib/errors.ts";
import type { OutRecord } from "../lib/messages.ts";
import { Spool, SPOOL_FORMAT } from "../lib/sinks/spool.ts";

function records(n: number, from = 0): OutRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    topic: (from + i) % 2 ? "H" : "R",
    key: `S1-${(from + i) % 3}`,
    value: `{"i":${from + i}}`,
    timestampMs: 1_700_000_000_000 + from + i,
    ...((from + i) % 3 ? { headers: { "content-type": "application/json" } } : {}),
  }));
}

function withDir(body: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "spool-test-" });
  try {
    body(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("records come back oldest first, exactly as they went in, across a reopen", () => {
  withDir((dir) => {
    const spool = Spool.open(`${dir}/nested/spool`, { maxBytes: 1 << 20 });
    spool.append(records(5));
    spool.append(records(5, 5));
    assert.equal(spool.count, 10);
    spool.close();
    const reopened = Spool.open(`${dir}/nested/spool`, { maxBytes: 1 << 20 });
    assert.equal(reopened.count, 10);
    const first = reopened.peek(4);
    assert.deepEqual(first.records, records(10).slice(0, 4));
    reopened.remove(first);
    assert.equal(reopened.count, 6);
    assert.deepEqual(reopened.peek(100).records, [...records(10)].slice(4));
    reopened.remove(reopened.peek(100));
    assert.equal(reopened.count, 0);
    assert.deepEqual(reopened.peek(10), { records: [], lastId: 0 });
    reopened.close();
  });
});

Deno.test("a registry format's bytes come back as the same bytes, as Buffers KafkaJS writes as they are", () => {
  withDir((dir) => {
    const spool = Spool.open(dir, { maxBytes: 1 << 20 });
    // Every byte value, a zero first (the wire format's magic byte), and JSON text beside them.
    const bytes = Buffer.from([0, 0, 0, 0, 7, ...Array.from({ length: 256 }, (_, i) => i)]);
    const mixed = [
      { topic: "R", key: "S1-1", value: bytes, timestampMs: 1, headers: { "content-type": "application/avro" } },
      { topic: "R", key: "S1-1", value: '{"a":1}', timestampMs: 2 },
      { topic: "R", key: "S1-2", value: Buffer.alloc(0), timestampMs: 3 },
    ];
    spool.append(mixed);
    spool.close();
    const reopened = Spool.open(dir, { maxBytes: 1 << 20 });
    const { records: back } = reopened.peek(10);
    assert.deepEqual(back.map((r) => r.value), mixed.map((r) => r.value));
    assert.ok(Buffer.isBuffer(back[0].value) && Buffer.isBuffer(back[2].value), "KafkaJS writes only Buffers as bytes");
    assert.equal(typeof back[1].value, "string");
    reopened.close();
  });
});

Deno.test("the spool is full at its byte bound and has room again once replayed", () => {
  withDir((dir) => {
    const spool = Spool.open(dir, { maxBytes: 256 * 1024 });
    assert.ok(!spool.full);
    while (!spool.full) spool.append(records(500));
    assert.ok(spool.bytes >= 256 * 1024);
    while (spool.count > 0) spool.remove(spool.peek(1_000));
    assert.ok(!spool.full, `${spool.bytes} bytes in use after replay`);
    spool.close();
  });
});

Deno.test("a second process cannot open a spool in use", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "spool-test-" });
  const spool = Spool.open(dir, { maxBytes: 1 << 20 });
  spool.append(records(1));
  try {
    const code = `
      import { Spool } from ${JSON.stringify(new URL("../lib/sinks/spool.ts", import.meta.url).href)};
      try { Spool.open(${JSON.stringify(dir)}, { maxBytes: 1 << 20 }); console.log("opened"); }
      catch (error) { console.log(error.constructor.name + ": " + error.message); }`;
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-prompt", "-A", code],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.match(
      new TextDecoder().decode(stdout),
      /^RunError: --spool-dir .* is in use by another factory-sim process \(.*spool\.db is locked\)$/m,
    );
  } finally {
    spool.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a spool dir that is a file is a one-line error", () => {
  withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.throws(() => Spool.open(`${dir}/file`, { maxBytes: 1 }), (error: RunError) => {
      assert.equal(error.exitCode, ExitCode.failure);
      assert.match(error.message, /^cannot use --spool-dir .*\/file: /);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  });
});

Deno.test("records put before the others come back first", () => {
  withDir((dir) => {
    const spool = Spool.open(dir, { maxBytes: 1 << 20 });
    spool.prepend(records(2));
    spool.append(records(2, 4));
    spool.prepend(records(2, 2).slice(0, 1));
    spool.prepend([]);
    assert.deepEqual(spool.peek(10).records.map((r) => r.value), [
      '{"i":2}',
      '{"i":0}',
      '{"i":1}',
      '{"i":4}',
      '{"i":5}',
    ]);
    assert.equal(spool.count, 5);
    spool.close();
  });
});

/** Opens the spool in `dir` with warnings collected. */
function openWarned(dir: string): { spool: Spool; warnings: string[] } {
  const warnings: string[] = [];
  const spool = Spool.open(dir, { maxBytes: 1 << 30, warn: (line) => warnings.push(line) });
  return { spool, warnings };
}

/** A spool in `dir` holding `n` records, closed (its log checkpointed into spool.db). */
function filled(dir: string, n: number): void {
  const spool = Spool.open(dir, { maxBytes: 1 << 30 });
  for (let i = 0; i < n; i += 100) spool.append(records(Math.min(100, n - i), i));
  spool.close();
}

/** The spool files in `dir`, sorted. */
const files = (dir: string) => [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();

/**
 * Checks the warning of a corrupt `spool.db` moved aside: one line with both paths, the moved
 * file holds every byte it had, and a new, empty spool works in its place.
 */
function assertMovedAside(dir: string, before: Uint8Array, warnings: string[], spool: Spool): void {
  assert.equal(warnings.length, 1, warnings.join("\n"));
  const match = new RegExp(
    `^the spool ${dir}/spool\\.db is corrupt \\((.+)\\): moved to (${dir}/spool\\.db\\.corrupt-\\d{8}T\\d{6}Z), ` +
      "its records are not sent; starting a new spool$",
  ).exec(warnings[0]);
  assert.ok(match, warnings[0]);
  assert.deepEqual(Deno.readFileSync(match[2]), before, "moved aside intact");
  assert.equal(spool.count, 0);
  spool.append(records(3));
  assert.deepEqual(spool.peek(10).records, records(3));
  spool.close();
}

Deno.test("a truncated spool.db is moved aside with both paths named, and a new spool starts", () => {
  withDir((dir) => {
    filled(dir, 3_000);
    const size = Deno.statSync(`${dir}/spool.db`).size;
    Deno.truncateSync(`${dir}/spool.db`, Math.floor(size / 2));
    const before = Deno.readFileSync(`${dir}/spool.db`);
    const { spool, warnings } = openWarned(dir);
    assertMovedAside(dir, before, warnings, spool);
    assert.match(warnings[0], /corrupt \(database disk image is malformed/);
  });
});

Deno.test("a spool.db of garbage is moved aside with both paths named, and a new spool starts", () => {
  withDir((dir) => {
    const garbage = new Uint8Array(64 * 1024).map((_, i) => (i * 7919 + 13) % 251);
    Deno.writeFileSync(`${dir}/spool.db`, garbage);
    const { spool, warnings } = openWarned(dir);
    assertMovedAside(dir, garbage, warnings, spool);
    assert.match(warnings[0], /corrupt \(file is not a database\)/);
  });
});

Deno.test("a spool.db cut inside its header is moved aside too", () => {
  withDir((dir) => {
    filled(dir, 10);
    Deno.truncateSync(`${dir}/spool.db`, 50);
    const before = Deno.readFileSync(`${dir}/spool.db`);
    const { spool, warnings } = openWarned(dir);
    assertMovedAside(dir, before, warnings, spool);
  });
});

Deno.test("a damaged spool moved aside takes its write-ahead log along, openable together", () => {
  withDir((dir) => {
    Deno.writeFileSync(`${dir}/spool.db`, new TextEncoder().encode("not a database at all ".repeat(500)));
    Deno.writeFileSync(`${dir}/spool.db-wal`, new Uint8Array(0));
    const { spool, warnings } = openWarned(dir);
    const aside = /moved to (\S+),/.exec(warnings[0])![1];
    assert.ok(files(dir).includes(`${aside.split("/").at(-1)}-wal`), files(dir).join(" "));
    spool.close();
  });
});

Deno.test("a spool written by a newer factory-sim is refused with one line, and left as it is", () => {
  withDir((dir) => {
    filled(dir, 5);
    const db = new DatabaseSync(`${dir}/spool.db`);
    db.exec(`PRAGMA user_version = ${SPOOL_FORMAT + 1}`);
    db.close();
    const before = Deno.readFileSync(`${dir}/spool.db`);
    assert.throws(() => openWarned(dir), (error: RunError) => {
      assert.ok(error instanceof RunError);
      assert.equal(error.exitCode, ExitCode.failure);
      assert.equal(
        error.message,
        `the spool ${dir}/spool.db was written by a newer factory-sim (spool format ${SPOOL_FORMAT + 1}; this ` +
          `version reads format ${SPOOL_FORMAT}): send its records with that version, or move the file away to ` +
          "start a new spool",
      );
      return true;
    });
    assert.deepEqual(Deno.readFileSync(`${dir}/spool.db`), before, "untouched");
    assert.deepEqual(files(dir), ["spool.db"]);
  });
});

Deno.test("another SQLite database in the spool's place is refused, not used", () => {
  withDir((dir) => {
    const db = new DatabaseSync(`${dir}/spool.db`);
    db.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)");
    db.close();
    assert.throws(() => openWarned(dir), /spool\.db is not a factory-sim spool \(another SQLite database\)/);
  });
});

Deno.test("a spool of the version before formats were stored is adopted with its records", () => {
  withDir((dir) => {
    const db = new DatabaseSync(`${dir}/spool.db`);
    db.exec(
      "CREATE TABLE records (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL, " +
        "value TEXT NOT NULL, ts INTEGER NOT NULL, headers TEXT)",
    );
    db.prepare("INSERT INTO records (topic, key, value, ts, headers) VALUES ('R', 'S1-0', '{}', 1, NULL)").run();
    db.close();
    const { spool, warnings } = openWarned(dir);
    assert.deepEqual(warnings, []);
    assert.equal(spool.count, 1);
    spool.close();
    const reread = new DatabaseSync(`${dir}/spool.db`);
    assert.deepEqual({ ...reread.prepare("PRAGMA user_version").get() }, { user_version: SPOOL_FORMAT });
    reread.close();
  });
});

/** Leaves a spool in `dir` whose records are all in its write-ahead log (a process killed before closing). */
async function killedWithLog(dir: string, n: number): Promise<void> {
  const code = `
    import { Spool } from ${JSON.stringify(new URL("../lib/sinks/spool.ts", import.meta.url).href)};
    const spool = Spool.open(${JSON.stringify(dir)}, { maxBytes: 1 << 30 });
    spool.append(Array.from({ length: ${n} }, (_, i) => ({ topic: "R", key: "S1-0", value: "{}", timestampMs: i })));
    Deno.exit(0);`;
  const { success } = await new Deno.Command(Deno.execPath(), { args: ["eval", "--no-prompt", "-A", code] }).output();
  assert.ok(success);
  assert.ok(Deno.statSync(`${dir}/spool.db-wal`).size > 0, "records in the log");
}

/** The warning of a spool its last run did not close. */
const UNCLOSED =
  /^the run that used the spool .*spool\.db last \(started \d{4}-\d\d-\d\dT[\d:.]+Z\) ended without closing it \(killed, a crash, a power cut or a full disk\): the (\d+) records it kept are sent first; the records it had not committed yet \(at most one request in flight and one linger window\) were lost and cannot be counted/;

Deno.test("a process killed before closing leaves its records in the log; the next open has every one and says so", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "spool-test-" });
  try {
    await killedWithLog(dir, 500);
    const { spool, warnings } = openWarned(dir);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.equal(UNCLOSED.exec(warnings[0])?.[1], "500", warnings[0]);
    assert.match(warnings[0], /; after a power cut also its last commits \(--spool-sync full keeps them\)$/);
    assert.equal(spool.count, 500);
    spool.close();
    const again = openWarned(dir);
    assert.deepEqual(again.warnings, [], "closed this time");
    again.spool.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a write-ahead log of garbage, which SQLite would drop without a word, is moved aside and named", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "spool-test-" });
  try {
    await killedWithLog(dir, 500);
    const log = Deno.readFileSync(`${dir}/spool.db-wal`);
    log.fill(0x5a, 0, 32);
    Deno.writeFileSync(`${dir}/spool.db-wal`, log);
    const { spool, warnings } = openWarned(dir);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    const match = new RegExp(
      `^the spool's write-ahead log ${dir}/spool\\.db-wal is corrupt \\(no valid header\\): moved to ` +
        `(${dir}/spool\\.db-wal\\.corrupt-\\d{8}T\\d{6}Z); the records it held, if any, are not sent$`,
    ).exec(warnings[0]);
    assert.ok(match, warnings[0]);
    assert.deepEqual(Deno.readFileSync(match[1]), log, "kept as it was");
    spool.append(records(2));
    assert.equal(spool.count, 2);
    spool.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a write-ahead log cut short (a torn write) keeps its commits up to the cut, a prefix, in order", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "spool-test-" });
  try {
    const code = `
      import { Spool } from ${JSON.stringify(new URL("../lib/sinks/spool.ts", import.meta.url).href)};
      const spool = Spool.open(${JSON.stringify(dir)}, { maxBytes: 1 << 30 });
      for (let b = 0; b < 20; b++) {
        spool.append(Array.from({ length: 50 }, (_, i) => ({ topic: "R", key: "k", value: String(b * 50 + i), timestampMs: 0 })));
      }
      Deno.exit(0);`;
    await new Deno.Command(Deno.execPath(), { args: ["eval", "--no-prompt", "-A", code] }).output();
    const size = Deno.statSync(`${dir}/spool.db-wal`).size;
    Deno.truncateSync(`${dir}/spool.db-wal`, Math.floor(size * 0.6));
    const { spool, warnings } = openWarned(dir);
    assert.ok(warnings.length === 1 && UNCLOSED.test(warnings[0]), warnings.join("\n"));
    assert.ok(spool.count > 0 && spool.count < 1_000 && spool.count % 50 === 0, `${spool.count}: whole batches`);
    assert.deepEqual(
      spool.peek(1_000).records.map((r) => Number(r.value)),
      Array.from({ length: spool.count }, (_, i) => i),
      "the first commits, none torn",
    );
    spool.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a shared-memory index of garbage loses nothing: SQLite rebuilds it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "spool-test-" });
  try {
    await killedWithLog(dir, 300);
    Deno.writeFileSync(`${dir}/spool.db-shm`, new Uint8Array(32 * 1024).fill(0xa5));
    const { spool, warnings } = openWarned(dir);
    assert.ok(warnings.length === 1 && UNCLOSED.test(warnings[0]), warnings.join("\n"));
    assert.equal(spool.count, 300);
    spool.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("--spool-sync sets SQLite's synchronous mode", () => {
  withDir((dir) => {
    for (const sync of ["normal", "full"] as const) {
      const spool = Spool.open(dir, { maxBytes: 1 << 20, sync });
      assert.equal(spool.sync, sync);
      spool.close();
    }
  });
});

Deno.test("records put back while in flight are in doubt, across a reopen; appended ones are not", () => {
  withDir((dir) => {
    const spool = Spool.open(dir, { maxBytes: 1 << 20 });
    spool.append(records(4, 3));
    assert.equal(spool.inDoubt, 0, "spooled, never sent");
    spool.prepend(records(3));
    assert.equal(spool.inDoubt, 3);
    spool.append(records(2, 7));
    spool.close();
    const reopened = Spool.open(dir, { maxBytes: 1 << 20 });
    assert.equal(reopened.inDoubt, 3, "the mark is on disk");
    assert.deepEqual(reopened.peekInDoubt().records, records(3));
    assert.deepEqual(reopened.peek(100).records, records(9), "in their order, the ones in doubt first");
    reopened.close();
  });
});

Deno.test("a batch sent from the spool is in doubt from before it is sent until it is removed", () => {
  withDir((dir) => {
    const spool = Spool.open(dir, { maxBytes: 1 << 20 });
    spool.append(records(10));
    const batch = spool.peek(4);
    spool.markInDoubt(batch);
    assert.equal(spool.inDoubt, 4);
    spool.markInDoubt(batch);
    assert.equal(spool.inDoubt, 4, "marking it again changes nothing");
    spool.close(); // as if killed after Kafka's acknowledgement, before the removal
    const reopened = Spool.open(dir, { maxBytes: 1 << 20 });
    assert.deepEqual(reopened.peekInDoubt().records, records(4));
    const again = reopened.peek(4);
    reopened.remove(again);
    assert.equal(reopened.inDoubt, 0, "removed: no longer in doubt");
    const next = reopened.peek(3);
    reopened.markInDoubt(next);
    assert.deepEqual(reopened.peekInDoubt().records, records(3, 4));
    reopened.close();
  });
});

Deno.test("settling the doubt removes the records Kafka holds and keeps the others, in order, no longer in doubt", () => {
  withDir((dir) => {
    const spool = Spool.open(dir, { maxBytes: 1 << 20 });
    spool.append(records(3, 5));
    spool.prepend(records(5));
    const { ids, records: inDoubt } = spool.peekInDoubt();
    assert.deepEqual(inDoubt, records(5));
    spool.resolveDoubt([ids[0], ids[2], ids[4]]);
    assert.equal(spool.count, 5);
    assert.equal(spool.inDoubt, 0);
    spool.close();
    const reopened = Spool.open(dir, { maxBytes: 1 << 20 });
    assert.equal(reopened.inDoubt, 0);
    assert.deepEqual(reopened.peek(100).records, records(8).filter((_, i) => ![0, 2, 4].includes(i)));
    reopened.close();
  });
});

Deno.test("a spool of the version before records in doubt were marked is adopted: nothing in doubt", () => {
  withDir((dir) => {
    const db = new DatabaseSync(`${dir}/spool.db`);
    db.exec(
      "CREATE TABLE records (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key TEXT NOT NULL, " +
        "value TEXT NOT NULL, ts INTEGER NOT NULL, headers TEXT); " +
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, closed_ms INTEGER); " +
        `INSERT INTO runs (started_ms, closed_ms) VALUES (1, 2); PRAGMA user_version = ${SPOOL_FORMAT}`,
    );
    db.prepare("INSERT INTO records (topic, key, value, ts, headers) VALUES ('R', 'S1-0', '{}', 1, NULL)").run();
    db.close();
    const { spool, warnings } = openWarned(dir);
    assert.deepEqual(warnings, []);
    assert.equal(spool.count, 1);
    assert.equal(spool.inDoubt, 0);
    spool.prepend(records(1));
    assert.equal(spool.inDoubt, 1, "and marked from now on");
    spool.close();
  });
});
