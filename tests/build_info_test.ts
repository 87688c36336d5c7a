/**
 * `--version` names the commit: from `.git` when run from a checkout (with the permissions of
 * `deno task sim`, no `--allow-run`), from the build info `deno task build-info` writes and
 * `deno compile` embeds when compiled. The compile itself cannot run here (it downloads `denort`);
 * everything up to it runs for real.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { BUILD_INFO_PATH, buildCommit } from "../lib/build_info.ts";
import { simTaskFlags } from "./_kafka.ts";

const root = new URL("../", import.meta.url);
const decoder = new TextDecoder();

async function git(...args: string[]): Promise<string> {
  const { success, stdout } = await new Deno.Command("git", { args, cwd: root, stdout: "piped" }).output();
  assert.ok(success, `git ${args.join(" ")}`);
  return decoder.decode(stdout).trim();
}

/** The commit `scripts/build_info.ts` should write now: either state, as others may edit the tree meanwhile. */
async function expectedCommits(): Promise<string[]> {
  const hash = await git("rev-parse", "--short", "HEAD");
  return [hash, `${hash}-dirty`];
}

function tempRoot(files: Record<string, string>): URL {
  const dir = Deno.makeTempDirSync({ prefix: "factory-sim-build-info-" });
  for (const [path, text] of Object.entries(files)) {
    const file = `${dir}/${path}`;
    Deno.mkdirSync(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(file, text);
  }
  return new URL(`file://${dir}/`);
}

const HASH = "0123456789abcdef0123456789abcdef01234567";

Deno.test("from a checkout, the commit comes from .git: loose ref, packed ref, detached HEAD, worktree", async () => {
  assert.equal(await buildCommit({ root, standalone: false }), await git("rev-parse", "--short=7", "HEAD"));
  const cases: [Record<string, string>, string][] = [
    [{ ".git/HEAD": "ref: refs/heads/main\n", ".git/refs/heads/main": `${HASH}\n` }, "0123456"],
    [
      { ".git/HEAD": "ref: refs/heads/main\n", ".git/packed-refs": `# pack-refs\n${HASH} refs/heads/main\n` },
      "0123456",
    ],
    [{ ".git/HEAD": `${HASH}\n` }, "0123456"],
    [{
      ".git": "gitdir: main-repo/.git/worktrees/wt\n",
      "main-repo/.git/worktrees/wt/HEAD": "ref: refs/heads/topic\n",
      "main-repo/.git/worktrees/wt/commondir": "../..\n",
      "main-repo/.git/refs/heads/topic": `${HASH}\n`,
    }, "0123456"],
    [{ ".git/HEAD": "ref: refs/heads/unborn\n" }, "dev"],
    [{ "README.md": "a source tarball\n" }, "dev"],
    // A stale build info from an earlier compile does not count when running from source.
    [{ [BUILD_INFO_PATH]: '{"version":"0.1.0","commit":"fedcba9"}\n' }, "dev"],
  ];
  for (const [files, expected] of cases) {
    assert.equal(await buildCommit({ root: tempRoot(files), standalone: false }), expected, Object.keys(files).join());
  }
});

Deno.test("a compiled binary takes the commit from its embedded build info only", async () => {
  const build = (commit: unknown) => ({ [BUILD_INFO_PATH]: JSON.stringify({ version: "0.1.0", commit }) });
  assert.equal(await buildCommit({ root: tempRoot(build("abc1234-dirty")), standalone: true }), "abc1234-dirty");
  assert.equal(
    await buildCommit({ root: tempRoot({ ...build("abc1234"), ".git/HEAD": `${HASH}\n` }), standalone: true }),
    "abc1234",
  );
  assert.equal(await buildCommit({ root: tempRoot({ ".git/HEAD": `${HASH}\n` }), standalone: true }), "dev");
  assert.equal(await buildCommit({ root: tempRoot({ [BUILD_INFO_PATH]: "not json" }), standalone: true }), "dev");
  assert.equal(await buildCommit({ root: tempRoot(build(42)), standalone: true }), "dev");
});

Deno.test("deno task build-info writes the version and the current commit for the compile to embed", async () => {
  const tasks = denoJson.tasks as Record<string, { command?: string; dependencies?: string[] }>;
  const words = (tasks["build-info"].command ?? "").split(/\s+/);
  assert.deepEqual(words.filter((w) => w.startsWith("--allow-")), ["--allow-run=git", "--allow-write=dist"]);
  for (const name of ["compile:x86_64", "compile:aarch64"]) {
    assert.deepEqual(tasks[name].dependencies, ["build-info"], `${name} runs build-info first`);
    const compile = (tasks[name].command ?? "").split(/\s+/);
    assert.equal(compile[compile.indexOf(BUILD_INFO_PATH) - 1], "--include", `${name} embeds ${BUILD_INFO_PATH}`);
  }
  const before = await expectedCommits();
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "build-info"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, decoder.decode(stderr));
  const info = JSON.parse(Deno.readTextFileSync(new URL(BUILD_INFO_PATH, root)));
  assert.equal(info.version, denoJson.version);
  assert.ok(before.includes(info.commit), `${info.commit} is one of ${before}`);
  // dist/ is ignored: building leaves the checkout clean.
  assert.equal(await git("status", "--porcelain", "--", "dist/"), "");
  // What the binary would read, from the same file.
  assert.equal(await buildCommit({ root, standalone: true }), info.commit);
});

Deno.test("--version under deno task sim's permissions names the checkout's commit", async () => {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...simTaskFlags(), "main.ts", "--version"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, decoder.decode(stderr));
  assert.equal(
    decoder.decode(stdout),
    `factory-sim ${denoJson.version} (commit ${await git("rev-parse", "--short=7", "HEAD")})\n`,
  );
  // And without any read permission it still answers, without a prompt.
  const bare = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "main.ts", "--version"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(bare.success, decoder.decode(bare.stderr));
  assert.equal(decoder.decode(bare.stdout), `factory-sim ${denoJson.version} (commit dev)\n`);
});
