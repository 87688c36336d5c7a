/**
 * A registry format's start: the run's schemas registered (or looked up) and their ids resolved
 * before anything is produced. The codecs load here, on demand: a JSON run does not pay for them.
 */
import { readRegistryAccess, type RegistryAccess } from "../formats/access.ts";
import type { ProgramEnv } from "../io.ts";
import type { PreparedFormat } from "../formats/setup.ts";
import { log } from "../log.ts";
import { quoted, shown } from "../text.ts";
import type { RunOptions } from "./options.ts";

/**
 * The registry's settings for a registry format written to Kafka (undefined otherwise), every
 * problem of its variables raised at once.
 */
export async function runRegistryAccess(
  options: Pick<RunOptions, "values" | "sink">,
  env: ProgramEnv,
): Promise<RegistryAccess | undefined> {
  const { values } = options;
  if (values.format === "json" || options.sink === "console" || values.registryUrl === undefined) return undefined;
  return await readRegistryAccess(values.registryFromFlag ? values.registryUrl : undefined, env);
}

/**
 * Prepares the format of `options.values` with `access`; with `announce` (the default), one log
 * line naming each subject and id (a run's workers prepare it again, silently).
 */
export async function prepareRegistryFormat(
  options: Pick<RunOptions, "values" | "topics">,
  access: RegistryAccess,
  signal: AbortSignal | undefined,
  { announce = true }: { announce?: boolean } = {},
): Promise<PreparedFormat> {
  const { values } = options;
  const { prepareFormat } = await import("../formats/setup.ts");
  const prepared = await prepareFormat(
    {
      format: values.format as Exclude<typeof values.format, "json">,
      access,
      autoRegister: values.autoRegister,
      subjectStrategy: values.subjectStrategy,
    },
    options.topics,
    signal,
  );
  if (!announce) return prepared;
  const subjects = prepared.subjects.map((s) =>
    `${quoted(s.subject)} id ${s.id}${s.version === undefined ? "" : ` (version ${s.version})`}`
  );
  log().info(`format ${values.format}, schema registry ${shown(access.url)}: ${subjects.join(", ")}`);
  return prepared;
}
