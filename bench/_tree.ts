/**
 * What a benchmark launches: the commit of a checkout, and whether it changed during a run. The
 * benchmarks that launch the CLI (start, backfill, formats, codecs, rate, workers) launch the tree
 * again for every round, so an edit or a checkout meanwhile changes what later rounds measure.
 */

/** The commit of the checkout at `root` and its tracked files' differences from it (`git diff HEAD`). */
export async function treeState(root: string): Promise<{ commit: string; changes: string }> {
  const git = async (...args: string[]) => {
    const output = await new Deno.Command("git", { args: ["-C", root, ...args], stdout: "piped", stderr: "null" })
      .output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : undefined;
  };
  return { commit: await git("rev-parse", "--short", "HEAD") ?? "unknown", changes: await git("diff", "HEAD") ?? "" };
}

/**
 * The short commit of the checkout at `root` ("unknown" when git cannot tell), "plus uncommitted
 * changes" when its tracked files differ from it: a launch runs what the tree holds then.
 */
export async function commitOf(root: string): Promise<string> {
  const { commit, changes } = await treeState(root);
  return changes === "" ? commit : `${commit} plus uncommitted changes`;
}

/** The trees a run launches, as they were when it started. */
export class TreeWatch {
  readonly #atStart = new Map<string, { commit: string; changes: string }>();

  /** Remembers the tree at `root` as it is now. */
  async watch(root: string): Promise<void> {
    if (!this.#atStart.has(root)) this.#atStart.set(root, await treeState(root));
  }

  /** A warning for each tree that is not what it was when watched. */
  async changed(): Promise<string[]> {
    const warnings: string[] = [];
    for (const [root, before] of this.#atStart) {
      const [then, now] = [before, await treeState(root)];
      if (then.commit === now.commit && then.changes === now.changes) continue;
      const what = then.commit !== now.commit
        ? `${then.commit} became ${now.commit}`
        : then.changes === ""
        ? "its tracked files were edited"
        : "its uncommitted changes changed";
      warnings.push(
        `Warning: the tree at ${root} changed during this run (${what}): rounds launched after the change ` +
          "measured other code. Run the benchmark from a checkout nobody edits (`git worktree add --detach PATH " +
          "COMMIT`).",
      );
    }
    return warnings;
  }
}
