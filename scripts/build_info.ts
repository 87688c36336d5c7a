/**
 * Writes dist/build_info.json (or the path given) with the version and the git commit, for
 * `deno compile` to embed: `--version` of the binary shows them. Run by `deno task build-info`,
 * which every compile task depends on:
 *
 *   deno run --no-prompt --allow-run=git --allow-write=dist scripts/build_info.ts [OUT]
 *
 * The commit is `git rev-parse --short HEAD`, with `-dirty` when tracked files have uncommitted
 * changes; outside a git checkout (or without git) it is "unknown", with a warning.
 */
import denoJson from "../deno.json" with { type: "json" };
import { BUILD_INFO_PATH, type BuildInfo } from "../lib/build_info.ts";

async function git(...args: string[]): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output();
    return success ? new TextDecoder().decode(stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The build info of the checkout in the working directory. */
export async function currentBuildInfo(): Promise<BuildInfo> {
  const hash = await git("rev-parse", "--short", "HEAD");
  if (!hash) return { version: denoJson.version, commit: "unknown" };
  const changes = await git("status", "--porcelain", "--untracked-files=no");
  return { version: denoJson.version, commit: changes === "" ? hash : `${hash}-dirty` };
}

if (import.meta.main) {
  const out = Deno.args[0] ?? BUILD_INFO_PATH;
  const info = await currentBuildInfo();
  if (info.commit === "unknown") {
    // deno-lint-ignore no-console
    console.error("warning: not a git checkout (or no git): the binary's --version says commit unknown");
  }
  const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : "";
  if (dir) await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(out, `${JSON.stringify(info)}\n`);
  // deno-lint-ignore no-console
  console.error(`${out}: factory-sim ${info.version} (commit ${info.commit})`);
}
