/**
 * The HTTP listener of the metrics endpoint and the monitor's dashboard: `Deno.serve` on a host
 * and port, with the failures a user can cause (a port in use, a missing `--allow-net`, an
 * address not on this machine) as one-line errors naming the flag.
 */
import { describeError, PermissionError, RunError } from "./errors.ts";

/** A listening server. */
export interface Listener {
  /** `http://host:port` with the port chosen (for port 0). */
  readonly origin: string;
  /** Stops listening and waits for open responses to end. */
  close(): Promise<void>;
}

/**
 * Listens on `host:port` (port 0: a free one) with `handler`. `portFlag` and `hostFlag` name the
 * flags in messages. The server does not keep the process alive.
 */
export function listen(
  { host, port, portFlag, hostFlag, handler }: {
    host: string;
    port: number;
    portFlag: string;
    hostFlag: string;
    handler: (request: Request) => Response | Promise<Response>;
  },
): Listener {
  const address = `${bracket(host)}:${port}`;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: host, port, onListen: () => {} }, handler);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new RunError(`${portFlag} ${port}: ${address} is already in use (choose another port)`);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new PermissionError(
        `missing permission: network access to ${address} for ${portFlag}: grant --allow-net=${address}`,
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable || /address/i.test(String(error))) {
      throw new RunError(`${hostFlag} ${host}: cannot listen on ${address}: ${describeError(error)}`);
    }
    throw error;
  }
  server.unref();
  let closed: Promise<void> | undefined;
  return {
    origin: `http://${bracket(server.addr.hostname)}:${server.addr.port}`,
    close: () => closed ??= server.shutdown(),
  };
}

/** A plain-text response with a trailing newline. */
export function textResponse(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(`${body}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

function bracket(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
