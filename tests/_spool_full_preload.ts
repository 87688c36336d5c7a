/** `deno run --preload` this into a run to give its spool a full disk at 1 MiB (see _spool_full.ts). */
import { capSpoolPages } from "./_spool_full.ts";

capSpoolPages(256);
