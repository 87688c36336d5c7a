/**
 * The monitor's web dashboard (`--web`): the page at `/`, snapshots pushed over Server-Sent Events
 * at `/events` (the page reconnects by itself), the current snapshot at `/snapshot.json`, and
 * `/healthz`.
 */
import { listen, textResponse } from "../http.ts";
import { dashboardPage } from "./page.ts";
import type { Snapshot } from "./state.ts";

/** A running dashboard server. */
export interface Dashboard {
  /** The page's address, with the port chosen (for port 0). */
  readonly url: string;
  /** Pushes a snapshot to every open page. */
  publish(snapshot: Snapshot): void;
  /** Ends the open event streams and stops listening. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/** Serves the dashboard on `host:port`; `current` gives the snapshot a page gets when it connects. */
export function serveDashboard(
  { host, port, brokers, current }: { host: string; port: number; brokers: string; current: () => Snapshot },
): Dashboard {
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const page = dashboardPage({ brokers });
  const event = (snapshot: Snapshot) => encoder.encode(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
  const listener = listen({
    host,
    port,
    portFlag: "--web",
    hostFlag: "--web",
    handler: (request) => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return textResponse(405, "method not allowed", { allow: "GET, HEAD" });
      }
      switch (new URL(request.url).pathname) {
        case "/":
          return new Response(page, {
            headers: {
              "content-type": "text/html; charset=utf-8",
              "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
                "connect-src 'self'",
              "cache-control": "no-store",
            },
          });
        case "/events": {
          let controller: ReadableStreamDefaultController<Uint8Array>;
          const body = new ReadableStream<Uint8Array>({
            start(c) {
              controller = c;
              streams.add(c);
              c.enqueue(encoder.encode("retry: 2000\n\n"));
              c.enqueue(event(current()));
            },
            cancel() {
              streams.delete(controller);
            },
          });
          return new Response(body, {
            headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
          });
        }
        case "/snapshot.json":
          return new Response(JSON.stringify(current()), {
            headers: { "content-type": "application/json", "cache-control": "no-store" },
          });
        case "/healthz":
          return textResponse(200, "ok");
        default:
          return textResponse(404, "not found: try /, /events, /snapshot.json or /healthz");
      }
    },
  });
  return {
    url: `${listener.origin}/`,
    publish(snapshot) {
      if (streams.size === 0) return;
      const bytes = event(snapshot);
      for (const stream of streams) {
        // A page that does not keep up skips snapshots instead of queueing them.
        if ((stream.desiredSize ?? 0) < -4) continue;
        try {
          stream.enqueue(bytes);
        } catch {
          streams.delete(stream);
        }
      }
    },
    async close() {
      for (const stream of streams) {
        try {
          stream.close();
        } catch {
          // Already closed by the page.
        }
      }
      streams.clear();
      await listener.close();
    },
  };
}
