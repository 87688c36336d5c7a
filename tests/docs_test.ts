/**
 * The README and docs/ say what the program does, so they are checked against it: the options
 * reference against `--help` (run through main.ts, not imported), every relative link against the
 * files and headings it points to, every `deno task` named against deno.json, and the README's two
 * commands against the scripts they name.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import {
  flagsOf,
  helpBlockOf,
  OPTIONS_PAGE,
  runHelp,
  withoutHelpBlock,
  withoutVersion,
} from "../scripts/docs_options.ts";

const root = new URL("../", import.meta.url);
const REGENERATE = "run `deno task docs:options` to rewrite it from --help";

/** README.md and every page of docs/, as URLs. */
function pages(): URL[] {
  const docs = [...Deno.readDirSync(new URL("docs/", root))]
    .filter((entry) => entry.isFile && entry.name.endsWith(".md"))
    .map((entry) => new URL(`docs/${entry.name}`, root))
    .sort((a, b) => a.href.localeCompare(b.href));
  return [new URL("README.md", root), ...docs];
}

function nameOf(url: URL): string {
  return decodeURIComponent(url.pathname.slice(root.pathname.length));
}

/** The Markdown without fenced code blocks and HTML comments: the text links and headings live in. */
function prose(markdown: string): string {
  const kept: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.replace(/<!--[\s\S]*?-->/g, "").split("\n")) {
    const marker = line.match(/^\s*(`{3,}|~{3,})/)?.[1];
    if (fence === undefined && marker) fence = marker;
    else if (fence !== undefined && marker?.[0] === fence[0] && marker.length >= fence.length) fence = undefined;
    else if (fence === undefined) kept.push(line);
  }
  return kept.join("\n");
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(markdown).split("\n")) {
    const heading = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (!heading) continue;
    const text = heading[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*]/g, "");
    const slug = text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "").replace(/ /g, "-");
    const repeats = seen.get(slug) ?? 0;
    seen.set(slug, repeats + 1);
    anchors.add(repeats === 0 ? slug : `${slug}-${repeats}`);
  }
  return anchors;
}

/** Targets of inline links, images and reference definitions, outside code. */
function linksOf(markdown: string): string[] {
  const text = prose(markdown).replace(/`+[^`\n]*`+/g, "");
  const inline = [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const definitions = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]);
  return [...inline, ...definitions];
}

Deno.test("docs/options.md holds what --help prints, verbatim", async () => {
  const help = withoutVersion(await runHelp());
  const block = helpBlockOf(Deno.readTextFileSync(OPTIONS_PAGE));
  assert.ok(
    block !== undefined,
    `docs/options.md has lost its --help block and markers: restore them, then ${REGENERATE}`,
  );
  const documented = withoutVersion(block);
  if (documented === help) return;
  const [want, got] = [help.split("\n"), documented.split("\n")];
  const line = want.findIndex((text, i) => text !== got[i]);
  const at = line === -1 ? got.length : line;
  assert.fail(
    `docs/options.md's --help block differs from --help at its line ${at + 1}:\n` +
      `  --help prints: ${JSON.stringify(want[at] ?? "(nothing)")}\n` +
      `  the page says: ${JSON.stringify(got[at] ?? "(nothing)")}\n${REGENERATE}`,
  );
});

Deno.test("every flag --help names has a row in the options index, and every flag there is one --help names", async () => {
  const flags = flagsOf(await runHelp());
  assert.ok(flags.includes("--sink") && flags.includes("--help"), `flags read from --help: ${flags.join(" ")}`);
  const index = withoutHelpBlock(Deno.readTextFileSync(OPTIONS_PAGE));
  const indexed = new Set(
    index.split("\n")
      .filter((line) => line.startsWith("|"))
      .flatMap((line) => [...line.split("|")[1].matchAll(/`(--?[a-zA-Z][\w-]*)`/g)].map((m) => m[1])),
  );
  const problems = [
    ...flags.filter((flag) => !indexed.has(flag)).map((flag) =>
      `${flag} is in --help but not in the index ("Where each option is explained"): add it to the row that explains it`
    ),
    ...[...indexed].filter((flag) => !flags.includes(flag)).map((flag) =>
      `${flag} is in the index but --help does not name it: remove it, or correct its spelling`
    ),
  ];
  assert.deepEqual(problems, [], `docs/options.md:\n${problems.join("\n")}`);
});

Deno.test("every relative link in the README and docs/ leads to a file that exists, and to a heading in it", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const page of pages()) {
    for (const link of linksOf(Deno.readTextFileSync(page))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto: ...
      checked++;
      const [path, anchor] = link.split("#", 2);
      const target = path === "" ? page : new URL(path, page);
      let isFile = false;
      try {
        isFile = Deno.statSync(target).isFile;
      } catch {
        broken.push(`${nameOf(page)}: ${link}: no such file ${nameOf(target)}`);
        continue;
      }
      if (anchor === undefined || !isFile || !target.pathname.endsWith(".md")) continue;
      const anchors = anchorsOf(Deno.readTextFileSync(target));
      if (!anchors.has(decodeURIComponent(anchor))) {
        broken.push(`${nameOf(page)}: ${link}: no heading with anchor #${anchor} in ${nameOf(target)}`);
      }
    }
  }
  assert.ok(checked >= 20, `only ${checked} relative links found: the link reader is broken`);
  assert.deepEqual(broken, [], `broken links:\n${broken.join("\n")}`);
});

Deno.test("anchors follow GitHub's rules", () => {
  const anchors = anchorsOf(
    "# Configuration: `factory_config.json`\n## Watching what landed: `factory-sim monitor`\n" +
      "```sh\n# not a heading\n```\n## Sinks\n## Sinks\n### End-of-run summary\n",
  );
  assert.deepEqual([...anchors], [
    "configuration-factory_configjson",
    "watching-what-landed-factory-sim-monitor",
    "sinks",
    "sinks-1",
    "end-of-run-summary",
  ]);
});

Deno.test("every deno task the README and docs/ name is a task of deno.json", () => {
  const tasks = Object.keys(denoJson.tasks);
  const unknown: string[] = [];
  for (const page of pages()) {
    for (const [, name] of Deno.readTextFileSync(page).matchAll(/deno task ([a-z][\w:.-]*)/g)) {
      const task = name.replace(/[.:]+$/, "");
      if (!tasks.includes(task)) unknown.push(`${nameOf(page)}: deno task ${task}`);
    }
  }
  assert.deepEqual(unknown, [], `tasks deno.json does not have (it has ${tasks.join(", ")})`);
});

Deno.test("the README names its two commands, and they are executable bash scripts", async (t) => {
  const readme = Deno.readTextFileSync(new URL("README.md", root));
  const commands = { "scripts/sim.sh": /deno task (--quiet )?sim\b/, "scripts/test.sh": /deno task ok\b/ };
  for (const [script, runs] of Object.entries(commands)) {
    await t.step(script, async () => {
      assert.ok(readme.includes(`\`${script}`), `the README names ${script}`);
      const url = new URL(script, root);
      const text = Deno.readTextFileSync(url);
      assert.ok((Deno.statSync(url).mode ?? 0) & 0o111, `${script} is executable (chmod +x ${script})`);
      assert.ok(text.startsWith("#!/usr/bin/env bash\n"), `${script} starts with #!/usr/bin/env bash`);
      assert.match(text, /^set -euo pipefail$/m);
      assert.match(text, /^ensure_deno$/m, `${script} installs Deno when it is missing`);
      assert.match(text, runs, `${script} runs ${runs.source}`);
      const syntax = await new Deno.Command("bash", { args: ["-n", url.pathname], stderr: "piped" }).output();
      assert.ok(syntax.success, new TextDecoder().decode(syntax.stderr));
    });
  }
  await t.step("scripts/test.sh installs the test tools and runs a broker, and CI runs it", () => {
    const test = Deno.readTextFileSync(new URL("scripts/test.sh", root));
    for (
      const step of [
        "ensure_test_tools",
        "ensure_toxiproxy",
        "deno install --frozen",
        "deno task kafka:start",
        "kafka:stop",
      ]
    ) {
      assert.ok(test.includes(step), `scripts/test.sh: ${step}`);
    }
    assert.match(
      Deno.readTextFileSync(new URL(".ci/run", root)),
      /^scripts\/test\.sh\b/m,
      ".ci/run runs scripts/test.sh",
    );
  });
});

Deno.test("the README stays a front page", () => {
  const lines = Deno.readTextFileSync(new URL("README.md", root)).split("\n").length;
  assert.ok(lines <= 250, `README.md has ${lines} lines: move detail to a page in docs/ and link it`);
});
