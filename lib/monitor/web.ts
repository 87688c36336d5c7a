/**
 * The monitor's web dashboard (`--web`): the page at `/`; each page's view (the summary and the
 * cards of its query: `view.ts`) pushed over Server-Sent Events at `/events?QUERY` every interval
 * (the page reconnects by itself, and with a new query when its filter or page changes); the same
 * view once at `/view.json?QUERY`; the whole current snapshot at `/snapshot.json`; and `/healthz`.
 */
import { listen, textResponse } from "../http.ts";
import { dashboardPage } from "./page.ts";
import type { Snapshot } from "./state.ts";
import { type DashboardView, parseViewQuery, type ViewQuery } from "./view.ts";

/** A running dashboard server. */
export interface Dashboard {
  /** The page's address, with the port chosen (for port 0). */
  readonly url: string;
  /** Pushes to every open page its view (`view` answers a page's query). */
  publish(view: (query: ViewQuery) => DashboardView): void;
  /** Ends the open event streams and stops listening. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Serves the dashboard on `host:port`; `current` gives the view of a query now (a page that
 * connects, `/view.json`), `snapshot` the whole plant (`/snapshot.json`).
 */
export function serveDashboard(
  { host, port, brokers, current, snapshot }: {
    host: string;
    port: number;
    brokers: string;
    current: (query: ViewQuery) => DashboardView;
    snapshot: () => Snapshot;
  },
): Dashboard {
  const streams = new Map<ReadableStreamDefaultController<Uint8Array>, ViewQuery>();
  const page = dashboardPage({ brokers });
  const event = (view: DashboardView) => encoder.encode(`event: view\ndata: ${JSON.stringify(view)}\n\n`);
  const json = (value: unknown) =>
    new Response(JSON.stringify(value), {
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  const listener = listen({
    host,
    port,
    portFlag: "--web",
    hostFlag: "--web",
    handler: (request) => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return textResponse(405, "method not allowed", { allow: "GET, HEAD" });
      }
      const url = new URL(request.url);
      switch (url.pathname) {
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
          const query = parseViewQuery(url.searchParams);
          let controller: ReadableStreamDefaultController<Uint8Array>;
          const body = new ReadableStream<Uint8Array>({
            start(c) {
              controller = c;
              streams.set(c, query);
              c.enqueue(encoder.encode("retry: 2000\n\n"));
              c.enqueue(event(current(query)));
            },
            cancel() {
              streams.delete(controller);
            },
          });
          return new Response(body, {
            headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
          });
        }
        case "/view.json":
          return json(current(parseViewQuery(url.searchParams)));
        case "/snapshot.json":
          return json(snapshot());
        case "/healthz":
          return textResponse(200, "ok");
        default:
          return textResponse(404, "not found: try /, /events, /view.json, /snapshot.json or /healthz");
      }
    },
  });
  return {
    url: `${listener.origin}/`,
    publish(view) {
      if (streams.size === 0) return;
      // Pages with the same query (the usual first page) share one view.
      const events = new Map<string, Uint8Array>();
      for (const [stream, query] of streams) {
        // A page that does not keep up skips views instead of queueing them.
        if ((stream.desiredSize ?? 0) < -4) continue;
        const key = JSON.stringify(query);
        let bytes = events.get(key);
        if (bytes === undefined) events.set(key, bytes = event(view(query)));
        try {
          stream.enqueue(bytes);
        } catch {
          streams.delete(stream);
        }
      }
    },
    async close() {
      for (const stream of streams.keys()) {
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
