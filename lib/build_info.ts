/**
 * The commit `--version` shows.
 *
 * A compiled binary reads `dist/build_info.json`, which `deno task build-info` (scripts/build_info.ts)
 * writes just before `deno compile` embeds it (`--include`). A run from a git checkout reads `.git`
 * directly (HEAD, then the ref it names, loose or packed): no `git` process, so no `--allow-run`;
 * the `--allow-read` the run has anyway is enough. Anything else says "dev". Never throws, never
 * prompts: a read the run may not do is skipped.
 */

import denoJson from "../deno.json" with { type: "json" };

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** Where a compiled binary finds its build info, relative to the project root. */
export const BUILD_INFO_PATH = "dist/build_info.json";

/** What `scripts/build_info.ts` writes and a compiled binary reads. */
export interface BuildInfo {
  version: string;
  /** `git rev-parse --short HEAD`, with `-dirty` when tracked files had changes; "unknown" outside git. */
  commit: string;
}

/** Where to look; injectable for tests. */
export interface BuildCommitOptions {
  /** The project root (default: this module's parent directory, inside the binary when compiled). */
  root?: URL;
  /** Whether this is a compiled binary (default `Deno.build.standalone`). */
  standalone?: boolean;
}

/** The commit this program was built from: e.g. "abc1234", "abc1234-dirty", or "dev" when unknown. */
export async function buildCommit(
  { root = new URL("../", import.meta.url), standalone = Deno.build.standalone }: BuildCommitOptions = {},
): Promise<string> {
  if (standalone) {
    const text = await readText(new URL(BUILD_INFO_PATH, root));
    try {
      const commit = text === undefined ? undefined : (JSON.parse(text) as Partial<BuildInfo>).commit;
      return typeof commit === "string" && commit !== "" ? commit : "dev";
    } catch {
      return "dev";
    }
  }
  return (await gitCommit(new URL(".git/", root))) ?? "dev";
}

const HASH = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

async function gitCommit(dotGit: URL): Promise<string | undefined> {
  let gitDir = dotGit;
  let head = await readText(new URL("HEAD", gitDir));
  if (head === undefined) {
    // A worktree or submodule: `.git` is a file saying `gitdir: PATH`.
    const pointer = (await readText(new URL(dotGit.href.replace(/\/$/, ""))))?.match(/^gitdir: (.+)$/m)?.[1];
    if (!pointer) return undefined;
    gitDir = new URL(pointer.endsWith("/") ? pointer : `${pointer}/`, dotGit.href.replace(/[^/]*\/$/, ""));
    head = await readText(new URL("HEAD", gitDir));
    if (head === undefined) return undefined;
  }
  head = head.trim();
  const ref = head.match(/^ref: (.+)$/)?.[1];
  if (!ref) return HASH.test(head) ? head.slice(0, 7) : undefined;
  // A worktree keeps its refs in the common dir.
  const common = (await readText(new URL("commondir", gitDir)))?.trim();
  const refsDir = common ? new URL(common.endsWith("/") ? common : `${common}/`, gitDir) : gitDir;
  for (const dir of refsDir.href === gitDir.href ? [gitDir] : [gitDir, refsDir]) {
    const loose = (await readText(new URL(ref, dir)))?.trim();
    if (loose && HASH.test(loose)) return loose.slice(0, 7);
  }
  const packed = await readText(new URL("packed-refs", refsDir));
  for (const line of packed?.split("\n") ?? []) {
    const [hash, name] = line.trim().split(" ");
    if (name === ref && HASH.test(hash)) return hash.slice(0, 7);
  }
  return undefined;
}

async function readText(url: URL): Promise<string | undefined> {
  try {
    if (Deno.permissions.querySync({ name: "read", path: url }).state !== "granted") return undefined;
    return await Deno.readTextFile(url);
  } catch {
    return undefined;
  }
}
