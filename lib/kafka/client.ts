/**
 * The KafkaJS client as factory-sim uses it, for the producer (`producer.ts`) and the monitor's
 * consumer (`consumer.ts`): one way to create it (SASL and TLS from `Security`, its log
 * routed to ours, connection problems kept for messages and the ones retrying cannot fix raised
 * at once), and one way to read a client error.
 */
import { connect as tlsConnect } from "node:tls";
import { connect as netConnect, isIP } from "node:net";
import { type ISocketFactory, Kafka, type LogEntry, logLevel, type SASLOptions } from "kafkajs";
import { ABORTED, raceDeadline, TIMED_OUT } from "../deadline.ts";
import { describeError, type ExitError, PermissionError, RunError } from "../errors.ts";
import { log } from "../log.ts";
import type { Security } from "../security.ts";
import { registerCodecs } from "./codecs.ts";

const kafkaLog = log("kafka");

/** A KafkaJS client with the connection problems it met. */
export interface KafkaClient {
  kafka: Kafka;
  /** "Kafka at host:port,...": how messages name the cluster. */
  where: string;
  /** The last connection problem the client logged ("" when none). */
  problems: { last: string };
  /** Rejects with a one-line error when a problem that retrying cannot fix shows up (never resolves). */
  fatal: Promise<never>;
  /**
   * Calls `listener` with that error when it shows up (at once if it already has); returns what
   * stops listening. For each request: racing every request against `fatal` would leave a reaction
   * on it per request, keeping each request's records alive.
   */
  watchFatal(listener: (error: ExitError) => void): () => void;
}

/**
 * Creates a client for `brokers`; its own log lines go to our debug level. Snappy, lz4 and zstd
 * are in KafkaJS's codec table from then on (`codecs.ts`: loaded when first used).
 */
export function createKafkaClient(
  { clientId, brokers, security, connectTimeoutMs }: {
    clientId: string;
    brokers: string[];
    security: Security;
    connectTimeoutMs: number;
  },
): KafkaClient {
  const where = `Kafka at ${brokers.join(",")}`;
  const problems = { last: "" };
  let rejectFatal: (error: ExitError) => void = () => {};
  const fatal = new Promise<never>((_, reject) => rejectFatal = reject);
  fatal.catch(() => {});
  let fatalError: ExitError | undefined;
  const listeners = new Set<(error: ExitError) => void>();
  const onFatal = (error: ExitError) => {
    fatalError ??= error;
    rejectFatal(fatalError);
    for (const listener of listeners) listener(fatalError);
  };
  const watchFatal = (listener: (error: ExitError) => void) => {
    if (fatalError) listener(fatalError);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  };
  registerCodecs();
  const kafka = new Kafka({
    clientId,
    ...kafkaBrokers(brokers),
    ssl: security.tls ? { ...security.tls, rejectUnauthorized: true } : undefined,
    sasl: security.sasl ? saslOptions(security.sasl) : undefined,
    connectionTimeout: Math.min(connectTimeoutMs, 3_000),
    authenticationTimeout: Math.min(connectTimeoutMs, 10_000),
    requestTimeout: 30_000,
    retry: { initialRetryTime: 250, retries: 8 },
    logLevel: logLevel.INFO,
    // KafkaJS logs every retry at error level; the callers report outcomes themselves, so the
    // client's own lines go to debug, and the last connection problem is kept for messages.
    logCreator: () => ({ namespace, log: entry }: LogEntry) => {
      const detail = typeof entry.error === "string" ? `: ${entry.error}` : "";
      const text = `${entry.message}${detail}`;
      kafkaLog.debug(`${namespace}: ${text}`);
      if (
        !/connect|connection|ssl|tls|certificate|requires net access|does not host this topic-partition/i.test(text)
      ) {
        return;
      }
      problems.last = /Connection error: (.+)$/.exec(text)?.[1] ?? text;
      const known = explainConnectionProblem(problems.last, where, security);
      if (known) onFatal(known);
    },
  });
  return { kafka, where, problems, fatal, watchFatal };
}

/**
 * The brokers as KafkaJS takes them, and the socket factory that goes with them. KafkaJS splits a
 * seed broker at its first ":" (`connectionPoolBuilder.js`), so `[::1]:9092` would be host "[":
 * a bracketed IPv6 address reaches it percent-encoded (`%3A%3A1:9092`, no ":" in the host), and
 * the socket factory decodes it back. The brokers' own addresses, from metadata, come unbracketed
 * and go through as they are. Otherwise the factory is KafkaJS's own (keep-alive, SNI for names).
 */
export function kafkaBrokers(brokers: readonly string[]): { brokers: string[]; socketFactory: ISocketFactory } {
  return {
    brokers: brokers.map((broker) => {
      const ipv6 = /^\[(.+)\]:(\d+)$/.exec(broker);
      return ipv6 ? `${encodeURIComponent(ipv6[1])}:${ipv6[2]}` : broker;
    }),
    socketFactory: ({ host, port, ssl, onConnect }) => {
      const address = host.includes("%") ? decodeURIComponent(host) : host;
      const socket = ssl
        ? tlsConnect({ host: address, port, ...(isIP(address) ? {} : { servername: address }), ...ssl }, onConnect)
        : netConnect({ host: address, port }, onConnect);
      socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
      return socket;
    },
  };
}

/** KafkaJS's keep-alive delay for its sockets. */
const KEEP_ALIVE_DELAY_MS = 60_000;

/**
 * Waits for `connecting` (the connect, and what must follow it before the client can be used),
 * or for the client's first problem retrying cannot fix, for `timeoutMs` at most and no longer
 * than until `signal` aborts. On a failure `cleanUp` runs, then one line is thrown: stopped while
 * connecting, what `explain` makes of the error, or the cluster unreachable with its last
 * connection problem.
 */
export async function connectWithin(
  { where, problems, fatal }: KafkaClient,
  connecting: Promise<unknown>,
  { timeoutMs, signal, cleanUp, explain }: {
    timeoutMs: number;
    signal?: AbortSignal;
    cleanUp: () => Promise<unknown>;
    explain: (error: unknown) => ExitError | undefined;
  },
): Promise<void> {
  // A late failure of an abandoned attempt must not surface as an unhandled rejection.
  connecting.catch(() => {});
  try {
    const outcome = await raceDeadline(Promise.race([connecting, fatal]), timeoutMs, { signal });
    if (outcome === ABORTED) throw new Error("stopped");
    if (outcome === TIMED_OUT) throw new Error("timed out");
  } catch (error) {
    await cleanUp();
    if (signal?.aborted) throw new RunError(`stopped while connecting to ${where}`);
    const explained = explain(error);
    if (explained) throw explained;
    const reason = problems.last !== "" ? problems.last : describeError(error);
    throw new RunError(`${where} is unreachable (gave up after ${timeoutMs / 1000} s): ${reason}`);
  }
}

function saslOptions({ mechanism, username, password }: NonNullable<Security["sasl"]>): SASLOptions {
  switch (mechanism) {
    case "PLAIN":
      return { mechanism: "plain", username, password };
    case "SCRAM-SHA-256":
      return { mechanism: "scram-sha-256", username, password };
    case "SCRAM-SHA-512":
      return { mechanism: "scram-sha-512", username, password };
  }
}

/** A connection problem that retrying cannot fix: a refused permission or a failed TLS handshake. */
export function explainConnectionProblem(problem: string, where: string, security: Security): ExitError | undefined {
  const denied = /Requires net access to "([^"]+)"/.exec(problem);
  if (denied) {
    return new PermissionError(
      `missing permission: network access to ${denied[1]} (a broker of the cluster): grant --allow-net=${denied[1]}`,
    );
  }
  if (security.tls && /certificate|UnknownIssuer|handshake|alert|tls|ssl/i.test(problem)) {
    return new RunError(
      `TLS with ${where} failed: ${problem}: check KAFKA_SSL_CA_LOCATION` +
        (security.tls.cert ? " and the client certificate" : ""),
    );
  }
  return undefined;
}

/** The Kafka protocol error type (`INVALID_TIMESTAMP`...) inside a KafkaJS error, if any. */
export function protocolErrorType(error: unknown): string | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const { type, cause, errors } = error as { type?: unknown; cause?: unknown; errors?: unknown };
  if (typeof type === "string") return type;
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = protocolErrorType(inner);
    if (found) return found;
  }
  return undefined;
}

/** The KafkaJS error class name inside `error` (`KafkaJSSASLAuthenticationError`...). */
export function errorName(error: unknown): string | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const { name, cause } = error as { name?: unknown; cause?: unknown };
  if (name === "KafkaJSSASLAuthenticationError") return name;
  return cause ? errorName(cause) : typeof name === "string" ? name : undefined;
}

/** The messages of `error` and its causes. */
export function errorMessages(error: unknown): string[] {
  if (error === null || typeof error !== "object") return [String(error)];
  const { message, cause } = error as { message?: unknown; cause?: unknown };
  return [String(message ?? ""), ...(cause ? errorMessages(cause) : [])];
}
