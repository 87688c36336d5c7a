/**
 * The sink interface: where records go. The simulation does not know which sink it feeds.
 */
import type { OutRecord } from "../messages.ts";

/** A destination for records. */
export interface Sink {
  /** Short name for logs: `kafka`, `console`. */
  readonly name: string;
  /**
   * Accepts a batch. Returns a promise when the sink wants the caller to wait before the next
   * batch (back-pressure); throws once delivery has failed for good.
   */
  write(records: OutRecord[]): void | Promise<void>;
  /** Delivers everything accepted so far, then releases the sink's resources. */
  close(): Promise<void>;
  /** Records delivered so far. */
  readonly delivered: number;
}
