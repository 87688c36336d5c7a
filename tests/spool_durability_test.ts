/**
 * The spool where the disk fails it, against a real broker of the test's own, read back with kcat:
 * a full disk (a 1 MiB tmpfs, or an injected SQLITE_FULL where mounting is refused), and kill -9
 * during the commit loop of a backfill spooling while the broker is down. Each prints its figures.
 */
import assert from "node:assert/strict";
import { ExitCode } from "../lib/errors.ts";
import { consumeAll, type Consumed, runCli, simTaskFlags, spawnCli, uniqueTopic, waitFor } from "./_kafka.ts";
import { finishRun, startRun, withScratchBroker } from "./_scratch_broker.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Records of one request (two topics of --batch-records each). */
const MAX_REQUEST_RECORDS = 1_000;
const PRELOAD_FULL_DISK = new URL("./_spool_full_preload.ts", import.meta.url).pathname;

/** Prints a figure of this file's tests on the test output: `[fault] NAME: ...`. */
function report(line: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[fault] ${line}\n`));
}

/** A directory whose disk is full at 1 MiB: a tmpfs where this process may mount one, else none (injected). */
interface SmallDisk {
  dir: string;
  how: "tmpfs of 1 MiB" | "injected SQLITE_FULL at 1 MiB (mount refused)";
  /** Deno flags for a run whose spool is on this disk. */
  flags: string[];
  /** Gives the disk room again. */
  grow(): Promise<void>;
  dispose(): Promise<void>;
}

async function command(name: string, args: string[]): Promise<{ success: boolean; text: string }> {
  const out = await new Deno.Command(name, { args, stdout: "piped", stderr: "piped" }).output();
  return { success: out.success, text: new TextDecoder().decode(out.stderr).trim() };
}

async function smallDisk(): Promise<SmallDisk> {
  const dir = Deno.makeTempDirSync({ prefix: "factory-sim-small-disk-" });
  // SPOOL_TEST_NO_MOUNT=1 takes the injected path on a machine that could mount (to check it).
  const mounted = Deno.env.get("SPOOL_TEST_NO_MOUNT") === "1"
    ? undefined
    : await command("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]).catch(() => undefined);
  if (mounted?.success) {
    let size = "1m";
    return {
      dir,
      how: "tmpfs of 1 MiB",
      flags: simTaskFlags(),
      grow: async () => {
        size = "64m";
        const grown = await command("mount", ["-o", `remount,size=${size}`, dir]);
        assert.ok(grown.success, grown.text);
      },
      dispose: async () => {
        await command("umount", [dir]);
        Deno.removeSync(dir, { recursive: true });
      },
    };
  }
  let flags = [...simTaskFlags(), `--preload=${PRELOAD_FULL_DISK}`];
  return {
    dir,
    how: "injected SQLITE_FULL at 1 MiB (mount refused)",
    get flags() {
      return flags;
    },
    grow: () => {
      flags = simTaskFlags();
      return Promise.resolve();
    },
    dispose: () => Promise.resolve(Deno.removeSync(dir, { recursive: true })),
  };
}

/** A run on `spoolDir` with the broker up: sends what the spool holds, then a second of its own. */
async function nextRun(brokers: string, spoolDir: string, flags = simTaskFlags()) {
  return await runCli([
    "--sink=kafka",
    `--brokers=${brokers}`,
    "--factories=1",
    "--duration=1s",
    "--speed=10",
    `--readings-topic=${uniqueTopic("next.readings")}`,
    `--heartbeat-topic=${uniqueTopic("next.heartbeats")}`,
  ], { spoolDir, flags });
}

/** Each record once by what it is: kind, key and value. */
const identity = (kind: string, key: string, value: unknown) => `${kind} ${key} ${JSON.stringify(value)}`;

function identities(readings: Consumed[], heartbeats: Consumed[]): string[] {
  return [
    ...readings.map((r) => identity("R", r.key, r.value)),
    ...heartbeats.map((r) => identity("H", r.key, r.value)),
  ];
}

function duplicates(ids: string[]): number {
  return ids.length - new Set(ids).size;
}

/**
 * What the next run said of the spool's records in doubt (sent by the stopped run, acknowledgement
 * not seen): how many Kafka held already, how many it did not, and how long asking took.
 */
function doubtResolved(log: string): { already: number; notYet: number; seconds: number } {
  const found =
    /^info: (\d+) records in doubt were already in Kafka: not sent again(?:; the other (\d+) were not, sent first)? \(checked in ([\d.]+) s\)$/m
      .exec(log);
  if (found) {
    // The end line counts them too.
    const ended =
      /records delivered to kafka \(\d+ spooled, \d+ replayed from the spool(?:, (\d+) found already in Kafka and not sent again)?\)$/m
        .exec(log);
    assert.ok(ended, `an end line:\n${log}`);
    assert.equal(Number(ended[1] ?? 0), Number(found[1]), "the end line counts the records found in Kafka");
    return { already: Number(found[1]), notYet: Number(found[2] ?? 0), seconds: Number(found[3]) };
  }
  const none = /^info: none of the (\d+) records in doubt was in Kafka: sending them first \(checked in ([\d.]+) s\)$/m
    .exec(log);
  assert.ok(none, `the next run settles the records in doubt first:\n${log}`);
  return { already: 0, notYet: Number(none[1]), seconds: Number(none[2]) };
}

Deno.test({
  name: "a full disk under the spool: one line, exit 1, the spool intact; the next run sends every kept record once",
  fn: () =>
    withScratchBroker(async (broker) => {
      const disk = await smallDisk();
      report(`full disk: ${disk.how}`);
      try {
        const spoolDir = `${disk.dir}/spool`;
        const run = await startRun(broker.brokers, {
          name: "diskfull",
          args: ["--seed=31", "--speed=50", "--continuous", `--batch-records=${MAX_REQUEST_RECORDS / 2}`],
          spoolDir,
          flags: disk.flags,
        });
        await sleep(2_000);
        await broker.stop();
        const { code, log } = await finishRun(run);
        assert.equal(code, ExitCode.failure, log);
        const errors = log.split("\n").filter((line) => line.startsWith("error:"));
        assert.equal(errors.length, 1, log);
        const line = new RegExp(
          `^error: the disk holding the spool ${spoolDir}/spool\\.db is full \\(database or disk is full\\): ` +
            "(\\d+) records kept in it, the next run sends them first; (\\d+) records not kept$",
        ).exec(errors[0]);
        assert.ok(line, log);
        const [kept, notKept] = [Number(line[1]), Number(line[2])];
        assert.ok(kept > 0, log);
        assert.doesNotMatch(log, /unexpected|^\s+at /m, "no stack trace");

        await disk.grow();
        await broker.start();
        const before = identities(
          await consumeAll(run.readingsTopic, broker.brokers),
          await consumeAll(run.heartbeatTopic, broker.brokers),
        );
        const next = await nextRun(broker.brokers, spoolDir, disk.flags);
        assert.equal(next.code, ExitCode.ok, next.stderr);
        assert.match(
          next.stderr,
          new RegExp(`the spool holds ${kept} records from an earlier run: sending them first`),
        );

        const after = identities(
          await consumeAll(run.readingsTopic, broker.brokers),
          await consumeAll(run.heartbeatTopic, broker.brokers),
        );
        // The request in flight when the broker stopped is kept in the spool, in doubt: the broker
        // may have written it, its acknowledgement lost. The next run asks Kafka before sending.
        const doubt = doubtResolved(next.stderr);
        report(
          `full disk: ${before.length} delivered before the outage, ${kept} kept in the spool, of which ` +
            `${doubt.already + doubt.notYet} in doubt (${doubt.already} found in Kafka, checked in ${doubt.seconds} ` +
            `s); the next run sent ${after.length - before.length}; ${notKept} not kept (counted in the error ` +
            `line); duplicated ${duplicates(after)}`,
        );
        assert.ok(doubt.already + doubt.notYet > 0 && doubt.already + doubt.notYet <= MAX_REQUEST_RECORDS, next.stderr);
        assert.equal(duplicates(before), 0);
        assert.equal(after.length - before.length, kept - doubt.already, "every kept record not in Kafka sent once");
        assert.equal(duplicates(after), 0, "nothing duplicated");
      } finally {
        await disk.dispose();
      }
    }),
});

Deno.test({
  name: "kill -9 during the spool's commit loop: the next run sends everything kept once, an exact prefix of the run",
  fn: () =>
    withScratchBroker(async (broker, spoolDir) => {
      // A backfill on virtual time is the same records in the same order every time: what the
      // killed run produced is a prefix of the console run of the same flags.
      const backfill = [
        "--seed=41",
        "--factories=3",
        "--continuous",
        "--backfill=2026-01-01T00:00:00Z..2026-01-03T00:00:00Z",
      ];
      const run = await startRun(broker.brokers, {
        name: "commitloop",
        args: [...backfill, `--batch-records=${MAX_REQUEST_RECORDS / 2}`],
        spoolDir,
        flags: simTaskFlags(),
      });
      await sleep(1_000);
      await broker.stop();
      await waitFor(() => run.stderr.current.includes("spooling records to"), 15_000).catch((error) => {
        run.child.kill("SIGKILL");
        throw new Error(`${error.message}:\n${run.stderr.current}`);
      });
      await sleep(1_500);
      run.child.kill("SIGKILL");
      const { code, log } = await finishRun(run);
      assert.equal(code, 137, log);

      await broker.start();
      const before = identities(
        await consumeAll(run.readingsTopic, broker.brokers),
        await consumeAll(run.heartbeatTopic, broker.brokers),
      );
      const next = await nextRun(broker.brokers, spoolDir);
      assert.equal(next.code, ExitCode.ok, next.stderr);
      const held = /the spool holds (\d+) records from an earlier run: sending them first/.exec(next.stderr);
      assert.ok(held && Number(held[1]) > 0, next.stderr);
      // The run says what it cannot count: the killed run's records that never reached the disk.
      const unclosed = new RegExp(
        `^warning: the run that used the spool ${spoolDir}/spool\\.db last \\(started [^)]+\\) ended without ` +
          `closing it \\(killed, a crash, a power cut or a full disk\\): the ${
            held[1]
          } records it kept are sent first; `,
        "m",
      );
      assert.match(next.stderr, unclosed);
      const doubt = doubtResolved(next.stderr);
      const replayed =
        /\((\d+) spooled, (\d+) replayed from the spool(?:, \d+ found already in Kafka and not sent again)?\)$/m.exec(
          next.stderr,
        );
      assert.ok(replayed && Number(replayed[2]) >= Number(held[1]) - doubt.already, next.stderr);

      const landed = identities(
        await consumeAll(run.readingsTopic, broker.brokers),
        await consumeAll(run.heartbeatTopic, broker.brokers),
      );
      const seen = new Set(landed);
      const reference = await firstRecords(backfill, seen.size);
      const expected = new Set(reference);
      const holes = reference.filter((id) => !seen.has(id)).length;
      const strangers = [...seen].filter((id) => !expected.has(id)).length;
      // As with a full disk: the request in flight when the broker stopped is kept in the spool, in
      // doubt (it may have been written, its acknowledgement lost); the next run asks Kafka first.
      report(
        `kill -9 during the commit loop: ${seen.size} distinct records landed, ${before.length} before the kill; ` +
          `${held[1]} kept in the spool, of which ${doubt.already + doubt.notYet} in doubt (${doubt.already} found ` +
          `in Kafka and not sent again, checked in ${doubt.seconds} s); the next run sent ${
            landed.length - before.length
          }; ` +
          `duplicated ${duplicates(landed)}; missing within that prefix ${holes}, not of the run ${strangers}; lost: ` +
          "what the killed run had not committed (its last linger window), past the prefix: not countable",
      );
      assert.ok(doubt.already + doubt.notYet > 0 && doubt.already + doubt.notYet <= MAX_REQUEST_RECORDS, next.stderr);
      assert.equal(duplicates(before), 0);
      assert.equal(
        landed.length - before.length,
        Number(held[1]) - doubt.already,
        "every kept record not in Kafka sent by the next run",
      );
      assert.equal(duplicates(landed), 0, "nothing duplicated");
      assert.equal(holes, 0, "what landed is exactly the first records the run produced");
      assert.equal(strangers, 0);
    }),
});

/** The first `n` records of a console run of `args`, in the order it produced them, by identity. */
async function firstRecords(args: string[], n: number): Promise<string[]> {
  const child = spawnCli(["--sink=console", ...args, "--quiet"], { flags: simTaskFlags() });
  const ids: string[] = [];
  let rest = "";
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  while (ids.length < n) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += decoder.decode(value, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (ids.length === n) break;
      const { topic, key, value } = JSON.parse(line);
      ids.push(identity(topic === "SENSOR_READINGS" ? "R" : "H", key, value));
    }
  }
  await reader.cancel();
  try {
    child.kill("SIGKILL");
  } catch {
    // Already done.
  }
  await child.status;
  await child.stderr.cancel();
  assert.equal(ids.length, n, "the console run produced as many");
  return ids;
}
