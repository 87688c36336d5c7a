/**
 * The console sink: one JSON object a line on stdout, `{"topic":..,"key":..,"headers":{..},"value":{..}}`
 * (`headers` only when the record has any).
 */
import { describeError, ExitError } from "../errors.ts";
import { StdoutError, stdoutProblem } from "../io.ts";
import type { OutRecord } from "../messages.ts";
import type { DeliveryObserver, Sink } from "./sink.ts";

/** Writes records as JSON lines to `output` (stdout in the program). */
export class ConsoleSink implements Sink {
  readonly name = "console";
  readonly toStdout = true;
  delivered = 0;
  /** Records are written before `write` resolves, so none are ever pending. */
  readonly pending = 0;
  /** Told of each batch written (metrics). */
  observer: DeliveryObserver | undefined;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #encoder = new TextEncoder();

  constructor(output: WritableStream<Uint8Array>) {
    this.#writer = output.getWriter();
  }

  async write(records: OutRecord[]): Promise<void> {
    if (records.length === 0) return;
    let text = "";
    for (const record of records) text += consoleLine(record);
    try {
      await this.#writer.write(this.#encoder.encode(text));
    } catch (error) {
      // Not written, so not delivered: the run ends saying how many were.
      const problem = error instanceof ExitError ? describeError(error) : stdoutProblem(error);
      throw new StdoutError(
        `${problem}: ${this.delivered} records written, the next ${records.length} not`,
        { brokenPipe: error instanceof StdoutError && error.brokenPipe },
      );
    }
    this.delivered += records.length;
    this.observer?.(records);
  }

  async close(): Promise<void> {
    try {
      await this.#writer.ready;
    } catch {
      // Already reported by write.
    } finally {
      this.#writer.releaseLock();
    }
  }
}

/** One record as a console line (the value is embedded as JSON, not as a string). */
export function consoleLine(record: OutRecord): string {
  const headers = record.headers ? `"headers":${headersJson(record.headers)},` : "";
  return `{"topic":${JSON.stringify(record.topic)},"key":${
    JSON.stringify(record.key)
  },${headers}"value":${record.value}}\n`;
}

/** Records share frozen header objects: each is rendered once. */
const renderedHeaders = new WeakMap<object, string>();

function headersJson(headers: Readonly<Record<string, string>>): string {
  let json = renderedHeaders.get(headers);
  if (json === undefined) renderedHeaders.set(headers, json = JSON.stringify(headers));
  return json;
}
