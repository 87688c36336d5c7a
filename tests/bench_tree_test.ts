/** What the benchmarks say of the trees they launch (bench/_tree.ts), on a scratch git repository. */
import assert from "node:assert/strict";
import { commitOf, treeState, TreeWatch } from "../bench/_tree.ts";

async function git(root: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command("git", {
    args: ["-C", root, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).trim();
}

Deno.test("a benchmark names the commit it launches, and says when the tree changed during the run", async () => {
  const root = await Deno.makeTempDir({ prefix: "factory-sim-tree-" });
  try {
    await git(root, "init", "-q");
    await Deno.writeTextFile(`${root}/main.ts`, "export const a = 1;\n");
    await git(root, "add", "main.ts");
    await git(root, "commit", "-q", "-m", "one");
    const first = await git(root, "rev-parse", "--short", "HEAD");
    assert.equal(await commitOf(root), first);

    // Measuring uncommitted work is allowed, and said.
    await Deno.writeTextFile(`${root}/main.ts`, "export const a = 2;\n");
    assert.equal(await commitOf(root), `${first} plus uncommitted changes`);
    assert.notEqual((await treeState(root)).changes, "");

    const watch = new TreeWatch();
    await watch.watch(root);
    assert.deepEqual(await watch.changed(), [], "nothing changed yet");

    // An edit during the run.
    await Deno.writeTextFile(`${root}/main.ts`, "export const a = 3;\n");
    const [edited] = await watch.changed();
    assert.match(edited, /changed during this run \(its uncommitted changes changed\)/);
    assert.match(edited, /git worktree add --detach/);

    // A commit during the run.
    await git(root, "commit", "-q", "-am", "two");
    const second = await git(root, "rev-parse", "--short", "HEAD");
    const [committed] = await watch.changed();
    assert.match(committed, new RegExp(`\\(${first} became ${second}\\)`));

    // Clean when the run started, edited during it.
    await git(root, "commit", "-q", "-am", "three", "--allow-empty");
    const clean = new TreeWatch();
    await clean.watch(root);
    await Deno.writeTextFile(`${root}/main.ts`, "export const a = 4;\n");
    assert.match((await clean.changed())[0], /\(its tracked files were edited\)/);

    // Not a git checkout: "unknown", and no warning when it stays so.
    const plain = await Deno.makeTempDir({ prefix: "factory-sim-plain-" });
    try {
      assert.equal(await commitOf(plain), "unknown");
      const other = new TreeWatch();
      await other.watch(plain);
      assert.deepEqual(await other.changed(), []);
    } finally {
      await Deno.remove(plain, { recursive: true });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
