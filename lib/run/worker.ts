/**
 * The entry of a run's worker thread (`--workers N`, started by `run/workers.ts`): runs its shard
 * (`run/shard_run.ts`) and reports to the run's thread; its log lines go there too.
 */
import { errorReport } from "../errors.ts";
import { setupLogging } from "../log.ts";
import { type FromShard, runShard, type ShardGo, type ShardInit, type ToShard } from "./shard_run.ts";

/** What this module uses of the worker's global scope. */
interface WorkerScope {
  postMessage(message: FromShard): void;
  onmessage: ((event: MessageEvent<ToShard>) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;
const post = (message: FromShard) => scope.postMessage(message);
const stop = new AbortController();
let started = (_go: ShardGo) => {};
const go = new Promise<ShardGo>((resolve) => started = resolve);

scope.onmessage = ({ data }) => {
  switch (data.type) {
    case "init":
      void run(data.init);
      break;
    case "go":
      started(data.go);
      break;
    case "stop":
      stop.abort(data.reason);
      break;
  }
};

async function run(init: ShardInit) {
  // --quiet is in the level already (parseLogLevel).
  await setupLogging({ level: init.options.logLevel, write: (line) => post({ type: "log", line }) });
  try {
    const done = await runShard(init, { signal: stop.signal, go, post });
    if (done) post({ type: "done", done });
    else post({ type: "stopped" });
  } catch (error) {
    const { lines, exitCode, unexpected } = errorReport(error);
    post({ type: "failed", lines, exitCode, unexpected });
  }
}
